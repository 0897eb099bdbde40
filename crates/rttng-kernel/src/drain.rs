//! The consumer side of one CPU buffer: a thread that moves the pages of
//! `per_cpu/cpuN/trace_pipe_raw` into a spool file, and hands each page to an optional observer
//! (the live view of `rttng trace`).
//!
//! Without an observer the thread sleeps in `poll` until the kernel says the buffer is
//! `buffer_percent` full (or stop is asked), then `splice`s every full page through a pipe into
//! the spool: the pages never enter user space, and the thread wakes a few times per buffer
//! rather than on a timer. `splice` takes only full pages; at stop, after tracing is off, the
//! last partial page is taken with `read()` (which returns the part written so far, as its commit
//! word says) and zero-padded to a page.
//!
//! With an observer the thread `read()`s pages, partial ones included, so that lines show up
//! promptly: it sleeps in `poll` until the buffer is `buffer_percent` full or its period (by
//! default [`DRAIN_PERIOD`]) passed. Each thread has an observer of its own, made for its CPU,
//! so per-CPU state needs no sharing. A live-only session (no spool) hands pages to the
//! observer and keeps nothing.
//!
//! It does not parse pages; see `page`.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::KernelError;

/// How long a drain thread with an observer sleeps when its buffer is empty.
pub const DRAIN_PERIOD: Duration = Duration::from_millis(3);
/// Largest ring-buffer page accepted.
pub const MAX_PAGE_BYTES: usize = 1 << 20;
/// Capacity asked for the pipe pages travel through (one `splice` moves at most this much).
pub const SPLICE_PIPE_BYTES: usize = 1 << 20;
/// Most partial pages taken with `read()` at stop (the kernel hands out at most one partial
/// page per reader page; this bounds a misbehaving file).
pub const MAX_FINAL_READS: usize = 1 << 16;

/// Makes the observer of one CPU's drain thread, which is called with every page drained.
pub type PageObserver = Arc<dyn Fn(u32) -> Box<dyn FnMut(&[u8]) + Send> + Send + Sync>;

/// What a drain thread does with the pages besides writing them to the spool.
pub struct Observing {
    pub observer: PageObserver,
    /// Longest wait between two reads of a buffer that is not `buffer_percent` full.
    pub period: Duration,
    /// Write the pages to the spool (else the observer is their only reader).
    pub spool: bool,
}

/// What one drain thread did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrainStats {
    pub pages: u64,
}

/// A running drain thread.
#[derive(Debug)]
pub struct Drain {
    pub cpu: u32,
    stop: Arc<AtomicBool>,
    /// Writing a byte here wakes the thread out of `poll`.
    wake: Option<File>,
    handle: Option<JoinHandle<Result<DrainStats, KernelError>>>,
}

impl Drain {
    /// Start draining `pipe_path` into `spool_path` (appending to what is there).
    pub fn start(
        cpu: u32,
        pipe_path: PathBuf,
        spool_path: PathBuf,
        page_bytes: usize,
        observing: Option<&Observing>,
    ) -> Result<Drain, KernelError> {
        if page_bytes == 0 || page_bytes > MAX_PAGE_BYTES {
            return Err(KernelError::BadConfig {
                what: "ring-buffer page size",
                value: page_bytes as u64,
            });
        }
        let raw = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&pipe_path)
            .map_err(crate::error::io_err(&pipe_path))?;
        // Not O_APPEND: splice refuses to write to an append-only file; the thread keeps the
        // write position itself.
        let mut spool = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&spool_path)
            .map_err(crate::error::io_err(&spool_path))?;
        let end = spool
            .seek(SeekFrom::End(0))
            .map_err(crate::error::io_err(&spool_path))?;
        let err = |source| KernelError::Drain { cpu, source };
        let (wake_r, wake_w) = crate::sys::pipe().map_err(err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let mut sink = Spool {
            file: spool,
            offset: end as i64,
            keep: observing.is_none_or(|o| o.spool),
        };
        let observed = observing.map(|o| ((o.observer)(cpu), o.period));
        let handle = std::thread::Builder::new()
            .name(format!("rttng-drain-{cpu}"))
            .spawn(move || match observed {
                Some((mut o, period)) => run_observed(
                    cpu, raw, &mut sink, page_bytes, &mut *o, period, &wake_r, &stop2,
                ),
                None => run_spliced(cpu, raw, &mut sink, page_bytes, &wake_r, &stop2),
            })
            .map_err(err)?;
        Ok(Drain {
            cpu,
            stop,
            wake: Some(File::from(wake_w)),
            handle: Some(handle),
        })
    }

    fn signal_stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(mut w) = self.wake.take() {
            let _ = w.write_all(b"s");
        }
    }

    /// Ask the thread to empty the buffer and finish, and wait for it. Call after tracing is off.
    pub fn finish(mut self) -> Result<DrainStats, KernelError> {
        self.signal_stop();
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(KernelError::Drain {
                cpu: self.cpu,
                source: std::io::Error::other("drain thread panicked"),
            }),
            None => Ok(DrainStats::default()),
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

/// The spool file and the position the next page goes to.
struct Spool {
    file: File,
    offset: i64,
    /// False for a live-only session: pages are dropped once observed.
    keep: bool,
}

impl Spool {
    fn write_page(&mut self, page: &[u8]) -> std::io::Result<()> {
        if !self.keep {
            return Ok(());
        }
        self.file.write_all_at(page, self.offset as u64)?;
        self.offset += page.len() as i64;
        Ok(())
    }
}

/// Take what `read()` still returns (full pages, then the partial page) until the buffer is
/// empty; each is zero-padded to a page and written to the spool.
fn read_rest(
    raw: &mut File,
    sink: &mut Spool,
    buf: &mut [u8],
    stats: &mut DrainStats,
    mut observe: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    for _ in 0..MAX_FINAL_READS {
        match raw.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                buf[n..].fill(0);
                sink.write_page(buf)?;
                observe(buf);
                stats.pages += 1;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn run_spliced(
    cpu: u32,
    mut raw: File,
    sink: &mut Spool,
    page_bytes: usize,
    wake: &OwnedFd,
    stop: &AtomicBool,
) -> Result<DrainStats, KernelError> {
    let err = |source| KernelError::Drain { cpu, source };
    let (pipe_r, pipe_w) = crate::sys::pipe_with_size(SPLICE_PIPE_BYTES).map_err(err)?;
    let mut stats = DrainStats::default();
    let chunk = (SPLICE_PIPE_BYTES / page_bytes).max(1) * page_bytes;
    loop {
        // Read the flag before emptying the buffer: once it is seen, one more full pass
        // collects everything written before tracing was turned off.
        let stopping = stop.load(Ordering::Acquire);
        let mut moved_any = false;
        loop {
            let moved = match crate::sys::splice(&raw, &pipe_w, None, chunk, true) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(err(e)),
            };
            let mut left = moved;
            while left > 0 {
                match crate::sys::splice(&pipe_r, &sink.file, Some(&mut sink.offset), left, false) {
                    Ok(0) => return Err(err(std::io::Error::other("spool refused data"))),
                    Ok(n) => left -= n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(err(e)),
                }
            }
            stats.pages += (moved / page_bytes) as u64;
            moved_any = true;
        }
        if stopping {
            let mut buf = vec![0u8; page_bytes];
            read_rest(&mut raw, sink, &mut buf, &mut stats, |_| {}).map_err(err)?;
            break;
        }
        // Sleep until the buffer is `buffer_percent` full or stop is asked.
        let (ready, _) = crate::sys::poll_two(&raw, wake, -1).map_err(err)?;
        if ready && !moved_any && !stop.load(Ordering::Acquire) {
            // Readable without a full page (`buffer_percent` 0 makes any data readable):
            // do not spin.
            std::thread::sleep(DRAIN_PERIOD);
        }
    }
    Ok(stats)
}

#[allow(clippy::too_many_arguments)]
fn run_observed(
    cpu: u32,
    mut raw: File,
    sink: &mut Spool,
    page_bytes: usize,
    observer: &mut (dyn FnMut(&[u8]) + Send),
    period: Duration,
    wake: &OwnedFd,
    stop: &AtomicBool,
) -> Result<DrainStats, KernelError> {
    let mut buf = vec![0u8; page_bytes];
    let mut stats = DrainStats::default();
    let err = |source| KernelError::Drain { cpu, source };
    let period_ms = i32::try_from(period.as_millis().max(1)).unwrap_or(i32::MAX);
    loop {
        let stopping = stop.load(Ordering::Acquire);
        let before = stats.pages;
        read_rest(&mut raw, sink, &mut buf, &mut stats, &mut *observer).map_err(err)?;
        if stopping {
            break;
        }
        // Wake when the buffer is `buffer_percent` full, stop is asked, or the period passed.
        let (ready, _) = crate::sys::poll_two(&raw, wake, period_ms).map_err(err)?;
        if ready && stats.pages == before && !stop.load(Ordering::Acquire) {
            // Readable with nothing read (`buffer_percent` 0): do not spin.
            std::thread::sleep(DRAIN_PERIOD);
        }
    }
    Ok(stats)
}
