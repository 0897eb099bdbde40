//! `rttng-consumerd`: the consumer daemon `rttng-sessiond` starts. It talks to the session
//! daemon over the socket it inherits as standard input (requests in
//! `rttng_proto::ConsumerRequest`), creates each ring buffer's shared memory and hands its fd
//! back, and runs one thread per buffer that sleeps on the buffer's futex (or the switch
//! timer), copies complete sub-buffers into the stream files `CHANNEL_CPU` (or
//! `CHANNEL_CPU_I` with tracefile rotation), appends index entries to `index/*.idx`, and
//! appends metadata packets to `metadata`. A session with network output streams instead
//! (`relay.rs`): `OpenRelay` opens a relay session, `AddRelayBuffer` buffers send their
//! packets and indexes there, `RelayDataPending` answers `stop`'s wait, `CloseRelay` ends it.
//!
//! Requests come on the control socket and on the lanes the session daemon opens with
//! `OpenLane` (each served by a thread of its own, one per session at work); no request
//! holds the tables while it waits for the disk or the network (`answer`), and the kernel
//! sessions have a lock of their own, so one session's work never holds up another's.
//!
//! The buffers belong to this process: an application that dies leaves them intact, and
//! `Recover` closes its half-written packets. When the session daemon goes away, every
//! buffer is flushed and written before exiting. Not here: deciding what to trace, session
//! state, anything about applications.

#![deny(unsafe_code)]

mod faults;
mod files;
mod kernel;
mod metadata;
mod relay;
mod snapshot;
mod stream;

use metadata::METADATA_PACKET_BYTES;
use rttng_proto::sock::{self, RecvError};
use rttng_proto::{ConsumerReply, ConsumerRequest, Kind};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use stream::{BufferWorker, Cmd};

struct Handle {
    tx: mpsc::Sender<Cmd>,
    producer: Arc<rttng_ringbuf::Producer>,
    cpus: u32,
    thread: std::thread::JoinHandle<()>,
}

fn log(msg: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "rttng-consumerd[{}]: {msg}",
        std::process::id()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("rttng-consumerd: started by rttng-sessiond with its control socket as standard input; not meant to be run by hand");
        return;
    }
    let sock = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => UnixStream::from(fd),
        Err(e) => {
            log(&format!(
                "cannot use standard input as the control socket: {e}"
            ));
            std::process::exit(3);
        }
    };
    if let Err(e) = faults::init() {
        log(&e);
        std::process::exit(3);
    }
    // The clock source is selected on first use: do it now, off the write path.
    let _ = rttng_clock::source();
    let st: Shared = Arc::default();
    serve(&sock, &st, true);
    // Session daemon gone or asked us to quit: write out everything.
    let Tables { buffers, relays } = std::mem::take(&mut *lock(&st));
    for (_, h) in buffers {
        finish(h);
    }
    kernel(&st).remove_all();
    for (_, r) in relays {
        r.close();
    }
}

/// The buffers and relay sessions, shared by the threads serving the control socket and
/// the lanes; held only to look up, add or remove.
#[derive(Default)]
struct Tables {
    buffers: BTreeMap<u64, Handle>,
    relays: BTreeMap<u64, Arc<relay::RelaySession>>,
}

#[derive(Default)]
struct Daemon {
    tables: Mutex<Tables>,
    /// The kernel sessions (their operations write, so not under the tables).
    kernel: Mutex<kernel::Kernel>,
}

type Shared = Arc<Daemon>;

fn lock(st: &Shared) -> MutexGuard<'_, Tables> {
    st.tables.lock().unwrap_or_else(|p| p.into_inner())
}

fn kernel(st: &Shared) -> MutexGuard<'_, kernel::Kernel> {
    st.kernel.lock().unwrap_or_else(|p| p.into_inner())
}

/// Answers the requests of one socket in order: the control socket (`control`; `Quit`
/// ends the process) or the lane the session daemon opened with `OpenLane` for requests
/// that may wait (flushes, removals, relay waits), served by a thread of its own so that
/// the control socket's requests never wait behind them.
fn serve(sock: &UnixStream, st: &Shared, control: bool) {
    loop {
        let (req, passed) = match sock::recv::<ConsumerRequest>(sock, Kind::ConsumerRequest) {
            Ok(r) => r,
            Err(RecvError::Closed) => break,
            Err(e) => {
                log(&format!("session daemon socket: {e}; no longer served"));
                break;
            }
        };
        let quit = req == ConsumerRequest::Quit;
        let (reply, fd) = if req == ConsumerRequest::OpenLane {
            (open_lane(control, passed, st), None)
        } else {
            match without_lock(req, st) {
                Ok(reply) => (reply, None),
                Err(req) => answer(*req, st),
            }
        };
        let sent = match &fd {
            Some(c) => sock::send(sock, Kind::ConsumerReply, &reply, Some(c.as_fd())),
            None => sock::send(sock, Kind::ConsumerReply, &reply, None),
        };
        if let Err(e) = sent {
            log(&format!("cannot answer the session daemon: {e}"));
            break;
        }
        if quit {
            break;
        }
    }
}

/// Serves the socket passed with `OpenLane` on a thread of its own (once per control
/// socket request; a lane cannot open lanes).
fn open_lane(control: bool, passed: Option<std::os::fd::OwnedFd>, st: &Shared) -> ConsumerReply {
    let Some(fd) = passed.filter(|_| control) else {
        return ConsumerReply::Error {
            message: "OpenLane needs a socket, on the control socket".into(),
        };
    };
    let (lane, st) = (UnixStream::from(fd), st.clone());
    std::thread::spawn(move || serve(&lane, &st, false));
    ConsumerReply::Ok
}

/// Requests that may wait for the disk or the network, answered without holding the
/// tables (requests on the other socket go on meanwhile); any other is handed back.
fn without_lock(req: ConsumerRequest, st: &Shared) -> Result<ConsumerReply, Box<ConsumerRequest>> {
    let unknown = |id: u64| ConsumerReply::Error {
        message: format!("no buffer {id}"),
    };
    let no_relay = |id: u64| ConsumerReply::Error {
        message: format!("no relay session {id}"),
    };
    let buffer = |id: u64| {
        lock(st)
            .buffers
            .get(&id)
            .map(|h| (h.tx.clone(), h.producer.clone(), h.cpus))
    };
    Ok(match req {
        ConsumerRequest::Flush { buffer_id } => match buffer(buffer_id) {
            Some((tx, producer, _)) => {
                // Metadata that waited for the disk goes first.
                if let Err(e) = metadata::retry_pending() {
                    log(&e);
                }
                // The buffer's thread closes the open packets (`flush_all`): every
                // consumer-side operation on a ring buffer runs on its thread, so a flush
                // never runs beside a recovery (requests now arrive on two sockets).
                ask(&tx, &producer, Cmd::Flush)
            }
            None => unknown(buffer_id),
        },
        ConsumerRequest::Recover { buffer_id } => match buffer(buffer_id) {
            Some((tx, producer, _)) => ask(&tx, &producer, Cmd::Recover),
            None => unknown(buffer_id),
        },
        ConsumerRequest::Stats { buffer_id } => match buffer(buffer_id) {
            Some((tx, producer, _)) => ask(&tx, &producer, Cmd::Stats),
            None => unknown(buffer_id),
        },
        ConsumerRequest::Snapshot {
            buffer_id,
            trace_dir,
            max_packets,
            relay_id,
        } => {
            let target = if relay_id == 0 {
                stream::SnapshotTarget::Dir(std::path::PathBuf::from(trace_dir))
            } else {
                match lock(st).relays.get(&relay_id) {
                    Some(r) => stream::SnapshotTarget::Relay(r.clone(), trace_dir),
                    None => return Ok(no_relay(relay_id)),
                }
            };
            match buffer(buffer_id) {
                Some((tx, producer, _)) => {
                    ask(&tx, &producer, |tx| Cmd::Snapshot(target, max_packets, tx))
                }
                None => unknown(buffer_id),
            }
        }
        ConsumerRequest::RemoveBuffer { buffer_id } => {
            let removed = lock(st).buffers.remove(&buffer_id);
            match removed {
                // Its thread closes the open packets before writing them out.
                Some(h) => finish(h),
                None => unknown(buffer_id),
            }
        }
        ConsumerRequest::RelayDataPending { relay_id } => {
            let relay = lock(st).relays.get(&relay_id).cloned();
            match relay {
                Some(r) => match r.wait_data() {
                    Ok(pending) => ConsumerReply::RelayPending { pending },
                    Err(message) => ConsumerReply::Error { message },
                },
                None => no_relay(relay_id),
            }
        }
        ConsumerRequest::CloseRelay { relay_id } => {
            let relay = lock(st).relays.remove(&relay_id);
            match relay {
                Some(r) => ConsumerReply::RelayClosed {
                    packets_lost: r.close(),
                },
                None => no_relay(relay_id),
            }
        }
        other => return Err(Box::new(other)),
    })
}

/// Removes a buffer after writing out what it holds; returns its final statistics.
fn finish(h: Handle) -> ConsumerReply {
    let (tx, rx) = mpsc::channel();
    let mut reply = ConsumerReply::Error {
        message: "buffer thread is gone".into(),
    };
    if h.tx.send(Cmd::Remove(tx)).is_ok() {
        h.producer.wake_consumer();
        if let Ok(r) = rx.recv() {
            reply = r;
        }
    }
    let _ = h.thread.join();
    reply
}

fn ask(
    to: &mpsc::Sender<Cmd>,
    producer: &rttng_ringbuf::Producer,
    make: impl FnOnce(mpsc::Sender<ConsumerReply>) -> Cmd,
) -> ConsumerReply {
    let (tx, rx) = mpsc::channel();
    if to.send(make(tx)).is_err() {
        return ConsumerReply::Error {
            message: "buffer thread is gone".into(),
        };
    }
    // The thread may sleep on the buffer's futex: have it look at its commands now, so
    // that a request (`list`'s statistics) never waits for its periodic wake-up.
    producer.wake_consumer();
    rx.recv().unwrap_or(ConsumerReply::Error {
        message: "buffer thread is gone".into(),
    })
}

/// Answers a request that is not [`without_lock`]'s, holding the tables only to look up,
/// add or remove (files are created, metadata written and relays reached without them).
fn answer(req: ConsumerRequest, st: &Shared) -> (ConsumerReply, Option<std::os::fd::OwnedFd>) {
    let no_relay = |id: u64| ConsumerReply::Error {
        message: format!("no relay session {id}"),
    };
    let relay = |id: u64| lock(st).relays.get(&id).cloned();
    let done = |r: Result<(), String>| {
        r.map_or_else(
            |message| ConsumerReply::Error { message },
            |()| ConsumerReply::Ok,
        )
    };
    match req {
        ConsumerRequest::AddBuffer { spec } => add_buffer(spec, None, false, st),
        ConsumerRequest::AddSnapshotBuffer { spec } => add_buffer(spec, None, true, st),
        ConsumerRequest::SnapshotMetadata {
            trace_dir,
            uuid,
            text,
        } => (
            done(metadata::write_whole(
                &trace_dir,
                uuid,
                &text,
                METADATA_PACKET_BYTES,
            )),
            None,
        ),
        ConsumerRequest::AddRelayBuffer { relay_id, spec } => match relay(relay_id) {
            Some(r) => add_buffer(spec, Some(r), false, st),
            None => (no_relay(relay_id), None),
        },
        ConsumerRequest::OpenRelay { relay } => {
            if lock(st).relays.contains_key(&relay.relay_id) {
                return (
                    ConsumerReply::Error {
                        message: format!("relay session {} exists", relay.relay_id),
                    },
                    None,
                );
            }
            match relay::RelaySession::open(&relay) {
                Ok(r) => {
                    let reply = ConsumerReply::RelayOpened {
                        relay_session_id: r.relay_session_id,
                        output_path: r.output_path.clone(),
                    };
                    lock(st).relays.insert(relay.relay_id, Arc::new(r));
                    (reply, None)
                }
                Err(message) => (ConsumerReply::Error { message }, None),
            }
        }
        ConsumerRequest::AppendRelayMetadata {
            relay_id,
            trace_dir,
            uuid,
            text,
        } => match relay(relay_id) {
            Some(r) => {
                metadata::keep(&trace_dir, &text);
                let bytes = rttng_ctf::emit::packetize_metadata(
                    &text,
                    uuid,
                    rttng_ctf::ir::ByteOrder::NATIVE,
                    METADATA_PACKET_BYTES,
                );
                (done(r.append_metadata(&trace_dir, &bytes)), None)
            }
            None => (no_relay(relay_id), None),
        },
        ConsumerRequest::RelayStatus { relay_id } => match relay(relay_id) {
            Some(r) => {
                let (failure, packets_lost) = r.status();
                (
                    ConsumerReply::RelayStatus {
                        failure: failure.unwrap_or_default(),
                        packets_lost,
                    },
                    None,
                )
            }
            None => (no_relay(relay_id), None),
        },
        ConsumerRequest::AppendMetadata {
            trace_dir,
            uuid,
            text,
        } => (done(metadata::append(&trace_dir, uuid, &text)), None),
        ConsumerRequest::Quit => (ConsumerReply::Ok, None),
        // Answered without the tables held (`without_lock`, `open_lane`).
        ConsumerRequest::Flush { .. }
        | ConsumerRequest::Recover { .. }
        | ConsumerRequest::Stats { .. }
        | ConsumerRequest::Snapshot { .. }
        | ConsumerRequest::RemoveBuffer { .. }
        | ConsumerRequest::RelayDataPending { .. }
        | ConsumerRequest::CloseRelay { .. }
        | ConsumerRequest::OpenLane => (
            ConsumerReply::Error {
                message: "internal: request answered elsewhere".into(),
            },
            None,
        ),
        ConsumerRequest::AddKernelChannel { spec } => {
            let relay = match spec.relay_id {
                0 => None,
                id => match relay(id) {
                    Some(r) => Some(r),
                    None => return (no_relay(id), None),
                },
            };
            (kernel(st).add_channel(spec, relay), None)
        }
        ConsumerRequest::KernelEvents {
            session_key,
            channel,
            events,
            contexts,
        } => (
            kernel(st).events(session_key, &channel, &events, &contexts),
            None,
        ),
        ConsumerRequest::KernelStart { session_key } => (kernel(st).start(session_key), None),
        ConsumerRequest::KernelFlush { session_key } => (kernel(st).flush(session_key), None),
        ConsumerRequest::KernelStats { session_key } => (kernel(st).stats(session_key), None),
        ConsumerRequest::KernelTrackers {
            session_key,
            trackers,
        } => (kernel(st).trackers(session_key, &trackers), None),
        ConsumerRequest::RemoveKernel { session_key } => (kernel(st).remove(session_key), None),
        ConsumerRequest::KernelSnapshot {
            session_key,
            trace_dir,
            max_packets,
            relay_id,
        } => {
            let relay = match relay_id {
                0 => None,
                id => match relay(id) {
                    Some(r) => Some(r),
                    None => return (no_relay(id), None),
                },
            };
            (
                kernel(st).snapshot(session_key, &trace_dir, max_packets, relay),
                None,
            )
        }
        ConsumerRequest::SetOwner {
            output,
            uid,
            gid,
            groups,
            umask,
        } => {
            let creds = rttng_runas::Creds {
                uid,
                gid,
                groups,
                umask,
            };
            (done(files::set_owner(&output, creds)), None)
        }
        ConsumerRequest::ForgetOwner { output } => {
            files::forget_owner(&output);
            (ConsumerReply::Ok, None)
        }
    }
}

/// Creates a buffer (its shared memory, its writer thread) writing to files or a relay.
/// The buffer's files (or relay streams) are set up without the tables held.
fn add_buffer(
    spec: rttng_proto::BufferSpec,
    relay: Option<Arc<relay::RelaySession>>,
    snapshot_only: bool,
    st: &Shared,
) -> (ConsumerReply, Option<std::os::fd::OwnedFd>) {
    if lock(st).buffers.contains_key(&spec.buffer_id) {
        return (
            ConsumerReply::Error {
                message: format!("buffer {} exists", spec.buffer_id),
            },
            None,
        );
    }
    match BufferWorker::new(&spec, relay, snapshot_only) {
        Ok((worker, fd, producer)) => {
            let (tx, rx) = mpsc::channel();
            let cpus = spec.cpu_count;
            let thread = std::thread::spawn(move || worker.run(rx));
            lock(st).buffers.insert(
                spec.buffer_id,
                Handle {
                    tx,
                    producer: Arc::new(producer),
                    cpus,
                    thread,
                },
            );
            (ConsumerReply::Ok, Some(fd))
        }
        Err(e) => (ConsumerReply::Error { message: e }, None),
    }
}
