//! The exporter's two transports, the reqwest `EndpointSink` and the plain-HTTP `HttpSink`
//! (what a build without reqwest delivers with), send the same requests for the same
//! records and classify the same answers the same way: an outage is retried, a refusal
//! fails the record and its update, and every request carries the key and JSON headers.

use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use humanloop_tracing::export::{EndpointSink, HttpSink, LogExporter};
use humanloop_tracing::{step, Config, Humanloop};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Copy, Debug)]
enum Sink {
    Reqwest,
    PlainHttp,
}

fn start(sink: Sink, config: Config) -> Humanloop {
    let exporter = match sink {
        Sink::Reqwest => LogExporter::builder().sink(EndpointSink::from_config(&config).unwrap()),
        Sink::PlainHttp => LogExporter::builder().sink(HttpSink::from_config(&config).unwrap()),
    };
    Humanloop::with_exporter(config, exporter).unwrap()
}

/// One step (a create, then its patch), the endpoint answering `script` first; the
/// requests it saw as (method, path, query, body without the per-run fields).
async fn one_step(
    sink: Sink,
    script: &[Behaviour],
) -> (
    humanloop_tracing::ExportStats,
    Result<(), String>,
    Vec<String>,
) {
    let rec = Recorder::start().await;
    rec.script(script.iter().copied());
    let hl = start(sink, rec.config().build().unwrap());
    {
        let _guard = tracing_subscriber::registry()
            .with(hl.tracing_layer())
            .set_default();
        step("once").in_scope(|| {});
    }
    let result = hl.shutdown(Duration::from_secs(10)).await;
    let seen = rec
        .requests()
        .into_iter()
        .map(|r| {
            let mut body = r.body.clone();
            per_run_fields_out(&mut body);
            let query: Vec<String> =
                url::form_urlencoded::parse(r.query.unwrap_or_default().as_bytes())
                    .map(|(k, v)| match uuid::Uuid::parse_str(&v) {
                        Ok(_) => format!("{k}=ID"),
                        Err(_) => format!("{k}={v}"),
                    })
                    .collect();
            format!("{} {}?{} {}", r.method, r.path, query.join("&"), body)
        })
        .collect();
    (hl.stats(), result.map_err(|e| e.to_string()), seen)
}

/// Ids and times differ between runs; the rest of a request must not.
fn per_run_fields_out(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Array(items) => items.iter_mut().for_each(per_run_fields_out),
        serde_json::Value::Object(obj) => {
            for key in [
                "start_time",
                "end_time",
                "created_at",
                "duration",
                "metadata",
            ] {
                obj.remove(key);
            }
            obj.values_mut().for_each(per_run_fields_out);
        }
        serde_json::Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => {
            *s = "ID".to_owned();
        }
        _ => {}
    }
}

#[tokio::test]
async fn both_sinks_send_the_same_requests_and_retry_an_outage() {
    let script = [Behaviour::Fail(503), Behaviour::RetryAfter(0)];
    let mut seen = Vec::new();
    for sink in [Sink::Reqwest, Sink::PlainHttp] {
        let (stats, result, requests) = one_step(sink, &script).await;
        assert_eq!(result, Ok(()), "{sink:?}");
        assert_eq!(
            (stats.sent, stats.retried, stats.failed),
            (2, 2, 0),
            "{sink:?}: {stats:?}"
        );
        seen.push(requests);
    }
    let (reqwest_seen, plain_seen) = (&seen[0], &seen[1]);
    assert_eq!(plain_seen, reqwest_seen);
    // Three creates (two answered with an outage), then the patch of the same record.
    assert_eq!(plain_seen.len(), 4, "{plain_seen:#?}");
    assert!(plain_seen[..3]
        .iter()
        .all(|r| r.starts_with("POST /v4/logs? [")));
    assert!(
        plain_seen[0].contains(r#""name":"once""#),
        "{}",
        plain_seen[0]
    );
    assert!(
        plain_seen[3].starts_with("PATCH /v4/logs?reference_id=ID "),
        "{}",
        plain_seen[3]
    );
}

#[tokio::test]
async fn both_sinks_fail_a_refused_record_and_its_update() {
    for sink in [Sink::Reqwest, Sink::PlainHttp] {
        let (stats, result, seen) = one_step(sink, &[Behaviour::Fail(422)]).await;
        assert_eq!(
            (stats.sent, stats.retried, stats.failed),
            (0, 0, 2),
            "{sink:?}: {stats:?}"
        );
        let err = result.unwrap_err();
        assert!(err.contains("422"), "{sink:?}: {err}");
        assert_eq!(
            seen.len(),
            1,
            "{sink:?}: no patch of a refused create: {seen:#?}"
        );
    }
}

#[tokio::test]
async fn both_sinks_send_the_key_and_json_headers() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    for sink in [Sink::Reqwest, Sink::PlainHttp] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v4/logs"))
            .and(header("x-api-key", "hl-header-key"))
            .and(header("content-type", "application/json"))
            .and(header("accept", "application/json"))
            .and(header(
                "user-agent",
                concat!("humanloop-tracing/", env!("CARGO_PKG_VERSION")),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
                {"id": "data_1", "project_id": "pr_1"}
            ])))
            .expect(1)
            .mount(&server)
            .await;
        let config = Config::builder()
            .base_url(format!("{}/v4", server.uri()))
            .api_key("hl-header-key")
            .build()
            .unwrap();
        let hl = start(sink, config);
        assert!(hl.log(humanloop_tracing::api::LogRequest::default()));
        hl.shutdown(Duration::from_secs(10)).await.unwrap();
        assert_eq!(hl.stats().sent, 1, "{sink:?}");
        server.verify().await;
    }
}
