//! Crash recovery: a child process (this test binary, re-run with an environment
//! variable) maps the channel and writes sequence-numbered events on two CPU buffers
//! until it is killed with SIGKILL at an arbitrary instruction. The parent drains
//! concurrently, kills the child once it has read enough events (no sleeping: bounded
//! wait on progress), recovers the buffers and checks that every event up to the last
//! committed one arrives exactly once and intact. The child publishes the sequence number
//! of each event it committed in a shared page, so that losing the newest committed
//! events (not only a hole before them) fails the test.

use super::*;
use rttng_ringbuf::ReserveError;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_FD_ENV: &str = "RTTNG_RINGBUF_CRASH_CHILD_FD";
const CHILD_PUBLISH_FD_ENV: &str = "RTTNG_RINGBUF_CRASH_PUBLISH_FD";
const TEST_NAME: &str = "crash::producer_killed_mid_run_loses_no_committed_event";
/// Events the parent reads before it kills the child.
const EVENTS_BEFORE_KILL: usize = 20_000;
/// Bound on every wait in this test.
const TIMEOUT: Duration = Duration::from_secs(60);
const ROUNDS: usize = 3;

/// A shared page holding one counter: 1 + the last sequence number the child committed
/// (0: none yet).
pub(crate) struct Published {
    ptr: *mut std::sync::atomic::AtomicU64,
}

impl Published {
    pub(crate) fn map(fd: i32) -> Published {
        // SAFETY: maps one page of the memfd `fd` (sized by the parent) shared; the
        // mapping lives as long as the process (never unmapped).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        assert!(p != libc::MAP_FAILED, "mmap of the publish page");
        Published { ptr: p.cast() }
    }

    pub(crate) fn counter(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: page-aligned, mapped for the life of the process, only accessed
        // atomically by both processes.
        unsafe { &*self.ptr }
    }
}

fn child(fd: i32, publish_fd: i32) {
    // SAFETY: the parent passed us this inherited fd number; it stays open for the
    // whole (short) life of this process.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let producer = Producer::from_fd(fd).expect("child maps the channel");
    let published = Published::map(publish_fd);
    let deadline = Instant::now() + TIMEOUT;
    for seq in 0u64.. {
        let cpu = ((seq / 3) % 2) as u32;
        let rec = make_record(0, seq, RECORD_OVERHEAD + (seq % 40) as usize);
        // Full: the parent is behind; retry the same event (the parent checks that no
        // sequence number is missing).
        loop {
            match producer.write(cpu, seq + 1, &rec) {
                Ok(_) => {
                    published
                        .counter()
                        .store(seq + 1, std::sync::atomic::Ordering::Release);
                    break;
                }
                Err(ReserveError::Full) => std::thread::yield_now(),
                Err(e) => panic!("unexpected {e}"),
            }
            if Instant::now() > deadline {
                return;
            }
        }
    }
}

fn drain(consumer: &mut Consumer, seqs: &mut Vec<u64>) {
    for cpu in 0..consumer.cpu_count() {
        while let Some(pkt) = consumer.get_next(cpu).expect("valid packet") {
            let events = parse_records(pkt.records()).expect("intact records");
            seqs.extend(events.iter().map(|&(_, seq)| seq));
            pkt.release();
        }
    }
}

fn one_round() {
    let mut consumer = Consumer::create(&config(2, 8, 4096, Mode::Discard)).unwrap();
    // dup() clears FD_CLOEXEC, so the child inherits the memfd.
    // SAFETY: plain syscall on an fd we own; the result is checked and closed below.
    let inherited = unsafe { libc::dup(consumer.fd().as_raw_fd()) };
    assert!(inherited >= 0);
    // The publish page: a memfd without CLOEXEC, so the child inherits it.
    // SAFETY: memfd_create with a NUL-terminated name; the fd is checked and closed below.
    let publish_fd = unsafe { libc::memfd_create(c"rttng-crash-publish".as_ptr(), 0) };
    assert!(publish_fd >= 0);
    // SAFETY: sizes our own memfd.
    assert_eq!(unsafe { libc::ftruncate(publish_fd, 4096) }, 0);
    let published = Published::map(publish_fd);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_FD_ENV, inherited.to_string())
        .env(CHILD_PUBLISH_FD_ENV, publish_fd.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn child");
    // SAFETY: our copies of the inherited fds; the child has its own (the page stays
    // mapped here).
    unsafe {
        libc::close(inherited);
        libc::close(publish_fd);
    }

    let deadline = Instant::now() + TIMEOUT;
    let mut seqs = Vec::new();
    while seqs.len() < EVENTS_BEFORE_KILL {
        assert!(Instant::now() < deadline, "child made no progress");
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        drain(&mut consumer, &mut seqs);
        consumer.wait(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let committed = published
        .counter()
        .load(std::sync::atomic::Ordering::Acquire);

    // SAFETY: the only producer was the child, which is dead (waited for).
    let report = unsafe { consumer.recover_dead_producer(u64::MAX / 2) };
    drain(&mut consumer, &mut seqs);
    seqs.sort_unstable();
    let last = *seqs.last().unwrap();
    let expected: Vec<u64> = (0..=last).collect();
    assert!(
        seqs == expected,
        "events 0..={last} each exactly once ({} read)",
        seqs.len()
    );
    assert!(
        last + 1 >= committed,
        "the child committed events up to {} but only 0..={last} were read",
        committed - 1
    );
    assert_eq!(
        report.committed_bytes_after_hole, 0,
        "one writer: no committed byte after a hole"
    );
    eprintln!("crash round: {} events recovered, {report:?}", seqs.len());
}

#[test]
fn producer_killed_mid_run_loses_no_committed_event() {
    if let Ok(fd) = std::env::var(CHILD_FD_ENV) {
        let publish = std::env::var(CHILD_PUBLISH_FD_ENV).expect("publish fd");
        child(
            fd.parse().expect("fd number"),
            publish.parse().expect("publish fd number"),
        );
        return;
    }
    for _ in 0..ROUNDS {
        one_round();
    }
}
