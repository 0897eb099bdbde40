//! The `sync` facade: `core::sync::atomic` normally, `loom`'s model-checked atomics under
//! `--cfg loom`. Every atomic the ring buffer touches goes through here; nothing else in
//! the crate names `std::sync::atomic` directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
