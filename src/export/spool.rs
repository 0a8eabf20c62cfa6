//! The durable spool: an append-only on-disk log of the records the worker accepted, so that
//! a process that ends before they were delivered (crash, kill, shutdown deadline) does not
//! lose them. Opt-in with [`ExportConfig::spool_dir`](crate::config::ExportConfig::spool_dir).
//!
//! Layout: segment files `seg-<index>.log` in the spool directory, oldest first. Each holds
//! frames `[len: u32 LE][crc32: u32 LE][payload]`, the payload a `serde_json` [`Frame`]: a
//! record (with its spool id) or an acknowledgement (tombstone) naming ids already resolved.
//! A tombstone is always written after the record it names, so it lives in the record's
//! segment or a later one; a segment is deleted only when it is the oldest and none of its
//! records is still live, so no surviving record ever loses its tombstone.
//!
//! On open, every segment is read up to its last good frame (a truncated or corrupt tail is
//! warned about and ignored), the live records are rewritten into a fresh segment under their
//! original ids (so a crash during this compaction only yields duplicates that collapse by id
//! on the next open), that segment is synced, and the old ones are deleted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::order::Entry;
use crate::api::{LogRequest, UpdateLogRequest};

/// A frame as written (borrowing the record).
#[derive(Serialize)]
enum FrameRef<'a> {
    Create {
        id: u64,
        log: &'a LogRequest,
    },
    Update {
        id: u64,
        reference_id: &'a str,
        update: &'a UpdateLogRequest,
    },
    Ack {
        ids: &'a [u64],
    },
}

/// A frame as read back.
#[derive(Deserialize)]
enum Frame {
    Create {
        id: u64,
        log: Box<LogRequest>,
    },
    Update {
        id: u64,
        reference_id: String,
        update: UpdateLogRequest,
    },
    Ack {
        ids: Vec<u64>,
    },
}

const HEADER: usize = 8;
/// Largest segment before rotation (smaller when the cap is small, so that acknowledged
/// segments can be deleted well before the cap is reached).
const SEGMENT_MAX: u64 = 8 * 1024 * 1024;

struct Segment {
    index: u64,
    path: PathBuf,
    bytes: u64,
    live: usize,
}

/// The open spool. Used only by the worker thread.
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_max: u64,
    /// Oldest first; the last one is being written.
    segments: VecDeque<Segment>,
    current: BufWriter<File>,
    /// Live record id → index of its segment.
    live: HashMap<u64, u64>,
    next_id: u64,
    total_bytes: u64,
    /// Records appended since the last [`commit`](Self::commit).
    dirty: bool,
}

/// Why a record was not spooled.
pub(crate) enum NotSpooled {
    /// The cap would be exceeded: the record is dropped.
    Full,
    /// The disk write failed: the record stays in memory only.
    Io(io::Error),
}

impl Spool {
    /// Open (creating it if needed) the spool in `dir`, and return the records a previous
    /// process left, in the order they were accepted, with their spool ids.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> io::Result<(Spool, Vec<(u64, Entry)>)> {
        fs::create_dir_all(dir)?;
        let mut old: Vec<(u64, PathBuf)> = Vec::new();
        for item in fs::read_dir(dir)? {
            let path = item?.path();
            let index = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("seg-")?.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(index) = index {
                old.push((index, path));
            }
        }
        old.sort();
        let mut records: BTreeMap<u64, Entry> = BTreeMap::new();
        let mut max_id = None::<u64>;
        for (_, path) in &old {
            read_segment(path, |frame| match frame {
                Frame::Create { id, log } => {
                    max_id = max_id.max(Some(id));
                    records.insert(id, Entry::Create(log));
                }
                Frame::Update {
                    id,
                    reference_id,
                    update,
                } => {
                    max_id = max_id.max(Some(id));
                    records.insert(
                        id,
                        Entry::Update {
                            reference_id,
                            update,
                        },
                    );
                }
                Frame::Ack { ids } => {
                    for id in ids {
                        records.remove(&id);
                    }
                }
            })?;
        }
        let index = old.last().map_or(0, |(i, _)| i + 1);
        let (file, path) = create_segment(dir, index)?;
        let mut spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            segment_max: (max_bytes / 4).clamp(1, SEGMENT_MAX),
            segments: VecDeque::from([Segment {
                index,
                path,
                bytes: 0,
                live: 0,
            }]),
            current: BufWriter::new(file),
            live: HashMap::new(),
            next_id: max_id.map_or(0, |m| m + 1),
            total_bytes: 0,
            dirty: false,
        };
        // Compaction: live records go to the fresh segment under their own ids, whatever
        // the cap (they were accepted already).
        for (id, entry) in &records {
            let payload = encode(*id, entry)?;
            spool.write_frame(&payload)?;
            spool.live.insert(*id, index);
            spool.segments[0].live += 1;
        }
        spool.commit()?;
        for (_, path) in &old {
            fs::remove_file(path)?;
        }
        sync_dir(dir);
        Ok((spool, records.into_iter().collect()))
    }

    /// Append a record (not yet durable: see [`commit`](Self::commit)); its spool id.
    pub(crate) fn append(&mut self, entry: &Entry) -> Result<u64, NotSpooled> {
        let id = self.next_id;
        let payload = encode(id, entry).map_err(NotSpooled::Io)?;
        if self.total_bytes + (HEADER + payload.len()) as u64 > self.max_bytes {
            return Err(NotSpooled::Full);
        }
        if self
            .segments
            .back()
            .is_some_and(|s| s.bytes >= self.segment_max)
        {
            self.rotate().map_err(NotSpooled::Io)?;
        }
        self.write_frame(&payload).map_err(NotSpooled::Io)?;
        self.next_id += 1;
        let seg = self.segments.back_mut().expect("a current segment");
        seg.live += 1;
        self.live.insert(id, seg.index);
        Ok(id)
    }

    /// Make the records appended so far durable (flush and `fdatasync`).
    pub(crate) fn commit(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.current.flush()?;
        self.current.get_ref().sync_data()?;
        self.dirty = false;
        Ok(())
    }

    /// The endpoint resolved these records: tombstone them (flushed to the OS, not synced:
    /// losing a tombstone to a power cut only means a record is sent again), then delete
    /// the oldest segments that hold nothing live.
    pub(crate) fn ack(&mut self, ids: &[u64]) -> io::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let payload = serde_json::to_vec(&FrameRef::Ack { ids }).map_err(io::Error::other)?;
        self.write_frame(&payload)?;
        self.current.flush()?;
        for id in ids {
            if let Some(index) = self.live.remove(id) {
                if let Some(seg) = self.segments.iter_mut().find(|s| s.index == index) {
                    seg.live -= 1;
                }
            }
        }
        while self.segments.len() > 1 && self.segments[0].live == 0 {
            let seg = self.segments.pop_front().expect("checked");
            self.total_bytes -= seg.bytes;
            fs::remove_file(&seg.path)?;
        }
        Ok(())
    }

    fn write_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("record too large"))?;
        self.current.write_all(&len.to_le_bytes())?;
        self.current.write_all(&crc32(payload).to_le_bytes())?;
        self.current.write_all(payload)?;
        let n = (HEADER + payload.len()) as u64;
        self.segments.back_mut().expect("a current segment").bytes += n;
        self.total_bytes += n;
        self.dirty = true;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.commit()?;
        let index = self.segments.back().map_or(0, |s| s.index + 1);
        let (file, path) = create_segment(&self.dir, index)?;
        self.current = BufWriter::new(file);
        self.segments.push_back(Segment {
            index,
            path,
            bytes: 0,
            live: 0,
        });
        sync_dir(&self.dir);
        Ok(())
    }
}

fn encode(id: u64, entry: &Entry) -> io::Result<Vec<u8>> {
    let frame = match entry {
        Entry::Create(log) => FrameRef::Create { id, log },
        Entry::Update {
            reference_id,
            update,
        } => FrameRef::Update {
            id,
            reference_id,
            update,
        },
    };
    serde_json::to_vec(&frame).map_err(io::Error::other)
}

fn create_segment(dir: &Path, index: u64) -> io::Result<(File, PathBuf)> {
    let path = dir.join(format!("seg-{index:020}.log"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    Ok((file, path))
}

/// Make file creations and deletions in `dir` durable (best effort: not every platform
/// lets a directory be opened and synced).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Read the frames of one segment up to the last good one; a truncated or corrupt tail is
/// warned about and ignored.
fn read_segment(path: &Path, mut on_frame: impl FnMut(Frame)) -> io::Result<()> {
    let data = fs::read(path)?;
    let mut at = 0usize;
    let problem = loop {
        let rest = &data[at..];
        if rest.is_empty() {
            break None;
        }
        if rest.len() < HEADER {
            break Some("truncated frame header");
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let Some(payload) = rest.get(HEADER..HEADER + len) else {
            break Some("truncated frame");
        };
        if crc32(payload) != crc {
            break Some("checksum mismatch");
        }
        match serde_json::from_slice::<Frame>(payload) {
            Ok(frame) => on_frame(frame),
            Err(_) => break Some("undecodable frame"),
        }
        at += HEADER + len;
    };
    if let Some(problem) = problem {
        tracing::warn!(
            target: "humanloop_tracing",
            path = %path.display(),
            offset = at,
            problem,
            "log spool segment damaged; records up to the last good one are recovered, the rest is discarded"
        );
    }
    Ok(())
}

/// CRC-32 (IEEE 802.3, as in zlib) of a frame's payload.
fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(r: &str) -> Entry {
        Entry::Create(Box::new(LogRequest {
            reference_id: Some(r.into()),
            ..LogRequest::default()
        }))
    }

    fn refs(entries: &[(u64, Entry)]) -> Vec<String> {
        entries
            .iter()
            .map(|(_, e)| match e {
                Entry::Create(l) => l.reference_id.clone().unwrap(),
                Entry::Update { reference_id, .. } => format!("patch:{reference_id}"),
            })
            .collect()
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn unacknowledged_records_are_replayed_in_order_and_acked_ones_are_not() {
        let dir = std::env::temp_dir().join(format!("hl-spool-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (mut spool, replay) = Spool::open(&dir, 1 << 20).unwrap();
        assert!(replay.is_empty());
        let a = spool.append(&create("a")).ok().unwrap();
        let _b = spool.append(&create("b")).ok().unwrap();
        let c = spool.append(&create("c")).ok().unwrap();
        spool
            .append(&Entry::Update {
                reference_id: "b".into(),
                update: UpdateLogRequest::default(),
            })
            .ok()
            .unwrap();
        spool.commit().unwrap();
        spool.ack(&[a, c]).unwrap();
        drop(spool);
        let (spool, replay) = Spool::open(&dir, 1 << 20).unwrap();
        assert_eq!(refs(&replay), ["b", "patch:b"]);
        drop(spool);
        // Replayed records keep their ids and stay live until acknowledged.
        let (mut spool, replay) = Spool::open(&dir, 1 << 20).unwrap();
        assert_eq!(refs(&replay), ["b", "patch:b"]);
        let ids: Vec<u64> = replay.iter().map(|(id, _)| *id).collect();
        spool.ack(&ids).unwrap();
        drop(spool);
        let (_, replay) = Spool::open(&dir, 1 << 20).unwrap();
        assert!(replay.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn acknowledged_segments_are_deleted() {
        let dir = std::env::temp_dir().join(format!("hl-spool-rot-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        // A small cap means small segments.
        let (mut spool, _) = Spool::open(&dir, 4096).unwrap();
        let mut ids = Vec::new();
        for i in 0..20 {
            ids.push(spool.append(&create(&format!("r{i}"))).ok().unwrap());
        }
        spool.commit().unwrap();
        assert!(spool.segments.len() > 1);
        spool.ack(&ids).unwrap();
        assert_eq!(spool.segments.len(), 1, "only the current segment is left");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
