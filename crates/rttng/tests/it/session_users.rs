//! Users and the tracing group, with real accounts: the test creates a group and two
//! non-root users (one in the group, one not) with `groupadd`/`useradd`, runs `rttng` as
//! them with `runuser`, and removes them at the end. Needs root (it fails otherwise, saying so).
//! The member traces the kernel through the root daemon; the other user's own daemon refuses
//! the kernel domain with a message that says where it is.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::session_support::*;
use crate::support::{is_root, run_bounded, Finished};

/// Accounts created for one test, removed on drop.
struct Accounts {
    group: String,
    users: Vec<String>,
}

impl Accounts {
    fn sh(args: &[&str]) {
        let f = run_bounded(Command::new(args[0]).args(&args[1..]), CMD_TIMEOUT)
            .expect("account command");
        assert!(f.status.success(), "{args:?}: {}", f.stderr_quote());
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for u in &self.users {
            let _ = Command::new("userdel").arg(u).status();
        }
        let _ = Command::new("groupdel").arg(&self.group).status();
    }
}

/// Runs `rttng ARGS` as `user` with the given environment.
fn as_user(user: &str, env: &[(&str, &Path)], args: &[&str]) -> Finished {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", user, "--", "env", "-i", "PATH=/usr/bin:/bin"]);
    for (k, v) in env {
        cmd.arg(format!("{k}={}", v.display()));
    }
    cmd.arg(env!("CARGO_BIN_EXE_rttng")).args(args);
    run_bounded(&mut cmd, CMD_TIMEOUT).expect("runuser")
}

fn err(f: &Finished) -> String {
    String::from_utf8_lossy(&f.stderr).into_owned()
}

#[test]
fn session_users_own_daemons_and_the_tracing_group() {
    assert!(
        is_root(),
        "this test creates users and groups: run the tests as root (CI does)"
    );
    let w = World::new("users");
    let tag = std::process::id() % 100_000;
    let group = format!("rttg{tag}");
    let member = format!("rttm{tag}");
    let other = format!("rtto{tag}");
    let mut acc = Accounts {
        group: group.clone(),
        users: Vec::new(),
    };
    Accounts::sh(&["groupadd", &group]);
    let mhome: PathBuf = w.tmp.path().join("member");
    let ohome: PathBuf = w.tmp.path().join("other");
    for (u, home, groups) in [(&member, &mhome, Some(&group)), (&other, &ohome, None)] {
        let mut args = vec![
            "useradd",
            "-M",
            "-d",
            home.to_str().unwrap(),
            "-s",
            "/bin/sh",
        ];
        if let Some(g) = groups {
            args.extend_from_slice(&["-G", g]);
        }
        args.push(u);
        Accounts::sh(&args);
        acc.users.push(u.to_string());
        std::fs::create_dir_all(home).unwrap();
        Accounts::sh(&["chown", u, home.to_str().unwrap()]);
    }
    std::fs::set_permissions(w.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    // Root's daemon, with the test's group as its tracing group.
    w.ok(&["-g", &group, "create", "rootsess"]);
    let sock = w.run.join(rttng_proto::paths::CLIENT_SOCKET);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "client socket mode");

    // A member of the group uses the root daemon, and sees only their own sessions.
    let env_m = [
        ("RTTNG_RUNDIR", w.run.as_path()),
        ("RTTNG_HOME", mhome.as_path()),
        ("HOME", mhome.as_path()),
    ];
    let f = as_user(&member, &env_m, &["-n", "create", "membersess"]);
    assert!(f.status.success(), "member create: {}", err(&f));
    let member_out: PathBuf = f
        .stdout_text()
        .lines()
        .find_map(|l| l.strip_prefix("Traces will be output to "))
        .map(|l| PathBuf::from(l.trim()))
        .expect("output line");
    // The member traces the kernel through the root daemon.
    for args in [
        &["-n", "enable-event", "-k", "--syscall", "openat"][..],
        &["-n", "enable-event", "-k", "sched_process_exec"][..],
        &["-n", "start"][..],
    ] {
        let f = as_user(&member, &env_m, args);
        assert!(f.status.success(), "member {args:?}: {}", err(&f));
    }
    // Something to record: the member runs a program (exec) that opens files.
    let f = as_user(&member, &env_m, &["-n", "list"]);
    assert!(f.status.success(), "{}", err(&f));
    let f = as_user(&member, &env_m, &["-n", "stop"]);
    assert!(f.status.success(), "member stop: {}", err(&f));
    let bt = run_bounded(
        Command::new("babeltrace2").arg(member_out.join("kernel")),
        CMD_TIMEOUT,
    )
    .expect("babeltrace2");
    assert!(bt.status.success(), "{}", bt.stderr_quote());
    let text = bt.stdout_text();
    assert!(text.contains(" syscall_entry_openat: "), "{text}");
    assert!(text.contains(" syscall_exit_openat: "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(" sched_process_exec: ") && l.contains("/rttng\""))
            || text.contains(" sched_process_exec: "),
        "{text}"
    );
    let f = as_user(&member, &env_m, &["-n", "list"]);
    assert!(
        f.stdout_text().contains("membersess") && !f.stdout_text().contains("rootsess"),
        "{}",
        f.stdout_text()
    );
    let f = as_user(&member, &env_m, &["-n", "destroy", "rootsess"]);
    // lttng's status for a session that does not exist (LTTNG_ERR_SESS_NOT_FOUND).
    assert_eq!(f.status.code(), Some(23), "member destroyed root's session");
    assert!(err(&f).contains("not found"), "{}", err(&f));

    // A non-member is refused with a clear error.
    let env_o = [
        ("RTTNG_RUNDIR", w.run.as_path()),
        ("RTTNG_HOME", ohome.as_path()),
        ("HOME", ohome.as_path()),
    ];
    let f = as_user(&other, &env_o, &["-n", "list"]);
    assert_eq!(f.status.code(), Some(1));
    assert!(
        err(&f).contains("permission denied") && err(&f).contains(&group),
        "{}",
        err(&f)
    );

    // Each user gets their own daemon under $RTTNG_HOME/.rttng; root cannot use it.
    let env_own = [("RTTNG_HOME", ohome.as_path()), ("HOME", ohome.as_path())];
    let f = as_user(&other, &env_own, &["create", "mine"]);
    assert!(f.status.success(), "own daemon: {}", err(&f));
    // Their own daemon cannot trace the kernel, and says where the kernel domain is.
    let f = as_user(
        &other,
        &env_own,
        &["enable-event", "-k", "--syscall", "openat"],
    );
    assert_eq!(
        f.status.code(),
        Some(1),
        "a user's own daemon traced the kernel"
    );
    assert!(
        err(&f).contains("only the root session daemon can trace the kernel")
            && err(&f).contains("tracing group"),
        "{}",
        err(&f)
    );
    let own_run = ohome.join(".rttng");
    let own_pid: u32 = std::fs::read_to_string(own_run.join("rttng-sessiond.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let own_cpid: Option<u32> = std::fs::read_to_string(own_run.join("rttng-consumerd.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let mut root_cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
    root_cmd
        .args(["-n", "destroy", "mine"])
        .env("RTTNG_RUNDIR", &own_run)
        .env("RTTNG_HOME", &w.home);
    let f = run_bounded(&mut root_cmd, CMD_TIMEOUT).unwrap();
    assert_eq!(f.status.code(), Some(1), "root used another user's daemon");
    assert!(
        err(&f).contains("may not use this session daemon"),
        "{}",
        err(&f)
    );
    let f = as_user(&other, &env_own, &["list"]);
    assert!(
        f.stdout_text().contains("1) mine [inactive]"),
        "{}",
        f.stdout_text()
    );
    // Stop that daemon by PID before its user is removed.
    let _ = Command::new("kill")
        .args(["-s", "TERM", &own_pid.to_string()])
        .status();
    for p in std::iter::once(own_pid).chain(own_cpid) {
        if !wait_gone(p, WAIT_TIMEOUT) {
            crate::support::kill_process(p);
        }
    }
    drop(acc);
}
