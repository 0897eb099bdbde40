//! Several hosts streaming to one collector: three "hosts", each a network namespace (with a
//! UTS namespace of its own, so each has its own hostname) running its own rttng daemons and
//! traced app, joined by veth pairs to a fourth namespace that runs `rttng-relayd` on its
//! default ports. All three stream at once; the collector ends with three host directories,
//! each holding every event its app emitted. The test creates its namespaces and removes them
//! (and their veth pairs) when it ends, and stops every daemon by PID.

use crate::support::{require_tools, run_bounded, trace_dirs, Relay, TempDir};
use crate::world::World;
use std::process::Command;
use std::time::Duration;

const HOSTS: usize = 3;
const EVENTS: u64 = 20_000;
const RATE_PER_S: u64 = 20_000;

/// Network namespaces removed (with their veth pairs) on drop.
struct Namespaces(Vec<String>);

fn ip(args: &[&str]) {
    let done = run_bounded(Command::new("ip").args(args), Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    assert!(done.status.success(), "ip {args:?}: {}", done.stderr);
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

#[test]
fn three_hosts_stream_into_one_relay_through_network_namespaces() {
    require_tools(&[
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("babeltrace2", "babeltrace2"),
    ]);
    assert!(
        crate::support::is_root(),
        "creating network namespaces needs root; run the tests as root"
    );
    let tag = format!("rtr{}", std::process::id());
    let collector = format!("{tag}-c");
    let hosts: Vec<String> = (1..=HOSTS).map(|i| format!("{tag}-h{i}")).collect();
    let mut all = vec![collector.clone()];
    all.extend(hosts.iter().cloned());
    let namespaces = Namespaces(Vec::new());
    let mut namespaces = namespaces;
    for n in &all {
        ip(&["netns", "add", n]);
        namespaces.0.push(n.clone());
        ip(&["-n", n, "link", "set", "lo", "up"]);
    }
    for (i, h) in hosts.iter().enumerate() {
        let (a, b) = (format!("{tag}a{i}"), format!("{tag}b{i}"));
        ip(&[
            "link", "add", &a, "netns", &collector, "type", "veth", "peer", "name", &b, "netns", h,
        ]);
        ip(&[
            "-n",
            &collector,
            "addr",
            "add",
            &format!("10.213.{i}.1/24"),
            "dev",
            &a,
        ]);
        ip(&[
            "-n",
            h,
            "addr",
            "add",
            &format!("10.213.{i}.2/24"),
            "dev",
            &b,
        ]);
        ip(&["-n", &collector, "link", "set", &a, "up"]);
        ip(&["-n", h, "link", "set", &b, "up"]);
    }

    let tmp = TempDir::new("relay-netns");
    let out = tmp.path().join("out");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &collector])
        .arg(env!("CARGO_BIN_EXE_rttng-relayd"))
        .args(["-v", "-o"])
        .arg(&out)
        .env("TZ", "UTC")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let relay = Relay::spawn(cmd, &out);
    assert_eq!(
        relay.control_port, 5342,
        "default ports inside the collector"
    );

    // Each host: its own daemons, started in its namespaces with its own hostname.
    let worlds: Vec<World> = hosts
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let mut w = World::new(&format!("host{i}"));
            w.prefix = vec!["ip".into(), "netns".into(), "exec".into(), ns.clone()];
            let mut start = w.command("rttng-sessiond");
            // `ip netns exec NS rttng-sessiond` → `ip netns exec NS unshare --uts sh -c ...`.
            let sessiond = crate::world::bin_dir().join("rttng-sessiond");
            let mut args: Vec<String> = w.prefix[1..].to_vec();
            args.extend([
                "unshare".into(),
                "--uts".into(),
                "sh".into(),
                "-c".into(),
                "hostname \"$1\" && exec \"$0\" --daemonize".into(),
                sessiond.to_string_lossy().into_owned(),
                format!("host{}", i + 1),
            ]);
            start = {
                let mut c = Command::new("ip");
                c.args(&args);
                for (k, v) in start.get_envs() {
                    if let Some(v) = v {
                        c.env(k, v);
                    }
                }
                c
            };
            let done = run_bounded(&mut start, Duration::from_secs(60)).unwrap();
            assert!(done.status.success(), "host {i} daemon: {}", done.stderr);
            w
        })
        .collect();

    // All three stream at once.
    std::thread::scope(|s| {
        for (i, w) in worlds.iter().enumerate() {
            s.spawn(move || {
                let url = format!("net://10.213.{i}.1");
                w.ok(&["create", "multi", "--set-url", &url]);
                w.ok(&["enable-event", "-u", "-s", "multi", "rttng_example:*"]);
                w.ok(&["start", "multi"]);
                w.example(EVENTS, RATE_PER_S);
                w.ok(&["stop", "multi"]);
                assert_eq!(w.discarded("multi"), 0, "host {i} discarded events");
                w.ok(&["destroy", "multi"]);
            });
        }
    });

    let mut host_dirs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host_dirs.sort();
    assert_eq!(
        host_dirs,
        ["host1", "host2", "host3"],
        "relay log:\n{}",
        relay.log()
    );
    for h in &host_dirs {
        let dir = out.join(h);
        assert_eq!(trace_dirs(&dir).len(), 1, "{h}: one trace");
        let n: usize = trace_dirs(&dir)
            .iter()
            .map(|t| {
                crate::support::babeltrace(t)
                    .lines()
                    .filter(|l| l.contains("rttng_example:tick"))
                    .count()
            })
            .sum();
        assert_eq!(n as u64, EVENTS, "{h}: events");
    }
    // Each host's connections came from its own address.
    for i in 0..HOSTS {
        assert!(
            relay
                .log()
                .contains(&format!("control connection from 10.213.{i}.2:")),
            "{}",
            relay.log()
        );
    }
    drop(worlds);
    drop(relay);
    drop(namespaces);
}
