//! The registration thread: connects to each session daemon that exists (the root daemon's
//! `/run/rttng/rttng-ust-sock`, or `$RTTNG_ROOT_RUNDIR/rttng-ust-sock`, and the user's
//! `$RTTNG_HOME/.rttng/rttng-ust-sock`; only `$RTTNG_RUNDIR/rttng-ust-sock` when that
//! variable is set), announces this process's
//! tracepoints and clock (`rttng_proto::AppHello`), then carries out the daemon's commands
//! (install a channel from the passed ring-buffer fd, enable/disable events, flush) through
//! [`crate::control`]. [`start`] waits, at most `RTTNG_UST_REGISTER_TIMEOUT` ms (default
//! 3000; 0 = no wait; -1 = forever), for every daemon to apply its initial state, so events
//! enabled before the app started are recorded from its first event.
//!
//! With no daemon, nothing blocks and the app runs unaffected: a background thread per
//! socket path retries every [`RETRY_PERIOD`] (so an app started before the daemon registers
//! once it runs, and re-registers after a daemon restart; the channels a departed daemon
//! installed are removed). Not here: the event path, session logic.

use crate::control::{self, ChannelKey, ChannelSetup, Context};
use rttng_proto::paths::{APP_SOCKET, ROOT_RUNDIR};
use rttng_proto::sock::{self, RecvError};
use rttng_proto::{AppCommand, AppHello, AppReply, ClockDesc, ContextType, EventDesc, Kind};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Default wait for the daemons' initial state, as LTTng's `LTTNG_UST_REGISTER_TIMEOUT`.
const DEFAULT_REGISTER_TIMEOUT_MS: i64 = 3000;
const TIMEOUT_ENV: &str = "RTTNG_UST_REGISTER_TIMEOUT";
/// Overrides [`ROOT_RUNDIR`] for apps (a root daemon started with `RTTNG_RUNDIR` elsewhere,
/// e.g. in a container or a test), while the user's daemon is still looked for too.
const ROOT_RUNDIR_ENV: &str = "RTTNG_ROOT_RUNDIR";
/// How often a registration thread looks for a daemon that is not there (yet).
pub(crate) const RETRY_PERIOD: Duration = Duration::from_secs(1);

fn socket_paths() -> Vec<PathBuf> {
    if let Some(d) = std::env::var_os("RTTNG_RUNDIR") {
        return vec![PathBuf::from(d).join(APP_SOCKET)];
    }
    let root = std::env::var_os(ROOT_RUNDIR_ENV).unwrap_or_else(|| ROOT_RUNDIR.into());
    let mut v = vec![PathBuf::from(root).join(APP_SOCKET)];
    if let Some(h) = rttng_proto::paths::home_env() {
        let p = h.join(".rttng").join(APP_SOCKET);
        if !v.iter().any(|q| same_place(q, &p)) {
            v.push(p);
        }
    }
    v
}

/// Whether two socket paths name the same place: the same spelling, or directories that
/// exist and are the same (a symlink, `..` or a bind mount). Registering twice with one
/// daemon would record every event twice.
fn same_place(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if a == b {
        return true;
    }
    let dir = |p: &std::path::Path| p.parent().and_then(|d| std::fs::metadata(d).ok());
    match (dir(a), dir(b)) {
        (Some(x), Some(y)) => {
            x.dev() == y.dev() && x.ino() == y.ino() && a.file_name() == b.file_name()
        }
        _ => false,
    }
}

fn procname() -> String {
    let n = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    let n: String = n
        .trim()
        .chars()
        .filter(|c| *c != '/' && !c.is_control())
        .collect();
    if n.is_empty() || n.starts_with('.') {
        "app".to_string()
    } else {
        n
    }
}

fn hello() -> Option<AppHello> {
    let clock = rttng_clock::ClockParams::detect().ok()?;
    let clock = ClockDesc {
        name: clock.name.to_string(),
        description: "Monotonic Clock".to_string(),
        freq: clock.freq_hz,
        offset_s: clock.offset_s,
        offset: clock.offset_cycles,
        precision: 0,
        uuid: clock.uuid,
        absolute: true,
    };
    let events = event_descs(control::events());
    Some(AppHello {
        pid: std::process::id(),
        uid: 0,
        procname: procname(),
        bitness: usize::BITS,
        clock,
        events,
    })
}

fn event_descs(v: Vec<control::EventDescription>) -> Vec<EventDesc> {
    v.into_iter()
        .filter_map(|e| {
            Some(EventDesc {
                index: u32::try_from(e.index).ok()?,
                name: e.name.to_string(),
                loglevel: e.loglevel,
                fields: e.fields,
            })
        })
        .collect()
}

fn map_context(c: ContextType) -> Option<Context> {
    Some(match c {
        ContextType::Vpid => Context::Vpid,
        ContextType::Vtid => Context::Vtid,
        ContextType::Procname => Context::Procname,
        ContextType::PthreadId => Context::PthreadId,
        ContextType::CpuId => Context::CpuId,
        ContextType::Hostname => Context::Hostname,
        ContextType::CgroupNs => Context::Namespace(0),
        ContextType::IpcNs => Context::Namespace(1),
        ContextType::MntNs => Context::Namespace(2),
        ContextType::NetNs => Context::Namespace(3),
        ContextType::PidNs => Context::Namespace(4),
        ContextType::TimeNs => Context::Namespace(5),
        ContextType::UserNs => Context::Namespace(6),
        ContextType::UtsNs => Context::Namespace(7),
        ContextType::Vuid => Context::Id(0),
        ContextType::Veuid => Context::Id(1),
        ContextType::Vsuid => Context::Id(2),
        ContextType::Vgid => Context::Id(3),
        ContextType::Vegid => Context::Id(4),
        ContextType::Vsgid => Context::Id(5),
        ContextType::Ip => Context::Ip,
        _ => return None,
    })
}

/// A channel's contexts in order: the application contexts at their positions, the
/// others in the remaining ones. None if one is not supported (or its position is off).
fn merge_contexts(
    contexts: &[ContextType],
    app_contexts: &[rttng_proto::AppContextAt],
) -> Option<Vec<Context>> {
    let total = contexts.len() + app_contexts.len();
    let mut plain = contexts.iter();
    let mut out = Vec::with_capacity(total);
    for position in 0..total {
        match app_contexts
            .iter()
            .find(|a| a.position as usize == position)
        {
            Some(a) => out.push(Context::App(crate::appctx::intern(&a.name)?)),
            None => out.push(map_context(*plain.next()?)?),
        }
    }
    Some(out)
}

/// The app-side key of daemon `daemon`'s channel `k`.
fn key(daemon: u32, k: rttng_proto::ChannelKey) -> ChannelKey {
    ChannelKey {
        daemon,
        session_id: k.session_id,
        channel_id: k.channel_id,
    }
}

// ---------------------------------------------------------------------------------------
// Run-time events (crate::dynamic): announced to every daemon the app registered with, on
// a short second connection (`AppEvents`), by one announcer thread (never the
// registration thread, which must stay free to apply the Enable commands the announcement
// triggers).

/// How long an announcement waits for the daemon's answer.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

/// One daemon socket and how far the app announced its events there.
#[derive(Debug)]
struct Peer {
    path: PathBuf,
    /// Its `RegistrationDone` arrived: announcements may go.
    registered: bool,
    /// First event index the daemon does not know yet.
    next: usize,
}

#[derive(Debug, Default)]
struct Announcer {
    peers: Mutex<Vec<Peer>>,
    /// Signalled when there is work (new events, a new registration) and when an
    /// announcement round finished.
    cv: Condvar,
    /// Bumped by every `announce`; the thread sleeps while it has seen the latest.
    wanted: std::sync::atomic::AtomicU64,
}

/// The announcer of this process image: a fork child starts from a fresh one (the
/// parent's lock may have been held by a thread the child does not have).
static ANNOUNCER: std::sync::atomic::AtomicPtr<Announcer> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());
static ANNOUNCER_GENERATION: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn announcer() -> &'static Announcer {
    use std::sync::atomic::Ordering;
    let generation = crate::sys::FORK_GENERATION.load(Ordering::Relaxed);
    let p = ANNOUNCER.load(Ordering::Acquire);
    // SAFETY: ANNOUNCER holds null or a leaked Announcer, never freed.
    if let Some(a) = unsafe { p.as_ref() } {
        if ANNOUNCER_GENERATION.load(Ordering::Acquire) == generation {
            return a;
        }
    }
    let fresh: &'static Announcer = Box::leak(Box::default());
    let fresh_ptr = fresh as *const Announcer as *mut Announcer;
    match ANNOUNCER.compare_exchange(p, fresh_ptr, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            ANNOUNCER_GENERATION.store(generation, Ordering::Release);
            crate::sys::spawn_detached(Box::new(move || announce_loop(fresh)));
            fresh
        }
        // SAFETY: as above; another thread installed its own.
        Err(other) => unsafe { &*other },
    }
}

fn total_events() -> usize {
    crate::callsite::static_count() + crate::dynamic::count()
}

fn next_index(h: &AppHello) -> usize {
    h.events
        .iter()
        .map(|e| e.index as usize + 1)
        .max()
        .unwrap_or(0)
        .max(crate::callsite::static_count())
}

/// A fresh hello, with the events registered since `old` was built.
fn hello_again(old: &AppHello) -> AppHello {
    let mut h = old.clone();
    h.events = event_descs(control::events());
    h
}

fn connected(path: &std::path::Path, next: usize) {
    let a = announcer();
    let mut peers = a.peers.lock().unwrap_or_else(|e| e.into_inner());
    peers.retain(|p| p.path != path);
    peers.push(Peer {
        path: path.to_path_buf(),
        registered: false,
        next,
    });
}

fn disconnected(path: &std::path::Path) {
    let a = announcer();
    let mut peers = a.peers.lock().unwrap_or_else(|e| e.into_inner());
    peers.retain(|p| p.path != path);
    a.cv.notify_all();
}

fn registered(path: &std::path::Path) {
    let a = announcer();
    {
        let mut peers = a.peers.lock().unwrap_or_else(|e| e.into_inner());
        for p in peers.iter_mut().filter(|p| p.path == path) {
            p.registered = true;
        }
    }
    announce();
}

/// Wakes the announcer: run-time events registered, or a daemon finished registering.
pub(crate) fn announce() {
    let a = announcer();
    a.wanted.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let _g = a.peers.lock().unwrap_or_else(|e| e.into_inner());
    a.cv.notify_all();
}

/// Waits, at most `timeout`, until every daemon the app is registered with knows every
/// event registered so far (and so has applied its rules to them).
pub(crate) fn wait_announced(timeout: Duration) {
    let a = announcer();
    let want = total_events();
    let deadline = Instant::now() + timeout;
    let mut peers = a.peers.lock().unwrap_or_else(|e| e.into_inner());
    // Connected daemons count too: one still registering the app (it was started from a
    // constructor, or the daemon is slow) is about to know the event.
    while peers.iter().any(|p| !p.registered || p.next < want) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        peers =
            a.cv.wait_timeout(peers, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
    }
}

fn announce_loop(a: &'static Announcer) {
    use std::sync::atomic::Ordering;
    let mut seen = 0u64;
    loop {
        // Work: registered peers behind the event count.
        let work: Vec<(PathBuf, usize)> = {
            let mut peers = a.peers.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let total = total_events();
                let w: Vec<(PathBuf, usize)> = peers
                    .iter()
                    .filter(|p| p.registered && p.next < total)
                    .map(|p| (p.path.clone(), p.next))
                    .collect();
                let now = a.wanted.load(Ordering::Acquire);
                if !w.is_empty() {
                    seen = now;
                    break w;
                }
                if now != seen {
                    seen = now;
                    continue;
                }
                peers =
                    a.cv.wait_timeout(peers, RETRY_PERIOD)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
            }
        };
        for (path, next) in work {
            let events = event_descs(control::events_from(next));
            let upto = events
                .iter()
                .map(|e| e.index as usize + 1)
                .max()
                .unwrap_or(next);
            let sent = send_events(&path, events);
            let mut peers = a.peers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = peers.iter_mut().find(|p| p.path == path) {
                // Not retried: a refusal is logged by the daemon, and a daemon that cannot be
                // reached is going away (its next hello, after a reconnection, carries
                // every event).
                let _ = sent;
                p.next = p.next.max(upto);
            }
            a.cv.notify_all();
        }
    }
}

/// Sends one `AppEvents` and waits for the answer; false when the daemon cannot be
/// reached.
fn send_events(path: &std::path::Path, events: Vec<EventDesc>) -> bool {
    let Ok(s) = UnixStream::connect(path) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(ANNOUNCE_TIMEOUT));
    let _ = s.set_write_timeout(Some(ANNOUNCE_TIMEOUT));
    if sock::send(
        &s,
        Kind::AppEvents,
        &rttng_proto::AppEvents { events },
        None,
    )
    .is_err()
    {
        return false;
    }
    match sock::recv::<AppReply>(&s, Kind::AppReply) {
        Ok((AppReply::Ok { .. }, _)) => true,
        Ok((AppReply::Error { message }, _)) => {
            eprintln!("rttng-ust: the session daemon refused run-time events: {message}");
            true
        }
        Err(_) => false,
    }
}

/// Pending daemons whose initial state is not applied yet.
type Pending = Arc<(Mutex<usize>, Condvar)>;

fn done(p: &Pending) {
    let (m, cv) = &**p;
    let mut n = m.lock().unwrap_or_else(|e| e.into_inner());
    *n = n.saturating_sub(1);
    cv.notify_all();
}

/// The start-up wait in progress ([`start`]), if any: work the daemon's initial state starts
/// may join it ([`hold_startup`]).
static STARTUP: Mutex<Option<Pending>> = Mutex::new(None);

/// Keeps the process's start-up wait (bounded by `RTTNG_UST_REGISTER_TIMEOUT`, like the
/// registration it extends) going until it is dropped.
pub struct StartupHold(Pending);

impl Drop for StartupHold {
    fn drop(&mut self) {
        done(&self.0);
    }
}

/// Joins the start-up wait, when called while it lasts (from the registration thread, as
/// the daemon's initial state is applied): the app's code then starts only after the
/// returned hold is dropped, or at the wait's deadline. LTTng-UST's constructor likewise
/// waits for the initial statedump (`handle_pending_statedump`, `initial_statedump_done`
/// in lttng-ust 2.13's `lttng-ust-comm.c`). `None` after start-up.
pub fn hold_startup() -> Option<StartupHold> {
    let startup = STARTUP.lock().unwrap_or_else(|e| e.into_inner());
    let p = startup.as_ref()?;
    *p.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    Some(StartupHold(p.clone()))
}

/// Ends the start-up wait's window for [`hold_startup`] when dropped.
struct StartupWindow;

impl StartupWindow {
    fn open(p: &Pending) -> StartupWindow {
        *STARTUP.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.clone());
        StartupWindow
    }
}

impl Drop for StartupWindow {
    fn drop(&mut self) {
        *STARTUP.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Connects to the session daemons and waits (bounded) for their initial state.
pub(crate) fn start() {
    let Some(h) = hello() else { return };
    let next = next_index(&h);
    let pending: Pending = Arc::new((Mutex::new(0), Condvar::new()));
    let _window = StartupWindow::open(&pending);
    for (daemon, p) in (0u32..).zip(socket_paths()) {
        // Daemons present now are waited for; the others are looked for in the background.
        let first = UnixStream::connect(&p)
            .ok()
            .filter(|s| sock::send(s, Kind::AppHello, &h, None).is_ok());
        if first.is_some() {
            connected(&p, next);
        }
        let waited = first.is_some();
        if waited {
            *pending.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        }
        let (pd, hello) = (pending.clone(), h.clone());
        let spawned =
            crate::sys::spawn_detached(Box::new(move || run(daemon, p, hello, first, pd)));
        if !spawned && waited {
            done(&pending);
        }
    }
    // The announcer too, now: started later from a provider's constructor it could not
    // run before that constructor returned.
    let _ = announcer();
    let timeout_ms = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(DEFAULT_REGISTER_TIMEOUT_MS);
    if timeout_ms == 0 {
        return;
    }
    let deadline =
        (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
    let (m, cv) = &*pending;
    let mut n = m.lock().unwrap_or_else(|e| e.into_inner());
    while *n > 0 {
        match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return;
                }
                n = cv
                    .wait_timeout(n, left)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            None => n = cv.wait(n).unwrap_or_else(|e| e.into_inner()),
        }
    }
}

/// One daemon's registration loop: serve while connected, then look for it again.
fn run(
    daemon: u32,
    path: PathBuf,
    hello: AppHello,
    mut conn: Option<UnixStream>,
    pending: Pending,
) {
    let mut first = true;
    loop {
        if let Some(s) = conn.take() {
            let installed = serve(daemon, &path, s, first.then(|| pending.clone()));
            for k in installed {
                control::remove_channel(k);
            }
        } else if first {
            // Nobody waits on a daemon that was not there at start.
            first = false;
            continue;
        }
        first = false;
        disconnected(&path);
        std::thread::sleep(RETRY_PERIOD);
        // A fresh hello: run-time events may have registered meanwhile.
        let h = hello_again(&hello);
        let next = next_index(&h);
        conn = UnixStream::connect(&path)
            .ok()
            .filter(|s| sock::send(s, Kind::AppHello, &h, None).is_ok());
        if conn.is_some() {
            connected(&path, next);
        }
    }
}

/// Carries out one daemon's commands until it goes away; returns the channels it installed.
fn serve(
    daemon: u32,
    path: &std::path::Path,
    s: UnixStream,
    pending: Option<Pending>,
) -> Vec<ChannelKey> {
    let mut installed: Vec<ChannelKey> = Vec::new();
    let mut signalled = pending.is_none();
    loop {
        let (cmd, fd) = match sock::recv::<AppCommand>(&s, Kind::AppCommand) {
            Ok(m) => m,
            Err(RecvError::Closed) | Err(_) => break,
        };
        let reply = match cmd {
            AppCommand::InstallChannel {
                key: k,
                stream_class_id,
                contexts,
                app_contexts,
            } => {
                let ctx = merge_contexts(&contexts, &app_contexts);
                match (ctx, fd) {
                    (None, _) => AppReply::Error {
                        message: "a context of this channel is not supported by rttng-ust".into(),
                    },
                    (_, None) => AppReply::Error {
                        message: "install without a ring-buffer fd".into(),
                    },
                    (Some(ctx), Some(fd)) => match rttng_ringbuf::Producer::from_fd(fd.as_fd()) {
                        Ok(producer) => {
                            let class = control::stream_event_context_class(&ctx);
                            let setup = ChannelSetup {
                                key: key(daemon, k),
                                producer,
                                stream_class_id: u64::from(stream_class_id),
                                contexts: ctx,
                            };
                            match control::try_install_channel(setup) {
                                Ok(()) => {
                                    installed.push(key(daemon, k));
                                    AppReply::Ok {
                                        context_class: class,
                                    }
                                }
                                Err(e) => AppReply::Error {
                                    message: e.to_string(),
                                },
                            }
                        }
                        Err(e) => AppReply::Error {
                            message: format!("cannot map the ring buffer: {e}"),
                        },
                    },
                }
            }
            AppCommand::RemoveChannel { key: k } => {
                installed.retain(|x| *x != key(daemon, k));
                control::flush(key(daemon, k));
                control::remove_channel(key(daemon, k));
                AppReply::Ok {
                    context_class: None,
                }
            }
            AppCommand::SetFilter {
                event_index,
                key: k,
                programs,
            } => {
                // A program that does not decode accepts nothing (never more than asked).
                let decoded: Vec<_> = programs
                    .iter()
                    .map(|p| rttng_filter::Program::decode(p))
                    .collect();
                let bad = decoded
                    .iter()
                    .find_map(|r| r.as_ref().err().map(|e| e.to_string()));
                let programs: Vec<_> = decoded.into_iter().map(Result::ok).collect();
                match (
                    control::set_filter(event_index as usize, key(daemon, k), &programs),
                    bad,
                ) {
                    (Err(e), _) => AppReply::Error {
                        message: e.to_string(),
                    },
                    (Ok(()), Some(message)) => AppReply::Error { message },
                    (Ok(()), None) => AppReply::Ok {
                        context_class: None,
                    },
                }
            }
            AppCommand::Enable {
                event_index,
                key: k,
                event_class_id,
            } => match control::try_enable(event_index as usize, key(daemon, k), event_class_id) {
                Ok(()) => AppReply::Ok {
                    context_class: None,
                },
                Err(e) => AppReply::Error {
                    message: e.to_string(),
                },
            },
            AppCommand::Disable {
                event_index,
                key: k,
            } => {
                control::disable(event_index as usize, key(daemon, k));
                AppReply::Ok {
                    context_class: None,
                }
            }
            AppCommand::FlushAll => {
                // This daemon's channels only: another daemon's sessions are not its own.
                for k in &installed {
                    control::flush(*k);
                }
                AppReply::Ok {
                    context_class: None,
                }
            }
            AppCommand::RegistrationDone => {
                registered(path);
                if !signalled {
                    signalled = true;
                    if let Some(p) = &pending {
                        done(p);
                    }
                }
                AppReply::Ok {
                    context_class: None,
                }
            }
        };
        if sock::send(&s, Kind::AppReply, &reply, None).is_err() {
            break;
        }
    }
    if !signalled {
        if let Some(p) = &pending {
            done(p);
        }
    }
    installed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_run_directory_is_the_same_place() {
        let base = std::env::temp_dir().join(format!("rttng-same-place-{}", std::process::id()));
        let real = base.join("real");
        let other = base.join("other");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let link = base.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let sock = |d: &std::path::Path| d.join(APP_SOCKET);
        assert!(same_place(&sock(&real), &sock(&link)));
        assert!(same_place(
            &sock(&real),
            &sock(&real.join("..").join("real"))
        ));
        assert!(!same_place(&sock(&real), &sock(&other)));
        assert!(!same_place(&sock(&real), &real.join("another-socket")));
        // Directories that do not exist (yet) compare by spelling only.
        assert!(!same_place(&sock(&base.join("x")), &sock(&base.join("y"))));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
