//! Issue 11, items 1 and 2: no trace data lost in silence.
//!
//! - An output that cannot be written is refused at `start`, as lttng 2.13 does (observed
//!   with the real lttng under its own LTTNG_HOME: `lttng start` on `-o /proc/forbidden`, on
//!   a regular file, and on a session whose NAME-DATE directory is too long, prints
//!   `Error: Create directory failed` and exits 17, LTTNG_ERR_CREATE_DIR_FAIL); rttng also
//!   names the path and the reason.
//! - Write errors while tracing (injected into the consumer's writes with
//!   `RTTNG_CONSUMERD_FAULTS`: ENOSPC, EIO, EDQUOT, short writes, into stream files and into
//!   index files; and a real full tmpfs) lose only the packets they hit: every stream file
//!   ends on a whole packet with a consistent index, babeltrace2 and `rttng view` read the
//!   trace whole, `stop` warns with lttng's warning status, `list` shows as many lost packets
//!   as the trace's packet sequence numbers miss and the events inside them (emitted -
//!   recorded - discarded), and writing resumes once space returns.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::session_support::{read_both, World, CMD_TIMEOUT};
use crate::support::{require_tools, run_bounded};

/// lttng's exit status for `start` on an output it cannot create.
const EXIT_CREATE_DIR_FAILED: i32 = 17;
/// lttng's exit status for a command that succeeded with a warning.
const EXIT_WARNING: i32 = 4;

fn lost_packets(list: &str) -> u64 {
    list.lines()
        .filter_map(|l| l.trim().strip_prefix("Lost packets:"))
        .map(|v| v.trim().parse::<u64>().expect("lost packets number"))
        .sum()
}

/// The events inside packets that could not be written (`Lost events:`, shown when not 0).
fn lost_events(list: &str) -> u64 {
    list.lines()
        .filter_map(|l| l.trim().strip_prefix("Lost events:"))
        .map(|v| v.trim().parse::<u64>().expect("lost events number"))
        .sum()
}

fn discarded_events(list: &str) -> u64 {
    list.lines()
        .filter_map(|l| l.trim().strip_prefix("Discarded events:"))
        .map(|v| v.trim().parse::<u64>().expect("discarded events number"))
        .sum()
}

#[test]
fn issue_11_start_refuses_outputs_that_cannot_be_written() {
    let w = World::new("unwritable");
    let file = w.tmp.path().join("a-regular-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let long = "n".repeat(250);
    let cases: Vec<(&str, Vec<String>, String)> = vec![
        (
            "proc",
            vec!["-o".into(), "/proc/forbidden".into()],
            "/proc/forbidden".into(),
        ),
        (
            "file",
            vec!["-o".into(), file.to_string_lossy().into_owned()],
            file.to_string_lossy().into_owned(),
        ),
        (&long, vec![], format!("/{long}-")),
    ];
    for (name, extra, path_part) in &cases {
        let mut create = vec![*name];
        create.extend(extra.iter().map(String::as_str));
        w.create(&create);
        w.ok(&["enable-event", "-u", "-a", "-s", name]);
        let start = w.rttng(&["start", name]);
        let stderr = String::from_utf8_lossy(&start.stderr);
        assert_eq!(
            start.status.code(),
            Some(EXIT_CREATE_DIR_FAILED),
            "{name}: start must fail like lttng's; stderr: {stderr}"
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: one line: {stderr}");
        assert!(
            lines[0].starts_with("Error: Create directory failed: ")
                && lines[0].contains(path_part),
            "{name}: lttng's message naming the path: {stderr}"
        );
        let list = w.ok(&["list", name]);
        assert!(list.contains("[inactive]"), "{name}: not started:\n{list}");
    }
}

/// A world whose consumer fails the writes `faults` names; a session with small packets
/// records `events` of each of the probe's four tracepoints. Returns the world, the trace
/// directory, `stop`'s result and `list`'s text.
fn traced_with_faults(
    name: &str,
    faults: &str,
    events: u64,
) -> (World, PathBuf, crate::support::Finished, String) {
    let w = World::new(name);
    // The daemon (spawned by the first command) and its consumer inherit the variable.
    let out = w.create_env(&["f"], &[("RTTNG_CONSUMERD_FAULTS", faults)]);
    w.record_channel0(&["--subbuf-size", "4096", "--num-subbuf", "64"], "-a");
    w.probe(&["--count", &events.to_string()]);
    let stop = w.rttng(&["stop"]);
    let list = w.ok(&["list", "f"]);
    (w, out, stop, list)
}

/// Every stream file of `trace` (recursively): each must end on a whole packet, and its
/// index must describe exactly its packets. Returns the packet sequence numbers the
/// streams miss: before their first packet (each stream starts at 0) and between packets.
pub fn check_streams(trace: &Path) -> u64 {
    let mut missing = 0;
    let mut dirs = vec![trace.to_path_buf()];
    let mut streams = 0;
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().unwrap() != "index" {
                    dirs.push(p);
                }
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name == "metadata" || !d.join("metadata").is_file() {
                continue;
            }
            streams += 1;
            let data = std::fs::read(&p).unwrap();
            let idx = std::fs::read(d.join("index").join(format!("{name}.idx")))
                .unwrap_or_else(|e| panic!("{}: index: {e}", p.display()));
            let index = rttng_ctf::index::decode_index(&idx, Some(data.len() as u64))
                .unwrap_or_else(|e| {
                    panic!("{}: index inconsistent with the data: {e}", p.display())
                });
            let mut at = 0u64;
            let mut prev_seq: Option<u64> = None;
            for entry in &index.entries {
                assert_eq!(
                    entry.offset_bytes,
                    at,
                    "{}: packets back to back",
                    p.display()
                );
                let start = at as usize;
                // The packet's own header agrees with its index entry (spec §5 offsets).
                let le = |off: usize| {
                    u64::from_le_bytes(data[start + off..start + off + 8].try_into().unwrap())
                };
                assert_eq!(le(0) as u32, 0xC1FC_1FC1, "{}: magic at {at}", p.display());
                assert_eq!(
                    le(56),
                    entry.packet_size_bits,
                    "{}: size at {at}",
                    p.display()
                );
                let seq = le(64);
                missing += seq - prev_seq.map_or(0, |prev| prev + 1);
                prev_seq = Some(seq);
                at += entry.packet_size_bits / 8;
            }
            assert_eq!(
                at,
                data.len() as u64,
                "{}: ends on a whole packet",
                p.display()
            );
        }
    }
    assert!(streams > 0, "no stream file in {}", trace.display());
    missing
}

/// babeltrace2 reads the trace whole (exit 0) and `rttng view` prints the same; returns
/// babeltrace2's text and the packets it reports lost.
fn read_whole(trace: &Path) -> (String, u64) {
    let (text, bt_err) = read_both(trace);
    let lost: u64 = bt_err
        .lines()
        .filter(|l| l.contains(" packet"))
        .filter_map(|l| l.strip_prefix("WARNING: Tracer discarded "))
        .filter_map(|r| r.split(' ').next()?.parse::<u64>().ok())
        .sum();
    (text, lost)
}

#[test]
fn issue_11_injected_write_faults_lose_only_the_packets_they_hit() {
    require_tools(&[("babeltrace2", "babeltrace2")]).unwrap();
    // (rule, failed writes it causes). Early ordinals: every stream has later packets, so
    // each lost packet is a gap in the trace's sequence numbers.
    let cases = [
        ("enospc:data:3", 1),
        ("eio:data:2+3", 3),
        ("edquot:data:4", 1),
        ("short:data:3", 1),
        ("enospc:index:2", 1),
        ("short:index:3+2", 2),
    ];
    let mut failures = Vec::new();
    for (i, (rule, failed)) in cases.iter().enumerate() {
        let (_w, out, stop, list) = traced_with_faults(&format!("faults-{i}"), rule, 3000);
        let stderr = String::from_utf8_lossy(&stop.stderr).into_owned();
        if stop.status.code() != Some(EXIT_WARNING)
            || !stderr.contains("could not be written")
            || !stderr.contains(&*out.to_string_lossy())
        {
            failures.push(format!(
                "{rule}: stop must warn (exit 4) naming the trace directory; got {:?}: {stderr}",
                stop.status.code()
            ));
        }
        let reported = lost_packets(&list);
        let missing = check_streams(&out);
        let (text, bt_lost) = read_whole(&out);
        // babeltrace2 sees only the gaps between packets, not a stream's lost first packets.
        if reported != *failed || missing != *failed || bt_lost > *failed {
            failures.push(format!(
                "{rule}: {failed} failed writes; list reports {reported} lost packets, the \
                 stream files miss {missing}, babeltrace2 reports {bt_lost}"
            ));
        }
        // Every event is recorded, discarded by the ring buffer, or in a lost packet, and
        // those are counted exactly (in `list`, and in stop's warning).
        let emitted = 4 * 3000;
        let recorded = text.lines().filter(|l| l.contains(" seq = ")).count() as u64;
        let discarded = discarded_events(&list);
        let lost = lost_events(&list);
        if recorded + discarded >= emitted || recorded == 0 {
            failures.push(format!(
                "{rule}: {recorded} recorded + {discarded} discarded of {emitted}: the lost \
                 packets held none?"
            ));
        } else if lost != emitted - recorded - discarded {
            failures.push(format!(
                "{rule}: list reports {lost} events lost; {emitted} emitted - {recorded} \
                 recorded - {discarded} discarded = {}",
                emitted - recorded - discarded
            ));
        } else if !stderr.contains(&format!("({lost} events)")) {
            failures.push(format!(
                "{rule}: stop's warning does not count the {lost} lost events: {stderr}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A tmpfs this test mounts, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&at).unwrap();
        let done = run_bounded(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(&at),
            CMD_TIMEOUT,
        )
        .expect("mount runs");
        assert!(
            done.status.success(),
            "mounting a tmpfs needs root (CI runs as root): {}",
            done.stderr_quote()
        );
        Tmpfs(at)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a daemon of a failed test may still hold files there.
        let _ = run_bounded(
            Command::new("umount").arg("--lazy").arg(&self.0),
            CMD_TIMEOUT,
        );
    }
}

#[test]
fn issue_11_full_disk_keeps_the_trace_readable_and_writing_resumes() {
    require_tools(&[("babeltrace2", "babeltrace2")]).unwrap();
    let w = World::new("fulldisk");
    let fs = Tmpfs::mount(w.tmp.path().join("small"), "2m");
    // Leave about 600 KiB free: the first run of events fills it.
    let filler = fs.0.join("filler");
    std::fs::write(&filler, vec![0u8; 1400 << 10]).unwrap();
    let out = fs.0.join("trace");
    w.create(&["full", "-o", &out.to_string_lossy()]);
    w.record_channel0(&["--subbuf-size", "16384", "--num-subbuf", "64"], "-a");
    w.probe(&["--count", "40000"]);
    // `list` makes the consumer write what it holds, on the full disk.
    let list = w.ok(&["list", "full"]);
    let lost_before = lost_packets(&list);
    assert!(
        lost_before > 0,
        "the disk filled: packets must be reported lost\n{list}"
    );
    // Space returns; a second app's events must all be recorded.
    std::fs::remove_file(&filler).unwrap();
    let first_stop = w.rttng(&["stop"]);
    assert_eq!(
        first_stop.status.code(),
        Some(EXIT_WARNING),
        "stop warns of the lost packets: {}",
        first_stop.stderr_quote()
    );
    w.ok(&["start"]);
    w.probe(&["--count", "50"]);
    let stop = w.rttng(&["stop"]);
    assert_eq!(
        stop.status.code(),
        Some(EXIT_WARNING),
        "stop warns of the lost packets: {}",
        stop.stderr_quote()
    );
    let list = w.ok(&["list", "full"]);
    let missing = check_streams(&out);
    let (text, _) = read_whole(&out);
    assert_eq!(
        lost_packets(&list),
        missing,
        "list's lost packets = the sequence numbers the stream files miss\n{list}"
    );
    let recorded = text.lines().filter(|l| l.contains(" seq = ")).count();
    assert!(
        recorded > 1000,
        "the events before the disk filled: {recorded}"
    );
    // The second app's 4 × 50 events, each tracepoint's seq 0..50, after the first app's.
    let tail: Vec<&str> = text.lines().rev().take(200).collect();
    assert_eq!(
        tail.iter().filter(|l| l.contains(" seq = ")).count(),
        200,
        "the last 200 events are the second app's"
    );
    drop(w);
    drop(fs);
}
