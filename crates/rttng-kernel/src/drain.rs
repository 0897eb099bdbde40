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
//! With an observer the thread polls every [`DRAIN_PERIOD`] and `read()`s pages, partial ones
//! included, so that lines show up promptly.
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

/// Called with `(cpu, page)` for every page drained, from the drain thread.
pub type PageObserver = Arc<dyn Fn(u32, &[u8]) + Send + Sync>;

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
        observer: Option<PageObserver>,
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
        };
        let handle = std::thread::Builder::new()
            .name(format!("rttng-drain-{cpu}"))
            .spawn(move || match observer {
                Some(o) => run_observed(cpu, raw, &mut sink, page_bytes, &o, &stop2),
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
}

impl Spool {
    fn write_page(&mut self, page: &[u8]) -> std::io::Result<()> {
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

fn run_observed(
    cpu: u32,
    mut raw: File,
    sink: &mut Spool,
    page_bytes: usize,
    observer: &PageObserver,
    stop: &AtomicBool,
) -> Result<DrainStats, KernelError> {
    let mut buf = vec![0u8; page_bytes];
    let mut stats = DrainStats::default();
    let err = |source| KernelError::Drain { cpu, source };
    loop {
        let stopping = stop.load(Ordering::Acquire);
        read_rest(&mut raw, sink, &mut buf, &mut stats, |p| observer(cpu, p)).map_err(err)?;
        if stopping {
            break;
        }
        std::thread::sleep(DRAIN_PERIOD);
    }
    Ok(stats)
}
