//! The event line printer: babeltrace2 2.0.4's `pretty_print_event` (`print.c`) for one
//! [`EventView`], appended to a caller's buffer.
//!
//! The hot path allocates nothing once the per-event-class cache is warm: header bytes and field
//! name prefixes are precomputed ([`crate::compile`]), numbers are formatted by hand, and the
//! `HH:MM:SS.` prefix is cached per second. It writes nothing anywhere but the buffer it is given.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rttng_ctf::event::{EventView, Val};
use rttng_ctf::ir::DisplayBase;

use crate::color;
use crate::compile::{push_name, CompiledEvent, IntFmt, Kind, Node};
use crate::fmt::{
    push_binary, push_escaped, push_g, push_hex_upper, push_i64, push_nanos, push_octal, push_u64,
    push_u64_padded,
};
use crate::options::PrettyOptions;
use crate::time::SecondCache;

const NS_PER_S: i64 = 1_000_000_000;

/// What babeltrace2 writes to stderr (once) when a timestamp is negative and not printed in
/// seconds.
pub const NEGATIVE_TIME_WARNING: &str =
    "[warning] Fallback to [sec.ns] to print negative time value. Use --clock-seconds.\n";
/// What babeltrace2 writes to stderr when the C library cannot convert a time.
pub const LOCALTIME_WARNING: &str = "[warning] Unable to get localtime.\n";
/// Same as [`LOCALTIME_WARNING`], for `--clock-gmt`.
pub const GMTIME_WARNING: &str = "[warning] Unable to get gmtime.\n";

/// The value array did not match the field classes (a decoder bug): the line ends early.
#[derive(Debug)]
struct Mismatch;

type Walk = Result<(), Mismatch>;

/// A hasher for pointer keys: the address, mixed once.
#[derive(Default)]
struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, v: usize) {
        self.0 = (v as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_right(29);
    }
}

/// Wall-clock formatting state shared by event lines and discarded-items warnings.
#[derive(Debug)]
pub(crate) struct WallClock {
    seconds: SecondCache,
    negative_warning_done: bool,
    /// A warning babeltrace2 would have written to stderr, for the caller to print.
    pub(crate) pending_warning: Option<&'static str>,
}

impl WallClock {
    pub(crate) fn new(opts: &PrettyOptions) -> Self {
        if !opts.clock_gmt {
            crate::time::init_local_zone();
        }
        WallClock {
            seconds: SecondCache::new(opts.clock_gmt, opts.clock_date),
            negative_warning_done: false,
            pending_warning: None,
        }
    }

    /// `print_timestamp_wall`: `[YYYY-MM-DD ]HH:MM:SS.nnnnnnnnn` or `[-]S.nnnnnnnnn`.
    pub(crate) fn push(&mut self, opts: &PrettyOptions, ns: i64, out: &mut Vec<u8>) {
        // C division truncates toward zero; babeltrace2 then prints absolute values.
        let negative = ns < 0;
        let sec_abs = (ns / NS_PER_S).unsigned_abs();
        let ns_abs = (ns % NS_PER_S).unsigned_abs();
        if !opts.clock_seconds {
            if negative && !self.negative_warning_done {
                self.negative_warning_done = true;
                self.pending_warning = Some(NEGATIVE_TIME_WARNING);
            } else if let Some(prefix) = self.seconds.prefix(sec_abs) {
                // Like babeltrace2, later negative times print the time of their absolute value.
                out.extend_from_slice(prefix);
                push_nanos(out, ns_abs);
                return;
            } else {
                self.pending_warning = Some(if opts.clock_gmt {
                    GMTIME_WARNING
                } else {
                    LOCALTIME_WARNING
                });
            }
        }
        if negative {
            out.push(b'-');
        }
        push_u64(out, sec_abs);
        out.push(b'.');
        push_nanos(out, ns_abs);
    }
}

/// Prints events as `sink.text.pretty` does. Holds the previous timestamp (for the delta) and a
/// cache of per-event-class precomputed bytes.
pub struct PrettyPrinter {
    opts: PrettyOptions,
    last_cycles: Option<u64>,
    last_ns: Option<i64>,
    wall: WallClock,
    cache: HashMap<usize, CompiledEvent, BuildHasherDefault<PtrHasher>>,
}

impl std::fmt::Debug for PrettyPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrettyPrinter")
            .field("opts", &self.opts)
            .field("cached_event_classes", &self.cache.len())
            .finish()
    }
}

impl PrettyPrinter {
    pub fn new(opts: PrettyOptions) -> Self {
        PrettyPrinter {
            opts,
            last_cycles: None,
            last_ns: None,
            wall: WallClock::new(&opts),
            cache: HashMap::default(),
        }
    }

    pub fn options(&self) -> &PrettyOptions {
        &self.opts
    }

    /// Forget the per-event-class cache. Call it when a `Metadata` the printer has seen is
    /// dropped or replaced (e.g. a live metadata update): the cache is keyed by address.
    pub fn clear_cache(&mut self) {
        self.cache.clear();
    }

    /// A warning babeltrace2 would have written to stderr while printing the last events
    /// (negative timestamp, failed time conversion), to be written by the caller.
    pub fn take_warning(&mut self) -> Option<&'static str> {
        self.wall.pending_warning.take()
    }

    /// Appends one line (with '\n') for this event, exactly as babeltrace2's `sink.text.pretty`
    /// prints it. `trace_name` is shown with `--fields trace`.
    pub fn write_event(&mut self, ev: &EventView<'_>, trace_name: &str, out: &mut Vec<u8>) {
        let opts = self.opts;
        let names = opts.names.header;
        let color = opts.color;

        // Timestamp and delta.
        if let Some(clock) = &ev.clock {
            if names {
                push_name(out, b"timestamp", color::NAME, color);
            } else {
                out.push(b'[');
            }
            if color {
                out.extend_from_slice(color::TIMESTAMP);
            }
            if opts.clock_cycles {
                push_u64_padded(out, clock.cycles, 20);
            } else {
                self.wall.push(&opts, clock.ns_from_origin, out);
            }
            if color {
                out.extend_from_slice(color::RESET);
            }
            if !names {
                out.extend_from_slice(b"] ");
            }
            if !opts.no_delta {
                if names {
                    out.extend_from_slice(b", ");
                    push_name(out, b"delta", color::NAME, color);
                } else {
                    out.push(b'(');
                }
                if opts.clock_cycles {
                    match self.last_cycles {
                        Some(last) => {
                            out.push(b'+');
                            push_u64_padded(out, clock.cycles.wrapping_sub(last), 12);
                        }
                        None => out.extend_from_slice(b"+????????????"),
                    }
                } else {
                    match self.last_ns {
                        Some(last) => {
                            // babeltrace2 keeps the difference in a uint64_t.
                            let delta = clock.ns_from_origin.wrapping_sub(last) as u64;
                            out.push(b'+');
                            push_u64(out, delta / NS_PER_S as u64);
                            out.push(b'.');
                            push_nanos(out, delta % NS_PER_S as u64);
                        }
                        None => out.extend_from_slice(b"+?.?????????"),
                    }
                }
                if !names {
                    out.extend_from_slice(b") ");
                }
            }
            if opts.clock_cycles {
                self.last_cycles = Some(clock.cycles);
            } else {
                self.last_ns = Some(clock.ns_from_origin);
            }
        }

        // Header and scopes, from the per-event-class cache.
        let key = ev.event_class as *const _ as usize;
        let has_clock = ev.clock.is_some();
        let valid = match self.cache.get(&key) {
            Some(c) => {
                c.event_id == ev.event_class.id
                    && std::ptr::eq(c.stream_class, ev.stream_class)
                    && std::ptr::eq(c.metadata, ev.metadata)
                    && c.has_clock == has_clock
                    && (!opts.fields.trace || *c.trace_name == *trace_name)
            }
            None => false,
        };
        if !valid {
            let compiled = CompiledEvent::new(&opts, ev, trace_name, has_clock);
            self.cache.insert(key, compiled);
        }
        let Some(compiled) = self.cache.get(&key) else {
            out.push(b'\n');
            return;
        };
        out.extend_from_slice(&compiled.header);

        let scopes = [
            ev.packet_context,
            ev.stream_event_context,
            ev.event_context,
            ev.payload,
        ];
        let mut first = true;
        for (scope, compiled_scope) in scopes.iter().zip(compiled.scopes.iter()) {
            let (Some(scope), Some(cs)) = (scope, compiled_scope) else {
                continue;
            };
            if !first {
                out.extend_from_slice(b", ");
            }
            first = false;
            out.extend_from_slice(&cs.label);
            let mut pos = 0;
            if print_node(&cs.node, scope.values, &mut pos, ev.bytes, color, out).is_err() {
                break;
            }
        }
        out.push(b'\n');
    }
}

/// The next value, or a mismatch.
#[inline]
fn next(vals: &[Val], pos: &mut usize) -> Result<Val, Mismatch> {
    let v = *vals.get(*pos).ok_or(Mismatch)?;
    *pos += 1;
    Ok(v)
}

/// An integer value as babeltrace2's union: the raw 64 bits.
#[inline]
fn int_bits(v: Val) -> Result<u64, Mismatch> {
    match v {
        Val::UInt(u) => Ok(u),
        Val::SInt(s) => Ok(s as u64),
        _ => Err(Mismatch),
    }
}

/// `print_integer` without colors.
#[inline]
fn push_int(out: &mut Vec<u8>, f: IntFmt, bits: u64) {
    let len = f.size_bits.clamp(1, 64);
    match f.base {
        DisplayBase::Decimal => {
            if f.signed {
                push_i64(out, bits as i64);
            } else {
                push_u64(out, bits);
            }
        }
        DisplayBase::Hexadecimal => {
            let mut v = bits;
            if len < 64 {
                let rounded = (len + 3) & !3;
                if rounded < 64 {
                    v &= (1u64 << rounded) - 1;
                }
            }
            out.extend_from_slice(b"0x");
            push_hex_upper(out, v);
        }
        DisplayBase::Octal => {
            let mut v = bits;
            if f.signed && len < 64 {
                let rounded = ((len - 1) / 3 + 1) * 3;
                if rounded < 64 {
                    v &= (1u64 << rounded) - 1;
                }
            }
            out.push(b'0');
            push_octal(out, v);
        }
        DisplayBase::Binary => {
            out.extend_from_slice(b"0b");
            push_binary(out, bits, len);
        }
    }
}

fn print_node(
    node: &Node,
    vals: &[Val],
    pos: &mut usize,
    bytes: &[u8],
    color: bool,
    out: &mut Vec<u8>,
) -> Walk {
    match &node.kind {
        Kind::Int(f) => {
            let bits = int_bits(next(vals, pos)?)?;
            if color {
                out.extend_from_slice(color::NUMBER_VALUE);
            }
            push_int(out, *f, bits);
            if color {
                out.extend_from_slice(color::RESET);
            }
        }
        Kind::Enum { int, mappings } => {
            let v = next(vals, pos)?;
            let bits = int_bits(v)?;
            let value: i128 = if int.signed {
                i128::from(bits as i64)
            } else {
                i128::from(bits)
            };
            out.extend_from_slice(b"( ");
            let mut count = 0;
            for m in mappings.iter() {
                if m.ranges.iter().any(|&(lo, hi)| lo <= value && value <= hi) {
                    if count > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.extend_from_slice(&m.text);
                    count += 1;
                }
            }
            if count == 0 {
                if color {
                    out.extend_from_slice(color::UNKNOWN);
                }
                out.extend_from_slice(b"<unknown>");
                if color {
                    out.extend_from_slice(color::RESET);
                }
            }
            out.extend_from_slice(b" : container = ");
            if color {
                out.extend_from_slice(color::NUMBER_VALUE);
            }
            push_int(out, *int, bits);
            if color {
                out.extend_from_slice(color::RESET);
            }
            out.extend_from_slice(b" )");
        }
        Kind::Float => {
            let Val::Float(f) = next(vals, pos)? else {
                return Err(Mismatch);
            };
            if color {
                out.extend_from_slice(color::NUMBER_VALUE);
            }
            push_g(out, f);
            if color {
                out.extend_from_slice(color::RESET);
            }
        }
        Kind::Str => {
            let Val::Str { start, end } = next(vals, pos)? else {
                return Err(Mismatch);
            };
            let s = bytes.get(start as usize..end as usize).ok_or(Mismatch)?;
            // A C string ends at its first NUL.
            let s = match s.iter().position(|&b| b == 0) {
                Some(nul) => &s[..nul],
                None => s,
            };
            if color {
                out.extend_from_slice(color::STRING_VALUE);
            }
            push_escaped(out, s);
            if color {
                out.extend_from_slice(color::RESET);
            }
        }
        Kind::List(elem) => {
            let Val::List(n) = next(vals, pos)? else {
                return Err(Mismatch);
            };
            // Each element takes at least one value: a count beyond the rest is a mismatch.
            if n as usize > vals.len() - *pos {
                return Err(Mismatch);
            }
            out.push(b'[');
            for i in 0..n {
                out.extend_from_slice(if i == 0 { b" " } else { b", " });
                if names_in_lists(node) {
                    out.push(b'[');
                    push_u64(out, u64::from(i));
                    out.extend_from_slice(b"] = ");
                }
                print_node(elem, vals, pos, bytes, color, out)?;
            }
            out.extend_from_slice(b" ]");
        }
        Kind::Struct(members) => {
            if next(vals, pos)? != Val::Struct {
                return Err(Mismatch);
            }
            out.push(b'{');
            for m in members.iter() {
                if m.node.shown {
                    out.extend_from_slice(&m.prefix);
                    print_node(&m.node, vals, pos, bytes, color, out)?;
                } else {
                    skip_node(&m.node, vals, pos)?;
                }
            }
            out.extend_from_slice(b" }");
        }
        Kind::Variant(options) => {
            let Val::Variant(i) = next(vals, pos)? else {
                return Err(Mismatch);
            };
            let opt = options.get(i as usize).ok_or(Mismatch)?;
            out.extend_from_slice(b"{ ");
            print_node(opt, vals, pos, bytes, color, out)?;
            out.extend_from_slice(b" }");
        }
    }
    Ok(())
}

/// Whether `[i] = ` is printed before array elements: the `names` flag of the enclosing scope,
/// recorded in the list node at compile time.
#[inline]
fn names_in_lists(node: &Node) -> bool {
    node.list_names
}

/// Consume the values of a field that is not shown.
fn skip_node(node: &Node, vals: &[Val], pos: &mut usize) -> Walk {
    match &node.kind {
        Kind::Int(_) | Kind::Enum { .. } | Kind::Float | Kind::Str => {
            next(vals, pos)?;
        }
        Kind::List(elem) => {
            let Val::List(n) = next(vals, pos)? else {
                return Err(Mismatch);
            };
            if n as usize > vals.len() - *pos {
                return Err(Mismatch);
            }
            for _ in 0..n {
                skip_node(elem, vals, pos)?;
            }
        }
        Kind::Struct(members) => {
            next(vals, pos)?;
            for m in members.iter() {
                skip_node(&m.node, vals, pos)?;
            }
        }
        Kind::Variant(options) => {
            let Val::Variant(i) = next(vals, pos)? else {
                return Err(Mismatch);
            };
            skip_node(options.get(i as usize).ok_or(Mismatch)?, vals, pos)?;
        }
    }
    Ok(())
}
