//! A live view of a running kernel session's records, for a viewer that shows events as they
//! happen (`rttng trace`): each record of an enabled event with its thread, its names, its
//! integer and string fields by name, and the path arguments the eBPF recorder resolves. The
//! drain threads call the observer once per page. Not here: the CTF trace written at stop
//! (`session/write.rs`), how a viewer formats values.

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
    pub(crate) events: HashMap<u16, LiveEvent>,
}

impl LiveTable {
    pub(crate) fn new(layout: PageLayout, formats: &HashMap<u16, Arc<EventFormat>>) -> LiveTable {
        let events = formats
            .iter()
            .map(|(id, f)| {
                let event = LiveEvent {
                    format: f.clone(),
                    plan: plan_event(f),
                    path_mask: path_arg_mask(f),
                };
                (*id, event)
            })
            .collect();
        LiveTable { layout, events }
    }

    /// The records of one ring-buffer page that belong to enabled events, in page order. A
    /// damaged page gives the records read before the damage.
    pub(crate) fn records<'a>(&'a self, page: &'a [u8]) -> Vec<LiveRecord<'a>> {
        let mut out = Vec::new();
        let _ = parse_page(&self.layout, page, |r| {
            if let Some(event) = r.type_id().and_then(|id| self.events.get(&id)) {
                out.push(LiveRecord {
                    timestamp: r.timestamp,
                    event,
                    data: r.data,
                });
            }
        });
        out
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
