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
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

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
        assert!(
            is_root(),
            "this test creates a user with useradd: run the tests as root (CI does)"
        );
        // Unique per test within this run (tests run in parallel).
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}{}x{n}", std::process::id() % 100_000);
        let f = run_bounded(
            Command::new("useradd").args(["-M", "-N", "-s", "/usr/sbin/nologin", &name]),
            CMD_TIMEOUT,
        )
        .expect("useradd");
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
    // setpriv sets the user's uid, gid and (no) supplementary groups, then execs the rogue
    // itself, so that killing the child kills the rogue.
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .args(["--clear-groups", "--"])
        .arg(rogue_path())
        .args([w.run.as_os_str(), attack.as_ref(), mode.as_ref()])
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
