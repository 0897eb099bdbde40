//! Helpers shared by the integration tests of several crates (a dev-dependency only):
//! private temporary directories removed on drop, and bounded waits: for a process to be
//! gone, for a condition, and for a change in a directory (inotify, no busy polling).
//!
//! Not here: starting daemons or reading traces (each crate's `tests/it` support module does
//! that for what it tests), and anything a shipped binary uses.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often [`wait_until`] and [`wait_gone`] look again.
pub const POLL_PERIOD: Duration = Duration::from_millis(5);

/// A directory under the system temporary directory, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty directory whose name starts with `prefix` (and carries this
    /// process's id, a counter and the time, so parallel tests never share one).
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // create_dir (not create_dir_all) fails if the name is taken: never share a directory.
        std::fs::create_dir(&path)?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a failure to clean up must not hide the test's own result.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// True once /proc/PID is gone (or a zombie), within `bound`.
pub fn wait_gone(pid: u32, bound: Duration) -> bool {
    let end = Instant::now() + bound;
    while Instant::now() < end {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z')) =>
            {
                return true
            }
            Ok(_) => std::thread::sleep(POLL_PERIOD),
        }
    }
    false
}

/// Waits until `cond` holds; panics naming `what` after `bound`.
pub fn wait_until(what: &str, bound: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + bound;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(POLL_PERIOD);
    }
}

/// Waits until `check()` holds: checks once, then sleeps in `poll` on an inotify watch of
/// `dir` for the events of `mask` (`libc::IN_*`) and checks again on each. False on timeout,
/// or when `dir` cannot be watched.
pub fn wait_on_dir(
    dir: &Path,
    mask: u32,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(cdir) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: plain syscalls on an fd this function owns and closes.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
    if fd < 0 {
        return false;
    }
    // SAFETY: `cdir` is a valid C string for the duration of the call.
    let wd = unsafe { libc::inotify_add_watch(fd, cdir.as_ptr(), mask) };
    let deadline = Instant::now() + timeout;
    let mut done = wd >= 0 && check();
    while wd >= 0 && !done {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: one live pollfd.
        let _ = unsafe { libc::poll(&mut pfd, 1, ms) };
        let mut buf = [0u8; 4096];
        // SAFETY: reading into a live local buffer (non-blocking; the events only wake us).
        while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        done = check();
    }
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(fd) };
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_on_dir_wakes_on_a_new_file_and_times_out_without_one() {
        let d = TempDir::new("rttng-testkit").unwrap();
        let file = d.path().join("f");
        let quiet = wait_on_dir(d.path(), libc::IN_CREATE, Duration::from_millis(50), || {
            file.exists()
        });
        assert!(!quiet, "nothing was created");
        let writer = {
            let file = file.clone();
            std::thread::spawn(move || std::fs::write(file, b"x").unwrap())
        };
        let start = Instant::now();
        let seen = wait_on_dir(d.path(), libc::IN_CREATE, Duration::from_secs(10), || {
            file.exists()
        });
        writer.join().unwrap();
        assert!(seen && start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn temp_dirs_are_distinct_and_removed() {
        let (a, b) = (TempDir::new("t").unwrap(), TempDir::new("t").unwrap());
        assert_ne!(a.path(), b.path());
        let p = a.path().to_path_buf();
        drop(a);
        assert!(!p.exists());
    }
}
