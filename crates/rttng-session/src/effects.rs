//! Effects the daemon answers at once and carries out later, outside its lock, in each
//! session's order: buffer creation, metadata, recoveries, relay opening, kernel
//! operations. The state machine goes on as if they succeeded; when one fails, the daemon
//! tells [`Registry::effect_failed`] (a buffer that could not be made is forgotten and its
//! apps' installs dropped; a relay that could not be reached is not open), and, for a
//! client's request whose answer depends on it (a kernel operation, the relay reached at
//! the first channel), restores the session as it was just before the failed effect
//! ([`Registry::take_checkpoints`], [`Registry::restore`]) and answers with
//! [`Registry::failure_response`]. Not here: carrying them out (the daemon), the effects
//! whose answers make the response (`deferred.rs`).

use crate::{err, AppId, Awaited, Effect, KernelOp, Port, Registry, Session};
use rttng_proto::*;

/// A session as it was before an effect whose failure fails the client's request.
#[derive(Debug)]
pub struct SessionSave(Session);

impl SessionSave {
    pub fn session_id(&self) -> u64 {
        self.0.id
    }
}

impl Effect {
    /// Whether a client's request fails with this effect (the session then goes back to
    /// its checkpoint): kernel configuration, and the relay opened for a session.
    pub fn is_critical(&self) -> bool {
        match self {
            Effect::Kernel(op) => match op {
                KernelOp::Create { .. }
                | KernelOp::AddChannel { .. }
                | KernelOp::EnableTracepoints { .. }
                | KernelOp::EnableSyscalls { .. }
                | KernelOp::EnableTracepointsFiltered { .. }
                | KernelOp::AddContext { .. }
                | KernelOp::Trackers { .. }
                | KernelOp::Start => true,
                // exit and exit_group have no exit tracepoint: not an error.
                KernelOp::DisableTracepoints { pattern, .. } => !pattern.starts_with("sys_exit_"),
                KernelOp::Stop
                | KernelOp::Destroy
                | KernelOp::Snapshot { .. }
                | KernelOp::Stats => false,
            },
            Effect::Consumer(ConsumerRequest::OpenRelay { .. }) => true,
            Effect::Consumer(_) => false,
        }
    }

    /// Whether the registry took a checkpoint just before making this effect through the
    /// port (kernel configuration, relay opening).
    pub fn has_checkpoint(&self) -> bool {
        match self {
            Effect::Kernel(op) => !matches!(
                op,
                KernelOp::Stop | KernelOp::Destroy | KernelOp::Snapshot { .. } | KernelOp::Stats
            ),
            Effect::Consumer(ConsumerRequest::OpenRelay { .. }) => true,
            Effect::Consumer(_) => false,
        }
    }
}

impl Registry {
    /// Remembers session `sid` as it is now, before an effect that may fail the request.
    pub(crate) fn checkpoint(&mut self, sid: u64) {
        if let Some(s) = self.sessions.iter().find(|s| s.id == sid) {
            self.checkpoints.push(SessionSave(s.clone()));
        }
    }

    /// The checkpoints taken since the last call, in order (one before each effect whose
    /// [`Effect::has_checkpoint`] holds).
    pub fn take_checkpoints(&mut self) -> Vec<SessionSave> {
        std::mem::take(&mut self.checkpoints)
    }

    /// Puts a session back as it was at checkpoint `save` (if it still exists), then
    /// drives the apps to it.
    pub fn restore(&mut self, save: SessionSave, port: &mut dyn Port, errs: &mut Vec<String>) {
        let Some(i) = self.sessions.iter().position(|s| s.id == save.0.id) else {
            return;
        };
        self.sessions[i] = save.0;
        self.reconcile(port, errs);
    }

    /// The session a client request names, if it exists and `uid` may use it.
    pub fn session_of(&self, req: &Request, uid: u32) -> Option<u64> {
        use Request::*;
        let name = match req {
            DestroySession { session }
            | DestroySessionNoWait { session }
            | ListSession { session }
            | EnableChannel { session, .. }
            | DisableChannel { session, .. }
            | EnableEvent { session, .. }
            | EnableEventFilter { session, .. }
            | DisableEvent { session, .. }
            | DisableEventAll { session, .. }
            | AddContext { session, .. }
            | Start { session }
            | Stop { session }
            | StopNoWait { session }
            | SnapshotAddOutput { session, .. }
            | SnapshotDelOutput { session, .. }
            | SnapshotListOutputs { session }
            | SnapshotRecord { session, .. }
            | ListFilters { session }
            | ListAgentRules { session }
            | Track { session, .. }
            | Untrack { session, .. }
            | ListTrackers { session } => session,
            _ => return None,
        };
        self.session_index(name, uid)
            .ok()
            .map(|i| self.sessions[i].id)
    }

    /// The answer to a client's request whose effect `e` on session `sid` failed (`why`),
    /// when that effect decides the answer.
    pub fn failure_response(&self, sid: u64, e: &Effect, why: &str) -> Option<Response> {
        if !e.is_critical() {
            return None;
        }
        Some(match e {
            Effect::Kernel(
                KernelOp::Create { .. } | KernelOp::AddChannel { .. } | KernelOp::Start,
            ) => err(ErrorCode::KernelUnavailable, why),
            Effect::Kernel(KernelOp::AddContext { .. }) => err(ErrorCode::InvalidArgument, why),
            Effect::Kernel(_) => err(ErrorCode::NoEvent, why),
            Effect::Consumer(_) => {
                let url = self
                    .sessions
                    .iter()
                    .find(|s| s.id == sid)
                    .and_then(|s| s.net.as_ref())
                    .map(|n| n.url.to_string())
                    .unwrap_or_default();
                err(
                    ErrorCode::InvalidArgument,
                    format!("cannot stream to the relay at {url}: {why}"),
                )
            }
        })
    }

    /// Effect `e` of session `sid`, answered at once, failed (`why`): what assumed it is
    /// undone. Returns problems to log.
    pub fn effect_failed(
        &mut self,
        sid: u64,
        e: &Effect,
        why: &str,
        port: &mut dyn Port,
    ) -> Vec<String> {
        let mut errs = Vec::new();
        let name = self
            .sessions
            .iter()
            .find(|s| s.id == sid)
            .map_or_else(|| format!("#{sid}"), |s| s.name.clone());
        match e {
            Effect::Consumer(
                ConsumerRequest::AddBuffer { spec }
                | ConsumerRequest::AddSnapshotBuffer { spec }
                | ConsumerRequest::AddRelayBuffer { spec, .. },
            ) => {
                errs.push(format!("session {name}: {why}"));
                self.buffer_failed(spec.buffer_id, port, &mut errs);
            }
            Effect::Consumer(ConsumerRequest::OpenRelay { relay }) => {
                if let Some(n) = self
                    .sessions
                    .iter_mut()
                    .find(|s| s.id == relay.relay_id)
                    .and_then(|s| s.net.as_mut())
                {
                    n.open = false;
                }
                errs.push(format!("session {name}: cannot stream to the relay: {why}"));
            }
            Effect::Consumer(_) => errs.push(format!("session {name}: {why}")),
            Effect::Kernel(_) => errs.push(format!("session {name}: kernel: {why}")),
        }
        errs
    }

    /// Buffer `id` could not be created: it is forgotten, and the installs that used it
    /// are dropped (a later change tries again).
    fn buffer_failed(&mut self, id: u64, port: &mut dyn Port, errs: &mut Vec<String>) {
        self.buffers.retain(|b| b.id != id);
        let apps: Vec<AppId> = self.apps.keys().copied().collect();
        for a in apps {
            let Some(app) = self.apps.get_mut(&a) else {
                continue;
            };
            let keys: Vec<ChannelKey> = app
                .installing
                .iter()
                .filter(|(_, b)| **b == id)
                .map(|(k, _)| *k)
                .collect();
            if keys.is_empty() {
                continue;
            }
            for key in keys {
                app.installing.remove(&key);
                if let Some(at) = app
                    .awaiting
                    .iter()
                    .position(|w| matches!(w, Awaited::Install(k) if *k == key))
                {
                    app.awaiting.remove(at);
                }
            }
            self.registration_done(a, port, errs);
        }
    }
}
