//! The figures of `rttng top`, computed from trace events only: per-task CPU time from
//! `sched_switch`, per-task system-call counts and rates, read/write/network bytes from the
//! return values of the I/O system calls, and the busiest user-space events.
//!
//! Pure: events go in through [`Aggregator::feed`], tables come out of
//! [`Aggregator::snapshot`]; no clock, no I/O, no /proc (names come from `sched_switch` and
//! the system-call events' task). Rows are tasks (the kernel's tid: `sched_switch` and the
//! system-call records carry no process id).
//!
//! CPU time: on each CPU, the task switched in runs until the next switch on that CPU. A task
//! still running at a snapshot is credited up to the latest event seen on its CPU, so every
//! figure is a sum of intervals that lie between events of the trace (see
//! `cpu_time_definition` in the tests: the same rule, from the trace, gives the same totals).
//!
//! Kernel events are counted per CPU in a [`CpuCounts`]: fixed-size tables (tasks by tid,
//! system calls by a small id) that take no allocation per event, so that `rttng top` can
//! count in its drain threads, one `CpuCounts` per CPU, and [`Aggregator::merge`] them at each
//! refresh. [`Aggregator::feed`] goes through the same tables.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

mod render;
#[cfg(test)]
mod tests;

pub use render::{filter_tasks, human, render_text, render_totals, sort_tasks, SortKey};

/// Most tasks tracked at once; past it, the least recently seen are forgotten.
pub const MAX_TASKS: usize = 65536;
/// Most distinct system-call and user-space event names tracked.
pub const MAX_NAMES: usize = 8192;
/// Longest task or event name kept.
pub const MAX_NAME_BYTES: usize = 256;
/// Slots of one CPU's task table. It takes at most [`CPU_MAX_TASKS`] tasks per refresh;
/// those past it are counted together in the [`OTHER_TASKS_TID`] row.
pub const CPU_TASK_SLOTS: usize = 4096;
/// Most tasks one CPU's table holds between two merges (3/4 of its slots, for short probes).
pub const CPU_MAX_TASKS: usize = CPU_TASK_SLOTS / 4 * 3;
/// The row of the tasks a full per-CPU table could not take.
pub const OTHER_TASKS_TID: i64 = -1;
/// Most distinct system calls counted (Linux has about 450).
pub const MAX_SYSCALLS: usize = 2048;
/// The kernel's task name length (`TASK_COMM_LEN`).
pub const COMM_BYTES: usize = 16;

/// One decoded trace event, as the aggregator needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    Switch {
        cpu: u32,
        ts_ns: i64,
        prev_tid: i64,
        prev_comm: &'a str,
        next_tid: i64,
        next_comm: &'a str,
    },
    SyscallEntry {
        cpu: u32,
        ts_ns: i64,
        tid: i64,
        name: &'a str,
    },
    SyscallExit {
        cpu: u32,
        ts_ns: i64,
        tid: i64,
        name: &'a str,
        ret: i64,
    },
    /// A user-space event (counted by name).
    User { name: &'a str },
}

/// What a system call's positive return value counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoKind {
    Read,
    Write,
    NetIn,
    NetOut,
}

/// The I/O system calls whose return value is a byte count.
pub fn io_kind(syscall: &str) -> Option<IoKind> {
    Some(match syscall {
        "read" | "pread64" | "readv" | "preadv" | "preadv2" => IoKind::Read,
        "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "sendfile64" | "splice" => {
            IoKind::Write
        }
        "recvfrom" | "recvmsg" | "recvmmsg" => IoKind::NetIn,
        "sendto" | "sendmsg" | "sendmmsg" => IoKind::NetOut,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    cpu_ns: u64,
    syscalls: u64,
    read_bytes: u64,
    write_bytes: u64,
    net_bytes: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.cpu_ns += o.cpu_ns;
        self.syscalls += o.syscalls;
        self.read_bytes += o.read_bytes;
        self.write_bytes += o.write_bytes;
        self.net_bytes += o.net_bytes;
    }
}

#[derive(Clone, Debug, Default)]
struct Task {
    name: String,
    interval: Counts,
    total: Counts,
    last_seen: u64,
}

/// One task's slot in a CPU table.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    used: bool,
    tid: i64,
    comm_len: u8,
    comm: [u8; COMM_BYTES],
    counts: Counts,
}

impl Slot {
    fn set_comm(&mut self, comm: &[u8]) {
        let n = comm.len().min(COMM_BYTES);
        self.comm[..n].copy_from_slice(&comm[..n]);
        self.comm_len = n as u8;
    }
}

/// The counts of one CPU since the last merge, in fixed-size tables: no allocation per event.
/// Kernel events of one CPU go in in order.
#[derive(Clone, Debug)]
pub struct CpuCounts {
    /// The task running since `since_ns`, once a switch was seen.
    running: Option<(i64, i64)>,
    last_ts_ns: i64,
    /// Open addressing by tid, linear probing; `used` slots in use.
    slots: Box<[Slot]>,
    used: usize,
    /// The tasks past [`CPU_MAX_TASKS`].
    other: Slot,
    /// Entries per system-call id.
    syscalls: Box<[u64]>,
}

impl Default for CpuCounts {
    fn default() -> Self {
        CpuCounts::new()
    }
}

impl CpuCounts {
    pub fn new() -> CpuCounts {
        CpuCounts {
            running: None,
            last_ts_ns: 0,
            slots: vec![Slot::default(); CPU_TASK_SLOTS].into_boxed_slice(),
            used: 0,
            other: Slot {
                used: true,
                tid: OTHER_TASKS_TID,
                ..Slot::default()
            },
            syscalls: vec![0; MAX_SYSCALLS].into_boxed_slice(),
        }
    }

    fn slot(&mut self, tid: i64) -> &mut Slot {
        let mask = CPU_TASK_SLOTS - 1;
        let mut i = ((tid as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize & mask;
        // At most CPU_MAX_TASKS slots are used, so a free one ends every probe.
        loop {
            let s = &self.slots[i];
            if s.used && s.tid == tid {
                return &mut self.slots[i];
            }
            if !s.used {
                if self.used >= CPU_MAX_TASKS {
                    return &mut self.other;
                }
                self.used += 1;
                let s = &mut self.slots[i];
                s.used = true;
                s.tid = tid;
                return s;
            }
            i = (i + 1) & mask;
        }
    }

    /// An event of this CPU at `ts_ns` (a running task is credited up to the latest one at
    /// the next merge).
    pub fn saw(&mut self, ts_ns: i64) {
        self.last_ts_ns = self.last_ts_ns.max(ts_ns);
    }

    /// `sched_switch` at `ts_ns`: the task that ran since the previous switch is credited.
    pub fn switch(
        &mut self,
        ts_ns: i64,
        prev_tid: i64,
        prev_comm: &[u8],
        next_tid: i64,
        next_comm: &[u8],
    ) {
        self.saw(ts_ns);
        if let Some((tid, since)) = self.running.replace((next_tid, ts_ns)) {
            let ns = ts_ns - since;
            if tid != 0 && ns > 0 {
                self.slot(tid).counts.cpu_ns += ns as u64;
            }
        }
        for (tid, comm) in [(prev_tid, prev_comm), (next_tid, next_comm)] {
            if tid != 0 && !comm.is_empty() {
                self.slot(tid).set_comm(comm);
            }
        }
    }

    /// A system-call entry of `tid`; `id` from [`Aggregator::syscall_id`] (out of range:
    /// counted for the task only).
    pub fn syscall(&mut self, tid: i64, id: u16) {
        self.slot(tid).counts.syscalls += 1;
        if let Some(c) = self.syscalls.get_mut(usize::from(id)) {
            *c += 1;
        }
    }

    /// An I/O system call of `tid` returned `ret` (bytes when positive).
    pub fn io(&mut self, tid: i64, kind: IoKind, ret: i64) {
        if ret <= 0 {
            return;
        }
        let c = &mut self.slot(tid).counts;
        let n = ret as u64;
        match kind {
            IoKind::Read => c.read_bytes += n,
            IoKind::Write => c.write_bytes += n,
            IoKind::NetIn | IoKind::NetOut => c.net_bytes += n,
        }
    }

    /// Credits the running task up to the latest event (a refresh).
    fn close_interval(&mut self) {
        if let Some((tid, since)) = self.running {
            let ns = self.last_ts_ns - since;
            if ns > 0 {
                self.running = Some((tid, self.last_ts_ns));
                if tid != 0 {
                    self.slot(tid).counts.cpu_ns += ns as u64;
                }
            }
        }
    }

    /// Moves the counts (not the running task) into `empty`, whose tables must be zero.
    fn swap_tables(&mut self, empty: &mut CpuCounts) {
        std::mem::swap(&mut self.slots, &mut empty.slots);
        std::mem::swap(&mut self.used, &mut empty.used);
        std::mem::swap(&mut self.other, &mut empty.other);
        std::mem::swap(&mut self.syscalls, &mut empty.syscalls);
    }

    /// Zeroes the tables.
    fn clear(&mut self) {
        if self.used > 0 {
            self.slots.fill(Slot::default());
            self.used = 0;
        }
        self.other.counts = Counts::default();
        self.syscalls.fill(0);
    }
}

/// Running totals and the counts of the current interval.
#[derive(Default)]
pub struct Aggregator {
    tasks: HashMap<i64, Task>,
    /// The CPUs of the events given to [`Aggregator::feed`].
    fed: BTreeMap<u32, CpuCounts>,
    /// Swapped with a CPU's tables at a merge, so that the lock is held only for the swap.
    spare: Option<CpuCounts>,
    /// By system-call id: the name, the count of this interval, the total.
    syscalls: Vec<(String, u64, u64)>,
    syscall_ids: HashMap<String, u16>,
    user: HashMap<String, (u64, u64)>,
    serial: u64,
}

/// One task's row.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    pub tid: i64,
    pub name: String,
    /// Of one CPU, over the interval.
    pub cpu_percent: f64,
    pub cpu_ns: u64,
    pub syscalls: u64,
    pub syscalls_per_s: f64,
    pub read_bytes_per_s: f64,
    pub write_bytes_per_s: f64,
    pub net_bytes_per_s: f64,
    pub total_cpu_ns: u64,
    pub total_syscalls: u64,
}

/// A named counter's row (system calls, user-space events).
#[derive(Clone, Debug, PartialEq)]
pub struct NameRow {
    pub name: String,
    pub count: u64,
    pub per_s: f64,
    pub total: u64,
}

/// The tables of one interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub interval_s: f64,
    pub tasks: Vec<TaskRow>,
    pub syscalls: Vec<NameRow>,
    pub user: Vec<NameRow>,
}

fn clip(s: &str) -> &str {
    if s.len() <= MAX_NAME_BYTES {
        return s;
    }
    let mut end = MAX_NAME_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn bump(map: &mut HashMap<String, (u64, u64)>, name: &str) {
    if let Some(c) = map.get_mut(name) {
        c.0 += 1;
        return;
    }
    if map.len() < MAX_NAMES {
        map.insert(clip(name).to_owned(), (1, 0));
    }
}

impl Aggregator {
    pub fn new() -> Aggregator {
        Aggregator::default()
    }

    fn task(&mut self, tid: i64) -> &mut Task {
        self.serial += 1;
        if !self.tasks.contains_key(&tid) && self.tasks.len() >= MAX_TASKS {
            if let Some(&old) = self
                .tasks
                .iter()
                .min_by_key(|(_, t)| t.last_seen)
                .map(|(k, _)| k)
            {
                self.tasks.remove(&old);
            }
        }
        let serial = self.serial;
        let t = self.tasks.entry(tid).or_default();
        t.last_seen = serial;
        t
    }

    /// The id of system call `name` (interned on first use; `None` past [`MAX_SYSCALLS`]).
    pub fn syscall_id(&mut self, name: &str) -> Option<u16> {
        if let Some(&id) = self.syscall_ids.get(name) {
            return Some(id);
        }
        if self.syscalls.len() >= MAX_SYSCALLS {
            return None;
        }
        let id = self.syscalls.len() as u16;
        let name = clip(name).to_owned();
        self.syscalls.push((name.clone(), 0, 0));
        self.syscall_ids.insert(name, id);
        Some(id)
    }

    pub fn feed(&mut self, ev: Input<'_>) {
        let id = match ev {
            Input::SyscallEntry { name, .. } => self.syscall_id(name),
            _ => None,
        };
        match ev {
            Input::Switch {
                cpu,
                ts_ns,
                prev_tid,
                prev_comm,
                next_tid,
                next_comm,
            } => self.fed.entry(cpu).or_default().switch(
                ts_ns,
                prev_tid,
                prev_comm.as_bytes(),
                next_tid,
                next_comm.as_bytes(),
            ),
            Input::SyscallEntry {
                cpu, ts_ns, tid, ..
            } => {
                let c = self.fed.entry(cpu).or_default();
                c.saw(ts_ns);
                c.syscall(tid, id.unwrap_or(u16::MAX));
            }
            Input::SyscallExit {
                cpu,
                ts_ns,
                tid,
                name,
                ret,
            } => {
                let c = self.fed.entry(cpu).or_default();
                c.saw(ts_ns);
                if let Some(kind) = io_kind(name) {
                    c.io(tid, kind, ret);
                }
            }
            Input::User { name } => bump(&mut self.user, name),
        }
    }

    /// Takes the counts of one CPU counted elsewhere (a drain thread) into this interval; the
    /// CPU's running task is credited up to its latest event. The lock is held only to swap
    /// the tables.
    pub fn merge(&mut self, cpu: &Mutex<CpuCounts>) {
        let mut spare = self.spare.take().unwrap_or_default();
        {
            let mut c = cpu.lock().unwrap_or_else(|e| e.into_inner());
            c.close_interval();
            c.swap_tables(&mut spare);
        }
        self.absorb(&spare);
        spare.clear();
        self.spare = Some(spare);
    }

    fn absorb(&mut self, c: &CpuCounts) {
        for s in c.slots.iter().filter(|s| s.used).chain([&c.other]) {
            let n = s.counts;
            if s.tid == OTHER_TASKS_TID
                && n.cpu_ns == 0
                && n.syscalls == 0
                && n.read_bytes == 0
                && n.write_bytes == 0
                && n.net_bytes == 0
            {
                continue;
            }
            let t = self.task(s.tid);
            t.interval.add(&n);
            if s.tid == OTHER_TASKS_TID {
                if t.name.is_empty() {
                    t.name = "(other tasks)".into();
                }
            } else if s.comm_len > 0 {
                let comm = &s.comm[..usize::from(s.comm_len)];
                if t.name.as_bytes() != comm {
                    t.name = clip(&String::from_utf8_lossy(comm)).to_owned();
                }
            }
        }
        for (row, &n) in self.syscalls.iter_mut().zip(c.syscalls.iter()) {
            row.1 += n;
        }
    }

    /// The tables of the interval that ends now (`interval_s` long, > 0), and a new interval.
    /// Tasks running now are credited up to the latest event of their CPU.
    pub fn snapshot(&mut self, interval_s: f64) -> Snapshot {
        let mut fed = std::mem::take(&mut self.fed);
        for c in fed.values_mut() {
            c.close_interval();
            self.absorb(c);
            c.clear();
        }
        self.fed = fed;
        let secs = if interval_s > 0.0 { interval_s } else { 1.0 };
        let mut tasks = Vec::new();
        for (&tid, t) in &mut self.tasks {
            let i = std::mem::take(&mut t.interval);
            t.total.add(&i);
            if t.total.cpu_ns == 0 && t.total.syscalls == 0 {
                continue;
            }
            tasks.push(TaskRow {
                tid,
                name: t.name.clone(),
                cpu_percent: i.cpu_ns as f64 / 1e9 / secs * 100.0,
                cpu_ns: i.cpu_ns,
                syscalls: i.syscalls,
                syscalls_per_s: i.syscalls as f64 / secs,
                read_bytes_per_s: i.read_bytes as f64 / secs,
                write_bytes_per_s: i.write_bytes as f64 / secs,
                net_bytes_per_s: i.net_bytes as f64 / secs,
                total_cpu_ns: t.total.cpu_ns,
                total_syscalls: t.total.syscalls,
            });
        }
        let mut syscalls: Vec<NameRow> = self
            .syscalls
            .iter_mut()
            .filter(|(_, cur, total)| *cur > 0 || *total > 0)
            .map(|(name, cur, total)| {
                *total += *cur;
                let count = std::mem::take(cur);
                NameRow {
                    name: name.clone(),
                    count,
                    per_s: count as f64 / secs,
                    total: *total,
                }
            })
            .collect();
        syscalls.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
        let rows = |map: &mut HashMap<String, (u64, u64)>| -> Vec<NameRow> {
            let mut out: Vec<NameRow> = map
                .iter_mut()
                .map(|(name, (cur, total))| {
                    *total += *cur;
                    let count = std::mem::take(cur);
                    NameRow {
                        name: name.clone(),
                        count,
                        per_s: count as f64 / secs,
                        total: *total,
                    }
                })
                .collect();
            out.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
            out
        };
        let user = rows(&mut self.user);
        let mut s = Snapshot {
            interval_s: secs,
            tasks,
            syscalls,
            user,
        };
        sort_tasks(&mut s.tasks, SortKey::Cpu);
        s
    }
}
