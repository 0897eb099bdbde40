//! Issue 10/11, files and credentials: members' sessions, snapshots and kernel sessions
//! write with the member's credentials and never through planted links, outputs are checked
//! as the member, and session names are per user. Not here: the shared helpers and the apps'
//! hostile declarations (`security.rs`), limits and slow parties (`security_limits.rs`).

use std::os::unix::fs::PermissionsExt;

use crate::security::*;
use crate::session_support::*;

/// Finding 6, session names: a member can neither learn root's session names nor take
/// them.
#[test]
fn security_session_names_are_per_user() {
    let (w, _group, user) = member_world("sec-names", "rtsu", "secret");
    let out = w.tmp.path().join("user-out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let f = user_rttng_run(
        &w,
        &user,
        &out,
        &[
            "create",
            "secret",
            "-o",
            out.join("secret").to_str().unwrap(),
        ],
    );
    assert!(
        f.status.success(),
        "the user could not create a session named like root's: {}",
        f.stderr_quote()
    );
    let listed = user_rttng_run(&w, &user, &out, &["list"]).stdout_text();
    assert_eq!(
        listed.matches("secret").count(),
        2,
        "the user's list shows more than their own session (name and output):\n{listed}"
    );
    // Root's own session is untouched and still root's.
    let root_list = w.ok(&["list", "secret"]);
    assert!(!root_list.contains("user-out"), "{root_list}");
    drop(user);
}

/// Finding 1 and the permissions of finding 6: a tracing-group member's session writes with
/// the member's credentials. A link planted where the trace's metadata goes fails with a
/// clear error instead of overwriting root's file; an output inside a root-only directory
/// is not created; the member's trace files are the member's, 0750/0640 or stricter.
#[test]
fn security_member_sessions_write_as_the_member_and_never_through_links() {
    use std::os::unix::fs::MetadataExt;
    let (w, _group, user) = member_world("sec-files", "rtsf", "rootsess");
    // Root's secret, in a root-only directory.
    let vault = w.tmp.path().join("vault");
    std::fs::create_dir(&vault).unwrap();
    std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o700)).unwrap();
    let secret = vault.join("secret");
    std::fs::write(&secret, b"root's secret\n").unwrap();
    // The member's home, with a trace directory where the metadata is a link to it.
    let home = w.tmp.path().join("member");
    let link_dir = home.join(format!("evil/ust/uid/{}/64-bit", user.uid));
    std::fs::create_dir_all(&link_dir).unwrap();
    std::os::unix::fs::symlink(&secret, link_dir.join("metadata")).unwrap();
    let chown = |p: &std::path::Path| {
        std::os::unix::fs::lchown(p, Some(user.uid), Some(user.gid)).unwrap();
    };
    let mut p = link_dir.join("metadata");
    while p.starts_with(&home) {
        chown(&p);
        p.pop();
    }
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, out) in [
        ("evil", home.join("evil")),
        ("good", home.join("good")),
        ("vault", vault.join("x")),
    ] {
        user_rttng(
            &w,
            &user,
            &home,
            &["create", name, "-o", out.to_str().unwrap()],
        );
        user_rttng(&w, &user, &home, &["enable-event", "-u", "-a", "-s", name]);
        if name == "vault" {
            // Checked as the member, who cannot write there: refused at start.
            let f = user_rttng_run(&w, &user, &home, &["start", name]);
            assert_eq!(f.status.code(), Some(17), "{}", f.stderr_quote());
        } else {
            user_rttng(&w, &user, &home, &["start", name]);
        }
    }
    user_probe(&w, &user, &home);
    for name in ["evil", "good"] {
        user_rttng(&w, &user, &home, &["stop", name]);
    }
    assert_eq!(
        std::fs::read(&secret).unwrap(),
        b"root's secret\n",
        "root's file was written through the member's link"
    );
    assert!(
        !vault.join("x").exists(),
        "the daemon created a directory inside a root-only directory for the member"
    );
    // The good session: readable, the member's, not readable by others.
    let good = home.join("good");
    let (text, _) = read_both(&good);
    assert_eq!(seqs(&text, "probe:info"), (0..3).collect::<Vec<u64>>());
    let seen = assert_members_tree(&good, &user);
    assert!(seen > 5, "only {seen} entries in {}", good.display());
    let log_mode = std::fs::metadata(w.run.join("rttng-sessiond.log"))
        .unwrap()
        .mode();
    assert_eq!(log_mode & 0o077, 0, "the daemon log has mode {log_mode:o}");
    let log = daemon_log(&w);
    assert!(
        log.contains("symbolic link"),
        "no log line says why the linked metadata was refused:\n{log}"
    );
}

/// Issue 11 as the root daemon serves others: `start` checks a member's output with the
/// member's credentials, not root's. An output inside a directory that root can write and
/// the member cannot is refused like lttng ("Create directory failed", exit 17), and
/// nothing is created there; the member's writable output still starts.
#[test]
fn security_start_checks_a_members_output_as_the_member() {
    let (w, _group, user) = member_world("sec-probe", "rtsp", "rootsess");
    // Root's directory: others may enter and read it, not write in it.
    let roots = w.tmp.path().join("roots");
    std::fs::create_dir(&roots).unwrap();
    std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = member_home(&w, &user);
    let out = roots.join("trace");
    user_rttng(
        &w,
        &user,
        &home,
        &["create", "s", "-o", out.to_str().unwrap()],
    );
    user_rttng(&w, &user, &home, &["enable-event", "-u", "-a", "-s", "s"]);
    let f = user_rttng_run(&w, &user, &home, &["start", "s"]);
    let err = String::from_utf8_lossy(&f.stderr).into_owned();
    assert_eq!(
        f.status.code(),
        Some(17),
        "start of an output the member cannot write: {}",
        f.stderr_quote()
    );
    assert!(
        err.contains("Create directory failed") && err.contains(out.to_str().unwrap()),
        "{err}"
    );
    assert!(
        !out.exists(),
        "{} was created for the member",
        out.display()
    );
    assert_eq!(
        std::fs::read_dir(&roots).unwrap().count(),
        0,
        "something was left in root's directory"
    );
    // The member's own directory is fine, and is the member's.
    let mine = home.join("trace");
    user_rttng(
        &w,
        &user,
        &home,
        &["create", "t", "-o", mine.to_str().unwrap()],
    );
    user_rttng(&w, &user, &home, &["enable-event", "-u", "-a", "-s", "t"]);
    user_rttng(&w, &user, &home, &["start", "t"]);
    user_rttng(&w, &user, &home, &["stop", "t"]);
    assert_members_tree(&mine, &user);
    drop(user);
}

/// Finding 1 for snapshots: `snapshot add-output DIR` and `snapshot record DIR` of a
/// member's session write with the member's credentials. The member's snapshot files are
/// the member's (0750/0640); a record into a root-only directory creates nothing there; a
/// record through a planted link to it writes nothing through the link.
#[test]
fn security_member_snapshot_outputs_are_written_as_the_member() {
    let (w, _group, user) = member_world("sec-snap", "rtsn", "rootsess");
    let vault = w.tmp.path().join("vault");
    std::fs::create_dir(&vault).unwrap();
    std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o700)).unwrap();
    let home = member_home(&w, &user);
    let link = home.join("evil");
    std::os::unix::fs::symlink(&vault, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(user.uid), Some(user.gid)).unwrap();
    user_rttng(
        &w,
        &user,
        &home,
        &["create", "snap", "--snapshot", "--no-output"],
    );
    user_rttng(
        &w,
        &user,
        &home,
        &["enable-event", "-u", "-a", "-s", "snap"],
    );
    user_rttng(&w, &user, &home, &["start", "snap"]);
    user_probe(&w, &user, &home);
    // A temporary output in the member's home.
    let temp = home.join("temp");
    user_rttng(
        &w,
        &user,
        &home,
        &["snapshot", "record", "-s", "snap", temp.to_str().unwrap()],
    );
    // A registered output.
    let added = home.join("added");
    user_rttng(
        &w,
        &user,
        &home,
        &[
            "snapshot",
            "add-output",
            "-s",
            "snap",
            added.to_str().unwrap(),
        ],
    );
    user_rttng(&w, &user, &home, &["snapshot", "record", "-s", "snap"]);
    for dir in [&temp, &added] {
        let (text, _) = read_both(dir);
        assert_eq!(
            seqs(&text, "probe:info"),
            (0..3).collect::<Vec<u64>>(),
            "{}",
            dir.display()
        );
        let n = assert_members_tree(dir, &user);
        assert!(n > 5, "only {n} entries in {}", dir.display());
    }
    // Root-only places: directly, and through the member's link.
    for dir in [vault.join("x"), link.clone()] {
        let f = user_rttng_run(
            &w,
            &user,
            &home,
            &["snapshot", "record", "-s", "snap", dir.to_str().unwrap()],
        );
        assert!(
            !f.status.success(),
            "snapshot record into {} succeeded",
            dir.display()
        );
    }
    assert_eq!(
        std::fs::read_dir(&vault).unwrap().count(),
        0,
        "a snapshot wrote into root's directory"
    );
    user_rttng(&w, &user, &home, &["stop", "snap"]);
    drop(user);
}

/// Issue 10, kernel domain: two tracing-group members' kernel sessions of the same name
/// (`s`, as root's own) each get their own tracefs instances (the owner's uid is part of the
/// name), and each member's kernel trace is written by the consumer with that member's
/// credentials (files 0640, directories 0750), not as root.
#[test]
fn security_member_kernel_sessions_write_as_the_member_and_same_names_do_not_collide() {
    assert!(
        std::path::Path::new("/sys/kernel/tracing/available_events").exists(),
        "tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing"
    );
    let w = World::new("sec-kernel");
    open_world(&w);
    let group = ThrowawayGroup::new("rtkg");
    let users = [
        Throwaway::in_group("rtka", Some(&group.name)),
        Throwaway::in_group("rtkb", Some(&group.name)),
    ];
    w.ok(&["-g", &group.name, "create", "s"]);
    w.ok(&["enable-event", "-k", "--syscall", "getpriority", "-s", "s"]);
    let mut homes = Vec::new();
    for u in &users {
        let home = w.tmp.path().join(&u.name);
        std::fs::create_dir(&home).unwrap();
        std::os::unix::fs::lchown(&home, Some(u.uid), Some(u.gid)).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = home.join("s");
        user_rttng(&w, u, &home, &["create", "s", "-o", out.to_str().unwrap()]);
        user_rttng(
            &w,
            u,
            &home,
            &["enable-event", "-k", "--syscall", "getpriority", "-s", "s"],
        );
        user_rttng(&w, u, &home, &["start", "s"]);
        homes.push(home);
    }
    let instances = || -> Vec<String> {
        std::fs::read_dir("/sys/kernel/tracing/instances")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("rttng-"))
            .collect()
    };
    for u in &users {
        let tag = format!("-u{}-s-", u.uid);
        assert_eq!(
            instances().iter().filter(|n| n.contains(&tag)).count(),
            1,
            "no instance of {}'s session s: {:?}",
            u.name,
            instances()
        );
    }
    for _ in 0..10 {
        // SAFETY: getpriority takes two integers and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_getpriority, 0i64, 987_650_021i64) };
    }
    for (u, home) in users.iter().zip(&homes) {
        user_rttng(&w, u, home, &["stop", "s"]);
        let kernel = home.join("s/kernel");
        let (text, _) = read_both(&kernel);
        assert!(
            text.lines()
                .filter(|l| l.contains("syscall_entry_getpriority")
                    && l.contains("who = 987650021"))
                .count()
                >= 10,
            "{}'s kernel trace lacks the marked calls",
            u.name
        );
        let seen = assert_members_tree(&kernel, u);
        assert!(seen >= 6, "only {seen} entries in {}", kernel.display());
        user_rttng(&w, u, home, &["destroy", "s"]);
    }
    w.ok(&["destroy", "s"]);
    for u in &users {
        let tag = format!("-u{}-s-", u.uid);
        assert!(
            !instances().iter().any(|n| n.contains(&tag)),
            "instances left: {:?}",
            instances()
        );
    }
}
