//! Only a permanent refusal fails a record, and only that record: a batch in which one
//! record is invalid is refused by the real endpoint (`humanloop-tracing serve`, in
//! process) with a 422 naming it; the exporter fails that record and delivers the others,
//! and `shutdown` returns an error naming the refused record. Default configuration.

use crate::harness::endpoint::handle;
use std::time::Duration;

use crate::harness::faults::log;
use humanloop_tracing::server::{self, ServerConfig};
use humanloop_tracing::{Config, ExportError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invalid_record_fails_alone_and_shutdown_names_it() {
    let server = server::spawn(ServerConfig::in_memory(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let hl = handle(Config::builder().base_url(server.base_url()));
    for i in 0..10 {
        let mut record = log(&format!("rec-{i}"), None, "batch");
        if i == 6 {
            record.created_at = Some("yesterday".into()); // not RFC 3339: refused
        }
        assert!(hl.log(record));
    }
    let err = hl.shutdown(Duration::from_secs(30)).await.unwrap_err();
    let ExportError::Incomplete {
        failed,
        dropped,
        undelivered,
        refused,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*failed, *dropped, *undelivered), (1, 0, 0), "{err}");
    assert_eq!(refused.len(), 1, "{err}");
    assert_eq!(refused[0].reference_id.as_deref(), Some("rec-6"));
    assert!(refused[0].reason.contains("created_at"), "{err}");
    assert!(err.to_string().contains("rec-6"), "{err}");

    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped, stats.queued),
        (9, 1, 0, 0),
        "{stats:?}"
    );
    // The nine others are stored, each once.
    let list: serde_json::Value = reqwest::get(format!(
        "{}/logs?session_reference_id=batch&size=100",
        server.base_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(list["total"], 9, "{list}");
    let mut stored: Vec<String> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["reference_id"].as_str().unwrap().to_owned())
        .collect();
    stored.sort();
    let want: Vec<String> = (0..10)
        .filter(|&i| i != 6)
        .map(|i| format!("rec-{i}"))
        .collect();
    assert_eq!(stored, want);
}
