//! The durable spool: records the exporter accepted survive a SIGKILL and are delivered
//! exactly once by the next exporter on the same spool directory; a damaged spool file is
//! recovered up to its last good record; past `spool_max_bytes` records are dropped and
//! counted.
//!
//! The crash test re-executes this test binary (`std::env::current_exe()`) with
//! `HL_SPOOL_CRASH_CHILD` set, which selects the child-mode test.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::endpoint::handle;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::endpoint::{Behaviour, Recorder};
use humanloop_tracing::api::{LogRequest, ToolConfig};
use humanloop_tracing::config::ExportConfig;
use humanloop_tracing::Config;

const CHILD_ENV: &str = "HL_SPOOL_CRASH_CHILD";

fn record(i: usize) -> LogRequest {
    LogRequest::default()
        .with_reference_id(format!("rec-{i}"))
        .with_config(ToolConfig::new("burst"))
        .with_output(format!(
            "record number {i} with some padding to give it a size"
        ))
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A port with nothing listening on it.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Reference ids the endpoint received, with how many times each.
fn delivered(rec: &Recorder) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for (_, log) in rec.logs() {
        let r = log["reference_id"].as_str().unwrap().to_owned();
        *seen.entry(r).or_insert(0) += 1;
    }
    seen
}

/// Child mode: submits records forever with the endpoint down, printing how many the
/// exporter has spooled (accepted durably) as that number grows.
#[test]
fn child_submits_a_burst_with_the_endpoint_down() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let hl = handle(
        Config::builder()
            .base_url(format!("http://127.0.0.1:{}/v4", dead_port()))
            .api_key("hl-test-key")
            .spool_dir(PathBuf::from(dir))
            .max_queue_size(1_000_000)
            .schedule_delay(Duration::from_millis(5)),
    );
    let mut out = std::io::stdout();
    let mut last = 0;
    for i in 0..200_000 {
        assert!(hl.log(record(i)), "the queue is large enough for the burst");
        let spooled = hl.stats().spooled;
        if spooled != last {
            writeln!(out, "accepted {spooled}").unwrap();
            out.flush().unwrap();
            last = spooled;
        }
        if i % 20 == 19 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Never reached in the test: the parent kills us long before.
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn accepted_records_survive_sigkill_and_are_delivered_exactly_once() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = fresh_dir("spool-crash");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_submits_a_burst_with_the_endpoint_down",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut accepted = 0usize;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(n) = line.unwrap().strip_prefix("accepted ") {
            accepted = n.parse().unwrap();
            if accepted >= 300 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no shutdown, mid-burst.
    child.wait().unwrap();
    assert!(
        accepted >= 300,
        "the child stopped after {accepted} records"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let rec = rt.block_on(Recorder::start());
    let hl = handle(rec.config().spool_dir(&dir));
    hl.shutdown_blocking(Duration::from_secs(20)).unwrap();
    let seen = delivered(&rec);
    for i in 0..accepted {
        assert_eq!(seen.get(&format!("rec-{i}")), Some(&1), "rec-{i}");
    }
    assert!(seen.values().all(|&n| n == 1), "a record was sent twice");
    let stats = hl.stats();
    assert_eq!(stats.sent as usize, seen.len(), "{stats:?}");
    assert_eq!((stats.failed, stats.dropped, stats.queued), (0, 0, 0));

    // Delivered records left the spool: the next exporter replays nothing.
    let again = rt.block_on(Recorder::start());
    let hl = handle(again.config().spool_dir(&dir));
    hl.shutdown_blocking(Duration::from_secs(10)).unwrap();
    assert!(again.requests().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Leave `n` records in a fresh spool: the endpoint stalls, and a short shutdown deadline
/// abandons them (abandoned records stay in the spool).
fn leave_records(rt: &tokio::runtime::Runtime, dir: &Path, n: usize) {
    let rec = rt.block_on(Recorder::start());
    rec.set_default(Behaviour::Stall);
    let hl = handle(rec.config().spool_dir(dir));
    for i in 0..n {
        assert!(hl.log(record(i)));
    }
    while hl.stats().spooled < n as u64 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(hl.shutdown_blocking(Duration::from_millis(200)).is_err());
    rec.release();
}

/// Byte offsets where each frame of a segment starts (`[len u32 LE][crc u32 LE][payload]`).
fn frame_starts(data: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut starts = Vec::new();
    while at + 8 <= data.len() {
        starts.push(at);
        at += 8 + u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
    }
    starts
}

fn only_segment(dir: &Path) -> PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

fn deliver_what_is_left(rt: &tokio::runtime::Runtime, dir: &Path) -> Vec<String> {
    let rec = rt.block_on(Recorder::start());
    let hl = handle(rec.config().spool_dir(dir));
    hl.shutdown_blocking(Duration::from_secs(10)).unwrap();
    rec.logs()
        .into_iter()
        .map(|(_, l)| l["reference_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_corrupt_or_truncated_spool_is_recovered_up_to_the_last_good_record() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();

    // A flipped byte inside the 7th record: records 0..6 survive.
    let dir = fresh_dir("spool-corrupt");
    leave_records(&rt, &dir, 10);
    let seg = only_segment(&dir);
    let mut data = std::fs::read(&seg).unwrap();
    let starts = frame_starts(&data);
    assert_eq!(starts.len(), 10);
    data[starts[6] + 20] ^= 0x5a;
    std::fs::write(&seg, &data).unwrap();
    let want: Vec<String> = (0..6).map(|i| format!("rec-{i}")).collect();
    assert_eq!(deliver_what_is_left(&rt, &dir), want);
    std::fs::remove_dir_all(&dir).unwrap();

    // Cut in the middle of the 4th record (a crash mid-write): records 0..3 survive.
    let dir = fresh_dir("spool-truncated");
    leave_records(&rt, &dir, 10);
    let seg = only_segment(&dir);
    let data = std::fs::read(&seg).unwrap();
    let starts = frame_starts(&data);
    std::fs::write(&seg, &data[..starts[3] + 11]).unwrap();
    let want: Vec<String> = (0..3).map(|i| format!("rec-{i}")).collect();
    assert_eq!(deliver_what_is_left(&rt, &dir), want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn past_the_cap_records_are_dropped_and_counted_without_blocking() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = fresh_dir("spool-cap");
    let cap = 4096u64;
    let rec = rt.block_on(Recorder::start());
    rec.set_default(Behaviour::Stall);
    let mut export = ExportConfig::default();
    export.spool_dir = Some(dir.clone());
    export.spool_max_bytes = cap;
    export.schedule_delay = Duration::from_millis(20);
    let hl = handle(rec.config().export(export));
    let n = 100u64;
    for i in 0..n as usize {
        assert!(hl.log(record(i)), "accepted into the queue");
    }
    while hl.stats().spooled + hl.stats().dropped < n {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = hl.stats();
    assert!(stats.dropped > 0 && stats.spooled > 0, "{stats:?}");
    let on_disk: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(on_disk <= cap, "{on_disk} bytes on disk, cap {cap}");
    let spooled = stats.spooled as usize;
    let _ = hl.shutdown_blocking(Duration::from_millis(200));
    rec.release();

    // What was spooled is exactly the oldest records (the newest are dropped).
    let want: Vec<String> = (0..spooled).map(|i| format!("rec-{i}")).collect();
    assert_eq!(deliver_what_is_left(&rt, &dir), want);
    std::fs::remove_dir_all(&dir).unwrap();
}
