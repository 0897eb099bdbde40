//! rttng-ust: the user-space tracer applications link.
//!
//! Instrumenting code reads like logging:
//!
//! ```
//! let (n, v, text) = (7u64, -3i64, "hello");
//! rttng_ust::tracepoint!(my_app, tick, INFO, seq: u64 = n, value: i64 = v, msg: &str = text);
//! ```
//!
//! `tracepoint!(PROVIDER, EVENT, LEVEL, NAME: TYPE = EXPR, ...)` declares the event
//! `PROVIDER:EVENT` with log level `LEVEL` (one of [`LogLevel`]'s 15 names) and typed
//! fields (up to 16; types: every integer width, `bool`, `char`, `f32`, `f64`, `&str`,
//! `[T; N]` arrays, `&[T]` slices as CTF sequences, enums declared with
//! [`trace_enum!`]). The event's metadata is a `static` built at compile time. The call
//! site tests "enabled?" with one relaxed load and a branch; the field expressions are
//! evaluated only when it is enabled, each exactly once, in order.
//!
//! When enabled, the event path reads the clock (`rttng-clock`) and the CPU, and for each
//! channel the event is enabled in (at most [`MAX_TARGETS`]): reserves on that CPU's
//! buffer, writes LTTng's large event header, the channel's context fields and the packed
//! payload, and commits. No allocation, no lock, no system call (after each thread's and
//! call site's first event), no panic; a full buffer is counted, never raised.
//!
//! Registration: every call site is known before `main` (linker section, see
//! [`control::events`]). Process init (fork handlers, clock selection, and the start of
//! the registration thread) runs on the first tracepoint call or on an explicit
//! [`init`]; the first call of each call site consults the enablement already installed
//! before returning, so events enabled before the app started are recorded from the very
//! first call.
//!
//! Registration with the session daemons is here too (`registration`: the thread that
//! connects, says hello, and applies the daemon's commands through `control`).
//!
//! Not here: the wire format (`rttng-proto`), enablement rules and metadata emission (the
//! session daemon), the consumer.

pub mod appctx;
mod callsite;
mod channel;
pub mod control;
pub mod dynamic;
mod field;
mod filter;
mod level;
mod reclaim;
mod registration;
mod sys;
pub mod text;

pub use callsite::MAX_TARGETS;
pub use channel::MAX_CHANNELS;
pub use field::{
    enum_members, Field, Fields, FilterValue, ScalarField, Writer, MAX_SEQUENCE_ELEMENTS,
};
pub use level::LogLevel;
pub use registration::{hold_startup, StartupHold};

use std::sync::atomic::{AtomicU8, Ordering};

/// Macro support; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::callsite::{here, Callsite, CallsiteRef, EventMeta, FieldMeta};
}

const INIT_NOT_STARTED: u8 = 0;
const INIT_RUNNING: u8 = 1;
const INIT_DONE: u8 = 2;
static INIT: AtomicU8 = AtomicU8::new(INIT_NOT_STARTED);

/// Bounded wait, in yields, for another thread's process init to finish.
const MAX_INIT_WAIT_YIELDS: u32 = 100_000;

/// Process init: clock and CPU method, fork handlers and the registration thread's start. Runs once (again
/// in a fork child); tracepoints call it on their first call; apps may call it early
/// (like LTTng's constructor) so that registration starts before `main`'s first event.
pub fn init() {
    match INIT.compare_exchange(
        INIT_NOT_STARTED,
        INIT_RUNNING,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => {
            sys::init();
            control::install_fork_handlers();
            start_registration();
            INIT.store(INIT_DONE, Ordering::Release);
        }
        Err(_) => {
            // Another thread is initialising: wait (bounded) so that our first event sees
            // the enablement it installs.
            for _ in 0..MAX_INIT_WAIT_YIELDS {
                if INIT.load(Ordering::Acquire) == INIT_DONE {
                    break;
                }
                std::thread::yield_now();
            }
        }
    }
}

/// Lets the next tracepoint re-run init (fork child). Async-signal-safe.
pub(crate) fn rearm_init() {
    INIT.store(INIT_NOT_STARTED, Ordering::Relaxed);
}

/// Hook for the registration thread (issue 4, `registration.rs`): starts it and waits, at
/// most the opt-in timeout, for the session daemons to install channels and enable
/// events. With no daemon it returns at once.
fn start_registration() {
    registration::start();
}

/// Declares a tracepoint and records it when enabled. See the crate documentation.
#[macro_export]
macro_rules! tracepoint {
    ($provider:ident, $event:ident, $level:ident $(, $field:ident : $ty:ty = $value:expr)* $(,)?) => {{
        static __RTTNG_META: $crate::__private::EventMeta = $crate::__private::EventMeta {
            name: ::core::concat!(::core::stringify!($provider), ":", ::core::stringify!($event)),
            loglevel: $crate::LogLevel::$level as i32,
            fields: &[$($crate::__private::FieldMeta {
                name: ::core::stringify!($field),
                members: <$ty as $crate::Field>::members,
            }),*],
            file: ::core::file!(),
            line: ::core::line!(),
        };
        static __RTTNG_CALLSITE: $crate::__private::Callsite =
            $crate::__private::Callsite::new(&__RTTNG_META);
        #[used]
        #[link_section = "rttng_callsites_v1"]
        static __RTTNG_CALLSITE_REF: $crate::__private::CallsiteRef =
            $crate::__private::CallsiteRef(&__RTTNG_CALLSITE);
        if __RTTNG_CALLSITE.is_on() {
            // Keeps the enabled path out of the caller's hot code, like LTTng's
            // `caa_unlikely`: a disabled call site is one load and a not-taken branch.
            ::core::hint::cold_path();
            if __RTTNG_CALLSITE.ready() {
                __RTTNG_CALLSITE.emit(
                    &($({ let __v: $ty = $value; __v },)*),
                    $crate::__private::here(),
                );
            }
        }
    }};
}

/// Declares a fieldless enum usable as a tracepoint field, recorded as a CTF enum with
/// its labels over the given integer container:
///
/// ```
/// rttng_ust::trace_enum! {
///     #[derive(Clone, Copy, Debug)]
///     pub enum Color: u8 { Red = 0, Green = 1, Blue = 7 }
/// }
/// rttng_ust::tracepoint!(my_app, paint, DEBUG, color: Color = Color::Blue);
/// ```
#[macro_export]
macro_rules! trace_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident : $repr:ident { $($label:ident = $value:expr),* $(,)? }) => {
        $(#[$m])*
        #[repr($repr)]
        $vis enum $name { $($label = $value),* }

        impl $crate::Field for $name {
            fn members(name: &str, out: &mut ::std::vec::Vec<$crate::__desc::StructMember>) {
                $crate::enum_members(
                    name,
                    <$repr as $crate::ScalarField>::class(),
                    &[$((::core::stringify!($label), $value as i128)),*],
                    out,
                );
            }
            #[inline(always)]
            fn encoded_len(&self) -> usize {
                ::core::mem::size_of::<$repr>()
            }
            #[inline(always)]
            fn encode(&self, w: &mut $crate::Writer<'_>) {
                w.put_array((*self as $repr).to_le_bytes());
            }
            #[inline(always)]
            fn filter_value(&self) -> $crate::FilterValue<'_> {
                $crate::FilterValue::Int(*self as $repr as i64)
            }
        }
    };
}

#[doc(hidden)]
pub use rttng_desc as __desc;
