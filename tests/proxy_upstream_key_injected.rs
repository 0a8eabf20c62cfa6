//! `upstream_key` injects the provider key so clients hold none: the upstream gets the
//! configured key in the header its API uses (replacing whatever the client sent), and
//! the key is in no log, no span and no `Debug`.

mod proxy_support;

use humanloop_tracing::proxy::ProxyConfig;
use proxy_support::{spans_text, upstream_fn};
use serde_json::json;

const INJECTED: &str = "sk-PLANT-injected-by-proxy-55aa21";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_upstream_key_injected() {
    let answer = |_| async {
        let body = json!({"id": "x", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]});
        axum::response::Response::new(body.to_string().into())
    };
    let (upstream, mut seen) = upstream_fn(answer).await;
    let config = ProxyConfig::new()
        .upstream(&format!("openai={upstream}/v1"))
        .unwrap()
        .upstream_key("openai", INJECTED)
        .unwrap();
    assert!(!format!("{config:?}").contains(INJECTED));
    let stack = proxy_support::start(move |_| config).await;
    assert!(!format!("{:?}", stack.proxy).contains(INJECTED));

    let http = reqwest::Client::new();
    for auth in [None, Some("Bearer sk-client-placeholder")] {
        let mut req = http
            .post(format!("{}/openai/v1/chat/completions", stack.proxy_url))
            .json(
                &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
            );
        if let Some(a) = auth {
            req = req.header("authorization", a).header("x-api-key", "other");
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let got = seen.recv().await.unwrap();
        let values: Vec<_> = got.headers.get_all("authorization").iter().collect();
        assert_eq!(values, [format!("Bearer {INJECTED}").as_str()]);
        assert!(got.headers.get("x-api-key").is_none());
    }
    let logs = stack.logs(2).await;
    assert_eq!(logs.len(), 2);
    assert!(!serde_json::to_string(&logs).unwrap().contains(INJECTED));
    assert!(!spans_text(&stack.llm_spans()).contains(INJECTED));
}
