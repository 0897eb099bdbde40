//! The few system calls std does not wrap: reading CLOCK_MONOTONIC and CLOCK_REALTIME as raw
//! nanoseconds, and starting a child that waits for a go signal before `exec` (so `rttng trace`
//! can filter on its pid before it runs a single instruction of the traced program).
//!
//! Every `unsafe` block of the crate is here, each with its `// SAFETY:` comment.
#![allow(unsafe_code)]

use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Nanoseconds of `clock` (a `libc::CLOCK_*` id).
pub fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec.saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec)
}

/// CLOCK_MONOTONIC in nanoseconds (what tracefs `trace_clock=mono` stamps).
pub fn monotonic_ns() -> i64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CLOCK_REALTIME − CLOCK_MONOTONIC in nanoseconds, taking the tightest of a few samples.
pub fn realtime_minus_monotonic_ns() -> i64 {
    let mut best: Option<(i64, i64)> = None;
    for _ in 0..5 {
        let m0 = monotonic_ns();
        let r = clock_ns(libc::CLOCK_REALTIME);
        let m1 = monotonic_ns();
        let width = m1 - m0;
        let off = r - (m0 + width / 2);
        if best.is_none_or(|(w, _)| width < w) {
            best = Some((width, off));
        }
    }
    best.map(|(_, o)| o).unwrap_or(0)
}

/// A child process stopped before `exec`, waiting for [`PausedChild::release`].
#[derive(Debug)]
pub struct PausedChild {
    pub child: Child,
    go: Option<std::fs::File>,
}

impl PausedChild {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Let the child `exec` its program.
    pub fn release(&mut self) -> std::io::Result<()> {
        if let Some(mut f) = self.go.take() {
            f.write_all(b"g")?;
        }
        Ok(())
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Spawn `cmd` so that it blocks (after fork, before exec) until released. If the parent drops
/// the [`PausedChild`] without releasing, the child sees end-of-file and exits with status 127
/// without running the program.
pub fn spawn_paused(cmd: &mut Command) -> std::io::Result<PausedChild> {
    let (rd, wr) = pipe()?;
    let rd_fd = rd.as_raw_fd();
    let wr_fd = wr.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec and only calls close(2), read(2)
    // and _exit(2), which are async-signal-safe; it touches no allocator and no lock.
    unsafe {
        cmd.pre_exec(move || {
            // The child's copy of the write end would keep the pipe open forever.
            libc::close(wr_fd);
            let mut b = 0u8;
            loop {
                let n = libc::read(rd_fd, (&mut b as *mut u8).cast(), 1);
                if n == 1 {
                    return Ok(());
                }
                if n < 0 && *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                libc::_exit(127);
            }
        });
    }
    let child = cmd.spawn()?;
    drop(rd);
    Ok(PausedChild { child, go: Some(std::fs::File::from(wr)) })
}
