//! One control connection (port 5342): reads each request's header and bounded payload,
//! decodes it with `rttng_relay_proto`, applies it to the relay's state and replies, following
//! lttng-relayd 2.13's rules (which commands need VERSION and a session, which errors close
//! the connection). A request that does not decode, names that are not path-safe, an unknown
//! command or an absurd length are refused with a log line, and the connection ends; the relay
//! keeps serving everyone else. Streams and sessions can only be touched through the
//! connection that created them.

use crate::net::{self, Fill};
use crate::state::{Relay, Session, SessionSpec, Stream};
use crate::{log_debug, log_error, log_info};
use anyhow::{anyhow, bail, Context, Result};
use rttng_relay_proto::names::{check_component, check_relative_path};
use rttng_relay_proto::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

/// What to do after a request.
enum Step {
    Reply(Vec<u8>),
    NoReply,
    /// Reply, then end the connection (lttng-relayd's error handling); the reason is logged.
    ReplyAndClose(Vec<u8>, String),
}

struct Control {
    relay: Arc<Relay>,
    peer: SocketAddr,
    /// The negotiated minor version, once VERSION was received.
    minor: Option<u32>,
    session: Option<Arc<Session>>,
    buf: Vec<u8>,
}

/// Serves one control connection until it ends.
pub fn serve(relay: Arc<Relay>, mut sock: TcpStream, peer: SocketAddr) {
    log_info!("control connection from {peer}");
    let mut c = Control {
        relay: relay.clone(),
        peer,
        minor: None,
        session: None,
        buf: vec![0; net::COPY_BUFFER_BYTES],
    };
    match c.run(&mut sock) {
        Ok(()) => log_info!("control connection from {peer} closed"),
        Err(e) => log_error!("control connection from {peer}: {e:#}; closing it"),
    }
    if let Some(s) = c.session.take() {
        relay.control_gone(&s);
    }
}

fn generic(code: u32) -> Vec<u8> {
    encode_u32_reply(code).to_vec()
}

impl Control {
    fn run(&mut self, sock: &mut TcpStream) -> Result<()> {
        loop {
            let mut hb = [0u8; CONTROL_HEADER_BYTES];
            match net::fill(sock, &mut hb).context("cannot read a request header")? {
                Fill::Full => {}
                Fill::Eof => return Ok(()),
                Fill::Truncated { got } => {
                    bail!("truncated request header ({got} of {CONTROL_HEADER_BYTES} bytes)")
                }
            }
            let header = match ControlHeader::decode(&hb) {
                Ok(h) => h,
                Err(e @ HeaderError::UnknownCommand { .. }) => {
                    let _ = sock.write_all(&generic(ret::ERR_UNK));
                    bail!("refused request: {e}");
                }
                Err(e) => bail!("refused request: {e}"),
            };
            log_debug!(
                "{}: {:?} ({} bytes)",
                self.peer,
                header.command,
                header.data_size
            );
            let step = if header.command == Command::SendMetadata {
                self.send_metadata(sock, header.data_size)?
            } else {
                let mut payload = vec![0u8; header.data_size as usize];
                match net::fill(sock, &mut payload).context("cannot read a request payload")? {
                    Fill::Full => {}
                    Fill::Eof | Fill::Truncated { .. } if payload.is_empty() => {}
                    Fill::Eof => bail!("{:?}: peer closed before its payload", header.command),
                    Fill::Truncated { got } => bail!(
                        "{:?}: truncated payload ({got} of {} bytes)",
                        header.command,
                        header.data_size
                    ),
                }
                self.dispatch(header.command, &payload)?
            };
            match step {
                Step::NoReply => {}
                Step::Reply(r) => sock.write_all(&r).context("cannot send a reply")?,
                Step::ReplyAndClose(r, why) => {
                    let _ = sock.write_all(&r);
                    bail!("{why}");
                }
            }
        }
    }

    /// The connection's session and negotiated version, which every command but VERSION,
    /// GET_CONFIGURATION and CREATE_SESSION needs; without them lttng-relayd closes silently.
    fn need_session(&self, command: Command) -> Result<Arc<Session>> {
        if self.minor.is_none() {
            bail!("{command:?} before VERSION");
        }
        self.session
            .clone()
            .ok_or_else(|| anyhow!("{command:?} before CREATE_SESSION"))
    }

    /// A stream of this connection's session.
    fn own_stream(&self, session: &Session, handle: u64) -> Option<Arc<Stream>> {
        self.relay
            .stream(handle)
            .filter(|s| s.session.id == session.id)
    }

    fn dispatch(&mut self, command: Command, p: &[u8]) -> Result<Step> {
        use Command::*;
        Ok(match command {
            Version => {
                let v = rttng_relay_proto::Version::decode(p)?;
                let reply = rttng_relay_proto::Version {
                    major: VERSION_MAJOR,
                    minor: VERSION_MINOR,
                }
                .encode();
                if v.major != VERSION_MAJOR {
                    return Ok(Step::ReplyAndClose(
                        reply,
                        format!(
                            "refused peer: protocol {}.{} (major {VERSION_MAJOR} needed)",
                            v.major, v.minor
                        ),
                    ));
                }
                let minor = v.minor.min(VERSION_MINOR);
                if minor < MIN_MINOR {
                    return Ok(Step::ReplyAndClose(
                        reply,
                        format!("refused peer: protocol 2.{minor}; rttng-relayd speaks 2.{MIN_MINOR} and later"),
                    ));
                }
                self.minor = Some(minor);
                Step::Reply(reply)
            }
            GetConfiguration => {
                let flags = U64Arg::decode(p, "GET_CONFIGURATION")?.0;
                // `lttng clear` (deleting a chunk) is not implemented, so it is not offered.
                let ret_code = if flags == 0 {
                    ret::OK
                } else {
                    ret::ERR_INVALID_PROTOCOL
                };
                Step::Reply(ConfigurationReply { ret_code, flags: 0 }.encode())
            }
            CreateSession => self.create_session(p)?,
            AddStream => self.add_stream(p)?,
            StreamsSent => {
                self.need_session(command)?.publish_streams();
                Step::Reply(generic(ret::OK))
            }
            StartData => {
                self.need_session(command)?;
                Step::Reply(generic(ret::OK))
            }
            SendIndex => {
                let s = self.need_session(command)?;
                let idx = rttng_relay_proto::SendIndex::decode(p)?;
                match self.own_stream(&s, idx.relay_stream_id) {
                    None => Step::ReplyAndClose(
                        generic(ret::ERR_UNK),
                        format!("SEND_INDEX for unknown stream {}", idx.relay_stream_id),
                    ),
                    Some(st) => match st.add_index(&idx) {
                        Ok(()) => Step::Reply(generic(ret::OK)),
                        Err(e) => Step::ReplyAndClose(generic(ret::ERR_UNK), format!("{e:#}")),
                    },
                }
            }
            DataPending => {
                let s = self.need_session(command)?;
                let q = StreamSeq::decode(p, "DATA_PENDING")?;
                match self.own_stream(&s, q.stream_id) {
                    None => Step::ReplyAndClose(
                        generic(u32::MAX),
                        format!("DATA_PENDING for unknown stream {}", q.stream_id),
                    ),
                    Some(st) => Step::Reply(generic(st.data_pending(q.last_net_seq_num) as u32)),
                }
            }
            QuiescentControl => {
                let s = self.need_session(command)?;
                let id = U64Arg::decode(p, "QUIESCENT_CONTROL")?.0;
                if let Some(st) = self.own_stream(&s, id) {
                    st.mark_checked();
                }
                Step::Reply(generic(ret::OK))
            }
            BeginDataPending | EndDataPending => {
                let s = self.need_session(command)?;
                let id = U64Arg::decode(p, "BEGIN/END_DATA_PENDING")?.0;
                if id != s.id {
                    return Ok(Step::ReplyAndClose(
                        generic(ret::ERR_UNK),
                        format!(
                            "{command:?} for session {id}, not this connection's {}",
                            s.id
                        ),
                    ));
                }
                if command == BeginDataPending {
                    s.begin_data_pending();
                    Step::Reply(generic(ret::OK))
                } else {
                    Step::Reply(generic(s.end_data_pending() as u32))
                }
            }
            CloseStream => {
                let s = self.need_session(command)?;
                let q = StreamSeq::decode(p, "CLOSE_STREAM")?;
                match self.own_stream(&s, q.stream_id) {
                    None => Step::ReplyAndClose(
                        generic(ret::ERR_UNK),
                        format!("CLOSE_STREAM for unknown stream {}", q.stream_id),
                    ),
                    Some(st) => {
                        st.request_close(q.last_net_seq_num);
                        self.relay.close_if_done(&st);
                        Step::Reply(generic(ret::OK))
                    }
                }
            }
            ResetMetadata => {
                let s = self.need_session(command)?;
                let r = rttng_relay_proto::ResetMetadata::decode(p)?;
                match self
                    .own_stream(&s, r.stream_id)
                    .map(|st| st.reset_metadata())
                {
                    Some(Ok(())) => Step::Reply(generic(ret::OK)),
                    Some(Err(e)) => Step::ReplyAndClose(generic(ret::ERR_UNK), format!("{e:#}")),
                    None => Step::ReplyAndClose(
                        generic(ret::ERR_UNK),
                        format!("RESET_METADATA for unknown stream {}", r.stream_id),
                    ),
                }
            }
            RotateStreams => {
                let s = self.need_session(command)?;
                let r = rttng_relay_proto::RotateStreams::decode(p)?;
                let current = s.current_chunk().map(|c| c.id);
                match r.new_chunk_id {
                    // To no chunk (destroy): the streams are about to close; nothing moves.
                    None => Step::Reply(generic(ret::OK)),
                    Some(id) if Some(id) == current => Step::Reply(generic(ret::OK)),
                    Some(id) => Step::ReplyAndClose(
                        generic(ret::ERR_INVALID_PROTOCOL),
                        format!("refused ROTATE_STREAMS to trace chunk {id}: session rotation is not supported by rttng-relayd yet"),
                    ),
                }
            }
            CreateTraceChunk => {
                let s = self.need_session(command)?;
                let c = rttng_relay_proto::CreateTraceChunk::decode(p)?;
                if let Some(n) = &c.override_name {
                    if let Err(e) = check_component(n, MAX_CHUNK_NAME_BYTES - 1, "chunk name") {
                        return Ok(Step::ReplyAndClose(
                            generic(ret::ERR_INVALID_PROTOCOL),
                            format!("refused CREATE_TRACE_CHUNK: {e}"),
                        ));
                    }
                }
                match s.create_chunk(&self.relay.store, c.chunk_id, c.override_name.as_deref()) {
                    Ok(()) => Step::Reply(generic(ret::OK)),
                    Err(e) => Step::ReplyAndClose(
                        generic(ret::ERR_INVALID_PROTOCOL),
                        format!("refused CREATE_TRACE_CHUNK: {e:#}"),
                    ),
                }
            }
            CloseTraceChunk => {
                let s = self.need_session(command)?;
                let c = rttng_relay_proto::CloseTraceChunk::decode(p)?;
                if c.close_command == Some(close_command::DELETE) {
                    return Ok(Step::ReplyAndClose(
                        generic(ret::ERR_INVALID_PROTOCOL),
                        "refused CLOSE_TRACE_CHUNK with DELETE: clearing is not allowed".into(),
                    ));
                }
                match s.close_chunk(c.chunk_id) {
                    Ok(path) => Step::Reply(
                        CloseTraceChunkReply {
                            ret_code: ret::OK,
                            path,
                        }
                        .encode(),
                    ),
                    Err(e) => Step::ReplyAndClose(
                        generic(ret::ERR_INVALID_PROTOCOL),
                        format!("refused CLOSE_TRACE_CHUNK: {e:#}"),
                    ),
                }
            }
            TraceChunkExists => {
                let s = self.need_session(command)?;
                let id = U64Arg::decode(p, "TRACE_CHUNK_EXISTS")?.0;
                let exists = s.current_chunk().is_some_and(|c| c.id == id);
                Step::Reply(
                    TraceChunkExistsReply {
                        ret_code: ret::OK,
                        exists,
                    }
                    .encode(),
                )
            }
            SendMetadata => unreachable!("streamed by send_metadata"),
            UpdateSyncInfo | AddIndex | CloseIndex | ListSessions => Step::ReplyAndClose(
                generic(ret::ERR_UNK),
                format!("refused {command:?}: not part of the 2.11+ protocol"),
            ),
        })
    }

    fn create_session(&mut self, p: &[u8]) -> Result<Step> {
        let fail = |why: String| {
            Ok(Step::ReplyAndClose(
                CreateSessionReply {
                    session_id: 0,
                    ret_code: ret::ERR_FATAL,
                    output_path: String::new(),
                }
                .encode(),
                why,
            ))
        };
        let Some(minor) = self.minor else {
            bail!("CREATE_SESSION before VERSION");
        };
        if self.session.is_some() {
            return fail("refused a second CREATE_SESSION on one connection".into());
        }
        let c = match CreateSession::decode(p) {
            Ok(c) => c,
            Err(e) => return fail(format!("refused CREATE_SESSION: {e}")),
        };
        let checks = check_component(&c.session_name, MAX_SESSION_NAME_BYTES - 1, "session name")
            .and_then(|()| check_component(&c.hostname, MAX_HOSTNAME_BYTES - 1, "hostname"))
            .and_then(|()| {
                check_relative_path(&c.base_path, MAX_BASE_PATH_BYTES - 1, true, "base path")
            });
        if let Err(e) = checks {
            return fail(format!("refused CREATE_SESSION: {e}"));
        }
        if c.sessiond_uuid == [0; 16] {
            return fail("refused CREATE_SESSION: nil session daemon uuid".into());
        }
        let spec = SessionSpec {
            name: c.session_name,
            hostname: c.hostname,
            base_path: c.base_path,
            name_contains_creation_time: c.name_contains_creation_time,
            creation_time_s: c.creation_time_s,
            live_timer_us: c.live_timer_us,
            snapshot: c.snapshot,
            sessiond_uuid: c.sessiond_uuid,
            sessiond_session_id: c.sessiond_session_id,
            current_chunk_id: c.current_chunk_id,
            peer_ip: self.peer.ip(),
            minor,
        };
        match self.relay.create_session(spec) {
            Ok(s) => {
                log_info!(
                    "{}: session {} \"{}\" from host \"{}\" (protocol 2.{}) in {}",
                    self.peer,
                    s.id,
                    s.spec.name,
                    s.spec.hostname,
                    s.spec.minor,
                    s.dir
                );
                let reply = CreateSessionReply {
                    session_id: s.id,
                    ret_code: ret::OK,
                    output_path: s.dir.clone(),
                };
                self.session = Some(s);
                Ok(Step::Reply(reply.encode()))
            }
            Err(e) => fail(format!("CREATE_SESSION failed: {e:#}")),
        }
    }

    fn add_stream(&mut self, p: &[u8]) -> Result<Step> {
        let s = self.need_session(Command::AddStream)?;
        let refuse = |why: String| {
            Ok(Step::ReplyAndClose(
                AddStreamReply {
                    handle: u64::MAX,
                    ret_code: ret::ERR_UNK,
                }
                .encode(),
                why,
            ))
        };
        let a = match rttng_relay_proto::AddStream::decode(p) {
            Ok(a) => a,
            Err(e) => return refuse(format!("refused ADD_STREAM: {e}")),
        };
        let checks = check_component(&a.channel_name, MAX_CHANNEL_NAME_BYTES - 1, "channel name")
            .and_then(|()| {
                check_relative_path(&a.pathname, MAX_STREAM_PATH_BYTES - 1, false, "stream path")
            });
        if let Err(e) = checks {
            return refuse(format!("refused ADD_STREAM: {e}"));
        }
        match self.relay.add_stream(
            &s,
            a.channel_name,
            a.pathname,
            a.tracefile_size_bytes,
            a.tracefile_count,
        ) {
            Ok(st) => {
                log_info!(
                    "{}: session {} stream {} {}/{}",
                    self.peer,
                    s.id,
                    st.handle,
                    st.path,
                    st.channel_name
                );
                Ok(Step::Reply(
                    AddStreamReply {
                        handle: st.handle,
                        ret_code: ret::OK,
                    }
                    .encode(),
                ))
            }
            // As lttng-relayd: a stream that cannot be created keeps the connection open.
            Err(e) => {
                log_error!("{}: ADD_STREAM failed: {e:#}", self.peer);
                Ok(Step::Reply(
                    AddStreamReply {
                        handle: 0,
                        ret_code: ret::ERR_UNK,
                    }
                    .encode(),
                ))
            }
        }
    }

    /// SEND_METADATA: the metadata bytes go straight to the file; no reply.
    fn send_metadata(&mut self, sock: &mut TcpStream, data_size: u64) -> Result<Step> {
        if self.session.is_none() {
            bail!("SEND_METADATA before CREATE_SESSION");
        }
        let s = self.session.clone().expect("checked");
        let mut hb = [0u8; METADATA_HEADER_BYTES];
        if data_size < METADATA_HEADER_BYTES as u64 {
            bail!("refused SEND_METADATA: {data_size} bytes is shorter than its header");
        }
        match net::fill(sock, &mut hb)? {
            Fill::Full => {}
            _ => bail!("SEND_METADATA: peer closed within its header"),
        }
        let h = MetadataHeader::decode(&hb)?;
        let len = data_size - METADATA_HEADER_BYTES as u64;
        let Some(st) = self.own_stream(&s, h.stream_id) else {
            bail!("refused SEND_METADATA for unknown stream {}", h.stream_id);
        };
        let res = st.begin_metadata(len + h.padding_size as u64)?;
        if let Err(e) = net::copy_to_file(
            sock,
            &mut self.buf,
            &res.file,
            res.offset,
            len,
            h.padding_size as u64,
        ) {
            st.abort_write();
            return Err(e)
                .context("SEND_METADATA did not arrive whole; kept the metadata before it");
        }
        st.complete_metadata();
        Ok(Step::NoReply)
    }
}
