//! The drain threads of a session that drains its own buffers (`rttng trace`, `rttng top`):
//! one thread per channel runs its [`ChannelDrain`] (the consumer's conversion, the one place
//! pages become CTF packets) and appends the packets to the channel's stream files in
//! `OUT/kernel/`, keeping their index entries for [`TraceFiles::write_indexes`].
//!
//! The thread sleeps in `poll` until a CPU buffer is `buffer_percent` full or stop is asked;
//! with a live observer, also at most its period, so that lines show up promptly (pages,
//! partial ones included, are handed to the observer as they are read). At stop, after
//! tracing is off, a last pass over every CPU takes the partial pages and the final loss
//! counts; the thread then gives the drain and its files back, so a later start goes on
//! appending to the same streams.
//!
//! It does not parse or convert pages (`consume.rs`) nor write the metadata (`session.rs`).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rttng_ctf::index::{encode_index, IndexEntry, IndexVersion};

use crate::consume::ChannelDrain;
use crate::error::{io_err, KernelError};

/// How long a drain thread with an observer sleeps when its buffer is empty.
pub const DRAIN_PERIOD: Duration = Duration::from_millis(3);

/// The observer of one CPU's pages, called with every page drained, and with an empty page
/// at the end of each pass over the CPU: by then it has seen every record written before the
/// pass began (a record is written with preemption off, in microseconds).
pub type PageFn = Box<dyn FnMut(&[u8]) + Send>;
/// Makes the observer of each CPU's pages.
pub type PageObserver = Arc<dyn Fn(u32) -> PageFn + Send + Sync>;

/// One channel's stream files (`CHANNEL_CPU`) and their index entries (`index/CHANNEL_CPU.idx`).
#[derive(Debug)]
pub struct TraceFiles {
    /// Per CPU index: the stream file, its length, its index entries and the index path.
    streams: Vec<(File, u64, Vec<IndexEntry>, PathBuf)>,
    cpus: Vec<u32>,
    /// The first write error (the packets after it are not written).
    failed: Option<KernelError>,
}

impl TraceFiles {
    /// Creates (empties) the stream files of channel `channel` for `cpus` in `dir`.
    pub fn create(dir: &Path, channel: &str, cpus: &[u32]) -> Result<TraceFiles, KernelError> {
        let index_dir = dir.join("index");
        std::fs::create_dir_all(&index_dir).map_err(io_err(&index_dir))?;
        let mut streams = Vec::new();
        for cpu in cpus {
            let p = dir.join(format!("{channel}_{cpu}"));
            let f = File::create(&p).map_err(io_err(&p))?;
            let idx = index_dir.join(format!("{channel}_{cpu}.idx"));
            streams.push((f, 0, Vec::new(), idx));
        }
        Ok(TraceFiles {
            streams,
            cpus: cpus.to_vec(),
            failed: None,
        })
    }

    fn append(&mut self, cpu: u32, data: &[u8], entry: &IndexEntry) {
        if self.failed.is_some() {
            return;
        }
        let Some(i) = self.cpus.iter().position(|&c| c == cpu) else {
            return;
        };
        let (f, len, entries, _) = &mut self.streams[i];
        if let Err(e) = f.write_all(data) {
            self.failed = Some(KernelError::Drain { cpu, source: e });
            return;
        }
        entries.push(IndexEntry {
            offset_bytes: *len,
            ..*entry
        });
        *len += data.len() as u64;
    }

    /// Writes every stream's index (whole: the entries so far); reports the first write error.
    pub fn write_indexes(&mut self) -> Result<(), KernelError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        for (_, _, entries, idx) in &self.streams {
            std::fs::write(idx, encode_index(entries, IndexVersion::V1_1)).map_err(io_err(idx))?;
        }
        Ok(())
    }
}

/// What a drain thread hands back when it ends.
pub type Drained = (ChannelDrain, Option<TraceFiles>);

/// A running drain thread of one channel.
#[derive(Debug)]
pub struct Drain {
    stop: Arc<AtomicBool>,
    /// Writing a byte here wakes the thread out of `poll`.
    wake: Option<File>,
    handle: Option<JoinHandle<(Drained, Option<KernelError>)>>,
}

impl Drain {
    /// Starts draining `drain` into `files` (none: a live-only session), waking at least every
    /// `period` when set.
    pub fn start(
        drain: ChannelDrain,
        files: Option<TraceFiles>,
        period: Option<Duration>,
    ) -> Result<Drain, KernelError> {
        let err = |source| KernelError::Drain {
            cpu: u32::MAX,
            source,
        };
        let (wake_r, wake_w) = crate::sys::pipe().map_err(err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("rttng-drain-{}", drain.stream_id()))
            .spawn(move || run(drain, files, period, File::from(wake_r), &stop2))
            .map_err(err)?;
        Ok(Drain {
            stop,
            wake: Some(File::from(wake_w)),
            handle: Some(handle),
        })
    }

    /// Asks the thread to empty the buffers and finish (call after tracing is off), waits
    /// for it and takes the drain and files back (none if the thread panicked), with the
    /// first error.
    pub fn finish(mut self) -> (Option<Drained>, Option<KernelError>) {
        self.signal_stop();
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok((d, e))) => (Some(d), e),
            _ => (
                None,
                Some(KernelError::Drain {
                    cpu: u32::MAX,
                    source: std::io::Error::other("drain thread panicked"),
                }),
            ),
        }
    }

    fn signal_stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(mut w) = self.wake.take() {
            let _ = w.write_all(b"s");
        }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.signal_stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    mut drain: ChannelDrain,
    mut files: Option<TraceFiles>,
    period: Option<Duration>,
    wake: File,
    stop: &AtomicBool,
) -> (Drained, Option<KernelError>) {
    let timeout_ms = period.map_or(-1, |p| {
        i32::try_from(p.as_millis().max(1)).unwrap_or(i32::MAX)
    });
    let mut first_err = None;
    let n = drain.cpus().len();
    // When every CPU was last passed: a live view must see each CPU at least once a period,
    // even while a busy CPU keeps poll() returning at once (else a quiet CPU's partial page
    // waits, and its events reach the view long after the busy CPU's later ones).
    let mut all_passed = std::time::Instant::now();
    loop {
        // Read the flag before the pass: once it is seen, one more full pass collects
        // everything written before tracing was turned off.
        let stopping = stop.load(Ordering::Acquire);
        let ready = if stopping {
            vec![true; n]
        } else {
            let mut fds = drain.fds();
            fds.push(wake.as_fd());
            match crate::sys::poll_many(&fds, timeout_ms) {
                Ok(mut r) => {
                    r.truncate(n);
                    // Woken by its period, or a period since every CPU was passed: every
                    // CPU (partial pages for the live view).
                    if let Some(p) = period {
                        if !r.iter().any(|x| *x) || all_passed.elapsed() >= p {
                            r.fill(true);
                        }
                    }
                    r
                }
                Err(source) => {
                    first_err.get_or_insert(KernelError::Drain {
                        cpu: u32::MAX,
                        source,
                    });
                    break;
                }
            }
        };
        if !stopping && stop.load(Ordering::Acquire) {
            continue;
        }
        let mut pages = 0;
        if ready.iter().all(|r| *r) {
            all_passed = std::time::Instant::now();
        }
        for (i, _) in ready.iter().enumerate().filter(|(_, r)| **r) {
            let r = drain.pass(i, stopping, &mut |cpu, data, entry| {
                if let Some(f) = files.as_mut() {
                    f.append(cpu, data, entry);
                }
            });
            match r {
                Ok(s) => pages += s.pages,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if stopping {
            break;
        }
        if pages == 0 && ready.iter().any(|r| *r) {
            // Readable with nothing read (`buffer_percent` 0, or kernels without it, make
            // any data readable): do not spin.
            std::thread::sleep(DRAIN_PERIOD);
        }
    }
    ((drain, files), first_err)
}
