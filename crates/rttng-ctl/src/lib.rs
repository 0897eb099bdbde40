//! `rttng-ctl`: the public Rust API to control tracing. It finds the right session daemon
//! (root's for root and members of its group when it runs, else the user's own), starts the
//! user's daemon when none answers (unless told not to), sends [`Request`]s and returns
//! [`Response`]s, and keeps the *current session* file (`$RTTNG_HOME/.rttngrc`).
//!
//! Errors say what went wrong and what to do. Not here: argument parsing and printing (the
//! CLI), any session logic (the daemon).

#![forbid(unsafe_code)]

use rttng_proto::sock::{self, RecvError};
use rttng_proto::Kind;
pub use rttng_proto::{self as proto, ErrorCode, Request, Response};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub use rttng_proto::paths::{home, CLIENT_SOCKET, PID_FILE, ROOT_RUNDIR};
/// How long a request may take (a stop flushes buffers).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the spawned `rttng-sessiond --daemonize` may take to report readiness.
pub const SPAWN_TIMEOUT: Duration = Duration::from_secs(30);

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The run directory of this user's own daemon.
pub fn user_rundir() -> PathBuf {
    rttng_proto::paths::rundir(euid())
}

#[derive(Debug)]
pub enum CtlError {
    /// No daemon answers and spawning was not allowed.
    NoDaemon {
        rundir: PathBuf,
    },
    /// The daemon's socket refused us.
    PermissionDenied {
        socket: PathBuf,
        group: String,
    },
    /// Starting the daemon failed.
    Spawn {
        program: PathBuf,
        message: String,
    },
    Io {
        socket: PathBuf,
        source: std::io::Error,
    },
    Protocol {
        socket: PathBuf,
        message: String,
    },
    /// The daemon refused the request.
    Daemon {
        code: ErrorCode,
        message: String,
    },
}

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CtlError::NoDaemon { rundir } => write!(
                f,
                "no session daemon for this user (nothing answers in {}); start one with `rttng-sessiond --daemonize`, or run rttng without --no-sessiond",
                rundir.display()
            ),
            CtlError::PermissionDenied { socket, group } => write!(
                f,
                "permission denied on {}: only root and members of the `{group}` group may use the root session daemon; ask an administrator to add you (usermod -aG {group} $USER) or use your own daemon",
                socket.display()
            ),
            CtlError::Spawn { program, message } => write!(f, "cannot start the session daemon {}: {message}", program.display()),
            CtlError::Io { socket, source } => write!(f, "session daemon at {}: {source}", socket.display()),
            CtlError::Protocol { socket, message } => write!(f, "session daemon at {}: {message}", socket.display()),
            CtlError::Daemon { message, .. } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for CtlError {}

/// How to reach a daemon.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Start the user's daemon when none answers (`--no-sessiond` turns it off).
    pub spawn: bool,
    /// Daemon binary (`--sessiond-path`, `RTTNG_SESSIOND_PATH`, else next to this program).
    pub sessiond_path: Option<PathBuf>,
    /// The root daemon's group (`--group`).
    pub group: String,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            spawn: true,
            sessiond_path: None,
            group: "tracing".into(),
        }
    }
}

/// A connection to a session daemon.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    socket: PathBuf,
}

fn try_connect(socket: &Path, group: &str) -> Result<Option<UnixStream>, CtlError> {
    match UnixStream::connect(socket) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(CtlError::PermissionDenied {
                socket: socket.to_path_buf(),
                // Name the group that actually owns the socket, when we can tell.
                group: socket_group(socket).unwrap_or_else(|| group.to_string()),
            })
        }
        Err(_) => Ok(None),
    }
}

/// The name of the group owning `path` (from /etc/group).
fn socket_group(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let gid = std::fs::metadata(path).ok()?.gid();
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == gid).then(|| name.to_string())
    })
}

fn sessiond_program(opts: &ConnectOptions) -> PathBuf {
    if let Some(p) = &opts.sessiond_path {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("RTTNG_SESSIOND_PATH") {
        return p.into();
    }
    if let Some(p) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("rttng-sessiond")))
    {
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("rttng-sessiond")
}

/// Starts `rttng-sessiond --daemonize` and waits for it to report readiness.
pub fn spawn_daemon(opts: &ConnectOptions) -> Result<(), CtlError> {
    let program = sessiond_program(opts);
    let mut cmd = Command::new(&program);
    cmd.arg("--daemonize")
        .arg("--group")
        .arg(&opts.group)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| CtlError::Spawn {
        program: program.clone(),
        message: e.to_string(),
    })?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(SPAWN_TIMEOUT) {
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = err.trim().trim_start_matches("Error: ");
            Err(CtlError::Spawn {
                program,
                message: if err.is_empty() {
                    format!("it exited with {}", out.status)
                } else {
                    err.to_string()
                },
            })
        }
        Ok(Err(e)) => Err(CtlError::Spawn {
            program,
            message: e.to_string(),
        }),
        Err(_) => Err(CtlError::Spawn {
            program,
            message: format!("no readiness within {}s", SPAWN_TIMEOUT.as_secs()),
        }),
    }
}

fn in_group(group: &str) -> bool {
    let Ok(text) = std::fs::read_to_string("/etc/group") else {
        return false;
    };
    let Some(gid) = text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == group)
            .then(|| f.nth(1)?.parse::<u32>().ok())
            .flatten()
    }) else {
        return false;
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("Groups:") || l.starts_with("Gid:"))
        .any(|l| l.split_whitespace().skip(1).any(|g| g.parse() == Ok(gid)))
}

/// Stops this user's own session daemon: SIGTERM, through a pidfd of the PID its run
/// directory names (the daemon then stops its sessions cleanly, its consumer with it, and
/// exits), then waits up to `timeout` for the process to end (the pidfd becomes readable).
pub fn stop_user_daemon(timeout: std::time::Duration) -> std::io::Result<()> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};
    use std::io::{Error, ErrorKind};
    let pid_path = user_rundir().join(PID_FILE);
    let text = std::fs::read_to_string(&pid_path)?;
    let not_daemon = || {
        Error::new(
            ErrorKind::InvalidData,
            format!("{}: not a daemon's process id", pid_path.display()),
        )
    };
    let raw: i32 = text.trim().parse().map_err(|_| {
        Error::new(
            ErrorKind::InvalidData,
            format!("{}: not a process id", pid_path.display()),
        )
    })?;
    if raw <= 1 {
        return Err(not_daemon());
    }
    let pid = Pid::from_raw(raw).ok_or_else(not_daemon)?;
    let fd = pidfd_open(pid, PidfdFlags::empty())?;
    // The pidfd pins the process: if it is a session daemon now, it is the one signalled
    // (a stale pid file must not make us signal whatever reused the number).
    let comm = std::fs::read_to_string(format!("/proc/{raw}/comm")).unwrap_or_default();
    if comm.trim() != "rttng-sessiond" {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "process {raw} of {} is not rttng-sessiond",
                pid_path.display()
            ),
        ));
    }
    // Signalled through the pidfd, not by number: if the daemon exited after the checks
    // above and its number went to another process, the signal fails (ESRCH) instead of
    // reaching that process.
    pidfd_send_signal(&fd, Signal::TERM)?;
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let wait = Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    match poll(&mut fds, Some(&wait))? {
        0 => Err(Error::new(
            ErrorKind::TimedOut,
            format!("the session daemon (pid {raw}) did not exit"),
        )),
        _ => Ok(()),
    }
}

impl Client {
    /// Connects to the daemon this user should use, starting the user's own if needed.
    pub fn connect(opts: &ConnectOptions) -> Result<Client, CtlError> {
        let own = user_rundir().join(CLIENT_SOCKET);
        // A non-root member of the tracing group uses the root daemon when it runs.
        if std::env::var_os("RTTNG_RUNDIR").is_none() && euid() != 0 && in_group(&opts.group) {
            let root = Path::new(ROOT_RUNDIR).join(CLIENT_SOCKET);
            if let Some(s) = try_connect(&root, &opts.group)? {
                return Ok(Client::from_stream(s, root));
            }
        }
        if let Some(s) = try_connect(&own, &opts.group)? {
            return Ok(Client::from_stream(s, own));
        }
        if !opts.spawn {
            return Err(CtlError::NoDaemon {
                rundir: user_rundir(),
            });
        }
        spawn_daemon(opts)?;
        match try_connect(&own, &opts.group)? {
            Some(s) => Ok(Client::from_stream(s, own)),
            None => Err(CtlError::NoDaemon {
                rundir: user_rundir(),
            }),
        }
    }

    /// Connects to the daemon listening on `socket`, without starting one.
    pub fn connect_to(socket: &Path) -> Result<Client, CtlError> {
        match try_connect(socket, "tracing")? {
            Some(s) => Ok(Client::from_stream(s, socket.to_path_buf())),
            None => Err(CtlError::NoDaemon {
                rundir: socket.parent().map(Path::to_path_buf).unwrap_or_default(),
            }),
        }
    }

    fn from_stream(stream: UnixStream, socket: PathBuf) -> Client {
        let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
        Client { stream, socket }
    }

    /// Sends a request and returns the daemon's response (an `Error` response included).
    pub fn request(&mut self, req: &Request) -> Result<Response, CtlError> {
        sock::send(&self.stream, Kind::Request, req, None).map_err(|source| CtlError::Io {
            socket: self.socket.clone(),
            source,
        })?;
        match sock::recv::<Response>(&self.stream, Kind::Response) {
            Ok((r, _)) => Ok(r),
            Err(RecvError::Closed) => Err(CtlError::Protocol {
                socket: self.socket.clone(),
                message: "the session daemon closed the connection (did it exit? see its log)"
                    .into(),
            }),
            Err(RecvError::Io(source)) => Err(CtlError::Io {
                socket: self.socket.clone(),
                source,
            }),
            Err(RecvError::Frame(e)) => Err(CtlError::Protocol {
                socket: self.socket.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// [`Client::request`], turning an `Error` response into [`CtlError::Daemon`].
    pub fn call(&mut self, req: &Request) -> Result<Response, CtlError> {
        match self.request(req)? {
            Response::Error { code, message } => Err(CtlError::Daemon { code, message }),
            r => Ok(r),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

/// The current-session file.
pub fn rc_path() -> PathBuf {
    home().join(".rttngrc")
}

/// The current session (`session=NAME` in `$RTTNG_HOME/.rttngrc`).
pub fn current_session() -> Option<String> {
    let text = std::fs::read_to_string(rc_path()).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("session="))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Makes `name` the current session.
pub fn set_current_session(name: &str) -> std::io::Result<()> {
    std::fs::write(rc_path(), format!("session={name}\n"))
}

/// Forgets the current session if it is `name`.
pub fn clear_current_session(name: &str) {
    if current_session().as_deref() == Some(name) {
        let _ = std::fs::remove_file(rc_path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_daemon_error_names_the_fix() {
        let e = CtlError::NoDaemon {
            rundir: "/x/.rttng".into(),
        };
        let s = e.to_string();
        assert!(s.starts_with("no session daemon for this user"), "{s}");
        assert!(s.contains("rttng-sessiond --daemonize"), "{s}");
    }

    #[test]
    fn connect_to_nothing_is_no_daemon() {
        let dir = std::env::temp_dir().join(format!("rttng-ctl-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let r = Client::connect_to(&dir.join(CLIENT_SOCKET));
        assert!(matches!(r, Err(CtlError::NoDaemon { .. })), "{r:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
