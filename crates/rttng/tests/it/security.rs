//! Issue 10: the root session daemon is safe to share. Each test reproduces one attack of
//! the security review against a real root daemon (in the test's own `RTTNG_RUNDIR`, never
//! `/run/rttng`), with a throwaway user that the test creates with `useradd` and removes
//! with `userdel`. Needs root (it fails otherwise, saying so).
//!
//! The hostile party is `rogue_app` (rttng-sessiond's example), which speaks the app
//! protocol directly and declares what a real tracer never would. It deliberately does not
//! cover the kernel domain or the user's own daemons (session_users.rs does).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rttng_proto::sock;
use rttng_proto::*;

use crate::session_support::*;
use crate::support::{is_root, kill_process, run_bounded};

/// A user account that exists for one test: created with `useradd`, removed on drop.
pub struct Throwaway {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl Throwaway {
    pub fn new(prefix: &str) -> Throwaway {
        Throwaway::in_group(prefix, None)
    }

    /// A user who is a member of `group` (e.g. the root daemon's tracing group).
    pub fn in_group(prefix: &str, group: Option<&str>) -> Throwaway {
        assert!(
            is_root(),
            "this test creates a user with useradd: run the tests as root (CI does)"
        );
        // Unique per test within this run (tests run in parallel).
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}{}x{n}", std::process::id() % 100_000);
        let mut cmd = Command::new("useradd");
        cmd.args(["-M", "-N", "-s", "/usr/sbin/nologin"]);
        if let Some(g) = group {
            cmd.args(["-G", g]);
        }
        let f = run_bounded(cmd.arg(&name), CMD_TIMEOUT).expect("useradd");
        assert!(f.status.success(), "useradd {name}: {}", f.stderr_quote());
        let id = |flag: &str| -> u32 {
            let f = run_bounded(Command::new("id").args([flag, &name]), CMD_TIMEOUT).expect("id");
            f.stdout_text().trim().parse().expect("numeric id")
        };
        let (uid, gid) = (id("-u"), id("-g"));
        Throwaway { name, uid, gid }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        // Every process of the user was started by the test and is gone by now.
        match Command::new("userdel").arg(&self.name).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "userdel {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!("userdel {}: {e}", self.name),
        }
    }
}

/// A group that exists for one test: created with `groupadd`, removed on drop (after its
/// members, which are declared after it).
pub struct ThrowawayGroup {
    pub name: String,
}

impl ThrowawayGroup {
    pub fn new(prefix: &str) -> ThrowawayGroup {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}{}x{n}", std::process::id() % 100_000);
        let f = run_bounded(Command::new("groupadd").arg(&name), CMD_TIMEOUT).expect("groupadd");
        assert!(f.status.success(), "groupadd {name}: {}", f.stderr_quote());
        ThrowawayGroup { name }
    }
}

impl Drop for ThrowawayGroup {
    fn drop(&mut self) {
        let _ = Command::new("groupdel").arg(&self.name).status();
    }
}

/// `cmd` run as `user` (uid, gid and the user's groups from /etc/group), through setpriv,
/// which execs it (killing the child kills the program).
pub fn as_user(user: &Throwaway, program: &std::path::Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .args(["--init-groups", "--"])
        .arg(program);
    cmd
}

/// Runs `rogue_app RUN ARGS` as `user` and returns it with its stdout.
pub fn spawn_rogue(
    w: &World,
    user: &Throwaway,
    args: &[&str],
) -> (KillOnDrop, BufReader<std::process::ChildStdout>) {
    let mut cmd = as_user(user, &rogue_path());
    cmd.arg(&w.run)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn rogue_app");
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    (KillOnDrop(child), out)
}

/// The next line of a rogue's stdout, waiting at most `bound` (the rogue is killed then).
pub fn rogue_line(
    rogue: &KillOnDrop,
    out: &mut BufReader<std::process::ChildStdout>,
    bound: Duration,
) -> String {
    let pid = rogue.0.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(bound).is_err() {
            kill_process(pid);
        }
    });
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    let _ = tx.send(());
    let _ = watchdog.join();
    line.trim().to_string()
}

/// Sends one request as root straight to `w`'s daemon; returns the answer and how long
/// connecting, sending and receiving took.
pub fn timed_request(w: &World, req: Request) -> (Response, Duration) {
    timed_request_at(&w.run, req)
}

/// [`timed_request`] to the daemon of run directory `run` (from another thread).
pub fn timed_request_at(run: &std::path::Path, req: Request) -> (Response, Duration) {
    let t = Instant::now();
    let s = UnixStream::connect(run.join(paths::CLIENT_SOCKET)).expect("connect");
    s.set_read_timeout(Some(CMD_TIMEOUT)).expect("timeout");
    sock::send(&s, Kind::Request, &req, None).expect("send");
    let (resp, _) = sock::recv::<Response>(&s, Kind::Response).expect("answer");
    (resp, t.elapsed())
}

/// Runs `rttng ARGS` as root in `w` and returns how long it took; it must succeed.
pub fn timed_ok(w: &World, args: &[&str]) -> Duration {
    let t = Instant::now();
    w.ok(args);
    t.elapsed()
}

pub fn sessiond_status(w: &World, field: &str) -> u64 {
    let pid = w.sessiond_pid().expect("daemon pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

pub fn rogue_path() -> PathBuf {
    bin_dir().join("examples").join("rogue_app")
}

/// A rogue app run as `user`, with what it printed up to its first verdict line.
pub struct Rogue {
    pub child: KillOnDrop,
    pub verdict: String,
}

/// Starts `rogue_app RUN ATTACK MODE` as `user` and waits (bounded) until it prints
/// `registered` (the daemon took it) or `closed` (the daemon hung up).
pub fn rogue(w: &World, user: &Throwaway, attack: &str, mode: &str) -> Rogue {
    let mut cmd = as_user(user, &rogue_path());
    cmd.args([w.run.as_os_str(), attack.as_ref(), mode.as_ref()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn rogue_app");
    let out = child.stdout.take().expect("stdout");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(WAIT_TIMEOUT).is_err() {
            kill_process(pid);
        }
    });
    let mut verdict = String::new();
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        if line == "registered" || line == "closed" {
            verdict = line;
            break;
        }
    }
    let _ = tx.send(());
    let _ = watchdog.join();
    Rogue {
        child: KillOnDrop(child),
        verdict,
    }
}

/// Makes the test's directories reachable by the throwaway user (the root daemon's run
/// directory is inside them).
pub fn open_world(w: &World) {
    std::fs::set_permissions(w.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn daemon_log(w: &World) -> String {
    std::fs::read_to_string(w.run.join("rttng-sessiond.log")).unwrap_or_default()
}

/// Root traces every app in session `s`; the throwaway user's rogue app declares `attack`
/// while the session runs; root's own app then emits; after stop, root's whole trace must
/// read in babeltrace2 and `rttng view` (identically) with root's events in it, and the
/// daemon's log must say why it refused the rogue.
fn declaration_is_refused(attack: &str) {
    let w = World::new(&format!("sec-{attack}"));
    open_world(&w);
    let user = Throwaway::new("rtsd");
    let out = w.create(&["s", "-o", w.tmp.path().join("trace").to_str().unwrap()]);
    w.ok(&["enable-event", "-u", "-a"]);
    w.ok(&["start"]);
    let r = rogue(&w, &user, attack, "answer");
    w.probe(&["--count", "3"]);
    w.ok(&["stop"]);
    drop(r.child);
    let log = daemon_log(&w);
    let (text, _) = read_both(&out);
    assert!(
        text.contains("probe:"),
        "root's events are missing from the trace:\n{text}"
    );
    assert_eq!(
        r.verdict, "closed",
        "the daemon registered an app declaring {attack}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("refused app") && l.contains(&format!("uid {}", user.uid))),
        "no log line refusing the rogue app:\n{log}"
    );
}

#[test]
fn security_app_clock_frequency_zero_is_refused() {
    declaration_is_refused("freq0");
}

#[test]
fn security_app_array_of_2_pow_63_elements_is_refused() {
    declaration_is_refused("huge-array");
}

#[test]
fn security_app_absurd_clock_offset_is_refused() {
    declaration_is_refused("offset");
}

#[test]
fn security_app_clock_name_that_is_no_identifier_is_refused() {
    declaration_is_refused("clock-name");
}

#[test]
fn security_app_sequence_without_its_length_field_is_refused() {
    declaration_is_refused("bad-seq");
}

#[test]
fn security_app_duplicate_field_names_are_refused() {
    declaration_is_refused("dup-field");
}

#[test]
fn security_app_enum_without_labels_is_refused() {
    declaration_is_refused("enum-empty");
}

#[test]
fn security_app_bitness_other_than_32_or_64_is_refused() {
    declaration_is_refused("bitness");
}

#[test]
fn security_app_huge_static_payload_is_refused() {
    declaration_is_refused("huge-static");
}

#[test]
fn security_app_with_sane_declarations_still_registers() {
    let w = World::new("sec-sane");
    open_world(&w);
    let user = Throwaway::new("rtsn");
    w.create(&["s", "-o", w.tmp.path().join("trace").to_str().unwrap()]);
    w.ok(&["enable-event", "-u", "-a"]);
    w.ok(&["start"]);
    let r = rogue(&w, &user, "none", "answer");
    let verdict = r.verdict.clone();
    drop(r);
    assert_eq!(verdict, "registered", "{}", daemon_log(&w));
    w.ok(&["stop"]);
}

/// Runs `rttng ARGS` as `user` against `w`'s root daemon, with `home` as the user's home,
/// whatever its outcome.
pub fn user_rttng_run(
    w: &World,
    user: &Throwaway,
    home: &std::path::Path,
    args: &[&str],
) -> crate::support::Finished {
    let mut cmd = as_user(user, std::path::Path::new(env!("CARGO_BIN_EXE_rttng")));
    cmd.arg("-n")
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("RTTNG_RUNDIR", &w.run)
        .env("RTTNG_HOME", home)
        .env("HOME", home);
    run_bounded(&mut cmd, CMD_TIMEOUT).expect("rttng as the user")
}

/// Runs `rttng ARGS` as `user` against `w`'s root daemon, with `home` as the user's home.
pub fn user_rttng(w: &World, user: &Throwaway, home: &std::path::Path, args: &[&str]) -> String {
    let f = user_rttng_run(w, user, home, args);
    assert!(
        f.status.success(),
        "rttng {args:?} as {}: {}",
        user.name,
        f.stderr_quote()
    );
    f.stdout_text()
}

/// Runs the probe app as `user` (it registers with `w`'s root daemon).
pub fn user_probe(w: &World, user: &Throwaway, home: &std::path::Path) {
    let mut cmd = as_user(user, &probe_path());
    cmd.args(["--count", "3"])
        .env_clear()
        .env("RTTNG_RUNDIR", &w.run)
        .env("RTTNG_HOME", home)
        .env("HOME", home)
        .env("RTTNG_UST_REGISTER_TIMEOUT", "30000");
    let f = run_bounded(&mut cmd, CMD_TIMEOUT).expect("probe as the user");
    assert!(
        f.status.success(),
        "probe as the user: {}",
        f.stderr_quote()
    );
}

/// Every entry below `dir` (and `dir`) belongs to `user` and is 0750/0640 or stricter;
/// returns how many there are.
pub fn assert_members_tree(dir: &std::path::Path, user: &Throwaway) -> usize {
    use std::os::unix::fs::MetadataExt;
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (user.uid, user.gid),
            "{} is not the member's",
            p.display()
        );
        let mode = m.mode() & 0o777;
        if m.is_dir() {
            assert_eq!(mode & !0o750, 0, "{} has mode {mode:o}", p.display());
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode & !0o640, 0, "{} has mode {mode:o}", p.display());
        }
        seen += 1;
    }
    seen
}

/// Runs the calling test thread, and so every process it starts from now on (the session
/// daemon it spawns, its consumer, apps: they inherit it), at nice -20. The tests that bound
/// how long another client waits then measure the daemon's locking, not the run queue of a
/// loaded machine: at load 17 on 2 vCPUs, a request that waited for no lock took 101 ms.
/// A lock held for a stalled disk or app still delays every request by its whole stall.
pub fn favour_this_thread() {
    // SAFETY: setpriority takes integers only; on Linux, `who` 0 is the calling thread.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -20) };
    assert_eq!(r, 0, "setpriority: {}", std::io::Error::last_os_error());
}
