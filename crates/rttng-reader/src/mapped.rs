//! Read-only memory maps of data stream files, with release of pages already read.
//!
//! This is the crate's only `unsafe`: mapping a file (another process could truncate it under
//! us, which would fault) and dropping pages behind the reader. Unlike ripgrep, which makes
//! its caller opt in to that assumption through an `unsafe fn`, this module takes it on
//! itself: the reader only maps CTF stream files, which tracers append to or replace whole,
//! never truncate in place.

use std::fs::File;
use std::path::Path;

pub struct MappedFile {
    map: Option<memmap2::Mmap>,
}

impl MappedFile {
    pub fn open(path: &Path) -> std::io::Result<MappedFile> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(MappedFile { map: None });
        }
        // SAFETY: the map is read-only and private to this process. A concurrent truncation of
        // the file by another process would make later reads fault; CTF producers never
        // truncate a stream file that a reader may be reading.
        let map = unsafe { memmap2::MmapOptions::new().map(&file)? };
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(MappedFile { map: Some(map) })
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Tells the kernel the pages of `0..upto` will not be read again, so resident memory stays
    /// flat however long the file is.
    pub fn release_before(&self, upto: usize) {
        const PAGE: usize = 4096;
        let Some(map) = &self.map else { return };
        let end = (upto / (PAGE * 16)) * (PAGE * 16);
        if end == 0 {
            return;
        }
        // SAFETY: MADV_DONTNEED on a private read-only file mapping only drops clean pages; a
        // later access re-reads them from the file, so no data changes. No reference into the
        // released range is alive: the caller only releases packets it has finished with.
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, end) };
    }
}
