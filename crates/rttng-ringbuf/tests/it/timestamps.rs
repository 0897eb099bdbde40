//! Issue 11, item 3: a packet's `timestamp_end` is never older than any event in it, whatever
//! flushes and writers do at the same time. Half of the writer threads reserve as the
//! tracer's event path does (`reserve_timed_ordered` with `rttng_clock::now_ordered`, no
//! fence), half through the fenced `reserve_with_clock`.
//!
//! Several writer processes (this test binary, re-run with an environment variable), each
//! with several threads, write into one shared channel (a per-user buffer) with the trace
//! clock, while another process flushes every CPU buffer in a tight loop (as an app
//! exiting does) and the consumer flushes too (its switch timer) and drains. Every packet
//! is checked: `timestamp_begin <= every event <= timestamp_end`, events in order, and each
//! packet beginning no earlier than the previous one ended. The packets are then written
//! as a CTF trace (LTTng's packet layout, a large event header) that babeltrace2 must read
//! whole: every event, exit status 0. Counts are exact: events read + events discarded =
//! events the writers tried.

use super::*;
use crate::crash::Published;
use rttng_ringbuf::ReserveError;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "RTTNG_RINGBUF_TS_CHILD";
const TEST_NAME_UID: &str = "timestamps::per_uid_flushes_never_end_a_packet_before_its_events";
const TEST_NAME_PID: &str = "timestamps::per_pid_flushes_never_end_a_packet_before_its_events";
/// Bound on every wait of this test.
const TIMEOUT: Duration = Duration::from_secs(120);
/// One CTF event: large header in its extended form (`0xffff`, id u32, timestamp u64),
/// then a u64 payload, byte-packed as LTTng writes on x86-64.
const RECORD_BYTES: usize = 2 + 4 + 8 + 8;
const CPUS: u32 = 2;
const STREAM_CLASS_ID: u32 = 3;

fn stress_config() -> rttng_ringbuf::Config {
    // Small packets: many switches by filling, so that flushes race with switches too.
    config(CPUS, 16, 4096, Mode::Discard)
}

/// What a child does, from `CHILD_ENV`: `writer:FD:FLAG_FD:ID:THREADS:EVENTS` or
/// `flusher:FD:FLAG_FD`.
fn child(spec: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let num = |i: usize| -> u64 { parts[i].parse().expect("child argument") };
    // SAFETY: the parent passed us these inherited fd numbers; they stay open for the
    // whole (short) life of this process.
    let fd = unsafe { BorrowedFd::borrow_raw(num(1) as i32) };
    let producer = Producer::from_fd(fd).expect("child maps the channel");
    let flag = Published::map(num(2) as i32);
    let deadline = Instant::now() + TIMEOUT;
    match parts[0] {
        "writer" => {
            let (id, threads, events) = (num(3), num(4), num(5));
            let (committed, dropped) = writer(&producer, id, threads, events);
            // The app's exit flush (rttng-ust's flush_channel).
            for cpu in 0..CPUS {
                let _ = producer.flush(cpu, false, rttng_clock::now);
            }
            println!("\nREPORT {committed} {dropped}");
        }
        "flusher" => {
            let mut flushes = 0u64;
            while flag.counter().load(std::sync::atomic::Ordering::Acquire) == 0
                && Instant::now() < deadline
            {
                for cpu in 0..CPUS {
                    let empty = flushes.is_multiple_of(5);
                    let _ = producer.flush(cpu, empty, rttng_clock::now);
                    flushes += 1;
                }
            }
            println!("\nREPORT {flushes}");
        }
        other => panic!("unknown child role {other}"),
    }
}

/// `threads` threads each try `events` events, hopping between the CPU buffers. Returns
/// (committed, dropped).
fn writer(producer: &Producer, id: u64, threads: u64, events: u64) -> (u64, u64) {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let (mut committed, mut dropped) = (0u64, 0u64);
                    for i in 0..events {
                        let cpu = ((i / 7 + t) % u64::from(CPUS)) as u32;
                        // Odd threads take the event path's reservation (the clock read
                        // ordering itself, `rdtscp`), even ones the fenced one: both
                        // kinds of writer share every buffer.
                        let reserved = if t % 2 == 1 {
                            producer.reserve_timed_ordered(cpu, || {
                                (rttng_clock::now_ordered(), RECORD_BYTES)
                            })
                        } else {
                            producer.reserve_with_clock(cpu, RECORD_BYTES, rttng_clock::now)
                        };
                        match reserved {
                            Ok(mut r) => {
                                let mut rec = [0u8; RECORD_BYTES];
                                rec[..2].copy_from_slice(&[0xff, 0xff]);
                                rec[6..14].copy_from_slice(&r.timestamp().to_le_bytes());
                                let tag = id << 40 | t << 32 | i;
                                rec[14..].copy_from_slice(&tag.to_le_bytes());
                                r.write(&rec);
                                r.commit();
                                committed += 1;
                            }
                            Err(ReserveError::Full) => {
                                dropped += 1;
                                std::thread::yield_now();
                            }
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                    (committed, dropped)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .fold((0, 0), |(c, d), (c2, d2)| (c + c2, d + d2))
    })
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Per CPU: the packets read, and the problems found in them.
#[derive(Default)]
struct Checked {
    files: Vec<Vec<u8>>,
    events: u64,
    last_discarded: Vec<u64>,
    last_end: Vec<Option<u64>>,
    problems: Vec<String>,
}

impl Checked {
    fn new() -> Checked {
        Checked {
            files: vec![Vec::new(); CPUS as usize],
            last_discarded: vec![0; CPUS as usize],
            last_end: vec![None; CPUS as usize],
            ..Checked::default()
        }
    }

    /// Checks one packet's times against its events and the packet before it.
    fn packet(&mut self, cpu: u32, seq: u64, bytes: &[u8], content: usize) {
        use rttng_abi::packet as pk;
        let c = cpu as usize;
        let begin = le_u64(bytes, pk::TIMESTAMP_BEGIN);
        let end = le_u64(bytes, pk::TIMESTAMP_END);
        let mut problem = |what: String| {
            if self.problems.len() < 10 {
                self.problems
                    .push(format!("cpu {cpu} packet {seq} [{begin}, {end}]: {what}"));
            }
        };
        if end < begin {
            problem("timestamp_end before timestamp_begin".into());
        }
        if let Some(prev_end) = self.last_end[c] {
            if begin < prev_end {
                problem(format!(
                    "begins before the previous packet ended ({prev_end})"
                ));
            }
        }
        let records = &bytes[pk::HEADER_BYTES..content];
        if !records.len().is_multiple_of(RECORD_BYTES) {
            problem(format!("{} record bytes", records.len()));
        }
        let mut prev = begin;
        for rec in records.chunks_exact(RECORD_BYTES) {
            let ts = le_u64(rec, 6);
            if ts < prev {
                problem(format!("event at {ts} before the previous time {prev}"));
            }
            if ts > end {
                problem(format!(
                    "event at {ts} after timestamp_end ({} cycles later)",
                    ts - end
                ));
            }
            prev = ts;
            self.events += 1;
        }
        self.last_end[c] = Some(end);
        self.last_discarded[c] = self.last_discarded[c].max(le_u64(bytes, pk::EVENTS_DISCARDED));
        self.files[c].extend_from_slice(bytes);
    }

    fn drain(&mut self, consumer: &mut Consumer) {
        for cpu in 0..CPUS {
            while let Some(p) = consumer.get_next(cpu).expect("valid packet") {
                let (seq, content) = (p.packet_seq(), p.content_bytes());
                self.packet(cpu, seq, p.bytes(), content);
                p.release();
            }
        }
    }
}

/// The CTF metadata of the packets the ring buffer writes, with this test's one event
/// class. The clock counts TSC cycles as 1 GHz: only the order matters here.
fn metadata() -> rttng_ctf::ir::Metadata {
    use rttng_ctf::ir::{self, FieldClass};
    use rttng_ctf::lttng::{self, EventHeaderKind, LttngLayout};
    let layout = LttngLayout::x86_64();
    let fields = ir::struct_class(vec![("tag", FieldClass::Integer(layout.uint(64)))], 1);
    let mut md = layout.metadata(
        UUID,
        lttng::monotonic_clock(None, 0),
        lttng::ust_uid_env("h", "stress", "20240101T000000+0000", 0),
    );
    let mut sc = layout.stream_class(u64::from(STREAM_CLASS_ID), EventHeaderKind::Large, None);
    sc.events.push(lttng::event_class(
        0,
        u64::from(STREAM_CLASS_ID),
        "stress:event",
        None,
        fields,
    ));
    md.streams.push(sc);
    md
}

/// babeltrace2's count of event messages in `dir`, or its failure.
fn babeltrace2_events(dir: &std::path::Path) -> Result<u64, String> {
    let out = Command::new("babeltrace2")
        .arg(dir)
        .args(["-c", "sink.utils.counter", "-p", "step=+0"])
        .output()
        .map_err(|e| {
            format!("babeltrace2 cannot run ({e}): install it (apt-get install babeltrace2)")
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(4).collect();
        return Err(format!(
            "babeltrace2 failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    text.lines()
        .rfind(|l| l.contains("Event messages"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no event count in babeltrace2's output: {text}"))
}

/// A child process of this test binary.
fn spawn_child(test: &str, spec: String) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

/// The numbers of the `REPORT` line a child printed: a writer's committed and dropped
/// events, the flusher's flush count.
fn child_report(child: std::process::Child) -> Vec<u64> {
    let out = child.wait_with_output().expect("child output");
    assert!(out.status.success(), "child failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("REPORT "))
        .unwrap_or_else(|| panic!("no report from the child: {text}"));
    line.split_whitespace()
        .map(|w| w.parse().expect("a number in the child's report"))
        .collect()
}

/// One run: `writers` processes of `threads` threads, `events` each, with a flusher
/// process when `flusher`; the consumer flushes every fourth drain pass (its switch timer).
fn run(test: &str, writers: u64, threads: u64, events: u64, flusher: bool) {
    let mut consumer = Consumer::create(&stress_config()).unwrap();
    // dup() clears FD_CLOEXEC, so the children inherit the memfd; so does a memfd made
    // without MFD_CLOEXEC (the flag page that stops the flusher).
    // SAFETY: plain syscalls on fds we own; results checked, closed below.
    let inherited = unsafe { libc::dup(consumer.fd().as_raw_fd()) };
    assert!(inherited >= 0);
    // SAFETY: as above.
    let flag_fd = unsafe { libc::memfd_create(c"rttng-ts-flag".as_ptr(), 0) };
    assert!(flag_fd >= 0);
    // SAFETY: sizes our own memfd.
    assert_eq!(unsafe { libc::ftruncate(flag_fd, 4096) }, 0);
    let flag = Published::map(flag_fd);

    let flusher = flusher.then(|| spawn_child(test, format!("flusher:{inherited}:{flag_fd}")));
    let children: Vec<_> = (0..writers)
        .map(|id| {
            spawn_child(
                test,
                format!("writer:{inherited}:{flag_fd}:{id}:{threads}:{events}"),
            )
        })
        .collect();
    // SAFETY: our copies of the inherited fds; the children have their own.
    unsafe {
        libc::close(inherited);
        libc::close(flag_fd);
    }

    let mut checked = Checked::new();
    let deadline = Instant::now() + TIMEOUT;
    let mut pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let mut passes = 0u64;
    while !pids.is_empty() {
        assert!(Instant::now() < deadline, "writers did not finish in time");
        checked.drain(&mut consumer);
        passes += 1;
        if passes.is_multiple_of(4) {
            // The consumer's switch timer.
            for cpu in 0..CPUS {
                let _ = consumer.flush(cpu, false, rttng_clock::now);
            }
        }
        consumer.wait(Duration::from_millis(2));
        pids.retain(|&pid| {
            // SAFETY: kill with signal 0 only checks that the process exists.
            let alive = unsafe { libc::kill(pid as i32, 0) } == 0;
            // A zombie still exists: look at its state to tell.
            alive
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| !s.contains(") Z "))
                    .unwrap_or(false)
        });
    }
    let (mut committed, mut dropped) = (0u64, 0u64);
    for c in children {
        let r = child_report(c);
        committed += r[0];
        dropped += r[1];
    }
    flag.counter()
        .store(1, std::sync::atomic::Ordering::Release);
    let flushes = flusher.map(|f| child_report(f)[0]).unwrap_or(0);
    checked.drain(&mut consumer);
    // The stop flush: an empty packet carries the final loss count.
    for cpu in 0..CPUS {
        consumer
            .flush(cpu, true, rttng_clock::now)
            .expect("stop flush");
    }
    checked.drain(&mut consumer);

    assert!(
        checked.problems.is_empty(),
        "packets whose times do not hold their events ({flushes} flushes by the flusher):\n{}",
        checked.problems.join("\n")
    );
    assert_eq!(checked.events, committed, "every committed event read once");
    let discarded: u64 = checked.last_discarded.iter().sum();
    assert_eq!(discarded, dropped, "events_discarded = the writers' drops");
    assert_eq!(
        committed + dropped,
        writers * threads * events,
        "recorded + discarded = emitted"
    );

    let dir = std::env::temp_dir().join(format!(
        "rttng-ringbuf-ts-{}-{}",
        std::process::id(),
        writers
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("metadata"),
        rttng_ctf::emit::emit_metadata(&metadata()),
    )
    .unwrap();
    for (cpu, bytes) in checked.files.iter().enumerate() {
        std::fs::write(dir.join(format!("stress_{cpu}")), bytes).unwrap();
    }
    let bt = babeltrace2_events(&dir);
    assert_eq!(
        bt,
        Ok(committed),
        "babeltrace2 reads the trace whole (kept in {})",
        dir.display()
    );
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!(
        "{writers} writers x {threads} threads: {committed} events, {dropped} dropped, \
         {flushes} flushes by the flusher process"
    );
}

#[test]
fn per_uid_flushes_never_end_a_packet_before_its_events() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    // Per-user buffer: four apps of two threads each share the channel; a fifth process
    // flushes it in a loop, the consumer flushes and drains.
    run(TEST_NAME_UID, 4, 2, 40_000, true);
}

#[test]
fn per_pid_flushes_never_end_a_packet_before_its_events() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    // Per-process buffer: one app with four threads; the consumer's switch timer flushes.
    run(TEST_NAME_PID, 1, 4, 60_000, false);
}
