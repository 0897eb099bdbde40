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
#[derive(Debug, Clone)]
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
        self.checkpoint(id);
        match port.consumer_in(id, ConsumerRequest::OpenRelay { relay: spec }) {
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

    /// Why session `si`'s streaming failed, if it did, as last seen at `stop`: `Ok(None)`
    /// if it did not or streams nowhere, `Err(url)` when the consumer must be asked
    /// (`RelayStatus`).
    pub(crate) fn relay_error(&self, si: usize) -> Result<Option<String>, String> {
        let s = &self.sessions[si];
        let Some(net) = s.net.as_ref() else {
            return Ok(None);
        };
        if let Some(e) = &net.error {
            return Ok(Some(e.clone()));
        }
        if !net.open || self.consumer_dead.is_some() {
            return Ok(None);
        }
        Err(net.url.to_string())
    }
}

/// The warning of `stop`'s wait for the relay of session `session_id` (at `url`) from the
/// consumer's answer to `RelayDataPending`; also kept as the session's streaming error.
pub(crate) fn relay_pending_warning(
    reg: &mut Registry,
    session_id: u64,
    url: &str,
    reply: Result<ConsumerReply, String>,
) -> Option<String> {
    let warn = match reply {
        Ok(ConsumerReply::RelayPending { pending: false }) => return None,
        Ok(ConsumerReply::RelayPending { pending: true }) => {
            format!("the relay at {url} still lacks data; the trace there may be incomplete")
        }
        Ok(ConsumerReply::Error { message }) => {
            format!("streaming to the relay at {url} failed: {message}")
        }
        Ok(other) => format!("unexpected consumer reply {other:?}"),
        Err(e) => reg.consumer_failed(e),
    };
    if let Some(n) = reg
        .sessions
        .iter_mut()
        .find(|s| s.id == session_id)
        .and_then(|s| s.net.as_mut())
    {
        n.error.get_or_insert(warn.clone());
    }
    Some(warn)
}
