//! The relay's output directory: every directory and file is created and opened beneath it
//! (`openat2` with `RESOLVE_BENEATH`, `O_NOFOLLOW`, one component at a time), so that no name a
//! peer sends, and no symlink planted in the tree, makes the relay write elsewhere. Also the
//! file names lttng-relayd uses for data and index files. Names reach this module already
//! checked by `rttng_relay_proto::names`; this module is the second fence, not the first.

use crate::sys;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Mode of the directories the relay creates (before the umask), as lttng-relayd's.
const DIR_MODE: u32 = 0o770;
/// Mode of the files the relay creates (before the umask), as lttng-relayd's.
const FILE_MODE: u32 = 0o660;
/// The index directory inside a stream's directory.
pub const INDEX_DIR: &str = "index";

#[derive(Debug)]
pub struct Store {
    root: OwnedFd,
    root_path: PathBuf,
}

impl Store {
    /// Creates the output directory if needed and holds it open.
    pub fn open(path: &Path) -> io::Result<Store> {
        std::fs::create_dir_all(path)?;
        Ok(Store {
            root: sys::open_dir(path)?,
            root_path: path.to_path_buf(),
        })
    }

    pub fn root_path(&self) -> &Path {
        &self.root_path
    }

    /// `mkdir -p rel` beneath the root, one component at a time; returns the directory.
    pub fn make_dirs(&self, rel: &str) -> io::Result<OwnedFd> {
        make_dirs_in(&self.root, rel)
    }
}

/// `mkdir -p rel` beneath `dir`; returns the last directory.
pub fn make_dirs_in(dir: &OwnedFd, rel: &str) -> io::Result<OwnedFd> {
    let mut cur = sys::open_dir_beneath(dir, ".")?;
    for comp in rel.split('/').filter(|c| !c.is_empty()) {
        sys::mkdir_in(&cur, comp, DIR_MODE)?;
        cur = sys::open_dir_beneath(&cur, comp)?;
    }
    Ok(cur)
}

/// Creates (truncating) the file `name` in `dir`, for reading and writing. With `unlink_first`,
/// an existing file is unlinked before, so that a reader holding it keeps the old contents
/// (lttng-relayd does so when tracefiles wrap around).
pub fn create_file(dir: &OwnedFd, name: &str, unlink_first: bool) -> io::Result<File> {
    if unlink_first {
        sys::unlink_in(dir, name)?;
    }
    let fd = sys::open_beneath(
        dir,
        name,
        libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
        FILE_MODE,
    )?;
    Ok(sys::into_file(fd))
}

/// The data file of a stream: `CHANNEL`, or `CHANNEL_N` when tracefiles have a size limit.
pub fn data_file_name(channel: &str, tracefile_size_bytes: u64, file_index: u64) -> String {
    if tracefile_size_bytes > 0 {
        format!("{channel}_{file_index}")
    } else {
        channel.to_string()
    }
}

/// The index file of a data file, inside [`INDEX_DIR`].
pub fn index_file_name(data_file: &str) -> String {
    format!("{data_file}.idx")
}
