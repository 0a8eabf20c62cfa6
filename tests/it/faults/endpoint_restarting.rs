//! Outage, not failure: the endpoint restarts. For a minute every connection is reset as
//! soon as it is accepted, then nothing listens for thirty seconds (connection refused),
//! then for a minute connections are reset in the middle of the request (after its head
//! and part of the batch's body), then the endpoint answers again. With the default
//! configuration (only the URL differs) every record is delivered exactly once, parents
//! before children, and `stats()` and `shutdown` are exact. A proxy on 127.0.0.1 plays the
//! restart in front of the recording endpoint; paused clock, the exporter on this runtime.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use crate::harness::faults::{delivered_once, family, paused_humanloop};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

const RESET_AT_ONCE: u8 = 0;
const RESET_MID_BODY: u8 = 1;
const FORWARD: u8 = 2;

/// Close with a TCP reset (no orderly shutdown).
fn reset(stream: TcpStream) {
    #[allow(deprecated)] // tokio suggests `set_zero_linger`, not in every 1.x
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Read the request head and `extra` bytes of its body (or less if the peer stops).
async fn read_into_body(stream: &mut TcpStream, extra: usize) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let Ok(n) = stream.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            if seen.len() >= end + 4 + extra {
                return;
            }
        }
    }
}

async fn serve(listener: TcpListener, mode: Arc<AtomicU8>, resets: Arc<AtomicU64>, to: String) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        match mode.load(Ordering::SeqCst) {
            RESET_AT_ONCE => {
                resets.fetch_add(1, Ordering::SeqCst);
                reset(inbound);
            }
            RESET_MID_BODY => {
                let resets = resets.clone();
                tokio::spawn(async move {
                    read_into_body(&mut inbound, 40).await;
                    resets.fetch_add(1, Ordering::SeqCst);
                    reset(inbound);
                });
            }
            _ => {
                let to = to.clone();
                tokio::spawn(async move {
                    let mut outbound = TcpStream::connect(to).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_restarting_loses_nothing() {
    let rec = Recorder::start().await;
    let upstream = rec
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches("/v4")
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mode = Arc::new(AtomicU8::new(RESET_AT_ONCE));
    let resets = Arc::new(AtomicU64::new(0));
    let proxy = tokio::spawn(serve(
        listener,
        mode.clone(),
        resets.clone(),
        upstream.clone(),
    ));
    let hl = paused_humanloop(&format!("http://{addr}/v4"));
    let mut expected = Vec::new();

    // A minute of connections reset on accept.
    for i in 0..6 {
        expected.extend(family(&hl, &format!("a{i}")));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    assert!(resets.load(Ordering::SeqCst) >= 3);
    // Down: nothing listens.
    proxy.abort();
    let _ = proxy.await;
    for i in 0..3 {
        expected.extend(family(&hl, &format!("b{i}")));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    // Up again on the same port, but resetting mid-request for a minute.
    let before = resets.load(Ordering::SeqCst);
    mode.store(RESET_MID_BODY, Ordering::SeqCst);
    let listener = TcpListener::bind(addr).await.unwrap();
    tokio::spawn(serve(listener, mode.clone(), resets.clone(), upstream));
    for i in 0..6 {
        expected.extend(family(&hl, &format!("c{i}")));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    assert!(resets.load(Ordering::SeqCst) > before, "reset mid-request");
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped),
        (0, 0, 0),
        "{stats:?}"
    );
    assert!(rec.requests().is_empty(), "no request got through so far");

    mode.store(FORWARD, Ordering::SeqCst); // the endpoint is back
    hl.shutdown(Duration::from_secs(120)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped, stats.queued),
        (expected.len() as u64, 0, 0, 0),
        "{stats:?}"
    );
    assert!(stats.retried >= resets.load(Ordering::SeqCst), "{stats:?}");
    expected.sort();
    assert_eq!(delivered_once(&rec), expected);
    rec.assert_causal_order(&[]);
}
