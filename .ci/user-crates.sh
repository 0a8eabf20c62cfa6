#!/usr/bin/env bash
# Builds and runs small user crates, one dependency shape each, with humanloop-tracing as
# a path dependency: adding the crate must change nothing else in the user's build.
#   reqwest-no-tls   reqwest without TLS features (plain HTTP to a local server)
#   reqwest-default  reqwest with its default features
#   native-tls       reqwest and humanloop-tracing on native-tls: no rustls anywhere
#   tower-only       humanloop-tracing with `default-features = false, features = ["tower"]`
#                    over hyper-util: no reqwest, rustls or ring in the build (`cargo tree`
#                    says so); the exporter's plain-HTTP HttpSink delivers the log, and an
#                    https endpoint fails every record with the error naming the TLS features
# Each runs `reqwest::Client::new()` and `rustls::ClientConfig::builder()` where those are
# present, and one traced call against a server on 127.0.0.1, whose log must arrive there
# (`POST /v4/logs` carrying the call's output).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
root="$repo/target/user-crates"
export CARGO_TARGET_DIR="$root/target"
mkdir -p "$root"
start=$(date +%s)

# The loopback server and the traced call every shape shares. MODE picks the adapter.
common_rs='
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every request the server got: its request line and its body.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Answers chat completions and log batches over plain HTTP/1.1, one request per connection.
fn serve() -> (std::net::SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut s = stream.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, len) = loop {
                let n = s.read(&mut chunk).unwrap();
                if n == 0 { break (0, 0); }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse::<usize>().unwrap()).unwrap_or(0);
                    break (i + 4, len);
                }
            };
            while buf.len() < head_end + len {
                let n = s.read(&mut chunk).unwrap();
                if n == 0 { break; }
                buf.extend_from_slice(&chunk[..n]);
            }
            let first = String::from_utf8_lossy(&buf).lines().next().unwrap_or_default().to_owned();
            let sent = String::from_utf8_lossy(&buf[head_end.min(buf.len())..]).into_owned();
            record.lock().unwrap().push((first.clone(), sent));
            let body = if first.contains("/chat/completions") {
                r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#
            } else {
                r#"[{"id":"data_1","project_id":"pr_1","session_id":"sesh_1"}]"#
            };
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}", body.len(), body);
        }
    });
    (addr, seen)
}

/// The log of the traced call reached the endpoint: a `POST /v4/logs` carrying its output.
fn assert_delivered(seen: &Seen) {
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|(line, body)| line.starts_with("POST /v4/logs ") && body.contains("Hi!") && body.contains("gpt-4o-mini")),
        "no log of the call arrived: {seen:?}"
    );
}

const CHAT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}"#;

fn humanloop(base_url: String) -> humanloop_tracing::Humanloop {
    let config = humanloop_tracing::Config::builder()
        .base_url(base_url)
        .api_key("hl-user-crate")
        .schedule_delay(Duration::from_millis(10))
        .build()
        .unwrap();
    humanloop_tracing::Humanloop::new(config).unwrap()
}
'

reqwest_main='
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (addr, seen) = serve();
    // The application'"'"'s own client, built as it was before the crate was added.
    let _own = reqwest::Client::new();
    RUSTLS_LINE
    let hl = humanloop(format!("http://{addr}/v4"));
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let resp = http
        .post(format!("http://{addr}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(CHAT)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert!(resp.text().await.unwrap().contains("Hi!"));
    hl.flush(Duration::from_secs(10)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(stats.sent, 1, "{stats:?}");
    assert_delivered(&seen);
    println!("ok: traced call logged ({stats:?})");
}
'

tower_main='
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (addr, seen) = serve();
    let hl = humanloop(format!("http://{addr}/v4"));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let svc = tower::ServiceBuilder::new().layer(hl.layer()).service(client);
    let req = http::Request::post(format!("http://{addr}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from_static(CHAT.as_bytes())))
        .unwrap();
    let resp = svc.oneshot(req).await.unwrap();
    assert!(resp.status().is_success());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("Hi!"));
    // No reqwest here: the exporter'"'"'s HttpSink (hyper-util, plain HTTP) delivers the log.
    hl.flush(Duration::from_secs(5)).await.expect("the log is delivered");
    let stats = hl.stats();
    assert_eq!((stats.sent, stats.failed), (1, 0), "{stats:?}");
    assert_delivered(&seen);
    hl.shutdown(Duration::from_secs(5)).await.unwrap();
    println!("ok: traced call logged ({stats:?})");

    // An https endpoint (the default, hosted one) in a build without TLS: the handle starts,
    // and every record fails at once with the error naming the features that add TLS.
    let hl = humanloop("https://127.0.0.1:9/v4".to_owned());
    assert!(hl.log(humanloop_tracing::api::LogRequest::default()));
    let err = hl.flush(Duration::from_secs(5)).await.expect_err("the record fails");
    let stats = hl.stats();
    assert_eq!((stats.sent, stats.failed, stats.queued), (0, 1, 0), "{stats:?}");
    let shown = format!("{err}");
    assert!(shown.contains("no TLS") && shown.contains("`rustls`") && shown.contains("`native-tls`"), "{shown}");
    println!("ok: https without TLS fails the record: {shown}");
}
'

# shape name, [dependencies] lines, main template, rustls line, crates that must be absent
make_crate() {
  local name=$1 deps=$2 main=$3 rustls_line=$4
  local dir="$root/$name"
  mkdir -p "$dir/src"
  cat >"$dir/Cargo.toml" <<EOF
[package]
name = "user-$name"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
$deps
tokio = { version = "1", features = ["rt", "macros"] }
EOF
  # The repository's lock file pins the versions the crate is tested with.
  cp "$repo/Cargo.lock" "$dir/Cargo.lock"
  { printf '%s\n' "$common_rs"; printf '%s\n' "${main/RUSTLS_LINE/$rustls_line}"; } >"$dir/src/main.rs"
}

hl_path="humanloop-tracing = { path = \"$repo\""
rustls_check='let _ = rustls::ClientConfig::builder(); // panics when no single crypto provider is the default'

make_crate reqwest-no-tls "reqwest = { version = \"0.13\", default-features = false, features = [\"json\"] }
reqwest-middleware = \"0.5\"
rustls = \"0.23\"
$hl_path }" "$reqwest_main" "$rustls_check"

make_crate reqwest-default "reqwest = \"0.13\"
reqwest-middleware = \"0.5\"
rustls = \"0.23\"
$hl_path }" "$reqwest_main" "$rustls_check"

make_crate native-tls "reqwest = { version = \"0.13\", default-features = false, features = [\"native-tls\"] }
reqwest-middleware = \"0.5\"
$hl_path, default-features = false, features = [\"tower\", \"reqwest\", \"native-tls\"] }" "$reqwest_main" ""

make_crate tower-only "$hl_path, default-features = false, features = [\"tower\"] }
tower = { version = \"0.5\", features = [\"util\"] }
hyper-util = { version = \"0.1\", features = [\"client-legacy\", \"http1\", \"tokio\"] }
http = \"1\"
http-body-util = \"0.1\"
bytes = \"1\"" "$tower_main" ""

absent() { # crate dir, package names that must not be in its normal dependency tree
  local dir=$1; shift
  local tree
  tree=$(cd "$dir" && cargo tree -e normal --prefix none) || { echo "FAIL: cargo tree in $(basename "$dir")"; exit 1; }
  for pkg in "$@"; do
    if grep -Eq "^$pkg v" <<<"$tree"; then
      echo "FAIL: $(basename "$dir") pulls $pkg"; exit 1
    fi
  done
  echo "$(basename "$dir"): $(sort -u <<<"$tree" | wc -l) packages, none of: $*"
}

failed=0
for shape in reqwest-no-tls reqwest-default native-tls tower-only; do
  echo "== user crate: $shape"
  (cd "$root/$shape" && cargo build --quiet && "$CARGO_TARGET_DIR/debug/user-$shape") || { echo "FAIL: $shape"; failed=1; }
done
absent "$root/native-tls" rustls ring aws-lc-rs
absent "$root/tower-only" reqwest rustls ring aws-lc-rs hyper-rustls native-tls
absent "$root/reqwest-no-tls" ring
absent "$root/reqwest-default" ring
echo "user crates: $(( $(date +%s) - start )) s"
if [ "$failed" = 0 ]; then echo "4 passed, 0 failed"; else echo "user crates failed"; exit 1; fi
