//! The ftrace ring-buffer page parser: one page as `trace_pipe_raw` hands it out (a header with
//! the page timestamp and the commit word, then compressed event headers and records) becomes a
//! list of records with absolute timestamps, plus the count of events the kernel lost before it.
//!
//! Layout facts (kernel `ring_buffer.c`, libtraceevent `kbuffer-parse.c`), checked at run time
//! against `events/header_page` and `header_event`: an event header is one u32 with `type_len` in
//! the low 5 bits and `time_delta` in the high 27; `type_len` 1..=28 means a record of
//! `type_len * 4` bytes follows; 0 means the next u32 holds the length (including itself);
//! 29 is padding (delta 0: the rest of the page is empty), 30 a time extend and 31 an absolute
//! time stamp (each 8 bytes: delta/low bits in the header, high bits in the next u32). The
//! commit word's low 27 bits are the data length; bit 31 says events were lost before this
//! page, and bit 30 that their count is stored as a word right after the data.
//!
//! It does not interpret records; see `convert`.

use crate::format::PageLayout;

/// Commit word: the data length bits.
const COMMIT_SIZE_MASK: u64 = (1 << 27) - 1;
/// Commit word: events were lost before this page.
const MISSED_EVENTS: u64 = 1 << 31;
/// Commit word: the lost-event count follows the data.
const MISSED_STORED: u64 = 1 << 30;
const TYPE_PADDING: u32 = 29;
const TYPE_TIME_EXTEND: u32 = 30;
const TYPE_TIME_STAMP: u32 = 31;
/// Bits of an absolute time stamp that the event carries (the rest come from the page).
const ABS_TS_BITS: u32 = 59;

/// Why a page could not be parsed; `offset` is the byte offset in the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageError {
    pub offset: usize,
    pub reason: &'static str,
}

/// One record of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// Absolute timestamp in trace-clock units.
    pub timestamp: u64,
    /// The record bytes (starting with `common_type`), possibly with up to 3 bytes of padding.
    pub data: &'a [u8],
}

impl RawRecord<'_> {
    /// The event type id (`common_type`), if the record holds one.
    pub fn type_id(&self) -> Option<u16> {
        Some(u16::from_le_bytes([
            *self.data.first()?,
            *self.data.get(1)?,
        ]))
    }
}

/// What a page header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageInfo {
    pub timestamp: u64,
    /// Bytes of data (records and their headers) after the page header.
    pub data_len: usize,
    /// Events lost before this page: `Some(n)` when counted, `Some(0)` never; `None` if none
    /// lost. When the flag is set without a count, this is `Some(u64::MAX)`: unknown.
    pub missed: Option<u64>,
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// Read the page header.
pub fn page_info(layout: &PageLayout, page: &[u8]) -> Result<PageInfo, PageError> {
    let bad = |offset, reason| PageError { offset, reason };
    let timestamp = u64_at(page, layout.timestamp_offset as usize)
        .ok_or(bad(0, "page shorter than its header"))?;
    let co = layout.commit_offset as usize;
    let commit = if layout.commit_size == 8 {
        u64_at(page, co)
    } else {
        u32_at(page, co).map(u64::from)
    }
    .ok_or(bad(co, "page shorter than its header"))?;
    let data_len = (commit & COMMIT_SIZE_MASK) as usize;
    let data_start = layout.data_offset as usize;
    if data_len > layout.data_size as usize || data_start + data_len > page.len() {
        return Err(bad(co, "commit length beyond the page"));
    }
    let missed = if commit & MISSED_EVENTS == 0 {
        None
    } else if commit & MISSED_STORED != 0 {
        let at = data_start + data_len;
        let n = if layout.commit_size == 8 {
            u64_at(page, at)
        } else {
            u32_at(page, at).map(u64::from)
        };
        Some(n.unwrap_or(u64::MAX))
    } else {
        Some(u64::MAX)
    };
    Ok(PageInfo {
        timestamp,
        data_len,
        missed,
    })
}

/// Parse every record of `page`, calling `each` in order. Returns the page info.
pub fn parse_page<'a>(
    layout: &PageLayout,
    page: &'a [u8],
    mut each: impl FnMut(RawRecord<'a>),
) -> Result<PageInfo, PageError> {
    let info = page_info(layout, page)?;
    let start = layout.data_offset as usize;
    let end = start + info.data_len;
    let mut ts = info.timestamp;
    let mut pos = start;
    // Each step consumes at least 4 bytes, so the loop is bounded by the page length.
    while pos + 4 <= end {
        let bad = |reason| PageError {
            offset: pos,
            reason,
        };
        let word = u32_at(page, pos).ok_or(bad("truncated event header"))?;
        let type_len = word & 0x1f;
        let delta = u64::from(word >> 5);
        match type_len {
            TYPE_PADDING => {
                if delta == 0 {
                    break; // the rest of the page is empty
                }
                let len = u32_at(page, pos + 4).ok_or(bad("truncated padding"))? as usize;
                ts = ts.wrapping_add(delta);
                pos = pos
                    .checked_add(4 + len)
                    .ok_or(bad("padding length overflows"))?;
            }
            TYPE_TIME_EXTEND => {
                let hi = u64::from(u32_at(page, pos + 4).ok_or(bad("truncated time extend"))?);
                ts = ts.wrapping_add((hi << 27) | delta);
                pos += 8;
            }
            TYPE_TIME_STAMP => {
                let hi = u64::from(u32_at(page, pos + 4).ok_or(bad("truncated time stamp"))?);
                let abs = (hi << 27) | delta;
                let top = ts & !((1u64 << ABS_TS_BITS) - 1);
                ts = top | (abs & ((1u64 << ABS_TS_BITS) - 1));
                pos += 8;
            }
            0 => {
                let len = u32_at(page, pos + 4).ok_or(bad("truncated record length"))? as usize;
                if len < 4 {
                    return Err(bad("record length smaller than its length word"));
                }
                let data_start = pos + 8;
                let data_end = data_start + (len - 4);
                if data_end > end {
                    return Err(bad("record beyond the page data"));
                }
                ts = ts.wrapping_add(delta);
                each(RawRecord {
                    timestamp: ts,
                    data: &page[data_start..data_end],
                });
                pos = data_start + ((len - 4 + 3) & !3);
            }
            n => {
                let data_start = pos + 4;
                let data_end = data_start + 4 * n as usize;
                if data_end > end {
                    return Err(bad("record beyond the page data"));
                }
                ts = ts.wrapping_add(delta);
                each(RawRecord {
                    timestamp: ts,
                    data: &page[data_start..data_end],
                });
                pos = data_end;
            }
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> PageLayout {
        PageLayout {
            timestamp_offset: 0,
            commit_offset: 8,
            commit_size: 8,
            data_offset: 16,
            data_size: 4080,
        }
    }

    fn header(type_len: u32, delta: u32) -> [u8; 4] {
        (type_len | (delta << 5)).to_le_bytes()
    }

    fn page(ts: u64, commit_flags: u64, data: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 4096];
        p[0..8].copy_from_slice(&ts.to_le_bytes());
        p[8..16].copy_from_slice(&(data.len() as u64 | commit_flags).to_le_bytes());
        p[16..16 + data.len()].copy_from_slice(data);
        p
    }

    #[test]
    fn small_and_long_records_with_deltas_and_extends() {
        let mut d = Vec::new();
        d.extend_from_slice(&header(2, 10)); // 8-byte record at +10
        d.extend_from_slice(&[1, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd]);
        d.extend_from_slice(&header(30, 5)); // extend by (1 << 27) | 5
        d.extend_from_slice(&1u32.to_le_bytes());
        d.extend_from_slice(&header(0, 7)); // long record, 200 bytes of data
        d.extend_from_slice(&204u32.to_le_bytes());
        d.extend(std::iter::repeat_n(0x11u8, 200));
        d.extend_from_slice(&header(29, 3)); // discarded 12-byte event: padding with a delta
        d.extend_from_slice(&8u32.to_le_bytes());
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&header(1, 1));
        d.extend_from_slice(&[2, 0, 0, 0]);
        let p = page(1000, 0, &d);
        let mut got = Vec::new();
        let info = parse_page(&layout(), &p, |r| {
            got.push((r.timestamp, r.data.len(), r.type_id()))
        })
        .expect("parses");
        assert_eq!(info.missed, None);
        let t1 = 1010;
        let t2 = t1 + (1u64 << 27) + 5 + 7;
        assert_eq!(
            got,
            vec![
                (t1, 8, Some(1)),
                (t2, 200, Some(0x1111)),
                (t2 + 3 + 1, 4, Some(2))
            ]
        );
    }

    #[test]
    fn absolute_time_stamp_and_null_padding() {
        let mut d = Vec::new();
        d.extend_from_slice(&header(31, 0x123));
        d.extend_from_slice(&2u32.to_le_bytes());
        d.extend_from_slice(&header(1, 0));
        d.extend_from_slice(&[9, 0, 0, 0]);
        d.extend_from_slice(&header(29, 0)); // end of page
        d.extend_from_slice(&header(1, 0));
        d.extend_from_slice(&[8, 0, 0, 0]);
        let p = page(5, 0, &d);
        let mut got = Vec::new();
        parse_page(&layout(), &p, |r| got.push(r.timestamp)).expect("parses");
        assert_eq!(got, vec![(2u64 << 27) | 0x123]);
    }

    #[test]
    fn missed_events_flags() {
        let mut p = page(0, MISSED_EVENTS | MISSED_STORED, &[]);
        p[16..24].copy_from_slice(&42u64.to_le_bytes());
        assert_eq!(page_info(&layout(), &p).map(|i| i.missed), Ok(Some(42)));
        let p = page(0, MISSED_EVENTS, &[]);
        assert_eq!(
            page_info(&layout(), &p).map(|i| i.missed),
            Ok(Some(u64::MAX))
        );
    }

    #[test]
    fn damaged_pages_are_errors_not_panics() {
        let mut d = Vec::new();
        d.extend_from_slice(&header(0, 0));
        d.extend_from_slice(&5000u32.to_le_bytes());
        assert!(parse_page(&layout(), &page(0, 0, &d), |_| {}).is_err());
        let mut p = page(0, 0, &[]);
        p[8..16].copy_from_slice(&5000u64.to_le_bytes());
        assert!(parse_page(&layout(), &p, |_| {}).is_err());
        assert!(parse_page(&layout(), &[0u8; 10], |_| {}).is_err());
        // Every truncation of a valid page parses or fails cleanly.
        let mut d = Vec::new();
        d.extend_from_slice(&header(2, 10));
        d.extend_from_slice(&[1; 8]);
        let p = page(0, 0, &d);
        for n in 0..40 {
            let _ = parse_page(&layout(), &p[..n], |_| {});
        }
    }
}
