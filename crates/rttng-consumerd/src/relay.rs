//! The consumer's network output: one relay session on a relay daemon (`rttng-relayd` or
//! LTTng 2.13's `lttng-relayd`), spoken with `rttng_relay_proto`'s encoders as lttng-consumerd
//! speaks it. The control connection carries the session setup, ADD_STREAM, SEND_INDEX after
//! each packet, SEND_METADATA, data pending and the closing; the data connection carries the
//! packets, written straight from the ring buffer's shared memory to the socket.
//!
//! Several buffer threads share one relay session: each connection is behind its own lock,
//! held for one request and its reply (or one packet). SEND_INDEX replies are read late, so
//! the packet path does not wait for a round trip per packet. Every socket operation has a timeout,
//! so a relay that stops reading fails the session instead of hanging the consumer. After a
//! failure the session is *broken*: nothing more is sent, and every packet that would have
//! been is counted lost (reported by `CloseRelay`); the apps never notice. Not here: files,
//! the ring buffer itself, deciding what a session streams.

use rttng_relay_proto::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Bound on connecting to the relay.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on any one send or reply; beyond it the relay is considered gone.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `wait_data` asks the relay before giving up (what is still pending then is
/// reported, not waited for).
const DATA_PENDING_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two data-pending rounds: the relay is reading what is in flight.
const DATA_PENDING_POLL: Duration = Duration::from_millis(2);
/// SEND_INDEX replies a buffer thread may leave unread: the index after each packet does not
/// wait for the relay's round trip (the relay answers in order; any request that needs its
/// own reply reads these first, and a non-OK one fails the session).
const MAX_UNREAD_INDEX_REPLIES: u32 = 64;
/// Metadata is sent in messages of at most this size (a whole number of metadata packets).
/// One append goes in one message when it fits: the relay shows live viewers whole messages
/// only, and babeltrace2's live client keeps the first metadata it decodes as the trace's
/// class (a part of an append, such as a trace header without its stream class, or a packet
/// cut within a block, makes it fail).
const METADATA_MESSAGE_BYTES: usize = 256 * 4096;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the relay knows of one stream, for data pending and closing.
#[derive(Debug, Clone, Copy)]
struct StreamState {
    is_metadata: bool,
    /// The last `net_seq_num` sent, if any.
    last_net_seq: Option<u64>,
    closed: bool,
}

/// The control connection and the SEND_INDEX replies not read yet.
struct Ctl {
    sock: TcpStream,
    unread_index_replies: u32,
}

impl Ctl {
    /// Reads the pending SEND_INDEX replies; each must be OK.
    fn drain(&mut self) -> Result<(), String> {
        while self.unread_index_replies > 0 {
            match read_u32(&mut self.sock, Command::SendIndex)? {
                ret::OK => self.unread_index_replies -= 1,
                code => return Err(format!("relay refused SendIndex (code {code})")),
            }
        }
        Ok(())
    }
}

/// One relay session and its two connections.
pub struct RelaySession {
    ctl: Mutex<Ctl>,
    data: Mutex<TcpStream>,
    pub relay_session_id: u64,
    pub output_path: String,
    broken: AtomicBool,
    /// Why the session broke.
    failure: Mutex<Option<String>>,
    /// Packets not sent because the session broke.
    lost_packets: AtomicU64,
    streams: Mutex<BTreeMap<u64, StreamState>>,
    /// Metadata stream handle of each trace path.
    metadata: Mutex<BTreeMap<String, u64>>,
    /// A live session: quiet streams get beacons.
    pub live: bool,
}

fn connect(host: &str, port: u32) -> Result<TcpStream, String> {
    let port = u16::try_from(port).map_err(|_| format!("bad port {port}"))?;
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve relay host {host}: {e}"))?
        .collect();
    let mut last = format!("relay host {host} has no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                s.set_read_timeout(Some(IO_TIMEOUT))
                    .and_then(|()| s.set_write_timeout(Some(IO_TIMEOUT)))
                    .map_err(|e| format!("cannot set socket timeouts: {e}"))?;
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to relay {a}: {e}"),
        }
    }
    Err(last)
}

fn request(ctl: &mut TcpStream, cmd: Command, payload: &[u8]) -> Result<(), String> {
    ctl.write_all(&encode_request(cmd, payload))
        .map_err(|e| format!("relay: cannot send {cmd:?}: {e}"))
}

fn read_n(ctl: &mut TcpStream, n: usize, what: Command) -> Result<Vec<u8>, String> {
    let mut b = vec![0u8; n];
    ctl.read_exact(&mut b)
        .map_err(|e| format!("relay: no reply to {what:?}: {e}"))?;
    Ok(b)
}

fn read_u32(ctl: &mut TcpStream, what: Command) -> Result<u32, String> {
    let b = read_n(ctl, GENERIC_REPLY_BYTES, what)?;
    Ok(u32::from_be_bytes(b.try_into().expect("4 bytes")))
}

/// A request whose generic reply must be OK.
fn generic(ctl: &mut TcpStream, cmd: Command, payload: &[u8]) -> Result<(), String> {
    request(ctl, cmd, payload)?;
    match read_u32(ctl, cmd)? {
        ret::OK => Ok(()),
        code => Err(format!("relay refused {cmd:?} (code {code})")),
    }
}

impl RelaySession {
    /// Connects and sets the session up: VERSION, GET_CONFIGURATION, CREATE_SESSION, the data
    /// connection, CREATE_TRACE_CHUNK 0.
    pub fn open(spec: &rttng_proto::RelaySpec) -> Result<RelaySession, String> {
        let mut ctl = connect(&spec.host, spec.control_port)?;
        request(
            &mut ctl,
            Command::Version,
            &Version {
                major: VERSION_MAJOR,
                minor: VERSION_MINOR,
            }
            .encode(),
        )?;
        let v = Version::decode(&read_n(&mut ctl, VERSION_BYTES, Command::Version)?)
            .map_err(|e| format!("relay: {e}"))?;
        if v.major != VERSION_MAJOR || v.minor.min(VERSION_MINOR) < 12 {
            return Err(format!(
                "relay speaks protocol {}.{}; rttng needs 2.12 or later",
                v.major, v.minor
            ));
        }
        request(&mut ctl, Command::GetConfiguration, &U64Arg(0).encode())?;
        let c = ConfigurationReply::decode(&read_n(
            &mut ctl,
            CONFIGURATION_REPLY_BYTES,
            Command::GetConfiguration,
        )?)
        .map_err(|e| format!("relay: {e}"))?;
        if c.ret_code != ret::OK {
            return Err(format!(
                "relay refused GET_CONFIGURATION (code {})",
                c.ret_code
            ));
        }
        let create = CreateSession {
            session_name: spec.session_name.clone(),
            hostname: spec.hostname.clone(),
            base_path: spec.base_path.clone(),
            live_timer_us: u32::try_from(spec.live_timer_us)
                .map_err(|_| format!("live timer of {} µs", spec.live_timer_us))?,
            snapshot: false,
            name_contains_creation_time: false,
            sessiond_uuid: spec.sessiond_uuid,
            sessiond_session_id: spec.session_id,
            creation_time_s: spec.creation_time_s,
            current_chunk_id: None,
        };
        request(&mut ctl, Command::CreateSession, &create.encode())?;
        let fixed = read_n(
            &mut ctl,
            CREATE_SESSION_REPLY_FIXED_BYTES,
            Command::CreateSession,
        )?;
        let (relay_session_id, code, path_len) =
            CreateSessionReply::decode_fixed(&fixed).map_err(|e| format!("relay: {e}"))?;
        let path = read_n(&mut ctl, path_len as usize, Command::CreateSession)?;
        if code != ret::OK {
            return Err(format!(
                "relay refused session {:?} of host {:?} (code {code}); see the relay's log",
                spec.session_name, spec.hostname
            ));
        }
        let output_path =
            String::from_utf8_lossy(path.strip_suffix(&[0]).unwrap_or(&path)).into_owned();
        let data = connect(&spec.host, spec.data_port)?;
        generic(
            &mut ctl,
            Command::CreateTraceChunk,
            &CreateTraceChunk {
                chunk_id: 0,
                creation_timestamp_s: spec.creation_time_s,
                override_name: None,
            }
            .encode(),
        )?;
        Ok(RelaySession {
            ctl: Mutex::new(Ctl {
                sock: ctl,
                unread_index_replies: 0,
            }),
            data: Mutex::new(data),
            relay_session_id,
            output_path,
            broken: AtomicBool::new(false),
            failure: Mutex::new(None),
            lost_packets: AtomicU64::new(0),
            streams: Mutex::new(BTreeMap::new()),
            metadata: Mutex::new(BTreeMap::new()),
            live: spec.live_timer_us > 0,
        })
    }

    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// Marks the session broken after `err`, shuts both connections, returns `err`.
    fn fail(&self, err: String) -> String {
        if !self.broken.swap(true, Ordering::Relaxed) {
            eprintln!("rttng-consumerd: {err}; streaming to this relay stops");
            *lock(&self.failure) = Some(err.clone());
            let _ = lock(&self.data).shutdown(std::net::Shutdown::Both);
            let _ = lock(&self.ctl).sock.shutdown(std::net::Shutdown::Both);
        }
        err
    }

    /// Runs `f` on the control connection unless the session is broken.
    fn with_ctl<T>(
        &self,
        f: impl FnOnce(&mut TcpStream) -> Result<T, String>,
    ) -> Result<T, String> {
        if self.is_broken() {
            return Err("the relay connection failed earlier".into());
        }
        let r = {
            let mut ctl = lock(&self.ctl);
            ctl.drain().and_then(|()| f(&mut ctl.sock))
        };
        r.map_err(|e| self.fail(e))
    }

    /// ADD_STREAM: the relay creates `path/file_name` (with `_N` suffixes when
    /// `tracefile_size_bytes > 0`). Returns the stream handle.
    pub fn add_stream(
        &self,
        file_name: &str,
        path: &str,
        tracefile_size_bytes: u64,
        tracefile_count: u64,
    ) -> Result<u64, String> {
        let msg = AddStream {
            channel_name: file_name.into(),
            pathname: path.into(),
            tracefile_size_bytes,
            tracefile_count,
            trace_chunk_id: 0,
        };
        let handle = self.with_ctl(|ctl| {
            request(ctl, Command::AddStream, &msg.encode())?;
            let r =
                AddStreamReply::decode(&read_n(ctl, ADD_STREAM_REPLY_BYTES, Command::AddStream)?)
                    .map_err(|e| format!("relay: {e}"))?;
            if r.ret_code != ret::OK {
                return Err(format!(
                    "relay refused stream {path}/{file_name} (code {})",
                    r.ret_code
                ));
            }
            Ok(r.handle)
        })?;
        lock(&self.streams).insert(
            handle,
            StreamState {
                is_metadata: file_name == "metadata",
                last_net_seq: None,
                closed: false,
            },
        );
        Ok(handle)
    }

    /// STREAMS_SENT: the streams added so far are complete (what live viewers wait for).
    pub fn streams_sent(&self) -> Result<(), String> {
        self.with_ctl(|ctl| generic(ctl, Command::StreamsSent, &[]))
    }

    /// A live beacon: stream `handle` (of stream class `stream_class_id`, instance
    /// `stream_instance_id`) has no event before `timestamp_end` beyond what it sent, so live
    /// viewers need not wait for it (SEND_INDEX without a packet).
    pub fn send_beacon(
        &self,
        handle: u64,
        stream_class_id: u64,
        stream_instance_id: u64,
        timestamp_end: u64,
    ) -> Result<(), String> {
        if self.is_broken() {
            return Ok(());
        }
        let index = SendIndex {
            relay_stream_id: handle,
            net_seq_num: NO_SEQ,
            packet_size_bits: 0,
            content_size_bits: 0,
            timestamp_begin: 0,
            timestamp_end,
            events_discarded: 0,
            stream_class_id,
            stream_instance_id,
            packet_seq_num: 0,
        };
        self.with_ctl(|ctl| generic(ctl, Command::SendIndex, &index.encode()))
    }

    /// Sends one packet of `len` bytes (written to the socket by `write`) and its index. A
    /// broken session counts it lost instead.
    pub fn send_packet(
        &self,
        handle: u64,
        net_seq: u64,
        len: usize,
        write: impl FnOnce(BorrowedFd<'_>) -> std::io::Result<()>,
        index: &SendIndex,
    ) -> Result<(), String> {
        if self.is_broken() {
            self.lost_packets.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let header = DataHeader {
            stream_id: handle,
            net_seq_num: net_seq,
            data_size: u32::try_from(len).map_err(|_| format!("packet of {len} bytes"))?,
            padding_size: 0,
        };
        let sent = {
            let mut data = lock(&self.data);
            data.write_all(&header.encode())
                .and_then(|()| write(data.as_fd()))
                .map_err(|e| format!("relay: cannot send a packet: {e}"))
        };
        if let Err(e) = sent {
            self.lost_packets.fetch_add(1, Ordering::Relaxed);
            return Err(self.fail(e));
        }
        if let Some(s) = lock(&self.streams).get_mut(&handle) {
            s.last_net_seq = Some(net_seq);
        }
        // Pipelined: the reply is read later (at the latest after
        // MAX_UNREAD_INDEX_REPLIES more, or by the next request that waits for its own).
        let r = {
            let mut ctl = lock(&self.ctl);
            let drained = if ctl.unread_index_replies >= MAX_UNREAD_INDEX_REPLIES {
                ctl.drain()
            } else {
                Ok(())
            };
            drained.and_then(|()| {
                request(&mut ctl.sock, Command::SendIndex, &index.encode())?;
                ctl.unread_index_replies += 1;
                Ok(())
            })
        };
        r.map_err(|e| self.fail(e))
    }

    /// Appends packetized metadata (whole 4 KiB packets) to the metadata stream of trace
    /// `path`, creating that stream first.
    pub fn append_metadata(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        let existing = lock(&self.metadata).get(path).copied();
        let handle = match existing {
            Some(h) => h,
            None => {
                let h = self.add_stream("metadata", path, 0, 0)?;
                self.streams_sent()?;
                lock(&self.metadata).insert(path.to_string(), h);
                h
            }
        };
        self.with_ctl(|ctl| {
            for chunk in bytes.chunks(METADATA_MESSAGE_BYTES) {
                let mut p = MetadataHeader {
                    stream_id: handle,
                    padding_size: 0,
                }
                .encode()
                .to_vec();
                p.extend_from_slice(chunk);
                request(ctl, Command::SendMetadata, &p)?;
            }
            Ok(())
        })
    }

    /// Why the session broke (if it did), and the packets lost since.
    pub fn status(&self) -> (Option<String>, u64) {
        (
            lock(&self.failure).clone(),
            self.lost_packets.load(Ordering::Relaxed),
        )
    }

    /// lttng's data pending: whether the relay still lacks data or indexes sent so far. A
    /// broken session answers with its failure and the packets lost since.
    pub fn data_pending(&self) -> Result<bool, String> {
        if self.is_broken() {
            let (why, lost) = self.status();
            return Err(format!(
                "{}; {lost} packets lost since",
                why.unwrap_or_else(|| "the relay connection failed".into())
            ));
        }
        let streams: Vec<(u64, StreamState)> =
            lock(&self.streams).iter().map(|(h, s)| (*h, *s)).collect();
        let id = self.relay_session_id;
        self.with_ctl(|ctl| {
            generic(ctl, Command::BeginDataPending, &U64Arg(id).encode())?;
            let mut pending = false;
            for (h, s) in streams.iter().filter(|(_, s)| !s.closed) {
                if s.is_metadata {
                    generic(ctl, Command::QuiescentControl, &U64Arg(*h).encode())?;
                } else {
                    let q = StreamSeq {
                        stream_id: *h,
                        last_net_seq_num: s.last_net_seq.unwrap_or(NO_SEQ),
                    };
                    request(ctl, Command::DataPending, &q.encode())?;
                    match read_u32(ctl, Command::DataPending)? {
                        0 => {}
                        1 => pending = true,
                        code => return Err(format!("relay refused DataPending (code {code})")),
                    }
                }
            }
            request(ctl, Command::EndDataPending, &U64Arg(id).encode())?;
            match read_u32(ctl, Command::EndDataPending)? {
                0 => Ok(pending),
                1 => Ok(true),
                code => Err(format!("relay refused EndDataPending (code {code})")),
            }
        })
    }

    /// Asks data pending until nothing pends or [`DATA_PENDING_TIMEOUT`] passes; returns
    /// whether something still pends. Data pending is a question the relay answers about its
    /// sockets, so it is polled, as lttng-sessiond polls it.
    pub fn wait_data(&self) -> Result<bool, String> {
        let deadline = std::time::Instant::now() + DATA_PENDING_TIMEOUT;
        loop {
            if !self.data_pending()? {
                return Ok(false);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(true);
            }
            std::thread::sleep(DATA_PENDING_POLL);
        }
    }

    /// CLOSE_STREAM for `handles` (a buffer that goes away, e.g. an exited app's). Nothing
    /// to do once the session broke.
    pub fn close_streams(&self, handles: &[u64]) -> Result<(), String> {
        if self.is_broken() {
            return Ok(());
        }
        let todo: Vec<(u64, u64)> = {
            let mut streams = lock(&self.streams);
            handles
                .iter()
                .filter_map(|h| {
                    let s = streams.get_mut(h)?;
                    if s.closed {
                        return None;
                    }
                    s.closed = true;
                    Some((*h, s.last_net_seq.unwrap_or(NO_SEQ)))
                })
                .collect()
        };
        self.with_ctl(|ctl| {
            for (h, last) in todo {
                let q = StreamSeq {
                    stream_id: h,
                    last_net_seq_num: last,
                };
                generic(ctl, Command::CloseStream, &q.encode())?;
            }
            Ok(())
        })
    }

    /// Ends the session as lttng's destroy does: the chunk closes, then every stream, then
    /// both connections. Returns the packets lost since the session broke.
    pub fn close(&self) -> u64 {
        if !self.is_broken() {
            let r = self.with_ctl(|ctl| {
                request(
                    ctl,
                    Command::CloseTraceChunk,
                    &CloseTraceChunk {
                        chunk_id: 0,
                        close_timestamp_s: std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0),
                        close_command: None,
                    }
                    .encode(),
                )?;
                match read_u32(ctl, Command::CloseTraceChunk)? {
                    ret::OK => {
                        let len = read_u32(ctl, Command::CloseTraceChunk)?;
                        if len as usize > MAX_REPLY_PATH_BYTES {
                            return Err(format!("relay: chunk path of {len} bytes"));
                        }
                        read_n(ctl, len as usize, Command::CloseTraceChunk)?;
                        Ok(())
                    }
                    code => Err(format!("relay refused CloseTraceChunk (code {code})")),
                }
            });
            let all: Vec<u64> = lock(&self.streams).keys().copied().collect();
            if r.is_ok() {
                let _ = self.close_streams(&all);
            }
        }
        let _ = lock(&self.data).shutdown(std::net::Shutdown::Both);
        let _ = lock(&self.ctl).sock.shutdown(std::net::Shutdown::Both);
        self.lost_packets.load(Ordering::Relaxed)
    }
}
