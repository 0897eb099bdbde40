//! The daemon's moving parts: the listening sockets, one thread per connection, the
//! consumer child process, the stop-signal thread, and the [`Port`] implementation that turns
//! the registry's effects into socket messages (passing buffer fds from the consumer to the
//! applications). Not here: any decision about sessions.

use crate::{paths, sys};
use rttng_proto::sock::{self, RecvError};
use rttng_proto::*;
use rttng_session::{AppId, Clock, Host, KernelOp, KernelReply, Port, Registry};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long we wait for an application to answer one command (LTTng's default is 5 s).
const APP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to send a request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the consumer may take for one request (a flush writes data).
const CONSUMER_TIMEOUT: Duration = Duration::from_secs(60);
/// Most client connections served at once; more are refused.
const MAX_CLIENTS: usize = 64;
/// Most registered applications.
const MAX_APPS: usize = 4096;

pub struct Options {
    pub rundir: PathBuf,
    pub euid: u32,
    pub group: String,
    pub consumerd_path: Option<PathBuf>,
    pub announce_ready: bool,
    /// Trace the kernel (root, without `--no-kernel`).
    pub kernel: bool,
}

struct Io {
    consumer: Option<UnixStream>,
    consumer_pid: u32,
    /// The daemon is shutting down: a consumer that ends is not restarted.
    stopping: bool,
    apps: HashMap<AppId, UnixStream>,
    buffer_fds: HashMap<u64, OwnedFd>,
    /// Kernel sessions by session id (root daemon only).
    kernel: HashMap<u64, rttng_kernel::KernelSession>,
}

struct State {
    reg: Registry,
    io: Io,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    // A panic in one connection thread must not take the daemon down.
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn log(msg: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "rttng-sessiond[{}]: {msg}",
        std::process::id()
    );
}

impl Port for Io {
    fn consumer(&mut self, req: ConsumerRequest) -> Result<ConsumerReply, String> {
        let Some(c) = &self.consumer else {
            return Err("rttng-consumerd is not running".into());
        };
        let add = match &req {
            ConsumerRequest::AddBuffer { spec }
            | ConsumerRequest::AddSnapshotBuffer { spec }
            | ConsumerRequest::AddRelayBuffer { spec, .. } => Some(spec.buffer_id),
            _ => None,
        };
        if let ConsumerRequest::RemoveBuffer { buffer_id } = &req {
            self.buffer_fds.remove(buffer_id);
        }
        let r = sock::send(c, Kind::ConsumerRequest, &req, None)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                sock::recv::<ConsumerReply>(c, Kind::ConsumerReply).map_err(|e| e.to_string())
            });
        match r {
            Ok((reply, fd)) => {
                if let (Some(id), Some(fd)) = (add, fd) {
                    self.buffer_fds.insert(id, fd);
                }
                Ok(reply)
            }
            Err(e) => {
                self.consumer = None;
                Err(format!(
                    "rttng-consumerd (pid {}) stopped answering: {e}",
                    self.consumer_pid
                ))
            }
        }
    }

    fn app(
        &mut self,
        app: AppId,
        cmd: AppCommand,
        buffer: Option<u64>,
    ) -> Result<AppReply, String> {
        let s = self.apps.get(&app).ok_or("application is gone")?;
        let fd = match buffer {
            Some(b) => Some(self.buffer_fds.get(&b).ok_or("buffer fd is gone")?.as_fd()),
            None => None,
        };
        sock::send(s, Kind::AppCommand, &cmd, fd).map_err(|e| e.to_string())?;
        let (reply, _) = sock::recv::<AppReply>(s, Kind::AppReply).map_err(|e| e.to_string())?;
        Ok(reply)
    }

    fn prepare_output(&mut self, path: &str, _uid: u32) -> Result<(), String> {
        // The daemon writes as its own user: a user's daemon is that user.
        crate::output::prepare(std::path::Path::new(path))
    }

    fn new_uuid(&mut self) -> [u8; 16] {
        uuid::Uuid::new_v4().into_bytes()
    }

    fn kernel(&mut self, session_id: u64, op: KernelOp) -> Result<KernelReply, String> {
        use rttng_kernel::{ChannelConfig, Context, KernelSession, Syscalls};
        let cfg = |c: rttng_session::KernelChannel| ChannelConfig {
            name: c.name,
            subbuf_bytes: c.subbuf_bytes,
            subbuf_count: c.subbuf_count,
            overwrite: c.overwrite,
        };
        if let KernelOp::Create {
            session,
            output,
            channel,
            snapshot,
        } = op
        {
            // The user-space tracer's clock, so kernel and user events merge exactly.
            let clock = match rttng_clock::ClockParams::detect() {
                Ok(p) => rttng_kernel::ClockSpec::new(p.source.tracefs_clock(), p.clock_class()),
                Err(_) => rttng_kernel::ClockSpec::monotonic(),
            };
            let mut ks =
                KernelSession::create_with_clock(&session, Path::new(&output), cfg(channel), clock)
                    .map_err(|e| e.to_string())?;
            if snapshot {
                ks.set_snapshot_mode();
            }
            self.kernel.insert(session_id, ks);
            return Ok(KernelReply::Ok);
        }
        if op == KernelOp::Destroy {
            return match self.kernel.remove(&session_id) {
                Some(ks) => ks
                    .destroy()
                    .map(|()| KernelReply::Ok)
                    .map_err(|e| e.to_string()),
                None => Ok(KernelReply::Ok),
            };
        }
        let ks = self
            .kernel
            .get_mut(&session_id)
            .ok_or("no kernel session")?;
        let r = match op {
            KernelOp::AddChannel { channel } => {
                ks.add_channel(cfg(channel)).map(|()| KernelReply::Ok)
            }
            KernelOp::EnableTracepoints { channel, pattern } => ks
                .enable_tracepoints(&channel, &pattern)
                .map(|_| KernelReply::Ok),
            KernelOp::EnableSyscalls { channel, names } => {
                let which = if names.is_empty() {
                    Syscalls::All
                } else {
                    Syscalls::Names(names)
                };
                ks.enable_syscalls(&channel, &which)
                    .map(|_| KernelReply::Ok)
            }
            KernelOp::DisableTracepoints { channel, pattern } => ks
                .disable_tracepoints(&channel, &pattern)
                .map(|_| KernelReply::Ok),
            KernelOp::AddContext { channel, context } => {
                let c = match context {
                    ContextType::Pid | ContextType::Vpid => Context::Pid,
                    ContextType::Tid | ContextType::Vtid => Context::Tid,
                    ContextType::Procname => Context::Procname,
                    ContextType::CpuId => Context::CpuId,
                    ContextType::Prio => Context::Prio,
                    other => {
                        return Err(format!("kernel context {} is not supported", other.name()))
                    }
                };
                ks.add_context(&channel, c).map(|()| KernelReply::Ok)
            }
            KernelOp::Start => ks.start().map(|()| KernelReply::Ok),
            KernelOp::Stop => ks.stop().map(|r| KernelReply::Stopped {
                events_discarded: r.events_discarded,
            }),
            KernelOp::Snapshot {
                output,
                max_packets,
            } => ks
                .snapshot(Path::new(&output), max_packets)
                .map(|r| KernelReply::Stopped {
                    events_discarded: r.events_discarded,
                }),
            KernelOp::EnableTracepointsFiltered {
                channel,
                pattern,
                filter,
            } => {
                let program = rttng_filter::compile(&filter).map_err(|e| e.to_string())?;
                ks.enable_tracepoints_filtered(&channel, &pattern, &program)
                    .map(|_| KernelReply::Ok)
            }
            KernelOp::Create { .. } | KernelOp::Destroy => Ok(KernelReply::Ok),
        };
        r.map_err(|e| e.to_string())
    }
}

fn now() -> Clock {
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
        g.io.consumer = None;
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
                g.io.consumer = Some(sock);
                g.io.consumer_pid = next.id();
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
    let state: Shared = Arc::new(Mutex::new(State {
        reg: Registry::new(host),
        io: Io {
            consumer: Some(ours),
            consumer_pid,
            stopping: false,
            apps: HashMap::new(),
            buffer_fds: HashMap::new(),
            kernel: HashMap::new(),
        },
    }));

    // Consumer watcher: it is our child, so wait() tells exactly when and how it ended.
    {
        let st = state.clone();
        let (rundir, path) = (opt.rundir.clone(), opt.consumerd_path.clone());
        std::thread::spawn(move || watch_consumer(child, &st, &rundir, &path));
    }
    {
        let st = state.clone();
        let daemon_uid = opt.euid;
        std::thread::spawn(move || accept_apps(apps, st, daemon_uid));
    }
    {
        let st = state.clone();
        let daemon_uid = opt.euid;
        std::thread::spawn(move || accept_clients(clients, st, daemon_uid, group_gid));
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
    let _ = std::fs::remove_file(&client_path);
    let _ = std::fs::remove_file(&app_path);
    let _ = std::fs::remove_file(opt.rundir.join(paths::PID_FILE));
    let _ = std::fs::remove_file(opt.rundir.join(paths::CONSUMER_PID_FILE));
    Ok(())
}

fn shutdown(state: &Shared) {
    let mut g = lock(state);
    let State { reg, io } = &mut *g;
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
    // Kernel sessions own tracefs instances: remove them (their traces stay).
    for (_, ks) in io.kernel.drain() {
        if let Err(e) = ks.destroy() {
            log(&format!("kernel session: {e}"));
        }
    }
    io.stopping = true;
    if let Some(c) = io.consumer.take() {
        // Quit makes the consumer write out every buffer before exiting.
        let _ = sock::send(&c, Kind::ConsumerRequest, &ConsumerRequest::Quit, None);
        let _ = sock::recv::<ConsumerReply>(&c, Kind::ConsumerReply);
        // Wait (bounded by the read timeout) for it to close its end: it has exited.
        let _ = sock::recv::<ConsumerReply>(&c, Kind::ConsumerReply);
    }
}

fn accept_clients(l: UnixListener, state: Shared, daemon_uid: u32, group_gid: Option<u32>) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in l.incoming() {
        let Ok(conn) = conn else { continue };
        if active.load(Ordering::Relaxed) >= MAX_CLIENTS {
            let _ = sock::send(
                &conn,
                Kind::Response,
                &Response::error(ErrorCode::Internal, "too many clients; try again"),
                None,
            );
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let (st, act) = (state.clone(), active.clone());
        std::thread::spawn(move || {
            serve_client(conn, &st, daemon_uid, group_gid);
            act.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

fn serve_client(conn: UnixStream, state: &Shared, daemon_uid: u32, group_gid: Option<u32>) {
    let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
    loop {
        let req = match sock::recv::<Request>(&conn, Kind::Request) {
            Ok((r, _)) => r,
            Err(RecvError::Closed) => return,
            Err(RecvError::Frame(e)) => {
                // Answer once, then close: after a bad frame the stream is out of step.
                let _ = sock::send(
                    &conn,
                    Kind::Response,
                    &Response::error(ErrorCode::Protocol, e.to_string()),
                    None,
                );
                return;
            }
            Err(RecvError::Io(_)) => return,
        };
        // Credentials on every request (the peer could have passed the socket on).
        let cred = match sock::peer_cred(&conn) {
            Ok(c) => c,
            Err(_) => return,
        };
        let groups = if daemon_uid == 0 && cred.uid != 0 {
            sys::pid_groups(cred.pid)
        } else {
            Vec::new()
        };
        let allowed = crate::access::client_allowed(daemon_uid, cred.uid, group_gid, &groups);
        let resp = if !allowed {
            Response::error(
                ErrorCode::PermissionDenied,
                format!("user {} may not use this session daemon (owned by uid {daemon_uid}); the root daemon accepts members of its tracing group", cred.uid),
            )
        } else {
            let mut g = lock(state);
            let State { reg, io } = &mut *g;
            let out = reg.handle(req, cred.uid, &now(), io);
            for e in &out.app_errors {
                log(e);
            }
            out.response
        };
        if sock::send(&conn, Kind::Response, &resp, None).is_err() {
            return;
        }
    }
}

fn accept_apps(l: UnixListener, state: Shared, daemon_uid: u32) {
    let mut next: AppId = 1;
    for conn in l.incoming() {
        let Ok(conn) = conn else { continue };
        let id = next;
        next += 1;
        let st = state.clone();
        std::thread::spawn(move || serve_app(id, conn, &st, daemon_uid));
    }
}

fn serve_app(id: AppId, conn: UnixStream, state: &Shared, daemon_uid: u32) {
    let _ = conn.set_read_timeout(Some(APP_TIMEOUT));
    let Ok(cred) = sock::peer_cred(&conn) else {
        return;
    };
    if !crate::access::app_allowed(daemon_uid, cred.uid) {
        log(&format!(
            "refused app pid {}: uid {} is not this daemon's user",
            cred.pid, cred.uid
        ));
        return;
    }
    if let Ok(Kind::AppEvents) = sock::peek_kind(&conn) {
        app_events(conn, cred, state);
        return;
    }
    let mut hello = match sock::recv::<AppHello>(&conn, Kind::AppHello) {
        Ok((h, _)) => h,
        Err(e) => {
            log(&format!("app pid {}: bad registration: {e}", cred.pid));
            return;
        }
    };
    // What the kernel says wins over what the app says.
    hello.pid = cred.pid;
    hello.uid = cred.uid;
    let Ok(watch) = conn.try_clone() else { return };
    {
        let mut g = lock(state);
        if g.io.apps.len() >= MAX_APPS {
            log(&format!(
                "refused app pid {}: {MAX_APPS} apps registered",
                cred.pid
            ));
            return;
        }
        g.io.apps.insert(id, conn);
        let State { reg, io } = &mut *g;
        match reg.app_registered(id, hello, &now(), io) {
            Ok(errs) => {
                for e in errs {
                    log(&e);
                }
            }
            Err(e) => {
                log(&format!("refused app pid {}: {e}", cred.pid));
                io.apps.remove(&id);
                return;
            }
        }
        if let Err(e) = io.app(id, AppCommand::RegistrationDone, None) {
            log(&format!("app pid {}: {e}", cred.pid));
        }
    }
    // Wait for the app to go away (exit, crash, kill -9): its socket hangs up.
    sys::wait_hangup(&watch);
    let mut g = lock(state);
    let State { reg, io } = &mut *g;
    io.apps.remove(&id);
    for e in reg.app_gone(id, io) {
        log(&e);
    }
}

/// A registered app's second connection: tracepoints it added after its hello. The app is
/// the one registered with the connection's pid and uid; anything else is refused.
fn app_events(conn: UnixStream, cred: sock::PeerCred, state: &Shared) {
    let events = match sock::recv::<rttng_proto::AppEvents>(&conn, Kind::AppEvents) {
        Ok((m, _)) => m.events,
        Err(e) => {
            log(&format!(
                "app pid {}: bad tracepoint announcement: {e}",
                cred.pid
            ));
            return;
        }
    };
    let reply = {
        let mut g = lock(state);
        let State { reg, io } = &mut *g;
        let app = reg
            .app_pids()
            .into_iter()
            .find(|(_, pid)| *pid == cred.pid)
            .map(|(id, _)| id);
        match app.map(|id| reg.app_events_added(id, events, io)) {
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
        }
    };
    let _ = sock::send(&conn, Kind::AppReply, &reply, None);
}
