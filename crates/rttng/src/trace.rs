//! `rttng trace [-k] [-u] [-o DIR] -- CMD ARGS…`: the strace replacement. It runs CMD in a
//! temporary kernel session that records every system call of CMD and its descendants (tracefs
//! pid filter with `event-fork`), prints them live in strace's style on standard error, and
//! keeps the CTF trace at the path it prints at the end.
//!
//! What it decodes: system call names, arguments typed from the tracepoint formats (`AT_FDCWD`,
//! `O_*` open flags, octal modes, hex pointers) and return values (`-1 ENOENT (...)`). Path
//! arguments (openat's `filename`, execve's, stat's, ...) are shown as strace quotes them, from
//! the session's eBPF path recorder (`rttng_kernel::bpf`), matched to each thread's entries in
//! time order; when eBPF cannot load, one warning line says why and pointers are shown (the
//! execve path then still comes from `sched_process_exec`). Strings behind other pointers
//! (argv, buffers) are not shown. User-space events (`-u`) are not recorded here.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use rttng_kernel::{
    quote, ChannelConfig, Context, KernelSession, LiveRecord, PathLog, PathMatcher, PathValue,
    Syscalls,
};

use crate::cli::TraceArgs;

/// open(2) flags after which strace shows the mode argument.
const O_CREAT: u64 = 0o100;
const O_TMPFILE: u64 = 0o20000000;

/// Longest time an event is held back waiting for the other CPUs' passes (a CPU the drain
/// never reports would otherwise hold every line until the end). A record is printed once
/// every CPU has been drained past its time (the drain reports each finished pass), so the
/// CPUs' pages come out in time order however late the drain thread runs: a fixed window of
/// 30 ms, then 250 ms, was too short under the parallel test suite at load 13 (an execve's
/// entry came after its exit).
const REORDER_LIMIT_NS: u64 = 5_000_000_000;

/// What the drain threads send the printer.
enum Drained {
    /// The records of one page of one CPU, in order.
    Records(Vec<Rec>),
    /// A pass over CPU `cpu` ended; `at`: the trace clock when the observer was called.
    Passed { cpu: u32, at: u64 },
}
/// How often the printer flushes what is older than the window.
const PRINT_PERIOD: Duration = Duration::from_millis(10);

/// One decoded record, ready to print.
#[derive(Debug, Clone)]
struct Rec {
    ts: u64,
    tid: i32,
    kind: RecKind,
}

#[derive(Debug, Clone)]
enum RecKind {
    Enter {
        name: String,
        args: Vec<String>,
        /// Path arguments to fill from the eBPF records: (index in `args`, pointer).
        paths: Vec<(u8, u64)>,
        nr: u32,
    },
    Exit {
        name: String,
        ret: i64,
    },
    Exec {
        filename: String,
    },
    ProcessExit {
        tid: i32,
    },
}

pub fn run(args: &TraceArgs) -> Result<()> {
    if args.command.is_empty() {
        bail!("no command given; usage: rttng trace -- CMD ARGS…");
    }
    if args.user {
        // Refused rather than ignored: a script asking for user-space events must not get
        // a kernel-only trace in silence.
        bail!("-u: `rttng trace` records the kernel domain only; for user-space events use `rttng create`, `rttng enable-event -u` and `rttng start`");
    }
    let _ = rttng_kernel::cleanup_stale_instances();
    let out_dir = match &args.output {
        Some(d) => d.clone(),
        None => default_output_dir(),
    };
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut session = KernelSession::create("trace", &out_dir, ChannelConfig::default()).context(
        "creating the kernel session (the kernel domain needs root or the `tracing` group)",
    )?;
    session.enable_syscalls("channel0", &Syscalls::All)?;
    for ev in [
        "sched_process_exec",
        "sched_process_exit",
        "sched_process_fork",
    ] {
        session.enable_tracepoints("channel0", ev)?;
    }
    session.add_context("channel0", Context::Pid)?;
    session.add_context("channel0", Context::Tid)?;
    session.add_context("channel0", Context::Procname)?;

    let (tx, rx) = mpsc::channel::<Drained>();
    let pass_clock = session.clock().clone();
    session.set_live_observer(move |cpu, records: &[LiveRecord<'_>]| {
        if records.is_empty() {
            let at = pass_clock.now();
            let _ = tx.send(Drained::Passed { cpu, at });
            return;
        }
        let recs: Vec<Rec> = records.iter().filter_map(decode).collect();
        if !recs.is_empty() {
            let _ = tx.send(Drained::Records(recs));
        }
    });

    let mut child = rttng_kernel::spawn_paused(&args.command)
        .with_context(|| format!("starting {}", args.command[0]))?;
    let root_pid = child.pid() as i32;
    session.filter_pids(&[child.pid()], true)?;
    session.start()?;
    if let Some(w) = session.path_warning() {
        eprintln!("rttng trace: warning: {w}");
    }
    let clock = session.clock().clone();
    let path_log = session.path_log();
    let printer = std::thread::spawn(move || print_loop(rx, root_pid, &clock, path_log));
    child.release().context("releasing the traced command")?;
    let code = child.wait().context("waiting for the traced command")?;
    let report = session.stop()?;
    session.destroy()?;
    // The observer (and its sender) went away with the session: the printer drains and ends.
    let _ = printer.join();
    eprintln!("+++ exited with {code} +++");
    eprintln!(
        "rttng trace: {} events, {} lost; trace written to {}",
        report.events_written,
        report.events_discarded,
        report.trace_dir.display()
    );
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

fn default_output_dir() -> PathBuf {
    let home = std::env::var_os("RTTNG_HOME")
        .or_else(|| std::env::var_os("HOME"))
        .unwrap_or_else(|| "/tmp".into());
    let stamp = rttng_kernel::datetime_now();
    let stamp = stamp.trim_end_matches("+0000").replace('T', "-");
    PathBuf::from(home)
        .join("rttng-traces")
        .join(format!("trace-{stamp}-{}", std::process::id()))
}

fn decode(r: &LiveRecord<'_>) -> Option<Rec> {
    let tid = r.tid()?;
    let kind = if let Some(name) = r.name().strip_prefix("syscall_entry_") {
        let mut args: Vec<String> = r
            .fields()
            .map(|f| format_arg(name, f.name, f.value, f.pointer))
            .collect();
        // strace shows open's mode only when the flags can create a file.
        if matches!(name, "openat" | "open") {
            if let Some(fl) = r.int("flags") {
                if fl as u64 & (O_CREAT | O_TMPFILE) == 0
                    && r.fields().last().is_some_and(|f| f.name == "mode")
                {
                    args.pop();
                }
            }
        }
        let (nr, paths) = r.path_args();
        RecKind::Enter {
            name: name.to_string(),
            args,
            paths,
            nr,
        }
    } else if let Some(name) = r.name().strip_prefix("syscall_exit_") {
        RecKind::Exit {
            name: name.to_string(),
            ret: r.int("ret")? as i64,
        }
    } else if r.tracefs_name() == "sched_process_exec" {
        RecKind::Exec {
            filename: String::from_utf8_lossy(r.string("filename")?).into_owned(),
        }
    } else if r.tracefs_name() == "sched_process_exit" {
        RecKind::ProcessExit { tid }
    } else {
        return None;
    };
    Some(Rec {
        ts: r.timestamp,
        tid,
        kind,
    })
}

fn format_arg(syscall: &str, name: &str, value: Option<i128>, pointer: bool) -> String {
    let Some(v) = value else {
        return "?".to_string();
    };
    if pointer {
        return if v == 0 {
            "NULL".to_string()
        } else {
            format!("{v:#x}")
        };
    }
    match name {
        "dfd" | "olddfd" | "newdfd" | "fd" if v == -100 => "AT_FDCWD".to_string(),
        "flags" if matches!(syscall, "openat" | "open" | "openat2") => open_flags(v as u64),
        "mode"
            if matches!(
                syscall,
                "openat" | "open" | "creat" | "mkdir" | "mkdirat" | "chmod" | "fchmod" | "fchmodat"
            ) =>
        {
            format!("{v:#o}")
        }
        "prot" => flags(
            v as u64,
            &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")],
            "PROT_NONE",
        ),
        _ if !(-0xffff..=0xffff).contains(&v) => format!("{v:#x}"),
        _ => v.to_string(),
    }
}

fn flags(v: u64, table: &[(u64, &str)], zero: &str) -> String {
    if v == 0 {
        return zero.to_string();
    }
    let mut parts = Vec::new();
    let mut rest = v;
    for &(bit, name) in table {
        if v & bit == bit && bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

fn open_flags(v: u64) -> String {
    let access = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let table: &[(u64, &str)] = &[
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"),
        (0o20000, "O_ASYNC"),
        (0o40000, "O_DIRECT"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
        (0o20000000 | 0o200000, "O_TMPFILE"),
    ];
    let rest = flags(v & !3, table, "");
    if rest.is_empty() {
        access.to_string()
    } else {
        format!("{access}|{rest}")
    }
}

/// strace's rendering of a return value.
fn format_ret(name: &str, ret: i64) -> String {
    if (-4095..0).contains(&ret) {
        let errno = (-ret) as i32;
        let msg = std::io::Error::from_raw_os_error(errno).to_string();
        let msg = msg.split(" (os error").next().unwrap_or(&msg).to_string();
        return format!("-1 {} ({msg})", errno_name(errno));
    }
    if matches!(name, "mmap" | "brk" | "mremap" | "shmat") {
        return format!("{:#x}", ret as u64);
    }
    ret.to_string()
}

fn errno_name(e: i32) -> String {
    let n = match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        24 => "EMFILE",
        25 => "ENOTTY",
        28 => "ENOSPC",
        29 => "ESPIPE",
        32 => "EPIPE",
        34 => "ERANGE",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        61 => "ENODATA",
        95 => "EOPNOTSUPP",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        _ => return format!("E{e}"),
    };
    n.to_string()
}

/// Fill the path arguments of an entry from the eBPF records (in time order, per thread).
fn fill_paths(r: &mut Rec, log: &PathLog, matcher: &mut PathMatcher) {
    let RecKind::Enter {
        args, paths, nr, ..
    } = &mut r.kind
    else {
        return;
    };
    if paths.is_empty() {
        return;
    }
    log.poll();
    matcher.refresh(log);
    for &(a, ptr) in paths.iter() {
        let Some(slot) = args.get_mut(usize::from(a)) else {
            continue;
        };
        match matcher.take(r.tid as u32, *nr, a, ptr) {
            Some(PathValue::Text(t)) => *slot = quote(&t),
            // strace shows the address of what it could not read.
            Some(PathValue::Fault(_)) | None => {}
        }
    }
}

fn print_loop(
    rx: mpsc::Receiver<Drained>,
    root_pid: i32,
    clock: &rttng_kernel::ClockSpec,
    path_log: Option<Arc<PathLog>>,
) {
    let mut matcher = PathMatcher::new();
    // Keyed by (timestamp, arrival) so equal timestamps keep arrival order.
    let mut pending: BTreeMap<(u64, u64), Rec> = BTreeMap::new();
    let mut arrival = 0u64;
    let mut open: HashMap<i32, (String, Vec<String>)> = HashMap::new();
    // Per CPU: (the time its previous pass ended, the time every record before which has
    // arrived). A pass that ends at `at` began after the previous one ended, so it delivered
    // every record older than the previous end.
    let mut passes: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let cpus = online_cpus();
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    loop {
        let disconnected = match rx.recv_timeout(PRINT_PERIOD) {
            Ok(Drained::Records(recs)) => {
                for r in recs {
                    pending.insert((r.ts, arrival), r);
                    arrival += 1;
                }
                false
            }
            Ok(Drained::Passed { cpu, at }) => {
                let p = passes.entry(cpu).or_insert((0, 0));
                *p = (at, p.0);
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        let horizon = if disconnected {
            u64::MAX
        } else {
            let drained = if passes.len() < cpus {
                0
            } else {
                passes.values().map(|p| p.1).min().unwrap_or(0)
            };
            drained.max(clock.now().saturating_sub(clock.cycles(REORDER_LIMIT_NS)))
        };
        while let Some(entry) = pending.first_entry() {
            if entry.key().0 > horizon {
                break;
            }
            let mut r = entry.remove();
            if let Some(log) = &path_log {
                fill_paths(&mut r, log, &mut matcher);
            }
            print_rec(&mut out, &r, root_pid, &mut open);
        }
        let _ = out.flush();
        if disconnected {
            for (tid, (name, args)) in open.drain() {
                let _ = writeln!(
                    out,
                    "{}{name}({}) = ?",
                    prefix(tid, root_pid),
                    args.join(", ")
                );
            }
            return;
        }
    }
}

/// How many CPUs the drain passes over (each has a ring buffer): tracefs's `per_cpu`.
fn online_cpus() -> usize {
    std::fs::read_dir("/sys/kernel/tracing/per_cpu")
        .map(|d| d.count())
        .unwrap_or(1)
        .max(1)
}

fn prefix(tid: i32, root_pid: i32) -> String {
    if tid == root_pid {
        String::new()
    } else {
        format!("[pid {tid}] ")
    }
}

fn print_rec(
    out: &mut impl std::io::Write,
    r: &Rec,
    root_pid: i32,
    open: &mut HashMap<i32, (String, Vec<String>)>,
) {
    let p = prefix(r.tid, root_pid);
    match &r.kind {
        RecKind::Enter { name, args, .. } => {
            if let Some((n, a)) = open.insert(r.tid, (name.clone(), args.clone())) {
                let _ = writeln!(out, "{p}{n}({}) = ?", a.join(", "));
            }
        }
        RecKind::Exit { name, ret } => {
            let args = match open.remove(&r.tid) {
                Some((n, a)) if n == *name => a.join(", "),
                _ => "...".to_string(),
            };
            let _ = writeln!(out, "{p}{name}({args}) = {}", format_ret(name, *ret));
        }
        RecKind::Exec { filename } => match open.get_mut(&r.tid) {
            // The exec tracepoint carries the path the kernel resolved: show it in place of
            // the execve filename pointer, as strace shows the string.
            Some((n, a)) if n == "execve" || n == "execveat" => {
                let i = usize::from(n == "execveat");
                if let Some(slot) = a.get_mut(i) {
                    if !slot.starts_with('"') {
                        *slot = quote(filename.as_bytes());
                    }
                }
            }
            _ => {
                let _ = writeln!(out, "{p}--- exec {filename:?} ---");
            }
        },
        RecKind::ProcessExit { tid } => {
            if let Some((n, a)) = open.remove(tid) {
                let _ = writeln!(out, "{p}{n}({}) = ?", a.join(", "));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_like_strace() {
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o101 | 0o1000), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags(2), "O_RDWR");
    }

    #[test]
    fn errors_like_strace() {
        assert_eq!(
            format_ret("openat", -2),
            "-1 ENOENT (No such file or directory)"
        );
        assert_eq!(format_ret("openat", 3), "3");
        assert_eq!(format_ret("mmap", 0x7f00_0000_0000), "0x7f0000000000");
    }
}
