//! Upstream requests are bounded: with `max_connections(2)`, a third concurrent call waits
//! for a slot (the upstream never sees more than two at once) and, after the queue
//! timeout, gets `503` with a JSON `detail`; once a slot frees, calls flow again.

mod proxy_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proxy_support::upstream_fn;
use tokio::sync::Semaphore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_bounded_connections() {
    let gate = Arc::new(Semaphore::new(0));
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (g, n, m) = (gate.clone(), now.clone(), most.clone());
    let (upstream, _seen) = upstream_fn(move |_| {
        let (g, n, m) = (g.clone(), n.clone(), m.clone());
        async move {
            let current = n.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(current, Ordering::SeqCst);
            g.acquire().await.unwrap().forget();
            n.fetch_sub(1, Ordering::SeqCst);
            axum::response::Response::new("done".into())
        }
    })
    .await;
    let stack = proxy_support::start(|c| {
        c.upstream(&format!("up={upstream}"))
            .unwrap()
            .max_connections(2)
            .queue_timeout(Duration::from_millis(300))
    })
    .await;
    let http = reqwest::Client::new();
    let call = || {
        let (http, url) = (http.clone(), format!("{}/up/work", stack.proxy_url));
        tokio::spawn(async move {
            let resp = http.get(url).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    };
    let (a, b) = (call(), call());
    while now.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stack.proxy.in_flight(), 2);
    let (status, body) = call().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("busy"), "{body}");
    assert_eq!(most.load(Ordering::SeqCst), 2);

    // A waiting call gets the slot the first finished call frees.
    let c = call();
    tokio::time::sleep(Duration::from_millis(50)).await;
    gate.add_permits(1);
    gate.add_permits(2);
    for h in [a, b, c] {
        assert_eq!(h.await.unwrap(), (200, "done".to_owned()));
    }
    assert!(most.load(Ordering::SeqCst) <= 2);
}
