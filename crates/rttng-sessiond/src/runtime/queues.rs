//! Each session's outside work, carried out in order and outside the lock: consumer
//! requests (buffer creation, metadata, recoveries, relay opening and waits, flushes,
//! removals, statistics, snapshots) and kernel operations (tracefs and the consumer's
//! drains). Under the lock, the [`Port`] collects what the state machine asks
//! ([`Queues::collect`]) and answers at once; the caller then queues it ([`submit`]) on the
//! session's queue, whose worker thread carries the jobs out one after the other over a
//! lane of its own to the consumer ([`Link`]), then takes the lock to hand the answers over
//! ([`finish_job`]). Sessions do not wait for each other: a stalled relay or a slow disk
//! delays only the session it serves. App commands that depend on a session's work not
//! done yet (an install needs its buffer's fd; an enable, its metadata) are held per app,
//! in order, until it is done ([`release_held`]). Not here: what the work means
//! (rttng-session), the kernel operations themselves (`kernel.rs`).

use super::*;
use rttng_session::{Answer, Deferred, Effect, Reply};
use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc;

/// Idle lanes kept open for later jobs (more are closed).
const MAX_IDLE_LANES: usize = 4;

/// The daemon's link to its consumer, usable without the lock: the control socket (used
/// to open lanes, and to quit) and the idle lanes.
pub struct Link {
    inner: Mutex<LinkInner>,
}

struct LinkInner {
    control: Option<UnixStream>,
    pid: u32,
    idle: Vec<UnixStream>,
}

impl Link {
    pub fn new(control: Option<UnixStream>, pid: u32) -> Link {
        Link {
            inner: Mutex::new(LinkInner {
                control,
                pid,
                idle: Vec::new(),
            }),
        }
    }

    fn inner(&self) -> MutexGuard<'_, LinkInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The consumer is gone (`None`) or another one runs: idle lanes are dropped.
    pub fn replace(&self, control: Option<UnixStream>, pid: u32) {
        let mut l = self.inner();
        l.control = control;
        l.pid = pid;
        l.idle.clear();
    }

    /// The pid of the consumer the link is to.
    pub fn pid(&self) -> u32 {
        self.inner().pid
    }

    /// An idle lane, or a new one (`OpenLane` on the control socket); with its consumer's pid.
    pub fn lane(&self) -> Result<(UnixStream, u32), String> {
        let mut l = self.inner();
        let pid = l.pid;
        if let Some(s) = l.idle.pop() {
            return Ok((s, pid));
        }
        let Some(control) = &l.control else {
            return Err("rttng-consumerd is not running".into());
        };
        open_lane(control, pid).map(|s| (s, pid))
    }

    /// Keeps `lane` (of consumer `pid`) for later jobs.
    pub fn give_back(&self, lane: UnixStream, pid: u32) {
        let mut l = self.inner();
        if l.pid == pid && l.idle.len() < MAX_IDLE_LANES {
            l.idle.push(lane);
        }
    }

    /// Tells the consumer to write out every buffer and exit, and waits for it (bounded).
    pub fn quit(&self) {
        let mut l = self.inner();
        l.idle.clear();
        if let Some(c) = l.control.take() {
            let _ = sock::send(&c, Kind::ConsumerRequest, &ConsumerRequest::Quit, None);
            let _ = sock::recv::<ConsumerReply>(&c, Kind::ConsumerReply);
            // Wait (bounded by the read timeout) for it to close its end: it has exited.
            let _ = sock::recv::<ConsumerReply>(&c, Kind::ConsumerReply);
        }
    }
}

/// Opens a lane to the consumer behind `control`: a socket pair whose other end it serves
/// on a thread of its own (`OpenLane`).
fn open_lane(control: &UnixStream, pid: u32) -> Result<UnixStream, String> {
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| format!("cannot create a consumer lane: {e}"))?;
    sock::send(
        control,
        Kind::ConsumerRequest,
        &ConsumerRequest::OpenLane,
        Some(theirs.as_fd()),
    )
    .map_err(|e| format!("rttng-consumerd (pid {pid}) stopped answering: {e}"))?;
    drop(theirs);
    match sock::recv::<ConsumerReply>(control, Kind::ConsumerReply) {
        Ok((ConsumerReply::Ok, _)) => {}
        Ok((other, _)) => return Err(format!("the consumer refused a lane: {other:?}")),
        Err(e) => {
            return Err(format!(
                "rttng-consumerd (pid {pid}) stopped answering: {e}"
            ))
        }
    }
    ours.set_read_timeout(Some(CONSUMER_TIMEOUT))
        .map_err(|e| e.to_string())?;
    Ok(ours)
}

/// One request on `lane`, and its answer (with the fd an `AddBuffer` answer carries).
pub(super) fn ask(
    lane: &UnixStream,
    pid: u32,
    req: &ConsumerRequest,
) -> Result<(ConsumerReply, Option<OwnedFd>), String> {
    sock::send(lane, Kind::ConsumerRequest, req, None)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            sock::recv::<ConsumerReply>(lane, Kind::ConsumerReply).map_err(|e| e.to_string())
        })
        .map_err(|e| format!("rttng-consumerd (pid {pid}) stopped answering: {e}"))
}

/// A worker's lane, opened when first needed and dropped when it breaks.
struct LaneSlot<'a> {
    link: &'a Link,
    lane: Option<(UnixStream, u32)>,
}

impl LaneSlot<'_> {
    fn ask(&mut self, req: &ConsumerRequest) -> Result<(ConsumerReply, Option<OwnedFd>), String> {
        if self.lane.is_none() {
            self.lane = Some(self.link.lane()?);
        }
        let (l, pid) = self.lane.as_ref().expect("set");
        let r = ask(l, *pid, req);
        if r.is_err() {
            self.lane = None;
        }
        r
    }
}

/// Work queued per session, and the work collected under the lock not queued yet.
#[derive(Default)]
pub struct Queues {
    /// Sessions whose worker runs, with their jobs (the front one is under way).
    sessions: HashMap<u64, VecDeque<Job>>,
    /// Effects made through the port since the last [`submit`], per session, with their
    /// sequence numbers.
    collected: BTreeMap<u64, Vec<(u64, Effect)>>,
    next_seq: u64,
}

impl Queues {
    /// Collects effect `e` of session `sid`.
    pub fn collect(&mut self, sid: u64, e: Effect) {
        let seq = self.seq();
        self.collected.entry(sid).or_default().push((seq, e));
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Takes the effects collected for session `sid`.
    pub fn take_collected(&mut self, sid: u64) -> Vec<(u64, Effect)> {
        self.collected.remove(&sid).unwrap_or_default()
    }

    /// If session `sid` has work not done, the sequence number an app command sent now
    /// must wait for.
    pub fn barrier(&self, sid: u64) -> Option<u64> {
        let busy = self.sessions.get(&sid).is_some_and(|j| !j.is_empty())
            || self.collected.get(&sid).is_some_and(|c| !c.is_empty());
        busy.then_some(self.next_seq)
    }

    /// Whether work of session `sid` numbered `barrier` or lower is not done.
    pub fn pending(&self, sid: u64, barrier: u64) -> bool {
        self.sessions
            .get(&sid)
            .is_some_and(|j| j.iter().any(|j| j.first_seq <= barrier))
            || self
                .collected
                .get(&sid)
                .is_some_and(|c| c.iter().any(|(s, _)| *s <= barrier))
    }

    /// The sessions with collected effects.
    pub fn collected_sessions(&self) -> Vec<u64> {
        self.collected.keys().copied().collect()
    }
}

/// One session's job: its effects in order, the first `port_effects` of them made through
/// the port (answered at once), the rest those of a [`Deferred`].
pub(super) struct Job {
    first_seq: u64,
    effects: Vec<Effect>,
    port_effects: usize,
    consumer_pid: u32,
    then: Then,
}

/// Who takes a job's answers.
pub(super) enum Then {
    /// A client waits for them (it answers its request from them).
    Client(mpsc::Sender<Vec<Answer>>),
    /// Nobody: failures are undone and logged.
    Background,
    /// The registry completes this (an app's buffers removed).
    Deferred(Deferred),
}

/// An app command held until the work of its session it depends on is done.
pub struct Held {
    pub cmd: AppCommand,
    pub buffer: Option<u64>,
    /// (session, sequence number) to wait for.
    pub barrier: Option<(u64, u64)>,
}

/// Queues a job on session `sid` (under the lock, so that jobs keep the order of the state
/// changes): `effects` collected through the port, then `extra` (a deferred's).
pub(super) fn submit(
    g: &mut State,
    state: &Shared,
    sid: u64,
    effects: Vec<(u64, Effect)>,
    extra: Vec<Effect>,
    then: Then,
) {
    let q = &mut g.io.queues;
    let first_seq = match effects.first() {
        Some((s, _)) => *s,
        None => q.seq(),
    };
    let port_effects = effects.len();
    let mut all: Vec<Effect> = effects.into_iter().map(|(_, e)| e).collect();
    all.extend(extra);
    let job = Job {
        first_seq,
        effects: all,
        port_effects,
        consumer_pid: g.io.link.pid(),
        then,
    };
    match q.sessions.get_mut(&sid) {
        Some(jobs) => jobs.push_back(job),
        None => {
            q.sessions.insert(sid, VecDeque::from([job]));
            let st = state.clone();
            std::thread::spawn(move || worker(st, sid));
        }
    }
}

/// Queues every collected effect as background jobs (one per session).
pub(super) fn submit_collected(g: &mut State, state: &Shared) {
    for sid in g.io.queues.collected_sessions() {
        let effects = g.io.queues.take_collected(sid);
        if !effects.is_empty() {
            submit(g, state, sid, effects, Vec::new(), Then::Background);
        }
    }
}

/// Session `sid`'s worker: carries out its jobs in order, then ends.
fn worker(state: Shared, sid: u64) {
    let (link, kernels) = {
        let g = lock(&state);
        (g.io.link.clone(), g.io.kernels.clone())
    };
    let mut slot = LaneSlot {
        link: &link,
        lane: None,
    };
    loop {
        let (effects, port_effects, client) = {
            let mut g = lock(&state);
            match g
                .io
                .queues
                .sessions
                .get_mut(&sid)
                .and_then(|j| j.front_mut())
            {
                Some(j) => (
                    std::mem::take(&mut j.effects),
                    j.port_effects,
                    matches!(j.then, Then::Client(_)),
                ),
                None => {
                    g.io.queues.sessions.remove(&sid);
                    break;
                }
            }
        };
        // A panic in the work must not leave its client waiting for ever.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_effects(&mut slot, &kernels, sid, &effects, port_effects, client)
        }));
        let (answers, fds) = run.unwrap_or_else(|_| {
            slot.lane = None;
            let failed = effects
                .iter()
                .map(|e| {
                    let why = "internal error while carrying it out".to_string();
                    Ok(match e {
                        Effect::Consumer(_) => {
                            Reply::Consumer(ConsumerReply::Error { message: why })
                        }
                        Effect::Kernel(_) => Reply::Kernel(Err(why)),
                    })
                })
                .collect();
            (failed, effects.iter().map(|_| None).collect())
        });
        let mut g = lock(&state);
        finish_job(&mut g, &state, sid, &effects, answers, fds);
        drop(g);
        state.1.notify_all();
    }
    if let Some((l, pid)) = slot.lane.take() {
        link.give_back(l, pid);
    }
}

/// Why an answer is a failure, if it is.
pub(super) fn failure(a: &Answer) -> Option<String> {
    match a {
        Err(e) => Some(e.clone()),
        Ok(Reply::Consumer(ConsumerReply::Error { message })) => Some(message.clone()),
        Ok(Reply::Kernel(Err(e))) => Some(e.clone()),
        Ok(_) => None,
    }
}

/// Carries out `effects` of session `sid` in order. In a client's job, a critical effect
/// made through the port that fails ends it: the rest is answered as not carried out (the
/// request fails, as it would have at that effect).
fn run_effects(
    slot: &mut LaneSlot<'_>,
    kernels: &crate::kernel::Kernels,
    sid: u64,
    effects: &[Effect],
    port_effects: usize,
    client: bool,
) -> (Vec<Answer>, Vec<Option<OwnedFd>>) {
    let mut answers = Vec::with_capacity(effects.len());
    let mut fds = Vec::with_capacity(effects.len());
    let mut skip: Option<String> = None;
    for (k, e) in effects.iter().enumerate() {
        if let Some(why) = &skip {
            let why = format!("not carried out: {why}");
            answers.push(Ok(match e {
                Effect::Consumer(_) => Reply::Consumer(ConsumerReply::Error { message: why }),
                Effect::Kernel(_) => Reply::Kernel(Err(why)),
            }));
            fds.push(None);
            continue;
        }
        let (a, fd) = match e {
            Effect::Consumer(req) => match slot.ask(req) {
                Ok((r, fd)) => (Ok(Reply::Consumer(r)), fd),
                Err(e) => (Err(e), None),
            },
            Effect::Kernel(op) => {
                let mut consumer = |r: ConsumerRequest| slot.ask(&r).map(|(r, _)| r);
                let mut ctx = crate::kernel::Ctx {
                    kernels,
                    consumer: &mut consumer,
                };
                (
                    Ok(Reply::Kernel(crate::kernel::op(&mut ctx, sid, op.clone()))),
                    None,
                )
            }
        };
        if client && k < port_effects && e.is_critical() {
            skip = failure(&a);
        }
        answers.push(a);
        fds.push(fd);
    }
    (answers, fds)
}

/// Hands a finished job of session `sid` over (under the lock): buffer fds kept, failures
/// of effects answered at once undone, the answers to their taker; then held app commands
/// that may go are sent.
fn finish_job(
    g: &mut State,
    state: &Shared,
    sid: u64,
    effects: &[Effect],
    answers: Vec<Answer>,
    fds: Vec<Option<OwnedFd>>,
) {
    let Some(job) =
        g.io.queues
            .sessions
            .get_mut(&sid)
            .and_then(|j| j.pop_front())
    else {
        return;
    };
    let State { reg, io } = g;
    let client = matches!(job.then, Then::Client(_));
    let same_consumer = io.link.pid() == job.consumer_pid;
    let mut errs = Vec::new();
    let mut died = None;
    for (k, ((e, a), fd)) in effects.iter().zip(&answers).zip(fds).enumerate() {
        match (e, a) {
            (
                Effect::Consumer(
                    ConsumerRequest::AddBuffer { spec }
                    | ConsumerRequest::AddSnapshotBuffer { spec }
                    | ConsumerRequest::AddRelayBuffer { spec, .. },
                ),
                Ok(Reply::Consumer(ConsumerReply::Ok)),
            ) => {
                if let Some(fd) = fd {
                    io.buffer_fds.insert(spec.buffer_id, fd);
                }
            }
            (Effect::Consumer(ConsumerRequest::RemoveBuffer { buffer_id }), _) => {
                io.buffer_fds.remove(buffer_id);
            }
            _ => {}
        }
        if k >= job.port_effects {
            continue;
        }
        let Some(why) = failure(a) else { continue };
        if a.is_err() {
            if same_consumer {
                died.get_or_insert(why);
            }
            continue;
        }
        if client && e.is_critical() {
            // The client answers its request with it.
            continue;
        }
        errs.extend(reg.effect_failed(sid, e, &why, io));
        if let Effect::Consumer(
            ConsumerRequest::AddBuffer { spec }
            | ConsumerRequest::AddSnapshotBuffer { spec }
            | ConsumerRequest::AddRelayBuffer { spec, .. },
        ) = e
        {
            for c in io.apps.values_mut() {
                c.held.retain(|h| h.buffer != Some(spec.buffer_id));
            }
        }
    }
    if let Some(why) = died {
        errs.push(reg.consumer_failed(why));
    }
    match job.then {
        Then::Client(tx) => {
            let _ = tx.send(answers);
        }
        Then::Background => {}
        Then::Deferred(d) => {
            let rest = answers.into_iter().skip(job.port_effects).collect();
            let rest = answers_now(io, job.consumer_pid, rest);
            reg.complete(d, rest, &mut errs);
        }
    }
    for e in errs {
        log(&e);
    }
    release_held(io);
    reap(g, state);
}

/// Sends the held app commands whose session's work is done, in order per app.
pub(super) fn release_held(io: &mut Io) {
    let Io {
        apps,
        queues,
        buffer_fds,
        ..
    } = io;
    for c in apps.values_mut() {
        while let Some(h) = c.held.front() {
            if h.barrier.is_some_and(|(s, b)| queues.pending(s, b)) {
                break;
            }
            let Some(h) = c.held.pop_front() else { break };
            let fd = match h.buffer {
                Some(b) => match buffer_fds.get(&b) {
                    Some(fd) => Some(fd.as_fd()),
                    None => {
                        c.dead.get_or_insert("its buffer's fd is gone".into());
                        break;
                    }
                },
                None => None,
            };
            if c.send_held(&h.cmd, fd).is_err() {
                break;
            }
        }
    }
}

/// The session an app command is about.
pub(super) fn command_session(cmd: &AppCommand) -> Option<u64> {
    match cmd {
        AppCommand::InstallChannel { key, .. }
        | AppCommand::Enable { key, .. }
        | AppCommand::Disable { key, .. }
        | AppCommand::SetFilter { key, .. }
        | AppCommand::RemoveChannel { key } => Some(key.session_id),
        _ => None,
    }
}

/// The answer a collected consumer request gets at once (its failure comes later, through
/// `finish_job`).
pub(super) fn answered_at_once(req: &ConsumerRequest) -> ConsumerReply {
    match req {
        ConsumerRequest::OpenRelay { relay } => ConsumerReply::RelayOpened {
            relay_session_id: relay.relay_id,
            output_path: String::new(),
        },
        _ => ConsumerReply::Ok,
    }
}
