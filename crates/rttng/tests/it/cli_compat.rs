//! Issue 16, the CLI-compatibility list, judged against the real lttng 2.13: one list of
//! commands runs through `tests/lttng/cli-reference.sh` (a private lttng, no session daemon
//! at first) and through rttng (a private world, no daemon at first); for every command the
//! exit status and the kind of each standard-error line (`Error:`, `Warning:`) must be
//! lttng's, and where marked, standard output and standard error must be lttng's text
//! (trace paths normalised). Also: `rttng list` into a closed pipe, `-q`, and
//! `--list-commands`.
//!
//! Oracles missing (lttng-tools, lttng-sessiond) make the tests fail with the apt-get line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::session_support::{World, CMD_TIMEOUT};
use crate::support::{repo_root, require_tools, run_bounded, TempDir};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// Compare standard output (O), both standard output and error (B), or only the status
/// and the kinds of the error lines (K).
#[derive(Clone, Copy, PartialEq)]
enum Text {
    K,
    O,
    B,
}

/// The commands, in order. `{OUT}` is a trace directory of the run.
const STEPS: &[(&str, Text)] = &[
    // No session daemon yet: only `create` starts one.
    ("destroy nosuch", Text::K),
    ("list", Text::K),
    ("start nosuch", Text::K),
    ("stop", Text::K),
    ("create s1 -o {OUT}/s1", Text::O),
    // An empty session cannot start (72) and stays usable.
    ("start", Text::B),
    ("stop", Text::B),
    ("start nosuch", Text::K),
    // enable-event -c creates the channel.
    ("enable-event -u foo -c newchan", Text::B),
    ("add-context -u -t vpid", Text::B),
    ("enable-event -u bar -c newchan --loglevel NOPE", Text::K),
    // No channel0 but another channel: -c is needed (83).
    ("disable-event -u -a", Text::B),
    ("disable-event -u -a -c newchan", Text::B),
    ("enable-channel -u c2 --subbuf-size 3000", Text::B),
    ("enable-channel -u c3 --num-subbuf 3", Text::B),
    ("disable-channel -u nosuch", Text::K),
    ("disable-event -u nosuch -c newchan", Text::K),
    ("create s1 -o {OUT}/again", Text::K),
    // add-context with no channel creates channel0; disable-event -a then disables it all.
    ("create s2 -o {OUT}/s2", Text::O),
    ("add-context -u -t vpid", Text::B),
    ("enable-event -u -a", Text::B),
    ("disable-event -u -a", Text::B),
    ("start s2", Text::B),
    ("start s2", Text::B),
    ("stop s2", Text::B),
    ("stop s2", Text::B),
    ("start s2", Text::B),
    ("stop -n s2", Text::B),
    ("destroy -n s2", Text::B),
    // Trackers (user space).
    ("track -u -s s1 --vpid 1", Text::B),
    ("track -u -s s1 --pid 1", Text::B),
    ("untrack -u -s s1 --vpid 2", Text::B),
    ("track -u -s s1 --vuid 0,3", Text::B),
    ("untrack -u -s s1 --vuid 0", Text::B),
    ("untrack -u -s s1 --vgid --all", Text::B),
    ("track -u -s s1 --vgid --all", Text::B),
    ("untrack -u -s s1 --vpid --all", Text::B),
    ("track -u -s nosuch --vpid 1", Text::K),
    ("list s1", Text::K),
    ("add-context -u -t nosuch -s s1", Text::K),
    ("add-context -u -t perf:cpu:cycles -s s1", Text::K),
    // Channels that exist, wrong counts, contexts on missing channels and after start.
    ("enable-channel -u newchan -s s1", Text::B),
    (
        "enable-channel -u newchan -s s1 --subbuf-size 8192",
        Text::B,
    ),
    ("enable-channel -u c9 -s s1 --num-subbuf 0", Text::B),
    ("add-context -u -t vpid -c nosuch -s s1", Text::B),
    ("start s1", Text::B),
    ("add-context -u -t vtid -c newchan -s s1", Text::B),
    ("enable-channel -u c9 -s s1", Text::K),
    // Channel commands have no agent domains: refused at parsing (status 2).
    ("enable-channel -j c10 -s s1", Text::K),
    ("enable-channel -l c10 -s s1", Text::K),
    ("enable-channel --python c10 -s s1", Text::K),
    ("disable-channel -j newchan -s s1", Text::K),
    ("disable-channel --log4j newchan -s s1", Text::K),
    ("disable-channel -p newchan -s s1", Text::K),
    ("stop s1", Text::B),
    ("-q create s3 -o {OUT}/s3", Text::B),
    ("-q destroy s3", Text::B),
    ("destroy nosuch", Text::K),
    ("destroy s1", Text::B),
    ("list", Text::B),
];

/// Index in STEPS of `list s1`.
fn list_step() -> usize {
    STEPS.iter().position(|(c, _)| *c == "list s1").unwrap()
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn lttng_runs(dir: &Path) -> Vec<Run> {
    if let Err(hint) = require_tools(&[
        ("bash", "bash"),
        ("lttng", "lttng-tools"),
        ("lttng-sessiond", "lttng-tools"),
        ("timeout", "coreutils"),
    ]) {
        panic!("{hint}");
    }
    let text: String = STEPS
        .iter()
        .map(|(c, _)| c.split(' ').collect::<Vec<_>>().join("\t") + "\n")
        .collect();
    std::fs::write(dir.join("commands.txt"), text).unwrap();
    let script = repo_root().join("tests/lttng/cli-reference.sh");
    let done = run_bounded(
        Command::new("bash")
            .arg(&script)
            .arg(dir)
            .env("LC_ALL", "C")
            .env("RTTNG_NO_INSTALL", "1"),
        SCRIPT_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        done.status.success(),
        "cli-reference.sh failed: {}",
        done.stderr_quote()
    );
    let out = dir.join("out");
    let traces = dir.join("traces").to_string_lossy().into_owned();
    (0..STEPS.len())
        .map(|k| {
            let read = |ext: &str| {
                std::fs::read_to_string(out.join(format!("{k}.{ext}")))
                    .unwrap_or_else(|e| panic!("lttng step {k} {ext}: {e}"))
                    .replace(&traces, "{OUT}")
            };
            Run {
                status: read("status").trim().parse().unwrap(),
                stdout: read("stdout"),
                stderr: read("stderr"),
            }
        })
        .collect()
}

fn rttng_runs(w: &World) -> Vec<Run> {
    let traces = w.tmp.path().join("traces");
    let t = traces.to_string_lossy().into_owned();
    STEPS
        .iter()
        .map(|(c, _)| {
            let line = c.replace("{OUT}", &t);
            let args: Vec<&str> = line.split(' ').collect();
            let f = w.rttng(&args);
            Run {
                status: f.status.code().unwrap_or(-1),
                stdout: f.stdout_text().replace(&t, "{OUT}"),
                stderr: String::from_utf8_lossy(&f.stderr).replace(&t, "{OUT}"),
            }
        })
        .collect()
}

/// The kind of each standard-error line: its `Error:`/`Warning:` prefix, else `text`.
fn kinds(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.starts_with("Error:") {
                "Error:"
            } else if l.starts_with("Warning:") {
                "Warning:"
            } else {
                "text"
            }
        })
        .collect()
}

/// Output as compared: lttng's progress dots (timing-dependent) removed.
fn without_dots(s: &str) -> String {
    s.lines()
        .map(|l| l.trim_end_matches('.'))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The "Tracked process attributes" block of a `list SESSION` text.
fn trackers_block(list: &str) -> Vec<&str> {
    list.lines()
        .skip_while(|l| *l != "Tracked process attributes")
        .take_while(|l| !l.is_empty())
        .collect()
}

#[test]
fn issue_16_cli_behaves_as_lttng_2_13_command_by_command() {
    let dir = TempDir::new("rttng-cli-ref").expect("temp dir");
    let theirs = lttng_runs(dir.path());
    let w = World::new("cli-compat");
    let ours = rttng_runs(&w);
    let mut problems = Vec::new();
    for (k, ((cmd, text), (l, r))) in STEPS.iter().zip(theirs.iter().zip(&ours)).enumerate() {
        let mut say = |what: &str, a: &str, b: &str| {
            problems.push(format!(
                "step {k} `{cmd}`: {what} differ\n  lttng: {a:?}\n  rttng: {b:?}"
            ))
        };
        if l.status != r.status {
            say(
                "exit statuses",
                &format!("{} {}", l.status, l.stderr),
                &format!("{} {}", r.status, r.stderr),
            );
        }
        if kinds(&l.stderr) != kinds(&r.stderr) {
            say("stderr kinds", &l.stderr, &r.stderr);
        }
        if matches!(text, Text::O | Text::B) && without_dots(&l.stdout) != without_dots(&r.stdout) {
            say("stdout", &l.stdout, &r.stdout);
        }
        if *text == Text::B && l.stderr != r.stderr {
            say("stderr", &l.stderr, &r.stderr);
        }
    }
    // list's tracker block is lttng's, and the channel lines lttng has are there.
    let k = list_step();
    assert_eq!(
        trackers_block(&ours[k].stdout),
        trackers_block(&theirs[k].stdout),
        "list's trackers:\n{}",
        ours[k].stdout
    );
    for key in ["Monitor timer:", "Blocking timeout:", "Trace file count:"] {
        assert!(theirs[k].stdout.contains(key), "lttng lacks {key}");
        assert!(
            ours[k].stdout.contains(key),
            "rttng list lacks {key}:\n{}",
            ours[k].stdout
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `destroy` of a session that recorded says "Destroying session NAME" while it writes the
/// last data, as lttng does (its dots are timing-dependent); `-n` does not wait.
#[test]
fn issue_16_destroy_says_destroying_session_unless_no_wait() {
    let w = World::new("cli-destroy");
    for (name, no_wait) in [("d1", false), ("d2", true)] {
        w.create(&[name]);
        w.ok(&["enable-event", "-u", "-a", "-s", name]);
        w.ok(&["start", name]);
        let args: Vec<&str> = if no_wait {
            vec!["destroy", "-n", name]
        } else {
            vec!["destroy", name]
        };
        let out = w.ok(&args);
        let lines: Vec<&str> = out.lines().collect();
        let expect_last = format!("Session {name} destroyed");
        assert_eq!(lines.last().copied(), Some(expect_last.as_str()), "{out}");
        let says = lines
            .iter()
            .any(|l| l.starts_with(&format!("Destroying session {name}")));
        assert_eq!(says, !no_wait, "{out}");
    }
    // No daemon was left without a session to serve: destroy of a missing one is 23.
    let f = w.rttng(&["destroy", "nosuch"]);
    assert_eq!(f.status.code(), Some(23), "{}", f.stderr_quote());
}

/// `rttng list | head -1` with many sessions: a closed standard output ends the command
/// quietly with status 0 (it used to panic with status 101).
#[test]
fn issue_16_list_into_a_closed_pipe_is_quiet() {
    let w = World::new("cli-pipe");
    for i in 0..40 {
        w.create(&[&format!("many{i}")]);
    }
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader); // like `head` gone before the first write
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
    cmd.arg("list").stdout(writer).stderr(Stdio::piped());
    w.env(&mut cmd);
    let f = run_bounded(&mut cmd, CMD_TIMEOUT).expect("rttng list");
    assert_eq!(f.status.code(), Some(0), "{}", f.stderr_quote());
    assert!(f.stderr.is_empty(), "{}", f.stderr_quote());
}

/// `--list-commands` names every command (the completion script's source), and the
/// bash completion offers them.
#[test]
fn issue_16_list_commands_and_quiet() {
    let out = Command::new(env!("CARGO_BIN_EXE_rttng"))
        .arg("--list-commands")
        .output()
        .expect("rttng --list-commands");
    assert!(out.status.success());
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    for c in [
        "create",
        "destroy",
        "enable-event",
        "disable-event",
        "add-context",
        "start",
        "stop",
        "list",
        "track",
        "untrack",
        "view",
    ] {
        assert!(names.iter().any(|n| n == c), "{c} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n == "help"), "{names:?}");
}

/// The bash completion script, driven as bash drives it: COMP_WORDS in, COMPREPLY out.
#[test]
fn issue_16_bash_completion_offers_commands_and_options() {
    let script = repo_root().join("extras/rttng-bash-completion");
    let complete = |words: &[&str]| -> Vec<String> {
        let mut words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        words[0] = env!("CARGO_BIN_EXE_rttng").to_string();
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let prog = format!(
            ". '{}'; COMP_WORDS=({}); COMP_CWORD={}; _rttng; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            quoted.join(" "),
            words.len() - 1
        );
        let f =
            run_bounded(Command::new("bash").arg("-c").arg(prog), CMD_TIMEOUT).expect("bash runs");
        assert!(f.status.success(), "{}", f.stderr_quote());
        f.stdout_text().lines().map(str::to_string).collect()
    };
    let mut got = complete(&["rttng", "un"]);
    got.sort();
    assert_eq!(got, ["untrack"]);
    let got = complete(&["rttng", "enable-event", "--fil"]);
    assert_eq!(got, ["--filter"]);
    let got = complete(&["rttng", "track", "-u", "--v"]);
    for o in ["--vpid", "--vuid", "--vgid"] {
        assert!(got.iter().any(|g| g == o), "{o} in {got:?}");
    }
}

/// `--list-options` (rttng's and a command's, as lttng's completion uses them) and `-v`
/// (each request and answer on standard error; standard output unchanged).
#[test]
fn issue_16_list_options_and_verbose() {
    require_tools(&[("lttng", "lttng-tools")]).unwrap_or_else(|h| panic!("{h}"));
    let lines = |program: &str, args: &[&str]| -> Vec<String> {
        let f = run_bounded(Command::new(program).args(args), CMD_TIMEOUT).expect("runs");
        assert!(
            f.status.success(),
            "{program} {args:?}: {}",
            f.stderr_quote()
        );
        f.stdout_text().lines().map(str::to_string).collect()
    };
    let rttng = env!("CARGO_BIN_EXE_rttng");
    for (cmd, shared) in [
        (
            "create",
            &[
                "--output",
                "-o",
                "--set-url",
                "-U",
                "--ctrl-url",
                "-C",
                "--snapshot",
            ][..],
        ),
        (
            "enable-event",
            &["--userspace", "-u", "--channel", "-c", "--filter", "-f"][..],
        ),
        (
            "track",
            &[
                "--vpid",
                "--vuid",
                "--vgid",
                "--all",
                "-a",
                "--session",
                "-s",
            ][..],
        ),
    ] {
        let ours = lines(rttng, &[cmd, "--list-options"]);
        let theirs = lines("lttng", &[cmd, "--list-options"]);
        for o in shared {
            assert!(
                theirs.iter().any(|l| l == o),
                "lttng {cmd} lacks {o}: {theirs:?}"
            );
            assert!(
                ours.iter().any(|l| l == o),
                "rttng {cmd} lacks {o}: {ours:?}"
            );
        }
    }
    let top = lines(rttng, &["--list-options"]);
    for o in [
        "--mi",
        "-m",
        "--quiet",
        "-q",
        "--verbose",
        "-v",
        "--list-commands",
    ] {
        assert!(top.iter().any(|l| l == o), "{o} in {top:?}");
    }
    let w = World::new("cli-verbose");
    w.create(&["v"]);
    let plain = w.rttng(&["list"]);
    let verbose = w.rttng(&["-v", "list"]);
    assert_eq!(plain.stdout_text(), verbose.stdout_text());
    assert!(plain.stderr.is_empty(), "{}", plain.stderr_quote());
    let err = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        err.contains("DEBUG1: request ListSessions") && err.contains("DEBUG1: answer Sessions"),
        "{err}"
    );
    let vv = w.rttng(&["-vv", "list"]);
    assert!(
        String::from_utf8_lossy(&vv.stderr).contains("name: \"v\""),
        "{}",
        vv.stderr_quote()
    );
}

/// `disable-event -k NAME` of a system call rule disables its entry and exit tracepoints
/// and succeeds (it used to exit 1 while listing the rule as disabled): after it, the
/// session records the other rule's system calls and none of the disabled one's.
#[test]
fn issue_16_disable_event_kernel_syscall_rule() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    assert!(
        Path::new("/sys/kernel/tracing/available_events").exists(),
        "tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing"
    );
    let w = World::new("cli-ksys");
    let out = w.create(&["k"]);
    w.ok(&["enable-event", "-k", "--syscall", "openat"]);
    w.ok(&["enable-event", "-k", "--syscall", "close"]);
    let said = w.ok(&["disable-event", "-k", "openat"]);
    assert_eq!(
        said.trim(),
        "kernel event openat of type any disabled in channel channel0 for session k"
    );
    let list = w.ok(&["list", "k"]);
    assert!(
        list.contains("      openat (type: syscall) [disabled]"),
        "{list}"
    );
    assert!(
        list.contains("      close (type: syscall) [enabled]"),
        "{list}"
    );
    w.ok(&["start"]);
    w.probe(&["--count", "2"]);
    w.ok(&["stop"]);
    let (text, _) = crate::session_support::read_both(&out);
    assert!(text.contains(" syscall_entry_close: "), "no close recorded");
    assert!(
        !text.contains("openat"),
        "openat recorded after its rule was disabled"
    );
    w.ok(&["destroy"]);
}
