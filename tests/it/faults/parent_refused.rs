//! No orphan cascade: when the real endpoint (`humanloop-tracing serve`, in process)
//! refuses a parent for good, its child is still delivered, in its session, without the
//! parent link and with metadata naming the refused parent; the child's own child keeps
//! its link; the flush names the refused parent (the unit tests of `order` cover an update
//! of a refused record, which fails without a request). Default configuration.

use crate::harness::endpoint::handle;
use std::time::Duration;

use crate::harness::faults::log;
use humanloop_tracing::export::ORPHANED_PARENT_KEY;
use humanloop_tracing::server::{self, ServerConfig};
use humanloop_tracing::Config;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_of_a_refused_parent_is_delivered_without_the_link() {
    let server = server::spawn(ServerConfig::in_memory(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = server.base_url();
    let hl = handle(Config::builder().base_url(&base));

    let mut parent = log("parent", None, "tree");
    parent.created_at = Some("not a time".into()); // refused for good
    assert!(hl.log(parent));
    assert!(hl.log(log("child", Some("parent"), "tree")));
    assert!(hl.log(log("grandchild", Some("child"), "tree")));
    assert!(hl.log(log("sibling", None, "tree")));
    let err = hl.flush(Duration::from_secs(30)).await.unwrap_err();
    assert_eq!(
        (err.failed(), err.dropped(), err.undelivered()),
        (1, 0, 0),
        "{err}"
    );
    assert_eq!(
        err.refused()[0].reference_id.as_deref(),
        Some("parent"),
        "{err}"
    );
    // Nothing new since the flush reported the refusal.
    hl.shutdown(Duration::from_secs(30)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped, stats.queued),
        (3, 1, 0, 0),
        "{stats:?}"
    );

    let list: Value = reqwest::get(format!("{base}/logs?session_reference_id=tree&size=100"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = list["records"].as_array().unwrap();
    let by_ref = |r: &str| {
        records
            .iter()
            .find(|l| l["reference_id"] == r)
            .unwrap_or_else(|| panic!("{r} not stored: {list}"))
            .clone()
    };
    assert_eq!(records.len(), 3, "{list}");
    let child = by_ref("child");
    assert!(child["parent_id"].is_null(), "{child}");
    assert_eq!(child["metadata"][ORPHANED_PARENT_KEY], "parent", "{child}");
    let grandchild = by_ref("grandchild");
    assert_eq!(grandchild["parent_id"], child["id"], "{grandchild}");
    by_ref("sibling");
}
