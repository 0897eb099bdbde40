//! String fields formatted only when their event records: a [`LazyText`] asks its
//! [`TextSource`] to format when the event path first wants its length (after the call site
//! and the rules said yes), into this thread's buffers, and writes from those buffers next.
//! A source has two texts (for example a log record's message and its key/value pairs), both
//! formatted at once when the first is asked for, so an event carries the first text's field
//! before the second's. Used by the `log` and `tracing` bridges. Not here: which events exist
//! or their levels (the bridges' own tracepoints).

use std::cell::RefCell;

use crate::{Field, Writer};

/// Longest text recorded, in bytes (longer ones are cut at a character boundary): a record
/// must fit a sub-buffer.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// `s` up to its first NUL and at most [`MAX_TEXT_BYTES`] (at a character boundary).
pub fn cut(s: &str) -> &str {
    let s = s.split('\0').next().unwrap_or("");
    if s.len() <= MAX_TEXT_BYTES {
        return s;
    }
    let mut end = MAX_TEXT_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Something with two texts, formatted only when needed.
pub trait TextSource {
    /// Writes the first and the second text into the (cleared) buffers.
    fn format(&self, first: &mut String, second: &mut String);
}

thread_local! {
    static BUFFERS: RefCell<(String, String)> = const { RefCell::new((String::new(), String::new())) };
}

/// A string field holding one of `S`'s two texts (see the module documentation). The event
/// must carry the `first` field before the `second` one.
pub struct LazyText<'a, S: ?Sized> {
    source: &'a S,
    second: bool,
}

impl<S: ?Sized> Clone for LazyText<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for LazyText<'_, S> {}

impl<S: ?Sized> std::fmt::Debug for LazyText<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyText")
            .field("second", &self.second)
            .finish()
    }
}

impl<'a, S: TextSource + ?Sized> LazyText<'a, S> {
    /// The field of `source`'s first text.
    pub fn first(source: &'a S) -> Self {
        LazyText {
            source,
            second: false,
        }
    }

    /// The field of `source`'s second text.
    pub fn second(source: &'a S) -> Self {
        LazyText {
            source,
            second: true,
        }
    }

    /// Runs `f` on this field's text in this thread's buffers (both formatted first when
    /// `fresh` and this is the first text), or on temporary ones when the buffers are busy
    /// (a `Display` that logs).
    fn with<R>(&self, fresh: bool, mut f: impl FnMut(&str) -> R) -> R {
        let done = BUFFERS.try_with(|b| {
            let mut g = b.try_borrow_mut().ok()?;
            let (first, second) = &mut *g;
            if fresh && !self.second {
                first.clear();
                second.clear();
                self.source.format(first, second);
            }
            Some(f(cut(if self.second { second } else { first })))
        });
        match done {
            Ok(Some(r)) => r,
            _ => {
                let (mut first, mut second) = (String::new(), String::new());
                self.source.format(&mut first, &mut second);
                f(cut(if self.second { &second } else { &first }))
            }
        }
    }
}

impl<S: TextSource + ?Sized> Field for LazyText<'_, S> {
    fn members(name: &str, out: &mut Vec<rttng_desc::StructMember>) {
        <&str as Field>::members(name, out);
    }
    fn encoded_len(&self) -> usize {
        self.with(true, |s| s.len() + 1)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        self.with(false, |s| {
            w.put(s.as_bytes());
            w.put_array([0u8]);
        });
    }
}
