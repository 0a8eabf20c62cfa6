//! Outage, not failure: the endpoint answers 503 for five minutes. With the default
//! configuration (only the URL differs) every record accepted during the outage is kept
//! and delivered exactly once when it recovers, parents before children; while it is down
//! the exporter probes with one request at a time, at most 30 s apart, instead of a retry
//! budget per record; LLM calls made meanwhile get the provider's bytes; `stats()` and
//! `shutdown` are exact (a shutdown probes at once, so its deadline may be shorter than the
//! backoff). The exporter runs on this test's paused runtime: five minutes of backoff take
//! no wall-clock time.

use crate::harness::faults::traced_client;
use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use crate::harness::faults::{call, delivered_once, family, gaps, paused_humanloop};
use crate::harness::provider::chat_url;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn five_minutes_of_503_lose_nothing() {
    let rec = Recorder::start().await;
    rec.set_default(Behaviour::Fail(503));
    let url = chat_url().await;
    let hl = paused_humanloop(&rec.base_url);
    let (_guard, http) = traced_client(&hl);

    let start = Instant::now();
    let mut expected = Vec::new();
    let mut calls = 0;
    while start.elapsed() < Duration::from_secs(300) {
        expected.extend(family(&hl, &format!("t{}", start.elapsed().as_secs())));
        call(&http, &url).await; // the caller gets the provider's bytes
        calls += 1;
        assert!(hl.stats().queued <= 4096, "bounded by the default queue");
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let down = rec.requests();
    assert!(
        down.iter().all(|r| r.answered.is_none()),
        "all failed so far"
    );
    assert_eq!(hl.stats().sent, 0);
    assert_eq!(hl.stats().failed, 0, "an outage fails nothing");
    // One probe at a time, never more than 30 s apart, and not a budget per record: a
    // handful of probes for five minutes.
    assert_eq!(rec.max_in_flight(), 1);
    let longest = gaps(&rec).into_iter().max().unwrap();
    assert!(longest <= Duration::from_secs(30), "{longest:?}");
    assert!(
        down.len() >= 10 && down.len() <= 80,
        "{} probes",
        down.len()
    );

    rec.set_default(Behaviour::Ok); // recovery
                                    // The shutdown probes at once, whatever backoff (up to 30 s) was in progress: a
                                    // deadline shorter than that still delivers everything.
    hl.shutdown(Duration::from_secs(5)).await.unwrap();

    let stats = hl.stats();
    let total = expected.len() as u64 + calls;
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped, stats.queued),
        (total, 0, 0, 0),
        "{stats:?}"
    );
    let failures = rec
        .requests()
        .iter()
        .filter(|r| r.answered.is_none())
        .count() as u64;
    assert_eq!(stats.retried, failures, "every failed probe is one retry");
    let delivered = delivered_once(&rec);
    assert_eq!(delivered.len() as u64, total);
    for id in &expected {
        assert!(delivered.contains(id), "{id}");
    }
    rec.assert_causal_order(&[]);
}

#[tokio::test(start_paused = true)]
async fn past_the_queue_the_newest_are_dropped_counted_and_reported() {
    let rec = Recorder::start().await;
    rec.set_default(Behaviour::Fail(503));
    let hl = paused_humanloop(&rec.base_url);
    // More than the default queue (4096) while the endpoint is down.
    for i in 0..5000 {
        hl.log(crate::harness::faults::log(&format!("r{i}"), None, "burst"));
        assert!(hl.stats().queued <= 4096);
    }
    tokio::time::sleep(Duration::from_secs(300)).await;
    let stats = hl.stats();
    assert_eq!(
        (stats.queued, stats.dropped, stats.failed),
        (4096, 904, 0),
        "{stats:?}"
    );

    rec.set_default(Behaviour::Ok);
    let err = hl.shutdown(Duration::from_secs(120)).await.unwrap_err();
    assert_eq!(
        (err.dropped(), err.failed(), err.undelivered()),
        (904, 0, 0),
        "{err}"
    );
    assert!(err.to_string().contains("queue was full"), "{err}");
    let stats = hl.stats();
    assert_eq!((stats.sent, stats.queued), (4096, 0), "{stats:?}");
    // The oldest were kept, each delivered once.
    let delivered = delivered_once(&rec);
    assert_eq!(delivered.len(), 4096);
    assert!(delivered.contains(&"r0".to_owned()) && delivered.contains(&"r4095".to_owned()));
    assert!(!delivered.contains(&"r4096".to_owned()));
}
