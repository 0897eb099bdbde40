//! The eBPF task-context recorder against the running kernel: the values it records for this
//! test's own thread at a system call equal what /proc and the system calls say, and its call
//! stacks there resolve to `do_syscall_64` (/proc/kallsyms) and an executable user mapping.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rttng_kernel::{TaskLog, TaskMatcher, TaskRecorder, Tracefs};

fn ns_inode(name: &str) -> u32 {
    let l = std::fs::read_link(format!("/proc/self/ns/{name}")).expect("/proc/self/ns readable");
    let l = l.to_string_lossy();
    // "net:[4026531840]"
    l.split('[')
        .nth(1)
        .and_then(|s| s.trim_end_matches(']').parse().ok())
        .unwrap_or_else(|| panic!("unexpected ns link {l}"))
}

fn status_field(name: &str) -> Vec<u32> {
    let s = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = s
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in status"));
    line.split_whitespace()
        .skip(1)
        .map(|v| v.parse().expect("number"))
        .collect()
}

/// The task record of thread `tid`'s `getppid` entry (tracepoint `type_id`), as the log
/// gets it (polled, within 5 s).
fn getppid_record(log: &TaskLog, type_id: u16, tid: u32) -> rttng_kernel::TaskValues {
    let mut m = TaskMatcher::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    // The key: __syscall_nr (getppid is 110 on x86_64), no arguments.
    let mut payload = vec![0u8; 56];
    payload[0..4].copy_from_slice(&110i32.to_le_bytes());
    loop {
        m.refresh(log);
        if let Some(v) = m.take(tid, type_id, &payload, &[(0, 4)]) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "no task record for this thread's getppid"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn task_contexts_of_own_thread_match_proc() {
    let _g = crate::serial();
    let tfs = Tracefs::open().expect("tracefs");
    let fmt = Arc::new(
        tfs.event_format("syscalls", "sys_enter_getppid")
            .expect("sys_enter_getppid format"),
    );
    let log = Arc::new(TaskLog::default());
    let mut rec =
        TaskRecorder::start(std::slice::from_ref(&fmt), log.clone()).expect("task recorder loads");
    // SAFETY: gettid and getppid have no preconditions.
    let tid = unsafe { libc::gettid() } as u32;
    // SAFETY: as above.
    let ppid = unsafe { libc::getppid() };
    let values = getppid_record(&log, fmt.id, tid);
    rec.stop();
    let uids = status_field("Uid");
    let gids = status_field("Gid");
    assert_eq!(values.pid, std::process::id() as i32);
    assert_eq!(values.vpid, std::process::id() as i32);
    assert_eq!(values.vtid, tid as i32);
    assert_eq!(values.ppid, ppid);
    assert_eq!(values.vppid, ppid);
    // SAFETY: getpriority has no preconditions; 0 = this thread.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    assert_eq!(values.nice, nice);
    assert_eq!(values.prio, 20 + nice);
    assert_eq!(&values.ids[..3], &[uids[0], uids[1], uids[2]]);
    assert_eq!(&values.ids[3..], &[gids[0], gids[1], gids[2]]);
    assert_eq!(
        values.vids, values.ids,
        "the initial user namespace maps ids to themselves"
    );
    let names = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
    for (k, n) in names.iter().enumerate() {
        assert_eq!(values.ns[k], ns_inode(n), "{n} namespace");
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let end = values.hostname.iter().position(|&b| b == 0).unwrap_or(65);
    assert_eq!(
        std::str::from_utf8(&values.hostname[..end]),
        Ok(host.trim())
    );
}

/// The symbol of `addr` in `/proc/kallsyms` (real addresses as root): the closest text
/// symbol at or below it.
fn kernel_symbol(addr: u64) -> Option<String> {
    let text = std::fs::read_to_string("/proc/kallsyms").expect("/proc/kallsyms");
    let mut best: Option<(u64, String)> = None;
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let (Some(a), Some(kind), Some(name)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if !matches!(kind, "t" | "T") {
            continue;
        }
        let Ok(a) = u64::from_str_radix(a, 16) else {
            continue;
        };
        if a <= addr && best.as_ref().is_none_or(|(b, _)| a > *b) {
            best = Some((a, name.to_string()));
        }
    }
    best.map(|(_, n)| n)
}

#[test]
fn call_stacks_of_own_thread_at_a_system_call() {
    let _g = crate::serial();
    let tfs = Tracefs::open().expect("tracefs");
    let fmt = Arc::new(
        tfs.event_format("syscalls", "sys_enter_getppid")
            .expect("sys_enter_getppid format"),
    );
    let log = Arc::new(TaskLog::default());
    let walks = rttng_kernel::StackWalks {
        kernel: true,
        user: true,
    };
    let mut rec = TaskRecorder::start_with_stacks(&[(fmt.clone(), true)], walks, log.clone())
        .expect("task recorder loads");
    // SAFETY: gettid and getppid have no preconditions.
    let tid = unsafe { libc::gettid() } as u32;
    // SAFETY: as above.
    unsafe { libc::getppid() };
    let values = getppid_record(&log, fmt.id, tid);
    rec.stop();
    let ks: Vec<String> = values
        .kernel_stack
        .iter()
        .map(|&a| format!("{a:#x} {}", kernel_symbol(a).unwrap_or_default()))
        .collect();
    eprintln!("kernel stack:\n{}", ks.join("\n"));
    assert!(ks.iter().any(|s| s.ends_with(" do_syscall_64")), "{ks:#?}");
    // The first user frame is the instruction after `syscall`, in libc's text here.
    let first = *values.user_stack.first().expect("a user stack");
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let holder = maps.lines().find(|l| {
        let range = l.split_whitespace().next().unwrap_or("");
        let (a, b) = range.split_once('-').unwrap_or(("", ""));
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap_or(0),
            u64::from_str_radix(b, 16).unwrap_or(0),
        );
        a <= first && first < b
    });
    assert!(
        holder.is_some_and(|l| l.split_whitespace().nth(1).is_some_and(|p| p.contains('x'))),
        "user frame {first:#x} is in no executable mapping: {holder:?}"
    );
    assert!(
        !values
            .user_stack
            .contains(&rttng_kernel::STACK_TRUNCATED_MARK),
        "{:x?}",
        values.user_stack
    );
}
