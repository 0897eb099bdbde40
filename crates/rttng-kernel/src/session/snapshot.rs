//! Snapshots of a kernel snapshot session: the tracefs instances run in overwrite mode with
//! no drain threads, so each CPU buffer holds the newest events; [`KernelSession::snapshot`]
//! reads what each buffer holds (non-blocking `read()` of `trace_pipe_raw`, partial page
//! included, at most the buffer's size plus a margin, so writers that keep writing cannot
//! keep it reading), keeps the newest pages that fit the caller's bound, and converts them to
//! a CTF kernel trace in the given directory, while tracing goes on.
//!
//! The kernel has no non-destructive read of a live buffer here (no `snapshot` file without
//! CONFIG_TRACER_SNAPSHOT), so reading consumes: the next snapshot holds only the events
//! recorded after this one. Not here: deciding when (the session daemon), user-space buffers.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{KernelSession, State, StopReport};
use crate::error::{io_err, KernelError};

/// Pages read per CPU beyond the buffer's own size (events written while it is read).
pub const SNAPSHOT_EXTRA_PAGES: u64 = 64;

impl KernelSession {
    /// Makes this a snapshot session (before `start`): no drain threads, nothing written at
    /// stop, system call path strings not recorded (their log would grow without bound).
    pub fn set_snapshot_mode(&mut self) {
        self.snapshot_mode = true;
        self.record_paths = false;
    }

    /// Writes what the buffers hold as a CTF kernel trace in `dir` (`metadata`, streams,
    /// `index/`), at most `max_subbufs` sub-buffers' worth of the newest ring-buffer pages
    /// per CPU (0: all), without stopping tracing. Needs a snapshot session that was started.
    pub fn snapshot(&mut self, dir: &Path, max_subbufs: u64) -> Result<StopReport, KernelError> {
        if !self.snapshot_mode || self.state == State::Created {
            return Err(KernelError::WrongState {
                operation: "snapshot",
                state: if self.snapshot_mode {
                    "never started"
                } else {
                    "not a snapshot session"
                },
            });
        }
        let page_bytes = u64::from(self.layout.page_bytes());
        let spool = dir.join(".snapshot-spool");
        std::fs::create_dir_all(&spool).map_err(io_err(&spool))?;
        let result = self.read_buffers(&spool, page_bytes, max_subbufs);
        let report = result.and_then(|()| self.write_trace_to(dir, &spool, true));
        let _ = std::fs::remove_dir_all(&spool);
        report
    }

    fn read_buffers(
        &self,
        spool: &Path,
        page_bytes: u64,
        max_subbufs: u64,
    ) -> Result<(), KernelError> {
        for ch in &self.channels {
            let buffer_pages =
                (ch.config.subbuf_bytes * ch.config.subbuf_count).div_ceil(page_bytes);
            let keep = if max_subbufs == 0 {
                u64::MAX
            } else {
                (max_subbufs.saturating_mul(ch.config.subbuf_bytes) / page_bytes).max(1)
            };
            for &cpu in &ch.cpus {
                let pipe = ch
                    .instance
                    .dir()
                    .join(format!("per_cpu/cpu{cpu}/trace_pipe_raw"));
                let pages = read_pages(
                    &pipe,
                    page_bytes as usize,
                    buffer_pages + SNAPSHOT_EXTRA_PAGES,
                    keep,
                )?;
                let path = spool.join(format!("{}_{cpu}", ch.config.name));
                let mut f = std::fs::File::create(&path).map_err(io_err(&path))?;
                for p in &pages {
                    f.write_all(p).map_err(io_err(&path))?;
                }
            }
        }
        Ok(())
    }
}

/// Reads up to `limit` pages from `pipe` (non-blocking, partial pages zero-padded), keeping
/// the newest `keep`.
fn read_pages(
    pipe: &Path,
    page_bytes: usize,
    limit: u64,
    keep: u64,
) -> Result<VecDeque<Vec<u8>>, KernelError> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(pipe)
        .map_err(io_err(pipe))?;
    let mut pages = VecDeque::new();
    let mut n = 0;
    while n < limit {
        let mut page = vec![0u8; page_bytes];
        match f.read(&mut page) {
            Ok(0) => break,
            Ok(_) => {
                // read() gives one page (or the written part of the last one); the rest
                // stays zero.
                n += 1;
                if pages.len() as u64 >= keep {
                    pages.pop_front();
                }
                pages.push_back(page);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(pipe)(e)),
        }
    }
    Ok(pages)
}
