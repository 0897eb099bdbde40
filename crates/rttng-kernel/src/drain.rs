//! The consumer side of one CPU buffer: a thread that reads whole pages from
//! `per_cpu/cpuN/trace_pipe_raw` (non-blocking), appends them to a spool file, and hands each
//! page to an optional observer (the live view of `rttng trace`).
//!
//! A read of `trace_pipe_raw` returns a full page or the part of the page written so far (its
//! commit word says how much); both are kept as one page-sized chunk. At stop, after tracing is
//! off, the thread drains until the buffer is empty, which takes the last partial page.
//! It does not parse pages; see `page`.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::KernelError;

/// How long a drain thread sleeps when its buffer is empty.
pub const DRAIN_PERIOD: Duration = Duration::from_millis(3);
/// Largest ring-buffer page accepted.
pub const MAX_PAGE_BYTES: usize = 1 << 20;

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
    handle: Option<JoinHandle<Result<DrainStats, KernelError>>>,
}

impl Drain {
    /// Start draining `pipe_path` into `spool_path` (appending).
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
        let pipe = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&pipe_path)
            .map_err(crate::error::io_err(&pipe_path))?;
        let spool = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spool_path)
            .map_err(crate::error::io_err(&spool_path))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("rttng-drain-{cpu}"))
            .spawn(move || run(cpu, pipe, spool, page_bytes, observer, &stop2))
            .map_err(|source| KernelError::Drain { cpu, source })?;
        Ok(Drain {
            cpu,
            stop,
            handle: Some(handle),
        })
    }

    /// Ask the thread to empty the buffer and finish, and wait for it. Call after tracing is off.
    pub fn finish(mut self) -> Result<DrainStats, KernelError> {
        self.stop.store(true, Ordering::Release);
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
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    cpu: u32,
    mut pipe: File,
    spool: File,
    page_bytes: usize,
    observer: Option<PageObserver>,
    stop: &AtomicBool,
) -> Result<DrainStats, KernelError> {
    let mut spool = std::io::BufWriter::with_capacity(256 * 1024, spool);
    let mut buf = vec![0u8; page_bytes];
    let mut stats = DrainStats::default();
    let err = |source| KernelError::Drain { cpu, source };
    loop {
        // Read the flag before emptying the buffer: once it is seen, one more full pass
        // collects everything written before tracing was turned off.
        let stopping = stop.load(Ordering::Acquire);
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf[n..].fill(0);
                    spool.write_all(&buf).map_err(err)?;
                    if let Some(o) = &observer {
                        o(cpu, &buf);
                    }
                    stats.pages += 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(err(e)),
            }
        }
        if stopping {
            break;
        }
        if observer.is_some() {
            // The live view wants its lines promptly; the spool does not care.
            spool.flush().map_err(err)?;
        }
        std::thread::sleep(DRAIN_PERIOD);
    }
    spool.flush().map_err(err)?;
    Ok(stats)
}
