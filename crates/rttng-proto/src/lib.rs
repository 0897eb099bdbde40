//! The control protocol of rttng: the messages the `rttng` CLI (through `rttng-ctl`), the
//! instrumented applications and `rttng-consumerd` exchange with `rttng-sessiond`, their
//! versioned length-prefixed framing ([`frame`]), their bounded binary encoding ([`wire`]),
//! and the Unix-socket transport with file-descriptor passing and peer credentials
//! ([`sock`]), and where the daemons' sockets are ([`paths`]). Normative description: `docs/protocols/control.md`.
//!
//! Every decoder is bounded: a frame's payload is at most [`frame::MAX_PAYLOAD_BYTES`], every
//! list at most [`wire::MAX_ITEMS`] items, every string at most [`wire::MAX_STRING_BYTES`],
//! every field class at most [`wire::MAX_CLASS_DEPTH`] deep; bad input is an `Err`, never a
//! panic. This crate deliberately holds no session logic, no policy about who may do what
//! (the daemon checks credentials) and no retry logic.

#![deny(unsafe_code)]

pub mod agent;
pub mod frame;
pub mod msg;
pub mod paths;
pub mod sock;
pub mod wire;

pub use frame::{FrameError, FrameHeader, Kind};
pub use msg::*;
pub use wire::{DecodeError, Wire};
