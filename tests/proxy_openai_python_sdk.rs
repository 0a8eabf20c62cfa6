//! The official OpenAI Python SDK (`openai` from PyPI, in a virtual environment under
//! `target/` this test creates), pointed at the proxy, plain and streaming, through to the
//! loopback OpenAI-compatible demo provider: the SDK gets the provider's answers, the
//! endpoint holds one log per call in the session and with the metadata the SDK sent as
//! `Humanloop-*` headers, GenAI spans are recorded, and the SDK's key is in neither.
//! Skipped, loudly, only where `python3` is absent.

mod proxy_support;

use std::path::PathBuf;
use std::process::Command;

use proxy_support::{attr, demo_upstream, spans_text, PROVIDER_KEY};

const SCRIPT: &str = r#"
import json, sys
import openai
from openai import OpenAI
client = OpenAI(
    base_url=sys.argv[1],
    api_key=sys.argv[2],
    default_headers={
        "Humanloop-Session-Reference-Id": "py-session-1",
        "Humanloop-Metadata-Client": "openai-python",
    },
    max_retries=0,
)
plain = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "What is the weather in Lisbon?"}],
)
stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Which hotel?"}],
    stream=True,
    stream_options={"include_usage": True},
)
parts, usage = [], None
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage.completion_tokens
    for choice in chunk.choices:
        parts.append(choice.delta.content or "")
print(json.dumps({
    "version": openai.__version__,
    "plain": plain.choices[0].message.content,
    "plain_tokens": plain.usage.completion_tokens,
    "stream": "".join(parts),
    "stream_chunks": len(parts),
    "stream_tokens": usage,
}))
"#;

/// The venv's python with `openai` installed, or `None` without python3.
fn python_with_openai() -> Option<PathBuf> {
    if Command::new("python3").arg("--version").output().is_err() {
        return None;
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/venv-proxy-openai");
    let python = venv.join("bin/python");
    let has_openai = |p: &PathBuf| {
        Command::new(p)
            .args(["-c", "import openai"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has_openai(&python) {
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .expect("python3 -m venv runs");
        assert!(ok.success(), "creating {venv:?} failed");
        let ok = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "openai",
            ])
            .status()
            .expect("pip runs");
        assert!(ok.success(), "pip install openai failed");
    }
    assert!(
        has_openai(&python),
        "openai is not importable from {python:?}"
    );
    Some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_openai_python_sdk() {
    let Some(python) = tokio::task::spawn_blocking(python_with_openai)
        .await
        .unwrap()
    else {
        eprintln!("\n\n*** SKIPPED proxy_openai_python_sdk: python3 is not installed ***\n\n");
        return;
    };
    let upstream = demo_upstream().await;
    let stack = proxy_support::start(|c| c.upstream(&format!("openai={upstream}")).unwrap()).await;

    let out = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(format!("{}/openai/v1", stack.proxy_url))
        .arg(PROVIDER_KEY)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the SDK script failed: {stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!(
        "openai-python {} through the proxy: {result}",
        result["version"]
    );
    assert_eq!(
        result["plain"],
        "Sunny, 24°C, light breeze from the Atlantic."
    );
    assert_eq!(
        result["stream"],
        "Memmo Alfama: rooftop pool, river views, 3 nights from €540."
    );
    assert!(result["stream_chunks"].as_u64().unwrap() > 5, "{result}");
    assert_eq!(result["plain_tokens"], 9);
    assert_eq!(result["stream_tokens"], 12);

    let logs = stack.logs(2).await;
    assert_eq!(logs.len(), 2, "{logs:#?}");
    let text = serde_json::to_string(&logs).unwrap();
    assert!(!text.contains(PROVIDER_KEY), "the key reached the endpoint");
    for log in &logs {
        assert_eq!(log["session_reference_id"], "py-session-1", "{log:#}");
        assert_eq!(log["metadata"]["client"], "openai-python", "{log:#}");
        assert_eq!(log["config"]["model"], "gpt-4o-mini", "{log:#}");
    }
    let outputs: Vec<&str> = logs.iter().filter_map(|l| l["output"].as_str()).collect();
    assert!(
        outputs.contains(&result["plain"].as_str().unwrap()),
        "{outputs:?}"
    );
    assert!(
        outputs.contains(&result["stream"].as_str().unwrap()),
        "{outputs:?}"
    );

    let spans = stack.llm_spans();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    for span in &spans {
        assert_eq!(
            attr(span, "gen_ai.request.model").as_deref(),
            Some("gpt-4o-mini")
        );
        assert_eq!(attr(span, "gen_ai.operation.name").as_deref(), Some("chat"));
    }
    let output_tokens: Vec<String> = spans
        .iter()
        .filter_map(|s| attr(s, "gen_ai.usage.output_tokens"))
        .collect();
    assert!(output_tokens.contains(&"9".to_owned()), "{output_tokens:?}");
    assert!(
        output_tokens.contains(&"12".to_owned()),
        "{output_tokens:?}"
    );
    assert!(
        !spans_text(&spans).contains(PROVIDER_KEY),
        "the key is in a span"
    );
}
