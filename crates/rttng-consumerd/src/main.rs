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
use std::sync::{mpsc, Arc};
use stream::{BufferWorker, Cmd};

struct Handle {
    tx: mpsc::Sender<Cmd>,
    producer: rttng_ringbuf::Producer,
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
    let mut buffers: BTreeMap<u64, Handle> = BTreeMap::new();
    let mut relays: BTreeMap<u64, Arc<relay::RelaySession>> = BTreeMap::new();
    let mut kernel = kernel::Kernel::default();
    loop {
        let req = match sock::recv::<ConsumerRequest>(&sock, Kind::ConsumerRequest) {
            Ok((req, _)) => req,
            Err(RecvError::Closed) => break,
            Err(e) => {
                log(&format!("control socket: {e}; shutting down"));
                break;
            }
        };
        let quit = req == ConsumerRequest::Quit;
        let (reply, fd) = handle(req, &mut buffers, &mut relays, &mut kernel);
        let sent = match &fd {
            Some(c) => sock::send(&sock, Kind::ConsumerReply, &reply, Some(c.as_fd())),
            None => sock::send(&sock, Kind::ConsumerReply, &reply, None),
        };
        if let Err(e) = sent {
            log(&format!("cannot answer the session daemon: {e}"));
            break;
        }
        if quit {
            break;
        }
    }
    // Session daemon gone or asked us to quit: write out everything.
    for (_, h) in std::mem::take(&mut buffers) {
        finish(h);
    }
    kernel.remove_all();
    for (_, r) in relays {
        r.close();
    }
}

/// Removes a buffer after writing out what it holds; returns its final statistics.
fn finish(h: Handle) -> ConsumerReply {
    let (tx, rx) = mpsc::channel();
    let mut reply = ConsumerReply::Error {
        message: "buffer thread is gone".into(),
    };
    if h.tx.send(Cmd::Remove(tx)).is_ok() {
        if let Ok(r) = rx.recv() {
            reply = r;
        }
    }
    let _ = h.thread.join();
    reply
}

fn ask(h: &Handle, make: impl FnOnce(mpsc::Sender<ConsumerReply>) -> Cmd) -> ConsumerReply {
    let (tx, rx) = mpsc::channel();
    if h.tx.send(make(tx)).is_err() {
        return ConsumerReply::Error {
            message: "buffer thread is gone".into(),
        };
    }
    rx.recv().unwrap_or(ConsumerReply::Error {
        message: "buffer thread is gone".into(),
    })
}

fn handle(
    req: ConsumerRequest,
    buffers: &mut BTreeMap<u64, Handle>,
    relays: &mut BTreeMap<u64, Arc<relay::RelaySession>>,
    kernel: &mut kernel::Kernel,
) -> (ConsumerReply, Option<std::os::fd::OwnedFd>) {
    let unknown = |id: u64| ConsumerReply::Error {
        message: format!("no buffer {id}"),
    };
    let no_relay = |id: u64| ConsumerReply::Error {
        message: format!("no relay session {id}"),
    };
    match req {
        ConsumerRequest::AddBuffer { spec } => add_buffer(spec, None, false, buffers),
        ConsumerRequest::AddSnapshotBuffer { spec } => add_buffer(spec, None, true, buffers),
        ConsumerRequest::SnapshotMetadata {
            trace_dir,
            uuid,
            text,
        } => (
            metadata::write_whole(&trace_dir, uuid, &text, METADATA_PACKET_BYTES).map_or_else(
                |message| ConsumerReply::Error { message },
                |()| ConsumerReply::Ok,
            ),
            None,
        ),
        ConsumerRequest::Snapshot {
            buffer_id,
            trace_dir,
            max_packets,
            relay_id,
        } => {
            let target = if relay_id == 0 {
                stream::SnapshotTarget::Dir(std::path::PathBuf::from(trace_dir))
            } else {
                match relays.get(&relay_id) {
                    Some(r) => stream::SnapshotTarget::Relay(r.clone(), trace_dir),
                    None => return (no_relay(relay_id), None),
                }
            };
            match buffers.get(&buffer_id) {
                Some(h) => (ask(h, |tx| Cmd::Snapshot(target, max_packets, tx)), None),
                None => (unknown(buffer_id), None),
            }
        }
        ConsumerRequest::AddRelayBuffer { relay_id, spec } => match relays.get(&relay_id) {
            Some(r) => add_buffer(spec, Some(r.clone()), false, buffers),
            None => (no_relay(relay_id), None),
        },
        ConsumerRequest::OpenRelay { relay } => {
            if relays.contains_key(&relay.relay_id) {
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
                    relays.insert(relay.relay_id, Arc::new(r));
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
        } => match relays.get(&relay_id) {
            Some(r) => {
                let bytes = rttng_ctf::emit::packetize_metadata(
                    &text,
                    uuid,
                    rttng_ctf::ir::ByteOrder::NATIVE,
                    METADATA_PACKET_BYTES,
                );
                match r.append_metadata(&trace_dir, &bytes) {
                    Ok(()) => (ConsumerReply::Ok, None),
                    Err(message) => (ConsumerReply::Error { message }, None),
                }
            }
            None => (no_relay(relay_id), None),
        },
        ConsumerRequest::RelayDataPending { relay_id } => match relays.get(&relay_id) {
            Some(r) => match r.wait_data() {
                Ok(pending) => (ConsumerReply::RelayPending { pending }, None),
                Err(message) => (ConsumerReply::Error { message }, None),
            },
            None => (no_relay(relay_id), None),
        },
        ConsumerRequest::RelayStatus { relay_id } => match relays.get(&relay_id) {
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
        ConsumerRequest::CloseRelay { relay_id } => match relays.remove(&relay_id) {
            Some(r) => (
                ConsumerReply::RelayClosed {
                    packets_lost: r.close(),
                },
                None,
            ),
            None => (no_relay(relay_id), None),
        },
        ConsumerRequest::AppendMetadata {
            trace_dir,
            uuid,
            text,
        } => {
            let r = append_metadata(&trace_dir, uuid, &text);
            (
                r.map_or_else(
                    |message| ConsumerReply::Error { message },
                    |()| ConsumerReply::Ok,
                ),
                None,
            )
        }
        ConsumerRequest::Flush { buffer_id } => match buffers.get(&buffer_id) {
            Some(h) => {
                // Metadata that waited for the disk goes first.
                if let Err(e) = metadata::retry_pending() {
                    log(&e);
                }
                // Close the open packets from here: that also wakes the buffer's thread.
                for cpu in 0..h.cpus {
                    let _ = h.producer.flush(cpu, false, rttng_clock::now);
                }
                (ask(h, Cmd::Flush), None)
            }
            None => (unknown(buffer_id), None),
        },
        ConsumerRequest::Recover { buffer_id } => match buffers.get(&buffer_id) {
            Some(h) => (ask(h, Cmd::Recover), None),
            None => (unknown(buffer_id), None),
        },
        ConsumerRequest::Stats { buffer_id } => match buffers.get(&buffer_id) {
            Some(h) => (ask(h, Cmd::Stats), None),
            None => (unknown(buffer_id), None),
        },
        ConsumerRequest::RemoveBuffer { buffer_id } => match buffers.remove(&buffer_id) {
            Some(h) => {
                for cpu in 0..h.cpus {
                    let _ = h.producer.flush(cpu, false, rttng_clock::now);
                }
                (finish(h), None)
            }
            None => (unknown(buffer_id), None),
        },
        ConsumerRequest::Quit => (ConsumerReply::Ok, None),
        ConsumerRequest::AddKernelChannel { spec } => {
            let relay = match spec.relay_id {
                0 => None,
                id => match relays.get(&id) {
                    Some(r) => Some(r.clone()),
                    None => return (no_relay(id), None),
                },
            };
            (kernel.add_channel(spec, relay), None)
        }
        ConsumerRequest::KernelEvents {
            session_key,
            channel,
            events,
            contexts,
        } => (
            kernel.events(session_key, &channel, &events, &contexts),
            None,
        ),
        ConsumerRequest::KernelStart { session_key } => (kernel.start(session_key), None),
        ConsumerRequest::KernelFlush { session_key } => (kernel.flush(session_key), None),
        ConsumerRequest::KernelStats { session_key } => (kernel.stats(session_key), None),
        ConsumerRequest::RemoveKernel { session_key } => (kernel.remove(session_key), None),
        ConsumerRequest::KernelSnapshot {
            session_key,
            trace_dir,
            max_packets,
            relay_id,
        } => {
            let relay = match relay_id {
                0 => None,
                id => match relays.get(&id) {
                    Some(r) => Some(r.clone()),
                    None => return (no_relay(id), None),
                },
            };
            (
                kernel.snapshot(session_key, &trace_dir, max_packets, relay),
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
            match files::set_owner(&output, creds) {
                Ok(()) => (ConsumerReply::Ok, None),
                Err(message) => (ConsumerReply::Error { message }, None),
            }
        }
    }
}

/// Creates a buffer (its shared memory, its writer thread) writing to files or a relay.
fn add_buffer(
    spec: rttng_proto::BufferSpec,
    relay: Option<Arc<relay::RelaySession>>,
    snapshot_only: bool,
    buffers: &mut BTreeMap<u64, Handle>,
) -> (ConsumerReply, Option<std::os::fd::OwnedFd>) {
    if buffers.contains_key(&spec.buffer_id) {
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
            buffers.insert(
                spec.buffer_id,
                Handle {
                    tx,
                    producer,
                    cpus,
                    thread,
                },
            );
            (ConsumerReply::Ok, Some(fd))
        }
        Err(e) => (ConsumerReply::Error { message: e }, None),
    }
}

fn append_metadata(trace_dir: &str, uuid: [u8; 16], text: &str) -> Result<(), String> {
    metadata::append(trace_dir, uuid, text)
}
