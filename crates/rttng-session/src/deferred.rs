//! Consumer requests and kernel operations that may wait for the disk or the network, whose
//! answers make the client's response: `stop`'s kernel stop, flushes and relay wait,
//! `destroy`'s removals, kernel session and relay close, `list SESSION`'s statistics,
//! `snapshot record`. The session's state changes at once (under the caller's lock); the
//! work is returned as a [`Deferred`] of [`Effect`]s, which the caller carries out after
//! releasing its lock, in order, and whose answers [`Registry::complete`] turns into the
//! client's response. [`Registry::handle`] carries them out at once through the [`Port`]
//! (tests, shutdown); [`Registry::handle_deferring`] hands them back. Not here: how the
//! work of several requests is ordered (the daemon carries out each session's effects in
//! the order they were made, so a session's flushes always come before its removal).

use crate::relay::relay_pending_warning;
use crate::requests::lost_message;
use crate::{err, Clock, KernelOp, KernelReply, Port, Registry};
use rttng_proto::*;

/// One piece of outside work of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Consumer(ConsumerRequest),
    Kernel(KernelOp),
}

/// The answer to an [`Effect`]; a kernel operation's own failure is inside `Kernel`, so
/// that `Err` always means the consumer daemon stopped answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Consumer(ConsumerReply),
    Kernel(Result<KernelReply, String>),
}

pub type Answer = Result<Reply, String>;

/// Work left to carry out for session `session_id`, in order, and what its answers mean.
#[derive(Debug)]
pub struct Deferred {
    pub session_id: u64,
    pub effects: Vec<Effect>,
    then: Then,
}

/// What `stop` left to do for one session.
#[derive(Debug)]
pub(crate) struct StopPlan {
    session_id: u64,
    /// The kernel stop comes first.
    kernel: bool,
    flushes: usize,
    /// A network session (its flush errors are the relay's warning).
    net: bool,
    /// The relay waited for after the flushes (its URL, for the warning).
    relay_url: Option<String>,
    /// The session lost its consumer (why).
    lost: Option<String>,
}

#[derive(Debug)]
enum Then {
    /// An app left: its per-process buffers removed (buffer, session, channel), whose
    /// final losses the channels keep.
    AppGone {
        removed: Vec<(u64, u64, u64)>,
    },
    Stop(StopPlan),
    Destroy {
        stop: Option<StopPlan>,
        removes: usize,
        kernel: bool,
        relay_url: Option<String>,
    },
    Detail(Box<crate::requests::DetailPlan>),
    Snapshot(crate::snapshot::SnapshotPlan),
    Nothing,
}

impl Deferred {
    /// Removals of `removed` (buffer, session, channel), all of session `session_id`.
    pub(crate) fn app_gone(session_id: u64, removed: Vec<(u64, u64, u64)>) -> Deferred {
        Deferred {
            session_id,
            effects: removed
                .iter()
                .map(|&(buffer_id, _, _)| {
                    Effect::Consumer(ConsumerRequest::RemoveBuffer { buffer_id })
                })
                .collect(),
            then: Then::AppGone { removed },
        }
    }

    pub(crate) fn detail(
        session_id: u64,
        effects: Vec<Effect>,
        plan: crate::requests::DetailPlan,
    ) -> Deferred {
        Deferred {
            session_id,
            effects,
            then: Then::Detail(Box::new(plan)),
        }
    }

    pub(crate) fn snapshot(
        session_id: u64,
        effects: Vec<Effect>,
        plan: crate::snapshot::SnapshotPlan,
    ) -> Deferred {
        Deferred {
            session_id,
            effects,
            then: Then::Snapshot(plan),
        }
    }

    /// Carries out the effects now, through `port`, in order.
    pub fn carry_out(&self, port: &mut dyn Port) -> Vec<Answer> {
        self.effects
            .iter()
            .map(|e| match e {
                Effect::Consumer(r) => port
                    .consumer_in(self.session_id, r.clone())
                    .map(Reply::Consumer),
                Effect::Kernel(op) => Ok(Reply::Kernel(port.kernel(self.session_id, op.clone()))),
            })
            .collect()
    }
}

fn no_answer() -> Answer {
    Err("no answer from the consumer daemon".into())
}

/// The next answer, as a consumer's.
pub(crate) fn next_consumer(
    replies: &mut impl Iterator<Item = Answer>,
) -> Result<ConsumerReply, String> {
    match replies.next().unwrap_or_else(no_answer)? {
        Reply::Consumer(r) => Ok(r),
        Reply::Kernel(_) => Ok(ConsumerReply::Error {
            message: "a kernel answer where a consumer answer was due".into(),
        }),
    }
}

/// The next answer, as a kernel operation's (any failure is the operation's).
pub(crate) fn next_kernel(
    replies: &mut impl Iterator<Item = Answer>,
) -> Result<KernelReply, String> {
    match replies.next().unwrap_or_else(no_answer)? {
        Reply::Kernel(r) => r,
        Reply::Consumer(_) => Err("a consumer answer where a kernel answer was due".into()),
    }
}

impl Registry {
    /// Like [`Registry::handle`], but the work that may wait for the disk or the network
    /// is returned in [`crate::Outcome::deferred`] instead of being carried out: the
    /// caller carries it out (in order, after releasing its lock) and passes the answers
    /// to [`Registry::complete`], which gives the response.
    pub fn handle_deferring(
        &mut self,
        req: Request,
        uid: u32,
        now: &Clock,
        port: &mut dyn Port,
    ) -> crate::Outcome {
        let mut app_errors = Vec::new();
        let mut deferred = None;
        self.checkpoints.clear();
        let wait = matches!(req, Request::Stop { .. } | Request::DestroySession { .. });
        let mut defer = |d: Deferred| {
            deferred = Some(d);
            Response::Ok
        };
        let response = match req {
            Request::Stop { session } | Request::StopNoWait { session } => self
                .stop(&session, uid, wait, port, &mut app_errors)
                .map(&mut defer),
            Request::DestroySession { session } | Request::DestroySessionNoWait { session } => self
                .destroy(&session, uid, wait, port, &mut app_errors)
                .map(&mut defer),
            Request::ListSession { session } => self
                .session_index(&session, uid)
                .map(|i| self.detail_begin(i))
                .map(&mut defer),
            Request::SnapshotRecord {
                session,
                output,
                name,
                max_size,
            } => self
                .session_index(&session, uid)
                .and_then(|i| self.snapshot_record(i, output, &name, max_size, now, port))
                .map(&mut defer),
            req => self.dispatch(req, uid, now, port, &mut app_errors),
        };
        crate::Outcome {
            response: match response {
                Ok(r) | Err(r) => r,
            },
            app_errors,
            deferred,
        }
    }

    /// The response of a request whose effects `d` were carried out, with their answers
    /// in order (missing ones count as failures). Problems that are not the client's go
    /// to `errs`.
    pub fn complete(
        &mut self,
        d: Deferred,
        replies: Vec<Answer>,
        errs: &mut Vec<String>,
    ) -> Response {
        let mut replies = replies.into_iter();
        let warn = match d.then {
            Then::Nothing => None,
            Then::AppGone { removed } => {
                for (_, sid, cid) in removed {
                    match next_consumer(&mut replies) {
                        Ok(ConsumerReply::Stats {
                            events_discarded,
                            packets_lost,
                            events_lost,
                            ..
                        }) => self.keep_losses(
                            sid,
                            cid,
                            (events_discarded, packets_lost, events_lost),
                        ),
                        Ok(_) => {}
                        Err(e) => errs.push(self.consumer_failed(e)),
                    }
                }
                None
            }
            Then::Stop(p) => self.stop_complete(p, &mut replies, errs),
            Then::Destroy {
                stop,
                removes,
                kernel,
                relay_url,
            } => {
                let warn = stop.and_then(|p| self.stop_complete(p, &mut replies, errs));
                for _ in 0..removes {
                    if let Err(e) = next_consumer(&mut replies) {
                        errs.push(self.consumer_failed(e));
                    }
                }
                if kernel {
                    if let Err(e) = next_kernel(&mut replies) {
                        errs.push(format!("kernel session: {e}"));
                    }
                }
                let lost = relay_url.and_then(|url| {
                    match next_consumer(&mut replies) {
                        Ok(ConsumerReply::RelayClosed { packets_lost: 0 }) => None,
                        Ok(ConsumerReply::RelayClosed { packets_lost }) => Some(format!(
                            "{packets_lost} packets could not be sent to the relay at {url} after it failed"
                        )),
                        Ok(ConsumerReply::Error { message }) => Some(message),
                        Ok(other) => Some(format!("unexpected consumer reply {other:?}")),
                        Err(e) => Some(self.consumer_failed(e)),
                    }
                });
                warn.or(lost)
            }
            Then::Detail(plan) => return self.detail_complete(*plan, &mut replies),
            Then::Snapshot(plan) => return self.snapshot_complete(plan, &mut replies),
        };
        match warn {
            Some(message) => Response::Warning { message },
            None => Response::Ok,
        }
    }

    /// `stop`: the session stops at once (apps told); its kernel stop, flushes and, with
    /// `wait` (no `-n`), the relay wait are returned.
    pub(crate) fn stop(
        &mut self,
        session: &str,
        uid: u32,
        wait: bool,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Deferred, Response> {
        let i = self.session_index(session, uid)?;
        if !self.sessions[i].active {
            // lttng's words (a warning, status 81).
            return Err(err(
                ErrorCode::AlreadyStopped,
                format!("Tracing already stopped for session {session}"),
            ));
        }
        let session_id = self.sessions[i].id;
        let mut effects = Vec::new();
        let plan = self.stop_begin(i, wait, port, errs, &mut effects);
        Ok(Deferred {
            session_id,
            effects,
            then: match plan {
                Some(p) => Then::Stop(p),
                None => Then::Nothing,
            },
        })
    }

    /// `destroy`: the session is stopped and forgotten at once; the flushes, buffer
    /// removals, kernel session removal and relay close are returned.
    pub(crate) fn destroy(
        &mut self,
        session: &str,
        uid: u32,
        wait: bool,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Deferred, Response> {
        let i = self.session_index(session, uid)?;
        let session_id = self.sessions[i].id;
        let mut effects = Vec::new();
        let stop = self.stop_begin(i, wait, port, errs, &mut effects);
        let before = effects.len();
        let (kernel, relay_url) = self.destroy_session(i, port, errs, &mut effects);
        let removes =
            effects.len() - before - usize::from(kernel) - usize::from(relay_url.is_some());
        Ok(Deferred {
            session_id,
            effects,
            then: Then::Destroy {
                stop,
                removes,
                kernel,
                relay_url,
            },
        })
    }

    /// Stops session `i` now and appends its kernel stop, flushes (and, with `wait`, the
    /// relay wait) to `effects`; `None` if it was not active.
    pub(crate) fn stop_begin(
        &mut self,
        i: usize,
        wait: bool,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
        effects: &mut Vec<Effect>,
    ) -> Option<StopPlan> {
        if !self.sessions[i].active {
            return None;
        }
        self.sessions[i].active = false;
        self.reconcile(port, errs);
        let sid = self.sessions[i].id;
        let ids: Vec<u64> = self
            .buffers
            .iter()
            .filter(|b| b.session_id == sid && b.created)
            .map(|b| b.id)
            .collect();
        // Tracing off, then the kernel's buffers written, before the user-space flushes.
        let kernel = self.sessions[i]
            .channels
            .iter()
            .any(|c| c.domain == Domain::Kernel);
        if kernel {
            effects.push(Effect::Kernel(KernelOp::Stop));
        }
        let flushes = ids.len();
        effects.extend(
            ids.into_iter()
                .map(|buffer_id| Effect::Consumer(ConsumerRequest::Flush { buffer_id })),
        );
        let s = &self.sessions[i];
        let relay_url = s
            .net
            .as_ref()
            .filter(|n| n.open && wait)
            .map(|n| n.url.to_string());
        if relay_url.is_some() {
            effects.push(Effect::Consumer(ConsumerRequest::RelayDataPending {
                relay_id: s.id,
            }));
        }
        Some(StopPlan {
            session_id: sid,
            kernel,
            flushes,
            net: s.net.is_some(),
            relay_url,
            lost: s.consumer_lost.clone(),
        })
    }

    /// The warning of a stop, from the answers to its kernel stop, flushes and relay wait.
    fn stop_complete(
        &mut self,
        p: StopPlan,
        replies: &mut impl Iterator<Item = Answer>,
        errs: &mut Vec<String>,
    ) -> Option<String> {
        let mut warn = None;
        if p.kernel {
            match next_kernel(replies) {
                Ok(KernelReply::Stopped { events_discarded }) => {
                    if let Some(s) = self.sessions.iter_mut().find(|s| s.id == p.session_id) {
                        s.kernel_discarded = events_discarded;
                    }
                }
                Ok(KernelReply::Ok) => {}
                Err(e) => {
                    warn = Some(format!(
                        "the kernel trace could not be written completely: {e}"
                    ))
                }
            }
        }
        for _ in 0..p.flushes {
            match next_consumer(replies) {
                // Packets that could not be written (full disk, I/O error): the user must
                // hear of it at stop, not only the daemon's log. (A network session's
                // losses are the relay's warning, below.)
                Ok(ConsumerReply::Error { message }) => {
                    errs.push(message.clone());
                    if !p.net {
                        warn = Some(match warn.take() {
                            Some(w) => format!("{w}; {message}"),
                            None => message,
                        });
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    warn = Some(self.consumer_failed(e));
                }
            }
        }
        if let Some(why) = &p.lost {
            warn.get_or_insert_with(|| lost_message(why));
        }
        if let Some(url) = &p.relay_url {
            let reply = next_consumer(replies);
            if warn.is_none() {
                warn = relay_pending_warning(self, p.session_id, url, reply);
            }
        }
        warn
    }
}
