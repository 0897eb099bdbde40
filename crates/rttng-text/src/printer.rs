//! The event line printer: babeltrace2 2.0.4's `pretty_print_event` (`print.c`) for one
//! [`EventView`], appended to a caller's buffer.
//!
//! The hot path allocates nothing once the per-event-class cache is warm: header bytes and field
//! name prefixes are precomputed ([`crate::compile`]), numbers are formatted by hand, and the
//! `HH:MM:SS.` prefix is cached per second. It writes nothing anywhere but the buffer it is given.
//!
//! After the timestamp, a line is printed by running the event class's [`Program`]. When the
//! values do not match it (a decoder bug, or scopes present that were absent at compile time),
//! the partial output is dropped and the line is printed again by walking the field class tree,
//! which defines where such a line ends.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rttng_ctf::event::{EventView, Scope, Val};
use rttng_ctf::ir::DisplayBase;

use crate::color;
use crate::compile::Program;
use crate::compile::{
    push_name, scope_mask, Check, CompiledEvent, IntFmt, Kind, Mapping, Node, Op,
};
use crate::fmt::{
    push_binary, push_c_string, push_g, push_hex_upper, push_i64, push_nanos, push_octal, push_u64,
    push_u64_padded,
};
use crate::line::{Line, LINE_BUF_BYTES};
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
            rttng_clock::date::init_local_zone();
        }
        WallClock {
            seconds: SecondCache::new(opts.clock_gmt, opts.clock_date),
            negative_warning_done: false,
            pending_warning: None,
        }
    }

    /// [`WallClock::push`] to a [`Line`], quicker for a non-negative time printed as a time of
    /// day.
    #[inline]
    pub(crate) fn push_line(&mut self, opts: &PrettyOptions, ns: i64, line: &mut Line<'_>) {
        if !opts.clock_seconds && ns >= 0 {
            let ns = ns as u64;
            let sec = ns / NS_PER_S as u64;
            if let Some((prefix, len)) = self.seconds.fixed_prefix(sec) {
                line.put(prefix, len);
                line.nanos(ns % NS_PER_S as u64);
                return;
            }
        }
        self.push(opts, ns, line.vec());
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
            } else if self.seconds.push_prefix(sec_abs, out) {
                // Like babeltrace2, later negative times print the time of their absolute value.
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
    /// Compiled event classes, found through `index`.
    compiled: Vec<CompiledEvent>,
    /// Event class address → index in `compiled`.
    index: HashMap<usize, usize, BuildHasherDefault<PtrHasher>>,
    /// The last event class looked up (address, index in `compiled`): events of one class
    /// often come in runs.
    last: Option<(usize, usize)>,
    /// Off only in tests, to compare the program path with the tree path.
    use_programs: bool,
    /// Staging buffer of [`Line`].
    scratch: Box<[u8]>,
}

impl std::fmt::Debug for PrettyPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrettyPrinter")
            .field("opts", &self.opts)
            .field("cached_event_classes", &self.compiled.len())
            .finish()
    }
}

impl PrettyPrinter {
    /// Sets the clock snapshot of the event printed just before the next one (whose delta is
    /// relative to it), for when consecutive events are printed by different printers.
    pub fn set_previous(&mut self, previous: Option<rttng_ctf::event::ClockSnapshot<'_>>) {
        self.last_cycles = previous.map(|c| c.cycles);
        self.last_ns = previous.map(|c| c.ns_from_origin);
    }

    pub fn new(opts: PrettyOptions) -> Self {
        PrettyPrinter {
            opts,
            last_cycles: None,
            last_ns: None,
            wall: WallClock::new(&opts),
            compiled: Vec::new(),
            index: HashMap::default(),
            last: None,
            use_programs: true,
            scratch: vec![0; LINE_BUF_BYTES].into(),
        }
    }

    pub fn options(&self) -> &PrettyOptions {
        &self.opts
    }

    /// Forget the per-event-class cache. Call it when a `Metadata` the printer has seen is
    /// dropped or replaced (e.g. a live metadata update): the cache is keyed by address.
    pub fn clear_cache(&mut self) {
        self.compiled.clear();
        self.index.clear();
        self.last = None;
    }

    /// The index in `compiled` of `ev`'s event class, compiling it when needed.
    #[inline]
    fn compiled_index(&mut self, ev: &EventView<'_>, trace_name: &str) -> usize {
        let key = ev.event_class as *const _ as usize;
        let found = match self.last {
            Some((k, i)) if k == key => Some(i),
            _ => self.index.get(&key).copied(),
        };
        let has_clock = ev.clock.is_some();
        let check_trace = self.opts.fields.trace;
        let valid = |c: &CompiledEvent| {
            c.event_id == ev.event_class.id
                && std::ptr::eq(c.stream_class, ev.stream_class)
                && std::ptr::eq(c.metadata, ev.metadata)
                && c.has_clock == has_clock
                && (!check_trace || *c.trace_name == *trace_name)
        };
        let i = match found {
            Some(i) if self.compiled.get(i).is_some_and(valid) => i,
            _ => {
                let c = CompiledEvent::new(&self.opts, ev, trace_name, has_clock);
                match found.filter(|&i| i < self.compiled.len()) {
                    Some(i) => {
                        self.compiled[i] = c;
                        i
                    }
                    None => {
                        self.compiled.push(c);
                        self.index.insert(key, self.compiled.len() - 1);
                        self.compiled.len() - 1
                    }
                }
            }
        };
        self.last = Some((key, i));
        i
    }

    /// A warning babeltrace2 would have written to stderr while printing the last events
    /// (negative timestamp, failed time conversion), to be written by the caller.
    pub fn take_warning(&mut self) -> Option<&'static str> {
        self.wall.pending_warning.take()
    }

    /// Appends one line (with '\n') for this event, exactly as babeltrace2's `sink.text.pretty`
    /// prints it. `trace_name` is shown with `--fields trace`.
    pub fn write_event(&mut self, ev: &EventView<'_>, trace_name: &str, out: &mut Vec<u8>) {
        let i = self.compiled_index(ev, trace_name);
        let opts = self.opts;
        let names = opts.names.header;
        let color = opts.color;
        let mut line = Line::new(out, &mut self.scratch);

        // Timestamp and delta.
        if let Some(clock) = &ev.clock {
            if names {
                push_name(line.vec(), b"timestamp", color::NAME, color);
            } else {
                line.byte(b'[');
            }
            if color {
                line.vec().extend_from_slice(color::TIMESTAMP);
            }
            if opts.clock_cycles {
                push_u64_padded(line.vec(), clock.cycles, 20);
            } else {
                self.wall.push_line(&opts, clock.ns_from_origin, &mut line);
            }
            if color {
                line.vec().extend_from_slice(color::RESET);
            }
            if !names {
                line.put(b"] ", 2);
            }
            if !opts.no_delta {
                if names {
                    line.put(b", ", 2);
                    push_name(line.vec(), b"delta", color::NAME, color);
                } else {
                    line.byte(b'(');
                }
                if opts.clock_cycles {
                    match self.last_cycles {
                        Some(last) => {
                            line.byte(b'+');
                            push_u64_padded(line.vec(), clock.cycles.wrapping_sub(last), 12);
                        }
                        None => line.put(b"+????????????", 13),
                    }
                } else {
                    match self.last_ns {
                        Some(last) => {
                            // babeltrace2 keeps the difference in a uint64_t.
                            let delta = clock.ns_from_origin.wrapping_sub(last) as u64;
                            line.byte(b'+');
                            line.u64(delta / NS_PER_S as u64);
                            line.byte(b'.');
                            line.nanos(delta % NS_PER_S as u64);
                        }
                        None => line.put(b"+?.?????????", 12),
                    }
                }
                if !names {
                    line.put(b") ", 2);
                }
            }
            if opts.clock_cycles {
                self.last_cycles = Some(clock.cycles);
            } else {
                self.last_ns = Some(clock.ns_from_origin);
            }
        }

        // Header and scopes, from the per-event-class cache.
        let Some(compiled) = self.compiled.get(i) else {
            line.byte(b'\n');
            line.finish();
            return;
        };
        let mark = line.written();
        if self.use_programs && compiled.program.scope_mask == scope_mask(ev) {
            if run_program(compiled, ev, color, &mut line).is_ok() {
                line.finish();
                return;
            }
            line.rewind(mark);
        }
        print_tree(compiled, ev, color, line.vec());
        line.finish();
    }
}

/// Print the line after the timestamp part from the compiled field class trees.
#[cold]
#[inline(never)]
fn print_tree(compiled: &CompiledEvent, ev: &EventView<'_>, color: bool, out: &mut Vec<u8>) {
    compiled.header.push(out);
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
        cs.label.push(out);
        let mut pos = 0;
        if print_node(&cs.node, scope.values, &mut pos, ev.bytes, color, out).is_err() {
            break;
        }
    }
    out.push(b'\n');
}

/// The value at `idx` of a scope.
#[inline(always)]
fn val_at(scopes: &[&[Val]; 4], scope: u8, idx: u32) -> Result<Val, Mismatch> {
    scopes
        .get(scope as usize)
        .and_then(|v| v.get(idx as usize))
        .copied()
        .ok_or(Mismatch)
}

/// Run `compiled.program` (whose scope mask matches `ev`'s): the line after the timestamp part.
#[inline]
fn run_program<'a>(
    compiled: &CompiledEvent,
    ev: &EventView<'a>,
    color: bool,
    line: &mut Line<'_>,
) -> Walk {
    let prog: &Program = &compiled.program;
    let vals = |s: Option<Scope<'a>>| s.map_or(&[][..], |s| s.values);
    let scopes: [&[Val]; 4] = [
        vals(ev.packet_context),
        vals(ev.stream_event_context),
        vals(ev.event_context),
        vals(ev.payload),
    ];
    for check in prog.checks.iter() {
        let ok = match *check {
            Check::Len { scope, len } => {
                scopes.get(scope as usize).map_or(0, |v| v.len()) >= len as usize
            }
            Check::Struct { scope, idx } => matches!(val_at(&scopes, scope, idx)?, Val::Struct),
            Check::Scope { scope, len } => {
                let vals = scopes.get(scope as usize).ok_or(Mismatch)?;
                vals.len() >= len as usize && matches!(vals.first(), Some(Val::Struct))
            }
        };
        if !ok {
            return Err(Mismatch);
        }
    }
    for step in prog.steps.iter() {
        line.padded(&prog.pool, step.lit_start as usize, step.lit_len as usize);
        match step.op {
            Op::Nothing => {}
            Op::Unsigned { scope, idx } => line.u64(int_bits(val_at(&scopes, scope, idx)?)?),
            Op::Signed { scope, idx } => line.i64(int_bits(val_at(&scopes, scope, idx)?)? as i64),
            Op::Int { scope, idx, fmt } => {
                push_int(line.vec(), fmt, int_bits(val_at(&scopes, scope, idx)?)?);
            }
            Op::Enum {
                scope,
                idx,
                enum_index,
            } => {
                let e = prog.enums.get(enum_index as usize).ok_or(Mismatch)?;
                let bits = int_bits(val_at(&scopes, scope, idx)?)?;
                push_enum(line.vec(), e.int, &e.mappings, bits, color);
            }
            Op::Float { scope, idx } => {
                let Val::Float(f) = val_at(&scopes, scope, idx)? else {
                    return Err(Mismatch);
                };
                push_g(line.vec(), f);
            }
            Op::Str { scope, idx } => {
                let Val::Str { start, end } = val_at(&scopes, scope, idx)? else {
                    return Err(Mismatch);
                };
                if start > end || end as usize > ev.bytes.len() {
                    return Err(Mismatch);
                }
                line.c_string(ev.bytes, start as usize, end as usize);
            }
            Op::Tree { scope } => {
                let node = compiled
                    .scopes
                    .get(scope as usize)
                    .and_then(|s| s.as_ref())
                    .ok_or(Mismatch)?;
                let mut pos = 0;
                let vals = scopes.get(scope as usize).ok_or(Mismatch)?;
                print_node(&node.node, vals, &mut pos, ev.bytes, color, line.vec())?;
            }
        }
    }
    Ok(())
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

/// An enumeration value: `( "LABEL", … : container = 42 )`.
fn push_enum(out: &mut Vec<u8>, int: IntFmt, mappings: &[Mapping], bits: u64, color: bool) {
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
    push_int(out, int, bits);
    if color {
        out.extend_from_slice(color::RESET);
    }
    out.extend_from_slice(b" )");
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
            let bits = int_bits(next(vals, pos)?)?;
            push_enum(out, *int, mappings, bits, color);
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
            if start > end || end as usize > bytes.len() {
                return Err(Mismatch);
            }
            if color {
                out.extend_from_slice(color::STRING_VALUE);
            }
            // A C string ends at its first NUL.
            push_c_string(out, bytes, start as usize, end as usize);
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
                    m.prefix.push(out);
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
    if let Some(n) = node.value_count {
        let end = pos.checked_add(n as usize).ok_or(Mismatch)?;
        if end > vals.len() {
            return Err(Mismatch);
        }
        *pos = end;
        return Ok(());
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rttng_ctf::event::{ClockSnapshot, Scope};
    use rttng_ctf::ir::*;

    fn int(size_bits: u32, signed: bool, base: DisplayBase) -> IntegerClass {
        IntegerClass {
            size_bits,
            align_bits: 8,
            signed,
            byte_order: ByteOrder::Little,
            base,
            encoding: Encoding::None,
            mapped_clock: None,
            role: None,
            store_slot: None,
        }
    }

    fn dec(size_bits: u32, signed: bool) -> FieldClass {
        FieldClass::Integer(int(size_bits, signed, DisplayBase::Decimal))
    }

    fn hidden(role: IntRole) -> FieldClass {
        FieldClass::Integer(IntegerClass {
            role: Some(role),
            ..int(64, false, DisplayBase::Decimal)
        })
    }

    fn st(members: Vec<(&str, FieldClass)>) -> FieldClass {
        FieldClass::Struct(StructClass {
            members: members
                .into_iter()
                .map(|(n, c)| StructMember {
                    name: n.into(),
                    class: c,
                })
                .collect(),
            min_align_bits: 8,
        })
    }

    fn string() -> FieldClass {
        FieldClass::String(StringClass {
            encoding: Encoding::Utf8,
        })
    }

    fn metadata() -> Metadata {
        let enum_class = FieldClass::Enum(EnumClass {
            container: int(8, true, DisplayBase::Decimal),
            mappings: vec![
                EnumMapping {
                    label: "ZERO".into(),
                    ranges: vec![(0, 0)],
                },
                EnumMapping {
                    label: "SMALL\"q".into(),
                    ranges: vec![(0, 9)],
                },
            ],
        });
        let sequence = FieldClass::Sequence(SequenceClass {
            element: Box::new(dec(16, false)),
            length_ref: "_len".into(),
            length_slot: 0,
        });
        let event = |id: u64, name: &str, fields: FieldClass| EventClass {
            id,
            name: name.into(),
            stream_id: 0,
            loglevel: None,
            model_emf_uri: None,
            context: Some(st(vec![
                ("_vtid", dec(32, true)),
                ("hidden_end", hidden(IntRole::PacketEndTimestamp)),
            ])),
            fields: Some(fields),
        };
        Metadata {
            trace: TraceClass {
                major: 1,
                minor: 8,
                uuid: None,
                byte_order: ByteOrder::Little,
                packet_header: None,
            },
            env: vec![("hostname".into(), EnvValue::Str("host".into()))],
            clocks: vec![ClockClass {
                name: "monotonic".into(),
                uuid: None,
                description: None,
                freq: 1_000_000_000,
                offset_s: 1_700_000_000,
                offset: 0,
                precision: 0,
                absolute: false,
            }],
            streams: vec![StreamClass {
                id: 0,
                packet_context: Some(st(vec![
                    ("timestamp_begin", hidden(IntRole::PacketBeginTimestamp)),
                    ("content_size", hidden(IntRole::PacketContentSize)),
                    ("cpu_id", dec(32, false)),
                    ("inner", st(vec![("a", hidden(IntRole::PacketTotalSize))])),
                ])),
                event_header: None,
                event_context: Some(st(vec![("_procname", string())])),
                events: vec![
                    event(
                        0,
                        "flat",
                        st(vec![
                            (
                                "_hex",
                                FieldClass::Integer(int(12, true, DisplayBase::Hexadecimal)),
                            ),
                            (
                                "_oct",
                                FieldClass::Integer(int(9, true, DisplayBase::Octal)),
                            ),
                            (
                                "_bin",
                                FieldClass::Integer(int(5, false, DisplayBase::Binary)),
                            ),
                            ("_e", enum_class),
                            (
                                "_f",
                                FieldClass::Float(FloatClass {
                                    exp_dig: 11,
                                    mant_dig: 53,
                                    align_bits: 8,
                                    byte_order: ByteOrder::Little,
                                }),
                            ),
                            (
                                "_nested",
                                st(vec![
                                    ("x", dec(64, true)),
                                    ("gone", hidden(IntRole::PacketSequenceNumber)),
                                ]),
                            ),
                            ("_empty", st(vec![])),
                            ("_s", string()),
                            ("_u", dec(64, false)),
                        ]),
                    ),
                    event(
                        1,
                        "with_sequence",
                        st(vec![
                            ("_before", dec(8, false)),
                            ("_seq", sequence),
                            ("_after", string()),
                        ]),
                    ),
                ],
            }],
            slot_count: 1,
        }
    }

    /// Correct values of each scope for event class `class` (packet context, stream event
    /// context, event context, payload).
    fn good_values(class: usize) -> [Vec<Val>; 4] {
        let payload = if class == 0 {
            vec![
                Val::Struct,
                Val::SInt(-3),
                Val::SInt(-1),
                Val::UInt(21),
                Val::SInt(5),
                Val::Float(-2.5e-7),
                Val::Struct,
                Val::SInt(i64::MIN),
                Val::UInt(7),
                Val::Struct,
                Val::Str { start: 0, end: 12 },
                Val::UInt(u64::MAX),
            ]
        } else {
            vec![
                Val::Struct,
                Val::UInt(200),
                Val::List(3),
                Val::UInt(1),
                Val::UInt(65535),
                Val::UInt(0),
                Val::Str { start: 13, end: 20 },
            ]
        };
        [
            vec![
                Val::Struct,
                Val::UInt(1_000),
                Val::UInt(4096),
                Val::UInt(3),
                Val::Struct,
                Val::UInt(8192),
            ],
            vec![Val::Struct, Val::Str { start: 13, end: 20 }],
            vec![Val::Struct, Val::SInt(1234), Val::UInt(99)],
            payload,
        ]
    }

    const BYTES: &[u8] = b"hi\tthere\0xyz\0my-app\0";

    /// The line of each printer for these values (`None` scope when `values[i]` is `None`).
    fn lines(
        md: &Metadata,
        class: usize,
        values: &[Option<Vec<Val>>; 4],
        opts: PrettyOptions,
    ) -> (String, String) {
        let sc = &md.streams[0];
        let ec = &sc.events[class];
        let classes = [
            sc.packet_context.as_ref(),
            sc.event_context.as_ref(),
            ec.context.as_ref(),
            ec.fields.as_ref(),
        ];
        let scope = |i: usize| {
            values[i].as_ref().map(|v| Scope {
                class: classes[i].unwrap(),
                values: v,
            })
        };
        let ev = EventView {
            metadata: md,
            stream_class: sc,
            event_class: ec,
            bytes: BYTES,
            clock: Some(ClockSnapshot {
                clock: &md.clocks[0],
                cycles: 5,
                ns_from_origin: 1_700_000_000_000_000_005,
            }),
            packet_context: scope(0),
            event_header: None,
            stream_event_context: scope(1),
            event_context: scope(2),
            payload: scope(3),
        };
        let mut out = [Vec::new(), Vec::new()];
        for (use_programs, out) in [true, false].into_iter().zip(out.iter_mut()) {
            let mut p = PrettyPrinter::new(opts);
            p.use_programs = use_programs;
            // Twice: once compiling, once from the cache.
            p.write_event(&ev, "trace", out);
            p.write_event(&ev, "trace", out);
        }
        let [a, b] = out.map(|o| String::from_utf8_lossy(&o).into_owned());
        (a, b)
    }

    fn option_sets() -> Vec<PrettyOptions> {
        let all = PrettyOptions {
            names: PrettyOptions::parse_names("all").unwrap(),
            fields: PrettyOptions::parse_fields("all").unwrap(),
            color: true,
            ..PrettyOptions::default()
        };
        let none = PrettyOptions {
            names: PrettyOptions::parse_names("none").unwrap(),
            ..PrettyOptions::default()
        };
        vec![PrettyOptions::default(), all, none]
    }

    #[test]
    fn program_matches_tree_walk_on_good_values() {
        let md = metadata();
        for opts in option_sets() {
            for class in 0..2 {
                let values = good_values(class).map(Some);
                let (program, tree) = lines(&md, class, &values, opts);
                assert_eq!(program, tree, "class {class}, {opts:?}");
            }
        }
        // Some known bytes, so that both paths printing nothing would fail.
        let (line, _) = lines(&md, 0, &good_values(0).map(Some), PrettyOptions::default());
        assert!(line.contains("{ cpu_id = 3 }, { procname = \"my-app\" }, { vtid = 1234 }, { hex = 0xFFD, oct = 0777, bin = 0b10101, e = ( \"SMALL\\\"q\" : container = 5 ), f = -2.5e-07, nested = { x = -9223372036854775808 }, empty = { }, s = \"hi\\tthere\", u = 18446744073709551615 }\n"), "{line}");
    }

    #[test]
    fn program_matches_tree_walk_on_bad_values() {
        let md = metadata();
        let replacements = [
            Val::Struct,
            Val::Float(1.0),
            Val::UInt(1),
            Val::List(1),
            Val::Variant(0),
            Val::Str { start: 3, end: 2 },
            Val::Str { start: 0, end: 100 },
        ];
        let mut checked = 0;
        for opts in option_sets() {
            for class in 0..2 {
                let good = good_values(class);
                for scope in 0..4 {
                    // Every truncation of the scope's values.
                    for len in 0..good[scope].len() {
                        let mut values = good.clone().map(Some);
                        values[scope] = Some(good[scope][..len].to_vec());
                        let (program, tree) = lines(&md, class, &values, opts);
                        assert_eq!(program, tree, "class {class} scope {scope} len {len}");
                        checked += 1;
                    }
                    // Every value replaced by one of another kind.
                    for i in 0..good[scope].len() {
                        for r in replacements {
                            let mut values = good.clone().map(Some);
                            values[scope].as_mut().unwrap()[i] = r;
                            let (program, tree) = lines(&md, class, &values, opts);
                            assert_eq!(
                                program, tree,
                                "class {class} scope {scope} value {i} {r:?}"
                            );
                            checked += 1;
                        }
                    }
                    // The scope missing.
                    let mut values = good.clone().map(Some);
                    values[scope] = None;
                    let (program, tree) = lines(&md, class, &values, opts);
                    assert_eq!(program, tree, "class {class} without scope {scope}");
                }
            }
        }
        assert!(checked > 500);
    }
}
