//! A wrong API key: the endpoint answers 401. It is reported once, as an error naming the
//! key setting, and records are kept (counted in `queued`, not failed); a `shutdown` while
//! the key is still refused says how many were not delivered. Once the endpoint accepts the
//! key, everything is delivered exactly once. Default configuration, paused clock.

#[path = "it/harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::endpoint::{Behaviour, Recorder};
use harness::faults::{delivered_once, family, paused_humanloop, Events};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::test(start_paused = true)]
async fn a_refused_key_is_reported_once_and_records_are_kept() {
    let events = Events::default();
    let _guard = tracing_subscriber::registry()
        .with(events.clone())
        .set_default();
    let rec = Recorder::start().await;
    rec.set_default(Behaviour::Fail(401));
    let hl = paused_humanloop(&rec.base_url);
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.extend(family(&hl, &format!("s{i}")));
    }
    tokio::time::sleep(Duration::from_secs(120)).await;
    let stats = hl.stats();
    assert_eq!(
        (stats.queued, stats.failed, stats.sent),
        (10, 0, 0),
        "{stats:?}"
    );
    assert!(rec.requests().len() > 3, "the exporter keeps probing");
    let errors = events.at(tracing::Level::ERROR);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("API key") && errors[0].contains("HUMANLOOP_API_KEY"));

    // A flush while the key is refused: not delivered, nothing lost yet.
    let err = hl.flush(Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(
        (err.undelivered(), err.failed(), err.dropped()),
        (10, 0, 0),
        "{err}"
    );
    assert!(err.to_string().contains("401"), "{err}");

    rec.set_default(Behaviour::Ok); // the key is accepted now
    hl.shutdown(Duration::from_secs(120)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.queued, stats.failed),
        (10, 0, 0),
        "{stats:?}"
    );
    expected.sort();
    assert_eq!(delivered_once(&rec), expected);
    assert_eq!(events.at(tracing::Level::ERROR).len(), 1, "reported once");
}
