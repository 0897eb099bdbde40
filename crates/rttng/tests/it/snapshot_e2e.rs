//! Snapshot sessions through the real daemons (`rttng-sessiond`, `rttng-consumerd`, the
//! example app): the tail of an app pinned to one CPU that overflowed its buffers, two
//! consecutive snapshots, `--max-size`, the per-process buffers of an exited app, snapshots
//! taken in a loop while threads write, and bad input. Every snapshot must read the same in
//! babeltrace2 and `rttng view` (`read_both`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::session_support::*;
use crate::support::{find_in_path, run_bounded};

fn example() -> PathBuf {
    bin_dir().join("rttng-example")
}

/// `taskset` pins the app to one CPU (util-linux).
fn taskset() -> PathBuf {
    find_in_path("taskset")
        .expect("taskset is not installed; install it with `apt-get install util-linux`")
}

/// The snapshot directories under `out`, oldest first (their names end in the sequence).
fn snapshot_dirs(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(out)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .filter_map(|p| {
                    let seq = p.file_name()?.to_str()?.rsplit('-').next()?.parse().ok()?;
                    Some((seq, p))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// `(thread, seq)` of every `rttng_example:tick` line, in the text's order (the example's
/// `value` is `3 * seq - thread`).
fn ticks(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter(|l| l.contains(" rttng_example:tick: "))
        .filter_map(|l| {
            let num = |key: &str| -> Option<i64> {
                l.split(key)
                    .nth(1)?
                    .split(|c: char| c != '-' && !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            };
            let seq = num("seq = ")?;
            let value = num("value = ")?;
            Some(((seq * 3 - value) as u64, seq as u64))
        })
        .collect()
}

/// Creates a snapshot session `name` writing to `out` with a small per-user channel
/// (4 × 4 KiB per CPU) enabling the example's event, and starts it.
fn snapshot_session(w: &World, name: &str, out: &Path, buffers: &str) {
    let text = w.ok(&["create", name, "--snapshot", "-o", out.to_str().unwrap()]);
    assert!(
        text.contains(&format!("Snapshot session {name} created.")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Default snapshot output set to {}", out.display())),
        "{text}"
    );
    w.ok(&[
        "enable-channel",
        "-u",
        "c0",
        "--subbuf-size",
        "4096",
        "--num-subbuf",
        "4",
        buffers,
    ]);
    w.ok(&["enable-event", "-u", "-c", "c0", "rttng_example:tick"]);
    w.ok(&["start"]);
}

/// Runs the example app to completion.
fn run_example(w: &World, args: &[&str]) {
    let mut cmd = Command::new(example());
    cmd.args(args);
    w.env(&mut cmd);
    let f = run_bounded(&mut cmd, CMD_TIMEOUT).expect("example runs");
    assert!(f.status.success(), "example failed: {}", f.stderr_quote());
}

/// An app pinned to CPU 0 emits 20 000 events into 4 × 4 KiB, then stays alive without
/// flushing. `snapshot record` must give a gap-free tail of its events that starts after
/// seq 0 (the older ones were overwritten) and ends with the last event it emitted (the
/// open sub-buffer is flushed into the snapshot). A second app's events, emitted after,
/// are in a second snapshot, which reads on its own as well.
#[test]
fn snapshot_of_a_pinned_app_is_a_gap_free_tail_up_to_the_last_event() {
    let w = World::new("snap-tail");
    let out = w.tmp.path().join("snapshots");
    snapshot_session(&w, "tail", &out, "--buffers-uid");
    let listed = w.ok(&["list"]);
    assert!(listed.contains("1) tail [active snapshot]"), "{listed}");
    let mut cmd = Command::new(taskset());
    cmd.args(["-c", "0"])
        .arg(example())
        .args(["--count", "20000", "--hold"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    w.env(&mut cmd);
    let mut child = KillOnDrop(cmd.spawn().expect("spawn example"));
    let mut stdout = std::io::BufReader::new(child.0.stdout.take().expect("stdout"));
    wait_line(&mut child.0, &mut stdout, "done 20000");

    let rec = w.ok(&["snapshot", "record"]);
    assert_eq!(
        rec.trim(),
        "Snapshot recorded successfully for session tail"
    );
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let name = dirs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("snapshot-1-") && name.ends_with("-0"),
        "{name}"
    );
    let (text, bt_err) = read_both(&dirs[0]);
    let got: Vec<u64> = ticks(&text).iter().map(|t| t.1).collect();
    assert!(!got.is_empty(), "empty snapshot:\n{bt_err}");
    assert!(
        got[0] > 0,
        "seq 0 should have been overwritten, got {}",
        got[0]
    );
    assert_eq!(
        got.last(),
        Some(&19_999),
        "the last event emitted before the record"
    );
    assert!(
        got.windows(2).all(|p| p[1] == p[0] + 1),
        "not a gap-free tail: {:?}",
        got.windows(2).find(|p| p[1] != p[0] + 1)
    );
    // 4 × 4 KiB hold a few hundred of these events, not 20 000.
    assert!(got.len() < 2000, "{} events kept", got.len());

    // The app ends; another one runs; the next snapshot is the second, readable alone.
    drop(child.0.stdin.take());
    let _ = child.0.wait();
    run_example(&w, &["--count", "300"]);
    w.ok(&["snapshot", "record"]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    assert!(dirs[1].to_string_lossy().ends_with("-1"), "{dirs:?}");
    let (first_again, _) = read_both(&dirs[0]);
    assert_eq!(first_again, text, "the first snapshot was not touched");
    let (second, _) = read_both(&dirs[1]);
    assert_eq!(
        ticks(&second).iter().filter(|t| t.1 == 299).count(),
        1,
        "the second app's last event is in the second snapshot"
    );
    w.ok(&["destroy"]);
}

/// `--max-size` keeps the newest packets of each stream that fit (lttng's rule: one
/// sub-buffer of every stream per step), so a bound of one sub-buffer per CPU gives one
/// packet per stream, still ending with the newest event; a bound below that is a clear
/// error, and tracing goes on.
#[test]
fn snapshot_max_size_is_respected_and_too_small_is_an_error() {
    let w = World::new("snap-max");
    let out = w.tmp.path().join("snapshots");
    snapshot_session(&w, "max", &out, "--buffers-uid");
    run_example(&w, &["--count", "20000"]);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let bound = 4096 * cpus;
    w.ok(&["snapshot", "record", "-m", &bound.to_string()]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 1);
    let bytes = stream_file_bytes(&dirs[0]);
    assert!(
        bytes > 0 && bytes <= bound,
        "{bytes} bytes of stream files for a {bound}-byte bound"
    );
    let (text, _) = read_both(&dirs[0]);
    assert_eq!(ticks(&text).last().map(|t| t.1), Some(19_999));

    let small = w.rttng(&["snapshot", "record", "-m", "100"]);
    assert_eq!(small.status.code(), Some(1));
    let err = String::from_utf8_lossy(&small.stderr);
    assert!(
        err.starts_with("Error: Invalid snapshot size. Cannot fit at least one packet per stream"),
        "{err}"
    );
    assert_eq!(
        snapshot_dirs(&out).len(),
        1,
        "nothing written for the refused record"
    );
    // Tracing went on: a new app's events reach the next snapshot (unbounded).
    run_example(&w, &["--count", "50"]);
    w.ok(&["snapshot", "record"]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 2);
    let (text, _) = read_both(&dirs[1]);
    assert!(ticks(&text).iter().any(|t| t.1 == 49));
    assert!(
        stream_file_bytes(&dirs[1]) > bytes,
        "unbounded snapshot holds more"
    );
}

fn stream_file_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name != "metadata" && !name.ends_with(".idx") {
                total += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    total
}

/// Per-process buffers of an app that exited stay until the session is destroyed (as in
/// LTTng): a snapshot taken after the app is gone, with the session stopped, holds its
/// events, under `ust/pid/NAME-PID-DATE/` with its metadata.
#[test]
fn snapshot_keeps_the_per_process_buffers_of_an_exited_app() {
    let w = World::new("snap-pid");
    let out = w.tmp.path().join("snapshots");
    snapshot_session(&w, "pid", &out, "--buffers-pid");
    let mut cmd = Command::new(example());
    cmd.args(["--count", "100"]).stdout(Stdio::piped());
    w.env(&mut cmd);
    let child = cmd.spawn().expect("spawn example");
    let pid = child.id();
    let f = child.wait_with_output().expect("example runs");
    assert!(f.status.success());
    // The daemon has seen the app go once `list -u` no longer shows it.
    wait_until("the daemon to see the app exit", || {
        !w.ok(&["list", "-u"]).contains(&format!("PID: {pid} "))
    });
    // A snapshot works with the session stopped as well.
    w.ok(&["stop"]);
    assert!(w.ok(&["list"]).contains("1) pid [inactive snapshot]"));
    w.ok(&["snapshot", "record"]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 1);
    let pid_dir = std::fs::read_dir(dirs[0].join("ust/pid"))
        .expect("ust/pid in the snapshot")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(&format!("rttng-example-{pid}-")));
    assert!(pid_dir.is_some(), "no per-process trace of {pid}");
    let (text, _) = read_both(&dirs[0]);
    let got: Vec<u64> = ticks(&text).iter().map(|t| t.1).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

/// Writers keep writing (two threads, as fast as they can) while snapshots are taken in a
/// loop: every snapshot reads the same in babeltrace2 and rttng view with no error, holds
/// no event twice, and each thread's events in it come in order.
#[test]
fn snapshots_in_a_loop_while_threads_write_are_valid_traces() {
    const SNAPSHOTS: usize = 8;
    let w = World::new("snap-loop");
    let out = w.tmp.path().join("snapshots");
    snapshot_session(&w, "loop", &out, "--buffers-uid");
    let mut cmd = Command::new(example());
    cmd.args(["--count", "4000000", "--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    w.env(&mut cmd);
    let child = KillOnDrop(cmd.spawn().expect("spawn example"));
    let pid = child.0.id();
    wait_until("the app to register", || {
        w.ok(&["list", "-u"]).contains(&format!("PID: {pid} "))
    });
    for _ in 0..SNAPSHOTS {
        w.ok(&["snapshot", "record"]);
    }
    let still_writing = std::fs::metadata(format!("/proc/{}", child.0.id())).is_ok();
    drop(child);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), SNAPSHOTS);
    let mut events = 0;
    for d in &dirs {
        let (text, _) = read_both(d);
        let t = ticks(&text);
        let mut seen = std::collections::BTreeSet::new();
        for e in &t {
            assert!(seen.insert(*e), "{}: event {e:?} twice", d.display());
        }
        events += t.len();
    }
    assert!(events > 0, "the snapshots held no event");
    eprintln!(
        "{SNAPSHOTS} snapshots, {events} events, writer still running at the end: {still_writing}"
    );
}

/// Bad input gets one clear `Error:` line and exit status 1, and tracing goes on: a
/// snapshot command on a normal session, before the first start, with no output, to an
/// unwritable output, an unknown output name, a second output, and bad network URLs.
#[test]
fn snapshot_bad_input_is_refused_clearly_and_tracing_goes_on() {
    let w = World::new("snap-bad");
    let refused = |args: &[&str], expect: &str| {
        let f = w.rttng(args);
        let err = String::from_utf8_lossy(&f.stderr).into_owned();
        assert_eq!(f.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("Error: ") && err.contains(expect),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    };
    w.ok(&[
        "create",
        "normal",
        "-o",
        w.tmp.path().join("normal").to_str().unwrap(),
    ]);
    refused(
        &["snapshot", "record", "-s", "normal"],
        "is not a snapshot session",
    );
    refused(
        &["snapshot", "list-output", "-s", "normal"],
        "is not a snapshot session",
    );

    let text = w.ok(&["create", "snap", "--snapshot", "--no-output"]);
    assert!(!text.contains("Default snapshot output"), "{text}");
    w.ok(&["enable-event", "-u", "rttng_example:tick"]);
    refused(&["snapshot", "record"], "Session needs to be started once");
    w.ok(&["start"]);
    refused(&["snapshot", "record"], "has no snapshot output");
    let listed = w.ok(&["snapshot", "list-output"]);
    assert_eq!(listed, "Snapshot output list for session snap\n    None\n");
    refused(
        &["snapshot", "del-output", "nope"],
        "no snapshot output named \"nope\"",
    );
    refused(
        &["snapshot", "record", "tcp://localhost"],
        "a tcp:// URL names one port",
    );
    refused(
        &["snapshot", "add-output", "-C", "tcp://a", "-D", "tcp://b"],
        "name different hosts",
    );
    refused(&["snapshot", "record", "net://"], "bad URL");
    refused(
        &["snapshot", "record", "-m", "lots"],
        "Unable to handle max-size value lots",
    );

    run_example(&w, &["--count", "10"]);
    // An output that cannot be written: a regular file where a directory must go.
    let file = w.tmp.path().join("a-file");
    std::fs::File::create(&file)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    refused(
        &["snapshot", "record", file.join("sub").to_str().unwrap()],
        "Snapshot record failed: cannot create",
    );
    let good = w.tmp.path().join("good");
    let added = w.ok(&[
        "snapshot",
        "add-output",
        "-n",
        "mine",
        good.to_str().unwrap(),
    ]);
    assert_eq!(
        added,
        format!(
            "Snapshot output successfully added for session snap\n  [1] mine: {}\n",
            good.display()
        )
    );
    refused(
        &["snapshot", "add-output", good.to_str().unwrap()],
        "Snapshot output already exists",
    );
    // Tracing went on through all of that: the events are in the next snapshot.
    run_example(&w, &["--count", "20"]);
    w.ok(&["snapshot", "record"]);
    let dirs = snapshot_dirs(&good);
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("mine-"));
    let (text, _) = read_both(&dirs[0]);
    let got: Vec<u64> = ticks(&text).iter().map(|t| t.1).collect();
    assert!(got.ends_with(&(0..20).collect::<Vec<_>>()), "{got:?}");
    let deleted = w.ok(&["snapshot", "del-output", "mine"]);
    assert_eq!(
        deleted.trim(),
        "Snapshot output mine successfully deleted for session snap"
    );
}

/// A mount of a 64 KiB tmpfs, unmounted when dropped (also when the test fails).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: PathBuf) -> SmallDisk {
        std::fs::create_dir_all(&dir).unwrap();
        let f = run_bounded(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=64k", "rttng-full"])
                .arg(&dir),
            CMD_TIMEOUT,
        )
        .expect("mount runs");
        assert!(
            f.status.success(),
            "cannot mount a small tmpfs: {}",
            f.stderr_quote()
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = run_bounded(Command::new("umount").arg(&self.0), CMD_TIMEOUT);
    }
}

/// A snapshot to a full disk (a 64 KiB tmpfs; the buffers hold 4 × 512 KiB per CPU) fails
/// with one clear line and exit status 1, and the next snapshot elsewhere works.
#[test]
fn snapshot_to_a_full_disk_is_a_clear_error() {
    assert!(
        crate::support::is_root(),
        "this test mounts a small tmpfs: run the tests as root (as .ci/run does)"
    );
    let w = World::new("snap-full");
    let out = w.tmp.path().join("good");
    let text = w.ok(&["create", "full", "--snapshot", "-o", out.to_str().unwrap()]);
    assert!(text.contains("Snapshot session full created."));
    w.ok(&["enable-event", "-u", "rttng_example:tick"]);
    w.ok(&["start"]);
    run_example(&w, &["--count", "200000"]);
    let disk = SmallDisk::mount(w.tmp.path().join("small"));
    let f = w.rttng(&["snapshot", "record", disk.0.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&f.stderr).into_owned();
    assert_eq!(f.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("Error: Snapshot record failed: cannot write")
            && err.contains("No space left on device"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    drop(disk);
    w.ok(&["snapshot", "record"]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 1);
    let (text, _) = read_both(&dirs[0]);
    assert_eq!(ticks(&text).last().map(|t| t.1), Some(199_999));
}

/// Both domains in one snapshot: `sched_switch` (kernel, a tracefs instance in overwrite
/// mode that nothing drains) and the example's events (user space), merged by time in one
/// view that babeltrace2 and rttng view print the same; tracing goes on, a second snapshot
/// works, and the instance is removed with the session.
#[test]
fn snapshot_holds_kernel_and_user_events_merged_by_time() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    assert!(
        Path::new("/sys/kernel/tracing/available_events").exists(),
        "tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing"
    );
    let w = World::new("snap-kernel");
    let out = w.tmp.path().join("snapshots");
    w.ok(&["create", "both", "--snapshot", "-o", out.to_str().unwrap()]);
    w.ok(&["enable-event", "-k", "sched_switch"]);
    w.ok(&["enable-event", "-u", "rttng_example:tick"]);
    w.ok(&["start"]);
    assert!(
        !out.exists() || snapshot_dirs(&out).is_empty(),
        "nothing is written while tracing"
    );
    // Events at 2000/s: the app sleeps between them, so the scheduler switches around them.
    run_example(&w, &["--count", "100", "--rate", "2000"]);
    w.ok(&["snapshot", "record"]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0].join("kernel/metadata").is_file(), "no kernel trace");
    let (text, _) = read_both(&dirs[0]);
    let got: Vec<u64> = ticks(&text).iter().map(|t| t.1).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    // Merged: sched_switch lines fall between the first and the last user event.
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.contains(" rttng_example:tick: "))
        .unwrap();
    let last = lines
        .iter()
        .rposition(|l| l.contains(" rttng_example:tick: "))
        .unwrap();
    assert!(
        lines[first..last]
            .iter()
            .any(|l| l.contains(" sched_switch: ")),
        "no sched_switch between the app's events"
    );
    assert!(
        lines[first..last]
            .iter()
            .any(|l| l.contains(" sched_switch: ") && l.contains("rttng-example")),
        "the app's own context switches are not there"
    );
    // A second snapshot, after more events, reads on its own.
    run_example(&w, &["--count", "10"]);
    w.ok(&["snapshot", "record"]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 2);
    let (second, _) = read_both(&dirs[1]);
    assert!(
        second.contains(" sched_switch: "),
        "kernel events in the second snapshot"
    );
    assert!(ticks(&second).iter().any(|t| t.1 == 9));
    w.ok(&["destroy"]);
    let leftover = !w.kernel_instances("both").is_empty();
    assert!(
        !leftover,
        "a tracefs instance of the session was left behind"
    );
}

fn free_ports(n: usize) -> Vec<u16> {
    let socks: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    socks
        .iter()
        .map(|s| s.local_addr().expect("local address").port())
        .collect()
}

/// Snapshots to a relay daemon, both rttng-relayd and LTTng 2.13's lttng-relayd: with the
/// session's `net://` output and with `-C`/`-D` on `snapshot record`; each lands under
/// `HOSTNAME/SESSION/NAME-DATE-SEQ/` on the relay and reads the same in babeltrace2 and rttng
/// view, with the app's last event; an unreachable relay is one clear error.
#[test]
fn snapshot_to_a_relay_daemon_rttng_and_lttng() {
    crate::support::require_tools(&[("lttng-relayd", "lttng-tools")])
        .unwrap_or_else(|h| panic!("{h}"));
    for relayd in [
        bin_dir().join("rttng-relayd"),
        PathBuf::from("lttng-relayd"),
    ] {
        let w = World::new("snap-relay");
        let stored = w.tmp.path().join("relay");
        let p = free_ports(3);
        let mut cmd = Command::new(&relayd);
        cmd.arg("-o")
            .arg(&stored)
            .args(["-C", &format!("tcp://127.0.0.1:{}", p[0])])
            .args(["-D", &format!("tcp://127.0.0.1:{}", p[1])])
            .args(["-L", &format!("tcp://127.0.0.1:{}", p[2])])
            .env("LTTNG_HOME", w.tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _relay = KillOnDrop(cmd.spawn().expect("start the relay daemon"));
        wait_until("the relay to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", p[1])).is_ok()
        });
        let url = format!("net://127.0.0.1:{}:{}", p[0], p[1]);
        let text = w.ok(&["create", "net", "--snapshot", "-U", &url]);
        assert!(
            text.contains(&format!("Default snapshot output set to {url}")),
            "{text}"
        );
        w.ok(&["enable-event", "-u", "rttng_example:tick"]);
        w.ok(&["start"]);
        run_example(&w, &["--count", "3000"]);
        w.ok(&["snapshot", "record"]);
        let ctrl = format!("tcp://127.0.0.1:{}", p[0]);
        let data = format!("tcp://127.0.0.1:{}", p[1]);
        let rec = w.ok(&["snapshot", "record", "-C", &ctrl, "-D", &data]);
        assert!(
            rec.contains(&format!("Snapshot written to ctrl: {ctrl}, data: {data}")),
            "{rec}"
        );
        let mut traces: Vec<PathBuf> = Vec::new();
        let mut stack = vec![stored.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else if e.file_name() == "metadata" {
                    traces.push(d.clone());
                }
            }
        }
        traces.sort();
        assert_eq!(traces.len(), 2, "{}: {traces:?}", relayd.display());
        for t in &traces {
            let s = t.to_string_lossy();
            assert!(s.contains("/net/snapshot-"), "{}: {s}", relayd.display());
            let (text, _) = read_both(t);
            assert_eq!(ticks(&text).last().map(|x| x.1), Some(2999), "{s}");
        }
        let bad = w.rttng(&["snapshot", "record", "net://127.0.0.1:1:2"]);
        assert_eq!(bad.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&bad.stderr)
                .starts_with("Error: Snapshot record failed: relay net://127.0.0.1:1:2"),
            "{}",
            bad.stderr_quote()
        );
        w.ok(&["destroy"]);
    }
}

/// Makes `n` `ioprio_get(IOPRIO_WHO_PROCESS, who)` system calls (each fails with ESRCH: `who`
/// is no process), marking them in a kernel trace. A system call no other program here makes
/// (`runuser`, run by parallel tests, calls `getpriority`): another process's call after the
/// marked ones would fill the newest packets that `--max-size` keeps.
fn marked_syscalls(who: i64, n: u64) {
    for _ in 0..n {
        // SAFETY: ioprio_get takes two integers and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_ioprio_get, 1i64, who) };
    }
}

/// `syscall_entry_ioprio_get` records carrying `who` in `text`.
fn marked(text: &str, who: i64) -> usize {
    let mark = format!("who = {who}");
    text.lines()
        .filter(|l| l.contains(" syscall_entry_ioprio_get: ") && l.contains(&mark))
        .count()
}

/// Issue 12: kernel snapshots do not consume. The consumer drains the instance into memory
/// bounded by the channel's size, and each snapshot copies the newest packets: two
/// consecutive snapshots both hold the events recorded before the first one. `--max-size`
/// counts CTF bytes with lttng's per-stream semantics (one 16 KiB packet per stream here),
/// and a kernel snapshot goes to a relay daemon like a user-space one.
#[test]
fn snapshot_kernel_snapshots_keep_older_events_respect_max_size_and_reach_a_relay() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    assert!(
        Path::new("/sys/kernel/tracing/available_events").exists(),
        "tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing"
    );
    const FIRST: i64 = 987_650_001;
    const SECOND: i64 = 987_650_002;
    let w = World::new("snap-kkeep");
    let out = w.tmp.path().join("snapshots");
    w.ok(&["create", "kkeep", "--snapshot", "-o", out.to_str().unwrap()]);
    w.ok(&[
        "enable-channel",
        "-k",
        "kc",
        "--subbuf-size",
        "16384",
        "--num-subbuf",
        "8",
    ]);
    w.ok(&["enable-event", "-k", "-c", "kc", "--syscall", "ioprio_get"]);
    w.ok(&["start"]);
    marked_syscalls(FIRST, 200);
    w.ok(&["snapshot", "record"]);
    marked_syscalls(SECOND, 200);
    w.ok(&["snapshot", "record"]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let (one, _) = read_both(&dirs[0].join("kernel"));
    let (two, _) = read_both(&dirs[1].join("kernel"));
    assert_eq!(marked(&one, FIRST), 200, "first snapshot");
    assert_eq!(marked(&one, SECOND), 0, "first snapshot");
    assert_eq!(
        marked(&two, FIRST),
        200,
        "the second snapshot lost the events the first one copied: snapshots consume"
    );
    assert_eq!(marked(&two, SECOND), 200, "second snapshot");
    // One packet per stream: every kernel stream file holds at most one 16 KiB packet.
    let cpus = std::fs::read_dir("/sys/kernel/tracing/per_cpu")
        .map(|d| d.count())
        .unwrap_or(1) as u64;
    let max = 16384 * cpus;
    w.ok(&["snapshot", "record", "-m", &max.to_string()]);
    let dirs = snapshot_dirs(&out);
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    let kernel = dirs[2].join("kernel");
    let streams: Vec<u64> = std::fs::read_dir(&kernel)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("kc_"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert_eq!(streams.len() as u64, cpus, "{streams:?}");
    assert!(
        streams.iter().all(|&b| b <= 16384) && streams.iter().sum::<u64>() <= max,
        "--max-size {max}: stream files {streams:?}"
    );
    let (bounded, _) = read_both(&kernel);
    assert!(
        marked(&bounded, SECOND) > 0,
        "the newest packets hold the newest events"
    );
    let small = w.rttng(&["snapshot", "record", "-m", "4096"]);
    assert!(
        !small.status.success(),
        "a bound below one packet per stream"
    );
    // To a relay daemon.
    let stored = w.tmp.path().join("relay");
    let p = free_ports(3);
    let mut cmd = Command::new(bin_dir().join("rttng-relayd"));
    cmd.arg("-o")
        .arg(&stored)
        .args(["-C", &format!("tcp://127.0.0.1:{}", p[0])])
        .args(["-D", &format!("tcp://127.0.0.1:{}", p[1])])
        .args(["-L", &format!("tcp://127.0.0.1:{}", p[2])])
        .env("LTTNG_HOME", w.tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _relay = KillOnDrop(cmd.spawn().expect("start the relay daemon"));
    wait_until("the relay to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", p[1])).is_ok()
    });
    w.ok(&[
        "snapshot",
        "record",
        &format!("net://127.0.0.1:{}:{}", p[0], p[1]),
    ]);
    let mut kernels = Vec::new();
    let mut stack = vec![stored.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.file_name() == "metadata" && d.ends_with("kernel") {
                kernels.push(d.clone());
            }
        }
    }
    assert_eq!(kernels.len(), 1, "{kernels:?}");
    let (relayed, _) = read_both(&kernels[0]);
    assert_eq!(marked(&relayed, FIRST), 200, "relayed snapshot");
    assert_eq!(marked(&relayed, SECOND), 200, "relayed snapshot");
    w.ok(&["destroy"]);
    let leftover = !w.kernel_instances("kkeep").is_empty();
    assert!(!leftover, "a tracefs instance of the session was left");
}
