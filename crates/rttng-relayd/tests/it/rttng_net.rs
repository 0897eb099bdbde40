//! rttng's network output end to end: `rttng create --set-url net://...` (and `-C/-D`) with
//! per-UID and per-PID user-space buffers streams the example app's events into
//! `rttng-relayd` and into a real `lttng-relayd` 2.13; babeltrace2 reads every event the app
//! emitted, less what the session reported discarded, which at this paced rate is none. Also:
//! the relay killed mid-session (the app is never blocked, `list` and `stop` report the loss,
//! the session daemon streams to a restarted relay), and kernel channels streamed with
//! user-space ones.

use crate::support::{babeltrace, trace_dirs, Relay, TempDir};
use crate::world::{wait_until, LttngRelayd, World};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Events the app emits, and its paced rate (per second).
const EVENTS: u64 = 20_000;
const RATE_PER_S: u64 = 20_000;

/// (events, distinct `seq` values) of the example app in every trace under `out`.
fn example_events(out: &Path) -> (u64, BTreeSet<u64>) {
    let traces = trace_dirs(out);
    assert!(!traces.is_empty(), "no trace under {}", out.display());
    let mut seqs = BTreeSet::new();
    let mut n = 0;
    for t in traces {
        for line in babeltrace(&t)
            .lines()
            .filter(|l| l.contains("rttng_example:tick"))
        {
            n += 1;
            let seq = line
                .split("seq = ")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no seq in {line}"));
            seqs.insert(seq);
        }
    }
    (n, seqs)
}

/// Records the paced app through `url_args` and checks the trace the relay stored in `out`.
fn stream(world: &World, session: &str, url_args: &[&str], buffers: &str, out: &Path) {
    let mut create = vec!["create", session];
    create.extend_from_slice(url_args);
    let said = world.ok(&create);
    assert!(
        said.contains("Traces will be output to net://127.0.0.1:"),
        "{said}"
    );
    world.ok(&["enable-channel", "-u", "-s", session, buffers, "ch"]);
    world.ok(&[
        "enable-event",
        "-u",
        "-s",
        session,
        "-c",
        "ch",
        "rttng_example:*",
    ]);
    world.ok(&["start", session]);
    world.example(EVENTS, RATE_PER_S);
    world.ok(&["stop", session]);
    let discarded = world.discarded(session);
    let listed = world.ok(&["list", session]);
    world.ok(&["destroy", session]);
    assert_eq!(discarded, 0, "discarded at {RATE_PER_S}/s:\n{listed}");
    // `stop` returned after data pending: everything is on the relay already.
    let (n, seqs) = example_events(out);
    assert_eq!(n, EVENTS - discarded, "babeltrace2 event count");
    assert_eq!(seqs.len() as u64, EVENTS);
    let layout = if buffers == "--buffers-pid" {
        "/ust/pid/rttng-example-"
    } else {
        "/ust/uid/"
    };
    assert!(
        trace_dirs(out)
            .iter()
            .all(|t| t.to_string_lossy().contains(&format!("/{session}-"))
                && t.to_string_lossy().contains(layout)),
        "layout: {:?}",
        trace_dirs(out)
    );
}

fn net_url(control: u16, data: u16) -> String {
    format!("net://127.0.0.1:{control}:{data}")
}

#[test]
fn rttng_streams_per_uid_buffers_into_rttng_relayd() {
    let tmp = TempDir::new("relay-rttng-uid");
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let world = World::new("uid");
    let url = net_url(relay.control_port, relay.data_port);
    stream(
        &world,
        "netuid",
        &["--set-url", &url],
        "--buffers-uid",
        &out,
    );
}

#[test]
fn rttng_streams_per_pid_buffers_into_rttng_relayd_with_ctrl_and_data_urls() {
    let tmp = TempDir::new("relay-rttng-pid");
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let world = World::new("pid");
    let c = format!("tcp://127.0.0.1:{}", relay.control_port);
    let d = format!("tcp://127.0.0.1:{}", relay.data_port);
    stream(
        &world,
        "netpid",
        &["-C", &c, "-D", &d],
        "--buffers-pid",
        &out,
    );
    // The per-PID streams were closed when the app exited, before destroy.
    assert!(relay.log().contains("closed: "), "{}", relay.log());
}

#[test]
fn rttng_streams_per_uid_and_per_pid_buffers_into_lttng_relayd() {
    for buffers in ["--buffers-uid", "--buffers-pid"] {
        let tmp = TempDir::new("relay-rttng-lttng");
        let out = tmp.path().join("out");
        let relay = LttngRelayd::start(&out);
        let world = World::new("to-lttng");
        let url = net_url(relay.control_port, relay.data_port);
        stream(&world, "tolttng", &["-U", &url], buffers, &out);
    }
}

/// The `who` argument the kernel test's `getpriority` calls carry (no such process: each
/// call fails with ESRCH, which is all the test needs).
const KERNEL_MARK_WHO: i64 = 987_654_321;
/// `getpriority` calls the kernel test makes.
const KERNEL_CALLS: u64 = 3000;

/// Issue 13: kernel channels stream like user-space ones. One network session with a kernel
/// channel (system call entries and exits, a context) and a per-UID user-space channel: the
/// relay's stored kernel trace holds every marked system call this process made, less what
/// the session reported discarded, and the user-space trace every event of the paced app.
#[test]
fn rttng_streams_kernel_and_user_space_channels_into_rttng_relayd() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    assert!(
        Path::new("/sys/kernel/tracing/available_events").exists(),
        "tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing"
    );
    let tmp = TempDir::new("relay-kernel");
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let world = World::new("kernel");
    let url = net_url(relay.control_port, relay.data_port);
    world.ok(&["create", "knet", "-U", &url]);
    // 512 KiB per CPU hold the whole burst (6000 records of about 40 bytes), in several
    // packets.
    world.ok(&[
        "enable-channel",
        "-k",
        "-s",
        "knet",
        "--subbuf-size",
        "65536",
        "--num-subbuf",
        "8",
        "kch",
    ]);
    world.ok(&[
        "enable-event",
        "-k",
        "-s",
        "knet",
        "-c",
        "kch",
        "--syscall",
        "getpriority",
    ]);
    world.ok(&["add-context", "-k", "-s", "knet", "-c", "kch", "-t", "tid"]);
    world.ok(&["enable-event", "-u", "-s", "knet", "rttng_example:*"]);
    world.ok(&["start", "knet"]);
    for _ in 0..KERNEL_CALLS {
        // SAFETY: getpriority takes two integers and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_getpriority, 0i64, KERNEL_MARK_WHO) };
    }
    world.example(2000, RATE_PER_S);
    world.ok(&["stop", "knet"]);
    let discarded = world.discarded("knet");
    let listed = world.ok(&["list", "knet"]);
    // `stop` returned after data pending: the relay holds everything before destroy.
    let traces = trace_dirs(&out);
    let kernel: Vec<_> = traces
        .iter()
        .filter(|t| t.ends_with("kernel"))
        .cloned()
        .collect();
    assert_eq!(kernel.len(), 1, "one kernel trace on the relay: {traces:?}");
    assert!(
        kernel[0].to_string_lossy().contains("/knet-"),
        "{:?}",
        kernel[0]
    );
    let text = babeltrace(&kernel[0]);
    let mark = format!("who = {KERNEL_MARK_WHO}");
    let tid = format!("tid = {}", unsafe_gettid());
    let entries = text
        .lines()
        .filter(|l| l.contains("syscall_entry_getpriority") && l.contains(&mark))
        .count() as u64;
    assert!(
        text.lines()
            .filter(|l| l.contains("syscall_entry_getpriority") && l.contains(&mark))
            .all(|l| l.contains(&tid)),
        "entries of another thread, or no tid context"
    );
    let exits = text
        .lines()
        .filter(|l| l.contains("syscall_exit_getpriority") && l.contains(&tid))
        .count() as u64;
    assert_eq!(
        entries + exits,
        2 * KERNEL_CALLS - discarded,
        "kernel records on the relay, {discarded} reported discarded:\n{listed}"
    );
    assert_eq!(
        discarded, 0,
        "losses with a buffer that holds them all:\n{listed}"
    );
    let packets = std::fs::read_dir(kernel[0].join("index"))
        .unwrap()
        .flatten()
        .map(|e| (std::fs::metadata(e.path()).unwrap().len() - 32) / 56)
        .sum::<u64>();
    // How many packets the drain cut depends on how many passes it made (one per wake-up,
    // fewer on a quiet machine: 2 were seen): the records above are what must be complete.
    assert!(packets >= 1, "{packets} kernel packets went over the wire");
    let ust: Vec<_> = traces
        .iter()
        .filter(|t| t.to_string_lossy().contains("/ust/uid/"))
        .collect();
    assert_eq!(ust.len(), 1, "{traces:?}");
    let ticks = babeltrace(ust[0])
        .lines()
        .filter(|l| l.contains("rttng_example:tick"))
        .count();
    assert_eq!(ticks, 2000);
    world.ok(&["destroy", "knet"]);
    let leftover = std::fs::read_dir("/sys/kernel/tracing/instances")
        .map(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().contains("-knet-"))
        })
        .unwrap_or(false);
    assert!(!leftover, "a tracefs instance of the session was left");
}

fn unsafe_gettid() -> i64 {
    // SAFETY: gettid takes no argument.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

#[test]
fn bad_relay_urls_are_one_error_line() {
    let world = World::new("badurl");
    for (args, want) in [
        (
            vec!["create", "b1", "--set-url", "net://"],
            "Error: bad URL \"net://\": no host",
        ),
        (
            vec!["create", "b2", "-U", "net://h:1:2:3"],
            "Error: bad URL",
        ),
        (vec!["create", "b3", "-U", "net://h/../x"], "Error: bad URL"),
        (
            vec!["create", "b4", "-C", "tcp://a:1", "-D", "tcp://b:2"],
            "Error: the control and data URLs name different hosts",
        ),
    ] {
        let f = world.rttng(&args);
        assert!(!f.status.success(), "{args:?} accepted");
        assert_eq!(f.stderr.lines().count(), 1, "{args:?}: {}", f.stderr);
        assert!(f.stderr.starts_with(want), "{args:?}: {}", f.stderr);
    }
    // A relay that does not answer: reported at the first channel, as lttng does.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    world.ok(&["create", "dead", "-U", &net_url(port, port)]);
    let f = world.rttng(&["enable-event", "-u", "-s", "dead", "-a"]);
    assert!(!f.status.success());
    assert!(
        f.stderr
            .contains("cannot stream to the relay at net://127.0.0.1:"),
        "{}",
        f.stderr
    );
    world.ok(&["destroy", "dead"]);
}

#[test]
fn the_relay_killed_mid_session_blocks_no_app_and_a_restarted_relay_serves_again() {
    let tmp = TempDir::new("relay-killed");
    let out_a = tmp.path().join("out-a");
    let mut relay = Relay::start(&out_a);
    let world = World::new("killed");
    let url = net_url(relay.control_port, relay.data_port);
    world.ok(&["create", "k1", "-U", &url]);
    world.ok(&[
        "enable-channel",
        "-u",
        "-s",
        "k1",
        "--subbuf-size",
        "16k",
        "ch",
    ]);
    world.ok(&[
        "enable-event",
        "-u",
        "-s",
        "k1",
        "-c",
        "ch",
        "rttng_example:*",
    ]);
    world.ok(&["start", "k1"]);
    // 4 s of events at a paced rate; the relay dies after the first packets arrived.
    let count = 4 * RATE_PER_S;
    let started = Instant::now();
    let mut app = world.spawn_example(count, RATE_PER_S);
    wait_until("packets on the relay", || {
        trace_dirs(&out_a).iter().any(|t| {
            std::fs::read_dir(t.join("index"))
                .map(|d| {
                    d.flatten()
                        .any(|e| e.metadata().map(|m| m.len() > 16).unwrap_or(false))
                })
                .unwrap_or(false)
        })
    });
    relay.kill();
    let status = app.wait().unwrap();
    let took = started.elapsed();
    assert!(status.success(), "the app failed after the relay died");
    // Never blocked: it took about its paced time.
    assert!(took < Duration::from_secs(4 + 6), "the app took {took:?}");
    // The consumer finds out at its next send; list shows it.
    wait_until("the failure in list", || {
        let f = world.rttng(&["list", "k1"]);
        f.stderr.contains("Warning: streaming to the relay at") && f.stdout.contains("[active]")
    });
    let stop = world.rttng(&["stop", "k1"]);
    let said = format!("{}{}", stop.stdout, stop.stderr);
    assert!(said.contains("packets lost since"), "stop says: {said}");
    let destroy = world.rttng(&["destroy", "k1"]);
    assert!(
        destroy.stdout.contains("Session k1 destroyed")
            && destroy
                .stderr
                .contains("packets could not be sent to the relay"),
        "destroy says: {}{}",
        destroy.stdout,
        destroy.stderr
    );
    // What reached relay A before it died reads, in whole packets.
    let (n, _) = example_events(&out_a);
    assert!(n > 0 && n < count, "relay A kept {n} events");

    // The same session daemon streams to a new relay.
    let out_b = tmp.path().join("out-b");
    let relay_b = Relay::start(&out_b);
    stream(
        &world,
        "k2",
        &["-U", &net_url(relay_b.control_port, relay_b.data_port)],
        "--buffers-uid",
        &out_b,
    );
}
