//! Consumer requests that may wait for the disk or the network: `stop`'s flushes and relay
//! wait, `destroy`'s buffer removals and relay close. The session's state changes at once
//! (under the caller's lock); the requests are returned as a [`Deferred`], which the caller
//! carries out after releasing its lock, in order, and whose answers
//! [`Registry::complete`] turns into the client's response. [`Registry::handle`] carries
//! them out at once through the [`Port`] (tests, shutdown); [`Registry::handle_deferring`]
//! hands them back. Not here: how deferred work of several requests is ordered (the daemon
//! carries it out one request after the other, in the order the requests changed the state,
//! so a session's flushes always come before its removal).

use crate::relay::relay_pending_warning;
use crate::requests::lost_message;
use crate::{err, Clock, KernelOp, KernelReply, Port, Registry};
use rttng_proto::*;

/// Consumer requests left to carry out, in order, and what their answers mean.
#[derive(Debug)]
pub struct Deferred {
    pub requests: Vec<ConsumerRequest>,
    then: Then,
}

/// What `stop` left to do for one session.
#[derive(Debug)]
pub(crate) struct StopPlan {
    session_id: u64,
    flushes: usize,
    /// A network session (its flush errors are the relay's warning).
    net: bool,
    /// The relay waited for after the flushes (its URL, for the warning).
    relay_url: Option<String>,
    /// The session lost its consumer (why).
    lost: Option<String>,
    /// The warning so far (the kernel's).
    warn: Option<String>,
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
        relay_url: Option<String>,
    },
}

impl Deferred {
    /// Removals of `removed` (buffer, session, channel).
    pub(crate) fn app_gone(removed: Vec<(u64, u64, u64)>) -> Deferred {
        Deferred {
            requests: removed
                .iter()
                .map(|&(buffer_id, _, _)| ConsumerRequest::RemoveBuffer { buffer_id })
                .collect(),
            then: Then::AppGone { removed },
        }
    }
}

fn no_answer() -> Result<ConsumerReply, String> {
    Err("no answer from the consumer daemon".into())
}

impl Registry {
    /// Like [`Registry::handle`], but consumer requests that may wait for the disk or the
    /// network are returned in [`crate::Outcome::deferred`] instead of being sent: the
    /// caller sends them (in order, after releasing its lock) and passes their answers to
    /// [`Registry::complete`], which gives the response.
    pub fn handle_deferring(
        &mut self,
        req: Request,
        uid: u32,
        now: &Clock,
        port: &mut dyn Port,
    ) -> crate::Outcome {
        let mut app_errors = Vec::new();
        let mut deferred = None;
        let wait = matches!(req, Request::Stop { .. } | Request::DestroySession { .. });
        let response = match req {
            Request::Stop { session } | Request::StopNoWait { session } => self
                .stop(&session, uid, wait, port, &mut app_errors)
                .map(|d| {
                    deferred = Some(d);
                    Response::Ok
                }),
            Request::DestroySession { session } | Request::DestroySessionNoWait { session } => self
                .destroy(&session, uid, wait, port, &mut app_errors)
                .map(|d| {
                    deferred = Some(d);
                    Response::Ok
                }),
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

    /// The response of a request whose consumer requests `d` were carried out, with their
    /// answers in order (missing ones count as failures). Problems that are not the
    /// client's go to `errs`.
    pub fn complete(
        &mut self,
        d: Deferred,
        replies: Vec<Result<ConsumerReply, String>>,
        errs: &mut Vec<String>,
    ) -> Response {
        let mut replies = replies.into_iter();
        let warn = match d.then {
            Then::AppGone { removed } => {
                for (_, sid, cid) in removed {
                    match replies.next().unwrap_or_else(no_answer) {
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
                relay_url,
            } => {
                let warn = stop.and_then(|p| self.stop_complete(p, &mut replies, errs));
                for _ in 0..removes {
                    if let Err(e) = replies.next().unwrap_or_else(no_answer) {
                        errs.push(self.consumer_failed(e));
                    }
                }
                let lost = relay_url.and_then(|url| {
                    match replies.next().unwrap_or_else(no_answer) {
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
        };
        match warn {
            Some(message) => Response::Warning { message },
            None => Response::Ok,
        }
    }

    /// `stop`: the session stops at once (apps told, kernel stopped); its flushes and,
    /// with `wait` (no `-n`), the relay wait are returned.
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
        let mut requests = Vec::new();
        let plan = self.stop_begin(i, wait, port, errs, &mut requests);
        Ok(Deferred {
            requests,
            then: match plan {
                Some(p) => Then::Stop(p),
                None => Then::Destroy {
                    stop: None,
                    removes: 0,
                    relay_url: None,
                },
            },
        })
    }

    /// `destroy`: the session is stopped and forgotten at once; the flushes, buffer
    /// removals and relay close are returned.
    pub(crate) fn destroy(
        &mut self,
        session: &str,
        uid: u32,
        wait: bool,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Deferred, Response> {
        let i = self.session_index(session, uid)?;
        let mut requests = Vec::new();
        let stop = self.stop_begin(i, wait, port, errs, &mut requests);
        let before = requests.len();
        let relay_url = self.destroy_session(i, port, errs, &mut requests);
        let removes = requests.len() - before - usize::from(relay_url.is_some());
        Ok(Deferred {
            requests,
            then: Then::Destroy {
                stop,
                removes,
                relay_url,
            },
        })
    }

    /// Stops session `i` now and appends its flushes (and, with `wait`, the relay wait)
    /// to `requests`; `None` if it was not active.
    pub(crate) fn stop_begin(
        &mut self,
        i: usize,
        wait: bool,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
        requests: &mut Vec<ConsumerRequest>,
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
        let mut warn = None;
        if self.sessions[i]
            .channels
            .iter()
            .any(|c| c.domain == Domain::Kernel)
        {
            match port.kernel(sid, KernelOp::Stop) {
                Ok(KernelReply::Stopped { events_discarded }) => {
                    self.sessions[i].kernel_discarded = events_discarded
                }
                Ok(KernelReply::Ok) => {}
                Err(e) => {
                    warn = Some(format!(
                        "the kernel trace could not be written completely: {e}"
                    ))
                }
            }
        }
        let flushes = ids.len();
        requests.extend(
            ids.into_iter()
                .map(|buffer_id| ConsumerRequest::Flush { buffer_id }),
        );
        let s = &self.sessions[i];
        let relay_url = s
            .net
            .as_ref()
            .filter(|n| n.open && wait)
            .map(|n| n.url.to_string());
        if relay_url.is_some() {
            requests.push(ConsumerRequest::RelayDataPending { relay_id: s.id });
        }
        Some(StopPlan {
            session_id: sid,
            flushes,
            net: s.net.is_some(),
            relay_url,
            lost: s.consumer_lost.clone(),
            warn,
        })
    }

    /// The warning of a stop, from the answers to its flushes and relay wait.
    fn stop_complete(
        &mut self,
        p: StopPlan,
        replies: &mut impl Iterator<Item = Result<ConsumerReply, String>>,
        errs: &mut Vec<String>,
    ) -> Option<String> {
        let mut warn = p.warn;
        for _ in 0..p.flushes {
            match replies.next().unwrap_or_else(no_answer) {
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
            let reply = replies.next().unwrap_or_else(no_answer);
            if warn.is_none() {
                warn = relay_pending_warning(self, p.session_id, url, reply);
            }
        }
        warn
    }
}
