//! The few system calls the daemon needs that std does not offer: effective uid, signal
//! masking and waiting, session leadership, hangup polling, host facts, local time.
//! Each unsafe block is one libc call on values we own.

#![allow(unsafe_code)]

pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
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
    // SAFETY: no memory involved; failure (already a leader) is harmless.
    unsafe {
        libc::setsid();
    }
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

/// (`YYYYmmdd-HHMMSS`, `YYYYmmddTHHMMSS+hhmm`) in local time.
pub fn local_time() -> (String, String) {
    // SAFETY: time and localtime_r write into locals we own.
    let tm = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    let (y, mo, d, h, mi, s) = (
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
    );
    let off = tm.tm_gmtoff / 60;
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.abs();
    (
        format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}"),
        format!(
            "{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}{sign}{:02}{:02}",
            off / 60,
            off % 60
        ),
    )
}

/// A random UUID from the kernel.
pub fn new_uuid() -> [u8; 16] {
    let text = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap_or_default();
    let hex: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).take(16).enumerate() {
        let s = std::str::from_utf8(pair).unwrap_or("0");
        out[i] = u8::from_str_radix(s, 16).unwrap_or(0);
    }
    out
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

/// Whether `uid` may use a daemon whose client socket belongs to group `gid`: the kernel
/// already checked the socket's mode; this double-checks with the peer's groups.
pub fn pid_in_group(pid: u32, gid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status.lines().any(|l| {
        (l.starts_with("Groups:") || l.starts_with("Gid:"))
            && l.split_whitespace().skip(1).any(|g| g.parse() == Ok(gid))
    })
}

/// Waits until one of `fds` is readable (or hung up, or in error), at most `timeout`
/// (forever when None); returns which are.
pub fn poll_readable(
    fds: &[std::os::fd::RawFd],
    timeout: Option<std::time::Duration>,
) -> Vec<bool> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        })
        .collect();
    let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    // SAFETY: `p` is a valid array of `p.len()` pollfds that we own for the call.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms) };
    if r <= 0 {
        return vec![false; fds.len()];
    }
    p.iter().map(|x| x.revents != 0).collect()
}
