//! `rttng top` against the real kernel (run as root): `--batch` over a workload with a known
//! busy task, whose figures are checked against what babeltrace2 reads in the kernel trace top
//! kept; and the terminal UI driven in tmux (keys typed, screen read back).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{kill_child, require_tools, run_bounded, TempDir};

/// The two tests each run a busy task and a `rttng top`: one at a time, or each sees the other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

const TIMEOUT: Duration = Duration::from_secs(180);
/// Iterations of `rttng top --batch` (one second each).
const ITERATIONS: usize = 3;

/// The workload: computes a little (`argv[2]` additions, default 2000), calls getppid(2),
/// until its time is up (`argv[1]` seconds). Run as `rtop-busy` (default work: ~10⁵ calls/s)
/// and as `rtop-calm` (100 times the work between calls). The tests look only at tasks named
/// `rtop-*` (`--filter`): top sees the whole machine, and parallel tests run tasks (a
/// babeltrace2 writing a large trace, lttng-runas closing its descriptors) that may make more
/// system calls than any workload of ours.
const BUSY_C: &str = r#"
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	double secs = atof(argv[1]);
	int work = argc > 2 ? atoi(argv[2]) : 2000;
	struct timespec t0, t;
	volatile unsigned long x = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (int i = 0; i < work; i++) x += i;
		getppid();
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > secs) return 0;
	}
}
"#;

/// Builds the workload; returns the paths of `rtop-busy` and `rtop-calm` (one program, two
/// names, so that each task's name says which it is).
fn build_busy(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let src = dir.join("busy.c");
    std::fs::write(&src, BUSY_C).unwrap();
    let bin = dir.join("rtop-busy");
    let done = run_bounded(
        Command::new("cc").arg("-O1").arg("-o").arg(&bin).arg(&src),
        TIMEOUT,
    )
    .expect("cc runs");
    assert!(done.status.success(), "cc: {}", done.stderr_quote());
    let calm = dir.join("rtop-calm");
    std::fs::copy(&bin, &calm).expect("copy the workload");
    (bin, calm)
}

/// Starts `bin` for `secs` seconds with `work` additions between system calls.
fn spawn_busy(bin: &Path, secs: u32, work: u32) -> Child {
    Command::new(bin)
        .arg(secs.to_string())
        .arg(work.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the workload")
}

/// Additions between two system calls of `rtop-busy` and of `rtop-calm`.
const BUSY_WORK: u32 = 2000;
const CALM_WORK: u32 = 200_000;

/// Per-task CPU ns and system-call entries, computed from babeltrace2's text of the trace with
/// top's rule: on each CPU, the task switched in runs until the next switch, and the task
/// running at the end until the CPU's last event.
fn figures_from_trace(kernel_trace: &Path) -> (HashMap<i64, i128>, HashMap<i64, u64>) {
    let out = Command::new("babeltrace2")
        .arg("--clock-seconds")
        .arg(kernel_trace)
        .output()
        .expect("babeltrace2 runs");
    assert!(
        out.status.success(),
        "babeltrace2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let field = |line: &str, name: &str| -> Option<i64> {
        let at = line.find(&format!(" {name} = "))? + name.len() + 4;
        let rest = &line[at..];
        let end = rest.find([',', ' ', '}']).unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    let mut cpu_ns: HashMap<i64, i128> = HashMap::new();
    let mut syscalls: HashMap<i64, u64> = HashMap::new();
    let mut cpus: HashMap<i64, (Option<(i64, i128)>, i128)> = HashMap::new();
    for line in text.lines() {
        let Some(ts) = line
            .strip_prefix('[')
            .and_then(|l| l.split(']').next())
            .and_then(|t| t.split_once('.'))
            .map(|(s, n)| s.parse::<i128>().unwrap() * 1_000_000_000 + n.parse::<i128>().unwrap())
        else {
            continue;
        };
        let cpu = field(line, "cpu_id").expect("every event has cpu_id");
        let c = cpus.entry(cpu).or_insert((None, ts));
        c.1 = c.1.max(ts);
        if line.contains(" sched_switch: ") {
            let next = field(line, "next_tid").unwrap();
            if let Some((tid, since)) = c.0.replace((next, ts)) {
                *cpu_ns.entry(tid).or_default() += ts - since;
            }
        } else if line.contains(" syscall_entry_") {
            *syscalls.entry(field(line, "tid").unwrap()).or_default() += 1;
        }
    }
    for (running, last) in cpus.values() {
        if let Some((tid, since)) = running {
            *cpu_ns.entry(*tid).or_default() += last - since;
        }
    }
    (cpu_ns, syscalls)
}

fn within_10_percent(what: &str, shown: f64, trace: f64) {
    assert!(
        trace > 0.0 && ((shown - trace) / trace).abs() <= 0.10,
        "{what}: top shows {shown}, the trace holds {trace}"
    );
}

#[test]
fn top_batch_ranks_the_busy_task_first_with_the_figures_of_its_trace() {
    if let Err(hint) = require_tools(&[("cc", "gcc"), ("babeltrace2", "babeltrace2")]) {
        panic!("{hint}");
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("rttng-top").expect("temp dir");
    let (busy_bin, calm_bin) = build_busy(dir.path());
    let mut busy = spawn_busy(&busy_bin, 30, BUSY_WORK);
    let mut calm = spawn_busy(&calm_bin, 30, CALM_WORK);
    let pid = i64::from(busy.id());
    let calm_pid = calm.id().to_string();
    let out_dir = dir.path().join("trace");
    let done = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rttng"))
            .args([
                "top", "--batch", "--sort", "syscalls", "--rows", "5", "-d", "1", "--filter",
                "rtop-",
            ])
            .arg("--iterations")
            .arg(ITERATIONS.to_string())
            .arg("-o")
            .arg(&out_dir),
        TIMEOUT,
    )
    .expect("rttng top runs");
    kill_child(&mut busy);
    kill_child(&mut calm);
    let text = done.stdout_text();
    assert!(done.status.success(), "{}\n{}", done.stderr_quote(), text);
    // The calm task is there to be outranked: it is in the totals, below the busy one.
    let totals_rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("rttng top: totals"))
        .skip(2)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(
        totals_rows
            .iter()
            .skip(1)
            .any(|r| r.split_whitespace().next() == Some(calm_pid.as_str())),
        "the calm task {calm_pid} is not ranked below the busy one in the totals:\n{text}"
    );

    // Each iteration's first task row is the busy task.
    let firsts: Vec<&str> = text
        .lines()
        .zip(text.lines().skip(1))
        .filter(|(h, _)| h.trim_start().starts_with("TID ") && h.contains("SYSCALLS/s"))
        .map(|(_, row)| row)
        .collect();
    assert_eq!(firsts.len(), ITERATIONS, "{text}");
    // Most iterations, and the totals, rank it first (a one-second iteration may catch the
    // busy task descheduled on this shared machine).
    let first_in = firsts
        .iter()
        .filter(|row| {
            row.split_whitespace().next() == Some(&pid.to_string()) && row.contains("rtop-busy")
        })
        .count();
    assert!(
        first_in * 2 > ITERATIONS,
        "the busy task {pid} is first in {first_in} of {ITERATIONS} iterations:\n{text}"
    );
    let first_total = text
        .lines()
        .skip_while(|l| !l.starts_with("rttng top: totals"))
        .nth(2)
        .unwrap_or("");
    assert!(
        first_total.split_whitespace().next() == Some(&pid.to_string()),
        "the busy task {pid} is not first in the totals:\n{text}"
    );

    // The totals against the trace.
    let totals = text
        .lines()
        .skip_while(|l| !l.starts_with("rttng top: totals"))
        .find(|l| l.split_whitespace().next() == Some(&pid.to_string()))
        .unwrap_or_else(|| panic!("no totals row for {pid}:\n{text}"));
    let cols: Vec<&str> = totals.split_whitespace().collect();
    let shown_cpu_ns: f64 = cols[cols.len() - 2].parse().unwrap();
    let shown_syscalls: f64 = cols[cols.len() - 1].parse().unwrap();
    let (cpu_ns, syscalls) = figures_from_trace(&out_dir.join("kernel"));
    within_10_percent(
        "CPU ns",
        shown_cpu_ns,
        *cpu_ns.get(&pid).unwrap_or(&0) as f64,
    );
    within_10_percent(
        "system calls",
        shown_syscalls,
        *syscalls.get(&pid).unwrap_or(&0) as f64,
    );
    // And the busy task did run (on this shared machine it gets what the others leave).
    assert!(
        shown_cpu_ns > 0.1e9 && shown_syscalls > 1000.0 * ITERATIONS as f64,
        "{totals}"
    );
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Captures the pane until `pred` holds, at most `timeout`.
fn screen_until(session: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let s = tmux(&["capture-pane", "-p", "-t", session]);
        if pred(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn top_terminal_ui_sorts_filters_pauses_and_quits() {
    if let Err(hint) = require_tools(&[("cc", "gcc"), ("tmux", "tmux")]) {
        panic!("{hint}");
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("rttng-top-tui").expect("temp dir");
    let (busy_bin, calm_bin) = build_busy(dir.path());
    let mut busy = spawn_busy(&busy_bin, 60, BUSY_WORK);
    let mut calm = spawn_busy(&calm_bin, 60, CALM_WORK);
    let session = format!("rttng-top-{}", std::process::id());
    let cmd = format!(
        "{} top -d 0.5; echo rttng-top-exited $? ; sleep 30",
        env!("CARGO_BIN_EXE_rttng")
    );
    let started = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "160",
            "-y",
            "40",
            &cmd,
        ])
        .status()
        .expect("tmux runs");
    assert!(started.success());
    let wait = Duration::from_secs(30);
    let result = std::panic::catch_unwind(|| {
        let s = screen_until(&session, wait, |s| s.contains("rtop-busy"));
        assert!(s.contains("rttng top") && s.contains("CPU%*"), "{s}");
        assert!(s.contains("system calls") && s.contains("getppid"), "{s}");
        // Only this test's tasks (others' may make more system calls), sorted by system
        // calls: the busy task is the first row, the calm one below it.
        tmux(&["send-keys", "-t", &session, "/", "rtop-", "Enter"]);
        let s = screen_until(&session, wait, |s| s.contains("filter: rtop-"));
        assert!(s.contains("filter: rtop-"), "{s}");
        tmux(&["send-keys", "-t", &session, "2"]);
        let s = screen_until(&session, wait, |s| {
            s.contains("SYSCALLS/s*") && s.contains("rtop-calm")
        });
        let rows: Vec<&str> = s
            .lines()
            .skip_while(|l| !l.contains("SYSCALLS/s*"))
            .skip(1)
            .take_while(|l| !l.contains("system calls"))
            .filter(|l| l.contains("rtop-"))
            .collect();
        assert!(
            rows.first().is_some_and(|r| r.contains("rtop-busy"))
                && rows.iter().skip(1).any(|r| r.contains("rtop-calm")),
            "{s}"
        );
        // Filter: only matching tasks stay.
        tmux(&["send-keys", "-t", &session, "/", "busy", "Enter"]);
        let s = screen_until(&session, wait, |s| s.contains("filter: busy"));
        let rows: Vec<&str> = s
            .lines()
            .skip_while(|l| !l.contains("SYSCALLS/s*"))
            .skip(1)
            .take_while(|l| !l.contains("system calls"))
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(
            !rows.is_empty() && rows.iter().all(|r| r.contains("busy")),
            "{s}"
        );
        // Pause, then quit.
        tmux(&["send-keys", "-t", &session, "p"]);
        let s = screen_until(&session, wait, |s| s.contains("PAUSED"));
        assert!(s.contains("PAUSED"), "{s}");
        tmux(&["send-keys", "-t", &session, "q"]);
        let s = screen_until(&session, wait, |s| s.contains("rttng-top-exited"));
        assert!(s.contains("rttng-top-exited 0"), "{s}");
    });
    tmux(&["kill-session", "-t", &session]);
    kill_child(&mut busy);
    kill_child(&mut calm);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// The tracefs instances of process `pid` (`rttng-PID-…`).
fn instances_of(pid: u32) -> Vec<String> {
    let prefix = format!("rttng-{pid}-");
    [
        "/sys/kernel/tracing/instances",
        "/sys/kernel/debug/tracing/instances",
    ]
    .iter()
    .filter_map(|d| std::fs::read_dir(d).ok())
    .flat_map(|rd| rd.flatten())
    .map(|e| e.file_name().to_string_lossy().into_owned())
    .filter(|n| n.starts_with(&prefix))
    .collect()
}

/// Closing top's terminal (SIGHUP) or SIGTERM ends it as `q` does: its kernel session is
/// stopped and its tracefs instance removed (a killed top would leave it recording every
/// system call of the machine), and --batch still prints its totals.
#[test]
fn top_ends_cleanly_on_sighup_and_sigterm_and_removes_its_instance() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let dir = TempDir::new("rttng-top-signal").expect("temp dir");
        let out = dir.path().join("out.txt");
        let mut top = Command::new(env!("CARGO_BIN_EXE_rttng"))
            .args(["top", "--batch", "-n", "1000", "-d", "0.2"])
            .stdout(std::fs::File::create(&out).expect("output file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start rttng top");
        let pid = top.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("iteration 2/")
        {
            assert!(Instant::now() < deadline, "rttng top printed nothing");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !instances_of(pid).is_empty(),
            "no tracefs instance of {pid}"
        );
        // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = top.try_wait().expect("rttng top status") {
                break s;
            }
            if Instant::now() > deadline {
                kill_child(&mut top);
                panic!("rttng top did not end within 30 s of {name}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        assert!(status.success(), "{name}: {status}\n{text}");
        assert!(
            text.contains("rttng top: totals since the start"),
            "{name}:\n{text}"
        );
        let left = instances_of(pid);
        assert!(left.is_empty(), "{name} left tracefs instances: {left:?}");
    }
    // The terminal UI in a terminal that goes away (tmux kill-session: SIGHUP, and standard
    // error is that dead terminal).
    if let Err(hint) = require_tools(&[("tmux", "tmux")]) {
        panic!("{hint}");
    }
    let session = format!("rttng-top-hup-{}", std::process::id());
    let started = Command::new("tmux")
        .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "30"])
        .arg(format!("{} top -d 0.5", env!("CARGO_BIN_EXE_rttng")))
        .status()
        .expect("tmux runs");
    assert!(started.success());
    let pid: u32 = tmux(&["display-message", "-p", "-t", &session, "#{pane_pid}"])
        .trim()
        .parse()
        .expect("the pane's pid");
    let deadline = Instant::now() + Duration::from_secs(60);
    while instances_of(pid).is_empty() {
        if Instant::now() > deadline {
            tmux(&["kill-session", "-t", &session]);
            panic!("rttng top in tmux (pid {pid}) made no tracefs instance");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Once it has drawn and refreshed.
    let screen = screen_until(&session, Duration::from_secs(30), |s| s.contains("getppid"));
    assert!(screen.contains("rttng top"), "{screen}");
    tmux(&["kill-session", "-t", &session]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !instances_of(pid).is_empty() || Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "rttng top's terminal closed: still there 30 s later: {:?}",
            instances_of(pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
