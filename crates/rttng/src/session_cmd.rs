//! The session commands of `rttng` — lttng's names, options, defaults, messages and exit
//! statuses (0 success, 1 command error, 3 fatal error, 4 warning): create, destroy,
//! set-session, enable-channel, disable-channel, enable-event, disable-event, add-context,
//! start, stop, status, list, version. They talk to the session daemon through `rttng-ctl`;
//! only `create` starts a daemon, as lttng's. Not here: their arguments (`cli.rs`), what
//! `list` prints (`list.rs`), `track`/`untrack` (`track_cmd.rs`), `--mi xml` (`mi_cmd.rs`),
//! `demo` and `list -k` (dispatched by `main.rs`), the viewer (`view.rs`), any session
//! logic; the longer commands' bodies: `create_destroy_cmd.rs`, `list_cmd.rs`,
//! `agent_event_cmd.rs`, `context_cmd.rs`.

use std::path::PathBuf;
use std::process::ExitCode;

use rttng_ctl::proto::{Buffers, ChannelAttrs, Domain, EventRule, LoglevelRule, Request, Response};
use rttng_ctl::{Client, ConnectOptions};

use crate::agent_event_cmd::{disable_agent_event, enable_agent_event};
use crate::cli::{parse_level, parse_size, split_names, Global, SessionCommand};
use crate::context_cmd::{context_note, context_type, domain_word, LTTNG_CONTEXT_TYPES};
use crate::create_destroy_cmd::{destroy_one, net_output, print_session_losses};
use crate::error::{
    usage, CliError, EXIT_INVALID, EXIT_NO_SESSIOND, EXIT_UST_EVENT_NOT_FOUND, EXIT_WARNING,
};
use crate::list_cmd::{list_agent_loggers, list_apps, list_session, list_sessions};
use rttng_ctf::lttng::LOGLEVEL_NAMES;

pub(crate) fn session_or_current(s: Option<String>) -> Result<String, CliError> {
    s.or_else(rttng_ctl::current_session)
        .ok_or_else(|| usage("no session given and no current session; create one with `rttng create` or choose one with `rttng set-session`"))
}

pub(crate) struct Ctx {
    pub(crate) opts: ConnectOptions,
    pub(crate) client: Option<Client>,
    /// `-v` count: 1 says each request and answer on standard error, 2 also their fields.
    pub(crate) verbose: u8,
    /// What `track`/`untrack` did, per attribute and value (`None`: `--all`), for `--mi`.
    pub(crate) tracked: Vec<crate::mi::TrackerChange>,
}

/// Most characters of one `-vv` debug line.
const DEBUG_LINE_CHARS: usize = 400;

impl Ctx {
    pub(crate) fn new(opts: ConnectOptions, g: &Global) -> Ctx {
        Ctx {
            opts,
            client: None,
            verbose: g.verbose,
            tracked: Vec::new(),
        }
    }
    fn client(&mut self) -> Result<&mut Client, CliError> {
        if self.client.is_none() {
            if self.verbose > 0 {
                eprintln!(
                    "DEBUG1: connecting to the session daemon (starting one if none answers: {})",
                    self.opts.spawn
                );
            }
            self.client = Some(Client::connect(&self.opts)?);
        }
        self.client.as_mut().ok_or_else(|| usage("no client"))
    }
    pub(crate) fn call(&mut self, req: Request) -> Result<Response, CliError> {
        let verbose = self.verbose;
        if verbose > 0 {
            eprintln!("DEBUG1: request {}", debug_text(&req, verbose));
        }
        let r = self.client()?.call(&req);
        if verbose > 0 {
            match &r {
                Ok(resp) => eprintln!("DEBUG1: answer {}", debug_text(resp, verbose)),
                Err(e) => eprintln!("DEBUG1: failed: {e}"),
            }
        }
        Ok(r?)
    }
}

/// A request or answer for `-v` (its kind) or `-vv` (with its fields, bounded).
fn debug_text(v: &dyn std::fmt::Debug, verbose: u8) -> String {
    let full = format!("{v:?}");
    let text = if verbose >= 2 {
        full
    } else {
        full.split([' ', '{', '(']).next().unwrap_or("").to_string()
    };
    text.chars().take(DEBUG_LINE_CHARS).collect()
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
            match &e {
                CliError::Ctl(rttng_ctl::CtlError::NoDaemon { rundir }) => {
                    eprintln!("Error: {}", no_daemon_message(rundir))
                }
                e if e.is_warning() => eprintln!("Warning: {e}"),
                e => eprintln!("Error: {e}"),
            }
            ExitCode::from(e.exit_status())
        }
    }
}

/// Runs a session command; prints errors as `Error: ...` and returns lttng's exit status.
pub fn run(g: &Global, cmd: SessionCommand) -> ExitCode {
    if let Some(kind) = &g.mi {
        return crate::mi_cmd::run_mi(g, kind, cmd);
    }
    run_plain(g, cmd)
}

fn run_plain(g: &Global, cmd: SessionCommand) -> ExitCode {
    let mut opts = connect_options(g);
    opts.spawn = false;
    let mut ctx = Ctx::new(opts, g);
    exit_status(run_with(&mut ctx, g, cmd))
}

/// Runs `cmd` on `ctx`: starts a daemon for `create` only, and applies lttng's statuses.
pub(crate) fn run_with(ctx: &mut Ctx, g: &Global, cmd: SessionCommand) -> Result<u8, CliError> {
    run_inner(ctx, !g.no_sessiond, cmd)
}

fn run_inner(ctx: &mut Ctx, spawn_allowed: bool, cmd: SessionCommand) -> Result<u8, CliError> {
    // As lttng: only `create` starts a session daemon; every other command on no daemon
    // says there is none.
    let create = matches!(cmd, SessionCommand::Create(_));
    if spawn_allowed && create && ctx.client.is_none() {
        match Client::connect(&ctx.opts) {
            Ok(c) => ctx.client = Some(c),
            Err(rttng_ctl::CtlError::NoDaemon { .. }) => {
                println!("Spawning a session daemon");
                ctx.opts.spawn = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
    // lttng's start and stop exit with LTTNG_ERR_NO_SESSIOND itself; the others with 1.
    let raw_status = matches!(
        cmd,
        SessionCommand::Start { .. } | SessionCommand::Stop { .. }
    );
    dispatch(ctx, cmd).map_err(|e| match e {
        CliError::Ctl(rttng_ctl::CtlError::NoDaemon { rundir }) if raw_status => CliError::Status {
            status: EXIT_NO_SESSIOND,
            message: no_daemon_message(&rundir),
        },
        e => e,
    })
}

/// lttng's words first, then where rttng looked and what to do.
fn no_daemon_message(rundir: &std::path::Path) -> String {
    format!(
        "No session daemon is available (nothing answers in {}); `rttng create` starts one",
        rundir.display()
    )
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

pub(crate) fn warned(r: Response) -> u8 {
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
                code = code.max(destroy_one(ctx, &name, a.no_wait)?);
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
            let mut attrs = attrs;
            if attrs.num_subbuf == Some(0) {
                return Err(usage("Wrong value in --num-subbuf parameter: 0"));
            }
            // lttng's client rounds both up to a power of two, with these warnings.
            if let Some(s) = attrs.subbuf_size.filter(|s| !s.is_power_of_two()) {
                let r = s.checked_next_power_of_two().ok_or_else(|| {
                    usage(&format!("The subbuf size ({s}) is rounded and overflows!"))
                })?;
                eprintln!("Warning: The subbuf size ({s}) is rounded to the next power of 2 ({r})");
                attrs.subbuf_size = Some(r);
            }
            if let Some(n) = attrs.num_subbuf.filter(|n| !n.is_power_of_two()) {
                let r = n.checked_next_power_of_two().ok_or_else(|| {
                    usage(&format!(
                        "The number of subbuffers ({n}) is rounded and overflows!"
                    ))
                })?;
                eprintln!("Warning: The number of subbuffers ({n}) is rounded to the next power of 2 ({r})");
                attrs.num_subbuf = Some(r);
            }
            let mut code = 0;
            for ch in split_names(&a.channels) {
                let r = match ctx.call(Request::EnableChannel {
                    session: session.clone(),
                    domain,
                    channel: ch.clone(),
                    attrs: attrs.clone(),
                }) {
                    // lttng's warning (status 4), and on to the next channel.
                    Err(CliError::Ctl(rttng_ctl::CtlError::Daemon {
                        code: rttng_ctl::ErrorCode::ChannelExists,
                        message,
                    })) => {
                        eprintln!("Warning: Channel {ch}: {message} (session {session})");
                        code = EXIT_WARNING;
                        continue;
                    }
                    r => r?,
                };
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
                match ctx.call(Request::DisableChannel {
                    session: session.clone(),
                    domain,
                    channel: ch.clone(),
                }) {
                    // lttng: "Error: Channel NAME: ... not found", with the warning status.
                    Err(CliError::Ctl(rttng_ctl::CtlError::Daemon {
                        code: rttng_ctl::ErrorCode::NoChannel,
                        message,
                    })) => {
                        return Err(CliError::Status {
                            status: EXIT_WARNING,
                            message: format!("Channel {ch}: {message} (session {session})"),
                        })
                    }
                    r => r?,
                };
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
                parse_level(s).ok_or_else(|| CliError::Status {
                    status: EXIT_INVALID,
                    message: format!(
                        "Unknown loglevel {s} (one of {})",
                        LOGLEVEL_NAMES.join(", ")
                    ),
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
            let chan = a.channel.clone().unwrap_or_else(|| "channel0".into());
            // lttng's words for the instrumentation type asked.
            let kind = if a.syscall {
                "syscall"
            } else if a.tracepoint {
                "tracepoint"
            } else {
                "any"
            };
            let names = match (a.all, &a.names) {
                (true, None) => {
                    ctx.call(Request::DisableEventAll {
                        session: session.clone(),
                        domain,
                        channel: a.channel.clone(),
                    })?;
                    println!(
                        "All {} events of type {kind} are disabled in channel {chan}",
                        domain.name()
                    );
                    return Ok(0);
                }
                (false, Some(n)) => split_names(n),
                _ => return Err(usage("give event names, or -a for all events")),
            };
            for name in names {
                match ctx.call(Request::DisableEvent {
                    session: session.clone(),
                    domain,
                    channel: a.channel.clone(),
                    pattern: name.clone(),
                }) {
                    Err(CliError::Ctl(rttng_ctl::CtlError::Daemon {
                        code: rttng_ctl::ErrorCode::NoEvent,
                        message,
                    })) if domain == Domain::Ust => {
                        return Err(CliError::Status {
                            status: EXIT_UST_EVENT_NOT_FOUND,
                            message: format!(
                            "{name} of type {kind} : {message} (channel {chan}, session {session})"
                        ),
                        })
                    }
                    r => r?,
                };
                println!(
                    "{} event {name} of type {kind} disabled in channel {chan} for session {session}",
                    domain.name()
                );
            }
            Ok(0)
        }
        SessionCommand::AddContext(a) if a.list => {
            // lttng's list, in its order (which types this machine and domain record is
            // said when one is added).
            print!("{LTTNG_CONTEXT_TYPES}");
            Ok(0)
        }
        SessionCommand::AddContext(a) => {
            let domain = a.domain.domain()?;
            let session = session_or_current(a.session)?;
            if a.types.is_empty() {
                return Err(usage("give at least one context type with -t"));
            }
            for t in &a.types {
                // `$app.PROVIDER:NAME`: an application context (user space and the agents).
                let request = match t.strip_prefix("$app.") {
                    Some(name) => Request::AddAppContext {
                        session: session.clone(),
                        domain,
                        channel: a.channel.clone(),
                        name: name.to_string(),
                    },
                    None => Request::AddContext {
                        session: session.clone(),
                        domain,
                        channel: a.channel.clone(),
                        context: context_type(domain, t)?,
                    },
                };
                match ctx.call(request) {
                    // lttng's words and warning status for these two refusals.
                    Err(CliError::Ctl(rttng_ctl::CtlError::Daemon { code, .. }))
                        if matches!(
                            code,
                            rttng_ctl::ErrorCode::NoChannel | rttng_ctl::ErrorCode::SessionActive
                        ) =>
                    {
                        let why = if code == rttng_ctl::ErrorCode::NoChannel {
                            format!("{} channel not found", domain_word(domain))
                        } else {
                            "Tracing has already been started once".to_string()
                        };
                        return Err(CliError::Status {
                            status: EXIT_WARNING,
                            message: format!("{t}: {why}"),
                        });
                    }
                    r => r?,
                };
                match &a.channel {
                    Some(ch) => println!("{} context {t} added to channel {ch}", domain.name()),
                    None => println!("{} context {t} added to all channels", domain.name()),
                }
                if let Some(note) = context_note(domain, t) {
                    eprintln!("Warning: {note}");
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
        SessionCommand::Stop { session, no_wait } => {
            let session = session_or_current(session)?;
            let r = if no_wait {
                ctx.call(Request::StopNoWait {
                    session: session.clone(),
                })?
            } else {
                let r = ctx.call(Request::Stop {
                    session: session.clone(),
                })?;
                // lttng prints this while it waits for the data (rttng's stop has waited).
                println!("Waiting for data availability");
                r
            };
            let code = warned(r);
            print_session_losses(ctx, &session)?;
            println!("Tracing stopped for session {session}");
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
        SessionCommand::Track(a) => crate::track_cmd::track(ctx, a, true),
        SessionCommand::Untrack(a) => crate::track_cmd::track(ctx, a, false),
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
pub(crate) fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
