//! The ANSI sequences babeltrace2 2.0.4's `sink.text.pretty` emits when colors are on
//! (`pretty_print_init` in `print.c`, `bt_common_color_*` in `common.h`; observed with
//! `BABELTRACE_TERM_COLOR=always babeltrace2 --color=always`). Deciding whether colors are on
//! is the caller's job.

pub const RESET: &[u8] = b"\x1b[0m";
pub const BOLD: &[u8] = b"\x1b[1m";
/// Scope and header names (`timestamp`, `stream.packet.context`, …).
pub const NAME: &[u8] = BOLD;
/// Field names inside scopes.
pub const FIELD_NAME: &[u8] = b"\x1b[36m";
pub const STRING_VALUE: &[u8] = BOLD;
pub const NUMBER_VALUE: &[u8] = BOLD;
pub const ENUM_LABEL: &[u8] = BOLD;
/// Bold, then 2.0.4's "bright red" (bold red).
pub const UNKNOWN: &[u8] = b"\x1b[1m\x1b[1m\x1b[31m";
/// Bold, then 2.0.4's "bright magenta" (bold magenta).
pub const EVENT_NAME: &[u8] = b"\x1b[1m\x1b[1m\x1b[35m";
/// Bold, then 2.0.4's "bright yellow" (bold yellow).
pub const TIMESTAMP: &[u8] = b"\x1b[1m\x1b[1m\x1b[33m";
/// The `WARNING` word of discarded-items messages, then the rest of the message.
pub const WARNING: &[u8] = b"\x1b[1m\x1b[33m";
pub const YELLOW: &[u8] = b"\x1b[33m";
