//! The task contexts of kernel events, recorded with eBPF: what lttng-modules reads from
//! `current` at each event (vpid, vtid, ppid, vppid, prio, nice, the user and group ids and
//! their namespace views, the namespace inode numbers, hostname) and tracefs records lack.
//!
//! A small BPF program (`bpf/task.bpf.c`, built by `bpf/build-task.sh`; the object is committed
//! and embedded here, its field offsets relocated from the running kernel's BTF) is attached,
//! as `task_ctx`, to every tracepoint the channels enable; each hit writes a [`TaskRecord`]:
//! the thread, the tracepoint's type id, the first payload bytes (the *key*) and the values. A
//! [`TaskRecorder`] loads and attaches it and moves the ring buffer's records into a shared
//! [`TaskLog`]; a [`TaskMatcher`] gives each tracefs record its values: the oldest waiting
//! record of the same thread and type whose key equals the record's fixed fields (padding
//! excluded). The BPF clock is not the trace clock, so records are matched by order and
//! content per thread, never by time: a record tracefs dropped (a filter, a loss) leaves its
//! BPF record unmatched, and another hit with other fields cannot take it.
//!
//! Not here: which contexts a channel writes (`convert`), what happens to a tracefs record
//! without a BPF record (the caller counts it), system call path strings (`bpf.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use aya::maps::{Array, HashMap as BpfHashMap, RingBuf};
use std::os::fd::AsFd;

use aya::programs::TracePoint;
use aya::Ebpf;

use crate::bpf::{bpf_err, error_chain};
use crate::bpf_log::{detach_later, Poller, RingLog, RingRecord};
use crate::error::KernelError;
use crate::format::EventFormat;

/// The BPF object built from `bpf/task.bpf.c`.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/task.bpf.o");

/// Bytes of one ring-buffer record (`struct task_record` in `task.bpf.c`).
pub const RECORD_BYTES: usize = 248;
/// Bytes of the call-stack header `task_ctx_stacks` appends to a record (`struct stacks`),
/// before its entries.
pub const STACKS_HEADER_BYTES: usize = 8;
/// The deepest call stack one context records: lttng-modules' `MAX_ENTRIES` (128, in
/// src/lttng-context-callstack-stackwalk-impl.h); the kernel caps each eBPF walk at
/// `kernel.perf_event_max_stack` too ([`stack_depth`]).
pub const MAX_STACK_ENTRIES: usize = 128;
/// What ends a call stack that filled the depth walked (it may go on), as lttng-modules
/// marks it: `ULONG_MAX` after the entries.
pub const STACK_TRUNCATED_MARK: u64 = u64::MAX;
/// Payload bytes (after the 8 bytes of common fields) a record keeps as its key.
pub const KEY_BYTES: usize = 64;
/// Bytes of the hostname (`__NEW_UTS_LEN + 1`, lttng's hostname context length).
pub const HOSTNAME_BYTES: usize = 65;
/// Records a log keeps; later ones are counted in [`TaskLog::dropped`].
pub const MAX_LOG_RECORDS: usize = 1 << 18;
/// Records waiting per thread in a matcher; the oldest go first.
pub const MAX_QUEUE_PER_THREAD: usize = 1 << 15;
/// Records waiting in a matcher in all; beyond, a thread's oldest go first.
pub const MAX_MATCHER_RECORDS: usize = 1 << 18;
/// Call-stack bytes a log, and a matcher, keep (a record with both stacks full holds 2 KiB:
/// [`MAX_MATCHER_RECORDS`] of them would be 512 MiB); beyond, as beyond the record bounds.
pub const MAX_STACK_BYTES: usize = 64 << 20;
/// Threads with waiting records in a matcher.
pub const MAX_MATCHER_THREADS: usize = 65_536;
/// Records moved from the ring buffer per poll.
pub const MAX_RECORDS_PER_POLL: usize = 1 << 18;
/// How often the recorder's thread empties the ring buffer.
pub const POLL_PERIOD: Duration = Duration::from_millis(5);
/// Tracepoints one recorder attaches to.
pub const MAX_ATTACHED: usize = 8192;

/// What lttng-modules would record for a task at one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskValues {
    pub pid: i32,
    pub vpid: i32,
    pub vtid: i32,
    pub ppid: i32,
    pub vppid: i32,
    pub prio: i32,
    pub nice: i32,
    /// uid, euid, suid, gid, egid, sgid (initial user namespace).
    pub ids: [u32; 6],
    /// The same as the task's user namespace maps them (`vuid`, ...).
    pub vids: [u32; 6],
    /// cgroup, ipc, mnt, net, pid, time, user, uts namespace inode numbers.
    pub ns: [u32; 8],
    pub hostname: [u8; HOSTNAME_BYTES],
    /// The kernel call stack (innermost first), [`STACK_TRUNCATED_MARK`] last when the walk
    /// filled its depth; empty unless the recorder walks stacks.
    pub kernel_stack: Vec<u64>,
    /// The user call stack, the same way.
    pub user_stack: Vec<u64>,
}

impl TaskValues {
    /// Bytes the call stacks hold.
    pub fn stack_bytes(&self) -> usize {
        (self.kernel_stack.len() + self.user_stack.len()) * 8
    }
}

impl Default for TaskValues {
    fn default() -> Self {
        TaskValues {
            pid: 0,
            vpid: 0,
            vtid: 0,
            ppid: 0,
            vppid: 0,
            prio: 0,
            nice: 0,
            ids: [0; 6],
            vids: [0; 6],
            ns: [0; 8],
            hostname: [0; HOSTNAME_BYTES],
            kernel_stack: Vec::new(),
            user_stack: Vec::new(),
        }
    }
}

/// One ring-buffer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    pub tid: u32,
    pub type_id: u16,
    pub key: Vec<u8>,
    pub values: TaskValues,
}

/// Decode one ring-buffer record; `None` when it is too short.
pub fn decode_record(b: &[u8]) -> Option<TaskRecord> {
    if b.len() < RECORD_BYTES {
        return None;
    }
    let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let i32_at = |o: usize| u32_at(o) as i32;
    let key_len = usize::from(u16::from_le_bytes([b[6], b[7]])).min(KEY_BYTES);
    let mut v = TaskValues {
        pid: i32_at(72),
        vpid: i32_at(76),
        vtid: i32_at(80),
        ppid: i32_at(84),
        vppid: i32_at(88),
        prio: i32_at(92),
        nice: i32_at(96),
        ..TaskValues::default()
    };
    for k in 0..6 {
        v.ids[k] = u32_at(100 + 4 * k);
        v.vids[k] = u32_at(124 + 4 * k);
    }
    for k in 0..8 {
        v.ns[k] = u32_at(148 + 4 * k);
    }
    v.hostname.copy_from_slice(&b[180..180 + HOSTNAME_BYTES]);
    // Up to the NUL only: what follows it is not part of the name.
    let n = crate::convert::c_str(&v.hostname).len();
    v.hostname[n..].fill(0);
    if let Some(h) = b.get(RECORD_BYTES..RECORD_BYTES + STACKS_HEADER_BYTES) {
        // `struct stacks`: kernel_len, user_len (u16), kernel_full, user_full (u8), then the
        // kernel entries and the user entries (u64 each), as far as the record goes.
        let lens = [
            usize::from(u16::from_le_bytes([h[0], h[1]])).min(MAX_STACK_ENTRIES),
            usize::from(u16::from_le_bytes([h[2], h[3]])).min(MAX_STACK_ENTRIES),
        ];
        let mut entries = b[RECORD_BYTES + STACKS_HEADER_BYTES..]
            .chunks_exact(8)
            .map(|e| u64::from_le_bytes(e.try_into().unwrap_or([0; 8])));
        for (k, stack) in [&mut v.kernel_stack, &mut v.user_stack]
            .into_iter()
            .enumerate()
        {
            stack.extend(entries.by_ref().take(lens[k]));
            if h[4 + k] != 0 && stack.len() == lens[k] {
                stack.push(STACK_TRUNCATED_MARK);
            }
        }
    }
    Some(TaskRecord {
        tid: u32_at(0),
        type_id: u16::from_le_bytes([b[4], b[5]]),
        key: b[8..8 + key_len].to_vec(),
        values: v,
    })
}

/// The payload byte ranges (from offset 8) the key of `fmt`'s records is compared on: its
/// fixed fields within the key, without the padding between them (which holds whatever the
/// buffer held before, different in tracefs's and the BPF program's copy).
pub fn key_ranges(fmt: &EventFormat) -> Vec<(usize, usize)> {
    let mut r: Vec<(usize, usize)> = fmt
        .fields
        .iter()
        .filter(|f| !f.common && f.offset >= 8)
        .map(|f| (f.offset as usize - 8, (f.offset + f.size) as usize - 8))
        .filter(|&(s, e)| s < e && e <= KEY_BYTES)
        .collect();
    r.sort_unstable();
    r
}

/// How many payload bytes the BPF program copies for `fmt`'s records.
pub fn key_len(fmt: &EventFormat) -> u32 {
    key_ranges(fmt).iter().map(|&(_, e)| e).max().unwrap_or(0) as u32
}

impl RingRecord for TaskRecord {
    const MAX_LOG_RECORDS: usize = MAX_LOG_RECORDS;
    const MAX_LOG_BYTES: usize = MAX_STACK_BYTES;
    const MAX_RECORDS_PER_POLL: usize = MAX_RECORDS_PER_POLL;

    fn decode(bytes: &[u8]) -> Option<Self> {
        decode_record(bytes)
    }

    /// Its call stacks' bytes.
    fn log_bytes(&self) -> usize {
        self.values.stack_bytes()
    }
}

/// Every task record of a session, in ring-buffer order (per thread, the order of the hits).
pub type TaskLog = RingLog<TaskRecord>;

/// A record waiting in a matcher, and the readers that took it already.
#[derive(Debug)]
struct Waiting {
    record: TaskRecord,
    taken: u64,
}

/// Gives tracefs records their task values.
#[derive(Debug, Default)]
pub struct TaskMatcher {
    queues: HashMap<u32, VecDeque<Waiting>>,
    /// Per tracepoint type id, the readers (one bit per channel: each channel is its own
    /// tracefs instance, so one hit gives each channel that enables the tracepoint a record,
    /// while the eBPF program writes one) that must each take a record before it goes.
    readers: HashMap<u16, u64>,
    total: usize,
    /// Call-stack bytes of the waiting records (bounded by [`MAX_STACK_BYTES`]).
    stack_bytes: usize,
    /// Records dropped because a thread's queue was full.
    pub overflowed: u64,
}

impl TaskMatcher {
    pub fn new() -> TaskMatcher {
        TaskMatcher::default()
    }

    /// Takes in what the log holds (polling its ring buffer first); the records move out.
    pub fn refresh(&mut self, log: &TaskLog) {
        log.poll();
        for r in log.take_all() {
            if !self.queues.contains_key(&r.tid) && self.queues.len() >= MAX_MATCHER_THREADS {
                self.overflowed += 1;
                continue;
            }
            let q = self.queues.entry(r.tid).or_default();
            let weight = r.values.stack_bytes();
            let full = |total: usize, bytes: usize| {
                total >= MAX_MATCHER_RECORDS || bytes + weight > MAX_STACK_BYTES
            };
            if q.len() >= MAX_QUEUE_PER_THREAD || full(self.total, self.stack_bytes) {
                if let Some(old) = q.pop_front() {
                    self.total -= 1;
                    self.stack_bytes -= old.record.values.stack_bytes();
                }
                self.overflowed += 1;
                if full(self.total, self.stack_bytes) {
                    if q.is_empty() {
                        self.queues.remove(&r.tid);
                    }
                    continue;
                }
            }
            q.push_back(Waiting {
                record: r,
                taken: 0,
            });
            self.total += 1;
            self.stack_bytes += weight;
        }
    }

    /// Adds `reader` (one bit) to the readers of records of tracepoint `type_id`.
    pub fn add_reader(&mut self, type_id: u16, reader: u64) {
        *self.readers.entry(type_id).or_default() |= reader;
    }

    /// [`Self::take_as`] for a matcher with one reader.
    pub fn take(
        &mut self,
        tid: u32,
        type_id: u16,
        payload: &[u8],
        ranges: &[(usize, usize)],
    ) -> Option<TaskValues> {
        self.take_as(1, tid, type_id, payload, ranges)
    }

    /// The values of the tracefs record of thread `tid`, type `type_id`, payload `payload`
    /// (the record's bytes from offset 8), whose key is compared on `ranges` ([`key_ranges`]),
    /// for `reader` (a channel's bit, [`Self::add_reader`]): the oldest waiting record that
    /// matches and that this reader has not taken. Older records are not dropped: a consumer
    /// converts one CPU after the other, and the thread may have moved between them. A
    /// record goes once every reader of its tracepoint took it.
    pub fn take_as(
        &mut self,
        reader: u64,
        tid: u32,
        type_id: u16,
        payload: &[u8],
        ranges: &[(usize, usize)],
    ) -> Option<TaskValues> {
        let q = self.queues.get_mut(&tid)?;
        let i = q.iter().position(|w| {
            let r = &w.record;
            w.taken & reader == 0
                && r.type_id == type_id
                && ranges.iter().all(|&(s, e)| {
                    matches!((r.key.get(s..e), payload.get(s..e)), (Some(a), Some(b)) if a == b)
                })
        })?;
        let all = self.readers.get(&type_id).copied().unwrap_or(0) | reader;
        let w = &mut q[i];
        w.taken |= reader;
        if w.taken & all != all {
            return Some(w.record.values.clone());
        }
        let w = q.remove(i)?;
        self.total -= 1;
        self.stack_bytes -= w.record.values.stack_bytes();
        if q.is_empty() {
            self.queues.remove(&tid);
        }
        Some(w.record.values)
    }
}

/// The loaded program, attached; records flow into a [`TaskLog`] until [`stop`](Self::stop).
pub struct TaskRecorder {
    links: Vec<crate::sys::CookieLink>,
    /// The type ids attached to.
    attached: std::collections::HashSet<u16>,
    walks: StackWalks,
    ebpf: Option<Ebpf>,
    log: Arc<TaskLog>,
    poller: Option<Poller>,
}

impl std::fmt::Debug for TaskRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRecorder")
            .field("attached", &self.links.len())
            .finish()
    }
}

/// The programs of `task.bpf.o`: without and with call stacks.
const PROGRAM: &str = "task_ctx";
const PROGRAM_STACKS: &str = "task_ctx_stacks";

/// Whether this kernel runs the task program (with `stacks`, the one that walks call
/// stacks): it is loaded (and verified, its CO-RE offsets relocated) once per process, not
/// attached. The error says why not.
pub fn probe_program(stacks: bool) -> Result<(), KernelError> {
    type Once = std::sync::OnceLock<Result<(), String>>;
    static RESULT: [Once; 2] = [Once::new(), Once::new()];
    let name = if stacks { PROGRAM_STACKS } else { PROGRAM };
    let r = RESULT[usize::from(stacks)].get_or_init(|| {
        let mut ebpf = Ebpf::load(OBJECT).map_err(|e| format!("load: {}", error_chain(&e)))?;
        let prog: &mut TracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| format!("no program `{name}`"))?
            .try_into()
            .map_err(|e| format!("{name}: {}", error_chain(&e)))?;
        prog.load()
            .map_err(|e| format!("load {name}: {}", error_chain(&e)))
    });
    r.clone().map_err(|reason| KernelError::Bpf {
        step: if stacks {
            "call stacks"
        } else {
            "task contexts"
        }
        .to_string(),
        reason,
    })
}

/// `/proc/sys/kernel/overflowuid` or `overflowgid`: what an id without a mapping reads as.
fn overflow_id(name: &str) -> u32 {
    std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65534)
}

/// How deep a call stack the recorder walks: lttng-modules' [`MAX_STACK_ENTRIES`], unless
/// the kernel caps eBPF stack walks lower (`kernel.perf_event_max_stack`, 127 by default:
/// then a stack of 128 frames or more is recorded as its innermost 127 and the
/// truncation mark, where lttng-modules records 128 and the mark).
pub fn stack_depth() -> usize {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_stack")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(MAX_STACK_ENTRIES)
        .clamp(1, MAX_STACK_ENTRIES)
}

/// The call stacks a recorder walks at the tracepoints that ask for them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackWalks {
    pub kernel: bool,
    pub user: bool,
}

impl StackWalks {
    /// `config[2]` of `task.bpf.c`: STACK_KERNEL (1) | STACK_USER (2).
    fn config(self) -> u32 {
        u32::from(self.kernel) | (u32::from(self.user) << 1)
    }

    pub fn any(self) -> bool {
        self.kernel || self.user
    }
}

/// A tracepoint the recorder attaches to, and whether its hits walk the call stacks.
pub type TaskEvent = (Arc<EventFormat>, bool);

fn map_config(ebpf: &mut Ebpf, values: &[(u32, u32)]) -> Result<(), KernelError> {
    let mut cfg: Array<_, u32> = Array::try_from(
        ebpf.map_mut("config")
            .ok_or_else(|| bpf_err("maps")("no map `config`".to_string()))?,
    )
    .map_err(|e| bpf_err("map config")(error_chain(&e)))?;
    for &(k, v) in values {
        cfg.set(k, v, 0)
            .map_err(|e| bpf_err("map config")(error_chain(&e)))?;
    }
    Ok(())
}

impl TaskRecorder {
    /// Loads the program and attaches it to each of `events`' tracepoints. Records go to `log`.
    pub fn start(
        events: &[Arc<EventFormat>],
        log: Arc<TaskLog>,
    ) -> Result<TaskRecorder, KernelError> {
        let events: Vec<TaskEvent> = events.iter().map(|f| (f.clone(), false)).collect();
        TaskRecorder::start_with_stacks(&events, StackWalks::default(), log)
    }

    /// Loads the programs and attaches one to each of `events`' tracepoints: the one that
    /// also walks the call stacks `walks` asks for where the event says so, else the one that
    /// does not (so that other events do not pay for the walks). Records go to `log`.
    pub fn start_with_stacks(
        events: &[TaskEvent],
        walks: StackWalks,
        log: Arc<TaskLog>,
    ) -> Result<TaskRecorder, KernelError> {
        if events.len() > MAX_ATTACHED {
            return Err(KernelError::BadConfig {
                what: "tracepoints for task contexts",
                value: events.len() as u64,
            });
        }
        let mut ebpf = Ebpf::load(OBJECT).map_err(|e| bpf_err("load")(error_chain(&e)))?;
        map_config(
            &mut ebpf,
            &[
                (0, overflow_id("overflowuid")),
                (1, overflow_id("overflowgid")),
                (2, walks.config()),
                (3, stack_depth() as u32),
            ],
        )?;
        let ring = RingBuf::try_from(
            ebpf.take_map("records")
                .ok_or_else(|| bpf_err("maps")("no map `records`".to_string()))?,
        )
        .map_err(|e| bpf_err("map records")(error_chain(&e)))?;
        let need_stacks = walks.any() && events.iter().any(|(_, s)| *s);
        for name in [PROGRAM, PROGRAM_STACKS] {
            if name == PROGRAM_STACKS && !need_stacks {
                continue;
            }
            let prog: &mut TracePoint = ebpf
                .program_mut(name)
                .ok_or_else(|| bpf_err("programs")(format!("no program `{name}`")))?
                .try_into()
                .map_err(|e| bpf_err(name)(error_chain(&e)))?;
            prog.load()
                .map_err(|e| bpf_err(format!("load {name}"))(error_chain(&e)))?;
        }
        let mut r = TaskRecorder {
            links: Vec::new(),
            attached: std::collections::HashSet::new(),
            walks,
            ebpf: Some(ebpf),
            log: log.clone(),
            poller: None,
        };
        r.attach_more(events)?;
        r.poller = Some(
            Poller::start(log, ring, "rttng-bpf-task", POLL_PERIOD)
                .map_err(|e| bpf_err("thread")(e.to_string()))?,
        );
        Ok(r)
    }

    /// Attaches a program to those of `events` it is not attached to yet (events enabled
    /// while tracing). An event attached already keeps its program: it walks no stacks if it
    /// was attached without.
    pub fn attach_more(&mut self, events: &[TaskEvent]) -> Result<(), KernelError> {
        let Some(ebpf) = self.ebpf.as_mut() else {
            return Ok(());
        };
        for (f, stacks) in events {
            if self.attached.contains(&f.id) {
                continue;
            }
            if self.links.len() >= MAX_ATTACHED {
                return Err(KernelError::BadConfig {
                    what: "tracepoints for task contexts",
                    value: self.links.len() as u64 + 1,
                });
            }
            // The payload bytes the program copies as the key.
            let mut lens: BpfHashMap<_, u32, u32> = BpfHashMap::try_from(
                ebpf.map_mut("key_lens")
                    .ok_or_else(|| bpf_err("maps")("no map `key_lens`".to_string()))?,
            )
            .map_err(|e| bpf_err("map key_lens")(error_chain(&e)))?;
            lens.insert(u32::from(f.id), key_len(f), 0)
                .map_err(|e| bpf_err("map key_lens")(error_chain(&e)))?;
            let name = if *stacks && self.walks.any() {
                PROGRAM_STACKS
            } else {
                PROGRAM
            };
            let prog_fd = ebpf
                .program(name)
                .ok_or_else(|| bpf_err("programs")(format!("no program `{name}`")))?
                .fd()
                .map_err(|e| bpf_err(name)(error_chain(&e)))?
                .as_fd();
            // The program learns which tracepoint fired from the cookie: its type id.
            let link = crate::sys::attach_tracepoint_with_cookie(
                prog_fd,
                u64::from(f.id),
                u64::from(f.id),
            )
            .map_err(|e| {
                bpf_err(format!("attach {name} to {}:{}", f.system, f.name))(e.to_string())
            })?;
            self.links.push(link);
            self.attached.insert(f.id);
        }
        Ok(())
    }

    /// Records lost because the ring buffer was full.
    pub fn lost(&self) -> u64 {
        let Some(ebpf) = self.ebpf.as_ref() else {
            return 0;
        };
        let Some(map) = ebpf.map("lost") else {
            return 0;
        };
        Array::<_, u64>::try_from(map)
            .ok()
            .and_then(|a| a.get(&0, 0).ok())
            .unwrap_or(0)
    }

    /// Moves the last records into the log and stops reading the ring buffer; the programs
    /// are detached and the BPF objects freed on a thread of their own, returned (detaching
    /// waits for RCU grace periods). Call it once the traced events are all recorded.
    pub fn stop_recording(&mut self) -> Option<JoinHandle<()>> {
        if let Some(mut p) = self.poller.take() {
            p.finish(&self.log);
        }
        detach_later(std::mem::take(&mut self.links), self.ebpf.take())
    }

    /// [`Self::stop_recording`], waiting for the detach.
    pub fn stop(&mut self) {
        if let Some(t) = self.stop_recording() {
            let _ = t.join();
        }
    }
}

impl Drop for TaskRecorder {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed object was built from the committed source (`bpf/build-task.sh` records
    /// the SHA-256 of its inputs and output in `task.bpf.sha256`).
    #[test]
    fn task_bpf_object_matches_its_source() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf");
        let out = std::process::Command::new("sha256sum")
            .args(["--check", "--strict", "task.bpf.sha256"])
            .current_dir(&dir)
            .output()
            .expect("sha256sum (coreutils) runs; install coreutils");
        assert!(
            out.status.success(),
            "task.bpf.o is not the build of task.bpf.c and build-task.sh: rerun bpf/build-task.sh (needs clang and libbpf-dev)\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn rec(tid: u32, type_id: u16, key: &[u8], pid: i32) -> TaskRecord {
        TaskRecord {
            tid,
            type_id,
            key: key.to_vec(),
            values: TaskValues {
                pid,
                ..TaskValues::default()
            },
        }
    }

    #[test]
    fn records_decode() {
        let mut b = vec![0u8; RECORD_BYTES];
        b[0..4].copy_from_slice(&7u32.to_le_bytes());
        b[4..6].copy_from_slice(&372u16.to_le_bytes());
        b[6..8].copy_from_slice(&3u16.to_le_bytes());
        b[8..11].copy_from_slice(b"abc");
        b[72..76].copy_from_slice(&42i32.to_le_bytes());
        b[96..100].copy_from_slice(&(-5i32).to_le_bytes());
        b[100..104].copy_from_slice(&1000u32.to_le_bytes());
        b[144..148].copy_from_slice(&65534u32.to_le_bytes());
        b[176..180].copy_from_slice(&4026531838u32.to_le_bytes());
        b[180..185].copy_from_slice(b"host\0");
        b[185] = b'x';
        let r = decode_record(&b).expect("decodes");
        assert_eq!((r.tid, r.type_id, r.key.as_slice()), (7, 372, &b"abc"[..]));
        assert_eq!((r.values.pid, r.values.nice), (42, -5));
        assert_eq!((r.values.ids[0], r.values.vids[5]), (1000, 65534));
        assert_eq!(r.values.ns[7], 4026531838);
        assert_eq!(&r.values.hostname[..6], b"host\0\0");
        assert_eq!(decode_record(&b[..RECORD_BYTES - 1]), None);
    }

    #[test]
    fn call_stacks_decode_with_lttngs_truncation_mark() {
        let mut b = vec![0u8; RECORD_BYTES + STACKS_HEADER_BYTES];
        // Two kernel entries (the walk filled its depth), one user entry.
        b[RECORD_BYTES..RECORD_BYTES + 6].copy_from_slice(&[2, 0, 1, 0, 1, 0]);
        for ip in [0xffff_ffff_8100_0000u64, 0xffff_ffff_8200_0000, 0x40_1151] {
            b.extend_from_slice(&ip.to_le_bytes());
        }
        let r = decode_record(&b).expect("decodes");
        assert_eq!(
            r.values.kernel_stack,
            [
                0xffff_ffff_8100_0000,
                0xffff_ffff_8200_0000,
                STACK_TRUNCATED_MARK
            ]
        );
        assert_eq!(r.values.user_stack, [0x40_1151]);
        // Lengths beyond the record: only the entries present, and no mark (the walk's
        // end was not seen).
        b[RECORD_BYTES..RECORD_BYTES + 2].copy_from_slice(&500u16.to_le_bytes());
        let r = decode_record(&b).expect("decodes");
        assert_eq!(r.values.kernel_stack.len(), 3);
        assert!(r.values.user_stack.is_empty());
        // No stack part: no stacks.
        let r = decode_record(&b[..RECORD_BYTES]).expect("decodes");
        assert!(r.values.kernel_stack.is_empty() && r.values.user_stack.is_empty());
    }

    #[test]
    fn matcher_takes_by_thread_type_and_key() {
        let log = TaskLog::from_records(vec![
            rec(1, 10, b"aaaa", 100),
            rec(2, 10, b"aaaa", 200),
            rec(1, 10, b"bbbb", 101),
            rec(1, 11, b"aaaa", 102),
        ]);
        let mut m = TaskMatcher::new();
        m.refresh(&log);
        let all = [(0, 4)];
        let pid = |v: Option<TaskValues>| v.map(|v| v.pid);
        // The record of "aaaa" was dropped by tracefs (a filter): "bbbb" takes its own.
        assert_eq!(pid(m.take(1, 10, b"bbbb", &all)), Some(101));
        assert_eq!(pid(m.take(1, 11, b"aaaa", &all)), Some(102));
        assert_eq!(pid(m.take(2, 10, b"aaaa", &all)), Some(200));
        assert_eq!(pid(m.take(1, 10, b"aaaa", &all)), Some(100));
        assert_eq!(pid(m.take(1, 10, b"aaaa", &all)), None);
    }

    #[test]
    fn each_channel_of_a_tracepoint_takes_the_record() {
        let log = TaskLog::from_records(vec![rec(1, 10, b"aaaa", 100), rec(1, 10, b"aaaa", 101)]);
        let mut m = TaskMatcher::new();
        m.add_reader(10, 1);
        m.add_reader(10, 2);
        m.refresh(&log);
        let all = [(0, 4)];
        let pid = |v: Option<TaskValues>| v.map(|v| v.pid);
        // Channel 1 takes both hits in order; channel 2 then gets the same two, not zeros.
        assert_eq!(pid(m.take_as(1, 1, 10, b"aaaa", &all)), Some(100));
        assert_eq!(pid(m.take_as(1, 1, 10, b"aaaa", &all)), Some(101));
        assert_eq!(pid(m.take_as(1, 1, 10, b"aaaa", &all)), None);
        assert_eq!(pid(m.take_as(2, 1, 10, b"aaaa", &all)), Some(100));
        assert_eq!(pid(m.take_as(2, 1, 10, b"aaaa", &all)), Some(101));
        assert_eq!(pid(m.take_as(2, 1, 10, b"aaaa", &all)), None);
        assert_eq!(m.total, 0, "taken by every reader: gone");
    }

    #[test]
    fn padding_is_not_compared() {
        let log = TaskLog::from_records(vec![rec(1, 10, b"ab\xff\xffcd", 5)]);
        let mut m = TaskMatcher::new();
        m.refresh(&log);
        assert_eq!(m.take(1, 10, b"ab\0\0ce", &[(0, 2), (4, 6)]), None);
        assert_eq!(
            m.take(1, 10, b"ab\0\0cd", &[(0, 2), (4, 6)]).map(|v| v.pid),
            Some(5)
        );
    }
}
