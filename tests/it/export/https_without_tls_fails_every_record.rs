//! The plain-HTTP sink (the exporter's transport in a build without reqwest) and an https
//! endpoint: every record fails at once, counted in `failed`, with one error that names the
//! features adding TLS; nothing is sent, nothing panics, `Humanloop::new`-style start works.

use std::time::Duration;

use crate::harness::endpoint::Recorder;
use humanloop_tracing::export::{HttpSink, LogExporter};
use humanloop_tracing::{step, Humanloop};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::test]
async fn https_without_tls_fails_every_record_with_the_features_named() {
    let rec = Recorder::start().await;
    // The recorder's own port, behind https: a sink that tried would reach it.
    let https = rec.base_url.replacen("http://", "https://", 1);
    let config = rec.config().base_url(&https).build().unwrap();
    let sink = HttpSink::from_config(&config).expect("an https URL is accepted at start");
    let hl = Humanloop::with_exporter(config, LogExporter::builder().sink(sink)).unwrap();
    {
        let _guard = tracing_subscriber::registry()
            .with(hl.tracing_layer())
            .set_default();
        step("outer").in_scope(|| step("inner").in_scope(|| {}));
    }
    for _ in 0..3 {
        assert!(hl.log(humanloop_tracing::api::LogRequest::default()));
    }
    let err = hl.shutdown(Duration::from_secs(10)).await.unwrap_err();
    let stats = hl.stats();
    // Two steps (a create and a patch each) and three logs.
    assert_eq!(
        (stats.sent, stats.failed, stats.queued, stats.retried),
        (0, 7, 0, 0),
        "{stats:?}"
    );
    assert_eq!(err.failed(), 7, "{err}");
    let shown = err.to_string();
    for needle in [
        "has no TLS",
        "`rustls`",
        "`rustls-ring`",
        "`native-tls`",
        &https,
    ] {
        assert!(shown.contains(needle), "{needle:?} not in {shown}");
    }
    assert!(rec.requests().is_empty(), "nothing reaches the endpoint");
}
