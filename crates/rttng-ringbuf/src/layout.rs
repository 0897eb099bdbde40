//! Channel geometry: the user-facing [`Config`], and [`Geometry`], the validated layout
//! both sides compute from it. The producer never trusts layout fields read from shared
//! memory: it recomputes them from the geometry fields and requires equality.

use crate::error::{ConfigError, MapError};
use rttng_abi::{
    ChannelHeader, CpuHeader, ABI_MAJOR, ABI_MINOR, CACHE_LINE_BYTES, DATA_ALIGN_BYTES,
    MAX_CPU_COUNT, MAX_SHM_BYTES, MAX_SUBBUF_BYTES, MAX_SUBBUF_COUNT, MIN_SUBBUF_BYTES,
    MIN_SUBBUF_COUNT, MODE_DISCARD, MODE_OVERWRITE, SHM_MAGIC,
};
use std::mem::size_of;

/// What happens when a CPU's sub-buffers are all written and not yet consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Never overwrite: the new event is dropped and counted in `events_discarded`.
    Discard,
    /// Flight recorder: the oldest sub-buffer is overwritten.
    Overwrite,
}

/// Parameters of one channel (one shared memory, one buffer per CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Number of per-CPU buffers.
    pub cpu_count: u32,
    /// Sub-buffers per CPU (power of two, at least 2).
    pub subbuf_count: u32,
    /// Bytes per sub-buffer = packet size (power of two, at least 256).
    pub subbuf_bytes: u32,
    /// Discard or overwrite.
    pub mode: Mode,
    /// CTF stream class id written in every packet header.
    pub stream_id: u32,
    /// Trace UUID written in every packet header.
    pub uuid: [u8; 16],
}

/// The validated layout of a channel's shared memory. All sizes in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub cpu_count: u32,
    pub subbuf_count: u64,
    pub subbuf_bytes: u64,
    /// log2(subbuf_bytes).
    pub subbuf_shift: u32,
    /// log2(subbuf_count).
    pub count_shift: u32,
    pub mode: Mode,
    pub stream_id: u32,
    pub uuid: [u8; 16],
    pub cpu_headers_offset: u64,
    pub cpu_header_stride: u64,
    pub data_offset: u64,
    pub data_stride: u64,
    pub total_bytes: u64,
}

fn round_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align) * align
}

impl Geometry {
    pub(crate) fn new(config: &Config) -> Result<Self, ConfigError> {
        let sb = config.subbuf_bytes;
        if !sb.is_power_of_two() || !(MIN_SUBBUF_BYTES..=MAX_SUBBUF_BYTES).contains(&sb) {
            return Err(ConfigError::SubbufBytes { value: sb });
        }
        let sc = config.subbuf_count;
        if !sc.is_power_of_two() || !(MIN_SUBBUF_COUNT..=MAX_SUBBUF_COUNT).contains(&sc) {
            return Err(ConfigError::SubbufCount { value: sc });
        }
        let cpus = config.cpu_count;
        if cpus == 0 || cpus > MAX_CPU_COUNT {
            return Err(ConfigError::CpuCount { value: cpus });
        }
        let cpu_headers_offset = round_up(size_of::<ChannelHeader>() as u64, CACHE_LINE_BYTES);
        let cpu_header_stride = round_up(
            size_of::<CpuHeader>() as u64 + 8 * u64::from(sc),
            CACHE_LINE_BYTES,
        );
        // Bounded by the limits above: 4096 * (128 + 8 * 65536) fits easily in u64.
        let data_offset = round_up(
            cpu_headers_offset + u64::from(cpus) * cpu_header_stride,
            DATA_ALIGN_BYTES,
        );
        let data_stride = u64::from(sc) * u64::from(sb);
        let total_bytes = data_offset + u64::from(cpus) * data_stride;
        if total_bytes > MAX_SHM_BYTES {
            return Err(ConfigError::TooLarge { total_bytes });
        }
        Ok(Self {
            cpu_count: cpus,
            subbuf_count: u64::from(sc),
            subbuf_bytes: u64::from(sb),
            subbuf_shift: sb.trailing_zeros(),
            count_shift: sc.trailing_zeros(),
            mode: config.mode,
            stream_id: config.stream_id,
            uuid: config.uuid,
            cpu_headers_offset,
            cpu_header_stride,
            data_offset,
            data_stride,
            total_bytes,
        })
    }

    /// The header the creator writes at offset 0.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn channel_header(&self) -> ChannelHeader {
        ChannelHeader {
            magic: SHM_MAGIC,
            abi_major: ABI_MAJOR,
            abi_minor: ABI_MINOR,
            header_bytes: size_of::<ChannelHeader>() as u32,
            cpu_count: self.cpu_count,
            subbuf_count: self.subbuf_count as u32,
            subbuf_bytes: self.subbuf_bytes as u32,
            mode: match self.mode {
                Mode::Discard => MODE_DISCARD,
                Mode::Overwrite => MODE_OVERWRITE,
            },
            stream_id: self.stream_id,
            uuid: self.uuid,
            cpu_headers_offset: self.cpu_headers_offset,
            cpu_header_stride_bytes: self.cpu_header_stride,
            data_offset: self.data_offset,
            data_stride_bytes: self.data_stride,
            total_bytes: self.total_bytes,
            wakeup_seq: 0,
            consumer_waiters: 0,
            reserved: [0; 4],
        }
    }

    /// Validates a header read from shared memory of `shm_bytes` bytes.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn from_header(h: &ChannelHeader, shm_bytes: u64) -> Result<Self, MapError> {
        if h.magic != SHM_MAGIC {
            return Err(MapError::BadMagic { found: h.magic });
        }
        if h.abi_major != ABI_MAJOR {
            return Err(MapError::AbiMajor { found: h.abi_major });
        }
        let mode = match h.mode {
            MODE_DISCARD => Mode::Discard,
            MODE_OVERWRITE => Mode::Overwrite,
            other => {
                return Err(MapError::Layout {
                    field: "mode",
                    found: u64::from(other),
                    expected: u64::from(MODE_DISCARD),
                })
            }
        };
        let geo = Self::new(&Config {
            cpu_count: h.cpu_count,
            subbuf_count: h.subbuf_count,
            subbuf_bytes: h.subbuf_bytes,
            mode,
            stream_id: h.stream_id,
            uuid: h.uuid,
        })?;
        let checks = [
            (
                "header_bytes",
                u64::from(h.header_bytes),
                size_of::<ChannelHeader>() as u64,
            ),
            (
                "cpu_headers_offset",
                h.cpu_headers_offset,
                geo.cpu_headers_offset,
            ),
            (
                "cpu_header_stride_bytes",
                h.cpu_header_stride_bytes,
                geo.cpu_header_stride,
            ),
            ("data_offset", h.data_offset, geo.data_offset),
            ("data_stride_bytes", h.data_stride_bytes, geo.data_stride),
            ("total_bytes", h.total_bytes, geo.total_bytes),
        ];
        for (field, found, expected) in checks {
            if found != expected {
                return Err(MapError::Layout {
                    field,
                    found,
                    expected,
                });
            }
        }
        if shm_bytes < geo.total_bytes {
            return Err(MapError::TooSmall {
                shm_bytes,
                needed_bytes: geo.total_bytes,
            });
        }
        Ok(geo)
    }

    /// Packet sequence number -> slot index.
    #[inline]
    pub(crate) fn slot_of(&self, packet_seq: u64) -> usize {
        (packet_seq & (self.subbuf_count - 1)) as usize
    }

    /// Packet sequence number -> lap (as stored in the commit word).
    #[inline]
    pub(crate) fn lap_of(&self, packet_seq: u64) -> u64 {
        (packet_seq >> self.count_shift) & rttng_abi::commit_word::LAP_MASK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            cpu_count: 2,
            subbuf_count: 4,
            subbuf_bytes: 4096,
            mode: Mode::Discard,
            stream_id: 0,
            uuid: [7; 16],
        }
    }

    #[test]
    fn layout_is_page_aligned_and_header_round_trips() {
        let geo = Geometry::new(&config()).unwrap();
        assert_eq!(geo.cpu_headers_offset, 128);
        assert_eq!(geo.cpu_header_stride, 128 + 64);
        assert_eq!(geo.data_offset, 4096);
        assert_eq!(geo.total_bytes, 4096 + 2 * 4 * 4096);
        let back = Geometry::from_header(&geo.channel_header(), geo.total_bytes).unwrap();
        assert_eq!(back, geo);
    }

    #[test]
    fn bad_geometry_is_rejected() {
        let mut c = config();
        c.subbuf_bytes = 3000;
        assert_eq!(
            Geometry::new(&c),
            Err(ConfigError::SubbufBytes { value: 3000 })
        );
        let mut c = config();
        c.subbuf_count = 1;
        assert_eq!(
            Geometry::new(&c),
            Err(ConfigError::SubbufCount { value: 1 })
        );
        let mut c = config();
        c.cpu_count = 0;
        assert_eq!(Geometry::new(&c), Err(ConfigError::CpuCount { value: 0 }));
    }

    #[test]
    fn tampered_header_is_rejected() {
        let geo = Geometry::new(&config()).unwrap();
        let mut h = geo.channel_header();
        h.data_offset += 8;
        assert!(matches!(
            Geometry::from_header(&h, geo.total_bytes),
            Err(MapError::Layout {
                field: "data_offset",
                ..
            })
        ));
        let h = geo.channel_header();
        assert!(matches!(
            Geometry::from_header(&h, geo.total_bytes - 1),
            Err(MapError::TooSmall { .. })
        ));
        let mut h = geo.channel_header();
        h.magic = 0;
        assert!(matches!(
            Geometry::from_header(&h, geo.total_bytes),
            Err(MapError::BadMagic { found: 0 })
        ));
    }
}
