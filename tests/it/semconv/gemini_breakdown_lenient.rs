//! Gemini's usage breakdown by modality (`promptTokensDetails`, …) feeds the v0.1 usage
//! counters (see `tests/semconv_table.rs`); a malformed breakdown loses the breakdown only:
//! the call's usage, model and finish reason are still decoded and on its span.

use crate::harness::{adapters::*, endpoint::*, otel::*};

#[tokio::test(flavor = "current_thread")]
async fn a_malformed_modality_breakdown_keeps_the_usage() {
    let body = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"finishReason":"STOP"}],
        "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":17,
          "promptTokensDetails":[7,{"modality":3}],"candidatesTokensDetails":"TEXT",
          "cacheTokensDetails":{"modality":"TEXT"}},
        "modelVersion":"gemini-2.5-flash"}"#;
    let addr = serve_bytes(
        200,
        vec![("content-type", "application/json")],
        body.into(),
        64,
    )
    .await;
    let sink = Recorder::start().await;
    let otel = otel();
    let hl = humanloop(&sink, |b| b);
    let url = format!("http://{addr}/v1beta/models/gemini-2.5-flash:generateContent");
    send(
        Adapter::Reqwest,
        &hl,
        Req::post(
            url,
            r#"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#,
        ),
    )
    .await;
    let a = attrs(&otel.genai_span());
    assert_eq!(a.get("gen_ai.usage.input_tokens"), Some(&i(8)), "{a:#?}");
    assert_eq!(a.get("gen_ai.usage.output_tokens"), Some(&i(17)), "{a:#?}");
    assert_eq!(a.get("gen_ai.response.model"), Some(&s("gemini-2.5-flash")));
    assert_eq!(
        a.get("gen_ai.response.finish_reasons"),
        Some(&strings(&["STOP"]))
    );
}
