//! The few system calls the daemon needs that std does not offer: effective uid, signal
//! masking and waiting, session leadership, hangup polling, host facts, local time.
//! Each unsafe block is one libc call on values we own (what rustix offers goes through
//! rustix, without unsafe: effective uid, setsid, poll).

#![allow(unsafe_code)]

pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and the threads it spawns later).
pub fn block_stop_signals() {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask with a valid set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Waits for one of the blocked stop signals; returns its number.
pub fn wait_stop_signal() -> i32 {
    // SAFETY: as above; sigwait writes the signal number into `sig`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        let mut sig = 0;
        libc::sigwait(&set, &mut sig);
        sig
    }
}

pub fn setsid() {
    // Failure (already a leader) is harmless.
    let _ = rustix::process::setsid();
}

pub fn cpu_count() -> u32 {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    u32::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The gid of group `name` from /etc/group.
pub fn group_gid(name: &str) -> Option<u32> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name)
            .then(|| f.nth(1)?.parse().ok())
            .flatten()
    })
}

/// The groups of process `pid` (supplementary, then real/effective/saved/fs gid), from
/// /proc; empty when it cannot be read.
pub fn pid_groups(pid: u32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    status
        .lines()
        .filter(|l| l.starts_with("Groups:") || l.starts_with("Gid:"))
        .flat_map(|l| l.split_whitespace().skip(1).filter_map(|g| g.parse().ok()))
        .collect()
}

/// Waits until one of `fds` is readable (or hung up, or in error), at most `timeout`
/// (forever when None); returns which are.
pub fn poll_readable(
    fds: &[std::os::fd::BorrowedFd<'_>],
    timeout: Option<std::time::Duration>,
) -> Vec<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut p: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN | PollFlags::RDHUP))
        .collect();
    let wait = timeout.map(|t| Timespec {
        tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    match poll(&mut p, wait.as_ref()) {
        Ok(n) if n > 0 => p.iter().map(|x| !x.revents().is_empty()).collect(),
        _ => vec![false; fds.len()],
    }
}
