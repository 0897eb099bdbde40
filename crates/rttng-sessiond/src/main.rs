//! `rttng-sessiond`: the tracing registry. It listens on a client socket (requests from
//! `rttng` / `rttng-ctl`) and an application socket (instrumented apps register there),
//! starts `rttng-consumerd`, and applies `rttng_session::Registry`'s decisions through the
//! sockets. One big lock serialises the state; each connection has its own thread.
//!
//! Every client request is checked against the peer's credentials (SO_PEERCRED): a user's
//! daemon serves only that user (and root); the root daemon serves root and members of its
//! group (`--group`, default `tracing`). SIGTERM, SIGINT and SIGHUP stop every active session
//! (flushing its buffers, so the trace is complete), stop the consumer, and exit.
//!
//! Not here: the session logic itself (rttng-session), buffer and file handling
//! (rttng-consumerd), the wire format (rttng-proto).

#![deny(unsafe_code)]

mod output;
mod paths;
mod runtime;
mod sys;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long `--daemonize` waits for the daemon to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
struct Args {
    daemonize: bool,
    group: Option<String>,
    consumerd_path: Option<PathBuf>,
    /// Internal: we are the daemonized child; print `ready` on stdout when serving.
    child: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-d" | "--daemonize" | "-b" | "--background" => a.daemonize = true,
            "-S" | "--sig-parent" | "--no-kernel" | "-q" | "--quiet" | "-v" | "--verbose" => {}
            "--ready-child" => a.child = true,
            "-g" | "--group" => a.group = Some(it.next().ok_or("--group needs a value")?),
            "--consumerd-path" => {
                a.consumerd_path = Some(it.next().ok_or("--consumerd-path needs a value")?.into())
            }
            "-h" | "--help" => {
                println!(
                    "usage: rttng-sessiond [-d|--daemonize] [-g|--group GROUP] [--consumerd-path PATH]\n\n\
                     The rttng session daemon. Sockets live in /run/rttng (root) or $RTTNG_HOME/.rttng\n\
                     ($RTTNG_HOME defaults to $HOME); RTTNG_RUNDIR overrides the directory."
                );
                std::process::exit(0);
            }
            "-V" | "--version" => {
                println!("rttng-sessiond {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => {
                if let Some(g) = other.strip_prefix("--group=") {
                    a.group = Some(g.to_string());
                } else if let Some(p) = other.strip_prefix("--consumerd-path=") {
                    a.consumerd_path = Some(p.into());
                } else {
                    return Err(format!("unknown option {other}"));
                }
            }
        }
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(1);
        }
    };
    if args.daemonize {
        std::process::exit(daemonize());
    }
    let euid = sys::euid();
    let rundir = paths::rundir(euid);
    match runtime::serve(runtime::Options {
        rundir,
        euid,
        group: args.group.unwrap_or_else(|| "tracing".into()),
        consumerd_path: args.consumerd_path,
        announce_ready: args.child,
    }) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("Error: {e}");
            if args.child {
                println!("error: {e}");
            }
            std::process::exit(1);
        }
    }
}

/// Starts the daemon as a detached child and waits until it serves (or fails).
fn daemonize() -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Error: cannot find my own executable: {e}");
            return 1;
        }
    };
    let rundir = paths::rundir(sys::euid());
    if let Err(e) = runtime::make_rundir(&rundir) {
        eprintln!("Error: {e}");
        return 1;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(rundir.join(paths::LOG_FILE));
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !matches!(a.as_str(), "-d" | "--daemonize" | "-b" | "--background"))
        .collect();
    args.push("--ready-child".into());
    let mut cmd = Command::new(exe);
    cmd.args(&args).stdin(Stdio::null()).stdout(Stdio::piped());
    match log {
        Ok(f) => cmd.stderr(f),
        Err(_) => cmd.stderr(Stdio::null()),
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: cannot start the session daemon: {e}");
            return 1;
        }
    };
    let Some(out) = child.stdout.take() else {
        return 1;
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line.trim() == "ready" => 0,
        Ok(line) => {
            let msg = line
                .trim()
                .strip_prefix("error: ")
                .unwrap_or(line.trim())
                .to_string();
            let _ = child.wait();
            eprintln!(
                "Error: the session daemon did not start: {}",
                if msg.is_empty() {
                    "it exited; see its log"
                } else {
                    &msg
                }
            );
            1
        }
        Err(_) => {
            eprintln!(
                "Error: the session daemon did not become ready within {}s; see {}",
                READY_TIMEOUT.as_secs(),
                rundir.join(paths::LOG_FILE).display()
            );
            let _ = child.kill();
            let _ = child.wait();
            1
        }
    }
}

/// Writes `ready` for a waiting `--daemonize` parent.
pub fn announce_ready() {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}
