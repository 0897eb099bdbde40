//! The relay's system calls that std does not offer: `openat2` with `RESOLVE_BENEATH` (every
//! file and directory the relay touches is opened beneath its output directory), `mkdirat`,
//! `unlinkat`, and TCP keep-alive so that a dead peer's connection ends. The only `unsafe` of
//! the crate. No policy: callers choose paths.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `struct open_how` of openat2(2) (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn cpath(p: &str) -> io::Result<CString> {
    CString::new(p).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Opens `rel` beneath `dir` with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`: no `..`
/// escapes, no absolute symlinks, no `/proc` magic links. `O_NOFOLLOW` is added, so a final
/// symlink is refused too. `O_CLOEXEC` always.
pub fn open_beneath(dir: &OwnedFd, rel: &str, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = cpath(rel)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
        mode: if flags & libc::O_CREAT != 0 {
            mode as u64
        } else {
            0
        },
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: `c` is a NUL-terminated string and `how` a properly initialized open_how that
        // outlive the call; the size passed is the struct's.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel returned a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Opens the directory `rel` beneath `dir` (`O_PATH | O_DIRECTORY`).
pub fn open_dir_beneath(dir: &OwnedFd, rel: &str) -> io::Result<OwnedFd> {
    open_beneath(dir, rel, libc::O_PATH | libc::O_DIRECTORY, 0)
}

/// Opens a directory by absolute path (the output root), refusing a symlink as its last
/// component.
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is NUL-terminated and outlives the call.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates the single component `name` in `dir`; an existing entry is fine.
pub fn mkdir_in(dir: &OwnedFd, name: &str, mode: u32) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: `c` is NUL-terminated and outlives the call.
    let r = unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EEXIST) {
        Ok(())
    } else {
        Err(e)
    }
}

/// Removes the file `name` from `dir`; a missing file is fine.
pub fn unlink_in(dir: &OwnedFd, name: &str) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: `c` is NUL-terminated and outlives the call.
    let r = unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOENT) {
        Ok(())
    } else {
        Err(e)
    }
}

/// An opened regular file as a `File`.
pub fn into_file(fd: OwnedFd) -> File {
    File::from(fd)
}

/// Keep-alive probes on a peer's socket: a host that vanished without closing is detected
/// after about `idle_s + interval_s * count` seconds, and its connection thread ends.
pub fn set_keepalive(sock: &impl AsRawFd, idle_s: i32, interval_s: i32, count: i32) {
    for (level, opt, v) in [
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle_s),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, interval_s),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, count),
    ] {
        // SAFETY: `v` is a c_int that outlives the call, and its size is passed.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                level,
                opt,
                &v as *const i32 as *const libc::c_void,
                std::mem::size_of::<i32>() as libc::socklen_t,
            );
        }
    }
}

/// Whether a group of that name exists.
pub fn group_exists(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: getgrnam reads the NUL-terminated name; we only test the result for null and
    // never dereference it.
    !unsafe { libc::getgrnam(c.as_ptr()) }.is_null()
}

/// The child of `cmd` starts a new session (`setsid`), detached from the terminal.
pub fn new_session_on_exec(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and calls only setsid, which is
    // async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
}
