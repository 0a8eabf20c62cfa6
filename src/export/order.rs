//! Causal order: the records waiting to be sent, and which of them may go now.
//!
//! The endpoint only accepts a `parent_reference_id` naming a datapoint created in an
//! *earlier* request, and a `PATCH ?reference_id=` only after that datapoint exists. So a
//! create waits while its parent's create is still buffered or in flight, and an update
//! waits while its own create is. A reference id not known here (a parent created in another
//! process, or long since sent) is assumed logged.
//!
//! A create the endpoint refused for good does not take its descendants down with it: a
//! child naming it is sent without the parent link (metadata [`ORPHANED_PARENT_KEY`] names
//! the parent), and an update of it fails here, without a request that could only fail.
//!
//! Everything here is bounded by the queue: the buffer holds at most the records the
//! exporter accepted, and `pending` holds at most one entry per buffered or in-flight create.
//! The refused reference ids are bounded by [`REFUSED_REMEMBERED`].

use std::collections::{HashMap, HashSet, VecDeque};

use tokio::time::Instant;

use super::ORPHANED_PARENT_KEY;

use crate::api::{LogRequest, UpdateLogRequest};

/// A record ready for the wire (deferred records have already been built).
pub(crate) enum Entry {
    Create(Box<LogRequest>),
    Update {
        reference_id: String,
        update: UpdateLogRequest,
    },
}

struct Slot {
    entry: Entry,
    seq: u64,
    arrived: Instant,
    /// Its id in the durable spool, if it was spooled.
    spool: Option<u64>,
}

/// One round's worth of requests: creates go together in one `POST /logs`, then the updates.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) creates: Vec<LogRequest>,
    pub(crate) updates: Vec<(String, UpdateLogRequest)>,
    /// Spool ids of the creates (those that were spooled).
    pub(crate) create_spool: Vec<u64>,
    /// Spool id of each update, in the order of `updates`.
    pub(crate) update_spool: Vec<Option<u64>>,
    /// Updates of records refused for good: they fail without a request
    /// (`(reference_id, spool id)`).
    pub(crate) doomed: Vec<(String, Option<u64>)>,
    /// The lowest sequence number in the batch (what a flush waits for while it is in
    /// flight).
    min_seq: Option<u64>,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.creates.is_empty() && self.updates.is_empty() && self.doomed.is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.creates.len() + self.updates.len() + self.doomed.len()
    }
    /// Whether it holds updates (at most one batch with updates is in flight, so the
    /// updates of a record keep their order).
    pub(crate) fn has_updates(&self) -> bool {
        !self.updates.is_empty() || !self.doomed.is_empty()
    }
}

/// How many refused reference ids are remembered to orphan their children (the oldest are
/// forgotten first; a child arriving later names a parent assumed logged).
pub(crate) const REFUSED_REMEMBERED: usize = 16 * 1024;

/// Reference ids refused for good, oldest first, bounded.
#[derive(Default)]
struct Refused {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Refused {
    fn insert(&mut self, r: &str) {
        if self.set.insert(r.to_owned()) {
            self.order.push_back(r.to_owned());
            if self.order.len() > REFUSED_REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
    fn contains(&self, r: &str) -> bool {
        self.set.contains(r)
    }
}

/// Detach `log` from its refused parent: no parent link, the parent named in metadata.
fn orphan(log: &mut LogRequest) {
    if let Some(parent) = log.parent_reference_id.take() {
        log.metadata
            .get_or_insert_with(Default::default)
            .insert(ORPHANED_PARENT_KEY.to_owned(), parent.into());
    }
}

/// The worker's buffer of records not yet sent.
#[derive(Default)]
pub(crate) struct Buffer {
    slots: VecDeque<Slot>,
    /// Reference ids of creates not yet resolved (buffered or in flight), with a count in
    /// case a caller reused one.
    pending: HashMap<String, u32>,
    /// Sequence number of the next record received; flush waiters compare against it.
    next_seq: u64,
    /// The lowest sequence number of each batch taken but not yet resolved.
    in_flight: Vec<u64>,
    /// Creates refused for good.
    refused: Refused,
}

impl Buffer {
    /// Add a record (with its spool id, if spooled); returns its sequence number.
    pub(crate) fn push(&mut self, entry: Entry, now: Instant, spool: Option<u64>) -> u64 {
        if let Entry::Create(log) = &entry {
            if let Some(r) = &log.reference_id {
                *self.pending.entry(r.clone()).or_insert(0) += 1;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.slots.push_back(Slot {
            entry,
            seq,
            arrived: now,
            spool,
        });
        seq
    }

    /// The sequence number the next record will get (a flush waits for everything below).
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether every record below `watermark` has been resolved.
    pub(crate) fn done_below(&self, watermark: u64) -> bool {
        self.in_flight.iter().all(|&m| m >= watermark)
            && self.slots.iter().all(|s| s.seq >= watermark)
    }

    /// When the oldest buffered record arrived.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        self.slots.iter().map(|s| s.arrived).min()
    }

    fn is_pending(&self, reference_id: Option<&str>) -> bool {
        reference_id.is_some_and(|r| self.pending.contains_key(r))
    }

    /// Take the records that may be sent now: up to `max` creates whose parent is resolved
    /// (never a parent and its child together, nor a child while its parent is in flight)
    /// and, with `updates`, up to `max` updates whose create is. Batches taken while others
    /// are in flight are independent of them; the caller sends updates in one batch at a
    /// time.
    pub(crate) fn take_ready(&mut self, max: usize, updates: bool) -> Batch {
        let mut batch = Batch::default();
        let mut keep = VecDeque::with_capacity(self.slots.len());
        let mut min_seq: Option<u64> = None;
        for slot in std::mem::take(&mut self.slots) {
            let ready = match &slot.entry {
                Entry::Create(log) => {
                    batch.creates.len() < max
                        && !self.is_pending(log.parent_reference_id.as_deref())
                }
                Entry::Update { reference_id, .. } => {
                    updates
                        && batch.updates.len() + batch.doomed.len() < max
                        && !self.is_pending(Some(reference_id))
                }
            };
            if !ready {
                keep.push_back(slot);
                continue;
            }
            min_seq = Some(min_seq.map_or(slot.seq, |m| m.min(slot.seq)));
            match slot.entry {
                Entry::Create(mut log) => {
                    if log
                        .parent_reference_id
                        .as_deref()
                        .is_some_and(|p| self.refused.contains(p))
                    {
                        orphan(&mut log);
                    }
                    batch.creates.push(*log);
                    batch.create_spool.extend(slot.spool);
                }
                Entry::Update { reference_id, .. } if self.refused.contains(&reference_id) => {
                    batch.doomed.push((reference_id, slot.spool));
                }
                Entry::Update {
                    reference_id,
                    update,
                } => {
                    batch.updates.push((reference_id, update));
                    batch.update_spool.push(slot.spool);
                }
            }
        }
        self.slots = keep;
        self.in_flight.extend(min_seq);
        batch.min_seq = min_seq;
        batch
    }

    /// The creates of a batch are resolved (sent or failed for good): their children may go.
    /// `refused[i]` says whether `creates[i]` was refused for good (its children are then
    /// orphaned, its updates fail).
    pub(crate) fn resolve_creates(&mut self, creates: &[LogRequest], refused: &[bool]) {
        for (i, log) in creates.iter().enumerate() {
            if refused.get(i).copied().unwrap_or(false) {
                if let Some(r) = &log.reference_id {
                    self.refused.insert(r);
                }
            }
            if let Some(r) = &log.reference_id {
                if let Some(n) = self.pending.get_mut(r.as_str()) {
                    *n -= 1;
                    if *n == 0 {
                        self.pending.remove(r.as_str());
                    }
                }
            }
        }
    }

    /// `batch` is fully resolved (or given up).
    pub(crate) fn batch_done(&mut self, batch: &Batch) {
        if let Some(m) = batch.min_seq {
            if let Some(i) = self.in_flight.iter().position(|&x| x == m) {
                self.in_flight.swap_remove(i);
            }
        }
    }

    /// Give up on everything still buffered; returns how many records that was.
    pub(crate) fn abandon(&mut self) -> usize {
        let n = self.slots.len();
        self.slots.clear();
        self.pending.clear();
        self.in_flight.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(r: &str, parent: Option<&str>) -> Entry {
        Entry::Create(Box::new(LogRequest {
            reference_id: Some(r.into()),
            parent_reference_id: parent.map(Into::into),
            ..LogRequest::default()
        }))
    }

    fn update(r: &str) -> Entry {
        Entry::Update {
            reference_id: r.into(),
            update: UpdateLogRequest::default(),
        }
    }

    fn refs(b: &Batch) -> Vec<&str> {
        b.creates
            .iter()
            .map(|l| l.reference_id.as_deref().unwrap())
            .collect()
    }

    #[test]
    fn child_waits_for_parent_and_update_for_create() {
        let now = Instant::now();
        let mut buf = Buffer::default();
        buf.push(create("a", None), now, None);
        buf.push(create("b", Some("a")), now, None);
        buf.push(create("c", Some("b")), now, None);
        buf.push(update("a"), now, None);
        buf.push(create("x", Some("remote")), now, None);

        let b1 = buf.take_ready(10, true);
        assert_eq!(refs(&b1), ["a", "x"]);
        assert!(b1.updates.is_empty());
        assert!(!buf.done_below(1));
        buf.resolve_creates(&b1.creates, &[]);
        buf.batch_done(&b1);

        let b2 = buf.take_ready(10, true);
        assert_eq!(refs(&b2), ["b"]);
        assert_eq!(b2.updates.len(), 1);
        buf.resolve_creates(&b2.creates, &[]);
        buf.batch_done(&b2);

        let b3 = buf.take_ready(10, true);
        assert_eq!(refs(&b3), ["c"]);
        buf.resolve_creates(&b3.creates, &[]);
        buf.batch_done(&b3);
        assert!(buf.is_empty());
        assert!(buf.done_below(buf.next_seq()));
    }

    #[test]
    fn children_of_a_refused_parent_are_orphaned_and_its_updates_doomed() {
        let now = Instant::now();
        let mut buf = Buffer::default();
        buf.push(create("p", None), now, None);
        buf.push(create("c", Some("p")), now, None);
        buf.push(update("p"), now, None);
        let b1 = buf.take_ready(10, true);
        assert_eq!(refs(&b1), ["p"]);
        buf.resolve_creates(&b1.creates, &[true]);
        buf.batch_done(&b1);
        let b2 = buf.take_ready(10, true);
        assert_eq!(refs(&b2), ["c"]);
        let child = &b2.creates[0];
        assert_eq!(child.parent_reference_id, None);
        assert_eq!(child.metadata.as_ref().unwrap()[ORPHANED_PARENT_KEY], "p");
        assert!(b2.updates.is_empty());
        assert_eq!(b2.doomed.len(), 1);
    }

    #[test]
    fn a_batch_taken_while_another_is_in_flight_is_independent_of_it() {
        let now = Instant::now();
        let mut buf = Buffer::default();
        buf.push(create("a", None), now, None);
        buf.push(create("b", None), now, None);
        buf.push(create("c", Some("a")), now, None);
        buf.push(create("d", None), now, None);
        let first = buf.take_ready(2, true);
        assert_eq!(refs(&first), ["a", "b"]);
        buf.push(update("d"), now, None);
        buf.push(update("b"), now, None);
        // While `first` is in flight: not the child of `a`, and no updates.
        let second = buf.take_ready(2, false);
        assert_eq!(refs(&second), ["d"]);
        assert!(!second.has_updates());
        // A flush waits for both rounds.
        let watermark = buf.next_seq();
        buf.resolve_creates(&second.creates, &[]);
        buf.batch_done(&second);
        assert!(!buf.done_below(watermark));
        buf.resolve_creates(&first.creates, &[]);
        buf.batch_done(&first);
        let third = buf.take_ready(2, true);
        assert_eq!(refs(&third), ["c"]);
        assert_eq!(third.updates.len(), 2);
        buf.resolve_creates(&third.creates, &[]);
        buf.batch_done(&third);
        assert!(buf.done_below(watermark));
    }

    #[test]
    fn batch_size_is_respected() {
        let now = Instant::now();
        let mut buf = Buffer::default();
        for i in 0..5 {
            buf.push(create(&i.to_string(), None), now, None);
        }
        assert_eq!(buf.take_ready(2, true).creates.len(), 2);
        assert_eq!(buf.len(), 3);
    }
}
