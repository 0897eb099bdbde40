//! Unmodified LTTng-UST 2.13 applications on rttng's drop-in libraries (`rttng run`), judged
//! against real LTTng: `tests/lttng/record-reference.sh` records `ref_app` (every field type
//! of `ref_tp.h`) under LTTng 2.13 and leaves the very binary it ran; the same binary then
//! runs through `rttng run` under rttng's daemons, and babeltrace2 must print both traces
//! the same, field for field (timestamps, hostname and the run's pids/tids/CPUs aside).
//! Also: rules (wildcards, log levels, exclusions) select C events as LTTng's do,
//! `rttng list -u -f` shows them, tracef/tracelog, an app started before the session
//! daemon, and fork/exec children.
//!
//! Oracles (gcc, liblttng-ust-dev, lttng-tools, babeltrace2) missing make the tests fail
//! with the apt-get line.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::session_support::{babeltrace2, wait_until, KillOnDrop, World, CMD_TIMEOUT};
use crate::support::{first_difference, repo_root, require_tools, run_bounded, TempDir};

/// ref_app's loops: 12 visit every string and enum value it has.
const LOOPS: u64 = 12;
/// ref_app emits 3 events once, then 7 per loop (tests/lttng/ref_app.c).
const EVENT_COUNT: usize = 3 + 7 * LOOPS as usize;
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
pub(crate) const RECORD_TIMEOUT: Duration = Duration::from_secs(300);

fn require_oracles() {
    if let Err(hint) = require_tools(&[
        ("bash", "bash"),
        ("cc", "gcc"),
        ("lttng", "lttng-tools"),
        ("lttng-sessiond", "lttng-tools"),
        ("babeltrace2", "babeltrace2"),
    ]) {
        panic!("{hint} (also needed: liblttng-ust-dev)");
    }
}

/// Builds the four drop-in libraries once per run (`rttng run` finds them next to itself).
pub(crate) fn compat_built() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let r = BUILT.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(repo_root()).args([
            "build",
            "-p",
            "rttng-lttng-ust",
            "-p",
            "rttng-lttng-ust-tracepoint",
            "-p",
            "rttng-lttng-ust-common",
            "-p",
            "rttng-lttng-ust-dl",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let done = run_bounded(&mut cmd, BUILD_TIMEOUT).map_err(|e| e.to_string())?;
        if !done.status.success() {
            return Err(format!("cargo build failed:\n{}", done.stderr_quote()));
        }
        Ok(())
    });
    if let Err(e) = r {
        panic!("{e}");
    }
}

/// Real LTTng's trace of ref_app, and the binary it ran.
struct Reference {
    trace: PathBuf,
    app: PathBuf,
    _dir: TempDir,
}

fn record_reference() -> Reference {
    require_oracles();
    let dir = TempDir::new("rttng-compat-ref").expect("temp dir");
    let out = dir.path().join("out");
    let script = repo_root().join("tests/lttng/record-reference.sh");
    let done = run_bounded(
        Command::new("bash")
            .arg(&script)
            .arg(&out)
            .arg(LOOPS.to_string()),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording with LTTng: {e}"));
    assert!(
        done.status.success(),
        "record-reference.sh failed: {}",
        done.stderr_quote()
    );
    let trace = PathBuf::from(done.stdout_text().lines().next().expect("trace path"));
    Reference {
        trace,
        app: out.join("build/ref_app"),
        _dir: dir,
    }
}

/// Compiles a C file of tests/lttng with the `rttng_ref` provider against liblttng-ust-dev.
pub(crate) fn compile(dir: &Path, source: &str, out: &str) -> PathBuf {
    require_oracles();
    let src = repo_root().join("tests/lttng");
    let exe = dir.join(out);
    let done = run_bounded(
        Command::new("cc")
            .args(["-std=gnu11", "-O1", "-Wall", "-I"])
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .arg(src.join(source))
            .arg(src.join("ref_tp.c"))
            .args(["-llttng-ust", "-ldl"]),
        CMD_TIMEOUT,
    )
    .expect("cc runs");
    assert!(
        done.status.success(),
        "cannot compile {source} (apt-get install gcc liblttng-ust-dev): {}",
        done.stderr_quote()
    );
    exe
}

/// Runs a compiler (`cc` or `g++`) in `dir` with tests/lttng as include directory.
fn build(dir: &Path, compiler: &str, args: &[&str]) {
    require_oracles();
    let src = repo_root().join("tests/lttng");
    let done = run_bounded(
        Command::new(compiler)
            .current_dir(dir)
            .arg("-I")
            .arg(&src)
            .args(args),
        CMD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{compiler} (apt-get install gcc g++ liblttng-ust-dev): {e}"));
    assert!(
        done.status.success(),
        "{compiler} {args:?} failed (apt-get install gcc g++ liblttng-ust-dev): {}",
        done.stderr_quote()
    );
}

/// Builds in `dir` the provider `libdl_tp.so` and `dlopen_app`, which loads and unloads it
/// at run time.
fn build_dlopen_app(dir: &Path) {
    build(
        dir,
        "cc",
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libdl_tp.so",
            &source("dl_tp.c"),
            "-llttng-ust",
        ],
    );
    build(
        dir,
        "cc",
        &["-o", "dlopen_app", &source("dlopen_app.c"), "-ldl"],
    );
}

fn source(name: &str) -> String {
    repo_root()
        .join("tests/lttng")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// babeltrace2's text of a trace, with what differs between runs and tracers replaced:
/// the timestamp and delta, the hostname, and the vpid/vtid/cpu_id values.
fn normalized(trace: &Path) -> Vec<String> {
    babeltrace2(trace)
        .stdout_text()
        .lines()
        .map(|l| {
            // "[ts] (+delta) HOST NAME: ..." -> "NAME: ..."
            let rest = l.splitn(4, ' ').nth(3).unwrap_or(l);
            let mut s = rest.to_string();
            for key in ["cpu_id = ", "vpid = ", "vtid = "] {
                if let Some(at) = s.find(key) {
                    let start = at + key.len();
                    let end = s[start..]
                        .find(|c: char| !c.is_ascii_digit())
                        .map_or(s.len(), |e| start + e);
                    s.replace_range(start..end, "N");
                }
            }
            s
        })
        .collect()
}

fn event_names(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l.split(": ").next().map(str::to_string))
        .collect()
}

/// Runs `rttng run -- APP ARGS` in the world's environment, to completion; its stderr.
pub(crate) fn run_app(w: &World, app: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
    cmd.arg("run").arg("--").arg(app).args(args);
    w.env(&mut cmd);
    let done = run_bounded(&mut cmd, CMD_TIMEOUT).expect("rttng run");
    assert!(
        done.status.success(),
        "rttng run -- {} failed ({}): {}",
        app.display(),
        done.status,
        done.stderr_quote()
    );
    String::from_utf8_lossy(&done.stderr).into_owned()
}

#[test]
fn issue_15_c_app_through_rttng_run_prints_like_lttng() {
    compat_built();
    let reference = record_reference();
    let w = World::new("compat-ref");
    // Session 1: everything, with LTTng's contexts: compared with LTTng's trace.
    let all = w.create(&[
        "all",
        "--output",
        &w.tmp.path().join("all").to_string_lossy(),
    ]);
    w.ok(&["enable-event", "-u", "-s", "all", "rttng_ref:*"]);
    w.ok(&[
        "add-context",
        "-u",
        "-s",
        "all",
        "-t",
        "vpid",
        "-t",
        "vtid",
        "-t",
        "procname",
    ]);
    // Session 2: log level WARNING or more severe, one exclusion.
    let lvl = w.create(&[
        "lvl",
        "--output",
        &w.tmp.path().join("lvl").to_string_lossy(),
    ]);
    w.ok(&[
        "enable-event",
        "-u",
        "-s",
        "lvl",
        "rttng_ref:*",
        "--loglevel",
        "WARNING",
        "-x",
        "rttng_ref:arrays",
    ]);
    // Session 3: a wildcard inside the event name.
    let wild = w.create(&[
        "wild",
        "--output",
        &w.tmp.path().join("wild").to_string_lossy(),
    ]);
    w.ok(&["enable-event", "-u", "-s", "wild", "rttng_ref:t*"]);
    for s in ["all", "lvl", "wild"] {
        w.ok(&["start", s]);
    }
    run_app(&w, &reference.app, &[&LOOPS.to_string()]);
    for s in ["all", "lvl", "wild"] {
        w.ok(&["stop", s]);
    }

    let theirs = normalized(&reference.trace);
    let ours = normalized(&all);
    assert_eq!(theirs.len(), EVENT_COUNT, "LTTng's trace: {theirs:#?}");
    let (a, b) = (theirs.join("\n"), ours.join("\n"));
    if let Some(d) = first_difference(a.as_bytes(), b.as_bytes()) {
        panic!("rttng's trace of ref_app differs from LTTng's:\n{d}");
    }

    // Log levels from ref_tp.h: extremes EMERG, empty ALERT, enums CRIT, arrays ERR,
    // strings WARNING; the others are less severe.
    let want: BTreeSet<String> = [
        "rttng_ref:empty",
        "rttng_ref:enums",
        "rttng_ref:extremes",
        "rttng_ref:strings",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(
        event_names(&normalized(&lvl)),
        want,
        "--loglevel WARNING -x rttng_ref:arrays"
    );
    let want: BTreeSet<String> = ["rttng_ref:tick", "rttng_ref:tock"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(event_names(&normalized(&wild)), want, "rttng_ref:t*");
}

/// Starts compat_app through `rttng run` and waits for its "ready".
fn spawn_compat_app(w: &World, app: &Path, mode: &str, register_timeout_ms: &str) -> KillOnDrop {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
    cmd.arg("run").arg("--").arg(app).arg(mode);
    w.env(&mut cmd);
    cmd.env("RTTNG_UST_REGISTER_TIMEOUT", register_timeout_ms)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = KillOnDrop(cmd.spawn().expect("spawn compat_app"));
    let mut out = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    assert_eq!(line.trim(), "ready", "compat_app did not start");
    // Keep reading: an exec'd child prints "ready" again, into a pipe that must stay open.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    child
}

/// Closes the app's stdin (it then emits) and waits for its exit.
fn finish(mut app: KillOnDrop) {
    drop(app.0.stdin.take());
    let end = std::time::Instant::now() + CMD_TIMEOUT;
    loop {
        if let Some(st) = app.0.try_wait().expect("wait") {
            assert!(st.success(), "compat_app failed: {st}");
            return;
        }
        assert!(std::time::Instant::now() < end, "compat_app did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn issue_15_list_tracef_tracelog_and_an_app_started_before_the_daemon() {
    compat_built();
    let w = World::new("compat-list");
    let app = compile(w.tmp.path(), "compat_app.c", "compat_app");
    // No session daemon yet: the app must not wait for one.
    let child = spawn_compat_app(&w, &app, "plain", "0");
    let out = w.tmp.path().join("trace");
    w.create(&["s", "--output", &out.to_string_lossy()]);
    // The app registers on its own once the daemon exists (it retries every second).
    wait_until("the app's registration", || {
        let f = w.rttng(&["list", "-u", "-f"]);
        f.status.success() && f.stdout_text().contains("rttng_ref:tick")
    });
    let list = w.ok(&["list", "-u", "-f"]);
    for want in [
        "rttng_ref:strings (loglevel: TRACE_WARNING (4))",
        "rttng_ref:tick (loglevel: TRACE_DEBUG_LINE (13))",
        "lttng_ust_tracef:event (loglevel: TRACE_DEBUG (14))",
        "lttng_ust_tracelog:LTTNG_UST_TRACEPOINT_LOGLEVEL_WARNING (loglevel: TRACE_WARNING (4))",
        "field: label (string)",
        "field: _seq_s32_length (integer)",
        "field: f64 (float)",
    ] {
        assert!(
            list.contains(want),
            "`rttng list -u -f` lacks {want:?}:\n{list}"
        );
    }
    w.ok(&[
        "enable-event",
        "-u",
        "rttng_ref:tick,lttng_ust_tracef:*,lttng_ust_tracelog:*",
    ]);
    w.ok(&["start"]);
    finish(child);
    w.ok(&["stop"]);
    let got = normalized(&out);
    let want = [
        "rttng_ref:tick: { cpu_id = N }, { seq = 7, label = \"x\" }",
        "lttng_ust_tracef:event: { cpu_id = N }, { _msg_length = 8, msg = \"hello 42\" }",
        "lttng_ust_tracelog:LTTNG_UST_TRACEPOINT_LOGLEVEL_WARNING: { cpu_id = N }, { line = 25, file = \"",
    ];
    assert_eq!(got.len(), 3, "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.starts_with(w), "got {g:?}, want {w:?}...");
    }
    assert!(
        got[2].ends_with("compat_app.c\", func = \"emit\", _msg_length = 6, msg = \"warn w\" }"),
        "{}",
        got[2]
    );
}

#[test]
fn issue_15_fork_and_exec_children_are_traced() {
    compat_built();
    let w = World::new("compat-fork");
    let app = compile(w.tmp.path(), "compat_app.c", "compat_app");
    let out = w.tmp.path().join("trace");
    w.create(&["s", "--output", &out.to_string_lossy()]);
    w.ok(&["enable-event", "-u", "rttng_ref:tick"]);
    w.ok(&["add-context", "-u", "-t", "vpid"]);
    w.ok(&["start"]);
    for mode in ["fork", "exec"] {
        let child = spawn_compat_app(&w, &app, mode, "30000");
        finish(child);
    }
    w.ok(&["stop"]);
    let got = normalized(&out);
    let ticks: Vec<&String> = got
        .iter()
        .filter(|l| l.starts_with("rttng_ref:tick"))
        .collect();
    // Per mode: the fork child's tick 8, then tick 7 (the child itself, or the program it
    // executed).
    let seqs: Vec<&str> = ticks
        .iter()
        .filter_map(|l| l.split("seq = ").nth(1)?.split(',').next())
        .collect();
    assert_eq!(seqs, ["8", "7", "8", "7"], "{got:#?}");
    let _ = std::io::stdout().flush();
}

#[test]
fn issue_15_a_dlopened_provider_and_a_cpp_app() {
    compat_built();
    let w = World::new("compat-dl");
    let dir = w.tmp.path();
    // The provider as a shared object that the app loads and unloads at run time.
    build_dlopen_app(dir);
    // A C++ program; the provider is compiled as C (LTTng's enum macros are C).
    build(dir, "cc", &["-c", "-o", "ref_tp.o", &source("ref_tp.c")]);
    build(
        dir,
        "g++",
        &[
            "-o",
            "cpp_app",
            &source("cpp_app.cpp"),
            "ref_tp.o",
            "-llttng-ust",
            "-ldl",
        ],
    );
    let out = dir.join("trace");
    w.create(&["s", "--output", &out.to_string_lossy()]);
    w.ok(&["enable-event", "-u", "rttng_ref:tick,rttng_ref:tock"]);
    w.ok(&["start"]);
    let provider = dir.join("libdl_tp.so");
    run_app(&w, &dir.join("dlopen_app"), &[&provider.to_string_lossy()]);
    run_app(&w, &dir.join("cpp_app"), &[]);
    w.ok(&["stop"]);
    let got = normalized(&out);
    // Only the tick emitted while the provider was loaded; then the C++ app's tock.
    assert_eq!(
        got,
        [
            "rttng_ref:tick: { cpu_id = N }, { seq = 2, label = \"loaded\" }",
            "rttng_ref:tock: { cpu_id = N }, { seq = 5, label = \"c++\" }",
        ],
    );
}

#[test]
fn issue_15_bad_providers_give_one_line_each_and_the_app_goes_on() {
    compat_built();
    let w = World::new("compat-bad");
    let dir = w.tmp.path();
    build(dir, "cc", &["-c", "-o", "ref_tp.o", &source("ref_tp.c")]);
    build(
        dir,
        "cc",
        &[
            "-o",
            "bad_provider",
            &source("bad_provider.c"),
            "ref_tp.o",
            "-llttng-ust",
            "-ldl",
        ],
    );
    let out = dir.join("trace");
    w.create(&["s", "--output", &out.to_string_lossy()]);
    w.ok(&["enable-event", "-u", "rttng_ref:tick,bad_events:*"]);
    w.ok(&["start"]);
    let stderr = run_app(&w, &dir.join("bad_provider"), &[]);
    w.ok(&["stop"]);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("liblttng-ust (rttng): "))
        .collect();
    let want = [
        "ABI major 99 is not supported",
        "provider without a valid name",
        "event #0 without a valid name",
        "field f: null type",
        "array of 2147483648 elements",
        "null probe descriptor",
        "bad_events is already registered",
    ];
    assert_eq!(
        lines.len(),
        want.len(),
        "one line per refused part:\n{stderr}"
    );
    for (l, w) in lines.iter().zip(want) {
        assert!(l.contains(w), "{l:?} should say {w:?}");
    }
    // The good provider works, and so does the good event of the bad one (never emitted).
    assert_eq!(
        normalized(&out),
        ["rttng_ref:tick: { cpu_id = N }, { seq = 11, label = \"after bad providers\" }"]
    );
}

#[test]
fn issue_15_babeltrace2_debug_info_resolves_symbols_from_the_statedump() {
    compat_built();
    let w = World::new("compat-debuginfo");
    let dir = w.tmp.path();
    build(
        dir,
        "cc",
        &[
            "-g",
            "-O1",
            "-o",
            "compat_app",
            &source("compat_app.c"),
            &source("ref_tp.c"),
            "-llttng-ust",
            "-ldl",
        ],
    );
    let out = dir.join("trace");
    w.create(&["s", "--output", &out.to_string_lossy()]);
    w.ok(&["enable-event", "-u", "lttng_ust_statedump:*,rttng_ref:tick"]);
    w.ok(&["add-context", "-u", "-t", "vpid", "-t", "ip"]);
    w.ok(&["start"]);
    let app = spawn_compat_app(&w, &dir.join("compat_app"), "plain", "30000");
    finish(app);
    w.ok(&["stop"]);
    let bt = run_bounded(
        Command::new("babeltrace2").arg("--debug-info").arg(&out),
        CMD_TIMEOUT,
    )
    .expect("babeltrace2 runs");
    assert!(bt.status.success(), "{}", bt.stderr_quote());
    let text = bt.stdout_text();
    let tick = text
        .lines()
        .find(|l| l.contains(" rttng_ref:tick: "))
        .unwrap_or_else(|| panic!("no tick in:\n{text}"));
    // compat_app.c line 23 holds the tracepoint, in function `emit`.
    assert!(
        tick.contains("debug_info = { bin = \"compat_app+0x")
            && tick.contains("func = \"emit+0x")
            && tick.contains("src = \"compat_app.c:23\" }"),
        "{tick}"
    );
    for event in ["start", "procname", "bin_info", "build_id", "end"] {
        assert!(
            text.contains(&format!(" lttng_ust_statedump:{event}: ")),
            "no statedump {event} in:\n{text}"
        );
    }
}

#[test]
fn issue_15_filters_select_c_events_from_their_probe_arguments() {
    compat_built();
    let w = World::new("compat-filter");
    let dir = w.tmp.path();
    build(
        dir,
        "cc",
        &[
            "-std=gnu11",
            "-O1",
            "-o",
            "ref_app",
            &source("ref_app.c"),
            &source("ref_tp.c"),
            "-llttng-ust",
            "-ldl",
            "-lm",
        ],
    );
    let out = w.create(&["f", "--output", &dir.join("f").to_string_lossy()]);
    // Integers and strings (tick: seq, label), a text array (strings: fixed_text), a
    // double (floats: f64 = 1.5·i + 0.125), and a field the event does not have.
    for (event, filter) in [
        ("rttng_ref:tick", "seq >= 5 && label == \"ti*\""),
        ("rttng_ref:strings", "fixed_text == \"fixed-*\""),
        ("rttng_ref:floats", "f64 > 10.0"),
        ("rttng_ref:empty", "nosuchfield == 1"),
    ] {
        w.ok(&["enable-event", "-u", "-s", "f", event, "--filter", filter]);
    }
    w.ok(&["start", "f"]);
    run_app(&w, &dir.join("ref_app"), &[&LOOPS.to_string()]);
    w.ok(&["stop", "f"]);
    let lines = normalized(&out);
    let count = |name: &str| {
        lines
            .iter()
            .filter(|l| l.starts_with(&format!("{name}: ")))
            .count() as u64
    };
    assert_eq!(count("rttng_ref:tick"), LOOPS - 5, "{lines:#?}");
    assert!(
        lines
            .iter()
            .filter(|l| l.starts_with("rttng_ref:tick: "))
            .all(|l| !l.contains("seq = 4,")),
        "{lines:#?}"
    );
    assert_eq!(count("rttng_ref:strings"), LOOPS, "{lines:#?}");
    // 1.5·i + 0.125 > 10 for i >= 7.
    assert_eq!(count("rttng_ref:floats"), LOOPS - 7, "{lines:#?}");
    assert_eq!(count("rttng_ref:empty"), 0, "{lines:#?}");
    assert_eq!(count("rttng_ref:tock"), 0, "not enabled");
}

/// The `lttng_ust_lib:*` events (and with `wrapper`, the `lttng_ust_dl:*` ones) about
/// objects whose path ends with `suffix`, and the `rttng_ref:tick`s, as babeltrace2 prints
/// them, with addresses, ids and CPUs replaced (the `ip` context only when printed in
/// decimal, as LTTng declares it).
fn library_events(trace: &Path, suffix: &str, wrapper: bool) -> Vec<String> {
    let lines = normalized(trace);
    let field = |l: &str, key: &str| -> Option<String> {
        let at = l.find(key)? + key.len();
        let end = l[at..].find([',', ' ']).map_or(l.len(), |e| at + e);
        let v = &l[at..end];
        (key != "ip = " || v.chars().all(|c| c.is_ascii_digit())).then(|| v.to_string())
    };
    let mut ours = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for l in &lines {
        if l.starts_with("rttng_ref:tick: ") {
            let ip = field(l, "ip = ").unwrap_or_else(|| "ip".into());
            out.push(l.replace(&format!("ip = {ip}"), "ip = X"));
            continue;
        }
        if !(l.starts_with("lttng_ust_lib:") || wrapper && l.starts_with("lttng_ust_dl:")) {
            continue;
        }
        let Some(baddr) = field(l, "baddr = ") else {
            continue;
        };
        let opened = ["lttng_ust_lib:load: ", "lttng_ust_dl:dlopen: "];
        if opened.iter().any(|p| l.starts_with(p)) && l.contains(&format!("{suffix}\",")) {
            ours.insert(baddr.clone());
        }
        if ours.contains(&baddr) {
            let ip = field(l, "ip = ").unwrap_or_else(|| "ip".into());
            out.push(
                l.replace(&baddr, "X")
                    .replace(&format!("ip = {ip}"), "ip = X"),
            );
        }
    }
    out
}

#[test]
fn issue_15_library_events_under_lttngs_dlopen_wrapper_match_lttng() {
    compat_built();
    let w = World::new("compat-libevents");
    let dir = w.tmp.path();
    build_dlopen_app(dir);
    let wrapper = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]
        .iter()
        .map(|d| Path::new(d).join("liblttng-ust-dl.so.1"))
        .find(|p| p.exists())
        .expect("LTTng's dlopen wrapper liblttng-ust-dl.so.1 (apt-get install liblttng-ust1)");
    // LTTng's trace.
    let reference = dir.join("reference");
    let done = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("tests/lttng/record-dl.sh"))
            .arg(&reference)
            .arg(dir),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording with LTTng: {e}"));
    assert!(
        done.status.success(),
        "record-dl.sh failed: {}",
        done.stderr_quote()
    );
    let theirs = library_events(Path::new(done.stdout_text().trim()), "/libdl_tp.so", false);
    // The same binaries through `rttng run`, under the same wrapper.
    let out = w.create(&["l", "--output", &dir.join("l").to_string_lossy()]);
    w.ok(&[
        "enable-event",
        "-u",
        "lttng_ust_lib:*,lttng_ust_dl:*,rttng_ref:tick",
    ]);
    w.ok(&["add-context", "-u", "-t", "vpid", "-t", "ip"]);
    w.ok(&["start"]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
    cmd.arg("run")
        .arg("--")
        .arg(dir.join("dlopen_app"))
        .arg(dir.join("libdl_tp.so"));
    w.env(&mut cmd);
    cmd.env("LD_PRELOAD", &wrapper);
    let ran = run_bounded(&mut cmd, CMD_TIMEOUT).expect("rttng run");
    assert!(ran.status.success(), "{}", ran.stderr_quote());
    w.ok(&["stop"]);
    let ours = library_events(&out, "/libdl_tp.so", false);
    // load, build_id, the tick while loaded, unload.
    assert_eq!(theirs.len(), 4, "LTTng's library events: {theirs:#?}");
    assert_eq!(ours, theirs, "rttng's library events differ from LTTng's");
}

/// The debug-info part of babeltrace2 `--debug-info`'s line for the tick `seq` emitted
/// inside the dlopened library.
fn debug_info_of_tick(trace: &Path, seq: u32) -> String {
    let bt = run_bounded(
        Command::new("babeltrace2").arg("--debug-info").arg(trace),
        CMD_TIMEOUT,
    )
    .expect("babeltrace2 runs");
    assert!(bt.status.success(), "{}", bt.stderr_quote());
    let text = bt.stdout_text();
    let tick = text
        .lines()
        .find(|l| l.contains(" rttng_ref:tick: ") && l.contains(&format!("seq = {seq},")))
        .unwrap_or_else(|| panic!("no tick {seq} in:\n{text}"));
    let at = tick
        .find("debug_info = ")
        .unwrap_or_else(|| panic!("no debug_info in {tick}"));
    tick[at..].to_string()
}

#[test]
fn issue_15_rttngs_dlopen_wrapper_records_what_lttngs_does_and_debug_info_resolves_the_library() {
    compat_built();
    let w = World::new("compat-dlwrapper");
    let dir = w.tmp.path();
    // A library that is its own provider and emits from its function `dl_fire`, with a
    // debug link (to a separate debug file), loaded and unloaded by dlopen_app.
    build(
        dir,
        "cc",
        &[
            "-g",
            "-O1",
            "-shared",
            "-fPIC",
            "-o",
            "libdl_fire.so",
            &source("dl_fire.c"),
            "-llttng-ust",
        ],
    );
    for args in [
        ["--only-keep-debug", "libdl_fire.so", "libdl_fire.debug"],
        [
            "--add-gnu-debuglink=libdl_fire.debug",
            "libdl_fire.so",
            "libdl_fire.so",
        ],
    ] {
        let done = run_bounded(
            Command::new("objcopy").current_dir(dir).args(args),
            CMD_TIMEOUT,
        )
        .expect("objcopy (apt-get install binutils)");
        assert!(
            done.status.success(),
            "objcopy {args:?}: {}",
            done.stderr_quote()
        );
    }
    build(
        dir,
        "cc",
        &["-o", "dlopen_app", &source("dlopen_app.c"), "-ldl"],
    );
    // LTTng's trace, under LTTng's wrapper.
    let done = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("tests/lttng/record-dl.sh"))
            .arg(dir.join("reference"))
            .arg(dir)
            .arg("libdl_fire.so"),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording with LTTng: {e}"));
    assert!(
        done.status.success(),
        "record-dl.sh failed: {}",
        done.stderr_quote()
    );
    let reference = PathBuf::from(done.stdout_text().trim());
    let theirs = library_events(&reference, "/libdl_fire.so", true);
    // The same binaries through `rttng run --dl`: rttng's wrapper, none of LTTng's files.
    let out = w.create(&["l", "--output", &dir.join("l").to_string_lossy()]);
    w.ok(&[
        "enable-event",
        "-u",
        "lttng_ust_lib:*,lttng_ust_dl:*,rttng_ref:tick",
    ]);
    w.ok(&["add-context", "-u", "-t", "vpid", "-t", "ip"]);
    w.ok(&["start"]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
    cmd.args(["run", "--dl", "--"])
        .arg(dir.join("dlopen_app"))
        .arg(dir.join("libdl_fire.so"));
    w.env(&mut cmd);
    let ran = run_bounded(&mut cmd, CMD_TIMEOUT).expect("rttng run");
    assert!(ran.status.success(), "{}", ran.stderr_quote());
    w.ok(&["stop"]);
    let ours = library_events(&out, "/libdl_fire.so", true);
    // lib: load, build_id, debug_link; dl: dlopen, build_id, debug_link; the two ticks
    // while loaded; dl: dlclose; lib: unload.
    assert_eq!(theirs.len(), 10, "LTTng's library events: {theirs:#?}");
    assert_eq!(ours, theirs, "rttng's library events differ from LTTng's");
    // babeltrace2 finds the function and line inside the library from our events alone.
    let want = debug_info_of_tick(&reference, 4);
    assert!(
        want.contains("bin = \"libdl_fire.so+0x") && want.contains("func = \"dl_fire+0x"),
        "LTTng's: {want}"
    );
    assert_eq!(debug_info_of_tick(&out, 4), want);
}

/// A C program's own application context provider (`$app.capp`, registered through
/// LTTng-UST 2.13's `lttng_ust_context_provider_register`, `tests/lttng/appctx_app.c`):
/// uint64, float, int16, uint8 and string values, a name the provider does not know, a
/// provider nobody registered, and the last event after `unregister`. Recorded by LTTng
/// 2.13 (`record-appctx-c.sh`) and through `rttng run` with `add-context -u`; babeltrace2
/// must print the same tags and values.
#[test]
fn issue_15_c_application_context_provider_records_what_lttng_records() {
    compat_built();
    let w = World::new("compat-appctx");
    let dir = w.tmp.path();
    let app = compile(dir, "appctx_app.c", "appctx_app");
    let done = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("tests/lttng/record-appctx-c.sh"))
            .arg(dir.join("reference"))
            .arg(&app),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording with LTTng: {e}"));
    assert!(
        done.status.success(),
        "record-appctx-c.sh failed: {}",
        done.stderr_quote()
    );
    let theirs = normalized(Path::new(done.stdout_text().trim()));
    let out = w.create(&["c", "--output", &dir.join("c").to_string_lossy()]);
    w.ok(&["enable-event", "-u", "rttng_ref:tick"]);
    // In LTTng's order: vpid between two application contexts.
    let mut names: Vec<String> = ["u64", "flt", "s16", "u8", "str", "other"]
        .iter()
        .map(|n| format!("$app.capp:{n}"))
        .collect();
    names.insert(1, "vpid".into());
    names.push("$app.nobody:x".into());
    for n in &names {
        assert_eq!(
            w.ok(&["add-context", "-u", "-t", n]).trim(),
            format!("ust context {n} added to all channels"),
            "lttng's message"
        );
    }
    w.ok(&["start"]);
    run_app(&w, &app, &[]);
    w.ok(&["stop"]);
    let ours = normalized(&out);
    assert_eq!(theirs.len(), 4, "LTTng's trace: {theirs:#?}");
    assert!(
        theirs[0].contains("_app_capp_str = { \"c value 1\" }")
            && theirs[3].contains("_app_capp_u64_tag = ( \"_none\""),
        "LTTng's trace: {theirs:#?}"
    );
    let (a, b) = (theirs.join("\n"), ours.join("\n"));
    if let Some(d) = first_difference(a.as_bytes(), b.as_bytes()) {
        panic!("rttng's application contexts differ from LTTng's:\n{d}");
    }
}

/// A provider that writes another size than it announced, asks for 100000 bytes, or
/// writes an unknown tag (`appctx_app bad`): each of its contexts still takes exactly the
/// bytes reserved for it (a string of `#`, or `_none`), so babeltrace2 reads the event,
/// the `vpid` context after them and the payload intact.
#[test]
fn issue_15_a_lying_context_provider_leaves_the_trace_readable() {
    compat_built();
    let w = World::new("compat-appctx-bad");
    let dir = w.tmp.path();
    let app = compile(dir, "appctx_app.c", "appctx_app");
    let out = w.create(&["b", "--output", &dir.join("b").to_string_lossy()]);
    w.ok(&["enable-event", "-u", "rttng_ref:tick"]);
    for t in ["$app.bad:str", "$app.bad:huge", "$app.bad:tag", "vpid"] {
        w.ok(&["add-context", "-u", "-t", t]);
    }
    w.ok(&["start"]);
    run_app(&w, &app, &["bad"]);
    w.ok(&["stop"]);
    assert_eq!(
        normalized(&out),
        ["rttng_ref:tick: { cpu_id = N }, { \
             _app_bad_str_tag = ( \"_string\" : container = 11 ), _app_bad_str = { \"####\" }, \
             _app_bad_huge_tag = ( \"_none\" : container = 0 ), _app_bad_huge = { { } }, \
             _app_bad_tag_tag = ( \"_string\" : container = 11 ), _app_bad_tag = { \"\" }, \
             vpid = N }, { seq = 1, label = \"bad provider\" }"]
    );
}
