//! Typed errors of the ring buffer. Event-path results ([`ReserveError`]) are small
//! `Copy` values with no allocation; set-up errors carry the offending value.

use std::fmt;

/// Why a [`crate::Config`] cannot describe a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// `subbuf_bytes` is not a power of two in `MIN_SUBBUF_BYTES..=MAX_SUBBUF_BYTES`.
    SubbufBytes { value: u32 },
    /// `subbuf_count` is not a power of two in `MIN_SUBBUF_COUNT..=MAX_SUBBUF_COUNT`.
    SubbufCount { value: u32 },
    /// `cpu_count` is 0 or above `MAX_CPU_COUNT`.
    CpuCount { value: u32 },
    /// The whole shared memory would exceed `MAX_SHM_BYTES`.
    TooLarge { total_bytes: u64 },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SubbufBytes { value } => {
                write!(
                    f,
                    "sub-buffer size {value} bytes is not an allowed power of two"
                )
            }
            Self::SubbufCount { value } => {
                write!(f, "sub-buffer count {value} is not an allowed power of two")
            }
            Self::CpuCount { value } => write!(f, "cpu count {value} is out of range"),
            Self::TooLarge { total_bytes } => {
                write!(f, "shared memory of {total_bytes} bytes is too large")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why the shared memory could not be created or mapped.
#[derive(Debug)]
pub enum MapError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// A system call failed.
    Io {
        op: &'static str,
        source: std::io::Error,
    },
    /// The shared memory is smaller than its header says it is.
    TooSmall { shm_bytes: u64, needed_bytes: u64 },
    /// The first four bytes are not `SHM_MAGIC`.
    BadMagic { found: u32 },
    /// The creator speaks another major ABI version.
    AbiMajor { found: u16 },
    /// A layout field disagrees with the layout computed from the geometry fields.
    Layout {
        field: &'static str,
        found: u64,
        expected: u64,
    },
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "invalid channel geometry: {e}"),
            Self::Io { op, source } => write!(f, "{op} failed: {source}"),
            Self::TooSmall {
                shm_bytes,
                needed_bytes,
            } => write!(
                f,
                "shared memory has {shm_bytes} bytes but its header needs {needed_bytes}"
            ),
            Self::BadMagic { found } => write!(f, "bad shared memory magic {found:#010x}"),
            Self::AbiMajor { found } => write!(
                f,
                "shared memory abi major version {found}, expected {}",
                rttng_abi::ABI_MAJOR
            ),
            Self::Layout {
                field,
                found,
                expected,
            } => write!(
                f,
                "shared memory header field {field} is {found}, expected {expected}"
            ),
        }
    }
}

impl std::error::Error for MapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ConfigError> for MapError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

/// Why an event was not recorded. Every variant has already been counted in the CPU's
/// cumulative `events_discarded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveError {
    /// Discard mode: every sub-buffer is waiting for the consumer.
    Full,
    /// The record (plus packet header) does not fit in one sub-buffer.
    TooBig,
    /// The next sub-buffer still has an uncommitted reservation from its previous use
    /// (overwrite mode; a writer is stalled or died there).
    SlotBusy,
    /// The compare-and-swap retry limit was hit (pathological contention or a
    /// corrupted shared header).
    Contended,
}

impl fmt::Display for ReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "ring buffer full",
            Self::TooBig => "record larger than a sub-buffer",
            Self::SlotBusy => "next sub-buffer still being written",
            Self::Contended => "reservation retry limit reached",
        })
    }
}

impl std::error::Error for ReserveError {}

/// A packet read from shared memory failed validation (the shared memory is outside
/// input for the consumer). The packet has been skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptPacket {
    /// CPU buffer.
    pub cpu: u32,
    /// Packet sequence number the consumer expected.
    pub packet_seq: u64,
    /// Name of the header field that is wrong.
    pub field: &'static str,
    /// Its value.
    pub found: u64,
}

impl fmt::Display for CorruptPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt packet {} of cpu {}: {} is {}",
            self.packet_seq, self.cpu, self.field, self.found
        )
    }
}

impl std::error::Error for CorruptPacket {}
