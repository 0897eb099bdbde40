//! The session commands of `rttng` — lttng's names, options, defaults, messages and exit
//! statuses (0 success, 1 command error, 3 fatal error, 4 warning): create, destroy,
//! set-session, enable-channel, disable-channel, enable-event, disable-event, add-context,
//! start, stop, status, list, version, and `demo` (trace the bundled example app end to end).
//! They talk to the session daemon through `rttng-ctl`. Not here: the viewer (`view.rs`),
//! kernel listing (`kernel_list.rs`), any session logic.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rttng_ctl::proto::{
    Buffers, ChannelAttrs, ContextType, Domain, EventRule, LoglevelRule, Request, Response,
    SessionDetail,
};
use rttng_ctl::{Client, ConnectOptions, CtlError};

/// Exit statuses (lttng's).
const EXIT_CMD_ERROR: u8 = 1;
const EXIT_FATAL: u8 = 3;
const EXIT_WARNING: u8 = 4;

/// UST log level names, most severe first (value = index).
const UST_LEVELS: [&str; 15] = [
    "EMERG",
    "ALERT",
    "CRIT",
    "ERR",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG_SYSTEM",
    "DEBUG_PROGRAM",
    "DEBUG_PROCESS",
    "DEBUG_MODULE",
    "DEBUG_UNIT",
    "DEBUG_FUNCTION",
    "DEBUG_LINE",
    "DEBUG",
];

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Tracing group of the root session daemon
    #[arg(short = 'g', long, default_value = "tracing", value_name = "GROUP")]
    pub group: String,
    /// Do not start a session daemon when none answers
    #[arg(short = 'n', long)]
    pub no_sessiond: bool,
    /// Session daemon binary to start
    #[arg(long, value_name = "PATH")]
    pub sessiond_path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Create a recording session
    Create(CreateArgs),
    /// Destroy recording sessions (stopping them first)
    Destroy(DestroyArgs),
    /// Set the current recording session
    SetSession { session: String },
    /// Create or enable channels
    EnableChannel(EnableChannelArgs),
    /// Disable channels
    DisableChannel(DisableChannelArgs),
    /// Create or enable recording event rules
    EnableEvent(EnableEventArgs),
    /// Disable recording event rules
    DisableEvent(DisableEventArgs),
    /// Add context fields to channels
    AddContext(AddContextArgs),
    /// Start recording
    Start { session: Option<String> },
    /// Stop recording (waits until the trace data is written)
    Stop {
        session: Option<String>,
        /// Do not wait for the data (accepted for compatibility; rttng always waits)
        #[arg(short = 'n', long)]
        no_wait: bool,
    },
    /// Show the current recording session (= list CURRENT)
    Status,
    /// List sessions, a session's channels and rules, or instrumented applications
    List(ListArgs),
    /// Show version information
    Version,
    /// Trace the bundled example application end to end and show its events
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub session: Option<String>,
    /// Output directory
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    pub session: Option<String>,
    /// Destroy every session
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(short = 'n', long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct DomainArgs {
    /// User-space domain
    #[arg(short = 'u', long)]
    pub userspace: bool,
    /// Linux kernel domain
    #[arg(short = 'k', long)]
    pub kernel: bool,
}

impl DomainArgs {
    fn domain(&self) -> Result<Domain, CtlError> {
        match (self.userspace, self.kernel) {
            (true, false) => Ok(Domain::Ust),
            (false, true) => Ok(Domain::Kernel),
            _ => Err(usage(
                "choose exactly one domain: -u (user space) or -k (kernel)",
            )),
        }
    }
}

fn usage(msg: &str) -> CtlError {
    CtlError::Daemon {
        code: rttng_ctl::ErrorCode::InvalidArgument,
        message: msg.to_string(),
    }
}

#[derive(Debug, Args)]
pub struct EnableChannelArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    /// Channel names, comma separated
    pub channels: String,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    /// Sub-buffer size (k, M, G suffixes); rounded up to a power of two
    #[arg(long, value_name = "SIZE")]
    pub subbuf_size: Option<String>,
    /// Sub-buffers per ring buffer; rounded up to a power of two
    #[arg(long, value_name = "COUNT")]
    pub num_subbuf: Option<u64>,
    /// Overwrite the oldest sub-buffer when full (flight recorder)
    #[arg(long, conflicts_with = "discard")]
    pub overwrite: bool,
    /// Drop new events when full (default)
    #[arg(long)]
    pub discard: bool,
    /// Flush packets every PERIODUS microseconds
    #[arg(long, value_name = "PERIODUS")]
    pub switch_timer: Option<u64>,
    /// Consumer read period in microseconds (0: wake-up based)
    #[arg(long, value_name = "PERIODUS")]
    pub read_timer: Option<u64>,
    /// Per-user buffers (default)
    #[arg(long, conflicts_with = "buffers_pid")]
    pub buffers_uid: bool,
    /// Per-process buffers
    #[arg(long)]
    pub buffers_pid: bool,
    /// Global buffers (kernel)
    #[arg(long)]
    pub buffers_global: bool,
    /// Maximum size of each stream file (k, M, G suffixes)
    #[arg(long, value_name = "SIZE")]
    pub tracefile_size: Option<String>,
    /// Maximum number of stream files per stream
    #[arg(long, value_name = "COUNT")]
    pub tracefile_count: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DisableChannelArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    pub channels: String,
    #[arg(short = 's', long)]
    pub session: Option<String>,
}

#[derive(Debug, Args)]
pub struct EnableEventArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    /// Event names or patterns, comma separated (`*` wildcards)
    pub names: Option<String>,
    /// Every event (`*`)
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    #[arg(short = 'c', long)]
    pub channel: Option<String>,
    /// Tracepoint events (the default)
    #[arg(long)]
    pub tracepoint: bool,
    /// Kernel system calls (entry and exit)
    #[arg(long)]
    pub syscall: bool,
    /// Only events at least as severe as LEVEL
    #[arg(long, value_name = "LEVEL", conflicts_with = "loglevel_only")]
    pub loglevel: Option<String>,
    /// Only events of exactly LEVEL
    #[arg(long, value_name = "LEVEL")]
    pub loglevel_only: Option<String>,
    /// Names to exclude, comma separated
    #[arg(short = 'x', long, value_name = "NAMES")]
    pub exclude: Option<String>,
    /// Filter expression (not supported yet)
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct DisableEventArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    pub names: Option<String>,
    #[arg(short = 'a', long = "all-events")]
    pub all: bool,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    #[arg(short = 'c', long)]
    pub channel: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddContextArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    /// Context types
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    #[arg(short = 'c', long)]
    pub channel: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// A session to describe
    pub session: Option<String>,
    /// User-space: running instrumented applications and their events
    #[arg(short = 'u', long)]
    pub userspace: bool,
    /// Kernel: available tracepoints
    #[arg(short = 'k', long)]
    pub kernel: bool,
    /// With -k: system calls
    #[arg(long)]
    pub syscall: bool,
    /// With -u: event fields
    #[arg(short = 'f', long)]
    pub fields: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Example program to run (default: rttng-example next to rttng)
    #[arg(long, value_name = "PATH")]
    pub app: Option<PathBuf>,
    /// Arguments for the example program
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Parses `SIZE` with optional k/M/G suffixes (binary units).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// Parses a UST log level name (`INFO`, `TRACE_INFO`, `LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO`) or number.
pub fn parse_level(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (0..=14).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up
        .strip_prefix("LTTNG_UST_TRACEPOINT_LOGLEVEL_")
        .or_else(|| up.strip_prefix("TRACE_"))
        .unwrap_or(&up);
    let name = if name == "WARN" { "WARNING" } else { name };
    UST_LEVELS.iter().position(|l| *l == name).map(|i| i as i32)
}

/// Splits a comma list, honouring `\,`.
fn split_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(',') => cur.push(','),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            ',' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

fn session_or_current(s: Option<String>) -> Result<String, CtlError> {
    s.or_else(rttng_ctl::current_session)
        .ok_or_else(|| usage("no session given and no current session; create one with `rttng create` or choose one with `rttng set-session`"))
}

struct Ctx<'a> {
    opts: ConnectOptions,
    client: Option<Client>,
    kernel_list: &'a dyn Fn(bool) -> anyhow::Result<()>,
}

impl Ctx<'_> {
    fn client(&mut self) -> Result<&mut Client, CtlError> {
        if self.client.is_none() {
            self.client = Some(Client::connect(&self.opts)?);
        }
        self.client.as_mut().ok_or_else(|| usage("no client"))
    }
    fn call(&mut self, req: Request) -> Result<Response, CtlError> {
        self.client()?.call(&req)
    }
}

/// Runs a session command; prints errors as `Error: ...` and returns lttng's exit status.
/// `kernel_list` prints the kernel's tracepoints (or system calls) for `list -k`.
pub fn run(
    g: &Global,
    cmd: SessionCommand,
    kernel_list: &dyn Fn(bool) -> anyhow::Result<()>,
) -> ExitCode {
    let mut ctx = Ctx {
        opts: ConnectOptions {
            spawn: !g.no_sessiond,
            sessiond_path: g.sessiond_path.clone(),
            group: g.group.clone(),
        },
        client: None,
        kernel_list,
    };
    match dispatch(&mut ctx, cmd) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(match e {
                CtlError::Spawn { .. } => EXIT_FATAL,
                _ => EXIT_CMD_ERROR,
            })
        }
    }
}

fn warned(r: Response) -> u8 {
    match r {
        Response::Warning { message } => {
            eprintln!("Warning: {message}");
            EXIT_WARNING
        }
        _ => 0,
    }
}

fn dispatch(ctx: &mut Ctx, cmd: SessionCommand) -> Result<u8, CtlError> {
    match cmd {
        SessionCommand::Create(a) => {
            let output = match a.output {
                Some(o) => Some(
                    std::path::absolute(&o)
                        .map_err(|e| usage(&format!("bad output directory: {e}")))?
                        .to_string_lossy()
                        .into_owned(),
                ),
                None => None,
            };
            match ctx.call(Request::CreateSession {
                name: a.session,
                output,
            })? {
                Response::SessionCreated { name, output } => {
                    let _ = rttng_ctl::set_current_session(&name);
                    println!("Session {name} created.");
                    println!("Traces will be output to {output}");
                    Ok(0)
                }
                other => Ok(warned(other)),
            }
        }
        SessionCommand::Destroy(a) => {
            let names = if a.all {
                match ctx.call(Request::ListSessions)? {
                    Response::Sessions { list } => list.into_iter().map(|s| s.name).collect(),
                    _ => Vec::new(),
                }
            } else {
                vec![session_or_current(a.session)?]
            };
            let mut code = 0;
            for name in names {
                let r = ctx.call(Request::DestroySession {
                    session: name.clone(),
                })?;
                code = code.max(warned(r));
                rttng_ctl::clear_current_session(&name);
                println!("Session {name} destroyed");
            }
            Ok(code)
        }
        SessionCommand::SetSession { session } => {
            match ctx.call(Request::ListSessions)? {
                Response::Sessions { list } if list.iter().any(|s| s.name == session) => {}
                _ => return Err(usage(&format!("session {session:?} not found"))),
            }
            rttng_ctl::set_current_session(&session).map_err(|e| {
                usage(&format!(
                    "cannot write {}: {e}",
                    rttng_ctl::rc_path().display()
                ))
            })?;
            println!("Session set to {session}");
            Ok(0)
        }
        SessionCommand::EnableChannel(a) => {
            let domain = a.domain.domain()?;
            let session = session_or_current(a.session)?;
            let size = |s: &Option<String>, what: &str| -> Result<Option<u64>, CtlError> {
                s.as_deref()
                    .map(|v| parse_size(v).ok_or_else(|| usage(&format!("invalid {what} {v:?}"))))
                    .transpose()
            };
            let attrs = ChannelAttrs {
                subbuf_size: size(&a.subbuf_size, "sub-buffer size")?,
                num_subbuf: a.num_subbuf,
                overwrite: if a.overwrite {
                    Some(true)
                } else if a.discard {
                    Some(false)
                } else {
                    None
                },
                switch_timer_us: a.switch_timer,
                read_timer_us: a.read_timer,
                buffers: if a.buffers_pid {
                    Some(Buffers::PerPid)
                } else if a.buffers_uid {
                    Some(Buffers::PerUid)
                } else if a.buffers_global {
                    Some(Buffers::Global)
                } else {
                    None
                },
                tracefile_size: size(&a.tracefile_size, "trace file size")?,
                tracefile_count: a.tracefile_count,
            };
            if let Some(s) = attrs.subbuf_size.filter(|s| !s.is_power_of_two()) {
                eprintln!(
                    "Warning: the sub-buffer size {s} is rounded up to {}",
                    s.next_power_of_two()
                );
            }
            if let Some(n) = attrs.num_subbuf.filter(|n| !n.is_power_of_two()) {
                eprintln!(
                    "Warning: the sub-buffer count {n} is rounded up to {}",
                    n.next_power_of_two()
                );
            }
            let mut code = 0;
            for ch in split_names(&a.channels) {
                let r = ctx.call(Request::EnableChannel {
                    session: session.clone(),
                    domain,
                    channel: ch.clone(),
                    attrs: attrs.clone(),
                })?;
                code = code.max(warned(r));
                println!(
                    "{} channel {ch} enabled for session {session}",
                    domain.name()
                );
            }
            Ok(code)
        }
        SessionCommand::DisableChannel(a) => {
            let domain = a.domain.domain()?;
            let session = session_or_current(a.session)?;
            for ch in split_names(&a.channels) {
                ctx.call(Request::DisableChannel {
                    session: session.clone(),
                    domain,
                    channel: ch.clone(),
                })?;
                println!(
                    "{} channel {ch} disabled for session {session}",
                    domain.name()
                );
            }
            Ok(0)
        }
        SessionCommand::EnableEvent(a) => {
            let domain = a.domain.domain()?;
            let session = session_or_current(a.session)?;
            if a.filter.is_some() {
                return Err(usage("--filter is not supported by rttng yet"));
            }
            let names = match (a.all, &a.names) {
                (true, None) => vec!["*".to_string()],
                (false, Some(n)) => split_names(n),
                _ => return Err(usage("give event names, or -a for all events")),
            };
            let level = |s: &str| {
                parse_level(s).ok_or_else(|| {
                    usage(&format!(
                        "unknown log level {s:?}; use one of {}",
                        UST_LEVELS.join(", ")
                    ))
                })
            };
            let loglevel = match (&a.loglevel, &a.loglevel_only) {
                (Some(l), _) => LoglevelRule::AtLeast { level: level(l)? },
                (_, Some(l)) => LoglevelRule::Exactly { level: level(l)? },
                _ => LoglevelRule::All,
            };
            if a.syscall && domain != Domain::Kernel {
                return Err(usage("--syscall needs -k"));
            }
            if domain == Domain::Kernel && loglevel != LoglevelRule::All {
                return Err(usage("log levels are not available with -k"));
            }
            let exclusions = a.exclude.as_deref().map(split_names).unwrap_or_default();
            let chan = a.channel.clone().unwrap_or_else(|| "channel0".into());
            for name in names {
                let rule = EventRule {
                    pattern: name.clone(),
                    loglevel,
                    exclusions: exclusions.clone(),
                    syscall: a.syscall,
                };
                ctx.call(Request::EnableEvent {
                    session: session.clone(),
                    domain,
                    channel: a.channel.clone(),
                    rule,
                })?;
                if name == "*" {
                    println!("All {} events are enabled in channel {chan}", domain.name());
                } else {
                    println!("{} event {name} created in channel {chan}", domain.name());
                }
            }
            Ok(0)
        }
        SessionCommand::DisableEvent(a) => {
            let domain = a.domain.domain()?;
            let session = session_or_current(a.session)?;
            let names = match (a.all, &a.names) {
                (true, None) => vec!["*".to_string()],
                (false, Some(n)) => split_names(n),
                _ => return Err(usage("give event names, or -a for all events")),
            };
            let chan = a.channel.clone().unwrap_or_else(|| "channel0".into());
            for name in names {
                ctx.call(Request::DisableEvent {
                    session: session.clone(),
                    domain,
                    channel: a.channel.clone(),
                    pattern: name.clone(),
                })?;
                println!(
                    "{} event {name} disabled in channel {chan} for session {session}",
                    domain.name()
                );
            }
            Ok(0)
        }
        SessionCommand::AddContext(a) => {
            let domain = a.domain.domain()?;
            let session = session_or_current(a.session)?;
            if a.types.is_empty() {
                return Err(usage("give at least one context type with -t"));
            }
            for t in &a.types {
                let c = ContextType::from_name(t).ok_or_else(|| {
                    usage(&format!(
                        "{t}: {} invalid context",
                        domain.name().to_uppercase()
                    ))
                })?;
                if domain == Domain::Kernel
                    && !matches!(
                        c,
                        ContextType::Pid
                            | ContextType::Tid
                            | ContextType::Procname
                            | ContextType::CpuId
                    )
                {
                    return Err(usage(&format!(
                        "{t}: kernel context not supported by rttng yet (supported: pid, tid, procname, cpu_id)"
                    )));
                }
                if domain == Domain::Ust
                    && matches!(
                        c,
                        ContextType::Ip | ContextType::Pid | ContextType::Tid | ContextType::Prio
                    )
                {
                    return Err(usage(&format!(
                        "{t}: context not supported by rttng-ust yet (supported: vpid, vtid, procname, pthread_id, cpu_id, hostname, the namespace ids cgroup_ns ipc_ns mnt_ns net_ns pid_ns time_ns user_ns uts_ns, and vuid veuid vsuid vgid vegid vsgid)"
                    )));
                }
                ctx.call(Request::AddContext {
                    session: session.clone(),
                    domain,
                    channel: a.channel.clone(),
                    context: c,
                })?;
                match &a.channel {
                    Some(ch) => println!("{} context {t} added to channel {ch}", domain.name()),
                    None => println!("{} context {t} added to all channels", domain.name()),
                }
            }
            Ok(0)
        }
        SessionCommand::Start { session } => {
            let session = session_or_current(session)?;
            ctx.call(Request::Start {
                session: session.clone(),
            })?;
            println!("Tracing started for session {session}");
            Ok(0)
        }
        SessionCommand::Stop { session, .. } => {
            let session = session_or_current(session)?;
            println!("Waiting for data availability");
            let r = ctx.call(Request::Stop {
                session: session.clone(),
            })?;
            let code = warned(r);
            println!("Tracing stopped for session {session}");
            Ok(code)
        }
        SessionCommand::Status => {
            let session = session_or_current(None)?;
            list_session(ctx, &session)
        }
        SessionCommand::List(a) => {
            if a.kernel {
                return match (ctx.kernel_list)(a.syscall) {
                    Ok(()) => Ok(0),
                    Err(e) => Err(usage(&format!("{e:#}"))),
                };
            }
            if a.userspace {
                return list_apps(ctx, a.fields);
            }
            match a.session {
                Some(s) => list_session(ctx, &s),
                None => list_sessions(ctx),
            }
        }
        SessionCommand::Version => {
            println!(
                "rttng version {} - LTTng-compatible tracing in Rust",
                env!("CARGO_PKG_VERSION")
            );
            println!();
            println!("Traces are CTF 1.8, laid out like LTTng's, and read by babeltrace2.");
            println!("License: MIT OR Apache-2.0");
            Ok(0)
        }
        SessionCommand::Demo(a) => crate::demo::run(ctx_opts(ctx), a),
    }
}

fn ctx_opts(ctx: &Ctx) -> ConnectOptions {
    ctx.opts.clone()
}

fn list_sessions(ctx: &mut Ctx) -> Result<u8, CtlError> {
    let Response::Sessions { list } = ctx.call(Request::ListSessions)? else {
        return Ok(0);
    };
    if list.is_empty() {
        println!("Currently no available recording session");
        return Ok(0);
    }
    println!("Available recording sessions:");
    for (i, s) in list.iter().enumerate() {
        println!(
            "  {}) {} [{}]",
            i + 1,
            s.name,
            if s.active { "active" } else { "inactive" }
        );
        println!("     Trace output: {}", s.output);
        println!();
    }
    println!("Use `rttng list SESSION` for more details");
    Ok(0)
}

/// Prints `list SESSION`; returns 4 when the daemon reported a problem.
fn list_session(ctx: &mut Ctx, session: &str) -> Result<u8, CtlError> {
    let Response::Session { detail } = ctx.call(Request::ListSession {
        session: session.to_string(),
    })?
    else {
        return Ok(0);
    };
    print!("{}", format_detail(&detail));
    for w in &detail.warnings {
        eprintln!("Warning: {w}");
    }
    Ok(if detail.warnings.is_empty() {
        0
    } else {
        EXIT_WARNING
    })
}

fn us(v: u64) -> String {
    if v == 0 {
        "inactive".into()
    } else {
        format!("{v} µs")
    }
}

pub fn format_detail(d: &SessionDetail) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Recording session {}: [{}]",
        d.name,
        if d.active { "active" } else { "inactive" }
    );
    let _ = writeln!(o, "    Trace output: {}", d.output);
    for domain in [Domain::Kernel, Domain::Ust] {
        let chans: Vec<_> = d.channels.iter().filter(|c| c.domain == domain).collect();
        if chans.is_empty() {
            continue;
        }
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "=== Domain: {} ===",
            if domain == Domain::Ust {
                "User space"
            } else {
                "Linux kernel"
            }
        );
        let _ = writeln!(o);
        if domain == Domain::Ust {
            let scheme = match chans[0].attrs.buffers {
                Buffers::PerPid => "per-process",
                _ => "per-user",
            };
            let _ = writeln!(o, "Buffering scheme: {scheme}");
            let _ = writeln!(o);
        }
        let _ = writeln!(o, "Channels:");
        let _ = writeln!(o, "-------------");
        for c in chans {
            let _ = writeln!(
                o,
                "- {}: [{}]",
                c.name,
                if c.enabled { "enabled" } else { "disabled" }
            );
            let _ = writeln!(o);
            let a = &c.attrs;
            let _ = writeln!(o, "    Attributes:");
            let _ = writeln!(
                o,
                "      Event-loss mode:  {}",
                if a.overwrite { "overwrite" } else { "discard" }
            );
            let _ = writeln!(o, "      Sub-buffer size:  {} bytes", a.subbuf_size);
            let _ = writeln!(o, "      Sub-buffer count: {}", a.num_subbuf);
            let _ = writeln!(o, "      Switch timer:     {}", us(a.switch_timer_us));
            let _ = writeln!(o, "      Read timer:       {}", us(a.read_timer_us));
            let _ = writeln!(
                o,
                "      Trace file count: {}",
                if a.tracefile_count == 0 {
                    "1 per stream".to_string()
                } else {
                    a.tracefile_count.to_string()
                }
            );
            let _ = writeln!(
                o,
                "      Trace file size:  {}",
                if a.tracefile_size == 0 {
                    "unlimited".to_string()
                } else {
                    format!("{} bytes", a.tracefile_size)
                }
            );
            let _ = writeln!(o, "      Output mode:      mmap");
            if !c.contexts.is_empty() {
                let names: Vec<&str> = c.contexts.iter().map(|c| c.name()).collect();
                let _ = writeln!(o, "      Contexts:         {}", names.join(", "));
            }
            let _ = writeln!(o);
            let _ = writeln!(o, "    Statistics:");
            let _ = writeln!(o, "      Discarded events: {}", c.discarded_events);
            let _ = writeln!(o, "      Lost packets:     {}", c.lost_packets);
            let _ = writeln!(o);
            let _ = writeln!(o, "    Recording event rules:");
            if c.rules.is_empty() {
                let _ = writeln!(o, "      None");
            }
            for r in &c.rules {
                let mut line = format!("      {}", r.rule.pattern);
                match r.rule.loglevel {
                    LoglevelRule::All => {}
                    LoglevelRule::AtLeast { level } => {
                        line += &format!(" (loglevel: {} (<= {level}))", level_name(level))
                    }
                    LoglevelRule::Exactly { level } => {
                        line += &format!(" (loglevel: {} (== {level}))", level_name(level))
                    }
                }
                if !r.rule.exclusions.is_empty() {
                    line += &format!(" (exclusions: {})", r.rule.exclusions.join(","));
                }
                line += &format!(
                    " (type: {}) [{}]",
                    if r.rule.syscall {
                        "syscall"
                    } else {
                        "tracepoint"
                    },
                    if r.enabled { "enabled" } else { "disabled" }
                );
                let _ = writeln!(o, "{line}");
            }
            let _ = writeln!(o);
        }
    }
    o
}

fn level_name(l: i32) -> String {
    UST_LEVELS
        .get(l as usize)
        .map(|n| format!("TRACE_{n}"))
        .unwrap_or_else(|| l.to_string())
}

fn list_apps(ctx: &mut Ctx, fields: bool) -> Result<u8, CtlError> {
    let Response::Apps { list } = ctx.call(Request::ListApps)? else {
        return Ok(0);
    };
    println!("UST events:");
    println!("-------------");
    if list.is_empty() {
        println!("None");
    }
    for app in list {
        println!();
        let exe = std::fs::read_link(format!("/proc/{}/exe", app.pid))
            .map(|p| p.display().to_string())
            .unwrap_or(app.name.clone());
        println!("PID: {} - Name: {exe}", app.pid);
        for e in app.events {
            println!(
                "      {} (loglevel: {} ({})) (type: tracepoint)",
                e.name,
                level_name(e.loglevel),
                e.loglevel
            );
            if fields {
                for (n, k) in e.fields {
                    println!("        field: {n} ({k})");
                }
            }
        }
    }
    println!();
    Ok(0)
}

/// The output directory of `session` (for `view SESSION`).
pub fn session_output(g: &Global, session: Option<String>) -> Result<PathBuf, CtlError> {
    let session = session_or_current(session)?;
    let opts = ConnectOptions {
        spawn: false,
        sessiond_path: g.sessiond_path.clone(),
        group: g.group.clone(),
    };
    let mut c = Client::connect(&opts)?;
    match c.call(&Request::ListSession { session })? {
        Response::Session { detail } => Ok(PathBuf::from(detail.output)),
        _ => Err(usage("unexpected answer from the session daemon")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_levels() {
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_level("INFO"), Some(6));
        assert_eq!(parse_level("TRACE_DEBUG_LINE"), Some(13));
        assert_eq!(parse_level("warning"), Some(4));
        assert_eq!(parse_level("NOPE"), None);
    }

    #[test]
    fn comma_lists_with_escapes() {
        assert_eq!(split_names("a,b\\,c,,d"), vec!["a", "b,c", "d"]);
    }
}
