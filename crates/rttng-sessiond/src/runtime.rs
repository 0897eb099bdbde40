//! The daemon's moving parts: the listening sockets, a thread per client connection (at
//! most [`MAX_CLIENTS_PER_UID`] per uid), the app event loop (`apps.rs`), the consumer child
//! process, the stop-signal thread, and the [`Port`] implementation that turns the
//! registry's effects into socket messages (passing buffer fds from the consumer to the
//! applications). Commands to apps are non-blocking writes; their answers come back through
//! the event loop, so no app I/O waits while the lock is held. A client whose request sent
//! commands waits for their answers *after* releasing the lock, at most
//! [`CLIENT_APP_WAIT`], and only for apps that make progress: not for an app silent on a
//! command for [`APP_LATE`] (so a stopped or mute app delays a client by at most that, once).
//! No consumer request and no kernel operation runs under the lock: each session's work is
//! collected under it and carried out after, in order, by the session's worker
//! (`runtime/queues.rs`); a client whose request made work of its session waits for it with
//! the lock released, and answers from it. Not here: any decision about sessions.

use crate::apps::AppConn;
use crate::{paths, sys};
use rttng_proto::frame;
use rttng_proto::sock::{self, RecvError};
use rttng_proto::*;
use rttng_session::{AppId, Clock, Effect, Host, KernelOp, KernelReply, Port, Registry};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod clients;
mod queues;
use clients::accept_clients;
pub use queues::{Held, Link, Queues};

/// How long a client may take to send one whole request, from the moment the daemon
/// waits for it (a total deadline: trickling bytes does not extend it).
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the consumer may take for one request (a flush writes data).
const CONSUMER_TIMEOUT: Duration = Duration::from_secs(60);
/// Most client connections served at once for users other than root; more are refused.
const MAX_CLIENTS: usize = 64;
/// Most client connections of one uid (root included) served at once.
pub const MAX_CLIENTS_PER_UID: usize = 8;
/// Longest a client's request waits (lock released) for the apps it sent commands to.
pub const CLIENT_APP_WAIT: Duration = Duration::from_secs(5);
/// An app that has answered nothing for this long while commands wait is late: clients
/// stop waiting for it (an app that keeps answering is waited for, up to
/// [`CLIENT_APP_WAIT`]). Issue 10's bound on how long one party may delay another client
/// is 100 ms; this leaves room for the request's own work.
pub const APP_LATE: Duration = Duration::from_millis(50);
/// Period of re-checking lateness while a client waits.
const WAIT_PERIOD: Duration = Duration::from_millis(10);

pub struct Options {
    pub rundir: PathBuf,
    pub euid: u32,
    pub group: String,
    pub consumerd_path: Option<PathBuf>,
    pub announce_ready: bool,
    /// Trace the kernel (root, without `--no-kernel`).
    pub kernel: bool,
}

pub struct Io {
    /// The consumer, reachable without the lock.
    link: Arc<Link>,
    /// The daemon is shutting down: a consumer that ends is not restarted.
    stopping: bool,
    /// Shutting down: the port carries out work at once (the lock is held, nobody waits).
    sync: bool,
    pub apps: HashMap<AppId, AppConn>,
    buffer_fds: HashMap<u64, OwnedFd>,
    /// Kernel sessions by session id (root daemon only), used by the sessions' workers.
    pub(crate) kernels: Arc<crate::kernel::Kernels>,
    /// Each session's work (`queues.rs`).
    queues: Queues,
    /// Sessions with a client request under way: the next request on one waits.
    turns: HashSet<u64>,
    /// Answers to tracepoint announcements held until the app has carried out the
    /// commands the announcement caused ([`take_ready_announcements`]).
    pub held: Vec<HeldAnswer>,
    /// The credentials of each output directory's owner, as declared for sessions (at
    /// most [`MAX_OWNERS`], oldest forgotten first), with the sessions that declared it
    /// (forgotten when the last one is destroyed): `start` checks an output with them.
    owners: Vec<(String, rttng_runas::Creds, BTreeSet<u64>)>,
}

/// An answer to an app's tracepoint announcement, sent once the app has answered every
/// command sent before it (so that when its provider's constructor returns, the events
/// the rules ask for are enabled), or at its deadline.
pub struct HeldAnswer {
    conn: UnixStream,
    reply: AppReply,
    app: AppId,
    deadline: Instant,
}

/// The held announcement answers that may go now (their app answered everything, is gone,
/// or the deadline passed); the caller sends them with [`send_announcement_answer`] after
/// releasing the lock.
pub fn take_ready_announcements(io: &mut Io) -> Vec<(UnixStream, AppReply)> {
    let now = Instant::now();
    let (ready, held): (Vec<HeldAnswer>, Vec<HeldAnswer>) =
        std::mem::take(&mut io.held).into_iter().partition(|h| {
            now >= h.deadline
                || io.apps.get(&h.app).is_none_or(|c| {
                    c.dead.is_some() || (c.oldest_unanswered().is_none() && c.held.is_empty())
                })
        });
    io.held = held;
    ready.into_iter().map(|h| (h.conn, h.reply)).collect()
}

/// Sends an announcement answer: a short bounded write (the event loop must not wait on
/// this app).
pub fn send_announcement_answer(conn: UnixStream, reply: AppReply) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = sock::send(&conn, Kind::AppReply, &reply, None);
}

/// Most output owners remembered (beyond every session the limits allow).
const MAX_OWNERS: usize = 4096;

pub struct State {
    pub reg: Registry,
    pub io: Io,
}

/// The consumer's answers to a job, in order.
type Answers = Vec<rttng_session::Answer>;

/// The answers of consumer `pid`'s lane, as the registry should take them now: if that
/// consumer died and another runs (the registry knows), its failures are warnings of the
/// request, not the new consumer's death.
fn answers_now(io: &Io, pid: u32, mut answers: Answers) -> Answers {
    if io.link.pid() != pid {
        for a in &mut answers {
            if let Err(message) = a {
                // The consumer that failed was replaced meanwhile: its session's data is what
                // it wrote before it died (a stop that raced the death says so, as one after
                // it does).
                *a = Ok(rttng_session::Reply::Consumer(ConsumerReply::Error {
                    message: rttng_session::lost_message(message),
                }));
            }
        }
    }
    answers
}

/// The state behind its one lock, and the condition clients wait on for app answers.
pub type Shared = Arc<(Mutex<State>, Condvar)>;

pub fn lock(s: &Shared) -> MutexGuard<'_, State> {
    // A panic in one connection thread must not take the daemon down.
    s.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// Disconnects every app marked dead and tells the registry (their buffers are
/// recovered, and per-process ones removed, by the sessions' workers), then queues the
/// work collected so far. Called after every change of the registry.
pub fn reap(g: &mut State, state: &Shared) {
    while let Some((&id, c)) = g.io.apps.iter().find(|(_, c)| c.dead.is_some()) {
        log(&format!(
            "app pid {} uid {} disconnected: {}",
            c.pid,
            c.uid,
            c.dead.as_deref().unwrap_or("")
        ));
        c.shutdown();
        g.io.apps.remove(&id);
        let State { reg, io } = g;
        let (errs, deferred) = reg.app_gone_deferring(id, io);
        for e in errs {
            log(&e);
        }
        // Recoveries first (collected), then the removals, in each session's order.
        queues::submit_collected(g, state);
        for d in deferred {
            let (sid, effects) = (d.session_id, d.effects.clone());
            queues::submit(
                g,
                state,
                sid,
                Vec::new(),
                effects,
                queues::Then::Deferred(d),
            );
        }
    }
    queues::submit_collected(g, state);
}

pub fn log(msg: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "rttng-sessiond[{}]: {msg}",
        std::process::id()
    );
}

impl Io {
    /// Carries out a consumer request at once (shutdown only: the lock is held).
    fn consumer_now(&mut self, req: &ConsumerRequest) -> Result<ConsumerReply, String> {
        let (lane, pid) = self.link.lane()?;
        let (reply, fd) = queues::ask(&lane, pid, req)?;
        self.link.give_back(lane, pid);
        match req {
            ConsumerRequest::AddBuffer { spec }
            | ConsumerRequest::AddSnapshotBuffer { spec }
            | ConsumerRequest::AddRelayBuffer { spec, .. } => {
                if let Some(fd) = fd {
                    self.buffer_fds.insert(spec.buffer_id, fd);
                }
            }
            ConsumerRequest::RemoveBuffer { buffer_id } => {
                self.buffer_fds.remove(buffer_id);
            }
            _ => {}
        }
        Ok(reply)
    }
}

impl Port for Io {
    fn consumer(&mut self, req: ConsumerRequest) -> Result<ConsumerReply, String> {
        self.consumer_now(&req)
    }

    fn consumer_in(
        &mut self,
        session_id: u64,
        req: ConsumerRequest,
    ) -> Result<ConsumerReply, String> {
        if self.sync {
            return self.consumer_now(&req);
        }
        let reply = queues::answered_at_once(&req);
        self.queues.collect(session_id, Effect::Consumer(req));
        Ok(reply)
    }

    fn app(
        &mut self,
        app: AppId,
        cmd: AppCommand,
        buffer: Option<u64>,
    ) -> Result<Option<AppReply>, String> {
        let barrier =
            queues::command_session(&cmd).and_then(|s| self.queues.barrier(s).map(|b| (s, b)));
        let c = self.apps.get_mut(&app).ok_or("application is gone")?;
        if let Some(why) = &c.dead {
            return Err(why.clone());
        }
        // After a command held, or before its session's work is done: held, in order.
        if !c.held.is_empty() || barrier.is_some() {
            c.hold(Held {
                cmd,
                buffer,
                barrier,
            });
            return Ok(None);
        }
        let fd = match buffer {
            Some(b) => Some(self.buffer_fds.get(&b).ok_or("buffer fd is gone")?.as_fd()),
            None => None,
        };
        c.send(&cmd, fd)?;
        Ok(None)
    }

    fn prepare_output(&mut self, path: &str, uid: u32) -> Result<(), String> {
        // Another user's output is checked with that user's credentials (those declared
        // when the session was created), never as the daemon's user: root could write
        // where the user cannot, and the consumer writes as the user.
        let creds = if uid == sys::euid() {
            None
        } else {
            let c = self
                .owners
                .iter()
                .rev()
                .find(|(o, c, _)| o == path && c.uid == uid)
                .map(|(_, c, _)| c.clone())
                .ok_or_else(|| {
                    format!("{path}: the credentials of its owner (uid {uid}) are not known")
                })?;
            Some(c)
        };
        crate::output::prepare(std::path::Path::new(path), creds)
    }

    fn home_of(&mut self, uid: u32) -> Option<String> {
        if uid == sys::euid() {
            return None;
        }
        crate::output::home_of(uid)
    }

    fn new_uuid(&mut self) -> [u8; 16] {
        uuid::Uuid::new_v4().into_bytes()
    }

    fn kernel(&mut self, session_id: u64, op: KernelOp) -> Result<KernelReply, String> {
        if self.sync {
            let kernels = self.kernels.clone();
            let mut consumer = |r: ConsumerRequest| self.consumer_now(&r);
            let mut ctx = crate::kernel::Ctx {
                kernels: &kernels,
                consumer: &mut consumer,
            };
            return crate::kernel::op(&mut ctx, session_id, op);
        }
        self.queues.collect(session_id, Effect::Kernel(op));
        Ok(KernelReply::Ok)
    }
}

pub fn now() -> Clock {
    let secs = rttng_clock::date::now_s();
    // Local time as LTTng names sessions; UTC if the C library cannot convert.
    let tm = rttng_clock::date::localtime(secs).unwrap_or_else(|| rttng_clock::date::gmtime(secs));
    Clock {
        compact: tm.compact(),
        iso: tm.iso(),
        epoch_s: u64::try_from(secs).unwrap_or(0),
    }
}

pub fn make_rundir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // The root daemon's directory must be traversable by its group's members (the client
    // socket's own mode restricts who connects); a user's directory is private.
    let mode = if sys::euid() == 0 { 0o755 } else { 0o700 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", dir.display()))
}

/// Binds `path`, refusing if a live daemon answers there, replacing a stale socket.
fn bind(path: &Path) -> Result<UnixListener, String> {
    if UnixStream::connect(path).is_ok() {
        return Err(format!(
            "a session daemon already answers on {}",
            path.display()
        ));
    }
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))
}

/// Most consumer daemons started after the first one within [`CONSUMER_RESPAWN_WINDOW`];
/// past it the consumer stays dead (one that dies at once would otherwise spin).
const CONSUMER_RESPAWNS_MAX: usize = 5;
const CONSUMER_RESPAWN_WINDOW: Duration = Duration::from_secs(60);

/// Starts the consumer daemon, talking over a socket pair given as its standard input, and
/// records its pid. Returns our end of the socket and the child.
fn spawn_consumer(
    rundir: &Path,
    consumerd: &Option<PathBuf>,
) -> Result<(UnixStream, std::process::Child), String> {
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| format!("cannot create the consumer socket: {e}"))?;
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        // Root-only: it names users' trace paths.
        .mode(0o600)
        .open(rundir.join(paths::LOG_FILE))
        .ok();
    let mut cmd = Command::new(consumerd_path(consumerd));
    cmd.stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null());
    match log_file {
        Some(f) => cmd.stderr(f),
        None => cmd.stderr(Stdio::null()),
    };
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start rttng-consumerd: {e}"))?;
    // The Command holds our copy of the consumer's socket end: close it, or we would never
    // see the consumer hang up.
    drop(cmd);
    ours.set_read_timeout(Some(CONSUMER_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let _ = std::fs::write(
        rundir.join(paths::CONSUMER_PID_FILE),
        format!("{}\n", child.id()),
    );
    Ok((ours, child))
}

/// Waits for the consumer daemon to end; then the sessions that had buffers in it lose
/// them (and say so), and a new consumer is started for new sessions, at most
/// [`CONSUMER_RESPAWNS_MAX`] times per [`CONSUMER_RESPAWN_WINDOW`].
fn watch_consumer(
    mut child: std::process::Child,
    st: &Shared,
    rundir: &Path,
    consumerd: &Option<PathBuf>,
) {
    let mut respawns: std::collections::VecDeque<std::time::Instant> = Default::default();
    loop {
        let pid = child.id();
        let why = match child.wait() {
            Ok(s) => format!("rttng-consumerd (pid {pid}) exited: {s}"),
            Err(e) => format!("rttng-consumerd (pid {pid}) cannot be waited for: {e}"),
        };
        log(&why);
        let mut g = lock(st);
        if g.io.stopping {
            return;
        }
        g.io.link.replace(None, 0);
        g.io.buffer_fds.clear();
        g.reg.consumer_died(why);
        let now = std::time::Instant::now();
        while respawns
            .front()
            .is_some_and(|t| now.duration_since(*t) > CONSUMER_RESPAWN_WINDOW)
        {
            respawns.pop_front();
        }
        if respawns.len() >= CONSUMER_RESPAWNS_MAX {
            log(&format!(
                "rttng-consumerd died {CONSUMER_RESPAWNS_MAX} times within {:?}: not restarted; restart the session daemon",
                CONSUMER_RESPAWN_WINDOW
            ));
            return;
        }
        match spawn_consumer(rundir, consumerd) {
            Ok((sock, next)) => {
                respawns.push_back(now);
                log(&format!("rttng-consumerd restarted (pid {})", next.id()));
                g.io.link.replace(Some(sock), next.id());
                g.reg.consumer_restarted();
                drop(g);
                child = next;
            }
            Err(e) => {
                log(&format!("{e}; the consumer daemon stays dead"));
                return;
            }
        }
    }
}

fn consumerd_path(opt: &Option<PathBuf>) -> PathBuf {
    if let Some(p) = opt {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("RTTNG_CONSUMERD_PATH") {
        return p.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("rttng-consumerd")))
        .unwrap_or_else(|| "rttng-consumerd".into())
}

pub fn serve(opt: Options) -> Result<(), String> {
    sys::block_stop_signals();
    if opt.announce_ready {
        sys::setsid();
    }
    make_rundir(&opt.rundir)?;
    if opt.euid == 0 {
        // Kernel sessions of a daemon killed with SIGKILL leave their tracefs instances
        // behind; their owner pid is dead, so they are ours to remove.
        if let Ok(removed) = rttng_kernel::cleanup_stale_instances() {
            if !removed.is_empty() {
                log(&format!(
                    "removed stale tracefs instances: {}",
                    removed.join(", ")
                ));
            }
        }
    }
    let client_path = opt.rundir.join(paths::CLIENT_SOCKET);
    let app_path = opt.rundir.join(paths::APP_SOCKET);
    let clients = bind(&client_path)?;
    let apps = bind(&app_path)?;
    let group_gid = if opt.euid == 0 {
        sys::group_gid(&opt.group)
    } else {
        None
    };
    if opt.euid == 0 {
        // Root daemon: members of the tracing group may use it; every app may register.
        let mode = if group_gid.is_some() { 0o660 } else { 0o600 };
        if let Some(g) = group_gid {
            std::os::unix::fs::chown(&client_path, Some(0), Some(g)).map_err(|e| {
                format!(
                    "cannot give {} to group {}: {e}",
                    client_path.display(),
                    opt.group
                )
            })?;
        }
        let _ = std::fs::set_permissions(&client_path, std::fs::Permissions::from_mode(mode));
        let _ = std::fs::set_permissions(&app_path, std::fs::Permissions::from_mode(0o666));
    }

    let (ours, child) = spawn_consumer(&opt.rundir, &opt.consumerd_path)?;
    let consumer_pid = child.id();
    std::fs::write(
        opt.rundir.join(paths::PID_FILE),
        format!("{}\n", std::process::id()),
    )
    .map_err(|e| format!("cannot write the pid file: {e}"))?;

    let host = Host {
        home: paths::home().to_string_lossy().into_owned(),
        hostname: sys::hostname(),
        cpu_count: sys::cpu_count(),
        kernel: opt.kernel,
    };
    let state: Shared = Arc::new((
        Mutex::new(State {
            reg: Registry::new(host),
            io: Io {
                link: Arc::new(Link::new(Some(ours), consumer_pid)),
                stopping: false,
                sync: false,
                apps: HashMap::new(),
                buffer_fds: HashMap::new(),
                kernels: Arc::default(),
                queues: Queues::default(),
                turns: HashSet::new(),
                owners: Vec::new(),
                held: Vec::new(),
            },
        }),
        Condvar::new(),
    ));

    // Consumer watcher: it is our child, so wait() tells exactly when and how it ended.
    {
        let st = state.clone();
        let (rundir, path) = (opt.rundir.clone(), opt.consumerd_path.clone());
        std::thread::spawn(move || watch_consumer(child, &st, &rundir, &path));
    }
    {
        let st = state.clone();
        let daemon_uid = opt.euid;
        std::thread::spawn(move || crate::apps::serve(apps, st, daemon_uid));
    }
    {
        let st = state.clone();
        let daemon_uid = opt.euid;
        std::thread::spawn(move || accept_clients(clients, st, daemon_uid, group_gid));
    }
    // The LTTng agents (port file: `agent::port_file`).
    let private = std::env::var_os("RTTNG_RUNDIR").is_some();
    if let Err(e) = crate::agent::start(opt.euid, private) {
        log(&format!("agents disabled: {e}"));
    }
    log(&format!(
        "serving on {} (consumer pid {consumer_pid})",
        opt.rundir.display()
    ));
    if opt.announce_ready {
        crate::announce_ready();
    }
    let sig = sys::wait_stop_signal();
    log(&format!("signal {sig}: stopping every active session"));
    shutdown(&state);
    crate::agent::stop();
    let _ = std::fs::remove_file(&client_path);
    let _ = std::fs::remove_file(&app_path);
    let _ = std::fs::remove_file(opt.rundir.join(paths::PID_FILE));
    let _ = std::fs::remove_file(opt.rundir.join(paths::CONSUMER_PID_FILE));
    Ok(())
}

fn shutdown(state: &Shared) {
    let mut g = lock(state);
    let State { reg, io } = &mut *g;
    // The lock stays held: every session's work is carried out at once.
    io.sync = true;
    for (name, uid) in reg.active_sessions() {
        let out = reg.handle(
            Request::Stop {
                session: name.clone(),
            },
            uid,
            &now(),
            io,
        );
        log(&format!("stopped session {name}: {:?}", out.response));
    }
    // Kernel sessions own tracefs instances: the consumer closes its files of them, then
    // they are removed (their traces stay).
    let kernel: Vec<u64> = io
        .kernels
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .keys()
        .copied()
        .collect();
    for id in kernel {
        if let Err(e) = io.kernel(id, KernelOp::Destroy) {
            log(&format!("kernel session: {e}"));
        }
    }
    io.stopping = true;
    // Quit makes the consumer write out every buffer before exiting.
    io.link.quit();
}

/// A registered app's second connection: tracepoints it added after its hello. The app is
/// the one registered with the connection's pid and uid; anything else is refused. Called
/// by the app event loop once the whole announcement has arrived.
pub fn app_events(
    conn: UnixStream,
    cred: sock::PeerCred,
    events: Vec<rttng_proto::EventDesc>,
    state: &Shared,
) {
    let reply = {
        let mut g = lock(state);
        let State { reg, io } = &mut *g;
        let app = reg
            .app_pids()
            .into_iter()
            .find(|(id, pid)| {
                *pid == cred.pid && io.apps.get(id).is_some_and(|c| c.uid == cred.uid)
            })
            .map(|(id, _)| id);
        let reply = match app.map(|id| reg.app_events_added(id, events, io)) {
            Some(Ok(errs)) => {
                for e in errs {
                    log(&e);
                }
                AppReply::Ok {
                    context_class: None,
                }
            }
            Some(Err(e)) => {
                log(&format!("app pid {}: tracepoints refused: {e}", cred.pid));
                AppReply::Error { message: e }
            }
            None => {
                log(&format!(
                    "app pid {}: tracepoint announcement from an unregistered process",
                    cred.pid
                ));
                AppReply::Error {
                    message: "this process is not registered".into(),
                }
            }
        };
        reap(&mut g, state);
        // Commands the announcement caused (Enable, SetFilter) are in flight: answer once
        // the app has carried them out (the event loop releases it).
        // (Held commands too: they wait for their session's work, such as the metadata.)
        if let Some(id) = app.filter(|id| {
            g.io.apps
                .get(id)
                .is_some_and(|c| c.oldest_unanswered().is_some() || !c.held.is_empty())
        }) {
            g.io.held.push(HeldAnswer {
                conn,
                reply,
                app: id,
                deadline: Instant::now() + CLIENT_APP_WAIT,
            });
            drop(g);
            state.1.notify_all();
            return;
        }
        reply
    };
    state.1.notify_all();
    send_announcement_answer(conn, reply);
}
