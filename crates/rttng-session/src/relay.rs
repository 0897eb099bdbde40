//! A session's network output (`create --set-url net://...`): the relay session the consumer
//! opens for it (once, at its first user-space channel), the wait at `stop` until the relay
//! holds everything (lttng's data pending, waited for in the consumer), and the close at
//! `destroy`, which reports what was lost if the relay failed. The traces of such a session
//! have paths relative to the relay session (`ust/uid/UID/64-bit`).
//!
//! Not here: sockets (the consumer speaks to the relay), kernel channels (their drain lives in
//! the session daemon and does not stream yet, so they are refused for network sessions).

use crate::{Port, Registry};
use rttng_proto::{ConsumerReply, ConsumerRequest, RelaySpec};
use rttng_relay_proto::url::NetUrl;

/// Where a network session streams.
#[derive(Debug)]
pub(crate) struct NetOutput {
    pub(crate) url: NetUrl,
    /// The consumer holds the relay session.
    pub(crate) open: bool,
    /// Why streaming failed, once it did (shown by `list`).
    pub(crate) error: Option<String>,
    /// A live session's timer (µs), 0 otherwise: the default switch timer of its channels.
    pub(crate) live_timer_us: u64,
}

impl NetOutput {
    pub(crate) fn new(url: NetUrl) -> NetOutput {
        NetOutput {
            url,
            open: false,
            error: None,
            live_timer_us: 0,
        }
    }
}

impl Registry {
    /// The relay id of session `si`'s traces: `None` for a local session; for a network
    /// session, its relay session, opened in the consumer if it is not yet.
    pub(crate) fn ensure_relay(
        &mut self,
        si: usize,
        port: &mut dyn Port,
    ) -> Result<Option<u64>, String> {
        let s = &self.sessions[si];
        let Some(net) = &s.net else {
            return Ok(None);
        };
        if net.open {
            return Ok(Some(s.id));
        }
        let uuid = match self.instance_uuid {
            Some(u) => u,
            None => {
                let u = port.new_uuid();
                self.instance_uuid = Some(u);
                u
            }
        };
        let s = &self.sessions[si];
        let net = s.net.as_ref().expect("checked");
        let spec = RelaySpec {
            relay_id: s.id,
            host: net.url.host.clone(),
            control_port: u32::from(net.url.control_port),
            data_port: u32::from(net.url.data_port),
            session_name: s.name.clone(),
            hostname: self.host.hostname.clone(),
            creation_time_s: s.creation_s,
            sessiond_uuid: uuid,
            session_id: s.id,
            base_path: net.url.base_path.clone(),
            live_timer_us: net.live_timer_us,
        };
        let url = net.url.to_string();
        let id = s.id;
        match port.consumer(ConsumerRequest::OpenRelay { relay: spec }) {
            Ok(ConsumerReply::RelayOpened { .. }) => {
                if let Some(n) = self.sessions[si].net.as_mut() {
                    n.open = true;
                }
                Ok(Some(id))
            }
            Ok(ConsumerReply::Error { message }) => {
                Err(format!("cannot stream to the relay at {url}: {message}"))
            }
            Ok(other) => Err(format!("unexpected consumer reply {other:?}")),
            Err(e) => Err(self.consumer_failed(e)),
        }
    }

    /// At `stop`, once the buffers are flushed: waits until the relay holds everything sent.
    /// Returns a warning when it does not.
    pub(crate) fn wait_relay(&mut self, si: usize, port: &mut dyn Port) -> Option<String> {
        let s = &self.sessions[si];
        let net = s.net.as_ref().filter(|n| n.open)?;
        let url = net.url.to_string();
        let warn = match port.consumer(ConsumerRequest::RelayDataPending { relay_id: s.id }) {
            Ok(ConsumerReply::RelayPending { pending: false }) => return None,
            Ok(ConsumerReply::RelayPending { pending: true }) => {
                format!("the relay at {url} still lacks data; the trace there may be incomplete")
            }
            Ok(ConsumerReply::Error { message }) => {
                format!("streaming to the relay at {url} failed: {message}")
            }
            Ok(other) => format!("unexpected consumer reply {other:?}"),
            Err(e) => self.consumer_failed(e),
        };
        if let Some(n) = self.sessions[si].net.as_mut() {
            n.error.get_or_insert(warn.clone());
        }
        Some(warn)
    }

    /// At `destroy`, once the buffers are removed: closes the relay session. Returns a
    /// warning with the packets lost if the relay failed.
    pub(crate) fn close_relay(&mut self, si: usize, port: &mut dyn Port) -> Option<String> {
        let s = &self.sessions[si];
        let net = s.net.as_ref().filter(|n| n.open)?;
        let url = net.url.to_string();
        if self.consumer_dead.is_some() {
            return None;
        }
        match port.consumer(ConsumerRequest::CloseRelay { relay_id: s.id }) {
            Ok(ConsumerReply::RelayClosed { packets_lost: 0 }) => None,
            Ok(ConsumerReply::RelayClosed { packets_lost }) => Some(format!(
                "{packets_lost} packets could not be sent to the relay at {url} after it failed"
            )),
            Ok(ConsumerReply::Error { message }) => Some(message),
            Ok(other) => Some(format!("unexpected consumer reply {other:?}")),
            Err(e) => Some(self.consumer_failed(e)),
        }
    }

    /// Why session `si`'s streaming failed, if it did: as last seen at `stop`, or as the
    /// consumer reports it now.
    pub(crate) fn relay_error(&self, si: usize, port: &mut dyn Port) -> Option<String> {
        let s = &self.sessions[si];
        let net = s.net.as_ref()?;
        if let Some(e) = &net.error {
            return Some(e.clone());
        }
        if !net.open || self.consumer_dead.is_some() {
            return None;
        }
        match port.consumer(ConsumerRequest::RelayStatus { relay_id: s.id }) {
            Ok(ConsumerReply::RelayStatus {
                failure,
                packets_lost,
            }) if !failure.is_empty() => Some(format!(
                "streaming to the relay at {} failed: {failure}; {packets_lost} packets lost since",
                net.url
            )),
            _ => None,
        }
    }
}
