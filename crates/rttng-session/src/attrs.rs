//! Channel attributes and the limits on what a client or an app can make the session daemon
//! hold: lttng 2.13's default geometry and its rounding rules. Not here: the state that uses
//! them (see the crate root), protocol encoding (`rttng-proto`).

use crate::err;
use rttng_proto::{Buffers, ChannelAttrs, Domain, ErrorCode, ResolvedAttrs, Response};

/// Default sub-buffer sizes and counts (lttng 2.13's).
pub const UST_UID_SUBBUF_SIZE: u64 = 524_288;
pub const UST_PID_SUBBUF_SIZE: u64 = 16_384;
pub const DEFAULT_NUM_SUBBUF: u64 = 4;
/// lttng's smallest sub-buffer: one page.
pub const MIN_SUBBUF_SIZE: u64 = 4096;
/// The ring buffer's own bounds (`rttng_abi`), so a channel the daemon accepts can be created.
pub const MAX_SUBBUF_SIZE: u64 = rttng_abi::MAX_SUBBUF_BYTES as u64;
pub const MAX_NUM_SUBBUF: u64 = rttng_abi::MAX_SUBBUF_COUNT as u64;
pub const DEFAULT_CHANNEL: &str = "channel0";
/// Most application contexts (`$app.*`) plus other contexts on one channel (each is a
/// provider call per recorded event).
pub const MAX_CHANNEL_CONTEXTS: usize = 64;
/// Limits on what a client or an app can make us hold.
/// Most sessions of all users other than root (root's own are limited per uid only).
pub const MAX_SESSIONS: usize = 1024;
/// Most sessions of one user.
pub const MAX_SESSIONS_PER_UID: usize = 128;
pub const MAX_CHANNELS: usize = 256;
pub const MAX_RULES: usize = 4096;
pub const MAX_NAME_BYTES: usize = 255;
pub const MAX_APP_EVENTS: usize = 65_535;

/// Applies defaults and lttng's rounding rules to user channel attributes.
pub fn resolve_attrs(domain: Domain, a: &ChannelAttrs) -> Result<ResolvedAttrs, Response> {
    let buffers = match (domain, a.buffers) {
        (Domain::Kernel, None | Some(Buffers::Global)) => Buffers::Global,
        (Domain::Kernel, Some(_)) => {
            return Err(err(
                ErrorCode::InvalidArgument,
                "the kernel domain only has global buffers",
            ))
        }
        (Domain::Ust, Some(Buffers::Global)) => {
            return Err(err(
                ErrorCode::InvalidArgument,
                "user-space channels take --buffers-uid or --buffers-pid, not --buffers-global",
            ))
        }
        (Domain::Ust, b) => b.unwrap_or(Buffers::PerUid),
        // Agent domains have no channels of their own (their rules use user-space ones).
        (_, _) => {
            return Err(err(
                ErrorCode::InvalidArgument,
                "the agent domains (-j, -l, -p) have no channels",
            ))
        }
    };
    let default_size = match buffers {
        Buffers::PerPid => UST_PID_SUBBUF_SIZE,
        Buffers::PerUid => UST_UID_SUBBUF_SIZE,
        Buffers::Global => 1_048_576,
    };
    // Rounded up to a power of two first, as lttng does (3000 is 4096, not too small).
    let subbuf_size = a
        .subbuf_size
        .unwrap_or(default_size)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX);
    if subbuf_size < MIN_SUBBUF_SIZE {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!(
                "sub-buffer size {subbuf_size} is below the page size ({MIN_SUBBUF_SIZE} bytes)"
            ),
        ));
    }
    if subbuf_size > MAX_SUBBUF_SIZE {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("sub-buffer size {subbuf_size} exceeds {MAX_SUBBUF_SIZE} bytes"),
        ));
    }
    let num_subbuf = a.num_subbuf.unwrap_or(DEFAULT_NUM_SUBBUF);
    if num_subbuf == 0 || num_subbuf > MAX_NUM_SUBBUF {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("sub-buffer count must be 1 to {MAX_NUM_SUBBUF}"),
        ));
    }
    let tracefile_size = a.tracefile_size.unwrap_or(0);
    let tracefile_count = a.tracefile_count.unwrap_or(0);
    if tracefile_count != 0 && tracefile_size == 0 {
        return Err(err(
            ErrorCode::InvalidArgument,
            "--tracefile-count needs --tracefile-size",
        ));
    }
    if tracefile_size != 0 && tracefile_size < subbuf_size.next_power_of_two() {
        return Err(err(
            ErrorCode::InvalidArgument,
            "--tracefile-size must be at least the sub-buffer size",
        ));
    }
    Ok(ResolvedAttrs {
        subbuf_size: subbuf_size.next_power_of_two(),
        num_subbuf: num_subbuf.next_power_of_two().max(2),
        overwrite: a.overwrite.unwrap_or(false),
        switch_timer_us: a.switch_timer_us.unwrap_or(0),
        read_timer_us: a.read_timer_us.unwrap_or(0),
        buffers,
        tracefile_size,
        tracefile_count,
    })
}
