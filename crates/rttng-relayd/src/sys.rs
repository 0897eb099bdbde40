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

/// A pipe for moving packet bytes from a socket to a file without copying them through user
/// space (`splice`).
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// The pipe's capacity: at most this much is in flight.
    capacity_bytes: usize,
}

impl Pipe {
    /// A pipe of (at least) `capacity_bytes`, or the system's default when it refuses.
    pub fn new(capacity_bytes: usize) -> io::Result<Pipe> {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` is a two-element array the kernel fills on success.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are new and owned by nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on a descriptor we own; no memory is passed.
        let got =
            unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, capacity_bytes as i32) };
        // SAFETY: as above.
        let size = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ) };
        let capacity_bytes = if got > 0 {
            got as usize
        } else {
            size.max(4096) as usize
        };
        Ok(Pipe {
            read,
            write,
            capacity_bytes,
        })
    }
}

fn splice_once(from: i32, to: i32, off_out: Option<&mut i64>, len: usize) -> io::Result<usize> {
    let off_ptr = match off_out {
        Some(o) => o as *mut i64,
        None => std::ptr::null_mut(),
    };
    loop {
        // SAFETY: both descriptors are open for the call; `off_ptr` is null or points to a
        // live i64 the caller owns; no other memory is involved.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                off_ptr,
                len,
                libc::SPLICE_F_MOVE,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Moves up to `len` bytes from `sock` to `file` at `offset` through `pipe`; returns how many
/// it moved. Fewer than `len` (possibly 0) means the file or socket cannot be spliced: the
/// caller copies the rest, and should stop using the pipe. Bytes already in the pipe when
/// the file refuses them are copied out through `buf`. An error of kind `UnexpectedEof` when
/// the peer closed before `len` bytes.
pub fn splice_to_file(
    sock: &impl AsRawFd,
    pipe: &Pipe,
    buf: &mut [u8],
    file: &File,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    use std::io::Read;
    use std::os::unix::fs::FileExt;
    let mut done = 0u64;
    let mut off =
        i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    while done < len {
        let want = (len - done).min(pipe.capacity_bytes as u64) as usize;
        let n = match splice_once(sock.as_raw_fd(), pipe.write.as_raw_fd(), None, want) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("peer closed after {done} of {len} payload bytes"),
                ))
            }
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(done),
            Err(e) => return Err(e),
        };
        let mut left = n;
        while left > 0 {
            match splice_once(
                pipe.read.as_raw_fd(),
                file.as_raw_fd(),
                Some(&mut off),
                left,
            ) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "file took no bytes",
                    ))
                }
                Ok(m) => left -= m,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    // The file system does not take spliced pages: copy what the pipe holds.
                    let mut r = File::from(pipe.read.try_clone()?);
                    while left > 0 {
                        let chunk = left.min(buf.len());
                        let k = r.read(&mut buf[..chunk])?;
                        if k == 0 {
                            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                        }
                        file.write_all_at(&buf[..k], off as u64)?;
                        off += k as i64;
                        left -= k;
                    }
                    return Ok(done + n as u64);
                }
                Err(e) => return Err(e),
            }
        }
        done += n as u64;
    }
    Ok(done)
}
