//! The path strings of the file and exec system calls, recorded with eBPF.
//!
//! The `syscalls/sys_enter_*` tracepoints record only the pointer of a path argument. A small
//! BPF program (`bpf/paths.bpf.c`, built by `bpf/build.sh`; the object is committed and
//! embedded here) is attached, as `path_argN`, to each enabled `sys_enter_X` whose argument N
//! is a path (`syscall_args::path_arg_mask`); it copies the string out of the caller's memory with
//! `bpf_probe_read_user_str` into a BPF ring buffer; a path whose page is not resident yet
//! (the program cannot fault it in) is read again by `path_retry` at the system call's exit,
//! after the kernel has copied it (not after a successful execve, whose old memory is gone:
//! that path comes from `sched_process_exec`). A [`PathRecorder`] loads and attaches it
//! and moves the ring buffer's records into a shared [`PathLog`]; a [`PathMatcher`] gives each
//! tracefs `sys_enter` record its strings: the next record of the same thread with the same
//! system call number, argument index and pointer value (the BPF clock is not the trace clock,
//! so records are matched by order per thread, never by time).
//!
//! It does not read strings behind other pointers (argv, buffers, structs), it does not follow
//! a pid filter's processes other than through `sched_process_fork`, and it never fails a
//! trace: the caller decides what to do when loading fails (fall back to pointers).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use aya::maps::{Array, HashMap as BpfHashMap, RingBuf};
use aya::programs::TracePoint;
use aya::Ebpf;

use crate::bpf_log::{detach_later, Poller, RingLog, RingRecord};
use crate::error::KernelError;
use crate::syscall_args::MAX_ARGS;

/// The BPF object built from `bpf/paths.bpf.c`.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/paths.bpf.o");

/// Bytes before the path in a ring-buffer record (`struct path_record` in `paths.bpf.c`).
pub const RECORD_HEADER_BYTES: usize = 24;
/// The longest path copied, NUL included (PATH_MAX).
pub const PATH_BYTES: usize = 4096;
/// Records a log keeps; later ones are counted in [`PathLog::dropped`].
pub const MAX_LOG_RECORDS: usize = 1 << 20;
/// Path bytes a log keeps.
pub const MAX_LOG_BYTES: usize = 256 << 20;
/// Records waiting per thread in a matcher; the oldest go first.
pub const MAX_QUEUE_PER_THREAD: usize = 256;
/// Threads with waiting records in a matcher.
pub const MAX_MATCHER_THREADS: usize = 65_536;
/// Records moved from the ring buffer per poll.
pub const MAX_RECORDS_PER_POLL: usize = 1 << 16;
/// How often the recorder's thread empties the ring buffer.
pub const POLL_PERIOD: Duration = Duration::from_millis(10);

/// What the BPF program read behind one path argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathValue {
    /// The string, without its NUL.
    Text(Vec<u8>),
    /// The read faulted (`-errno`), e.g. a bad pointer.
    Fault(i32),
}

/// One ring-buffer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathRecord {
    pub tid: u32,
    pub nr: u32,
    pub arg: u8,
    pub ptr: u64,
    pub value: PathValue,
}

/// Decode one ring-buffer record; `None` when it is too short or its argument index is out of
/// range.
pub fn decode_record(b: &[u8]) -> Option<PathRecord> {
    let u32_at =
        |o: usize| -> Option<u32> { Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?)) };
    let tid = u32_at(0)?;
    let nr = u32_at(4)?;
    let ptr = u64::from_le_bytes(b.get(8..16)?.try_into().ok()?);
    let arg = u32_at(16)?;
    let len = u32_at(20)? as i32;
    if arg as usize >= MAX_ARGS {
        return None;
    }
    let value = if len > 0 {
        let n = (len as usize - 1).min(PATH_BYTES - 1);
        let s = b.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + n)?;
        PathValue::Text(crate::convert::c_str(s).to_vec())
    } else {
        PathValue::Fault(len)
    };
    Some(PathRecord {
        tid,
        nr,
        arg: arg as u8,
        ptr,
        value,
    })
}

impl RingRecord for PathRecord {
    const MAX_LOG_RECORDS: usize = MAX_LOG_RECORDS;
    const MAX_LOG_BYTES: usize = MAX_LOG_BYTES;
    const MAX_RECORDS_PER_POLL: usize = MAX_RECORDS_PER_POLL;

    fn decode(bytes: &[u8]) -> Option<Self> {
        decode_record(bytes)
    }

    /// The path's bytes.
    fn log_bytes(&self) -> usize {
        match &self.value {
            PathValue::Text(t) => t.len(),
            PathValue::Fault(_) => 0,
        }
    }
}

/// Every path record of a session, in ring-buffer order (per thread, the order of the calls).
/// Shared between the recorder, the trace conversion and live viewers.
pub type PathLog = RingLog<PathRecord>;

/// Gives tracefs `sys_enter` records, taken in time order, their path strings.
#[derive(Debug, Default)]
pub struct PathMatcher {
    cursor: usize,
    queues: HashMap<u32, VecDeque<PathRecord>>,
}

impl PathMatcher {
    pub fn new() -> PathMatcher {
        PathMatcher::default()
    }

    /// Take in what the log gained since the last refresh.
    pub fn refresh(&mut self, log: &PathLog) {
        let new = log.records_from(self.cursor);
        self.cursor += new.len();
        for r in new {
            if !self.queues.contains_key(&r.tid) && self.queues.len() >= MAX_MATCHER_THREADS {
                continue;
            }
            let q = self.queues.entry(r.tid).or_default();
            if q.len() >= MAX_QUEUE_PER_THREAD {
                q.pop_front();
            }
            q.push_back(r);
        }
    }

    /// [`Self::refresh`] for the log's only reader: the records move out of the log.
    pub fn refresh_taking(&mut self, log: &PathLog) {
        log.poll();
        for r in log.take_all() {
            if !self.queues.contains_key(&r.tid) && self.queues.len() >= MAX_MATCHER_THREADS {
                continue;
            }
            let q = self.queues.entry(r.tid).or_default();
            if q.len() >= MAX_QUEUE_PER_THREAD {
                q.pop_front();
            }
            q.push_back(r);
        }
    }

    /// [`Self::take`] for records not taken in time order (a consumer converts one CPU after
    /// the other, and a thread may have moved between them): the oldest waiting record that
    /// matches, without dropping the older ones of the same call (they may belong to records
    /// of another CPU not converted yet; the per-thread bound drops them eventually).
    pub fn take_unordered(&mut self, tid: u32, nr: u32, arg: u8, ptr: u64) -> Option<PathValue> {
        let q = self.queues.get_mut(&tid)?;
        let i = q
            .iter()
            .position(|r| r.nr == nr && r.arg == arg && r.ptr == ptr)?;
        let r = q.remove(i)?;
        if q.is_empty() {
            self.queues.remove(&tid);
        }
        Some(r.value)
    }

    /// The string of argument `arg` of the system call `nr` that thread `tid` entered with
    /// pointer `ptr`: the oldest waiting record that matches. Older records of the same call
    /// and argument are dropped (their tracefs records never came, e.g. lost events).
    pub fn take(&mut self, tid: u32, nr: u32, arg: u8, ptr: u64) -> Option<PathValue> {
        let q = self.queues.get_mut(&tid)?;
        let i = q
            .iter()
            .position(|r| r.nr == nr && r.arg == arg && r.ptr == ptr)?;
        let mut k = 0;
        let mut idx = i;
        q.retain(|r| {
            let keep = !(k < i && r.nr == nr && r.arg == arg);
            if !keep {
                idx -= 1;
            }
            k += 1;
            keep
        });
        let r = q.remove(idx)?;
        if q.is_empty() {
            self.queues.remove(&tid);
        }
        Some(r.value)
    }
}

/// The loaded BPF programs, attached; records flow into a [`PathLog`] until [`stop`](Self::stop).
pub struct PathRecorder {
    /// The attachments, owned apart from the programs so that [`Self::stop`] can detach them
    /// all at once: each detach waits for an RCU grace period (~70 ms here), so detaching
    /// ~150 of them one after the other took 10 s.
    links: Vec<aya::programs::trace_point::TracePointLink>,
    ebpf: Option<Ebpf>,
    log: Arc<PathLog>,
    poller: Option<Poller>,
    attached: usize,
}

impl std::fmt::Debug for PathRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathRecorder")
            .field("attached", &self.attached)
            .finish()
    }
}

pub(crate) fn bpf_err(step: impl Into<String>) -> impl FnOnce(String) -> KernelError {
    let step = step.into();
    move |reason| KernelError::Bpf { step, reason }
}

impl PathRecorder {
    /// Load the programs and attach `path_argN` to each event `(sys_enter_X, mask)` for each
    /// bit N of its mask. With `tids`, record only those threads and their descendants.
    /// Records go to `log`.
    pub fn start(
        events: &[(String, u8)],
        tids: Option<&[u32]>,
        log: Arc<PathLog>,
    ) -> Result<PathRecorder, KernelError> {
        let mut ebpf = Ebpf::load(OBJECT).map_err(|e| bpf_err("load")(error_chain(&e)))?;
        let mut links = Vec::new();
        if let Some(tids) = tids {
            let mut map: BpfHashMap<_, u32, u32> = BpfHashMap::try_from(
                ebpf.map_mut("tids")
                    .ok_or_else(|| bpf_err("maps")("no map `tids`".to_string()))?,
            )
            .map_err(|e| bpf_err("map tids")(error_chain(&e)))?;
            for &t in tids {
                map.insert(t, 1, 0)
                    .map_err(|e| bpf_err("map tids")(error_chain(&e)))?;
            }
            let mut cfg: Array<_, u32> = Array::try_from(
                ebpf.map_mut("config")
                    .ok_or_else(|| bpf_err("maps")("no map `config`".to_string()))?,
            )
            .map_err(|e| bpf_err("map config")(error_chain(&e)))?;
            cfg.set(0, 1, 0)
                .map_err(|e| bpf_err("map config")(error_chain(&e)))?;
            let fork: &mut TracePoint = ebpf
                .program_mut("follow_fork")
                .ok_or_else(|| bpf_err("programs")("no program `follow_fork`".to_string()))?
                .try_into()
                .map_err(|e| bpf_err("follow_fork")(error_chain(&e)))?;
            fork.load()
                .map_err(|e| bpf_err("load follow_fork")(error_chain(&e)))?;
            let id = fork
                .attach("sched", "sched_process_fork")
                .map_err(|e| bpf_err("attach sched_process_fork")(error_chain(&e)))?;
            links.push(
                fork.take_link(id)
                    .map_err(|e| bpf_err("link")(error_chain(&e)))?,
            );
        }
        let ring = RingBuf::try_from(
            ebpf.take_map("records")
                .ok_or_else(|| bpf_err("maps")("no map `records`".to_string()))?,
        )
        .map_err(|e| bpf_err("map records")(error_chain(&e)))?;
        let mut attached = 0;
        for arg in 0..MAX_ARGS as u8 {
            if !events.iter().any(|(_, m)| m & (1 << arg) != 0) {
                continue;
            }
            let name = format!("path_arg{arg}");
            let prog: &mut TracePoint = ebpf
                .program_mut(&name)
                .ok_or_else(|| bpf_err("programs")(format!("no program `{name}`")))?
                .try_into()
                .map_err(|e| bpf_err(name.clone())(error_chain(&e)))?;
            prog.load()
                .map_err(|e| bpf_err(format!("load {name}"))(error_chain(&e)))?;
            for (event, mask) in events {
                if mask & (1 << arg) != 0 {
                    let id = prog.attach("syscalls", event).map_err(|e| {
                        bpf_err(format!("attach {name} to {event}"))(error_chain(&e))
                    })?;
                    links.push(
                        prog.take_link(id)
                            .map_err(|e| bpf_err("link")(error_chain(&e)))?,
                    );
                    attached += 1;
                }
            }
        }
        // Paths not resident at entry are read again at exit.
        let retry: &mut TracePoint = ebpf
            .program_mut("path_retry")
            .ok_or_else(|| bpf_err("programs")("no program `path_retry`".to_string()))?
            .try_into()
            .map_err(|e| bpf_err("path_retry")(error_chain(&e)))?;
        retry
            .load()
            .map_err(|e| bpf_err("load path_retry")(error_chain(&e)))?;
        for (event, _) in events {
            let Some(call) = event.strip_prefix("sys_enter_") else {
                continue;
            };
            let exit = format!("sys_exit_{call}");
            // A missing exit tracepoint only loses the retry.
            if let Ok(id) = retry.attach("syscalls", &exit) {
                if let Ok(link) = retry.take_link(id) {
                    links.push(link);
                }
                attached += 1;
            }
        }
        let poller = Poller::start(log.clone(), ring, "rttng-bpf-paths", POLL_PERIOD)
            .map_err(|e| bpf_err("thread")(e.to_string()))?;
        Ok(PathRecorder {
            links,
            ebpf: Some(ebpf),
            log,
            poller: Some(poller),
            attached,
        })
    }

    /// Detach every program, move the last records into the log and free the BPF objects.
    pub fn stop(&mut self) {
        if let Some(detach) = self.stop_recording() {
            let _ = detach.join();
        }
    }

    /// Move the last records into the log and stop reading the ring buffer; then detach the
    /// programs and free the BPF objects on a thread of their own, returned. Call it once the
    /// traced events are all recorded (tracefs off, its buffers drained): a program still
    /// attached only writes records for system calls the trace does not have. Detaching
    /// waits for RCU grace periods (about a second here, even for all links at once), which
    /// then overlaps whatever the caller does next (writing the trace).
    pub fn stop_recording(&mut self) -> Option<JoinHandle<()>> {
        if let Some(mut p) = self.poller.take() {
            p.finish(&self.log);
        }
        detach_later(std::mem::take(&mut self.links), self.ebpf.take())
    }
}

impl Drop for PathRecorder {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    let mut depth = 0;
    while let Some(x) = src {
        if depth >= 8 {
            break;
        }
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
        depth += 1;
    }
    s
}

/// strace's quoting of a path: `"…"` with C escapes for what is not printable ASCII.
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                // Octal, padded only when a digit follows (strace's rule).
                let next_digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
                if next_digit {
                    s.push_str(&format!("\\{b:03o}"));
                } else {
                    s.push_str(&format!("\\{b:o}"));
                }
            }
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(tid: u32, nr: u32, arg: u8, ptr: u64, s: &str) -> PathRecord {
        PathRecord {
            tid,
            nr,
            arg,
            ptr,
            value: PathValue::Text(s.as_bytes().to_vec()),
        }
    }

    /// The committed object was built from the committed source: `bpf/build.sh` records the
    /// SHA-256 of its inputs and output in `paths.bpf.sha256`; editing `paths.bpf.c` (or the
    /// build) without rebuilding, or replacing the object, fails here.
    #[test]
    fn bpf_object_matches_its_source() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf");
        let out = std::process::Command::new("sha256sum")
            .args(["--check", "--strict", "paths.bpf.sha256"])
            .current_dir(&dir)
            .output()
            .expect("sha256sum (coreutils) runs; install coreutils");
        assert!(
            out.status.success(),
            "paths.bpf.o is not the build of paths.bpf.c and build.sh: rerun bpf/build.sh (needs clang and libbpf-dev)\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn records_decode() {
        let mut b = vec![0u8; RECORD_HEADER_BYTES + 16];
        b[0..4].copy_from_slice(&7u32.to_le_bytes());
        b[4..8].copy_from_slice(&257u32.to_le_bytes());
        b[8..16].copy_from_slice(&0xdead_beefu64.to_le_bytes());
        b[16..20].copy_from_slice(&1u32.to_le_bytes());
        b[20..24].copy_from_slice(&5i32.to_le_bytes());
        b[24..29].copy_from_slice(b"/etc\0");
        assert_eq!(decode_record(&b), Some(rec(7, 257, 1, 0xdead_beef, "/etc")));
        b[20..24].copy_from_slice(&(-14i32).to_le_bytes());
        assert_eq!(
            decode_record(&b).map(|r| r.value),
            Some(PathValue::Fault(-14))
        );
        b[16..20].copy_from_slice(&6u32.to_le_bytes());
        assert_eq!(decode_record(&b), None);
        assert_eq!(decode_record(&b[..10]), None);
    }

    #[test]
    fn matcher_takes_in_order_per_thread() {
        let log = PathLog::from_records(vec![
            rec(1, 257, 1, 0x10, "/a"),
            rec(2, 257, 1, 0x10, "/other-thread"),
            rec(1, 257, 1, 0x10, "/b"),
            rec(1, 316, 1, 0x20, "/old"),
            rec(1, 316, 3, 0x30, "/new"),
        ]);
        let mut m = PathMatcher::new();
        m.refresh(&log);
        let t = |v: Option<PathValue>| match v {
            Some(PathValue::Text(t)) => String::from_utf8(t).unwrap_or_default(),
            other => format!("{other:?}"),
        };
        assert_eq!(t(m.take(1, 257, 1, 0x10)), "/a");
        assert_eq!(t(m.take(1, 257, 1, 0x10)), "/b");
        assert_eq!(t(m.take(1, 316, 3, 0x30)), "/new");
        assert_eq!(t(m.take(1, 316, 1, 0x20)), "/old");
        assert_eq!(m.take(1, 257, 1, 0x10), None);
        assert_eq!(t(m.take(2, 257, 1, 0x10)), "/other-thread");
    }

    #[test]
    fn matcher_skips_records_whose_event_was_lost() {
        let log = PathLog::from_records(vec![
            rec(1, 257, 1, 0x10, "/lost"),
            rec(1, 257, 1, 0x18, "/kept"),
        ]);
        let mut m = PathMatcher::new();
        m.refresh(&log);
        assert_eq!(
            m.take(1, 257, 1, 0x18),
            Some(PathValue::Text(b"/kept".to_vec()))
        );
        assert_eq!(m.take(1, 257, 1, 0x10), None);
    }

    #[test]
    fn quoting_like_strace() {
        assert_eq!(quote(b"/etc/ld.so.cache"), "\"/etc/ld.so.cache\"");
        assert_eq!(quote(b"a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote(&[0xff, b'x']), "\"\\377x\"");
        assert_eq!(quote(&[1, b'2']), "\"\\0012\"");
    }
}
