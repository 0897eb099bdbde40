//! babeltrace2 2.0.4's `sink.text.pretty` output, byte for byte: one text line per event record
//! ([`PrettyPrinter::write_event`]) and the discarded events/packets warnings
//! ([`discarded_warning`]).
//!
//! This crate formats into a caller's `Vec<u8>` and does no other I/O: it does not decide
//! whether colors are on (the caller resolves `--color` and `NO_COLOR`), does not write the
//! stderr warnings itself ([`PrettyPrinter::take_warning`]), and does not decode packets.
//! Dates come from `rttng_clock::date` (local time through the C library).
#![forbid(unsafe_code)]

mod color;
mod compile;
mod discard;
pub mod fmt;
mod line;
mod options;
mod printer;
pub mod time;

pub use compile::MAX_CLASS_DEPTH;
pub use discard::{discarded_warning, DiscardKind};
pub use options::{FieldOptions, NameOptions, OptionError, PrettyOptions, MAX_LIST_BYTES};
pub use printer::{PrettyPrinter, GMTIME_WARNING, LOCALTIME_WARNING, NEGATIVE_TIME_WARNING};
