//! The one log both eBPF recorders (`bpf.rs`'s path strings, `bpf_task.rs`'s task records)
//! move their ring buffer's records into: a [`RingLog`] generic over the record type, bounded
//! by the record type's named limits ([`RingRecord`]), the [`Poller`] thread that empties the
//! ring buffer on a period, and [`detach_later`], which frees attached programs off the
//! caller's thread.
//!
//! Not here: what a record holds or how it is matched to a tracefs record (the recorders), and
//! loading or attaching programs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use aya::Ebpf;

/// A record an eBPF program writes into a ring buffer, and the limits of a log of them.
pub trait RingRecord: Sized {
    /// Records a log keeps; later ones are counted as dropped.
    const MAX_LOG_RECORDS: usize;
    /// Bytes (as [`Self::log_bytes`] counts them) a log keeps.
    const MAX_LOG_BYTES: usize = usize::MAX;
    /// Records moved from the ring buffer per poll.
    const MAX_RECORDS_PER_POLL: usize;

    /// Decodes one ring-buffer record; `None` when it is malformed (counted as dropped).
    fn decode(bytes: &[u8]) -> Option<Self>;

    /// What the record weighs against [`Self::MAX_LOG_BYTES`].
    fn log_bytes(&self) -> usize {
        0
    }
}

struct LogInner<R> {
    ring: Option<RingBuf<MapData>>,
    records: Vec<R>,
    bytes: usize,
    dropped: u64,
}

/// Every record of a session, in ring-buffer order (per thread, the order of the hits).
/// Shared between the recorder's poller, the trace conversion and live viewers.
pub struct RingLog<R> {
    inner: Mutex<LogInner<R>>,
}

impl<R> Default for RingLog<R> {
    fn default() -> Self {
        RingLog {
            inner: Mutex::new(LogInner {
                ring: None,
                records: Vec::new(),
                bytes: 0,
                dropped: 0,
            }),
        }
    }
}

impl<R> std::fmt::Debug for RingLog<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingLog")
            .field("len", &self.inner.lock().map_or(0, |g| g.records.len()))
            .finish()
    }
}

impl<R: RingRecord> RingLog<R> {
    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner<R>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves what the ring buffer holds into the log (cheap when it is empty).
    pub fn poll(&self) {
        let mut g = self.lock();
        let LogInner {
            ring,
            records,
            bytes,
            dropped,
        } = &mut *g;
        let Some(ring) = ring.as_mut() else { return };
        for _ in 0..R::MAX_RECORDS_PER_POLL {
            let Some(item) = ring.next() else { break };
            match R::decode(&item) {
                Some(r)
                    if records.len() < R::MAX_LOG_RECORDS
                        && bytes.saturating_add(r.log_bytes()) <= R::MAX_LOG_BYTES =>
                {
                    *bytes += r.log_bytes();
                    records.push(r);
                }
                _ => *dropped += 1,
            }
        }
    }

    /// Records logged and not taken yet.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the log could not keep (limits, malformed records).
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Moves every record out of the log (for its only reader, which keeps them matched as
    /// they come: the log then never fills up in a long session).
    pub fn take_all(&self) -> Vec<R> {
        let mut g = self.lock();
        g.bytes = 0;
        std::mem::take(&mut g.records)
    }

    /// A log holding these records (tests, replays).
    pub fn from_records(records: Vec<R>) -> RingLog<R> {
        let log = RingLog::default();
        log.lock().records = records;
        log
    }

    pub(crate) fn set_ring(&self, ring: Option<RingBuf<MapData>>) {
        self.lock().ring = ring;
    }
}

impl<R: RingRecord + Clone> RingLog<R> {
    /// Records from index `from` on (for readers that leave them in the log).
    pub fn records_from(&self, from: usize) -> Vec<R> {
        let g = self.lock();
        g.records.get(from..).map(<[_]>::to_vec).unwrap_or_default()
    }
}

/// The thread that moves a ring buffer's records into its log every period.
#[derive(Debug)]
pub(crate) struct Poller {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// Hands `ring` to `log` and starts polling it every `period` on a thread named `name`.
    pub(crate) fn start<R: RingRecord + Send + 'static>(
        log: Arc<RingLog<R>>,
        ring: RingBuf<MapData>,
        name: &str,
        period: Duration,
    ) -> std::io::Result<Poller> {
        log.set_ring(Some(ring));
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let log2 = log.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    log2.poll();
                    std::thread::sleep(period);
                }
            });
        match thread {
            Ok(t) => Ok(Poller {
                stop,
                thread: Some(t),
            }),
            Err(e) => {
                log.set_ring(None);
                Err(e)
            }
        }
    }

    /// Stops the thread, moves the last records into `log` and lets the ring buffer go.
    pub(crate) fn finish<R: RingRecord>(&mut self, log: &RingLog<R>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        log.poll();
        log.set_ring(None);
    }
}

/// Threads that detach programs at once (each detach waits for an RCU grace period; in
/// parallel they share it).
const DETACH_THREADS: usize = 64;

/// Drops `links` (detaching their programs), then `ebpf`, on a thread of its own, returned:
/// each detach waits for an RCU grace period (~70 ms here; ~150 one after the other took
/// 10 s), so they go in parallel and overlap whatever the caller does next. `None` when there
/// is nothing to free, or no thread could start (the programs then stay attached until the
/// process exits: the kernel detaches them when their descriptors close).
pub(crate) fn detach_later<L: Send + 'static>(
    mut links: Vec<L>,
    ebpf: Option<Ebpf>,
) -> Option<JoinHandle<()>> {
    if links.is_empty() && ebpf.is_none() {
        return None;
    }
    let detach = move || {
        let per = links.len().div_ceil(DETACH_THREADS).max(1);
        std::thread::scope(|scope| {
            while !links.is_empty() {
                let chunk: Vec<_> = links.drain(..per.min(links.len())).collect();
                scope.spawn(move || drop(chunk));
            }
        });
        // The object goes after its links.
        drop(ebpf);
    };
    std::thread::Builder::new()
        .name("rttng-bpf-detach".to_string())
        .spawn(detach)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Rec(Vec<u8>);

    impl RingRecord for Rec {
        const MAX_LOG_RECORDS: usize = 3;
        const MAX_LOG_BYTES: usize = 4;
        const MAX_RECORDS_PER_POLL: usize = 8;
        fn decode(b: &[u8]) -> Option<Self> {
            Some(Rec(b.to_vec()))
        }
        fn log_bytes(&self) -> usize {
            self.0.len()
        }
    }

    #[test]
    fn take_all_empties_the_log_and_its_byte_count() {
        let log = RingLog::from_records(vec![Rec(b"ab".to_vec()), Rec(b"c".to_vec())]);
        assert_eq!(log.len(), 2);
        assert_eq!(log.records_from(1), vec![Rec(b"c".to_vec())]);
        assert_eq!(log.records_from(5), vec![]);
        assert_eq!(log.take_all().len(), 2);
        assert!(log.is_empty());
        assert_eq!(log.dropped(), 0);
    }
}
