//! Outage, not failure: nothing listens on the endpoint's port for five minutes
//! (connection refused), then the endpoint comes up there. Default configuration (only the
//! URL differs): every record accepted meanwhile is delivered exactly once, parents before
//! children; the exporter probed one connection at a time with backoff; `stats()` and
//! `shutdown` are exact. Paused clock, the exporter on this runtime.

use std::time::Duration;

use crate::harness::endpoint::Recorder;
use crate::harness::faults::{delivered_once, family, paused_humanloop};

#[tokio::test(start_paused = true)]
async fn five_minutes_of_refused_connections_lose_nothing() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hl = paused_humanloop(&format!("http://127.0.0.1:{port}/v4"));
    let mut expected = Vec::new();
    for i in 0..30 {
        expected.extend(family(&hl, &format!("t{i}")));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped),
        (0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.queued, 60);
    // Probes, not a storm: with backoff up to 30 s, a handful in five minutes.
    assert!(stats.retried >= 10 && stats.retried <= 80, "{stats:?}");

    let rec = Recorder::start_on(port).await; // the endpoint comes up
    hl.shutdown(Duration::from_secs(120)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped, stats.queued),
        (60, 0, 0, 0),
        "{stats:?}"
    );
    expected.sort();
    assert_eq!(delivered_once(&rec), expected);
    assert!(rec.requests().iter().all(|r| r.answered.is_some()));
    rec.assert_causal_order(&[]);
}
