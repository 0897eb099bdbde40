//! End-to-end session tests against real processes: `rttng` spawning `rttng-sessiond`,
//! which spawns `rttng-consumerd`; the instrumented probe app registering; traces checked
//! with babeltrace2 and `rttng view` (identical output required).

use std::path::Path;
use std::process::Command;

use crate::session_support::*;
use crate::support::kill_process;

fn all_seqs(n: u64) -> Vec<u64> {
    (0..n).collect()
}

#[test]
fn session_autospawn_records_from_the_first_event() {
    let w = World::new("autospawn");
    assert!(w.sessiond_pid().is_none());
    let out = w.create(&["s1"]);
    let pid = w.sessiond_pid().expect("create spawned a daemon");
    assert!(
        out.starts_with(w.home.join("rttng-traces")),
        "{}",
        out.display()
    );
    assert!(out
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("s1-"));
    w.ok(&["enable-event", "-u", "-a"]);
    w.ok(&["start"]);
    w.probe(&["--count", "50"]);
    let stop = w.ok(&["stop"]);
    assert!(stop.contains("Tracing stopped for session s1"), "{stop}");
    // The same daemon serves later commands.
    assert_eq!(w.sessiond_pid(), Some(pid));
    let list = w.ok(&["list"]);
    assert!(list.contains("1) s1 [inactive]"), "{list}");
    let (text, _) = read_both(&out);
    for name in ["probe:info", "probe:debug", "probe:warn", "other:info"] {
        assert_eq!(seqs(&text, name), all_seqs(50), "{name}");
    }
    let uid = uid();
    assert!(out.join(format!("ust/uid/{uid}/64-bit/metadata")).is_file());
    assert!(out.join(format!("ust/uid/{uid}/64-bit/index")).is_dir());
    w.ok(&["destroy"]);
    let list = w.ok(&["list"]);
    assert!(
        list.contains("Currently no available recording session"),
        "{list}"
    );
}

#[test]
fn session_no_sessiond_gives_a_clear_error() {
    let w = World::new("nosessiond");
    let f = w.rttng(&["-n", "list"]);
    assert_eq!(f.status.code(), Some(1));
    let err = String::from_utf8_lossy(&f.stderr);
    assert!(
        err.starts_with("Error: No session daemon is available"),
        "{err}"
    );
    assert!(err.contains("`rttng create` starts one"), "{err}");
    assert!(w.sessiond_pid().is_none());
}

#[test]
fn session_rules_and_two_sessions_select_exactly() {
    let w = World::new("rules");
    let a = w.create(&["a"]);
    w.ok(&[
        "enable-event",
        "-u",
        "probe:*",
        "--loglevel",
        "INFO",
        "-x",
        "probe:warn",
        "-s",
        "a",
    ]);
    let b = w.create(&["b"]);
    w.ok(&["enable-event", "-u", "other:info", "-s", "b"]);
    w.ok(&[
        "enable-event",
        "-u",
        "*",
        "--loglevel-only",
        "DEBUG",
        "-s",
        "b",
    ]);
    w.ok(&["start", "a"]);
    w.ok(&["start", "b"]);
    w.probe(&["--count", "20"]);
    w.ok(&["stop", "a"]);
    w.ok(&["stop", "b"]);
    let (ta, _) = read_both(&a);
    let (tb, _) = read_both(&b);
    let na: Vec<String> = names(&ta).into_keys().collect();
    let nb: Vec<String> = names(&tb).into_keys().collect();
    // a: probe:* at least as severe as INFO, minus probe:warn: only probe:info (debug is 14 > 6).
    assert_eq!(na, ["probe:info"]);
    assert_eq!(seqs(&ta, "probe:info"), all_seqs(20));
    // b: other:info, and exactly DEBUG: probe:debug.
    assert_eq!(nb, ["other:info", "probe:debug"]);
    assert_eq!(seqs(&tb, "probe:debug"), all_seqs(20));
    let list = w.ok(&["list", "a"]);
    assert!(list.contains("probe:* (loglevel: TRACE_INFO (<= 6)) (exclusions: probe:warn) (type: tracepoint) [enabled]"), "{list}");
}

#[test]
fn session_per_process_buffers() {
    let w = World::new("perpid");
    let out = w.create(&["p"]);
    w.ok(&["enable-channel", "-u", "--buffers-pid", "c"]);
    w.ok(&["enable-event", "-u", "-c", "c", "probe:info"]);
    w.ok(&["add-context", "-u", "-t", "vpid", "-t", "procname"]);
    w.ok(&["start"]);
    let f = w.probe(&["--count", "7"]);
    assert!(f.stdout_text().contains("emitted 7"));
    w.ok(&["stop"]);
    let pid_dir = out.join("ust/pid");
    let dirs: Vec<_> = std::fs::read_dir(&pid_dir)
        .expect("ust/pid exists")
        .flatten()
        .collect();
    assert_eq!(dirs.len(), 1);
    let name = dirs[0].file_name().to_string_lossy().into_owned();
    assert!(name.starts_with("session_probe-"), "{name}");
    let (text, _) = read_both(&out);
    assert_eq!(seqs(&text, "probe:info"), all_seqs(7));
    assert!(text.contains("procname = \"session_probe\""), "{text}");
    // The per-process trace says so in its env, like LTTng's.
    let md = run_bounded_metadata(&dirs[0].path());
    assert!(md.contains("tracer_buffering_scheme = \"pid\""), "{md}");
    assert!(md.contains("vpid = "), "{md}");
}

fn run_bounded_metadata(trace: &Path) -> String {
    let f = crate::support::run_bounded(
        Command::new("babeltrace2")
            .args(["-o", "ctf-metadata"])
            .arg(trace),
        CMD_TIMEOUT,
    )
    .expect("bt2");
    f.stdout_text()
}

#[test]
fn session_enable_while_running_and_disable() {
    let w = World::new("live");
    let out = w.create(&["l"]);
    w.ok(&[
        "enable-channel",
        "-u",
        "channel0",
        "--switch-timer",
        "100000",
    ]);
    w.ok(&["enable-event", "-u", "other:info"]);
    w.ok(&["start"]);
    let go = w.tmp.path().join("go");
    let (mut child, mut stdout) = w.spawn_probe(
        &["--count", "30", "--loop-until", go.to_str().unwrap()],
        "registered",
    );
    // Enable while it runs: the command returns once the app has applied it.
    w.ok(&["enable-event", "-u", "probe:spin"]);
    // Within a switch-timer period the consumer writes what was recorded, without a stop.
    let data = out.join(format!("ust/uid/{}/64-bit", uid()));
    wait_until("a packet written by the switch timer", || {
        stream_bytes(&data, "channel0_") > 0
    });
    w.ok(&["disable-event", "-u", "other:info"]);
    std::fs::write(&go, b"").unwrap();
    wait_line(&mut child, &mut stdout, "emitted");
    let _ = child.wait();
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    let spins = seqs(&text, "probe:spin");
    assert!(
        !spins.is_empty(),
        "no probe:spin event recorded after enabling"
    );
    // Once enabled, no event is missing: the recorded spins are consecutive.
    assert_eq!(
        spins,
        (spins[0]..spins[0] + spins.len() as u64).collect::<Vec<_>>()
    );
    // other:info was disabled before the app emitted it.
    assert!(
        seqs(&text, "other:info").is_empty(),
        "disabled events were recorded"
    );
}

fn uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .and_then(|r| r.split_whitespace().next().map(str::to_string))
        })
        .unwrap()
}

/// Bytes of the stream files named `prefix*` anywhere below `dir` (index files excluded).
fn stream_bytes(dir: &Path, prefix: &str) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stream_bytes(&path, prefix)
            } else if name.starts_with(prefix) && !name.ends_with(".idx") {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

#[test]
fn session_kill9_of_the_app_keeps_every_committed_event() {
    let w = World::new("killapp");
    let out = w.create(&["k"]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&["start"]);
    let (mut child, _stdout) = w.spawn_probe(&["--count", "1000", "--hang"], "emitted");
    kill_process(child.id());
    let _ = child.wait();
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    assert_eq!(seqs(&text, "probe:info"), all_seqs(1000));
}

#[test]
fn session_kill9_of_the_consumer_is_reported_and_data_stays_readable() {
    let w = World::new("killconsumer");
    let out = w.create(&["c"]);
    w.ok(&[
        "enable-channel",
        "-u",
        "channel0",
        "--subbuf-size",
        "4096",
        "--num-subbuf",
        "64",
    ]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&["start"]);
    w.probe(&["--count", "5000"]);
    let data = out.join(format!("ust/uid/{}/64-bit", uid()));
    // Full sub-buffers are written as soon as they complete (5000 records of ~14 bytes
    // fill more than 8 sub-buffers of 4 KiB, over at most 2 CPUs).
    wait_until("packets written", || {
        stream_bytes(&data, "channel0_") >= 4 * 4096
    });
    let cpid = w.consumerd_pid().expect("consumer pid");
    kill_process(cpid);
    assert!(wait_gone(cpid, WAIT_TIMEOUT));
    let stop = w.rttng(&["stop"]);
    let err = String::from_utf8_lossy(&stop.stderr);
    assert_eq!(stop.status.code(), Some(4), "{err}");
    assert!(err.contains("consumer daemon is gone"), "{err}");
    assert!(err.contains("stays readable"), "{err}");
    let list = w.rttng(&["list", "c"]);
    assert!(String::from_utf8_lossy(&list.stderr).contains("consumer daemon is gone"));
    let (text, _) = read_both(&out);
    let got = seqs(&text, "probe:info");
    assert!(got.len() >= 100, "only {} events readable", got.len());
    assert_eq!(
        got,
        all_seqs(got.len() as u64),
        "written events must be a prefix"
    );
}

#[test]
fn session_discarded_events_match_babeltrace2() {
    let w = World::new("discard");
    let out = w.create(&["d"]);
    w.ok(&[
        "enable-channel",
        "-u",
        "channel0",
        "--subbuf-size",
        "4096",
        "--num-subbuf",
        "2",
    ]);
    w.ok(&["enable-event", "-u", "-a"]);
    w.ok(&["start"]);
    w.probe(&["--count", "20000"]);
    w.ok(&["stop"]);
    let list = w.ok(&["list", "d"]);
    let ours = list_total(&list, "Discarded events:");
    let (text, bt_err) = read_both(&out);
    let theirs: u64 = bt_err
        .lines()
        .filter_map(|l| l.strip_prefix("WARNING: Tracer discarded "))
        .filter_map(|r| r.split(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(!bt_err.contains("may have discarded"), "{bt_err}");
    assert!(
        ours > 0,
        "expected losses with 2 x 4 KiB sub-buffers:\n{list}"
    );
    assert_eq!(ours, theirs, "list says {ours}, babeltrace2 says {theirs}");
    // Nothing else is lost: what was recorded plus what was reported discarded is every
    // event the probe emitted (4 tracepoints × 20000).
    let recorded = text.lines().filter(|l| l.contains(" seq = ")).count() as u64;
    assert_eq!(
        recorded + theirs,
        4 * 20_000,
        "{recorded} recorded, {theirs} discarded"
    );
}

#[test]
fn session_sigterm_stops_sessions_with_a_complete_trace() {
    let w = World::new("sigterm");
    let out = w.create(&["t"]);
    w.ok(&["enable-event", "-u", "probe:warn"]);
    w.ok(&["start"]);
    w.probe(&["--count", "33"]);
    let pid = w.sessiond_pid().unwrap();
    let cpid = w.consumerd_pid().unwrap();
    Command::new("kill")
        .args(["-s", "TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(
        wait_gone(pid, WAIT_TIMEOUT),
        "sessiond did not exit on SIGTERM"
    );
    assert!(wait_gone(cpid, WAIT_TIMEOUT), "consumerd did not exit");
    let (text, _) = read_both(&out);
    assert_eq!(seqs(&text, "probe:warn"), all_seqs(33));
}

#[test]
fn session_tracefile_rotation_keeps_count_files() {
    let w = World::new("rotate");
    let out = w.create(&["r"]);
    w.ok(&[
        "enable-channel",
        "-u",
        "channel0",
        "--subbuf-size",
        "4096",
        "--num-subbuf",
        "64",
        "--tracefile-size",
        "8192",
        "--tracefile-count",
        "2",
    ]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&["start"]);
    w.probe(&["--count", "3000"]);
    w.ok(&["stop"]);
    let dir = out.join(format!("ust/uid/{}/64-bit", uid()));
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("channel0_") {
            assert!(
                e.metadata().unwrap().len() <= 8192,
                "{n} exceeds the trace file size"
            );
        }
    }
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("channel0_"))
        .collect();
    // At most 2 files per CPU stream.
    let mut per_cpu = std::collections::BTreeMap::new();
    for f in &files {
        let cpu = f.split('_').nth(1).unwrap().to_string();
        *per_cpu.entry(cpu).or_insert(0) += 1;
    }
    assert!(per_cpu.values().all(|&n| n <= 2), "{files:?}");
    let (text, _) = read_both(&out);
    let got = seqs(&text, "probe:info");
    assert!(!got.is_empty());
    // The newest events are kept.
    assert_eq!(*got.last().unwrap(), 2999);
}

#[test]
fn session_status_view_and_list_apps() {
    let w = World::new("status");
    w.create(&["v"]);
    w.ok(&["enable-event", "-u", "probe:warn"]);
    w.ok(&["start"]);
    let (mut child, _stdout) = w.spawn_probe(&["--count", "3", "--hang"], "emitted");
    let apps = w.ok(&["list", "-u"]);
    assert!(
        apps.contains(&format!("PID: {} - Name: ", child.id())),
        "{apps}"
    );
    assert!(
        apps.contains("      probe:warn (loglevel: TRACE_WARNING (4)) (type: tracepoint)"),
        "{apps}"
    );
    assert!(
        apps.contains("      probe:debug (loglevel: TRACE_DEBUG (14)) (type: tracepoint)"),
        "{apps}"
    );
    let fields = w.ok(&["list", "-u", "-f"]);
    assert!(fields.contains("        field: text (string)"), "{fields}");
    kill_process(child.id());
    let _ = child.wait();
    w.ok(&["stop"]);
    let status = w.ok(&["status"]);
    assert!(
        status.starts_with("Recording session v: [inactive]"),
        "{status}"
    );
    assert!(
        status.contains("      probe:warn (type: tracepoint) [enabled]"),
        "{status}"
    );
    // `view` with no argument shows the current session, `view NAME` that session.
    let current = w.ok(&["view"]);
    let named = w.ok(&["view", "v"]);
    assert_eq!(current, named);
    assert_eq!(seqs(&current, "probe:warn"), all_seqs(3));
}

#[test]
fn session_demo_traces_the_example_app() {
    let w = World::new("demo");
    let out = w.ok(&["demo", "--", "--count", "4"]);
    let path = out
        .lines()
        .find_map(|l| l.strip_prefix("Trace written to "))
        .expect("trace path line");
    let (text, _) = read_both(Path::new(path.trim()));
    assert_eq!(seqs(&text, "rttng_example:tick"), all_seqs(4));
    assert_eq!(out.matches("rttng_example:tick").count(), 4, "{out}");
    // No daemon ran in this world: the demo started one, and stopped it again (a daemon
    // removes its pid files and socket when it exits cleanly).
    assert_eq!(
        w.sessiond_pid(),
        None,
        "the demo's session daemon still runs"
    );
    assert_eq!(
        w.consumerd_pid(),
        None,
        "the demo's consumer daemon still runs"
    );
    assert!(
        !w.run.join(rttng_proto::paths::CLIENT_SOCKET).exists(),
        "the demo's session daemon still listens"
    );
}

#[test]
fn session_demo_leaves_a_running_daemon_running() {
    let w = World::new("demo-kept");
    w.create(&["before"]);
    let pid = w.sessiond_pid().expect("create started the daemon");
    w.ok(&["demo", "--", "--count", "2"]);
    assert_eq!(
        w.sessiond_pid(),
        Some(pid),
        "the demo stopped a daemon it did not start"
    );
    let list = w.ok(&["list"]);
    assert!(list.contains("before"), "{list}");
}

#[test]
fn session_kernel_and_user_space_in_one_session() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    assert!(
        Path::new("/sys/kernel/tracing/available_events").exists(),
        "tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing"
    );
    let w = World::new("kernel");
    let out = w.create(&["kn"]);
    w.ok(&["enable-event", "-k", "--syscall", "openat"]);
    w.ok(&["add-context", "-k", "-t", "pid"]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&["start"]);
    let f = w.probe(&["--count", "5"]);
    assert!(f.stdout_text().contains("emitted 5"));
    w.ok(&["stop"]);
    let list = w.ok(&["list", "kn"]);
    assert!(list.contains("=== Domain: Linux kernel ==="), "{list}");
    assert!(
        list.contains("      openat (type: syscall) [enabled]"),
        "{list}"
    );
    assert!(out.join("kernel/metadata").is_file());
    // One view merges both traces on the shared clock, as babeltrace2 does.
    let (text, _) = read_both(&out);
    assert_eq!(seqs(&text, "probe:info"), all_seqs(5));
    assert!(
        text.contains(" syscall_entry_openat: "),
        "no openat entry recorded"
    );
    assert!(
        text.contains(" syscall_exit_openat: "),
        "no openat exit recorded"
    );
    // The consumer's eBPF recorder gives openat its path string (the probe loads libraries).
    assert!(
        text.lines()
            .any(|l| l.contains(" syscall_entry_openat: ") && l.contains("filename = \"/")),
        "openat paths are not strings"
    );
    w.ok(&["destroy"]);
    // The tracefs instance is gone with the session.
    let leftover = !w.kernel_instances("kn").is_empty();
    assert!(
        !leftover,
        "a tracefs instance of the session was left behind"
    );
}

#[test]
fn session_app_started_before_the_daemon_registers_later() {
    let w = World::new("late");
    let go = w.tmp.path().join("go");
    // No daemon yet: the app starts at once, untraced.
    let (mut child, mut stdout) = w.spawn_probe(
        &["--count", "4", "--loop-until", go.to_str().unwrap()],
        "registered",
    );
    let out = w.create(&["late"]);
    w.ok(&["enable-event", "-u", "probe:spin,probe:info"]);
    w.ok(&["start"]);
    let pid = format!("PID: {} - ", child.id());
    wait_until("the running app to register", || {
        w.ok(&["list", "-u"]).contains(&pid)
    });
    std::fs::write(&go, b"").unwrap();
    wait_line(&mut child, &mut stdout, "emitted");
    let _ = child.wait();
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    assert_eq!(seqs(&text, "probe:info"), all_seqs(4));
    let spins = seqs(&text, "probe:spin");
    assert_eq!(
        spins,
        (spins.first().copied().unwrap_or(0)..)
            .take(spins.len())
            .collect::<Vec<_>>()
    );
}

#[test]
fn session_per_user_buffers_are_shared_by_concurrent_apps() {
    let w = World::new("shared");
    let out = w.create(&["sh"]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&["start"]);
    let go = w.tmp.path().join("go");
    let go_arg = go.to_str().unwrap().to_string();
    let (mut a, mut a_out) =
        w.spawn_probe(&["--count", "100", "--loop-until", &go_arg], "registered");
    let (mut b, mut b_out) =
        w.spawn_probe(&["--count", "100", "--loop-until", &go_arg], "registered");
    std::fs::write(&go, b"").unwrap();
    wait_line(&mut a, &mut a_out, "emitted");
    wait_line(&mut b, &mut b_out, "emitted");
    let _ = (a.wait(), b.wait());
    w.ok(&["stop"]);
    // One per-user trace holds both apps' events.
    let traces: Vec<_> = std::fs::read_dir(out.join("ust/uid"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(traces.len(), 1);
    let (text, _) = read_both(&out);
    let got = seqs(&text, "probe:info");
    let want: Vec<u64> = (0..100).flat_map(|s| [s, s]).collect();
    assert_eq!(got, want);
}

/// Issue 5: a root session daemon killed with SIGKILL leaves its kernel session's tracefs
/// instance behind; the next session daemon removes it when it starts.
#[test]
fn session_kernel_instances_of_a_killed_daemon_are_removed_at_restart() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    let w = World::new("kstale");
    w.create(&["kstale"]);
    w.ok(&["enable-event", "-k", "--syscall", "getppid"]);
    w.ok(&["start"]);
    let sessiond = w.sessiond_pid().expect("session daemon pid");
    let instances = || crate::session_support::kernel_instances(sessiond, "kstale");
    let consumerd = w.consumerd_pid().expect("consumer daemon pid");
    assert_eq!(
        instances().len(),
        1,
        "one instance while tracing: {:?}",
        instances()
    );
    kill_process(sessiond);
    kill_process(consumerd);
    assert!(
        wait_gone(sessiond, CMD_TIMEOUT) && wait_gone(consumerd, CMD_TIMEOUT),
        "daemons did not die"
    );
    assert_eq!(
        instances().len(),
        1,
        "the instance outlives its killed daemon"
    );
    // `create` starts a new daemon (as lttng, only `create` does), which cleans up first.
    let f = w.rttng(&["create", "again"]);
    assert!(f.status.success(), "{}", f.stderr_quote());
    assert!(
        instances().is_empty(),
        "stale instance left: {:?}",
        instances()
    );
}

/// Issue 4: `add-context -u` with the hostname, the namespace ids and the user/group ids, as
/// lttng offers them: each record carries the app's values.
#[test]
fn session_ust_contexts_hostname_namespaces_and_ids() {
    use std::os::unix::fs::MetadataExt;
    let w = World::new("ctx");
    let out = w.create(&["ctx"]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&[
        "add-context",
        "-u",
        "-t",
        "hostname",
        "-t",
        "net_ns",
        "-t",
        "pid_ns",
        "-t",
        "uts_ns",
        "-t",
        "vuid",
        "-t",
        "vegid",
    ]);
    w.ok(&["start"]);
    let f = w.probe(&["--count", "3"]);
    assert!(f.stdout_text().contains("emitted 3"));
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    assert_eq!(seqs(&text, "probe:info"), all_seqs(3));
    // The probe runs in this test's namespaces, as this test's user.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let ns = |n: &str| {
        std::fs::metadata(format!("/proc/self/ns/{n}"))
            .unwrap()
            .ino()
    };
    let (uid, egid) = {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |key: &str, i: usize| -> u64 {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .unwrap()
                .split_whitespace()
                .nth(i)
                .unwrap()
                .parse()
                .unwrap()
        };
        (field("Uid:", 1), field("Gid:", 2))
    };
    let expected = format!(
        "{{ hostname = \"{hostname}\", net_ns = {}, pid_ns = {}, uts_ns = {}, vuid = {uid}, vegid = {egid} }}",
        ns("net"),
        ns("pid"),
        ns("uts")
    );
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" probe:info: "))
        .collect();
    assert_eq!(lines.len(), 3);
    for l in lines {
        assert!(l.contains(&expected), "expected `{expected}` in {l}");
    }
    // lttng's other UST contexts that rttng-ust does not record are refused clearly, with
    // lttng's words and status (4) and the list of what rttng records.
    let f = w.rttng(&["add-context", "-u", "-t", "prio"]);
    assert_eq!(f.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&f.stderr)
            .contains("prio: UST invalid context (rttng records these ust contexts: vpid"),
        "{}",
        f.stderr_quote()
    );
}

/// `(thread, seq)` of every `rttng_example:tick` in babeltrace2 text: the example's
/// `value` is 3·seq − thread.
fn example_ticks(text: &str) -> Vec<(u64, u64)> {
    let field = |l: &str, name: &str| -> Option<i64> {
        l.split(&format!("{name} = "))
            .nth(1)?
            .split(|c: char| c != '-' && !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    text.lines()
        .filter(|l| l.contains(" rttng_example:tick: "))
        .map(|l| {
            let seq = field(l, "seq").unwrap_or_else(|| panic!("no seq in {l}"));
            let value = field(l, "value").unwrap_or_else(|| panic!("no value in {l}"));
            ((3 * seq - value) as u64, seq as u64)
        })
        .collect()
}

/// Acceptance of the crash test: `kill -9` of rttng-example while its threads emit, with
/// the real daemons, in both buffer ownership modes. Every event the app committed is in
/// the trace: per thread, the seqs read are exactly 0..=last, without a hole (the ones
/// after `last` were never committed, or sat in the packet the kill cut short, which
/// recovery closes), and babeltrace2 reads the trace without any warning.
fn kill9_mid_run(name: &str, buffers: &str) {
    let w = World::new(name);
    let out = w.create(&["k"]);
    w.ok(&[
        "enable-channel",
        "-u",
        buffers,
        "channel0",
        "--subbuf-size",
        "16384",
        "--num-subbuf",
        "64",
    ]);
    w.ok(&["enable-event", "-u", "rttng_example:tick"]);
    w.ok(&["start"]);
    let mut cmd = Command::new(bin_dir().join("rttng-example"));
    cmd.args(["--threads", "2", "--count", "100000000", "--rate", "2000"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    w.env(&mut cmd);
    let mut app = KillOnDrop(cmd.spawn().expect("spawn rttng-example"));
    // 1 MiB per CPU buffer holds about 8 s of the app's output (2 threads × 2000 events/s
    // of about 30 bytes), so a consumer starved by a loaded machine does not make it
    // discard. Mid-run: once the consumer has written several complete packets.
    wait_until("packets of the running app written", || {
        stream_bytes(&out, "channel0_") >= 8 * 16384
    });
    kill_process(app.0.id());
    let _ = app.0.wait();
    w.ok(&["stop"]);
    let (text, warnings) = read_both(&out);
    assert!(warnings.trim().is_empty(), "babeltrace2 warned: {warnings}");
    let mut per_thread: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for (thread, seq) in example_ticks(&text) {
        per_thread.entry(thread).or_default().push(seq);
    }
    assert_eq!(
        per_thread.keys().copied().collect::<Vec<_>>(),
        vec![0, 1],
        "events of both threads"
    );
    for (thread, mut got) in per_thread {
        got.sort_unstable();
        let last = *got.last().unwrap();
        assert!(last >= 100, "thread {thread}: only up to seq {last}");
        assert_eq!(
            got,
            all_seqs(last + 1),
            "thread {thread}: a committed event is missing or doubled"
        );
    }
    w.ok(&["destroy"]);
}

#[test]
fn session_kill9_mid_run_per_user_buffers() {
    kill9_mid_run("kill9uid", "--buffers-uid");
}

#[test]
fn session_kill9_mid_run_per_process_buffers() {
    kill9_mid_run("kill9pid", "--buffers-pid");
}

/// A traced app forks a child that traces, which forks again (a grandchild that execs
/// the app): none hangs, and every generation's events are recorded from its first one
/// (the child and the exec'd image register as new apps), in both buffer modes.
fn fork_and_exec(name: &str, buffers: &str) {
    let w = World::new(name);
    let out = w.create(&["f"]);
    w.ok(&["enable-channel", "-u", buffers, "channel0"]);
    w.ok(&["enable-event", "-u", "-a", "-c", "channel0"]);
    w.ok(&["start"]);
    let f = w.probe(&["--count", "100", "--fork"]);
    assert!(f.stdout_text().contains("forked ok"), "{}", f.stdout_text());
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    for name in ["probe:info", "probe:child", "probe:exec"] {
        assert_eq!(seqs(&text, name), all_seqs(100), "{name}");
    }
    w.ok(&["destroy"]);
}

#[test]
fn session_fork_and_exec_children_are_traced_per_user_buffers() {
    fork_and_exec("forkuid", "--buffers-uid");
}

#[test]
fn session_fork_and_exec_children_are_traced_per_process_buffers() {
    fork_and_exec("forkpid", "--buffers-pid");
}

/// Runs the probe with `RTTNG_UST_REGISTER_TIMEOUT` set to `timeout` (unset: `None`) and
/// returns how long it took.
fn timed_probe(w: &World, timeout: Option<&str>) -> std::time::Duration {
    let mut cmd = Command::new(probe_path());
    cmd.args(["--count", "10"]);
    w.env(&mut cmd);
    match timeout {
        Some(t) => cmd.env("RTTNG_UST_REGISTER_TIMEOUT", t),
        None => cmd.env_remove("RTTNG_UST_REGISTER_TIMEOUT"),
    };
    let start = std::time::Instant::now();
    let f = crate::support::run_bounded(&mut cmd, CMD_TIMEOUT).expect("probe runs");
    assert!(f.status.success(), "probe failed: {}", f.stderr_quote());
    start.elapsed()
}

/// Registration never blocks the app beyond what it opted into: with no daemon it does
/// not wait at all; with a daemon that does not answer (stopped with SIGSTOP) it waits
/// `RTTNG_UST_REGISTER_TIMEOUT` ms (default 3000, like LTTng's), and 0 means no wait.
#[test]
fn session_registration_waits_only_as_long_as_the_timeout_says() {
    let w = World::new("regtimeout");
    let alone = timed_probe(&w, None);
    assert!(
        alone < std::time::Duration::from_millis(1500),
        "no daemon, yet the app took {alone:?}"
    );
    w.create(&["t"]);
    let pid = w.sessiond_pid().expect("daemon");
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args(["-s", sig, "--", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -s {sig} {pid}");
    };
    signal("STOP");
    // kill returns once the signal is queued; each thread stops when it next leaves the
    // kernel. Wait (bounded) until every thread of the daemon is stopped, so that none can
    // still answer the first probe.
    let all_stopped = || {
        std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| {
            tasks.flatten().all(|t| {
                std::fs::read_to_string(t.path().join("stat")).is_ok_and(|st| {
                    st.rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with(['T', 't']))
                })
            })
        })
    };
    wait_until("every thread of the stopped daemon to stop", all_stopped);
    // Resumed however this block ends (a failed probe run panics).
    struct Resume(u32);
    impl Drop for Resume {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-s", "CONT", "--", &self.0.to_string()])
                .status();
        }
    }
    let resume = Resume(pid);
    let default = timed_probe(&w, None);
    let zero = timed_probe(&w, Some("0"));
    let half = timed_probe(&w, Some("500"));
    let stopped_after = all_stopped();
    drop(resume);
    assert!(
        default >= std::time::Duration::from_millis(2900)
            && default < std::time::Duration::from_millis(8000),
        "default wait {default:?}, expected about 3 s (daemon {pid} stopped when the probes \
         were done: {stopped_after})"
    );
    assert!(
        zero < std::time::Duration::from_millis(1500),
        "RTTNG_UST_REGISTER_TIMEOUT=0 still waited {zero:?}"
    );
    assert!(
        half >= std::time::Duration::from_millis(450)
            && half < std::time::Duration::from_millis(2500),
        "RTTNG_UST_REGISTER_TIMEOUT=500 waited {half:?}"
    );
    // The daemon, resumed, still serves.
    w.ok(&["list"]);
}

/// rttng-example as the issue describes it: `--threads T --count N` emits N ticks per
/// thread (seq 0..N, value = 3·seq − thread), prints `done T·N`, all recorded.
#[test]
fn session_example_threads_count_and_done_line() {
    let w = World::new("example");
    let out = w.create(&["e"]);
    w.ok(&["enable-event", "-u", "rttng_example:tick"]);
    w.ok(&["start"]);
    let mut cmd = Command::new(bin_dir().join("rttng-example"));
    cmd.args(["--threads", "3", "--count", "5"]);
    w.env(&mut cmd);
    let f = crate::support::run_bounded(&mut cmd, CMD_TIMEOUT).expect("rttng-example runs");
    assert!(f.status.success(), "{}", f.stderr_quote());
    assert_eq!(f.stdout_text(), "done 15\n");
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    let mut ticks = example_ticks(&text);
    ticks.sort_unstable();
    let want: Vec<(u64, u64)> = (0..3).flat_map(|t| (0..5).map(move |s| (t, s))).collect();
    assert_eq!(ticks, want);
    for msg in ["\"tick\"", "\"tock\"", "\"hello world\"", "\"rttng\""] {
        assert!(text.contains(&format!("msg = {msg}")), "no msg {msg}");
    }
}

/// Overwrite mode (flight recorder) through the real daemons: the newest events are kept,
/// no event is recorded twice, and the trace reads the same in babeltrace2 and rttng view.
#[test]
fn session_overwrite_channel_keeps_the_newest_events_once() {
    let w = World::new("overwrite");
    let out = w.create(&["o"]);
    w.ok(&[
        "enable-channel",
        "-u",
        "channel0",
        "--overwrite",
        "--subbuf-size",
        "4096",
        "--num-subbuf",
        "4",
    ]);
    w.ok(&["enable-event", "-u", "probe:info", "-c", "channel0"]);
    w.ok(&["start"]);
    w.probe(&["--count", "200000"]);
    w.ok(&["stop"]);
    // (Not checked: that babeltrace2 reports every overwritten packet. It reports gaps
    // in packet_seq_num between the packets it reads, but not the packets a stream lost
    // before the first one the consumer got to, which is what a flight recorder loses.)
    let (text, _) = read_both(&out);
    let got = seqs(&text, "probe:info");
    assert_eq!(got.last(), Some(&199_999), "the newest event is kept");
    assert!(
        got.len() < 200_000,
        "nothing was overwritten: 4 × 4 KiB cannot keep up with 800 000 records"
    );
    assert!(
        got.windows(2).all(|p| p[0] < p[1]),
        "an event was recorded twice"
    );
}

/// An app registers with every session daemon that exists, like LTTng's apps with the root
/// daemon and their user's: one daemon plays root (its run directory passed to the app as
/// `RTTNG_ROOT_RUNDIR`), the other is the user's (`$RTTNG_HOME/.rttng`). A session in each
/// enables the event, and both traces hold every event of the app.
#[test]
fn session_app_registers_with_the_root_and_the_user_daemon() {
    let root = World::new("both-root");
    let mut user = World::new("both-user");
    user.run = user.home.join(".rttng");
    let root_out = root.create(&["r"]);
    let user_out = user.create(&["u"]);
    for w in [&root, &user] {
        w.ok(&["enable-event", "-u", "probe:info"]);
        w.ok(&["start"]);
    }
    let mut cmd = Command::new(probe_path());
    cmd.args(["--count", "200"])
        .env_remove("RTTNG_RUNDIR")
        .env("RTTNG_ROOT_RUNDIR", &root.run)
        .env("RTTNG_HOME", &user.home)
        .env("TZ", "UTC");
    let f = crate::support::run_bounded(&mut cmd, CMD_TIMEOUT).expect("probe runs");
    assert!(f.status.success(), "probe failed: {}", f.stderr_quote());
    for (w, out) in [(&root, &root_out), (&user, &user_out)] {
        w.ok(&["stop"]);
        let (text, _) = read_both(out);
        assert_eq!(
            seqs(&text, "probe:info"),
            all_seqs(200),
            "{}",
            out.display()
        );
    }
}

/// The session daemon dies (SIGKILL) while an app emits: the app keeps running and
/// emitting untraced, and once a new daemon runs it registers again, so a session of the
/// new daemon records it.
#[test]
fn session_app_survives_a_killed_daemon_and_registers_with_the_next() {
    let w = World::new("restart");
    let go = w.tmp.path().join("go");
    w.create(&["first"]);
    w.ok(&["enable-event", "-u", "probe:spin,probe:info"]);
    w.ok(&["start"]);
    let (child, mut stdout) = w.spawn_probe(
        &["--count", "4", "--loop-until", go.to_str().unwrap()],
        "registered",
    );
    let mut child = KillOnDrop(child);
    let pid = format!("PID: {} - ", child.0.id());
    wait_until("the app to register", || {
        w.ok(&["list", "-u"]).contains(&pid)
    });
    let (sessiond, consumerd) = (w.sessiond_pid().unwrap(), w.consumerd_pid().unwrap());
    kill_process(sessiond);
    assert!(
        wait_gone(sessiond, WAIT_TIMEOUT),
        "session daemon still there"
    );
    assert!(
        wait_gone(consumerd, WAIT_TIMEOUT),
        "the consumer outlived its session daemon"
    );
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the app died with the daemon"
    );
    // A new daemon (spawned by create), a new session; the app comes back by itself.
    let out = w.create(&["second"]);
    assert_ne!(w.sessiond_pid(), Some(sessiond));
    w.ok(&["enable-event", "-u", "probe:spin,probe:info"]);
    w.ok(&["start"]);
    wait_until("the app to register again", || {
        w.ok(&["list", "-u"]).contains(&pid)
    });
    std::fs::write(&go, b"").unwrap();
    wait_line(&mut child.0, &mut stdout, "emitted");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "the app failed: {status}");
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    assert_eq!(seqs(&text, "probe:info"), all_seqs(4));
}

/// A "daemon" that answers an app's hello with garbage cannot block or crash the app: for
/// each kind of bad answer the app still emits, finishes and exits 0 within a bound. The
/// app waits up to 30 s for its daemons (`World::env`), so finishing within 10 s means
/// its registration thread gave up on the garbage at once (a hung or dead registration
/// thread would keep it waiting).
/// (No real daemon sends these; the socket stands in for a broken or hostile one.)
#[test]
fn session_app_survives_garbage_from_its_daemon() {
    use std::io::{Read, Write};
    let app_command_header = |payload_bytes: u32| {
        rttng_proto::frame::encode_header(rttng_proto::Kind::AppCommand, payload_bytes).to_vec()
    };
    let answers: Vec<(&str, Vec<u8>)> = vec![
        ("closes at once", Vec::new()),
        (
            "random bytes",
            (0u8..64).map(|i| i.wrapping_mul(37) ^ 0x5a).collect(),
        ),
        ("a 4 GiB payload", app_command_header(u32::MAX)),
        (
            "a truncated command",
            [app_command_header(100), vec![1, 2, 3]].concat(),
        ),
        (
            "an undecodable command",
            [app_command_header(8), vec![0xff; 8]].concat(),
        ),
        ("another protocol major", {
            let mut h = app_command_header(0);
            h[4] = 9;
            h
        }),
    ];
    for (what, answer) in answers {
        let w = World::new("garbage");
        std::fs::create_dir_all(&w.run).unwrap();
        let listener =
            std::os::unix::net::UnixListener::bind(w.run.join(rttng_proto::paths::APP_SOCKET))
                .unwrap();
        // Returns the first bytes the app sent (its hello's frame header).
        let server = std::thread::spawn(move || {
            // Bounded: a non-blocking accept polled until a deadline.
            listener.set_nonblocking(true).unwrap();
            let end = std::time::Instant::now() + WAIT_TIMEOUT;
            let mut s = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if std::time::Instant::now() < end => {
                        std::thread::sleep(std::time::Duration::from_millis(5))
                    }
                    Err(e) => panic!("the app never connected: {e}"),
                }
            };
            s.set_nonblocking(false).unwrap();
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut hello = [0u8; 16];
            let got = s.read_exact(&mut hello).is_ok();
            let _ = s.write_all(&answer);
            if got {
                hello.to_vec()
            } else {
                Vec::new()
            }
        });
        let start = std::time::Instant::now();
        let f = w.probe(&["--count", "100"]);
        assert!(
            f.stdout_text().contains("emitted 100"),
            "{what}: {}",
            f.stdout_text()
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{what}: the app took {:?}",
            start.elapsed()
        );
        let hello = server.join().unwrap();
        assert!(
            hello.starts_with(b"RTC1") && hello.len() == 16,
            "{what}: the app did not say hello: {hello:?}"
        );
    }
}
