//! `rttng-sessiond`: the tracing registry. It listens on a client socket (requests from
//! `rttng` / `rttng-ctl`) and an application socket (instrumented apps register there),
//! starts `rttng-consumerd`, and applies `rttng_session::Registry`'s decisions through the
//! sockets. One big lock serialises the state; no app I/O waits under it. Each client
//! connection has its own thread; apps are served by one event loop.
//!
//! Every client request is checked against the peer's credentials (SO_PEERCRED): a user's
//! daemon serves only that user (and root); the root daemon serves root and members of its
//! group (`--group`, default `tracing`). SIGTERM, SIGINT and SIGHUP stop every active session
//! (flushing its buffers, so the trace is complete), stop the consumer, and exit.
//!
//! Not here: the session logic itself (rttng-session), buffer and file handling
//! (rttng-consumerd), the wire format (rttng-proto).

#![deny(unsafe_code)]

mod access;
mod agent;
mod apps;
mod kernel;
mod output;
mod paths;
mod runtime;
mod sys;

use clap::Parser;
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long `--daemonize` waits for the daemon to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The command line (lttng-sessiond's names where rttng has the feature).
#[derive(Debug, Parser)]
#[command(
    name = "rttng-sessiond",
    version,
    about = "The rttng session daemon",
    after_help = "Sockets live in /run/rttng (root) or $RTTNG_HOME/.rttng ($RTTNG_HOME defaults to $HOME); RTTNG_RUNDIR overrides the directory."
)]
struct Args {
    /// Start in the background; return once the daemon serves
    #[arg(short = 'd', long, short_alias = 'b', alias = "background")]
    daemonize: bool,
    /// Group whose members may use the root daemon
    #[arg(short = 'g', long, value_name = "GROUP", default_value = "tracing")]
    group: String,
    /// Consumer daemon binary (default: rttng-consumerd next to this program)
    #[arg(long, value_name = "PATH")]
    consumerd_path: Option<PathBuf>,
    /// Do not trace the kernel, even as root
    #[arg(long)]
    no_kernel: bool,
    /// Internal: we are the daemonized child; print `ready` on stdout when serving.
    #[arg(long, hide = true)]
    ready_child: bool,
}

impl Args {
    /// The arguments of the daemonized child: these, without `--daemonize`.
    fn child_args(&self) -> Vec<std::ffi::OsString> {
        let mut out: Vec<std::ffi::OsString> = vec!["--group".into(), self.group.clone().into()];
        if let Some(p) = &self.consumerd_path {
            out.push("--consumerd-path".into());
            out.push(p.clone().into());
        }
        if self.no_kernel {
            out.push("--no-kernel".into());
        }
        out.push("--ready-child".into());
        out
    }
}

fn main() {
    // clap prints usage errors (unknown options such as lttng's `-v`, which rttng does not
    // have, or a missing value) with the usage and exits with status 2.
    let args = Args::parse();
    if args.daemonize {
        std::process::exit(daemonize(&args));
    }
    let euid = sys::euid();
    let rundir = paths::rundir(euid);
    match runtime::serve(runtime::Options {
        rundir,
        euid,
        group: args.group,
        consumerd_path: args.consumerd_path,
        announce_ready: args.ready_child,
        kernel: euid == 0 && !args.no_kernel,
    }) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("Error: {e}");
            if args.ready_child {
                println!("error: {e}");
            }
            std::process::exit(1);
        }
    }
}

/// Starts the daemon as a detached child and waits until it serves (or fails).
fn daemonize(args: &Args) -> i32 {
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
        // Root-only: it names users' trace paths.
        .mode(0o600)
        .open(rundir.join(paths::LOG_FILE));
    // A log left by an older daemon may be readable by others.
    let _ = std::fs::set_permissions(
        rundir.join(paths::LOG_FILE),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    );
    let mut cmd = Command::new(exe);
    cmd.args(args.child_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
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
