//! While one `POST /logs` is unanswered, the exporter sends a second with records that do
//! not depend on it, and never a third: at most two requests are in flight. Default
//! configuration (only the endpoint set).

use std::time::{Duration, Instant};

use crate::harness::endpoint::{assert_stats, handle, Behaviour, Recorder};
use humanloop_tracing::api::LogRequest;

#[tokio::test]
async fn a_second_independent_request_goes_out_while_the_first_is_unanswered() {
    let rec = Recorder::start().await;
    rec.set_default(Behaviour::Stall);
    let hl = handle(
        humanloop_tracing::Config::builder()
            .base_url(&rec.base_url)
            .api_key("hl-test-key"),
    );
    let log = |r: &str| LogRequest::default().with_reference_id(r).with_output("o");
    let rec = &rec;
    let arrived = |n: usize| async move {
        let start = Instant::now();
        while rec.requests().len() < n && start.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        rec.requests().len()
    };

    assert!(hl.log(log("first")));
    assert_eq!(
        arrived(1).await,
        1,
        "the first request reached the endpoint"
    );
    assert!(hl.log(log("second")));
    assert_eq!(
        arrived(2).await,
        2,
        "a second request while the first stalls"
    );
    assert_eq!(rec.max_in_flight(), 2);

    // Two are unanswered: a third record waits for one of them.
    assert!(hl.log(log("third")));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rec.requests().len(),
        2,
        "no third request while two are in flight"
    );

    rec.release();
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_stats(&hl, &[("sent", 3), ("failed", 0), ("dropped", 0)]);
    assert_eq!(rec.logs().len(), 3);
    assert_eq!(rec.max_in_flight(), 2);
}
