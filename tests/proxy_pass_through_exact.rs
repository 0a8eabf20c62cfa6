//! Pass-through exactness: what the client sends reaches the upstream, and what the upstream
//! answers reaches the client, byte for byte (method, path, query, body, status, every
//! end-to-end header with its repeated values in order, the client's provider key),
//! except what RFC 9110 says a proxy must change: hop-by-hop headers (`Connection`, the
//! headers it names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Upgrade`) are dropped,
//! `Host` names the upstream, `Via` gains the proxy. The upstream's base path is added
//! when the client leaves it out and not doubled when it repeats it. The call (an LLM call,
//! decoded by the layer on the way) is still logged.

mod proxy_support;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use proxy_support::{upstream_fn, PROVIDER_KEY};

// Odd spacing and key order on purpose: any re-encoding would show.
const REQUEST: &[u8] =
    b"{\"model\":  \"gpt-4o-mini\", \"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \xe2\x98\x95\"}] ,\"temperature\":0.5}";
const RESPONSE: &[u8] = b"{ \"id\": \"chatcmpl-x\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\",\n \"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok \xc3\xa9\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}  \n";

fn end_to_end(headers: &HeaderMap, drop: &[&str]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .filter(|(n, _)| !drop.contains(&n.as_str()))
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_pass_through_exact() {
    let (upstream, mut seen) = upstream_fn(|_| async {
        http::Response::builder()
            .status(StatusCode::CREATED)
            .header("content-type", "application/json; charset=utf-8")
            .header("x-request-id", "req-42")
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; Path=/")
            .header("openai-processing-ms", "17")
            .header("connection", "x-upstream-hop")
            .header("x-upstream-hop", "must not pass")
            .header("keep-alive", "timeout=5")
            .body(axum::body::Body::from(Bytes::from_static(RESPONSE)))
            .unwrap()
    })
    .await;
    let stack =
        proxy_support::start(|c| c.upstream(&format!("openai={upstream}/v1")).unwrap()).await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    for (path, expect_path) in [
        (
            "/openai/v1/chat/completions?api-version=2024-10-21&x=%20y",
            "/v1/chat/completions?api-version=2024-10-21&x=%20y",
        ),
        (
            "/openai/chat/completions?api-version=2024-10-21&x=%20y",
            "/v1/chat/completions?api-version=2024-10-21&x=%20y",
        ),
    ] {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", stack.proxy_url))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {PROVIDER_KEY}"))
            .header("x-stainless-lang", "python")
            .header("x-multi", "one")
            .header("x-multi", "two")
            .header("accept", "application/json")
            .header("user-agent", "exactness/1.0")
            .header("connection", "keep-alive, x-client-hop")
            .header("x-client-hop", "must not pass")
            .header("keep-alive", "timeout=5")
            .header("proxy-connection", "keep-alive")
            .header("te", "trailers")
            .body(Full::new(Bytes::from_static(REQUEST)))
            .unwrap();
        let sent = req.headers().clone();
        req.headers_mut()
            .insert("content-length", HeaderValue::from(REQUEST.len()));
        let resp = client.request(req).await.unwrap();

        let got = seen.recv().await.unwrap();
        assert_eq!(got.method, Method::POST);
        assert_eq!(got.uri.path_and_query().unwrap().as_str(), expect_path);
        assert_eq!(&got.body[..], REQUEST, "request body changed");
        let hop = [
            "connection",
            "x-client-hop",
            "keep-alive",
            "proxy-connection",
            "te",
        ];
        // The one addition: the W3C trace context of the proxy's span (the layer's
        // default, `ConfigBuilder::trace_context`), when the client sent none.
        let traceparent = got.headers.get("traceparent").expect("trace context added");
        assert_eq!(traceparent.len(), 55, "{traceparent:?}");
        assert_eq!(
            end_to_end(
                &got.headers,
                &["host", "via", "content-length", "traceparent"]
            ),
            end_to_end(&sent, &hop),
            "end-to-end request headers changed"
        );
        for h in hop {
            assert!(got.headers.get(h).is_none(), "hop-by-hop {h} passed");
        }
        assert_eq!(
            got.headers["content-length"],
            REQUEST.len().to_string().as_str()
        );
        assert_eq!(got.headers["host"], upstream.trim_start_matches("http://"));
        assert_eq!(got.headers["via"], "1.1 humanloop-tracing");
        assert_eq!(
            got.headers["authorization"],
            format!("Bearer {PROVIDER_KEY}").as_str(),
            "the client's key passes through"
        );

        assert_eq!(resp.status(), StatusCode::CREATED);
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], RESPONSE, "response body changed");
        let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
        assert_eq!(headers["x-request-id"], "req-42");
        assert_eq!(headers["openai-processing-ms"], "17");
        assert_eq!(headers["content-type"], "application/json; charset=utf-8");
        assert_eq!(
            headers["content-length"],
            RESPONSE.len().to_string().as_str()
        );
        assert_eq!(headers["via"], "1.1 humanloop-tracing");
        for h in ["x-upstream-hop", "keep-alive"] {
            assert!(headers.get(h).is_none(), "hop-by-hop {h} passed back");
        }
        assert_ne!(
            headers.get("connection").map(|v| v.as_bytes()),
            Some(&b"x-upstream-hop"[..])
        );
    }

    let logs = stack.logs(2).await;
    assert_eq!(logs.len(), 2, "{logs:#?}");
    for log in &logs {
        assert_eq!(log["config"]["model"], "gpt-4o-mini");
        assert_eq!(log["output"], "ok é");
    }
    assert!(!serde_json::to_string(&logs).unwrap().contains(PROVIDER_KEY));
}
