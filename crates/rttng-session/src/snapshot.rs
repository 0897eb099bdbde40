//! Snapshot sessions (the flight recorder): `create --snapshot`, the session's snapshot
//! output (lttng 2.13 allows one), and `snapshot record`, which asks the consumer to write
//! each buffer's newest packets (the kernel domain's too, from the consumer's memory), under
//! `OUTPUT/NAME-YYYYmmdd-HHMMSS-SEQ/` or to a relay, each trace with its whole metadata.
//!
//! How many packets fit `--max-size` follows lttng's `get_session_nb_packets_per_stream`:
//! one more packet per stream while the total of one more packet of every stream that has
//! packets left still fits; a bound smaller than one packet per stream is an error.
//! Not here: writing files or streaming (the consumer does).

use super::*;

/// Most snapshot outputs a session has (lttng 2.13: one).
pub const MAX_SNAPSHOT_OUTPUTS: usize = 1;

/// A snapshot session's outputs and counters.
#[derive(Debug, Default, Clone)]
pub(crate) struct SnapshotState {
    pub outputs: Vec<SnapshotOutputInfo>,
    /// Id of the next output added (lttng numbers from 1 and never reuses an id).
    pub next_output_id: u32,
    /// Snapshots recorded so far (the `SEQ` of the next directory name).
    pub recorded: u64,
}

impl SnapshotState {
    pub fn new() -> SnapshotState {
        SnapshotState {
            outputs: Vec::new(),
            next_output_id: 1,
            recorded: 0,
        }
    }
}

/// One kind of stream of a session, for the size computation: `streams` streams with
/// `subbuf_count` packets of at most `subbuf_bytes` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamGroup {
    pub subbuf_bytes: u64,
    pub subbuf_count: u64,
    pub streams: u64,
}

/// lttng's packets-per-stream for a snapshot bound of `max_bytes` (0: unlimited). `Some(0)`
/// means every packet; `None` means not even one packet of each stream fits.
pub fn packets_per_stream(groups: &[StreamGroup], max_bytes: u64) -> Option<u64> {
    if max_bytes == 0 {
        return Some(0);
    }
    let mut left = i128::from(max_bytes);
    let mut packets = 0u64;
    // Bounded: each round takes one more packet per stream, up to the largest count.
    let most = groups.iter().map(|g| g.subbuf_count).max().unwrap_or(0);
    while packets < most {
        let one_more: i128 = groups
            .iter()
            .filter(|g| packets < g.subbuf_count)
            .map(|g| i128::from(g.subbuf_bytes) * i128::from(g.streams))
            .sum();
        if one_more == 0 {
            break;
        }
        left -= one_more;
        if left < 0 {
            break;
        }
        packets += 1;
    }
    if packets == 0 && left != i128::from(max_bytes) {
        return None;
    }
    Some(packets)
}

fn not_snapshot(name: &str) -> Response {
    err(
        ErrorCode::NotSnapshotSession,
        format!("session {name} is not a snapshot session (create it with `rttng create {name} --snapshot`); snapshot commands apply to snapshot sessions only"),
    )
}

/// A network output's URL (`net://`, `net6://`), or None for a local directory.
fn net_url(path: &str) -> Result<Option<rttng_relay_proto::url::NetUrl>, Response> {
    if path.starts_with('/') {
        return Ok(None);
    }
    rttng_relay_proto::url::parse_net(path)
        .map(Some)
        .map_err(|e| {
            err(
                ErrorCode::InvalidArgument,
                format!(
                    "snapshot output {path:?} is neither an absolute path nor a net:// URL: {e}"
                ),
            )
        })
}

fn check_output(o: &SnapshotOutput) -> Result<(), Response> {
    net_url(&o.path)?;
    if o.path.len() > 4096 || o.path.contains('\0') {
        return Err(err(
            ErrorCode::InvalidArgument,
            "snapshot output path is longer than 4096 bytes or holds a NUL",
        ));
    }
    if !o.name.is_empty() {
        crate::validate::check_name("snapshot output", &o.name)?;
    }
    Ok(())
}

impl Registry {
    /// `create NAME --snapshot [-o DIR | --no-output]`.
    pub(crate) fn create_snapshot(
        &mut self,
        name: Option<String>,
        output: Option<String>,
        no_output: bool,
        uid: u32,
        home: Option<String>,
        now: &Clock,
    ) -> Result<Response, Response> {
        // A relay URL is where snapshots go; the session itself does not stream.
        let net = match &output {
            Some(o) if net_url(o)?.is_some() => Some(o.clone()),
            _ => None,
        };
        let local = if net.is_some() { None } else { output };
        let created = self.create(name, local, 0, uid, home, now)?;
        let Response::SessionCreated { name, output } = created else {
            return Ok(created);
        };
        let output = net.unwrap_or(output);
        let s = self
            .sessions
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| err(ErrorCode::Internal, "created session vanished"))?;
        let mut state = SnapshotState::new();
        if !no_output {
            let id = state.next_output_id;
            state.next_output_id += 1;
            state.outputs.push(SnapshotOutputInfo {
                id,
                name: format!("snapshot-{id}"),
                path: output.clone(),
                max_size: 0,
            });
        }
        s.snapshot = Some(state);
        Ok(Response::SessionCreated {
            name,
            output: if no_output { String::new() } else { output },
        })
    }

    fn snapshot_state(&mut self, i: usize) -> Result<&mut SnapshotState, Response> {
        let s = &mut self.sessions[i];
        let name = s.name.clone();
        s.snapshot.as_mut().ok_or_else(|| not_snapshot(&name))
    }

    pub(crate) fn snapshot_add_output(
        &mut self,
        i: usize,
        output: SnapshotOutput,
    ) -> Result<Response, Response> {
        check_output(&output)?;
        let st = self.snapshot_state(i)?;
        if st.outputs.len() >= MAX_SNAPSHOT_OUTPUTS {
            return Err(err(
                ErrorCode::SnapshotOutputExists,
                "Snapshot output already exists (a session has one; remove it with `rttng snapshot del-output`)",
            ));
        }
        let id = st.next_output_id;
        st.next_output_id += 1;
        let info = SnapshotOutputInfo {
            id,
            name: if output.name.is_empty() {
                format!("snapshot-{id}")
            } else {
                output.name
            },
            path: output.path,
            max_size: output.max_size,
        };
        st.outputs.push(info.clone());
        Ok(Response::SnapshotOutputs { list: vec![info] })
    }

    pub(crate) fn snapshot_del_output(
        &mut self,
        i: usize,
        id: u32,
        name: &str,
    ) -> Result<Response, Response> {
        let session = self.sessions[i].name.clone();
        let st = self.snapshot_state(i)?;
        let Some(at) =
            st.outputs
                .iter()
                .position(|o| if id != 0 { o.id == id } else { o.name == name })
        else {
            let what = if id != 0 {
                format!("id {id}")
            } else {
                format!("named {name:?}")
            };
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("session {session} has no snapshot output {what} (see `rttng snapshot list-output`)"),
            ));
        };
        let gone = st.outputs.remove(at);
        Ok(Response::SnapshotOutputs { list: vec![gone] })
    }

    pub(crate) fn snapshot_list_outputs(&mut self, i: usize) -> Result<Response, Response> {
        let st = self.snapshot_state(i)?;
        Ok(Response::SnapshotOutputs {
            list: st.outputs.clone(),
        })
    }

    /// The stream groups of session `i` (user-space buffers created so far, kernel channels).
    fn stream_groups(&self, i: usize) -> Vec<StreamGroup> {
        let s = &self.sessions[i];
        let mut groups = Vec::new();
        for b in self
            .buffers
            .iter()
            .filter(|b| b.session_id == s.id && b.created)
        {
            if let Some(c) = s.channels.iter().find(|c| c.id == b.channel_id) {
                groups.push(StreamGroup {
                    subbuf_bytes: c.attrs.subbuf_size,
                    subbuf_count: c.attrs.num_subbuf,
                    streams: u64::from(self.host.cpu_count),
                });
            }
        }
        for c in s.channels.iter().filter(|c| c.domain == Domain::Kernel) {
            groups.push(StreamGroup {
                subbuf_bytes: c.attrs.subbuf_size,
                subbuf_count: c.attrs.num_subbuf,
                streams: u64::from(self.host.cpu_count),
            });
        }
        groups
    }

    /// `snapshot record`: writes one snapshot of session `i` to its output (or `temp`).
    pub(crate) fn snapshot_record(
        &mut self,
        i: usize,
        temp: Option<SnapshotOutput>,
        name: &str,
        max_size: Option<u64>,
        now: &Clock,
        port: &mut dyn Port,
    ) -> Result<Deferred, Response> {
        if let Some(o) = &temp {
            check_output(o)?;
        }
        if !name.is_empty() {
            crate::validate::check_name("snapshot", name)?;
        }
        let session = self.sessions[i].name.clone();
        let started = self.sessions[i].started_once;
        let st = self.snapshot_state(i)?;
        if !started {
            return Err(err(
                ErrorCode::StartSessionOnce,
                format!("Session needs to be started once (start {session} with `rttng start`)"),
            ));
        }
        let seq = st.recorded;
        let out = match temp {
            Some(o) => SnapshotOutputInfo {
                id: 0,
                name: if o.name.is_empty() {
                    "snapshot-0".into()
                } else {
                    o.name
                },
                path: o.path,
                max_size: o.max_size,
            },
            None => match st.outputs.first() {
                Some(o) => o.clone(),
                None => {
                    return Err(err(
                        ErrorCode::SnapshotFailed,
                        format!("Snapshot record failed: session {session} has no snapshot output; add one with `rttng snapshot add-output DIR` or give a directory to `snapshot record`"),
                    ))
                }
            },
        };
        if let Some(why) = &self.consumer_dead {
            return Err(err(
                ErrorCode::ConsumerDead,
                format!("the consumer daemon is gone ({why}); restart the session daemon"),
            ));
        }
        let sid = self.sessions[i].id;
        if self.sessions[i].channels.is_empty() {
            return Err(err(
                ErrorCode::NoChannel,
                format!(
                    "No channel found in the session {session}: enable a channel or an event first"
                ),
            ));
        }
        let mut out = out;
        if !name.is_empty() {
            out.name = name.to_string();
        }
        let max_bytes = max_size.unwrap_or(out.max_size);
        let groups = self.stream_groups(i);
        let max_packets = packets_per_stream(&groups, max_bytes).ok_or_else(|| {
            let smallest: u64 = groups.iter().map(|g| g.subbuf_bytes * g.streams).sum();
            err(
                ErrorCode::MaxSizeInvalid,
                format!("Invalid snapshot size. Cannot fit at least one packet per stream: --max-size {max_bytes} is below {smallest} bytes (one sub-buffer of each of the session's streams)"),
            )
        })?;
        let chunk_name = format!("{}-{}-{seq}", out.name, now.compact);
        let has_kernel = self.sessions[i]
            .channels
            .iter()
            .any(|c| c.domain == Domain::Kernel);
        let mut effects = Vec::new();
        if let Some(url) = net_url(&out.path)? {
            let relay_id = self.fresh_id();
            effects.push(Effect::Consumer(ConsumerRequest::OpenRelay {
                relay: self.snapshot_relay(i, relay_id, &url, &chunk_name, port),
            }));
            if has_kernel {
                effects.push(Effect::Kernel(KernelOp::Snapshot {
                    output: "kernel".into(),
                    max_packets,
                    relay_id: Some(relay_id),
                }));
            }
            self.snapshot_buffers(i, relay_id, "", max_packets, &mut effects);
            // lttng's data pending: the relay holds every packet before the reply.
            effects.push(Effect::Consumer(ConsumerRequest::RelayDataPending {
                relay_id,
            }));
            effects.push(Effect::Consumer(ConsumerRequest::CloseRelay { relay_id }));
            return Ok(Deferred::snapshot(
                sid,
                effects,
                SnapshotPlan {
                    session_id: sid,
                    relay_url: Some(url.to_string()),
                    shown: format!("{url} ({chunk_name})"),
                },
            ));
        }
        let chunk = format!("{}/{chunk_name}", out.path.trim_end_matches('/'));
        if has_kernel {
            effects.push(Effect::Kernel(KernelOp::Snapshot {
                output: format!("{chunk}/kernel"),
                max_packets,
                relay_id: None,
            }));
        }
        self.snapshot_buffers(i, 0, &chunk, max_packets, &mut effects);
        Ok(Deferred::snapshot(
            sid,
            effects,
            SnapshotPlan {
                session_id: sid,
                relay_url: None,
                shown: chunk,
            },
        ))
    }

    /// The `snapshot record` answer from the answers to its effects: the first failure,
    /// else the snapshot (counted).
    pub(crate) fn snapshot_complete(
        &mut self,
        plan: SnapshotPlan,
        replies: &mut impl Iterator<Item = Answer>,
    ) -> Response {
        let mut first: Option<String> = None;
        let fail = |first: &mut Option<String>, e: String| {
            first.get_or_insert(e);
        };
        let mut lost = 0;
        if let Some(url) = &plan.relay_url {
            match replies.next() {
                Some(Ok(Reply::Consumer(ConsumerReply::RelayOpened { .. }))) => {}
                Some(Ok(Reply::Consumer(ConsumerReply::Error { message }))) => {
                    first = Some(format!("relay {url}: {message}"))
                }
                Some(Ok(other)) => first = Some(format!("unexpected consumer reply {other:?}")),
                Some(Err(e)) => first = Some(self.consumer_failed(e)),
                None => first = Some("no answer from the consumer daemon".into()),
            }
        }
        for a in replies {
            match a {
                Ok(Reply::Consumer(ConsumerReply::Error { message })) => fail(&mut first, message),
                Ok(Reply::Consumer(ConsumerReply::RelayPending { pending: true })) => fail(
                    &mut first,
                    "the relay did not take every packet in time".into(),
                ),
                Ok(Reply::Consumer(ConsumerReply::RelayClosed { packets_lost })) => {
                    lost = packets_lost
                }
                Ok(Reply::Consumer(_)) => {}
                Ok(Reply::Kernel(Err(e))) => fail(&mut first, e),
                Ok(Reply::Kernel(Ok(_))) => {}
                Err(e) => {
                    let e = self.consumer_failed(e);
                    fail(&mut first, e)
                }
            }
        }
        if first.is_none() && lost > 0 {
            first = Some(format!("{lost} packets did not reach the relay"));
        }
        if let Some(e) = first {
            return err(
                ErrorCode::SnapshotFailed,
                format!("Snapshot record failed: {e}"),
            );
        }
        if let Some(st) = self
            .sessions
            .iter_mut()
            .find(|s| s.id == plan.session_id)
            .and_then(|s| s.snapshot.as_mut())
        {
            st.recorded += 1;
        }
        Response::SnapshotRecorded {
            paths: vec![plan.shown],
        }
    }

    /// Appends the writing of each trace of session `i` to `effects`: its whole metadata,
    /// then each of its buffers' snapshot, under `chunk` (absolute), or to relay session
    /// `relay_id` (not 0) as paths relative to it.
    fn snapshot_buffers(
        &mut self,
        i: usize,
        relay_id: u64,
        chunk: &str,
        max_packets: u64,
        effects: &mut Vec<Effect>,
    ) {
        let sid = self.sessions[i].id;
        let traces: Vec<(Owner, String, [u8; 16], String)> = self
            .traces
            .iter()
            .filter(|((s, _), _)| *s == sid)
            .map(|((_, o), t)| (*o, t.rel.clone(), t.uuid, t.text.clone()))
            .collect();
        for (owner, rel, uuid, text) in traces {
            let dir = if relay_id == 0 {
                format!("{chunk}/{rel}")
            } else {
                rel.clone()
            };
            let ids: Vec<u64> = self
                .buffers
                .iter()
                .filter(|b| b.session_id == sid && b.owner == owner && b.created)
                .map(|b| b.id)
                .collect();
            effects.push(Effect::Consumer(if relay_id == 0 {
                ConsumerRequest::SnapshotMetadata {
                    trace_dir: dir.clone(),
                    uuid,
                    text,
                }
            } else {
                ConsumerRequest::AppendRelayMetadata {
                    relay_id,
                    trace_dir: dir.clone(),
                    uuid,
                    text,
                }
            }));
            for buffer_id in ids {
                effects.push(Effect::Consumer(ConsumerRequest::Snapshot {
                    buffer_id,
                    trace_dir: dir.clone(),
                    max_packets,
                    relay_id,
                }));
            }
        }
    }

    /// The relay session of one snapshot of session `i`: on the relay it is
    /// `HOSTNAME/BASE/CHUNK` (BASE: the URL's path, else the session's name).
    fn snapshot_relay(
        &mut self,
        i: usize,
        relay_id: u64,
        url: &rttng_relay_proto::url::NetUrl,
        chunk_name: &str,
        port: &mut dyn Port,
    ) -> RelaySpec {
        let uuid = match self.instance_uuid {
            Some(u) => u,
            None => {
                let u = port.new_uuid();
                self.instance_uuid = Some(u);
                u
            }
        };
        let s = &self.sessions[i];
        let base = if url.base_path.is_empty() {
            s.name.clone()
        } else {
            url.base_path.clone()
        };
        RelaySpec {
            relay_id,
            host: url.host.clone(),
            control_port: u32::from(url.control_port),
            data_port: u32::from(url.data_port),
            session_name: s.name.clone(),
            hostname: self.host.hostname.clone(),
            creation_time_s: s.creation_s,
            sessiond_uuid: uuid,
            session_id: s.id,
            base_path: format!("{base}/{chunk_name}"),
            live_timer_us: 0,
        }
    }
}

/// What `snapshot record` answers once its effects are carried out.
#[derive(Debug)]
pub(crate) struct SnapshotPlan {
    session_id: u64,
    /// The relay the snapshot goes to (its URL).
    relay_url: Option<String>,
    /// The snapshot as the answer shows it (its directory, or the relay and chunk).
    shown: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(subbuf_bytes: u64, subbuf_count: u64, streams: u64) -> StreamGroup {
        StreamGroup {
            subbuf_bytes,
            subbuf_count,
            streams,
        }
    }

    #[test]
    fn packets_per_stream_follows_lttng() {
        // Two CPUs of 4 x 512 KiB: one packet of each stream is 1 MiB.
        let uid = [g(524_288, 4, 2)];
        assert_eq!(packets_per_stream(&uid, 0), Some(0), "0 = unlimited");
        assert_eq!(packets_per_stream(&uid, 1 << 20), Some(1));
        assert_eq!(packets_per_stream(&uid, (3 << 20) - 1), Some(2));
        assert_eq!(packets_per_stream(&uid, 4 << 20), Some(4));
        assert_eq!(packets_per_stream(&uid, 100 << 20), Some(4), "all packets");
        assert_eq!(packets_per_stream(&uid, 100), None, "not one per stream");
        // A channel with fewer packets stops counting once all of them are taken.
        let mixed = [g(4096, 2, 2), g(4096, 8, 2)];
        assert_eq!(packets_per_stream(&mixed, 16_384 * 2 + 8192 * 3), Some(5));
        // No stream at all: nothing to bound.
        assert_eq!(packets_per_stream(&[], 100), Some(0));
    }
}
