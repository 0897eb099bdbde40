//! `rttng-relayd`: the relay daemon. It listens on lttng-relayd's control (5342) and data
//! (5343) ports, speaks LTTng 2.13's relay protocol with any number of session and consumer
//! daemons (rttng's or LTTng's) at once, a thread per connection, and stores each session
//! under `OUTPUT/HOSTNAME/SESSION-YYYYmmdd-HHMMSS/` exactly as lttng-relayd does. The live
//! port (5344) is listened on, but the live viewer protocol is not served yet: a viewer's
//! connection is closed with a log line.
//!
//! Options and defaults are lttng-relayd's. With `-C/-D/-L tcp://HOST:0` the system picks
//! free ports; the `listening` line on stderr says which.

mod control;
mod data;
mod live;
mod log;
mod net;
mod state;
mod store;
mod sys;
mod url;

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Parser};
use std::io::{BufRead, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// How long `--daemonize`/`--background` wait for the daemon to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keep-alive: idle seconds before the first probe, seconds between probes, probes.
const KEEPALIVE: (i32, i32, i32) = (60, 10, 6);
/// A reply that cannot be sent within this time ends the connection: a peer that stops
/// reading must not hold a thread and a connection slot forever. (There is no read timeout:
/// a control connection may rightly stay idle for hours between commands.)
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Parser, Debug)]
#[command(
    name = "rttng-relayd",
    version,
    about = "Receive traces streamed by session daemons (rttng's or LTTng 2.13's) and store them",
    long_about = "Receive traces streamed by session daemons over the network (LTTng 2.13's relay \
protocol, so rttng and LTTng hosts can share one collector) and store each session under \
OUTPUT/HOSTNAME/SESSION-YYYYmmdd-HHMMSS/. Point a host at it with \
`rttng create NAME --set-url net://HOST` or `lttng create NAME --set-url net://HOST`."
)]
struct Args {
    /// Control port URL (tcp://HOST[:PORT] or tcp6://[HOST][:PORT])
    #[arg(
        short = 'C',
        long = "control-port",
        value_name = "URL",
        default_value = "tcp://0.0.0.0:5342"
    )]
    control: String,
    /// Data port URL
    #[arg(
        short = 'D',
        long = "data-port",
        value_name = "URL",
        default_value = "tcp://0.0.0.0:5343"
    )]
    data: String,
    /// Live viewer port URL
    #[arg(
        short = 'L',
        long = "live-port",
        value_name = "URL",
        default_value = "tcp://localhost:5344"
    )]
    live: String,
    /// Output directory [default: $RTTNG_HOME/lttng-traces, else $HOME/lttng-traces]
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: Option<PathBuf>,
    /// Start as a daemon (returns once it listens; closes the standard streams)
    #[arg(short = 'd', long = "daemonize")]
    daemonize: bool,
    /// Start as a daemon, keeping the console open for its log
    #[arg(short = 'b', long = "background")]
    background: bool,
    /// Tracing group name (accepted as lttng-relayd does; it must exist)
    #[arg(
        short = 'g',
        long = "group",
        value_name = "GROUP",
        default_value = "tracing"
    )]
    group: String,
    /// More log lines (-v connections and sessions, -vv every command)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    verbose: u8,
    /// Internal: the daemonized child; prints `ready` on stdout once listening.
    #[arg(long = "ready-child", hide = true)]
    ready_child: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    log::set_verbosity(args.verbose);
    // Session directories are named in the relay's local time zone.
    rttng_clock::date::init_local_zone();
    if (args.daemonize || args.background) && !args.ready_child {
        return daemonize(args.daemonize);
    }
    // A group that does not exist is refused, except the default (as lttng-relayd, which
    // only uses it for its health socket).
    if args.group != "tracing" && !sys::group_exists(&args.group) {
        bail!("group {:?} does not exist", args.group);
    }
    let output = match args.output {
        Some(o) => o,
        None => rttng_proto::paths::home().join("lttng-traces"),
    };
    let store = store::Store::open(&output)
        .with_context(|| format!("cannot open output directory {}", output.display()))?;
    let control = bind(&args.control, url::CONTROL_PORT, "control")?;
    let data = bind(&args.data, url::DATA_PORT, "data")?;
    let live = bind(&args.live, url::LIVE_PORT, "live")?;
    let addrs = [&control, &data, &live].map(|l| {
        l.local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "?".into())
    });
    log_error!(
        "pid {} listening: control {}, data {}, live {}; output {}",
        std::process::id(),
        addrs[0],
        addrs[1],
        addrs[2],
        store.root_path().display()
    );
    let relay = Arc::new(state::Relay::new(store));
    if args.ready_child {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }
    let r = relay.clone();
    let c = std::thread::spawn(move || {
        accept_loop(control, "control", move |s, p| {
            control::serve(r.clone(), s, p)
        })
    });
    let r = relay.clone();
    let d = std::thread::spawn(move || {
        accept_loop(data, "data", move |s, p| data::serve(r.clone(), s, p))
    });
    let live_relay: Arc<dyn rttng_live::server::LiveRelay> =
        Arc::new(live::RelayLive::new(relay.clone()));
    let viewers = Arc::new(rttng_live::server::ViewerRegistry::default());
    let l = std::thread::spawn(move || {
        accept_loop(live, "live", move |s, p| {
            if let Err(e) =
                rttng_live::server::serve_connection(s, live_relay.clone(), viewers.clone())
            {
                log_info!("live viewer {p}: {e}");
            }
        })
    });
    for t in [c, d, l] {
        let _ = t.join();
    }
    Ok(())
}

fn bind(url: &str, default_port: u16, what: &str) -> Result<TcpListener> {
    let addrs = url::parse(url, default_port).with_context(|| format!("bad {what} URL {url:?}"))?;
    TcpListener::bind(&addrs[..]).with_context(|| format!("cannot listen on {what} URL {url}"))
}

/// Accepts connections forever; each gets a thread, within [`net::MAX_CONNECTIONS`].
fn accept_loop(
    listener: TcpListener,
    what: &'static str,
    serve: impl Fn(std::net::TcpStream, SocketAddr) + Send + Sync + Clone + 'static,
) {
    loop {
        let (sock, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) => {
                log_error!("{what} port: accept failed: {e}");
                // EMFILE and the like: let descriptors free up instead of spinning.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Some(slot) = net::ConnectionSlot::acquire() else {
            log_error!(
                "{what} connection from {peer} refused: {} connections already",
                net::MAX_CONNECTIONS
            );
            continue;
        };
        let _ = sock.set_nodelay(true);
        let _ = sock.set_write_timeout(Some(WRITE_TIMEOUT));
        sys::set_keepalive(&sock, KEEPALIVE.0, KEEPALIVE.1, KEEPALIVE.2);
        let serve = serve.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{what}-{peer}"))
            .stack_size(net::THREAD_STACK_BYTES)
            .spawn(move || {
                let _slot = slot;
                serve(sock, peer)
            });
        if let Err(e) = spawned {
            log_error!("{what} connection from {peer} refused: cannot start a thread: {e}");
        }
    }
}

/// Starts the daemon as a detached child and returns once it listens (or failed).
fn daemonize(close_streams: bool) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find my own executable")?;
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !matches!(a.as_str(), "-d" | "--daemonize" | "-b" | "--background"))
        .collect();
    args.push("--ready-child".into());
    let mut cmd = Command::new(exe);
    cmd.args(&args).stdin(Stdio::null()).stdout(Stdio::piped());
    if close_streams {
        cmd.stderr(Stdio::null());
    }
    sys::new_session_on_exec(&mut cmd);
    let mut child = cmd.spawn().context("cannot start the relay daemon")?;
    let out = child.stdout.take().context("no pipe to the relay daemon")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line.trim() == "ready" => Ok(()),
        Ok(_) => {
            let status = child.wait().ok();
            bail!("the relay daemon did not start ({status:?}); run it without -d to see why")
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the relay daemon did not listen within {}s",
                READY_TIMEOUT.as_secs()
            )
        }
    }
}
