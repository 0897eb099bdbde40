//! A live view of a running kernel session's records, for a viewer that shows events as they
//! happen (`rttng trace`): each record of an enabled event with its thread, its names, its
//! integer and string fields by name, and the path arguments the eBPF recorder resolves. The
//! drain threads call the observer once per page. For counters that look at every record
//! (`rttng top`), [`LivePage::for_each`] walks a page's records with no allocation, and
//! [`LiveFieldRef`] reads a field at an offset resolved once, not by name per record.
//! Not here: the CTF trace written at stop (`session/write.rs`), how a viewer formats values.

use std::collections::HashMap;
use std::sync::Arc;

use crate::convert::{c_str, data_loc, plan_event, read_int, EventPlan, FieldOp};
use crate::format::{EventFormat, PageLayout};
use crate::page::parse_page;
use crate::syscall_args::{enter_key, path_arg_mask, MAX_ARGS};

/// What the live view knows of one enabled event.
#[derive(Debug)]
pub(crate) struct LiveEvent {
    format: Arc<EventFormat>,
    plan: EventPlan,
    path_mask: u8,
}

/// The enabled events of a session by ftrace type id, and the page layout to cut pages with.
#[derive(Debug)]
pub(crate) struct LiveTable {
    pub(crate) layout: PageLayout,
    /// Indexed by ftrace type id (ids are small and dense: a lookup per record, no hashing).
    events: Vec<Option<LiveEvent>>,
}

impl LiveTable {
    pub(crate) fn new(layout: PageLayout, formats: &HashMap<u16, Arc<EventFormat>>) -> LiveTable {
        let len = formats
            .keys()
            .map(|&id| usize::from(id) + 1)
            .max()
            .unwrap_or(0);
        let mut events: Vec<Option<LiveEvent>> = (0..len).map(|_| None).collect();
        for (&id, f) in formats {
            events[usize::from(id)] = Some(LiveEvent {
                format: f.clone(),
                plan: plan_event(f),
                path_mask: path_arg_mask(f),
            });
        }
        LiveTable { layout, events }
    }

    fn event(&self, id: u16) -> Option<&LiveEvent> {
        self.events.get(usize::from(id))?.as_ref()
    }

    /// One page, for [`LivePage::for_each`].
    pub(crate) fn page<'a>(&'a self, page: &'a [u8]) -> LivePage<'a> {
        LivePage { table: self, page }
    }

    /// The records of one ring-buffer page that belong to enabled events, in page order. A
    /// damaged page gives the records read before the damage.
    pub(crate) fn records<'a>(&'a self, page: &'a [u8]) -> Vec<LiveRecord<'a>> {
        let mut out = Vec::new();
        self.page(page).for_each(|r| out.push(r));
        out
    }
}

/// One ring-buffer page read while tracing, handed to a page handler
/// ([`crate::KernelSession::set_live_page_handler`]).
#[derive(Clone, Copy, Debug)]
pub struct LivePage<'a> {
    table: &'a LiveTable,
    page: &'a [u8],
}

impl<'a> LivePage<'a> {
    /// Calls `each` with the records of enabled events, in page order, allocating nothing. A
    /// damaged page gives the records read before the damage.
    pub fn for_each(&self, mut each: impl FnMut(LiveRecord<'a>)) {
        let table = self.table;
        let _ = parse_page(&table.layout, self.page, |r| {
            if let Some(event) = r.type_id().and_then(|id| table.event(id)) {
                each(LiveRecord {
                    timestamp: r.timestamp,
                    event,
                    data: r.data,
                });
            }
        });
    }
}

/// Where one field of one event lies in its records, resolved once by name
/// ([`crate::KernelSession::live_field`]) and read per record with [`LiveRecord::int_at`] or
/// [`LiveRecord::chars_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveFieldRef {
    offset: u32,
    size: u32,
    signed: bool,
}

impl LiveFieldRef {
    pub(crate) fn of(format: &EventFormat, name: &str) -> Option<LiveFieldRef> {
        let f = format.field(name)?;
        Some(LiveFieldRef {
            offset: f.offset,
            size: f.size,
            signed: f.signed,
        })
    }
}

/// One record of an enabled event, seen while tracing.
#[derive(Clone, Copy, Debug)]
pub struct LiveRecord<'a> {
    /// In the session's trace clock.
    pub timestamp: u64,
    event: &'a LiveEvent,
    data: &'a [u8],
}

/// One payload field of a [`LiveRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveField<'a> {
    /// lttng-modules' field name.
    pub name: &'a str,
    /// The value of an integer field; `None` for other kinds.
    pub value: Option<i128>,
    /// The kernel declares the field a pointer.
    pub pointer: bool,
}

impl<'a> LiveRecord<'a> {
    /// The ftrace type id of its event (see [`crate::KernelSession::live_events`]).
    pub fn type_id(&self) -> u16 {
        self.event.format.id
    }

    /// The value of an integer field of at most 8 bytes (little-endian, sign-extended when
    /// the kernel declares it signed); `None` when the record is too short or the field is not
    /// such an integer.
    pub fn int_at(&self, field: LiveFieldRef) -> Option<i64> {
        let start = field.offset as usize;
        let b = self.data.get(start..start + field.size as usize)?;
        Some(match (b.len(), field.signed) {
            (1, true) => i64::from(b[0] as i8),
            (1, false) => i64::from(b[0]),
            (2, true) => i64::from(i16::from_le_bytes(b.try_into().ok()?)),
            (2, false) => i64::from(u16::from_le_bytes(b.try_into().ok()?)),
            (4, true) => i64::from(i32::from_le_bytes(b.try_into().ok()?)),
            (4, false) => i64::from(u32::from_le_bytes(b.try_into().ok()?)),
            (8, _) => i64::from_le_bytes(b.try_into().ok()?),
            _ => return None,
        })
    }

    /// The bytes of a fixed-size character array field, up to its NUL (empty when the record
    /// is too short).
    pub fn chars_at(&self, field: LiveFieldRef) -> &'a [u8] {
        let start = field.offset as usize;
        c_str(
            self.data
                .get(start..start + field.size as usize)
                .unwrap_or(&[]),
        )
    }

    /// The thread that emitted it (`common_pid`).
    pub fn tid(&self) -> Option<i32> {
        Some(i32::from_le_bytes(self.data.get(4..8)?.try_into().ok()?))
    }

    /// lttng-modules' event name (`syscall_entry_openat`, `sched_process_exec`).
    pub fn name(&self) -> &'a str {
        &self.event.plan.ctf_name
    }

    /// The tracefs event name (`sys_enter_openat`, `sched_process_exec`).
    pub fn tracefs_name(&self) -> &'a str {
        &self.event.format.name
    }

    /// The payload fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = LiveField<'a>> + 'a {
        let data = self.data;
        let plan = &self.event.plan;
        plan.ops
            .iter()
            .zip(&plan.names)
            .zip(&plan.pointers)
            .map(move |((op, name), &pointer)| LiveField {
                name,
                value: int_value(op, data),
                pointer,
            })
    }

    /// The value of integer field `name`.
    pub fn int(&self, name: &str) -> Option<i128> {
        self.fields().find(|f| f.name == name)?.value
    }

    /// The bytes of string field `name` (tracefs's `__data_loc char[]`), up to its NUL.
    pub fn string(&self, name: &str) -> Option<&'a [u8]> {
        let f = self.event.format.field(name)?;
        Some(c_str(data_loc(self.data, f.offset, false)))
    }

    /// The bytes of fixed-size character array field `name` (tracefs's name and `char[N]`
    /// type, e.g. `sched_switch`'s `prev_comm`), up to its NUL.
    pub fn chars(&self, name: &str) -> Option<&'a [u8]> {
        let f = self.event.format.field(name)?;
        let start = f.offset as usize;
        Some(c_str(self.data.get(start..start + f.size as usize)?))
    }

    /// For a system call entry: its number and the `(argument index, pointer)` of each path
    /// argument, which the eBPF recorder's log resolves to strings.
    pub fn path_args(&self) -> (u32, Vec<(u8, u64)>) {
        let mut nr = 0;
        let mut out = Vec::new();
        for a in 0..MAX_ARGS as u8 {
            if self.event.path_mask & (1 << a) != 0 {
                if let Some((_, n, ptr)) = enter_key(self.data, a) {
                    nr = n;
                    out.push((a, ptr));
                }
            }
        }
        (nr, out)
    }
}

fn int_value(op: &FieldOp, data: &[u8]) -> Option<i128> {
    match *op {
        FieldOp::Int {
            offset,
            src_bytes,
            out_bits,
            signed,
            ..
        } => Some(read_int(data, offset, src_bytes, out_bits, signed)),
        _ => None,
    }
}
