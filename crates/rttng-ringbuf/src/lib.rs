//! The shared-memory per-CPU ring buffer of the user-space tracer (rttng-ust's core).
//!
//! A *channel* is one shared memory (a memfd the [`Consumer`] creates and passes to the
//! application) holding, per CPU, `subbuf_count` sub-buffers of `subbuf_bytes` bytes.
//! Every sub-buffer is a complete CTF packet (LTTng's 84-byte packet header + context,
//! then records, then zero padding), so the consumer writes packets to disk as they are.
//! Layout: crate `rttng-abi`; protocol: `docs/protocols/ring-buffer.md`.
//!
//! Application side ([`Producer`]): lock-free reservation by compare-and-swap on the
//! CPU's write position, commit by compare-and-swap on the sub-buffer's commit word,
//! packets opened and closed by the writers themselves. No allocation, no system call
//! and no panic on the event path; lost events are counted (`events_discarded`).
//! Consumer side ([`Consumer`]): get/release of complete packets, futex wakeup, flush,
//! recovery of the buffers of a producer killed at any instruction, and snapshots of live
//! overwrite-mode buffers (the flight recorder: [`Consumer::snapshot`]); [`disk`]: a packet
//! as written to a stream file (trimmed, with its index entry), for every such writer.
//!
//! Not here: tracepoints, registration, clocks and CPU numbers (the caller passes them),
//! CTF event encoding (records are opaque bytes), the session daemon and the consumer
//! process, fd passing.
//!
//! Tests: `cargo test -p rttng-ringbuf` (unit + `tests/it`: stress against a sequential
//! model, crash recovery with `kill -9`, and the ignored event-path benchmark
//! `cargo test -p rttng-ringbuf --release -- --ignored --nocapture bench`). Model checking:
//! `RUSTFLAGS="--cfg loom" cargo test -p rttng-ringbuf --release --test loom`.
//! AddressSanitizer: `RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" cargo test -p
//! rttng-ringbuf --target x86_64-unknown-linux-gnu`.

mod consumer;
#[cfg(not(loom))]
#[cfg(feature = "disk")]
pub mod disk;
mod error;
mod layout;
mod producer;
mod region;
#[cfg(not(loom))]
mod snapshot;
mod sync;
mod writer;

#[cfg(not(loom))]
pub use consumer::{preallocate, InPlacePacket};
pub use consumer::{Consumer, Packet, RecoveryReport, MAX_READ_RETRIES};
pub use error::{ConfigError, CorruptPacket, MapError, ReserveError};
pub use layout::{Config, Mode};
pub use producer::{Pending, Producer, Reservation};
#[cfg(not(loom))]
pub use snapshot::{SnapshotPacket, StreamSnapshot, MAX_COMMIT_WAIT};
pub use writer::FlushOutcome;
