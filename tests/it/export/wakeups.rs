//! Wake-ups of the exporter's worker: a caller wakes it for the first record after it went
//! idle and then once per `max_batch_size` records, so full batches keep leaving by count
//! (with an hour-long delay) burst after burst, and leftovers wait for the delay or a flush.

use crate::harness::endpoint::handle;
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use humanloop_tracing::api::{LogRequest, ModelConfig};

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never met");
}

fn log(i: usize) -> LogRequest {
    LogRequest::default()
        .with_reference_id(format!("wake-{i}"))
        .with_config(ModelConfig::new("gpt-4o-mini"))
        .with_output(format!("answer {i}"))
}

/// The sizes of the `POST /logs` arrays received so far.
fn batches(rec: &Recorder) -> Vec<usize> {
    rec.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body.as_array().map_or(1, Vec::len))
        .collect()
}

#[tokio::test]
async fn full_batches_leave_by_count_in_every_burst() {
    let rec = Recorder::start().await;
    let hl = handle(
        rec.config()
            .schedule_delay(Duration::from_secs(3600))
            .max_batch_size(4),
    );
    // 10 records: two full batches go by count, two records wait (the delay is an hour).
    for i in 0..10 {
        assert!(hl.log(log(i)));
    }
    wait_until(|| rec.logs().len() == 8).await;
    assert_eq!(batches(&rec), vec![4, 4]);
    // Two more make a third full batch with the two waiting: the 12th record wakes the worker
    // although it is not idle (it waits for the oldest record's delay).
    for i in 10..12 {
        assert!(hl.log(log(i)));
    }
    wait_until(|| rec.logs().len() == 12).await;
    assert_eq!(batches(&rec), vec![4, 4, 4]);
    // A lone record after the worker went idle wakes it again; flush sends it.
    assert!(hl.log(log(12)));
    hl.flush(Duration::from_secs(10)).await.unwrap();
    assert_eq!(batches(&rec), vec![4, 4, 4, 1]);
    let stats = hl.stats();
    assert_eq!((stats.sent, stats.queued, stats.dropped), (13, 0, 0));
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test]
async fn a_record_after_idle_starts_its_delay() {
    let rec = Recorder::start().await;
    let hl = handle(
        rec.config()
            .schedule_delay(Duration::from_millis(20))
            .max_batch_size(1000),
    );
    // Each record arrives when the worker is idle with nothing buffered: each wakes it and
    // goes after the delay, without a flush.
    for i in 0..3 {
        assert!(hl.log(log(i)));
        wait_until(|| rec.logs().len() == i + 1).await;
    }
    assert_eq!(batches(&rec), vec![1, 1, 1]);
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
}
