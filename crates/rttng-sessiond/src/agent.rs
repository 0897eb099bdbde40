//! The LTTng agents' server (Python `logging`, Java JUL and log4j): a TCP listener on
//! 127.0.0.1 whose port goes into the file the agents read (`agent.port`, see
//! [`port_file`]), one thread per connected agent (at most [`MAX_AGENTS`]), and the
//! enabled logger names each agent should hold, pushed by the runtime after every client
//! request ([`set_wants`], from rttng-session's `agent_wants`), and the application
//! contexts (`$app.PROVIDER:NAME`) each domain's agents should provide ([`set_wants`]'s
//! second list, from `agent_app_contexts`: APP_CTX_ENABLE/DISABLE, before the ENABLEs).
//!
//! Each agent thread owns its connection: it reads the registration (bounded by
//! [`REGISTER_TIMEOUT`]), sends the ENABLEs the rules ask for and REG_DONE, then keeps the
//! agent in step: an ENABLE per rule more, a DISABLE per rule less (the agents count them),
//! and LIST when a client asks ([`list`]). Every command is bounded by [`AGENT_IO_TIMEOUT`];
//! an agent that sends garbage, answers late or hangs up gives one log line and is dropped,
//! never delaying the daemon or the other agents. No lock is held during agent I/O.
//!
//! Not here: which rules exist and the user-space side of agent rules (rttng-session's
//! `agent`), the wire format (`rttng_proto::agent`).

use crate::runtime::log;
use rttng_proto::agent as wire;
use rttng_proto::{AgentLoggers, Domain, LoglevelRule};
use rttng_session::{AgentAppContext, AgentEnable};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Most agents connected at once; more are refused (one log line each).
pub const MAX_AGENTS: usize = 256;
/// How long a new connection may take to send its registration.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on each command's write and its answer.
pub const AGENT_IO_TIMEOUT: Duration = Duration::from_secs(3);
/// How long `list -j/-l/-p` waits for the agents' answers.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(4);
/// How often an idle agent thread checks that its agent is still connected.
const IDLE_CHECK: Duration = Duration::from_millis(500);

struct Entry {
    domain: Domain,
    pid: u32,
    /// A client's LIST request number this agent has to answer (0: none).
    list_wanted: u64,
    /// The last LIST answer: (request number, loggers).
    listed: Option<(u64, Vec<String>)>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    agents: BTreeMap<u64, Entry>,
    wants: Vec<AgentEnable>,
    app_contexts: Vec<AgentAppContext>,
    /// Bumped whenever `wants` or `app_contexts` changes.
    generation: u64,
    next_list: u64,
    /// Where the port was written (removed at exit).
    port_files: Vec<(PathBuf, u16)>,
}

struct Agents {
    inner: Mutex<Inner>,
    cv: Condvar,
}

static AGENTS: OnceLock<Agents> = OnceLock::new();

fn agents() -> &'static Agents {
    AGENTS.get_or_init(|| Agents {
        inner: Mutex::new(Inner::default()),
        cv: Condvar::new(),
    })
}

fn lock() -> MutexGuard<'static, Inner> {
    agents().inner.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the agents of this daemon's users look for the port, as the Python and Java
/// agents read them: `/var/run/lttng/agent.port` for root's daemon,
/// `$LTTNG_HOME/.lttng/agent.port` (`$HOME` when `LTTNG_HOME` is unset) for a user's.
/// `private`: a daemon with its own run directory (`RTTNG_RUNDIR`, tests) writes one only
/// where `LTTNG_HOME` says, never over the system's or the user's file.
pub fn port_file(euid: u32, private: bool) -> Option<PathBuf> {
    let lttng_home = std::env::var_os("LTTNG_HOME").filter(|h| !h.is_empty());
    let home = match (private, euid) {
        (true, _) => lttng_home?,
        (false, 0) => return Some(PathBuf::from("/var/run/lttng/agent.port")),
        (false, _) => lttng_home.or_else(|| std::env::var_os("HOME"))?,
    };
    Some(PathBuf::from(home).join(".lttng/agent.port"))
}

/// Binds the agents' port, writes the port file and serves agents on a thread. An error
/// here only disables the agents (the daemon goes on).
pub fn start(euid: u32, private: bool) -> Result<(), String> {
    let l = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .map_err(|e| format!("cannot listen for agents on 127.0.0.1: {e}"))?;
    let port = l.local_addr().map_err(|e| e.to_string())?.port();
    let Some(f) = port_file(euid, private) else {
        log("agents disabled: a daemon with its own run directory needs LTTNG_HOME for the agents' port file");
        return Ok(());
    };
    {
        if let Some(dir) = f.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&f, format!("{port}\n"))
            .map_err(|e| format!("cannot write the agent port file {}: {e}", f.display()))?;
        lock().port_files.push((f, port));
    }
    std::thread::spawn(move || accept(l, euid));
    Ok(())
}

/// Removes the port files this daemon wrote, if they still name its port.
pub fn stop() {
    let files = std::mem::take(&mut lock().port_files);
    for (f, port) in files {
        if std::fs::read_to_string(&f).is_ok_and(|t| t.trim() == port.to_string()) {
            let _ = std::fs::remove_file(&f);
        }
    }
}

/// The enabled agent rules of every session (rttng-session's `agent_wants`): the agent
/// threads bring their agents in step.
pub fn set_wants(wants: Vec<AgentEnable>, app_contexts: Vec<AgentAppContext>) {
    let mut g = lock();
    if g.wants != wants || g.app_contexts != app_contexts {
        g.wants = wants;
        g.app_contexts = app_contexts;
        g.generation += 1;
        drop(g);
        agents().cv.notify_all();
    }
}

/// The loggers of every live agent of `domain`, by pid (agents that do not answer within
/// [`LIST_TIMEOUT`] are left out).
pub fn list(domain: Domain) -> Vec<AgentLoggers> {
    let a = agents();
    let mut g = lock();
    g.next_list += 1;
    let req = g.next_list;
    let ids: Vec<u64> = g
        .agents
        .iter_mut()
        .filter(|(_, e)| e.domain == domain)
        .map(|(id, e)| {
            e.list_wanted = req;
            *id
        })
        .collect();
    a.cv.notify_all();
    let deadline = Instant::now() + LIST_TIMEOUT;
    loop {
        let pending = ids.iter().any(|id| {
            g.agents
                .get(id)
                .is_some_and(|e| !matches!(&e.listed, Some((n, _)) if *n == req))
        });
        let now = Instant::now();
        if !pending || now >= deadline {
            break;
        }
        g =
            a.cv.wait_timeout(g, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
    }
    let mut out: Vec<AgentLoggers> = ids
        .iter()
        .filter_map(|id| g.agents.get(id))
        .filter_map(|e| match &e.listed {
            Some((n, names)) if *n == req => Some(AgentLoggers {
                pid: e.pid,
                loggers: names.clone(),
            }),
            _ => None,
        })
        .collect();
    out.sort_by_key(|a| a.pid);
    out
}

/// Connections being served (registering or registered).
static CONNECTIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn accept(l: TcpListener, euid: u32) {
    use std::sync::atomic::Ordering;
    for conn in l.incoming() {
        let Ok(conn) = conn else { continue };
        // Counts connections that have not registered yet too: each has a thread.
        if CONNECTIONS.load(Ordering::Acquire) >= MAX_AGENTS {
            log(&format!(
                "agent refused: {MAX_AGENTS} agents are connected already"
            ));
            continue;
        }
        if euid != 0 {
            // Only this user's agents (a user daemon's port is reachable by every local user).
            match peer_uid(&conn) {
                Some(uid) if uid == euid => {}
                other => {
                    log(&format!(
                        "agent refused: it runs as uid {other:?}, this daemon serves uid {euid}"
                    ));
                    continue;
                }
            }
        }
        CONNECTIONS.fetch_add(1, Ordering::AcqRel);
        let spawned = std::thread::Builder::new()
            .name("agent".into())
            .spawn(move || {
                serve(conn);
                CONNECTIONS.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            CONNECTIONS.fetch_sub(1, Ordering::AcqRel);
            log("agent refused: cannot start a thread for it");
        }
    }
}

/// The uid owning the peer's end of a loopback connection (from /proc/net/tcp).
fn peer_uid(conn: &TcpStream) -> Option<u32> {
    let (ours, theirs) = (conn.local_addr().ok()?, conn.peer_addr().ok()?);
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => Some(format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        )),
        SocketAddr::V6(_) => None,
    };
    let (local, remote) = (hex(theirs)?, hex(ours)?);
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 7 && f[1] == local && f[2] == remote)
            .then(|| f[7].parse().ok())
            .flatten()
    })
}

fn domain_of(d: u32) -> Option<Domain> {
    match d {
        wire::DOMAIN_JUL => Some(Domain::Jul),
        wire::DOMAIN_LOG4J => Some(Domain::Log4j),
        wire::DOMAIN_PYTHON => Some(Domain::Python),
        _ => None,
    }
}

/// Reads exactly `buf.len()` bytes before `deadline`.
fn read_by(conn: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or("no answer in time")?;
        conn.set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match conn.read(&mut buf[got..]) {
            Ok(0) => return Err("connection closed".into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

fn serve(mut conn: TcpStream) {
    let who = conn
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let mut reg = [0u8; wire::REGISTER_BYTES];
    let r = read_by(&mut conn, &mut reg, Instant::now() + REGISTER_TIMEOUT)
        .and_then(|()| wire::decode_register(&reg).map_err(|e| e.to_string()));
    let reg = match r {
        Ok(r) => r,
        Err(e) => {
            log(&format!("agent {who} ignored: bad registration: {e}"));
            return;
        }
    };
    let Some(domain) = domain_of(reg.domain) else {
        return; // decode_register refuses other domains
    };
    let _ = conn.set_write_timeout(Some(AGENT_IO_TIMEOUT));
    let _ = conn.set_nodelay(true);
    let id = {
        let mut g = lock();
        g.next_id += 1;
        let id = g.next_id;
        g.agents.insert(
            id,
            Entry {
                domain,
                pid: reg.pid,
                list_wanted: 0,
                listed: None,
            },
        );
        id
    };
    log(&format!(
        "{} agent registered (pid {}, {who})",
        domain.name(),
        reg.pid
    ));
    let mut agent = Agent {
        conn,
        domain,
        sent: BTreeMap::new(),
        contexts_sent: BTreeSet::new(),
    };
    match agent.run(id) {
        Err(e) if e == "connection closed" => log(&format!(
            "{} agent (pid {}) disconnected",
            domain.name(),
            reg.pid
        )),
        Err(e) => log(&format!(
            "{} agent (pid {}) dropped: {e}",
            domain.name(),
            reg.pid
        )),
        Ok(()) => {}
    }
    lock().agents.remove(&id);
    agents().cv.notify_all();
}

struct Agent {
    conn: TcpStream,
    domain: Domain,
    /// Logger name → ENABLEs sent and not disabled.
    sent: BTreeMap<String, usize>,
    /// (provider, name) of the application contexts enabled.
    contexts_sent: BTreeSet<(String, String)>,
}

impl Agent {
    fn run(&mut self, id: u64) -> Result<(), String> {
        let mut seen_generation = u64::MAX;
        let mut registered = false;
        loop {
            // Wait (lock held only here) for new rules, a LIST, or the idle check.
            let (wants, contexts, list_req) = {
                let mut g = lock();
                let mut waited = false;
                loop {
                    let e = g.agents.get(&id).ok_or("forgotten")?;
                    let list_req = (e.list_wanted != 0
                        && !matches!(&e.listed, Some((n, _)) if *n == e.list_wanted))
                    .then_some(e.list_wanted);
                    if g.generation != seen_generation || list_req.is_some() || waited {
                        seen_generation = g.generation;
                        let wants: Vec<AgentEnable> = g
                            .wants
                            .iter()
                            .filter(|w| w.domain == self.domain)
                            .cloned()
                            .collect();
                        let contexts: BTreeSet<(String, String)> = g
                            .app_contexts
                            .iter()
                            .filter(|c| c.domain == self.domain)
                            .map(|c| (c.provider.clone(), c.name.clone()))
                            .collect();
                        break (wants, contexts, list_req);
                    }
                    g = agents()
                        .cv
                        .wait_timeout(g, IDLE_CHECK)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    waited = true;
                }
            };
            self.check_alive()?;
            self.reconcile_contexts(&contexts)?;
            self.reconcile(&wants)?;
            if !registered {
                self.send(&wire::encode_reg_done())?;
                registered = true;
            }
            if let Some(req) = list_req {
                let names = self.list()?;
                let mut g = lock();
                if let Some(e) = g.agents.get_mut(&id) {
                    e.listed = Some((req, names));
                }
                drop(g);
                agents().cv.notify_all();
            }
        }
    }

    /// An idle agent sends nothing: bytes or a hang-up end it.
    fn check_alive(&mut self) -> Result<(), String> {
        self.conn.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut b = [0u8; 1];
        let r = self.conn.peek(&mut b);
        self.conn
            .set_nonblocking(false)
            .map_err(|e| e.to_string())?;
        match r {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Err("sent bytes nobody asked for".into()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.conn
            .write_all(bytes)
            .map_err(|e| format!("cannot send a command: {e}"))
    }

    fn status(&mut self) -> Result<u32, String> {
        let mut b = [0u8; 4];
        read_by(&mut self.conn, &mut b, Instant::now() + AGENT_IO_TIMEOUT)?;
        wire::decode_status(&b).map_err(|e| e.to_string())
    }

    /// APP_CTX_ENABLE for each wanted application context not sent, APP_CTX_DISABLE for
    /// each sent and no longer wanted.
    fn reconcile_contexts(&mut self, want: &BTreeSet<(String, String)>) -> Result<(), String> {
        let add: Vec<_> = want.difference(&self.contexts_sent).cloned().collect();
        let remove: Vec<_> = self.contexts_sent.difference(want).cloned().collect();
        for (enable, list) in [(true, add), (false, remove)] {
            for (provider, name) in list {
                self.send(&wire::encode_app_context(enable, &provider, &name))?;
                let st = self.status()?;
                if st != wire::STATUS_OK {
                    log(&format!(
                        "{} agent refused to {} the context $app.{provider}:{name} (status {st})",
                        self.domain.name(),
                        if enable { "enable" } else { "disable" }
                    ));
                }
                if enable {
                    self.contexts_sent.insert((provider, name));
                } else {
                    self.contexts_sent.remove(&(provider, name));
                }
            }
        }
        Ok(())
    }

    /// One ENABLE per wanted rule more than sent, one DISABLE per rule less.
    fn reconcile(&mut self, wants: &[AgentEnable]) -> Result<(), String> {
        let mut want: BTreeMap<&str, (usize, &AgentEnable)> = BTreeMap::new();
        for w in wants {
            want.entry(&w.name).or_insert((0, w)).0 += 1;
        }
        for (name, (n, w)) in &want {
            let have = self.sent.get(*name).copied().unwrap_or(0);
            for _ in have..*n {
                let (level, kind) = match w.loglevel {
                    LoglevelRule::All => (
                        match self.domain {
                            Domain::Python => 10, // lttng's PYTHON_DEBUG
                            _ => i32::MIN,        // JUL/log4j ALL
                        },
                        wire::LoglevelType::All,
                    ),
                    LoglevelRule::AtLeast { level } => (level, wire::LoglevelType::Range),
                    LoglevelRule::Exactly { level } => (level, wire::LoglevelType::Single),
                };
                self.send(&wire::encode_enable(name, level, kind, w.filter.as_deref()))?;
                let st = self.status()?;
                if st != wire::STATUS_OK {
                    log(&format!(
                        "{} agent refused to enable {name:?} (status {st})",
                        self.domain.name()
                    ));
                }
                *self.sent.entry(name.to_string()).or_insert(0) += 1;
            }
        }
        let sent: Vec<(String, usize)> = self.sent.iter().map(|(k, v)| (k.clone(), *v)).collect();
        for (name, have) in sent {
            let n = want.get(name.as_str()).map_or(0, |w| w.0);
            for _ in n..have {
                self.send(&wire::encode_disable(&name))?;
                self.status()?; // Java answers 3 for a name it did not enable: fine
                if let Some(c) = self.sent.get_mut(&name) {
                    *c -= 1;
                }
            }
            if self.sent.get(&name) == Some(&0) {
                self.sent.remove(&name);
            }
        }
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        self.send(&wire::encode_list())?;
        let deadline = Instant::now() + AGENT_IO_TIMEOUT;
        let mut h = [0u8; wire::LIST_HEADER_BYTES];
        read_by(&mut self.conn, &mut h, deadline)?;
        let h = wire::decode_list_header(&h).map_err(|e| e.to_string())?;
        let mut data = vec![0u8; h.following_bytes()];
        read_by(&mut self.conn, &mut data, deadline)?;
        if h.status != wire::STATUS_OK {
            return Err(format!("LIST answered with status {}", h.status));
        }
        wire::decode_list_data(&data).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_files_are_where_the_agents_look() {
        assert_eq!(
            port_file(0, false),
            Some(PathBuf::from("/var/run/lttng/agent.port"))
        );
        // A user daemon: LTTNG_HOME, else HOME (set in the test environment).
        let user = port_file(1000, false).expect("a home");
        assert!(user.ends_with(".lttng/agent.port"), "{}", user.display());
    }
}
