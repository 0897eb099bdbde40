//! Prepares a parsed trace model for decoding, the way babeltrace2 does after reading metadata:
//! maps unmapped `timestamp` fields to the trace's clock, assigns decoder roles to integers by
//! name and scope (`ctf-meta-update-meanings.c`), and finds each stream class's default clock.
//!
//! It deliberately does not resolve field references: the TSDL resolver has done that.

use crate::ir::{ClockClass, FieldClass, IntRole, IntegerClass, Metadata, StreamClass};

/// Why a model cannot be prepared for decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrepareError {
    /// A `timestamp` field maps to no clock, and the trace declares several clocks.
    AmbiguousClock {
        field: &'static str,
        stream_class_id: u64,
    },
    /// An integer maps to a clock the metadata does not declare.
    UnknownClock { name: String },
    /// The scopes of one stream class map to two different clocks.
    SeveralClocks { stream_class_id: u64 },
}

impl std::fmt::Display for PrepareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrepareError::AmbiguousClock { field, stream_class_id } => write!(
                f,
                "cannot map field `{field}` of stream class {stream_class_id} to a clock: the trace has several clock classes"
            ),
            PrepareError::UnknownClock { name } => write!(f, "field mapped to undeclared clock `{name}`"),
            PrepareError::SeveralClocks { stream_class_id } => {
                write!(f, "stream class {stream_class_id} maps fields to more than one clock")
            }
        }
    }
}

impl std::error::Error for PrepareError {}

/// Name of the clock babeltrace2 creates when a trace stamps its events but declares no clock.
pub const IMPLICIT_CLOCK_NAME: &str = "default";

/// Makes `md` ready for [`crate::decode`]. Idempotent.
pub fn prepare(md: &mut Metadata) -> Result<(), PrepareError> {
    auto_map_timestamps(md)?;
    if let Some(h) = md.trace.packet_header.as_mut() {
        assign_by_name(
            h,
            &[
                ("magic", IntRole::PacketMagic),
                ("stream_id", IntRole::StreamClassId),
                ("stream_instance_id", IntRole::StreamInstanceId),
            ],
        );
        assign_mapped(h);
    }
    for sc in &mut md.streams {
        if let Some(pc) = sc.packet_context.as_mut() {
            assign_by_name(
                pc,
                &[
                    ("timestamp_begin", IntRole::PacketBeginTimestamp),
                    ("timestamp_end", IntRole::PacketEndTimestamp),
                    ("content_size", IntRole::PacketContentSize),
                    ("packet_size", IntRole::PacketTotalSize),
                    ("events_discarded", IntRole::DiscardedEventCounter),
                    ("packet_seq_num", IntRole::PacketSequenceNumber),
                ],
            );
            assign_mapped(pc);
        }
        if let Some(eh) = sc.event_header.as_mut() {
            assign_by_name(eh, &[("id", IntRole::EventClassId)]);
            assign_mapped(eh);
        }
        if let Some(c) = sc.event_context.as_mut() {
            assign_mapped(c);
        }
        for ev in &mut sc.events {
            if let Some(c) = ev.context.as_mut() {
                assign_mapped(c);
            }
            if let Some(c) = ev.fields.as_mut() {
                assign_mapped(c);
            }
        }
    }
    for sc in &md.streams {
        check_clocks(md, sc)?;
    }
    // Store each struct's effective alignment so the decoder reads it instead of recomputing.
    if let Some(h) = md.trace.packet_header.as_mut() {
        settle_struct_alignment(h);
    }
    for sc in &mut md.streams {
        for fc in [
            &mut sc.packet_context,
            &mut sc.event_header,
            &mut sc.event_context,
        ]
        .into_iter()
        .flatten()
        {
            settle_struct_alignment(fc);
        }
        for ev in &mut sc.events {
            for fc in [&mut ev.context, &mut ev.fields].into_iter().flatten() {
                settle_struct_alignment(fc);
            }
        }
    }
    Ok(())
}

/// Sets every struct's `min_align_bits` to its effective alignment (the maximum of its own and
/// its members'), which does not change the layout it describes.
fn settle_struct_alignment(fc: &mut FieldClass) {
    match fc {
        FieldClass::Struct(s) => {
            s.members
                .iter_mut()
                .for_each(|m| settle_struct_alignment(&mut m.class));
            s.min_align_bits = s
                .members
                .iter()
                .map(|m| m.class.align_bits())
                .fold(s.min_align_bits, u32::max);
        }
        FieldClass::Variant(v) => v
            .options
            .iter_mut()
            .for_each(|o| settle_struct_alignment(&mut o.class)),
        FieldClass::Array(a) => settle_struct_alignment(&mut a.element),
        FieldClass::Sequence(s) => settle_struct_alignment(&mut s.element),
        FieldClass::Integer(_)
        | FieldClass::Enum(_)
        | FieldClass::Float(_)
        | FieldClass::String(_) => {}
    }
}

/// The clock of a stream class's timestamps: the clock its mapped integers refer to.
pub fn stream_default_clock<'m>(md: &'m Metadata, sc: &StreamClass) -> Option<&'m ClockClass> {
    let mut found = None;
    for_each_scope(sc, &mut |fc| {
        if found.is_none() {
            found = first_mapped_clock(fc).map(str::to_owned);
        }
    });
    found.and_then(|name| md.clock(&name))
}

fn check_clocks(md: &Metadata, sc: &StreamClass) -> Result<(), PrepareError> {
    let mut names: Vec<String> = Vec::new();
    for_each_scope(sc, &mut |fc| collect_mapped_clocks(fc, &mut names));
    for n in &names {
        if md.clock(n).is_none() {
            return Err(PrepareError::UnknownClock { name: n.clone() });
        }
    }
    names.dedup();
    if names.iter().any(|n| n != &names[0]) {
        return Err(PrepareError::SeveralClocks {
            stream_class_id: sc.id,
        });
    }
    Ok(())
}

fn for_each_scope(sc: &StreamClass, f: &mut dyn FnMut(&FieldClass)) {
    for fc in [&sc.packet_context, &sc.event_header, &sc.event_context]
        .into_iter()
        .flatten()
    {
        f(fc);
    }
    for ev in &sc.events {
        for fc in [&ev.context, &ev.fields].into_iter().flatten() {
            f(fc);
        }
    }
}

fn first_mapped_clock(fc: &FieldClass) -> Option<&str> {
    match fc {
        FieldClass::Integer(i) => i.mapped_clock.as_deref(),
        FieldClass::Enum(e) => e.container.mapped_clock.as_deref(),
        FieldClass::Struct(s) => s.members.iter().find_map(|m| first_mapped_clock(&m.class)),
        FieldClass::Variant(v) => v.options.iter().find_map(|o| first_mapped_clock(&o.class)),
        FieldClass::Array(a) => first_mapped_clock(&a.element),
        FieldClass::Sequence(s) => first_mapped_clock(&s.element),
        FieldClass::Float(_) | FieldClass::String(_) => None,
    }
}

fn collect_mapped_clocks(fc: &FieldClass, out: &mut Vec<String>) {
    match fc {
        FieldClass::Integer(i) => out.extend(i.mapped_clock.clone()),
        FieldClass::Enum(e) => out.extend(e.container.mapped_clock.clone()),
        FieldClass::Struct(s) => s
            .members
            .iter()
            .for_each(|m| collect_mapped_clocks(&m.class, out)),
        FieldClass::Variant(v) => v
            .options
            .iter()
            .for_each(|o| collect_mapped_clocks(&o.class, out)),
        FieldClass::Array(a) => collect_mapped_clocks(&a.element, out),
        FieldClass::Sequence(s) => collect_mapped_clocks(&s.element, out),
        FieldClass::Float(_) | FieldClass::String(_) => {}
    }
}

/// babeltrace2 maps unmapped `timestamp_begin`/`timestamp_end` (packet context) and `timestamp`
/// (event header) integers to the trace's only clock, creating a 1 GHz clock when there is none.
fn auto_map_timestamps(md: &mut Metadata) -> Result<(), PrepareError> {
    let mut needs_clock = false;
    for sc in &md.streams {
        let pc_names: &[&str] = &["timestamp_begin", "timestamp_end"];
        if let Some(pc) = &sc.packet_context {
            needs_clock |= has_unmapped(pc, pc_names);
        }
        if let Some(eh) = &sc.event_header {
            needs_clock |= has_unmapped(eh, &["timestamp"]);
        }
    }
    if !needs_clock {
        return Ok(());
    }
    let clock_name = match md.clocks.len() {
        0 => {
            md.clocks.push(ClockClass {
                name: IMPLICIT_CLOCK_NAME.to_owned(),
                uuid: None,
                description: None,
                freq: 1_000_000_000,
                offset_s: 0,
                offset: 0,
                precision: 0,
                absolute: false,
            });
            IMPLICIT_CLOCK_NAME.to_owned()
        }
        1 => md.clocks[0].name.clone(),
        _ => {
            let sc = md.streams.iter().find(|sc| {
                sc.packet_context
                    .as_ref()
                    .is_some_and(|pc| has_unmapped(pc, &["timestamp_begin", "timestamp_end"]))
                    || sc
                        .event_header
                        .as_ref()
                        .is_some_and(|eh| has_unmapped(eh, &["timestamp"]))
            });
            return Err(PrepareError::AmbiguousClock {
                field: "timestamp",
                stream_class_id: sc.map_or(0, |s| s.id),
            });
        }
    };
    for sc in &mut md.streams {
        if let Some(pc) = sc.packet_context.as_mut() {
            map_unmapped(pc, &["timestamp_begin", "timestamp_end"], &clock_name);
        }
        if let Some(eh) = sc.event_header.as_mut() {
            map_unmapped(eh, &["timestamp"], &clock_name);
        }
    }
    Ok(())
}

/// Direct members of the root struct, and of structs/variants nested in it, named one of `names`.
fn visit_named_ints(fc: &mut FieldClass, names: &[&str], f: &mut dyn FnMut(&mut IntegerClass)) {
    match fc {
        FieldClass::Struct(s) => {
            for m in &mut s.members {
                let hit = names.contains(&m.name.as_str());
                match &mut m.class {
                    FieldClass::Integer(i) if hit => f(i),
                    FieldClass::Enum(e) if hit => f(&mut e.container),
                    other => visit_named_ints(other, names, f),
                }
            }
        }
        FieldClass::Variant(v) => {
            for o in &mut v.options {
                let hit = names.contains(&o.name.as_str());
                match &mut o.class {
                    FieldClass::Integer(i) if hit => f(i),
                    FieldClass::Enum(e) if hit => f(&mut e.container),
                    other => visit_named_ints(other, names, f),
                }
            }
        }
        _ => {}
    }
}

fn has_unmapped(fc: &FieldClass, names: &[&str]) -> bool {
    // The same walk as `visit_named_ints`, read-only.
    let members: Vec<(&str, &FieldClass)> = match fc {
        FieldClass::Struct(s) => s
            .members
            .iter()
            .map(|m| (m.name.as_str(), &m.class))
            .collect(),
        FieldClass::Variant(v) => v
            .options
            .iter()
            .map(|o| (o.name.as_str(), &o.class))
            .collect(),
        _ => return false,
    };
    members.into_iter().any(|(name, class)| match class {
        FieldClass::Integer(i) if names.contains(&name) => i.mapped_clock.is_none(),
        FieldClass::Enum(e) if names.contains(&name) => e.container.mapped_clock.is_none(),
        other => has_unmapped(other, names),
    })
}

fn map_unmapped(fc: &mut FieldClass, names: &[&str], clock: &str) {
    visit_named_ints(fc, names, &mut |i| {
        if i.mapped_clock.is_none() {
            i.mapped_clock = Some(clock.to_owned());
        }
    });
}

fn assign_by_name(fc: &mut FieldClass, table: &[(&str, IntRole)]) {
    for (name, role) in table {
        visit_named_ints(fc, &[name], &mut |i| i.role = Some(*role));
    }
}

/// Integers mapped to a clock and with no other role update the stream's clock value.
fn assign_mapped(fc: &mut FieldClass) {
    match fc {
        FieldClass::Integer(i) => {
            if i.mapped_clock.is_some() && i.role.is_none() {
                i.role = Some(IntRole::DefaultClockTimestamp);
            }
        }
        FieldClass::Enum(e) => {
            if e.container.mapped_clock.is_some() && e.container.role.is_none() {
                e.container.role = Some(IntRole::DefaultClockTimestamp);
            }
        }
        FieldClass::Struct(s) => s
            .members
            .iter_mut()
            .for_each(|m| assign_mapped(&mut m.class)),
        FieldClass::Variant(v) => v
            .options
            .iter_mut()
            .for_each(|o| assign_mapped(&mut o.class)),
        FieldClass::Array(a) => assign_mapped(&mut a.element),
        FieldClass::Sequence(s) => assign_mapped(&mut s.element),
        FieldClass::Float(_) | FieldClass::String(_) => {}
    }
}
