//! File operations that a root daemon carries out on behalf of a user, as LTTng's run-as
//! worker does: trace directories and files of a user's session are created by a thread
//! that holds the user's filesystem uid, gid, supplementary groups and umask (Linux keeps
//! these per thread: `setfsuid`, `setfsgid`, the raw `setgroups` system call and
//! `unshare(CLONE_FS)`; a non-zero fsuid also drops the filesystem capabilities), so the
//! kernel checks every access as it would for the user and the files belong to the user.
//! Below the session's output directory (the [`Owner`]'s root) no path component may be a
//! symbolic link: each is opened with `O_NOFOLLOW` relative to its parent, so a planted
//! link fails the operation with [`Error::Symlink`].
//!
//! The API is three functions, [`create_dir_all`], [`create_file`] and
//! [`check_writable`]. Directories are made
//! 0750 and files 0640, less the user's umask. Not here: which user owns what (the session
//! daemon says), reading or deleting files.

use rustix::fs::{AtFlags, Mode, OFlags};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

/// Mode of the directories created (before the umask).
pub const DIR_MODE: u32 = 0o750;
/// Mode of the files created (before the umask).
pub const FILE_MODE: u32 = 0o640;
/// Most path components below an owner's root.
pub const MAX_DEPTH: usize = 64;
/// Most supplementary groups taken over from a user.
pub const MAX_GROUPS: usize = 65_536;

/// A user's filesystem credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
}

impl Creds {
    /// The credentials of process `pid`, from `/proc/PID/status` (`Uid`, `Gid`, `Groups`
    /// and `Umask`, the effective ids).
    pub fn of_pid(pid: u32) -> io::Result<Creds> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Option<Vec<u32>> {
            let line = text.lines().find_map(|l| l.strip_prefix(name))?;
            Some(
                line.split_whitespace()
                    .take(MAX_GROUPS)
                    .filter_map(|v| v.parse().ok())
                    .collect(),
            )
        };
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc status");
        let uid = *field("Uid:").ok_or_else(bad)?.get(1).ok_or_else(bad)?;
        let gid = *field("Gid:").ok_or_else(bad)?.get(1).ok_or_else(bad)?;
        let groups = field("Groups:").unwrap_or_default();
        let umask = text
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            .unwrap_or(0o022);
        Ok(Creds {
            uid,
            gid,
            groups,
            umask: umask & 0o777,
        })
    }
}

/// Who owns the files below `root` (a session's output directory). `creds: None`: the
/// calling process's own credentials (a user's own daemon, or root's sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub root: PathBuf,
    pub creds: Option<Creds>,
}

/// Why a file operation was refused.
#[derive(Debug)]
pub enum Error {
    /// The path is not below the owner's root (or climbs out with `..`).
    Outside { path: PathBuf, root: PathBuf },
    /// A component below the root is a symbolic link.
    Symlink { path: PathBuf },
    /// More than [`MAX_DEPTH`] components below the root.
    TooDeep { path: PathBuf },
    /// The system refused (permissions, no space, ...).
    Io { path: PathBuf, source: io::Error },
    /// The thread holding the user's credentials could not be set up.
    Credentials(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Outside { path, root } => write!(
                f,
                "{} is not inside the session's output directory {}",
                path.display(),
                root.display()
            ),
            Error::Symlink { path } => write!(
                f,
                "{} is a symbolic link; trace files are never written through one",
                path.display()
            ),
            Error::TooDeep { path } => {
                write!(f, "{} is more than {MAX_DEPTH} levels deep", path.display())
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Credentials(e) => write!(f, "cannot take on the user's credentials: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Creates directory `path` and its missing parents for `owner`.
pub fn create_dir_all(owner: &Owner, path: &Path) -> Result<(), Error> {
    let rel = relative(owner, path)?;
    as_owner(owner, || walk(&owner.root, &rel).map(drop))
}

/// Opens file `path` for writing for `owner` (created if missing, truncated unless
/// `append`), creating its missing parent directories.
pub fn create_file(owner: &Owner, path: &Path, append: bool) -> Result<File, Error> {
    let rel = relative(owner, path)?;
    let (Some(name), Some(parent)) = (rel.file_name(), rel.parent()) else {
        return Err(Error::Outside {
            path: path.to_path_buf(),
            root: owner.root.clone(),
        });
    };
    let name = name.to_owned();
    let parent = parent.to_path_buf();
    as_owner(owner, move || {
        let dir = walk(&owner.root, &parent)?;
        let flags = OFlags::WRONLY
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | if append {
                OFlags::APPEND
            } else {
                OFlags::TRUNC
            };
        let fd = rustix::fs::openat(
            &dir,
            name.as_os_str(),
            flags,
            Mode::from_raw_mode(FILE_MODE),
        )
        .map_err(|e| os_error(path, e))?;
        Ok(File::from(fd))
    })
}

/// Creates `owner.root` (with its parents) if needed and proves that `owner` can create
/// and write a file in it: a probe file is created there (never through a link), written
/// and removed. For checking a session's output before tracing starts. The probe is not
/// synced: file systems report a full disk at the write (block reservation), and a sync
/// would make the check wait on the disk.
pub fn check_writable(owner: &Owner) -> Result<(), Error> {
    let name = format!(".rttng-write-check-{}", std::process::id());
    let path = owner.root.join(&name);
    as_owner(owner, || {
        let dir = walk(&owner.root, Path::new(""))?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, name.as_str(), flags, Mode::from_raw_mode(FILE_MODE))
            .map_err(|e| os_error(&path, e))?;
        let mut f = File::from(fd);
        let written = std::io::Write::write_all(&mut f, b"rttng");
        drop(f);
        let removed = rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty())
            .map_err(|e| os_error(&path, e));
        written.map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        removed
    })
}

/// `path` below `owner.root`, as plain components.
fn relative(owner: &Owner, path: &Path) -> Result<PathBuf, Error> {
    let outside = || Error::Outside {
        path: path.to_path_buf(),
        root: owner.root.clone(),
    };
    let rel = path.strip_prefix(&owner.root).map_err(|_| outside())?;
    if !owner.root.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(outside());
    }
    if rel.components().count() > MAX_DEPTH {
        return Err(Error::TooDeep {
            path: path.to_path_buf(),
        });
    }
    Ok(rel.to_path_buf())
}

/// The error of a system call on `path`, with symlinks named as such.
fn os_error(path: &Path, e: rustix::io::Errno) -> Error {
    if e == rustix::io::Errno::LOOP {
        Error::Symlink {
            path: path.to_path_buf(),
        }
    } else {
        Error::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }
    }
}

/// Opens (creating as needed) `root` and then each component of `rel` below it, never
/// following a symbolic link below `root`; returns the last directory.
fn walk(root: &Path, rel: &Path) -> Result<OwnedFd, Error> {
    // The root and its parents are created with the caller's (the user's) credentials;
    // links above the root are the user's own business, as for any of their files.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(root)
        .map_err(|source| Error::Io {
            path: root.to_path_buf(),
            source,
        })?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir: OwnedFd =
        rustix::fs::open(root, flags, Mode::empty()).map_err(|e| os_error(root, e))?;
    let mut at = root.to_path_buf();
    for comp in rel.components() {
        at.push(comp);
        let name = comp.as_os_str();
        match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(DIR_MODE)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(os_error(&at, e)),
        }
        dir = match rustix::fs::openat(&dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) => {
                // O_NOFOLLOW with O_DIRECTORY on a link gives ELOOP or ENOTDIR.
                let link = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
                return Err(if link || e == rustix::io::Errno::LOOP {
                    Error::Symlink { path: at }
                } else {
                    Error::Io {
                        path: at,
                        source: e.into(),
                    }
                });
            }
        };
    }
    Ok(dir)
}

/// Runs `f` with `owner`'s filesystem credentials: on a thread of its own that takes them
/// on (they die with it), or inline when the owner is the calling process.
fn as_owner<T: Send>(
    owner: &Owner,
    f: impl FnOnce() -> Result<T, Error> + Send,
) -> Result<T, Error> {
    let Some(creds) = &owner.creds else {
        return f();
    };
    std::thread::scope(|s| {
        s.spawn(move || {
            become_user(creds).map_err(Error::Credentials)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::Credentials(io::Error::other(
                "the file operation panicked",
            )))
        })
    })
}

/// Gives the calling thread (only) the user's filesystem credentials and umask.
fn become_user(c: &Creds) -> io::Result<()> {
    // SAFETY: CLONE_FS only (not CLONE_FILES, whose descriptor-table split is what makes
    // unshare unsafe): this thread gets its own umask and cwd; no memory is involved.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }?;
    // This thread's private fs struct, after the unshare.
    rustix::process::umask(Mode::from_raw_mode(c.umask & 0o777));
    let groups: Vec<rustix::process::Gid> = c
        .groups
        .iter()
        .take(MAX_GROUPS)
        .map(|&g| rustix::process::Gid::from_raw(g))
        .collect();
    // The system call for this thread only (glibc's setgroups changes every thread).
    rustix::thread::set_thread_groups(&groups)?;
    // SAFETY: setfsgid/setfsuid take plain ids and change this thread only; they return
    // the previous id, so a second call tells whether the first took effect.
    unsafe {
        libc::syscall(libc::SYS_setfsgid, c.gid);
        libc::syscall(libc::SYS_setfsuid, c.uid);
    }
    // SAFETY: as above; -1 (invalid) changes nothing and returns the current id.
    let (fsuid, fsgid) = unsafe {
        (
            libc::syscall(libc::SYS_setfsuid, u32::MAX),
            libc::syscall(libc::SYS_setfsgid, u32::MAX),
        )
    };
    if fsuid != libc::c_long::from(c.uid) || fsgid != libc::c_long::from(c.gid) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "setfsuid({}) / setfsgid({}) did not take effect",
                c.uid, c.gid
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rttng-runas-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn creates_below_the_root_and_refuses_links_and_escapes() {
        let root = tmp("links");
        let owner = Owner {
            root: root.clone(),
            creds: None,
        };
        let f = create_file(&owner, &root.join("ust/uid/0/64-bit/metadata"), true).unwrap();
        drop(f);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("ust/uid"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777 & !0o750, 0, "{mode:o}");
        // A planted link, as a directory and as the file itself.
        let target = tmp("target");
        std::fs::create_dir_all(&target).unwrap();
        std::os::unix::fs::symlink(&target, root.join("kernel")).unwrap();
        let e = create_file(&owner, &root.join("kernel/metadata"), true).unwrap_err();
        assert!(matches!(e, Error::Symlink { .. }), "{e}");
        std::os::unix::fs::symlink(target.join("f"), root.join("ust/metadata")).unwrap();
        let e = create_file(&owner, &root.join("ust/metadata"), false).unwrap_err();
        assert!(matches!(e, Error::Symlink { .. }), "{e}");
        assert!(!target.join("f").exists() && !target.join("metadata").exists());
        let e = create_file(&owner, &root.join("../x"), false).unwrap_err();
        assert!(matches!(e, Error::Outside { .. }), "{e}");
        let e = create_dir_all(&owner, Path::new("/etc/x")).unwrap_err();
        assert!(matches!(e, Error::Outside { .. }), "{e}");
        let _ = std::fs::remove_dir_all(&root);
        let _ = std::fs::remove_dir_all(&target);
    }

    #[test]
    fn creds_of_this_process() {
        let c = Creds::of_pid(std::process::id()).unwrap();
        assert_eq!(c.uid, rustix::process::geteuid().as_raw());
    }
}
