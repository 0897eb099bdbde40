//! From ftrace records to CTF: event and field naming as lttng-modules spells it, the CTF field
//! classes for each event `format`, and the encoder that writes one record's payload (and the
//! stream event context) straight into a packet.
//!
//! Naming follows lttng-modules for the events analyses rely on: `syscalls:sys_enter_X` becomes
//! `syscall_entry_X` and `sys_exit_X` becomes `syscall_exit_X` (payload `ret`); `irq:softirq_*`
//! becomes `irq_softirq_*`; sched events call thread ids `tid` (`prev_pid` → `prev_tid`). Other
//! events keep their ftrace name. Field values are the ones tracefs recorded, except the `*prio`
//! fields of `sched` events, which are shifted by −100 ([`SCHED_PRIO_BIAS`]) as lttng-modules
//! records them (`prio - MAX_RT_PRIO`: 20 for a nice-0 task, where ftrace and `trace-cmd report`
//! say 120), because the analyses built for LTTng kernel traces (lttng-analyses, Trace Compass)
//! expect that scale. The `common_*` fields are dropped, as lttng-modules has none; the thread id
//! is available as the `tid` context.
//!
//! It does no I/O.

use rttng_ctf::encode::BitWriter;
use rttng_ctf::ir::{sint_class, struct_class, uint_class};
use rttng_ctf::ir::{
    ArrayClass, ByteOrder, DisplayBase, Encoding, FieldClass, IntegerClass, SequenceClass,
};

use crate::format::{EventFormat, FieldKind, FormatField};

/// Longest string copied out of a record (a record is shorter than a page anyway).
pub const MAX_STRING_BYTES: usize = 4096;
/// `procname` context width, as lttng-modules declares it.
pub const PROCNAME_BYTES: usize = 17;

const LE: ByteOrder = ByteOrder::Little;

/// Added to the `*prio` fields of `sched` events (lttng-modules' `- MAX_RT_PRIO`).
pub const SCHED_PRIO_BIAS: i32 = -100;

/// What is added to a field's value on the way to CTF.
pub fn field_bias(system: &str, field: &str) -> i32 {
    if system == "sched" && field.ends_with("prio") {
        SCHED_PRIO_BIAS
    } else {
        0
    }
}

/// The lttng-modules name of an ftrace event.
pub fn lttng_event_name(system: &str, name: &str) -> String {
    match system {
        "syscalls" => {
            if let Some(s) = name.strip_prefix("sys_enter_") {
                return format!("syscall_entry_{s}");
            }
            if let Some(s) = name.strip_prefix("sys_exit_") {
                return format!("syscall_exit_{s}");
            }
            name.to_string()
        }
        "irq" if name.starts_with("softirq_") => format!("irq_{name}"),
        _ => name.to_string(),
    }
}

/// The lttng-modules name of a field (without the `_` prefix CTF adds).
pub fn lttng_field_name(system: &str, field: &str) -> String {
    if system == "sched" {
        for (from, to) in [
            ("pid", "tid"),
            ("prev_pid", "prev_tid"),
            ("next_pid", "next_tid"),
            ("parent_pid", "parent_tid"),
            ("child_pid", "child_tid"),
            ("old_pid", "old_tid"),
            ("orig_pid", "orig_tid"),
            ("dest_pid", "dest_tid"),
        ] {
            if field == from {
                return to.to_string();
            }
        }
    }
    field.to_string()
}

/// How one payload field is read from the record and written to the packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldOp {
    /// Read `src_bytes` at `offset`, add `bias`, write the low `out_bits` (sign-extended when
    /// signed).
    Int {
        offset: u32,
        src_bytes: u32,
        out_bits: u32,
        signed: bool,
        bias: i32,
    },
    /// Copy `len` bytes of text.
    Text { offset: u32, len: u32 },
    /// `count` integers of `elem_bytes`.
    IntArray {
        offset: u32,
        count: u32,
        elem_bytes: u32,
        signed: bool,
    },
    /// A data_loc string; `rel` for `__rel_loc` (offset counted from the end of the field).
    DataLocString { offset: u32, rel: bool },
    /// A data_loc blob, written as a u32 length then the bytes.
    DataLocBytes { offset: u32 },
    /// A system call's path argument `arg` (pointer at `offset`), written as the string the
    /// eBPF recorder read behind it (`crate::bpf`), or empty when there is none.
    UserString { offset: u32, arg: u8 },
}

/// The CTF view of one ftrace event.
#[derive(Clone, Debug, PartialEq)]
pub struct EventPlan {
    /// ftrace `system:name`.
    pub ftrace_name: String,
    /// The CTF event class name (lttng-modules naming).
    pub ctf_name: String,
    /// The payload struct class.
    pub fields: FieldClass,
    pub ops: Vec<FieldOp>,
    /// The field name (lttng naming, no `_` prefix) of each op, in order.
    pub names: Vec<String>,
    /// Whether each op's field is a pointer (shown in hex).
    pub pointers: Vec<bool>,
    /// Bytes a record must have for every fixed-offset op.
    pub min_record_bytes: u32,
}

fn int_class(bits: u32, signed: bool, hex: bool) -> IntegerClass {
    let mut c = if signed {
        sint_class(bits, 8, LE)
    } else {
        uint_class(bits, 8, LE)
    };
    if hex {
        c.base = DisplayBase::Hexadecimal;
    }
    c
}

fn text_elem() -> FieldClass {
    FieldClass::Integer(IntegerClass {
        encoding: Encoding::Utf8,
        ..sint_class(8, 8, LE)
    })
}

/// Width and signedness of a system call argument: the format says `size:8` for every
/// argument (the register), the C type says what it holds.
fn syscall_arg_shape(f: &FormatField) -> (u32, bool, bool) {
    if f.is_pointer() {
        return (64, false, true);
    }
    let t = f.c_type.trim_start_matches("const ").trim();
    match t {
        "int" | "pid_t" | "key_serial_t" | "clockid_t" | "timer_t" | "mqd_t" | "rwf_t"
        | "__s32" | "s32" => (32, true, false),
        "unsigned int" | "uid_t" | "gid_t" | "u32" | "__u32" | "qid_t" | "old_uid_t"
        | "old_gid_t" | "unsigned" => (32, false, false),
        "umode_t" | "unsigned short" | "u16" => (16, false, false),
        "long" | "off_t" | "loff_t" | "ssize_t" | "__kernel_old_time_t" | "time_t" => {
            (64, true, false)
        }
        _ => (f.size * 8, f.signed, false),
    }
}

/// Build the CTF plan for one event format.
pub fn plan_event(fmt: &EventFormat) -> EventPlan {
    plan_event_with_paths(fmt, false)
}

/// Same; with `paths`, the path arguments of system call entries ([`crate::syscall_args::path_arg_mask`])
/// become string fields (lttng-modules' `ctf_user_string`), filled from the eBPF recorder.
pub fn plan_event_with_paths(fmt: &EventFormat, paths: bool) -> EventPlan {
    let path_mask = if paths {
        crate::syscall_args::path_arg_mask(fmt)
    } else {
        0
    };
    let mut arg_index = 0u32;
    let mut members: Vec<(String, FieldClass)> = Vec::new();
    let mut ops = Vec::new();
    let mut names = Vec::new();
    let mut pointers = Vec::new();
    let syscall = fmt.system == "syscalls";
    for f in &fmt.fields {
        if f.common || f.name == "__syscall_nr" {
            continue;
        }
        let plain = lttng_field_name(&fmt.system, &f.name);
        let name = format!("_{plain}");
        let arg = arg_index;
        arg_index += 1;
        if arg < 8 && path_mask & (1 << arg) != 0 {
            names.push(plain);
            pointers.push(false);
            members.push((
                name,
                FieldClass::String(rttng_ctf::ir::StringClass {
                    encoding: Encoding::Utf8,
                }),
            ));
            ops.push(FieldOp::UserString {
                offset: f.offset,
                arg: arg as u8,
            });
            continue;
        }
        if !matches!(f.kind, FieldKind::IntArray { len: 0 }) {
            names.push(plain);
            pointers.push(f.is_pointer());
        }
        match f.kind {
            FieldKind::Int => {
                let (bits, signed, hex) = if syscall {
                    syscall_arg_shape(f)
                } else {
                    (f.size * 8, f.signed, f.is_pointer())
                };
                members.push((name, FieldClass::Integer(int_class(bits, signed, hex))));
                ops.push(FieldOp::Int {
                    offset: f.offset,
                    src_bytes: f.size,
                    out_bits: bits,
                    signed,
                    bias: field_bias(&fmt.system, &f.name),
                });
            }
            FieldKind::CharArray { len } => {
                members.push((
                    name,
                    FieldClass::Array(ArrayClass {
                        element: Box::new(text_elem()),
                        length: u64::from(len),
                    }),
                ));
                ops.push(FieldOp::Text {
                    offset: f.offset,
                    len,
                });
            }
            FieldKind::IntArray { len: 0 } => {}
            FieldKind::IntArray { len } => {
                let elem_bytes = f.size / len;
                let elem = FieldClass::Integer(int_class(elem_bytes * 8, f.signed, f.is_pointer()));
                members.push((
                    name,
                    FieldClass::Array(ArrayClass {
                        element: Box::new(elem),
                        length: u64::from(len),
                    }),
                ));
                ops.push(FieldOp::IntArray {
                    offset: f.offset,
                    count: len,
                    elem_bytes,
                    signed: f.signed,
                });
            }
            FieldKind::DataLocString | FieldKind::RelLocString => {
                members.push((
                    name,
                    FieldClass::String(rttng_ctf::ir::StringClass {
                        encoding: Encoding::Utf8,
                    }),
                ));
                ops.push(FieldOp::DataLocString {
                    offset: f.offset,
                    rel: f.kind == FieldKind::RelLocString,
                });
            }
            FieldKind::DataLocBytes => {
                let len_name = format!("_{name}_length");
                members.push((len_name.clone(), FieldClass::Integer(uint_class(32, 8, LE))));
                members.push((
                    name,
                    FieldClass::Sequence(SequenceClass {
                        element: Box::new(FieldClass::Integer(int_class(8, false, true))),
                        length_ref: len_name,
                        length_slot: 0,
                    }),
                ));
                ops.push(FieldOp::DataLocBytes { offset: f.offset });
            }
        }
    }
    let min_record_bytes = fmt
        .fields
        .iter()
        .filter(|f| !f.common && f.name != "__syscall_nr")
        .map(|f| f.offset + f.size)
        .max()
        .unwrap_or(0);
    EventPlan {
        ftrace_name: format!("{}:{}", fmt.system, fmt.name),
        ctf_name: lttng_event_name(&fmt.system, &fmt.name),
        fields: struct_class(
            members
                .iter()
                .map(|(n, c)| (n.as_str(), c.clone()))
                .collect(),
            1,
        ),
        ops,
        names,
        pointers,
        min_record_bytes,
    }
}

fn read_le(data: &[u8], offset: u32, bytes: u32) -> u64 {
    let start = offset as usize;
    let mut v = 0u64;
    for i in (0..bytes as usize).rev() {
        v = (v << 8) | u64::from(data.get(start + i).copied().unwrap_or(0));
    }
    v
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        v as i64
    } else {
        let shift = 64 - bits;
        ((v << shift) as i64) >> shift
    }
}

/// The bytes of a data_loc field, or empty when the locator points outside the record.
pub fn data_loc(data: &[u8], field_offset: u32, rel: bool) -> &[u8] {
    let loc = read_le(data, field_offset, 4);
    let mut off = (loc & 0xffff) as usize;
    let len = (loc >> 16) as usize;
    if rel {
        off += field_offset as usize + 4;
    }
    data.get(off..off.saturating_add(len)).unwrap_or(&[])
}

/// The bytes of a C string: up to the first NUL, at most [`MAX_STRING_BYTES`].
pub fn c_str(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(MAX_STRING_BYTES);
    &bytes[..end]
}

/// Read an integer op's value as i128 (for callers that show values, like `rttng trace`).
pub fn read_int(data: &[u8], offset: u32, src_bytes: u32, out_bits: u32, signed: bool) -> i128 {
    let v = read_le(data, offset, src_bytes);
    let v = if out_bits < 64 {
        v & ((1u64 << out_bits) - 1)
    } else {
        v
    };
    if signed {
        i128::from(sign_extend(v, out_bits))
    } else {
        i128::from(v)
    }
}

/// Write the payload of `data` (one record) as `ops` describe it, with the strings the eBPF
/// recorder read for this record's path arguments (`(argument index, string)`); a path
/// argument without one is written empty. A record shorter than the format reads as zeros
/// past its end; strings outside it read as empty.
pub fn write_payload_with_paths(
    w: &mut BitWriter,
    ops: &[FieldOp],
    data: &[u8],
    paths: &[(u8, &[u8])],
) {
    for op in ops {
        match *op {
            FieldOp::Int {
                offset,
                src_bytes,
                out_bits,
                signed,
                bias,
            } => {
                let v = read_le(data, offset, src_bytes).wrapping_add(i64::from(bias) as u64);
                if signed {
                    w.write_sint(sign_extend(v, out_bits), out_bits, LE);
                } else {
                    let v = if out_bits < 64 {
                        v & ((1u64 << out_bits) - 1)
                    } else {
                        v
                    };
                    w.write_uint(v, out_bits, LE);
                }
            }
            FieldOp::Text { offset, len } => {
                let start = offset as usize;
                let mut buf = [0u8; 256];
                let n = (len as usize).min(buf.len());
                if let Some(src) = data.get(start..start + n) {
                    buf[..n].copy_from_slice(src);
                }
                // Bytes after the first NUL are whatever the kernel left there: zero them so the
                // text reads the same everywhere.
                if let Some(z) = buf[..n].iter().position(|&b| b == 0) {
                    buf[z..n].fill(0);
                }
                w.write_bytes(&buf[..n]);
                if (len as usize) > n {
                    w.write_bytes(&vec![0u8; len as usize - n]);
                }
            }
            FieldOp::IntArray {
                offset,
                count,
                elem_bytes,
                signed,
            } => {
                for i in 0..count {
                    let v = read_le(data, offset + i * elem_bytes, elem_bytes);
                    if signed {
                        w.write_sint(sign_extend(v, elem_bytes * 8), elem_bytes * 8, LE);
                    } else {
                        w.write_uint(v, elem_bytes * 8, LE);
                    }
                }
            }
            FieldOp::DataLocString { offset, rel } => {
                let s = c_str(data_loc(data, offset, rel));
                w.write_string(s);
            }
            FieldOp::DataLocBytes { offset } => {
                let b = data_loc(data, offset, false);
                let b = &b[..b.len().min(MAX_STRING_BYTES)];
                w.write_uint(b.len() as u64, 32, LE);
                w.write_bytes(b);
            }
            FieldOp::UserString { arg, .. } => {
                let s = paths
                    .iter()
                    .find(|(a, _)| *a == arg)
                    .map(|(_, s)| c_str(s))
                    .unwrap_or(b"");
                w.write_string(s);
            }
        }
    }
}

/// A context field of the stream (`add-context -k`), with lttng-modules' name and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextKind {
    Pid,
    Tid,
    Procname,
    CpuId,
    // From the eBPF task record (`bpf_task`).
    Vpid,
    Vtid,
    Ppid,
    Vppid,
    Prio,
    Nice,
    Hostname,
    CgroupNs,
    IpcNs,
    MntNs,
    NetNs,
    PidNs,
    TimeNs,
    UserNs,
    UtsNs,
    Uid,
    Euid,
    Suid,
    Gid,
    Egid,
    Sgid,
    Vuid,
    Veuid,
    Vsuid,
    Vgid,
    Vegid,
    Vsgid,
    // From the tracefs record's common flags and preempt count.
    Interruptible,
    Preemptible,
    NeedReschedule,
    Migratable,
    // From the eBPF task record's call stacks (`task_ctx_stacks`).
    CallstackKernel,
    CallstackUser,
}

/// tracefs's `common_flags` bits (`enum trace_flag_type`).
pub const TRACE_FLAG_IRQS_OFF: u8 = 0x01;
pub const TRACE_FLAG_NEED_RESCHED: u8 = 0x04;
pub const TRACE_FLAG_HARDIRQ: u8 = 0x08;
pub const TRACE_FLAG_SOFTIRQ: u8 = 0x10;
pub const TRACE_FLAG_NMI: u8 = 0x40;
pub const TRACE_FLAG_BH_OFF: u8 = 0x80;

impl ContextKind {
    /// Every kind, in `add-context` order.
    pub const ALL: [ContextKind; 37] = [
        ContextKind::Pid,
        ContextKind::Tid,
        ContextKind::Procname,
        ContextKind::CpuId,
        ContextKind::Vpid,
        ContextKind::Vtid,
        ContextKind::Ppid,
        ContextKind::Vppid,
        ContextKind::Prio,
        ContextKind::Nice,
        ContextKind::Hostname,
        ContextKind::CgroupNs,
        ContextKind::IpcNs,
        ContextKind::MntNs,
        ContextKind::NetNs,
        ContextKind::PidNs,
        ContextKind::TimeNs,
        ContextKind::UserNs,
        ContextKind::UtsNs,
        ContextKind::Uid,
        ContextKind::Euid,
        ContextKind::Suid,
        ContextKind::Gid,
        ContextKind::Egid,
        ContextKind::Sgid,
        ContextKind::Vuid,
        ContextKind::Veuid,
        ContextKind::Vsuid,
        ContextKind::Vgid,
        ContextKind::Vegid,
        ContextKind::Vsgid,
        ContextKind::Interruptible,
        ContextKind::Preemptible,
        ContextKind::NeedReschedule,
        ContextKind::Migratable,
        ContextKind::CallstackKernel,
        ContextKind::CallstackUser,
    ];

    pub fn name(self) -> &'static str {
        use ContextKind as K;
        match self {
            K::Pid => "pid",
            K::Tid => "tid",
            K::Procname => "procname",
            K::CpuId => "cpu_id",
            K::Vpid => "vpid",
            K::Vtid => "vtid",
            K::Ppid => "ppid",
            K::Vppid => "vppid",
            K::Prio => "prio",
            K::Nice => "nice",
            K::Hostname => "hostname",
            K::CgroupNs => "cgroup_ns",
            K::IpcNs => "ipc_ns",
            K::MntNs => "mnt_ns",
            K::NetNs => "net_ns",
            K::PidNs => "pid_ns",
            K::TimeNs => "time_ns",
            K::UserNs => "user_ns",
            K::UtsNs => "uts_ns",
            K::Uid => "uid",
            K::Euid => "euid",
            K::Suid => "suid",
            K::Gid => "gid",
            K::Egid => "egid",
            K::Sgid => "sgid",
            K::Vuid => "vuid",
            K::Veuid => "veuid",
            K::Vsuid => "vsuid",
            K::Vgid => "vgid",
            K::Vegid => "vegid",
            K::Vsgid => "vsgid",
            K::Interruptible => "interruptible",
            K::Preemptible => "preemptible",
            K::NeedReschedule => "need_reschedule",
            K::Migratable => "migratable",
            K::CallstackKernel => "callstack-kernel",
            K::CallstackUser => "callstack-user",
        }
    }

    /// Whether the value comes from the eBPF task record.
    pub fn needs_task_record(self) -> bool {
        use ContextKind as K;
        !matches!(
            self,
            K::Pid
                | K::Tid
                | K::Procname
                | K::CpuId
                | K::Interruptible
                | K::Preemptible
                | K::NeedReschedule
                | K::Migratable
        )
    }

    /// Whether the value is a call stack (walked by the eBPF task program that costs more).
    pub fn is_callstack(self) -> bool {
        matches!(
            self,
            ContextKind::CallstackKernel | ContextKind::CallstackUser
        )
    }

    /// The members of `stream.event.context` (lttng-modules' C types: pid_t and int signed
    /// 32-bit, uid_t, gid_t and namespace inode numbers unsigned 32-bit, `interruptible`
    /// int8_t, the other flags uint8_t, hostname char[65]; a call stack two members, below).
    pub fn members(self) -> Vec<(String, FieldClass)> {
        use ContextKind as K;
        let class = match self {
            K::CallstackKernel | K::CallstackUser => {
                // lttng-modules 2.13, src/lttng-context-callstack.c (event_fields_kernel and
                // event_fields_user): `_callstack_kernel_length`, an `unsigned int` in base
                // 10, then `callstack_kernel`, a sequence of `unsigned long` in base 16 whose
                // length is the field before it; src/lttng-events.c
                // (_lttng_sequence_field_statedump) prefixes both names with `_`, and on
                // x86-64 (efficient unaligned access: no RING_BUFFER_ALIGN) `lttng_alignof`
                // is 1, so its TSDL on x86-64 reads:
                //   integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } __callstack_kernel_length;
                //   integer { size = 64; align = 8; signed = 0; encoding = none; base = 16; } _callstack_kernel[ __callstack_kernel_length ];
                let what = if self == K::CallstackKernel {
                    "kernel"
                } else {
                    "user"
                };
                let len = format!("__callstack_{what}_length");
                return vec![
                    (
                        len.clone(),
                        FieldClass::Integer(int_class(32, false, false)),
                    ),
                    (
                        format!("_callstack_{what}"),
                        FieldClass::Sequence(SequenceClass {
                            element: Box::new(FieldClass::Integer(int_class(64, false, true))),
                            length_ref: len,
                            length_slot: 0,
                        }),
                    ),
                ];
            }
            K::Pid | K::Tid | K::Vpid | K::Vtid | K::Ppid | K::Vppid | K::Prio | K::Nice => {
                FieldClass::Integer(int_class(32, true, false))
            }
            K::Procname => FieldClass::Array(ArrayClass {
                element: Box::new(text_elem()),
                length: PROCNAME_BYTES as u64,
            }),
            K::Hostname => FieldClass::Array(ArrayClass {
                element: Box::new(text_elem()),
                length: crate::bpf_task::HOSTNAME_BYTES as u64,
            }),
            K::Interruptible => FieldClass::Integer(int_class(8, true, false)),
            K::Preemptible | K::NeedReschedule | K::Migratable => {
                FieldClass::Integer(int_class(8, false, false))
            }
            _ => FieldClass::Integer(int_class(32, false, false)),
        };
        vec![(format!("_{}", self.name()), class)]
    }
}

/// The values the context fields are built from, per record.
#[derive(Clone, Copy, Debug)]
pub struct ContextValues<'a> {
    pub tid: i32,
    pub pid: i32,
    pub procname: &'a [u8],
    pub cpu: u32,
    /// The record's `common_flags` and `common_preempt_count`.
    pub flags: u8,
    pub preempt: u8,
    /// The eBPF task record matched to this record (zeros when none matched; the caller
    /// counts those).
    pub task: Option<&'a crate::bpf_task::TaskValues>,
}

/// Write the stream event context.
pub fn write_context(w: &mut BitWriter, kinds: &[ContextKind], v: &ContextValues<'_>) {
    use ContextKind as K;
    let zero = crate::bpf_task::TaskValues::default();
    let t = v.task.unwrap_or(&zero);
    let s32 = |w: &mut BitWriter, x: i32| w.write_sint(i64::from(x), 32, LE);
    let u32_ = |w: &mut BitWriter, x: u32| w.write_uint(u64::from(x), 32, LE);
    let text = |w: &mut BitWriter, s: &[u8], len: usize| {
        let mut buf = [0u8; 128];
        let s = c_str(s);
        let n = s.len().min(len - 1);
        buf[..n].copy_from_slice(&s[..n]);
        w.write_bytes(&buf[..len]);
    };
    for k in kinds {
        match k {
            K::Pid => s32(w, v.pid),
            K::Tid => s32(w, v.tid),
            K::CpuId => u32_(w, v.cpu),
            K::Procname => text(w, v.procname, PROCNAME_BYTES),
            K::Vpid => s32(w, t.vpid),
            K::Vtid => s32(w, t.vtid),
            K::Ppid => s32(w, t.ppid),
            K::Vppid => s32(w, t.vppid),
            K::Prio => s32(w, t.prio),
            K::Nice => s32(w, t.nice),
            K::Hostname => text(w, &t.hostname, crate::bpf_task::HOSTNAME_BYTES),
            K::CgroupNs => u32_(w, t.ns[0]),
            K::IpcNs => u32_(w, t.ns[1]),
            K::MntNs => u32_(w, t.ns[2]),
            K::NetNs => u32_(w, t.ns[3]),
            K::PidNs => u32_(w, t.ns[4]),
            K::TimeNs => u32_(w, t.ns[5]),
            K::UserNs => u32_(w, t.ns[6]),
            K::UtsNs => u32_(w, t.ns[7]),
            K::Uid => u32_(w, t.ids[0]),
            K::Euid => u32_(w, t.ids[1]),
            K::Suid => u32_(w, t.ids[2]),
            K::Gid => u32_(w, t.ids[3]),
            K::Egid => u32_(w, t.ids[4]),
            K::Sgid => u32_(w, t.ids[5]),
            K::Vuid => u32_(w, t.vids[0]),
            K::Veuid => u32_(w, t.vids[1]),
            K::Vsuid => u32_(w, t.vids[2]),
            K::Vgid => u32_(w, t.vids[3]),
            K::Vegid => u32_(w, t.vids[4]),
            K::Vsgid => u32_(w, t.vids[5]),
            // lttng-modules: !irqs_disabled() at the tracepoint.
            K::Interruptible => w.write_sint(i64::from(v.flags & TRACE_FLAG_IRQS_OFF == 0), 8, LE),
            // lttng-modules: preempt_count() is only the instrumentation's own nesting (no
            // preempt, softirq, hardirq or NMI count); tracefs keeps the preempt depth
            // without its own in the low nibble and the others as flags.
            K::Preemptible => {
                let irq =
                    TRACE_FLAG_HARDIRQ | TRACE_FLAG_SOFTIRQ | TRACE_FLAG_NMI | TRACE_FLAG_BH_OFF;
                let p = v.preempt & 0x0f == 0 && v.flags & irq == 0;
                w.write_uint(u64::from(p), 8, LE)
            }
            // lttng-modules: test_tsk_need_resched(current).
            K::NeedReschedule => {
                w.write_uint(u64::from(v.flags & TRACE_FLAG_NEED_RESCHED != 0), 8, LE)
            }
            // lttng-modules: !current->migration_disabled; tracefs: the high nibble.
            K::Migratable => w.write_uint(u64::from(v.preempt >> 4 == 0), 8, LE),
            // The length, then the entries (a stack that filled the walk ends with
            // lttng-modules' ULONG_MAX mark, counted in the length).
            K::CallstackKernel | K::CallstackUser => {
                let stack = if *k == K::CallstackKernel {
                    &t.kernel_stack
                } else {
                    &t.user_stack
                };
                let stack = &stack[..stack.len().min(crate::bpf_task::MAX_STACK_ENTRIES + 1)];
                w.write_uint(stack.len() as u64, 32, LE);
                for &ip in stack {
                    w.write_uint(ip, 64, LE);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse_format;

    #[test]
    fn call_stacks_are_a_length_then_hex_unsigned_longs() {
        let kinds = [ContextKind::CallstackKernel, ContextKind::CallstackUser];
        let members: Vec<String> = kinds
            .iter()
            .flat_map(|k| k.members())
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            members,
            [
                "__callstack_kernel_length",
                "_callstack_kernel",
                "__callstack_user_length",
                "_callstack_user"
            ]
        );
        match &ContextKind::CallstackUser.members()[1].1 {
            FieldClass::Sequence(s) => {
                assert_eq!(s.length_ref, "__callstack_user_length");
                match &*s.element {
                    FieldClass::Integer(i) => {
                        assert_eq!((i.size_bits, i.signed), (64, false));
                        assert_eq!(i.base, DisplayBase::Hexadecimal);
                    }
                    other => panic!("element {other:?}"),
                }
            }
            other => panic!("not a sequence: {other:?}"),
        }
        let task = crate::bpf_task::TaskValues {
            kernel_stack: vec![0xffff_ffff_8100_0001],
            user_stack: vec![],
            ..Default::default()
        };
        let v = ContextValues {
            tid: 1,
            pid: 1,
            procname: b"",
            cpu: 0,
            flags: 0,
            preempt: 0,
            task: Some(&task),
        };
        let mut w = BitWriter::new();
        write_context(&mut w, &kinds, &v);
        let mut want = Vec::new();
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(&0xffff_ffff_8100_0001u64.to_le_bytes());
        want.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(w.bytes(), &want[..]);
    }

    #[test]
    fn lttng_names() {
        assert_eq!(
            lttng_event_name("syscalls", "sys_enter_openat"),
            "syscall_entry_openat"
        );
        assert_eq!(
            lttng_event_name("syscalls", "sys_exit_openat"),
            "syscall_exit_openat"
        );
        assert_eq!(
            lttng_event_name("irq", "softirq_entry"),
            "irq_softirq_entry"
        );
        assert_eq!(
            lttng_event_name("irq", "irq_handler_entry"),
            "irq_handler_entry"
        );
        assert_eq!(lttng_event_name("sched", "sched_switch"), "sched_switch");
        assert_eq!(lttng_field_name("sched", "next_pid"), "next_tid");
        assert_eq!(lttng_field_name("kmem", "pid"), "pid");
    }

    #[test]
    fn syscall_payload_is_typed_by_c_type() {
        let t = "name: sys_enter_openat\nID: 782\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:umode_t mode;\toffset:32;\tsize:8;\tsigned:0;\n";
        let f = parse_format("syscalls", t).expect("parses");
        let p = plan_event(&f);
        assert_eq!(p.ctf_name, "syscall_entry_openat");
        assert_eq!(
            p.ops,
            vec![
                FieldOp::Int {
                    offset: 16,
                    src_bytes: 8,
                    out_bits: 32,
                    signed: true,
                    bias: 0
                },
                FieldOp::Int {
                    offset: 24,
                    src_bytes: 8,
                    out_bits: 64,
                    signed: false,
                    bias: 0
                },
                FieldOp::Int {
                    offset: 32,
                    src_bytes: 8,
                    out_bits: 16,
                    signed: false,
                    bias: 0
                },
            ]
        );
        let mut rec = vec![0u8; 40];
        rec[16..24].copy_from_slice(&0xffff_ff9cu64.to_le_bytes()); // AT_FDCWD as the register holds it
        rec[24..32].copy_from_slice(&0x1234u64.to_le_bytes());
        rec[32..40].copy_from_slice(&0o644u64.to_le_bytes());
        let mut w = BitWriter::new();
        write_payload_with_paths(&mut w, &p.ops, &rec, &[]);
        let mut want = Vec::new();
        want.extend_from_slice(&(-100i32).to_le_bytes());
        want.extend_from_slice(&0x1234u64.to_le_bytes());
        want.extend_from_slice(&0o644u16.to_le_bytes());
        assert_eq!(w.bytes(), &want[..]);
        assert_eq!(read_int(&rec, 16, 8, 32, true), -100);
    }

    #[test]
    fn sched_prio_is_shifted_as_lttng_modules_records_it() {
        let t = "name: sched_wakeup\nID: 2\nformat:\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:int prio;\toffset:12;\tsize:4;\tsigned:1;\n";
        let f = parse_format("sched", t).expect("parses");
        let p = plan_event(&f);
        let mut rec = vec![0u8; 16];
        rec[8..12].copy_from_slice(&4242i32.to_le_bytes());
        rec[12..16].copy_from_slice(&120i32.to_le_bytes());
        let mut w = BitWriter::new();
        write_payload_with_paths(&mut w, &p.ops, &rec, &[]);
        let mut want = Vec::new();
        want.extend_from_slice(&4242i32.to_le_bytes());
        want.extend_from_slice(&20i32.to_le_bytes());
        assert_eq!(w.bytes(), &want[..], "tid kept, prio 120 becomes 20");
        // A prio field outside `sched` is left alone.
        let g = parse_format("other", &t.replace("sched_wakeup", "x")).expect("parses");
        let mut w = BitWriter::new();
        write_payload_with_paths(&mut w, &plan_event(&g).ops, &rec, &[]);
        assert_eq!(&w.bytes()[4..8], &120i32.to_le_bytes());
    }

    #[test]
    fn data_loc_and_char_arrays() {
        let t = "name: sched_process_exec\nID: 1\nformat:\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:char comm[4];\toffset:12;\tsize:4;\tsigned:0;\n";
        let f = parse_format("sched", t).expect("parses");
        let p = plan_event(&f);
        let mut rec = vec![0u8; 16];
        rec[8..12].copy_from_slice(&(16u32 | (4 << 16)).to_le_bytes());
        rec[12..16].copy_from_slice(b"a\0zz");
        rec.extend_from_slice(b"/ls\0");
        let mut w = BitWriter::new();
        write_payload_with_paths(&mut w, &p.ops, &rec, &[]);
        assert_eq!(w.bytes(), b"/ls\0a\0\0\0");
        // A locator pointing past the record gives an empty string, not a panic.
        rec[8..12].copy_from_slice(&(300u32 | (4 << 16)).to_le_bytes());
        let mut w = BitWriter::new();
        write_payload_with_paths(&mut w, &p.ops, &rec, &[]);
        assert_eq!(w.bytes(), b"\0a\0\0\0");
    }
}
