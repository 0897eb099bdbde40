//! Issue 16, contexts: every user-space context type LTTng-UST 2.13 has (and this machine
//! offers) is recorded by rttng with LTTng's field names, in the order added, with the same
//! value shapes as real LTTng records for a C app (`tests/lttng/context-reference.sh`), and
//! with the right values for the recorded process (checked against /proc and the test's own
//! ids). `add-context --list` prints lttng's list.

use std::process::Command;

use crate::session_support::*;
use crate::support::{repo_root, require_tools, run_bounded, TempDir};

/// LTTng-UST 2.13's context types (`hostname` is kernel-only in LTTng; rttng also has it).
const UST_CONTEXTS: &[&str] = &[
    "vpid",
    "vtid",
    "procname",
    "pthread_id",
    "ip",
    "cgroup_ns",
    "ipc_ns",
    "mnt_ns",
    "net_ns",
    "pid_ns",
    "time_ns",
    "user_ns",
    "uts_ns",
    "vuid",
    "veuid",
    "vsuid",
    "vgid",
    "vegid",
    "vsgid",
];

/// The stream event context `{ vpid = …, … }` of the first event line of babeltrace2 text,
/// as (name, value) pairs.
fn context_of(text: &str) -> Vec<(String, String)> {
    let line = text.lines().next().expect("an event");
    let start = line.find("{ vpid = ").expect("the context fields") + 2;
    let end = start + line[start..].find(" }").expect("end of the context");
    line[start..end]
        .split(", ")
        .map(|kv| {
            let (k, v) = kv.split_once(" = ").expect("name = value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A value's shape as babeltrace2 prints it: a decimal, a string, or a hexadecimal.
fn shape(v: &str) -> &'static str {
    if v.starts_with('"') {
        "string"
    } else if v.starts_with("0x") {
        "hex"
    } else if v.parse::<i128>().is_ok() {
        "decimal"
    } else {
        "other"
    }
}

fn ns_inode(name: &str) -> String {
    let link = std::fs::read_link(format!("/proc/self/ns/{}", name.trim_end_matches("_ns")))
        .unwrap_or_else(|e| panic!("/proc/self/ns of {name}: {e}"));
    // "net:[4026531833]"
    let l = link.to_string_lossy().into_owned();
    l[l.find('[').unwrap() + 1..l.len() - 1].to_string()
}

/// Where `session_probe::main` is loaded in the running probe `pid`: its symbol's address
/// and size (`nm -S`) moved by the executable's load address (/proc/PID/maps).
fn probe_main_range(pid: u32) -> std::ops::Range<u64> {
    let exe = probe_path();
    let nm = run_bounded(
        Command::new("nm")
            .args(["-S", "-C", "--defined-only"])
            .arg(&exe),
        CMD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("nm (binutils) on {}: {e}", exe.display()));
    assert!(nm.status.success(), "nm: {}", nm.stderr_quote());
    let text = String::from_utf8_lossy(&nm.stdout);
    let hex = |s: &str| u64::from_str_radix(s, 16).unwrap_or_else(|e| panic!("{s}: {e}"));
    let (addr, size) = text
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.splitn(4, ' ').collect();
            (f.len() == 4 && f[2].eq_ignore_ascii_case("t") && f[3] == "session_probe::main")
                .then(|| (hex(f[0]), hex(f[1])))
        })
        .expect("session_probe::main in nm's output");
    // A position-independent executable (ELF type ET_DYN) is moved by the start of its
    // first mapping; a fixed one is not.
    let header = std::fs::read(&exe).expect("read the probe");
    let base = if header.get(16) == Some(&3) {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
        let canon = std::fs::canonicalize(&exe).expect("probe path");
        maps.lines()
            .find(|l| l.ends_with(canon.to_str().unwrap_or("?")))
            .and_then(|l| l.split('-').next())
            .map(hex)
            .expect("the probe's first mapping")
    } else {
        0
    };
    base + addr..base + addr + size
}

#[test]
fn issue_16_ust_contexts_match_lttng_names_shapes_and_the_process_values() {
    if let Err(hint) = require_tools(&[
        ("bash", "bash"),
        ("cc", "gcc"),
        ("lttng", "lttng-tools"),
        ("lttng-sessiond", "lttng-tools"),
        ("babeltrace2", "babeltrace2"),
        ("nm", "binutils"),
    ]) {
        panic!("{hint} (also needed: liblttng-ust-dev)");
    }
    // Real LTTng on a C app.
    let dir = TempDir::new("rttng-ctx-ref").expect("temp dir");
    let script = repo_root().join("tests/lttng/context-reference.sh");
    let done = run_bounded(
        Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .args(UST_CONTEXTS)
            .env("LC_ALL", "C")
            .env("RTTNG_NO_INSTALL", "1"),
        CMD_TIMEOUT * 5,
    )
    .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(done.status.success(), "{}", done.stderr_quote());
    let lttng_text = std::fs::read_to_string(dir.path().join("out/bt.txt")).unwrap();
    let theirs = context_of(&lttng_text);

    // rttng on its probe app, with the same contexts in the same order.
    let w = World::new("contexts");
    let out = w.create(&["ctx"]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    for c in UST_CONTEXTS {
        w.ok(&["add-context", "-u", "-t", c]);
    }
    w.ok(&["start"]);
    // The probe stays alive after its event (`--hang`), so that its load address can be
    // read from /proc before it is stopped.
    let (mut child, _out) = w.spawn_probe(&["--count", "1", "--hang"], "emitted 1");
    let pid = child.id().to_string();
    let main_range = probe_main_range(child.id());
    child.kill().expect("stop the probe");
    let _ = child.wait();
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    let ours = context_of(&text);

    let names = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&theirs),
        "context field names and order"
    );
    assert_eq!(names(&ours), UST_CONTEXTS);
    for ((k, a), (_, b)) in ours.iter().zip(&theirs) {
        assert_eq!(shape(a), shape(b), "{k}: rttng prints {a}, LTTng {b}");
    }
    // The values are the recorded process's.
    // SAFETY: these getters cannot fail and touch no memory.
    let ids = unsafe {
        let (mut r, mut e, mut s) = (0, 0, 0);
        libc::getresuid(&mut r, &mut e, &mut s);
        let (mut gr, mut ge, mut gs) = (0, 0, 0);
        libc::getresgid(&mut gr, &mut ge, &mut gs);
        [r, e, s, gr, ge, gs]
    };
    for (k, v) in &ours {
        let want: Option<String> = match k.as_str() {
            "vpid" | "vtid" => Some(pid.clone()),
            "procname" => Some("\"session_probe\"".to_string()),
            "vuid" => Some(ids[0].to_string()),
            "veuid" => Some(ids[1].to_string()),
            "vsuid" => Some(ids[2].to_string()),
            "vgid" => Some(ids[3].to_string()),
            "vegid" => Some(ids[4].to_string()),
            "vsgid" => Some(ids[5].to_string()),
            n if n.ends_with("_ns") => Some(ns_inode(n)),
            _ => None,
        };
        match (k.as_str(), want) {
            (_, Some(w)) => assert_eq!(v, &w, "{k}"),
            // The `tracepoint!` call site's address: inside the probe's `main`, where the
            // event is written (as LTTng's `ip` is an address inside the instrumented
            // function).
            ("ip", None) => {
                let ip: u64 = v.parse().unwrap_or_else(|e| panic!("ip {v}: {e}"));
                assert!(
                    main_range.contains(&ip),
                    "ip {ip:#x} is not inside session_probe's main at {main_range:x?}"
                );
            }
            // A thread handle, never 0.
            (_, None) => assert_ne!(v, "0", "{k}"),
        }
    }
}

#[test]
fn issue_16_add_context_list_is_lttngs() {
    require_tools(&[("lttng", "lttng-tools")]).unwrap_or_else(|h| panic!("{h}"));
    let theirs = run_bounded(
        Command::new("lttng").args(["add-context", "--list"]),
        CMD_TIMEOUT,
    )
    .expect("lttng add-context --list");
    assert!(theirs.status.success());
    let ours = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rttng")).args(["add-context", "--list"]),
        CMD_TIMEOUT,
    )
    .expect("rttng add-context --list");
    assert!(ours.status.success(), "{}", ours.stderr_quote());
    assert_eq!(ours.stdout_text(), theirs.stdout_text());
    // A type lttng knows but no tracer here records says why; an unknown one is lttng's 3.
    let w = World::new("ctx-refused");
    w.create(&["r"]);
    let f = w.rttng(&["add-context", "-u", "-t", "perf:cpu:cycles"]);
    assert_eq!(f.status.code(), Some(4));
    let err = String::from_utf8_lossy(&f.stderr).into_owned();
    if std::path::Path::new("/sys/bus/event_source/devices/cpu").exists() {
        assert!(err.contains("rttng does not record perf counters"), "{err}");
    } else {
        assert!(err.contains("not available on this machine"), "{err}");
    }
    // A software counter exists everywhere: rttng says it does not record it.
    let f = w.rttng(&["add-context", "-u", "-t", "perf:thread:page-fault"]);
    assert_eq!(f.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&f.stderr).contains("rttng does not record perf counters"),
        "{}",
        f.stderr_quote()
    );
    let f = w.rttng(&["add-context", "-u", "-t", "nope"]);
    assert_eq!(f.status.code(), Some(3));
}
