//! The few system calls std does not wrap: reading CLOCK_MONOTONIC and CLOCK_REALTIME as raw
//! nanoseconds, and forking a child that waits for a go signal before `exec` (so `rttng trace`
//! can filter on its pid before it runs a single instruction of the traced program).
//!
//! Every `unsafe` block of the crate is here, each with its `// SAFETY:` comment.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io::Write as _;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Nanoseconds of `clock` (a `libc::CLOCK_*` id).
pub fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec)
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
    pid: libc::pid_t,
    go: Option<std::fs::File>,
    reaped: bool,
}

impl PausedChild {
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Let the child `exec` its program.
    pub fn release(&mut self) -> std::io::Result<()> {
        if let Some(mut f) = self.go.take() {
            f.write_all(b"g")?;
        }
        Ok(())
    }

    /// Wait for the child to end: its exit code, or 128 + the signal that killed it.
    pub fn wait(&mut self) -> std::io::Result<i32> {
        let _ = self.release();
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child with a valid pointer to an int.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if rc == self.pid {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        self.reaped = true;
        if libc::WIFEXITED(status) {
            Ok(libc::WEXITSTATUS(status))
        } else {
            Ok(128 + libc::WTERMSIG(status))
        }
    }
}

impl Drop for PausedChild {
    fn drop(&mut self) {
        // Closing the go pipe unreleased makes the child exit 127; reap it either way.
        self.go = None;
        if !self.reaped {
            let mut status = 0;
            // SAFETY: waitpid on our own child with a valid pointer to an int.
            unsafe { libc::waitpid(self.pid, &mut status, 0) };
        }
    }
}

/// A pipe whose both ends close on exec.
pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Fork a child that blocks until released, then `execvp`s `argv` (inheriting stdio and the
/// environment). If the parent drops the [`PausedChild`] without releasing it, the child exits
/// with status 127 without running the program; so does a failed exec.
///
/// std's `Command` cannot do this: its `spawn` waits for the exec to happen.
pub fn spawn_paused(argv: &[String]) -> std::io::Result<PausedChild> {
    let c_args: Vec<CString> = argv
        .iter()
        .map(|a| {
            CString::new(a.as_bytes())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
        })
        .collect::<Result<_, _>>()?;
    if c_args.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty command",
        ));
    }
    let mut ptrs: Vec<*const libc::c_char> = c_args.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let (rd, wr) = pipe()?;
    let rd_fd = rd.as_raw_fd();
    let wr_fd = wr.as_raw_fd();
    // SAFETY: fork in a program that may have other threads: the child only calls
    // async-signal-safe functions (close, read, execvp, _exit) on memory prepared before the
    // fork (`ptrs`, `c_args`), and never returns into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; this is the child and it ends in execvp or _exit.
        unsafe {
            libc::close(wr_fd);
            let mut b = 0u8;
            loop {
                let n = libc::read(rd_fd, (&mut b as *mut u8).cast(), 1);
                if n == 1 {
                    break;
                }
                if n < 0 && *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                libc::_exit(127);
            }
            libc::execvp(ptrs[0], ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    drop(rd);
    Ok(PausedChild {
        pid,
        go: Some(std::fs::File::from(wr)),
        reaped: false,
    })
}

/// Wait until one of `fds` is readable, or `timeout_ms` passes (−1: no timeout). Returns
/// whether each is ready; an interrupted wait returns none ready.
pub fn poll_many(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> std::io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of `p.len()` pollfd structs for the duration of the call;
    // the fds are borrowed, so they stay open until it returns.
    let rc = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(p.iter()
        .map(|x| x.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
        .collect())
}

/// A BPF program attached to a tracepoint through a perf-event BPF link, with a cookie the
/// program reads with `bpf_get_attach_cookie` (aya's `TracePoint::attach` sets none). Dropping
/// it detaches the program.
#[derive(Debug)]
pub struct CookieLink {
    _link: OwnedFd,
    _perf: OwnedFd,
}

/// `perf_event_open` of tracepoint `tracepoint_id` (all tasks, CPU 0: a tracepoint perf
/// event's BPF program runs on every CPU), then `BPF_LINK_CREATE` of `prog` on it with `cookie`.
pub fn attach_tracepoint_with_cookie(
    prog: BorrowedFd<'_>,
    tracepoint_id: u64,
    cookie: u64,
) -> std::io::Result<CookieLink> {
    const PERF_TYPE_TRACEPOINT: u32 = 2;
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
    const ATTR_BYTES: usize = 128; // PERF_ATTR_SIZE_VER7
    const BPF_LINK_CREATE: libc::c_long = 28;
    const BPF_PERF_EVENT: u32 = 41;
    // struct perf_event_attr: type, size, config, sample_period (0), ..., wakeup_events.
    let mut attr = [0u8; ATTR_BYTES];
    attr[0..4].copy_from_slice(&PERF_TYPE_TRACEPOINT.to_ne_bytes());
    attr[4..8].copy_from_slice(&(ATTR_BYTES as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&tracepoint_id.to_ne_bytes());
    attr[48..52].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: `attr` is a zero-filled perf_event_attr of the size it declares, readable for
    // the call; the other arguments are plain integers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor, owned by nobody else.
    let perf = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // union bpf_attr, link_create: prog_fd, target_fd, attach_type, flags, perf_event.bpf_cookie.
    let mut battr = [0u8; 64];
    battr[0..4].copy_from_slice(&(prog.as_raw_fd() as u32).to_ne_bytes());
    battr[4..8].copy_from_slice(&(perf.as_raw_fd() as u32).to_ne_bytes());
    battr[8..12].copy_from_slice(&BPF_PERF_EVENT.to_ne_bytes());
    battr[16..24].copy_from_slice(&cookie.to_ne_bytes());
    // SAFETY: `battr` is a zero-filled bpf_attr prefix of the size passed, readable for the
    // call; the descriptors in it stay open across it.
    let link = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_LINK_CREATE,
            battr.as_ptr(),
            battr.len() as libc::c_uint,
        )
    };
    if link < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    let link = unsafe { OwnedFd::from_raw_fd(link as i32) };
    Ok(CookieLink {
        _link: link,
        _perf: perf,
    })
}
