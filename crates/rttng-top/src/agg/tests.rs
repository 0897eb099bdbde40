//! Unit tests of the aggregation of `rttng top`: CPU time, system calls and I/O figures from
//! hand-made event sequences, per-CPU tables and their merge, sorting and text output. Not
//! here: reading traces or kernels (`source.rs`' tests, the integration tests).

use super::*;

fn switch(
    cpu: u32,
    ts_ns: i64,
    prev: (i64, &'static str),
    next: (i64, &'static str),
) -> Input<'static> {
    Input::Switch {
        cpu,
        ts_ns,
        prev_tid: prev.0,
        prev_comm: prev.1,
        next_tid: next.0,
        next_comm: next.1,
    }
}

#[test]
fn cpu_time_definition() {
    let mut a = Aggregator::new();
    // CPU 0: idle → 10 (at 100) → 20 (at 400) → idle (at 500).
    a.feed(switch(0, 100, (0, "swapper/0"), (10, "busy")));
    a.feed(switch(0, 400, (10, "busy"), (20, "other")));
    a.feed(switch(0, 500, (20, "other"), (0, "swapper/0")));
    // CPU 1: before its first switch nothing is known; 10 runs from 1000 on.
    a.feed(Input::SyscallEntry {
        cpu: 1,
        ts_ns: 900,
        tid: 30,
        name: "getppid",
    });
    a.feed(switch(1, 1000, (30, "early"), (10, "busy")));
    a.feed(Input::SyscallEntry {
        cpu: 1,
        ts_ns: 1600,
        tid: 10,
        name: "getppid",
    });
    let s = a.snapshot(1.0);
    let row = |tid| s.tasks.iter().find(|r| r.tid == tid).unwrap().clone();
    // 300 ns on CPU 0, then 600 ns on CPU 1 up to its latest event.
    assert_eq!(row(10).cpu_ns, 900);
    assert_eq!(row(20).cpu_ns, 100);
    assert_eq!(row(30).cpu_ns, 0);
    assert_eq!(row(10).name, "busy");
    assert_eq!(s.tasks[0].tid, 10, "sorted by CPU");
    // The running task goes on from where the last snapshot credited it.
    a.feed(switch(1, 2000, (10, "busy"), (0, "swapper/1")));
    let s = a.snapshot(0.5);
    let r = s.tasks.iter().find(|r| r.tid == 10).unwrap();
    assert_eq!((r.cpu_ns, r.total_cpu_ns), (400, 1300));
    assert_eq!(r.cpu_percent, 400.0 / 1e9 / 0.5 * 100.0);
}

#[test]
fn syscalls_io_and_user_events() {
    let mut a = Aggregator::new();
    for (name, ret) in [
        ("read", 100),
        ("read", -11),
        ("write", 7),
        ("sendto", 50),
        ("getppid", 1),
    ] {
        a.feed(Input::SyscallEntry {
            cpu: 0,
            ts_ns: 1,
            tid: 5,
            name,
        });
        a.feed(Input::SyscallExit {
            cpu: 0,
            ts_ns: 2,
            tid: 5,
            name,
            ret,
        });
    }
    for _ in 0..3 {
        a.feed(Input::User { name: "app:tick" });
    }
    a.feed(Input::User { name: "app:rare" });
    let s = a.snapshot(2.0);
    let r = &s.tasks[0];
    assert_eq!((r.syscalls, r.syscalls_per_s), (5, 2.5));
    assert_eq!(
        (r.read_bytes_per_s, r.write_bytes_per_s, r.net_bytes_per_s),
        (50.0, 3.5, 25.0)
    );
    assert_eq!(s.syscalls[0].name, "read");
    assert_eq!(s.syscalls[0].count, 2);
    assert_eq!(s.user[0].name, "app:tick");
    assert_eq!(s.user[0].per_s, 1.5);
    // A new interval starts from zero, totals go on.
    a.feed(Input::User { name: "app:rare" });
    let s = a.snapshot(1.0);
    assert_eq!(s.user[0].name, "app:rare");
    assert_eq!((s.user[0].count, s.user[0].total), (1, 2));
    assert_eq!(s.tasks[0].syscalls, 0);
    assert_eq!(s.tasks[0].total_syscalls, 5);
}

#[test]
fn sorting_filtering_and_text() {
    let mut a = Aggregator::new();
    a.feed(switch(0, 0, (0, ""), (1, "alpha")));
    a.feed(switch(0, 10, (1, "alpha"), (2, "beta")));
    a.feed(switch(0, 40, (2, "beta"), (0, "")));
    for _ in 0..3 {
        a.feed(Input::SyscallEntry {
            cpu: 0,
            ts_ns: 41,
            tid: 1,
            name: "openat",
        });
    }
    let s = a.snapshot(1.0);
    let mut rows = s.tasks.clone();
    sort_tasks(&mut rows, SortKey::Cpu);
    assert_eq!(rows.iter().map(|r| r.tid).collect::<Vec<_>>(), [2, 1]);
    sort_tasks(&mut rows, SortKey::Syscalls);
    assert_eq!(rows[0].tid, 1);
    sort_tasks(&mut rows, SortKey::Name);
    assert_eq!(rows[0].name, "alpha");
    assert_eq!(filter_tasks(&rows, "bet").len(), 1);
    assert_eq!(filter_tasks(&rows, "2")[0].name, "beta");
    let text = render_text(&s, SortKey::Syscalls, "", 10);
    let first = text.lines().nth(1).unwrap();
    assert!(first.contains("alpha") && first.contains(" 3 "), "{text}");
    assert!(text.contains("openat"));
    assert_eq!(human(1536.0), "1.5K");
}

#[test]
fn names_are_bounded() {
    let mut a = Aggregator::new();
    let long = "x".repeat(1000);
    a.feed(Input::User { name: &long });
    for i in 0..MAX_NAMES + 10 {
        a.feed(Input::User {
            name: &format!("e{i}"),
        });
    }
    let s = a.snapshot(1.0);
    assert_eq!(s.user.len(), MAX_NAMES);
    assert!(s.user.iter().all(|r| r.name.len() <= MAX_NAME_BYTES));
}

#[test]
fn merged_cpu_tables_take_everything_and_a_full_one_counts_the_rest_as_other_tasks() {
    let mut a = Aggregator::new();
    let id = a.syscall_id("getppid").unwrap();
    let cpu = Mutex::new(CpuCounts::new());
    {
        let mut c = cpu.lock().unwrap();
        for tid in 1..=(CPU_MAX_TASKS as i64 + 10) {
            c.syscall(tid, id);
        }
        c.switch(100, 0, b"", 5, b"five");
        c.saw(350);
    }
    a.merge(&cpu);
    let s = a.snapshot(1.0);
    assert_eq!(s.syscalls[0].count, CPU_MAX_TASKS as u64 + 10);
    let row = |s: &Snapshot, tid| s.tasks.iter().find(|r| r.tid == tid).cloned();
    let other = row(&s, OTHER_TASKS_TID).expect("the other tasks' row");
    assert_eq!((other.syscalls, other.name.as_str()), (10, "(other tasks)"));
    let five = row(&s, 5).unwrap();
    assert_eq!((five.cpu_ns, five.name.as_str()), (250, "five"));
    // The next merge starts from empty tables; the running task goes on from 350.
    cpu.lock().unwrap().saw(400);
    a.merge(&cpu);
    let s = a.snapshot(1.0);
    assert_eq!(s.syscalls[0].count, 0);
    assert_eq!(s.syscalls[0].total, CPU_MAX_TASKS as u64 + 10);
    let five = row(&s, 5).unwrap();
    assert_eq!((five.cpu_ns, five.total_cpu_ns), (50, 300));
    assert_eq!(row(&s, 1).unwrap().syscalls, 0);
}
