//! The session commands of `rttng` — lttng's names, options, defaults, messages and exit
//! statuses (0 success, 1 command error, 3 fatal error, 4 warning): create, destroy,
//! set-session, enable-channel, disable-channel, enable-event, disable-event, add-context,
//! start, stop, status, list, version. They talk to the session daemon through `rttng-ctl`.
//! Not here: their arguments (`cli.rs`), what `list` prints (`list.rs`), `demo` and
//! `list -k` (dispatched by `main.rs`), the viewer (`view.rs`), any session logic.

use std::path::PathBuf;
use std::process::ExitCode;

use rttng_ctl::proto::{
    Buffers, ChannelAttrs, ContextType, Domain, EventRule, LoglevelRule, Request, Response,
};
use rttng_ctl::{Client, ConnectOptions};

use crate::cli::{parse_level, parse_size, split_names, Global, SessionCommand};
use crate::error::{usage, CliError, EXIT_WARNING};
use crate::list;
use rttng_ctf::lttng::LOGLEVEL_NAMES;

fn session_or_current(s: Option<String>) -> Result<String, CliError> {
    s.or_else(rttng_ctl::current_session)
        .ok_or_else(|| usage("no session given and no current session; create one with `rttng create` or choose one with `rttng set-session`"))
}

struct Ctx {
    opts: ConnectOptions,
    client: Option<Client>,
}

impl Ctx {
    fn client(&mut self) -> Result<&mut Client, CliError> {
        if self.client.is_none() {
            self.client = Some(Client::connect(&self.opts)?);
        }
        self.client.as_mut().ok_or_else(|| usage("no client"))
    }
    fn call(&mut self, req: Request) -> Result<Response, CliError> {
        Ok(self.client()?.call(&req)?)
    }
}

/// The connection options the global flags ask for.
pub fn connect_options(g: &Global) -> ConnectOptions {
    ConnectOptions {
        spawn: !g.no_sessiond,
        sessiond_path: g.sessiond_path.clone(),
        group: g.group.clone(),
    }
}

/// Prints an error as `Error: ...` and returns lttng's exit status for it.
pub fn exit_status(result: Result<u8, CliError>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if let CliError::InvalidFilter { diagnostic, .. } = &e {
                eprintln!("{diagnostic}");
            }
            eprintln!("Error: {e}");
            ExitCode::from(e.exit_status())
        }
    }
}

/// Runs a session command; prints errors as `Error: ...` and returns lttng's exit status.
pub fn run(g: &Global, cmd: SessionCommand) -> ExitCode {
    let mut ctx = Ctx {
        opts: connect_options(g),
        client: None,
    };
    exit_status(dispatch(&mut ctx, cmd))
}

/// `create --snapshot`, with lttng's messages.
fn create_snapshot(
    ctx: &mut Ctx,
    session: Option<String>,
    output: Option<String>,
    no_output: bool,
) -> Result<u8, CliError> {
    match ctx.call(Request::CreateSnapshotSession {
        name: session,
        output,
        no_output,
    })? {
        Response::SessionCreated { name, output } => {
            let _ = rttng_ctl::set_current_session(&name);
            println!("Snapshot session {name} created.");
            if !output.is_empty() {
                println!("Default snapshot output set to {output}");
            }
            println!("Every channel enabled for this session will be set to mmap output and default to overwrite mode.");
            Ok(0)
        }
        other => Ok(warned(other)),
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

fn dispatch(ctx: &mut Ctx, cmd: SessionCommand) -> Result<u8, CliError> {
    match cmd {
        SessionCommand::Create(a) => {
            let local = match (&a.output, &a.set_url) {
                (Some(o), _) => Some(o.clone()),
                (None, Some(u)) => u.strip_prefix("file://").map(PathBuf::from),
                _ => None,
            };
            let output = match (local, net_output(&a)?) {
                (Some(o), _) => Some(
                    std::path::absolute(&o)
                        .map_err(|e| usage(&format!("bad output directory: {e}")))?
                        .to_string_lossy()
                        .into_owned(),
                ),
                (None, net) => net,
            };
            if a.snapshot {
                // A network output becomes the session's snapshot output (a net:// URL).
                return create_snapshot(ctx, a.session, output, a.no_output);
            }
            if a.no_output {
                return Err(usage(
                    "--no-output needs --snapshot: a recording session writes its trace as it goes",
                ));
            }
            let live_timer_us = a.live.unwrap_or(0);
            if a.live.is_some() && !(1..=u64::from(u32::MAX)).contains(&live_timer_us) {
                return Err(usage(&format!(
                    "--live={live_timer_us}: the period must be between 1 and {} microseconds",
                    u32::MAX
                )));
            }
            // lttng's default for a live session: the local relay daemon.
            let output = match output {
                None if a.live.is_some() => Some("net://127.0.0.1".to_string()),
                o => o,
            };
            match ctx.call(Request::CreateSession {
                name: a.session,
                output,
                live_timer_us,
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
            let size = |s: &Option<String>, what: &str| -> Result<Option<u64>, CliError> {
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
            if domain.is_agent() {
                let session = session_or_current(a.session.clone())?;
                return enable_agent_event(ctx, domain, session, a);
            }
            let session = session_or_current(a.session)?;
            let names = match (a.all, &a.names) {
                (true, None) => vec!["*".to_string()],
                (false, Some(n)) => split_names(n),
                _ => return Err(usage("give event names, or -a for all events")),
            };
            let level = |s: &str| {
                parse_level(s).ok_or_else(|| {
                    usage(&format!(
                        "unknown log level {s:?}; use one of {}",
                        LOGLEVEL_NAMES.join(", ")
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
                if let Some(filter) = &a.filter {
                    // lttng's wording: "Event NAME: ..." or "All events: ...".
                    let what = if a.all {
                        "All events".to_string()
                    } else {
                        format!("Event {name}")
                    };
                    let invalid = |diagnostic: String| {
                        CliError::InvalidFilter {
                        diagnostic,
                        message: format!(
                            "{what}: Invalid filter bytecode (channel {chan}, session {session}, filter '{filter}')"
                        ),
                    }
                    };
                    // Checked here too, to point at the offending position.
                    if let Err(e) = rttng_filter::compile(filter) {
                        return Err(invalid(format!(
                            "[error] {e}\n{}",
                            indent(&e.caret(filter))
                        )));
                    }
                    let r = ctx.call(Request::EnableEventFilter {
                        session: session.clone(),
                        domain,
                        channel: a.channel.clone(),
                        rule,
                        filter: filter.clone(),
                    });
                    match r {
                        Err(CliError::Ctl(rttng_ctl::CtlError::Daemon {
                            code: rttng_ctl::ErrorCode::InvalidFilter,
                            message,
                        })) => return Err(invalid(format!("[error] {message}"))),
                        r => r?,
                    };
                    if a.all {
                        println!("Filter '{filter}' successfully set");
                    } else {
                        println!("Event {name}: Filter '{filter}' successfully set");
                    }
                    continue;
                }
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
            if domain.is_agent() {
                let session = session_or_current(a.session.clone())?;
                return disable_agent_event(ctx, domain, session, a);
            }
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
                    && matches!(c, ContextType::Pid | ContextType::Tid | ContextType::Prio)
                {
                    return Err(usage(&format!(
                        "{t}: context not supported by rttng-ust yet (supported: vpid, vtid, procname, pthread_id, cpu_id, hostname, ip, the namespace ids cgroup_ns ipc_ns mnt_ns net_ns pid_ns time_ns user_ns uts_ns, and vuid veuid vsuid vgid vegid vsgid)"
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
            print_session_losses(ctx, &session)?;
            Ok(code)
        }
        SessionCommand::Status => {
            let session = session_or_current(None)?;
            list_session(ctx, &session)
        }
        SessionCommand::List(a) => {
            if a.userspace {
                return list_apps(ctx, a.fields);
            }
            for (on, d) in [
                (a.jul, Domain::Jul),
                (a.log4j, Domain::Log4j),
                (a.python, Domain::Python),
            ] {
                if on {
                    return list_agent_loggers(ctx, d);
                }
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
    }
}

/// Each line of `text` indented by four spaces.
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The relay URL of `create --set-url net://...` or `-C tcp://... -D tcp://...`, as the
/// `net://HOST:CTRL:DATA[/PATH]` the session daemon takes; `None` for a local session.
fn net_output(a: &crate::cli::CreateArgs) -> Result<Option<String>, CliError> {
    use rttng_relay_proto::url::{
        parse_net, parse_tcp, NetUrl, DEFAULT_CONTROL_PORT, DEFAULT_DATA_PORT,
    };
    if let Some(u) = &a.set_url {
        if u.starts_with("file://") {
            return Ok(None);
        }
        let url = parse_net(u).map_err(|e| usage(&format!("bad URL {u:?}: {e}")))?;
        return Ok(Some(url.to_string()));
    }
    let (Some(c), Some(d)) = (&a.ctrl_url, &a.data_url) else {
        return Ok(None);
    };
    let ctrl = parse_tcp(c, DEFAULT_CONTROL_PORT)
        .map_err(|e| usage(&format!("bad control URL {c:?}: {e}")))?;
    let data =
        parse_tcp(d, DEFAULT_DATA_PORT).map_err(|e| usage(&format!("bad data URL {d:?}: {e}")))?;
    if ctrl.host != data.host || ctrl.v6 != data.v6 {
        return Err(usage(&format!(
            "the control and data URLs name different hosts ({} and {}); rttng streams both to one relay",
            ctrl.host, data.host
        )));
    }
    Ok(Some(
        NetUrl {
            host: ctrl.host,
            control_port: ctrl.port,
            data_port: data.port,
            v6: ctrl.v6,
            base_path: String::new(),
        }
        .to_string(),
    ))
}

fn list_sessions(ctx: &mut Ctx) -> Result<u8, CliError> {
    if let Response::Sessions { list } = ctx.call(Request::ListSessions)? {
        list::print_sessions(&list);
    }
    Ok(0)
}

/// After `stop`, lttng's summary of what the session lost (the totals `list` shows, which
/// are the trace's packet contexts' and the consumer's lost packets).
fn print_session_losses(ctx: &mut Ctx, session: &str) -> Result<(), CliError> {
    if let Response::Session { detail } = ctx.call(Request::ListSession {
        session: session.to_string(),
    })? {
        let discarded: u64 = detail.channels.iter().map(|c| c.discarded_events).sum();
        let lost: u64 = detail.channels.iter().map(|c| c.lost_packets).sum();
        // lttng 2.13's wording (src/bin/lttng/utils.c, get_session_stats_str).
        let doc = "please refer to the documentation on channel configuration.";
        match (discarded, lost) {
            (0, 0) => {}
            (d, 0) => println!("Warning: {d} events were discarded, {doc}"),
            (0, l) => println!("Warning: {l} packets were lost, {doc}"),
            (d, l) => {
                println!("Warning: {d} events were discarded and {l} packets were lost, {doc}")
            }
        }
    }
    Ok(())
}

/// `list SESSION`; 4 when the daemon reported a problem.
fn list_session(ctx: &mut Ctx, session: &str) -> Result<u8, CliError> {
    match ctx.call(Request::ListSession {
        session: session.to_string(),
    })? {
        Response::Session { detail } => {
            let filters = match ctx.call(Request::ListFilters {
                session: session.to_string(),
            })? {
                Response::Filters { list } => list,
                _ => Vec::new(),
            };
            let agents = match ctx.call(Request::ListAgentRules {
                session: session.to_string(),
            }) {
                Ok(Response::AgentRules { list }) => list,
                _ => Vec::new(),
            };
            let code = list::print_session(&detail, &filters);
            print!("{}", crate::agent_cmd::format_rules(&agents));
            Ok(code)
        }
        _ => Ok(0),
    }
}

/// `enable-event -j/-l/-p`.
fn enable_agent_event(
    ctx: &mut Ctx,
    domain: Domain,
    session: String,
    a: crate::cli::EnableEventArgs,
) -> Result<u8, CliError> {
    let names = match (a.all, &a.names) {
        (true, None) => vec!["*".to_string()],
        (false, Some(n)) => split_names(n),
        _ => return Err(usage("give logger names, or -a for all loggers")),
    };
    if a.syscall {
        return Err(usage("Event type not supported for domain."));
    }
    if a.exclude.is_some() {
        // lttng 2.13's refusal.
        return Err(usage(&format!(
            "Event name exclusions are not yet implemented for {} events",
            domain.name()
        )));
    }
    let loglevel =
        crate::agent_cmd::loglevel_rule(domain, a.loglevel.as_deref(), a.loglevel_only.as_deref())?;
    let shown_level = a.loglevel.as_deref().or(a.loglevel_only.as_deref());
    for name in names {
        let rule = EventRule {
            pattern: name.clone(),
            loglevel,
            exclusions: Vec::new(),
            syscall: false,
        };
        match &a.filter {
            Some(filter) => {
                if let Err(e) = rttng_filter::compile(filter) {
                    return Err(CliError::InvalidFilter {
                        diagnostic: format!("[error] {e}\n{}", indent(&e.caret(filter))),
                        message: format!(
                            "Event {name}: Invalid filter bytecode (channel channel0, session {session}, filter '{filter}')"
                        ),
                    });
                }
                ctx.call(Request::EnableEventFilter {
                    session: session.clone(),
                    domain,
                    channel: None,
                    rule,
                    filter: filter.clone(),
                })?;
                if name == "*" {
                    println!("Filter '{filter}' successfully set");
                } else {
                    println!("Event {name}: Filter '{filter}' successfully set");
                }
            }
            None => {
                ctx.call(Request::EnableEvent {
                    session: session.clone(),
                    domain,
                    channel: None,
                    rule,
                })?;
                println!(
                    "{}",
                    crate::agent_cmd::enabled_message(domain, &name, shown_level)
                );
            }
        }
    }
    Ok(0)
}

/// `disable-event -j/-l/-p`.
fn disable_agent_event(
    ctx: &mut Ctx,
    domain: Domain,
    session: String,
    a: crate::cli::DisableEventArgs,
) -> Result<u8, CliError> {
    let names = match (a.all, &a.names) {
        (true, None) => vec!["*".to_string()],
        (false, Some(n)) => split_names(n),
        _ => return Err(usage("Missing event name(s).")),
    };
    for name in names {
        ctx.call(Request::DisableEvent {
            session: session.clone(),
            domain,
            channel: None,
            pattern: name.clone(),
        })?;
        println!(
            "{}",
            crate::agent_cmd::disabled_message(domain, &name, &session)
        );
    }
    Ok(0)
}

/// `list -j/-l/-p`.
fn list_agent_loggers(ctx: &mut Ctx, domain: Domain) -> Result<u8, CliError> {
    if let Response::AgentLoggers { list } = ctx.call(Request::ListAgentLoggers { domain })? {
        print!("{}", crate::agent_cmd::format_loggers(domain, &list));
    }
    Ok(0)
}

fn list_apps(ctx: &mut Ctx, fields: bool) -> Result<u8, CliError> {
    if let Response::Apps { list } = ctx.call(Request::ListApps)? {
        list::print_apps(list, fields);
    }
    Ok(0)
}

/// The output directory of `session` (for `view SESSION`).
pub fn session_output(g: &Global, session: Option<String>) -> Result<PathBuf, CliError> {
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
