//! The `.gnu_debuglink` section of an ELF file (the separate debug file's name and CRC),
//! which LTTng reads from each object's file for `has_debug_link` and the `debug_link`
//! events: the section is not loaded, so it is read from the file, with every offset and
//! size bounded by the file's length and the named limits.
//!
//! Not here: 32-bit or big-endian objects (the only objects in this process are this
//! machine's 64-bit native ones; others give `None`), build ids (read from the loaded
//! note segments, `statedump`).

use std::io::{Read, Seek, SeekFrom};

/// Most section headers looked at.
const MAX_SECTIONS: u64 = 65_535;
/// Largest section-name table read.
const MAX_SHSTRTAB_BYTES: u64 = 1 << 20;
/// Largest `.gnu_debuglink` section read (a file name, padding and a CRC).
const MAX_DEBUGLINK_BYTES: u64 = 4096 + 8;
/// Bytes of an ELF64 section header.
const SHDR_BYTES: u64 = 64;

fn read_at(f: &mut std::fs::File, at: u64, len: u64) -> Option<Vec<u8>> {
    f.seek(SeekFrom::Start(at)).ok()?;
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?).into())
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The debug file name and CRC in `path`'s `.gnu_debuglink` section, if it has one.
pub(crate) fn debug_link(path: &str) -> Option<(String, u32)> {
    let mut f = std::fs::File::open(path).ok()?;
    let size = f.metadata().ok()?.len();
    let ehdr = read_at(&mut f, 0, 64)?;
    // ELF magic, 64-bit, little-endian.
    if ehdr.get(0..4)? != b"\x7fELF" || ehdr[4] != 2 || ehdr[5] != 1 {
        return None;
    }
    let shoff = u64_at(&ehdr, 0x28)?;
    let shentsize = u16_at(&ehdr, 0x3a)?;
    let shnum = u16_at(&ehdr, 0x3c)?;
    let shstrndx = u16_at(&ehdr, 0x3e)?;
    if shentsize != SHDR_BYTES || shnum > MAX_SECTIONS || shstrndx >= shnum {
        return None;
    }
    let table_end = shoff.checked_add(shnum * SHDR_BYTES)?;
    if table_end > size {
        return None;
    }
    let shdrs = read_at(&mut f, shoff, shnum * SHDR_BYTES)?;
    let section = |i: u64| -> Option<(u32, u64, u64)> {
        let at = usize::try_from(i * SHDR_BYTES).ok()?;
        // sh_name, sh_offset, sh_size
        Some((
            u32_at(&shdrs, at)?,
            u64_at(&shdrs, at + 0x18)?,
            u64_at(&shdrs, at + 0x20)?,
        ))
    };
    let (_, str_off, str_size) = section(shstrndx)?;
    if str_size > MAX_SHSTRTAB_BYTES || str_off.checked_add(str_size)? > size {
        return None;
    }
    let names = read_at(&mut f, str_off, str_size)?;
    const WANTED: &[u8] = b".gnu_debuglink\0";
    for i in 0..shnum {
        let (name, off, len) = section(i)?;
        let name = usize::try_from(name).ok()?;
        if names.get(name..name.checked_add(WANTED.len())?) != Some(WANTED) {
            continue;
        }
        if len > MAX_DEBUGLINK_BYTES || off.checked_add(len)? > size {
            return None;
        }
        let data = read_at(&mut f, off, len)?;
        let nul = data.iter().position(|&b| b == 0)?;
        let crc_at = (nul + 1).checked_add(3)? & !3;
        let crc = u32_at(&data, crc_at)?;
        let file = std::str::from_utf8(&data[..nul]).ok()?.to_string();
        return Some((file, crc));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::debug_link;

    /// A minimal ELF64 little-endian file: header, a `.gnu_debuglink` section and the
    /// section-name table.
    fn elf_with_link(file: &str, crc: u32) -> Vec<u8> {
        let names = b"\0.shstrtab\0.gnu_debuglink\0".to_vec();
        let mut link = file.as_bytes().to_vec();
        link.push(0);
        while !link.len().is_multiple_of(4) {
            link.push(0);
        }
        link.extend_from_slice(&crc.to_le_bytes());
        let names_at = 64u64;
        let link_at = names_at + names.len() as u64;
        let shoff = (link_at + link.len() as u64).next_multiple_of(8);
        let mut b = vec![0u8; 64];
        b[0..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        b[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&names);
        b.extend_from_slice(&link);
        b.resize(shoff as usize, 0);
        let shdr = |name: u32, off: u64, size: u64| {
            let mut h = vec![0u8; 64];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&off.to_le_bytes());
            h[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            h
        };
        b.extend(shdr(0, 0, 0));
        b.extend(shdr(1, names_at, names.len() as u64));
        b.extend(shdr(11, link_at, link.len() as u64));
        b
    }

    #[test]
    fn reads_the_link_and_refuses_damaged_files() {
        let dir = std::env::temp_dir().join(format!("rttng-elf-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lib.so");
        let good = elf_with_link("lib.debug", 0xDEAD_BEEF);
        std::fs::write(&path, &good).unwrap();
        let p = path.to_str().unwrap();
        assert_eq!(debug_link(p), Some(("lib.debug".to_string(), 0xDEAD_BEEF)));
        // Every truncation, and absurd offsets and counts: None, never a panic.
        for cut in 0..good.len() {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert_eq!(debug_link(p), None, "cut at {cut}");
        }
        for (at, byte) in [(0x2f, 0x7f), (0x3d, 0xff), (0x3e, 9)] {
            let mut bad = good.clone();
            bad[at] = byte;
            std::fs::write(&path, &bad).unwrap();
            assert_eq!(debug_link(p), None, "byte {at:#x}");
        }
        assert_eq!(debug_link("/nonexistent/rttng"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
