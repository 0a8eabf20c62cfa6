//! The outage promise with the spool, across a crash: the endpoint answers 503 while a
//! process (a child: this test binary re-executed with `HL_SPOOL_OUTAGE_CHILD` set) logs
//! parents and children with the default configuration plus a spool directory; the child
//! is SIGKILLed in the middle of the outage; a new exporter on the same spool, facing the
//! same endpoint still answering 503 for a while, delivers every record the child had
//! spooled exactly once, parents before children, and `shutdown` returns `Ok`.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::endpoint::handle;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::endpoint::{Behaviour, Recorder};
use harness::faults::log;
use humanloop_tracing::api::LogRequest;
use humanloop_tracing::Config;

const CHILD_ENV: &str = "HL_SPOOL_OUTAGE_CHILD";
const URL_ENV: &str = "HL_SPOOL_OUTAGE_URL";

/// Record `i`: even ones are parents, odd ones the child of the one before.
fn record(i: usize) -> LogRequest {
    let family = format!("f{}", i / 2);
    if i % 2 == 0 {
        log(&format!("{family}-parent"), None, &family)
    } else {
        log(
            &format!("{family}-child"),
            Some(&format!("{family}-parent")),
            &family,
        )
    }
}

fn reference(i: usize) -> String {
    record(i).reference_id.unwrap()
}

#[test]
fn child_logs_through_the_outage() {
    let (Some(dir), Some(url)) = (std::env::var_os(CHILD_ENV), std::env::var(URL_ENV).ok()) else {
        return;
    };
    let hl = handle(
        Config::builder()
            .base_url(url)
            .spool_dir(PathBuf::from(dir)),
    );
    let mut out = std::io::stdout();
    let mut last = 0;
    for i in 0..4000 {
        assert!(hl.log(record(i)), "within the default queue");
        let spooled = hl.stats().spooled;
        if spooled != last {
            writeln!(out, "spooled {spooled}").unwrap();
            out.flush().unwrap();
            last = spooled;
        }
        if i % 20 == 19 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    std::thread::sleep(Duration::from_secs(60)); // killed long before
}

#[test]
fn an_outage_across_sigkill_loses_nothing_spooled() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rec = rt.block_on(Recorder::start());
    rec.set_default(Behaviour::Fail(503));
    let dir = std::env::temp_dir().join(format!("hl-spool-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_logs_through_the_outage",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .env(URL_ENV, &rec.base_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut spooled = 0usize;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(n) = line.unwrap().strip_prefix("spooled ") {
            spooled = n.parse().unwrap();
            if spooled >= 300 && !rec.requests().is_empty() {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL in the middle of the outage
    child.wait().unwrap();
    assert!(spooled >= 300, "the child stopped after {spooled} records");
    assert!(rec.requests().iter().all(|r| r.answered.is_none()));
    let probes_before = rec.requests().len();

    // The endpoint is still down for three more requests, then recovers.
    rec.script([Behaviour::Fail(503); 3]);
    rec.set_default(Behaviour::Ok);
    let hl = handle(Config::builder().base_url(&rec.base_url).spool_dir(&dir));
    hl.shutdown_blocking(Duration::from_secs(60)).unwrap();

    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in rec.requests().iter().filter(|r| r.answered.is_some()) {
        for l in r.body.as_array().unwrap() {
            *seen
                .entry(l["reference_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    for i in 0..spooled {
        assert_eq!(seen.get(&reference(i)), Some(&1), "{}", reference(i));
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "a record was delivered twice"
    );
    let stats = hl.stats();
    assert_eq!(stats.sent as usize, seen.len(), "{stats:?}");
    assert_eq!(
        (stats.failed, stats.dropped, stats.queued),
        (0, 0, 0),
        "{stats:?}"
    );
    assert!(stats.retried >= 3, "{stats:?}");
    assert!(rec.requests().len() > probes_before + 3);
    rec.assert_causal_order(&[]);
    std::fs::remove_dir_all(&dir).unwrap();
}
