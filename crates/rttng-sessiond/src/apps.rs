//! The application socket, served by one thread with an event loop (no thread per app):
//! it accepts connections, reads each hello into a bounded buffer with a total deadline,
//! registers the app, reads the apps' answers, and notices hang-ups. Commands go to apps
//! from whichever thread holds the lock, as non-blocking writes ([`AppConn::send`]); an app
//! whose socket is full, that answers with an error, or that leaves a command unanswered
//! for [`APP_TIMEOUT`] is disconnected and its buffers are recovered (`reap`).
//!
//! Limits per uid: [`MAX_PENDING_PER_UID`] connections still sending their hello and
//! [`MAX_APPS_PER_UID`] registered apps, below the daemon's totals, so one user's apps
//! cannot keep another user's from registering. Not here: what commands mean
//! (rttng-session) and the wire format (rttng-proto).

use crate::runtime::{lock, log, now, reap, Shared, State};
use crate::sys;
use rttng_proto::frame::{self, HEADER_BYTES};
use rttng_proto::sock::{self, PeerCred};
use rttng_proto::*;
use rttng_session::AppId;
use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// How long an app may leave a command unanswered before it is disconnected (LTTng's
/// default app timeout is 5 s).
pub const APP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a new connection may take to send its whole hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Most registered applications, in all.
pub const MAX_APPS: usize = 4096;
/// Most registered applications of one uid.
pub const MAX_APPS_PER_UID: usize = 512;
/// Most connections still sending their hello, in all and per uid.
pub const MAX_PENDING: usize = 128;
pub const MAX_PENDING_PER_UID: usize = 8;
/// Largest answer an app may send (an answer carries at most a context struct).
pub const MAX_REPLY_BYTES: u32 = 64 << 10;
/// Period of the loop's deadline checks while a hello or an answer is awaited.
const TICK: Duration = Duration::from_millis(100);
/// Bytes read from one socket per wake-up.
const READ_CHUNK_BYTES: usize = 64 << 10;

/// The daemon's side of one registered app, kept under the lock.
pub struct AppConn {
    /// Non-blocking: a write never waits for the app.
    stream: UnixStream,
    pub pid: u32,
    pub uid: u32,
    /// Send times of the commands not answered yet, oldest first.
    unanswered: VecDeque<Instant>,
    /// When the app last made progress on its commands: its last answer, or the send of a
    /// command when none was waiting (clients wait only for apps that make progress).
    progress: Instant,
    /// Commands sent and answered so far.
    pub sent: u64,
    pub answered: u64,
    /// Why the app is being disconnected (set by a failed write, a bad answer, a timeout).
    pub dead: Option<String>,
    /// Commands not sent yet: each waits for its session's work (a buffer, metadata) to be
    /// done, and every later one waits behind it (`runtime/queues.rs`).
    pub held: VecDeque<crate::runtime::Held>,
}

impl AppConn {
    /// Writes one command without waiting; a full socket means the app stopped reading.
    pub fn send(
        &mut self,
        cmd: &AppCommand,
        fd: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Result<(), String> {
        self.send_at(cmd, fd, true)
    }

    /// Holds a command (it waits for its session's work): when the app had nothing to do,
    /// the time it is given to answer starts now, as if it were sent.
    pub fn hold(&mut self, held: crate::runtime::Held) {
        if self.unanswered.is_empty() && self.held.is_empty() {
            self.progress = Instant::now();
        }
        self.held.push_back(held);
    }

    /// Sends a command that was held (its time to answer started when it was held).
    pub fn send_held(
        &mut self,
        cmd: &AppCommand,
        fd: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Result<(), String> {
        self.send_at(cmd, fd, false)
    }

    fn send_at(
        &mut self,
        cmd: &AppCommand,
        fd: Option<std::os::fd::BorrowedFd<'_>>,
        restart_progress: bool,
    ) -> Result<(), String> {
        if let Some(why) = &self.dead {
            return Err(why.clone());
        }
        match sock::send(&self.stream, Kind::AppCommand, cmd, fd) {
            Ok(()) => {
                self.sent += 1;
                let now = Instant::now();
                if self.unanswered.is_empty() && restart_progress {
                    self.progress = now;
                }
                self.unanswered.push_back(now);
                Ok(())
            }
            Err(e) => {
                let why = if e.kind() == std::io::ErrorKind::WouldBlock {
                    "its socket is full: it reads no commands".to_string()
                } else {
                    format!("cannot send it a command: {e}")
                };
                self.dead = Some(why.clone());
                Err(why)
            }
        }
    }

    /// When the oldest unanswered command was sent.
    pub fn oldest_unanswered(&self) -> Option<Instant> {
        self.unanswered.front().copied()
    }

    /// Since when the app has been silent about its commands: `None` when it has none
    /// waiting, else the time since its last answer (or since the first command it is
    /// waiting on was sent, if later).
    pub fn stalled_for(&self, now: Instant) -> Option<Duration> {
        self.unanswered
            .front()
            .map(|_| now.saturating_duration_since(self.progress))
    }

    /// Disconnects: the app sees its socket close, the loop sees the hang-up.
    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// A connection still sending its hello.
struct Pending {
    stream: UnixStream,
    cred: PeerCred,
    buf: Vec<u8>,
    deadline: Instant,
}

/// A registered app's read side.
struct Live {
    stream: UnixStream,
    buf: Vec<u8>,
}

/// What reading a socket gave.
enum Read1 {
    /// Nothing more for now.
    Idle,
    /// The peer closed or the socket failed.
    Gone(String),
}

/// Appends what `s` has to `buf` (at most `max_bytes` in all), without blocking.
fn read_some(s: &UnixStream, buf: &mut Vec<u8>, max_bytes: usize) -> Read1 {
    let mut chunk = [0u8; READ_CHUNK_BYTES];
    loop {
        let room = max_bytes.saturating_sub(buf.len()).min(chunk.len());
        if room == 0 {
            return Read1::Idle;
        }
        let mut r = s;
        match r.read(&mut chunk[..room]) {
            Ok(0) => return Read1::Gone("hung up".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Read1::Idle,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Read1::Gone(e.to_string()),
        }
    }
}

/// Whether `buf` starts with a frame header of `kind`.
fn is_kind(buf: &[u8], kind: Kind) -> bool {
    buf.first_chunk::<HEADER_BYTES>()
        .is_some_and(|h| frame::decode_header(h, kind).is_ok())
}

/// The first whole frame of `kind` in `buf`, removed from it. `Ok(None)`: not complete yet.
fn take_frame<T: Wire>(buf: &mut Vec<u8>, kind: Kind, max_bytes: u32) -> Result<Option<T>, String> {
    let Some(head) = buf.first_chunk::<HEADER_BYTES>() else {
        return Ok(None);
    };
    let h = frame::decode_header(head, kind).map_err(|e| e.to_string())?;
    if h.payload_bytes > max_bytes {
        return Err(format!(
            "a message of {} bytes (at most {max_bytes})",
            h.payload_bytes
        ));
    }
    let end = HEADER_BYTES + h.payload_bytes as usize;
    if buf.len() < end {
        return Ok(None);
    }
    let msg = wire::decode_all::<T>(&buf[HEADER_BYTES..end]).map_err(|e| e.to_string())?;
    buf.drain(..end);
    Ok(Some(msg))
}

/// Serves the application socket until the process exits.
pub fn serve(listener: UnixListener, state: Shared, daemon_uid: u32) {
    if let Err(e) = listener.set_nonblocking(true) {
        log(&format!("app socket: {e}"));
        return;
    }
    let mut pending: Vec<Pending> = Vec::new();
    let mut live: HashMap<AppId, Live> = HashMap::new();
    let mut next: AppId = 1;
    let mut waiting = false;
    loop {
        let ids: Vec<AppId> = live.keys().copied().collect();
        // Deadlines to watch (hellos, unanswered commands): wake up to check them.
        let timeout = (!pending.is_empty() || waiting).then_some(TICK);
        let ready = {
            let mut fds = vec![listener.as_fd()];
            fds.extend(pending.iter().map(|p| p.stream.as_fd()));
            fds.extend(ids.iter().map(|id| live[id].stream.as_fd()));
            sys::poll_readable(&fds, timeout)
        };
        if ready.first() == Some(&true) {
            accept(&listener, &mut pending, daemon_uid);
        }
        // Hellos.
        let mut still = Vec::with_capacity(pending.len());
        // Every pending connection is read (non-blocking): those accepted just now have no
        // poll entry yet.
        for mut p in std::mem::take(&mut pending) {
            let max = HEADER_BYTES + frame::MAX_PAYLOAD_BYTES as usize;
            if let Read1::Gone(why) = read_some(&p.stream, &mut p.buf, max) {
                log(&format!(
                    "app pid {} gone before its hello: {why}",
                    p.cred.pid
                ));
                continue;
            }
            // A registered app's short second connection, announcing tracepoints it added.
            if is_kind(&p.buf, Kind::AppEvents) {
                match take_frame::<AppEvents>(&mut p.buf, Kind::AppEvents, frame::MAX_PAYLOAD_BYTES)
                {
                    Ok(None) if Instant::now() < p.deadline => still.push(p),
                    Ok(None) => log(&format!(
                        "app pid {} uid {}: no whole tracepoint announcement within {} s",
                        p.cred.pid,
                        p.cred.uid,
                        HELLO_TIMEOUT.as_secs()
                    )),
                    Err(e) => log(&format!(
                        "app pid {}: bad tracepoint announcement: {e}",
                        p.cred.pid
                    )),
                    Ok(Some(m)) => crate::runtime::app_events(p.stream, p.cred, m.events, &state),
                }
                continue;
            }
            match take_frame::<AppHello>(&mut p.buf, Kind::AppHello, frame::MAX_PAYLOAD_BYTES) {
                Ok(None) if Instant::now() < p.deadline => still.push(p),
                Ok(None) => log(&format!(
                    "refused app pid {} uid {}: no whole hello within {} s",
                    p.cred.pid,
                    p.cred.uid,
                    HELLO_TIMEOUT.as_secs()
                )),
                Err(e) => log(&format!(
                    "app pid {} uid {}: bad registration: {e}",
                    p.cred.pid, p.cred.uid
                )),
                Ok(Some(hello)) => {
                    let id = next;
                    next += 1;
                    if let Some(l) = register(id, p, hello, &state) {
                        live.insert(id, l);
                    }
                }
            }
        }
        pending = still;
        // Answers and hang-ups of registered apps.
        let base = ready.len() - ids.len();
        for (i, id) in ids.iter().enumerate() {
            if !ready.get(base + i).copied().unwrap_or(false) {
                continue;
            }
            let Some(l) = live.get_mut(id) else { continue };
            let gone = match read_some(
                &l.stream,
                &mut l.buf,
                HEADER_BYTES + MAX_REPLY_BYTES as usize,
            ) {
                Read1::Gone(why) => Some(why),
                Read1::Idle => None,
            };
            let mut g = lock(&state);
            loop {
                match take_frame::<AppReply>(&mut l.buf, Kind::AppReply, MAX_REPLY_BYTES) {
                    Ok(None) => break,
                    Ok(Some(reply)) => answered(&mut g, *id, reply),
                    Err(e) => {
                        if let Some(c) = g.io.apps.get_mut(id) {
                            c.dead.get_or_insert(format!("bad answer: {e}"));
                        }
                        break;
                    }
                }
            }
            if let Some(why) = gone {
                if let Some(c) = g.io.apps.get_mut(id) {
                    c.dead.get_or_insert(why);
                }
            }
            reap(&mut g, &state);
            drop(g);
            state.1.notify_all();
        }
        // Apps that leave a command unanswered too long.
        let mut g = lock(&state);
        let now_t = Instant::now();
        for c in g.io.apps.values_mut() {
            if c.oldest_unanswered()
                .is_some_and(|t| now_t - t > APP_TIMEOUT)
            {
                c.dead
                    .get_or_insert(format!("no answer within {} s", APP_TIMEOUT.as_secs()));
            }
        }
        reap(&mut g, &state);
        live.retain(|id, _| g.io.apps.contains_key(id));
        let answers = crate::runtime::take_ready_announcements(&mut g.io);
        waiting =
            !g.io.held.is_empty() || g.io.apps.values().any(|c| c.oldest_unanswered().is_some());
        drop(g);
        state.1.notify_all();
        for (conn, reply) in answers {
            crate::runtime::send_announcement_answer(conn, reply);
        }
    }
}

/// Accepts every waiting connection, within the per-uid and total limits.
fn accept(listener: &UnixListener, pending: &mut Vec<Pending>, daemon_uid: u32) {
    loop {
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let Ok(cred) = sock::peer_cred(&conn) else {
            continue;
        };
        if !crate::access::app_allowed(daemon_uid, cred.uid) {
            log(&format!(
                "refused app pid {}: uid {} is not this daemon's user",
                cred.pid, cred.uid
            ));
            continue;
        }
        let of_uid = pending.iter().filter(|p| p.cred.uid == cred.uid).count();
        if pending.len() >= MAX_PENDING || of_uid >= MAX_PENDING_PER_UID {
            log(&format!(
                "refused app pid {} uid {}: too many registrations under way",
                cred.pid, cred.uid
            ));
            continue;
        }
        if conn.set_nonblocking(true).is_err() {
            continue;
        }
        pending.push(Pending {
            stream: conn,
            cred,
            buf: Vec::new(),
            deadline: Instant::now() + HELLO_TIMEOUT,
        });
    }
}

/// Registers an app whose hello arrived; returns its read side, or None if refused.
fn register(id: AppId, p: Pending, mut hello: AppHello, state: &Shared) -> Option<Live> {
    let cred = p.cred;
    // What the kernel says wins over what the app says.
    hello.pid = cred.pid;
    hello.uid = cred.uid;
    if let Err(e) = rttng_session::validate_hello(&hello) {
        log(&format!(
            "refused app pid {} uid {}: {e}",
            cred.pid, cred.uid
        ));
        return None;
    }
    let read = p.stream.try_clone().ok()?;
    let mut g = lock(state);
    let of_uid = g.io.apps.values().filter(|c| c.uid == cred.uid).count();
    if g.io.apps.len() >= MAX_APPS || of_uid >= MAX_APPS_PER_UID {
        log(&format!(
            "refused app pid {} uid {}: too many apps registered ({} of this uid, {} in all)",
            cred.pid,
            cred.uid,
            of_uid,
            g.io.apps.len()
        ));
        return None;
    }
    g.io.apps.insert(
        id,
        AppConn {
            stream: p.stream,
            pid: cred.pid,
            uid: cred.uid,
            unanswered: VecDeque::new(),
            progress: Instant::now(),
            sent: 0,
            answered: 0,
            dead: None,
            held: VecDeque::new(),
        },
    );
    let State { reg, io } = &mut *g;
    match reg.app_registered_as(id, hello, Some(cred.gid), &now(), io) {
        Ok(errs) => {
            for e in errs {
                log(&e);
            }
        }
        Err(e) => {
            log(&format!(
                "refused app pid {} uid {}: {e}",
                cred.pid, cred.uid
            ));
            if let Some(c) = io.apps.remove(&id) {
                c.shutdown();
            }
            return None;
        }
    }
    reap(&mut g, state);
    Some(Live {
        stream: read,
        buf: Vec::new(),
    })
}

/// Hands one answer of app `id` to the registry.
fn answered(g: &mut State, id: AppId, reply: AppReply) {
    let Some(c) = g.io.apps.get_mut(&id) else {
        return;
    };
    if c.unanswered.pop_front().is_none() {
        c.dead.get_or_insert("an answer to no command".into());
        return;
    }
    c.answered += 1;
    c.progress = Instant::now();
    let pid = c.pid;
    let State { reg, io } = g;
    match reg.app_replied(id, reply, io) {
        Ok(errs) => {
            for e in errs {
                log(&e);
            }
        }
        Err(e) => {
            if let Some(c) = io.apps.get_mut(&id) {
                c.dead.get_or_insert(format!("app {pid}: {e}"));
            }
        }
    }
}
