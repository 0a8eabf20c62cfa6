//! A 429 storm: the endpoint answers 429 with `Retry-After: 7` to twenty requests in a row.
//! With the default configuration the exporter waits as told between probes (never sooner,
//! and never more than its 30 s ceiling), one request at a time, keeps every record, and
//! delivers each exactly once when the storm passes; `stats()` and `shutdown` are exact.
//! Paused clock, the exporter on this runtime.

use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use crate::harness::faults::{assert_all_sent, delivered_once, families, gaps, paused_humanloop};

#[tokio::test(start_paused = true)]
async fn a_429_storm_is_waited_out_as_told() {
    let rec = Recorder::start().await;
    rec.script([Behaviour::RetryAfter(7); 20]);
    let hl = paused_humanloop(&rec.base_url);
    let mut expected = families(&hl, "s", 0..5);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(hl.stats().sent, 0);
    expected.extend(families(&hl, "s", 5..10));
    hl.shutdown(Duration::from_secs(600)).await.unwrap();

    assert_all_sent(&hl, 20, 20);
    // Each wait after a 429 was the 7 s asked for (the paused clock makes it exact).
    let gaps = gaps(&rec);
    for gap in &gaps[..20] {
        assert!(
            *gap >= Duration::from_secs(7) && *gap < Duration::from_secs(8),
            "{gaps:?}"
        );
    }
    assert_eq!(rec.max_in_flight(), 1);
    expected.sort();
    assert_eq!(delivered_once(&rec), expected);
    rec.assert_causal_order(&[]);
}
