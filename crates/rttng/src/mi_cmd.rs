//! `--mi xml CMD`: runs a session command with its messages silenced (errors and warnings
//! still go to standard error, as lttng's) and prints lttng's MI document of what it did,
//! built from the command's arguments and the session daemon's answers. Not here: the
//! documents' elements (`mi.rs`), the commands themselves (`session_cmd.rs`).

use std::process::ExitCode;

use rttng_ctl::proto::{Domain, LoglevelRule, Request, Response};

use crate::cli::{parse_level, split_names, Global, SessionCommand};
use crate::error::{usage, CliError};
use crate::session_cmd::{connect_options, exit_status, run_with, Ctx};

/// lttng's status when `--mi` names a format it does not have (-LTTNG_ERR_MI_OUTPUT_TYPE
/// as an exit status).
const EXIT_MI_FORMAT: u8 = 165;
/// LTTNG_ERR_MI_NOT_IMPLEMENTED.
const EXIT_MI_NOT_IMPLEMENTED: u8 = 93;

/// `--mi` on a command without a machine interface in rttng.
pub fn mi_not_implemented() -> ExitCode {
    exit_status(Err(CliError::Status {
        status: EXIT_MI_NOT_IMPLEMENTED,
        message:
            "--mi xml is available for version, list, status, create, destroy, set-session, enable-channel, disable-channel, enable-event, disable-event, add-context, track, untrack, start and stop"
                .to_string(),
    }))
}

/// `--mi xml CMD`: runs the command with its messages silenced (errors and warnings still
/// go to standard error, as lttng's), then prints lttng's MI document of what it did.
pub(crate) fn run_mi(g: &Global, kind: &str, cmd: SessionCommand) -> ExitCode {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    if kind != "xml" {
        return exit_status(Err(CliError::Status {
            status: EXIT_MI_FORMAT,
            message: "MI output format not supported".to_string(),
        }));
    }
    let name = match &cmd {
        SessionCommand::Version => "version",
        SessionCommand::List(l) if !l.kernel => "list",
        SessionCommand::Create(_) => "create",
        SessionCommand::EnableEvent(_) => "enable-event",
        SessionCommand::Start { .. } => "start",
        SessionCommand::Stop { .. } => "stop",
        SessionCommand::Destroy(_) => "destroy",
        SessionCommand::EnableChannel(_) => "enable-channel",
        SessionCommand::DisableChannel(_) => "disable-channel",
        SessionCommand::DisableEvent(_) => "disable-event",
        SessionCommand::AddContext(a) if !a.list => "add-context",
        SessionCommand::Track(_) => "track",
        SessionCommand::Untrack(_) => "untrack",
        SessionCommand::SetSession { .. } => "set-session",
        // lttng's `status` answers as `list`.
        SessionCommand::Status => "list",
        _ => return mi_not_implemented(),
    };
    // The document goes to the real standard output; the messages to /dev/null.
    // Close-on-exec, so that a session daemon `create` starts does not hold it open.
    // SAFETY: duplicates descriptor 1, which this process holds; the new descriptor is
    // owned by the File below and closed with it.
    let saved = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if saved < 0 {
        return exit_status(Err(usage("cannot duplicate standard output")));
    }
    // SAFETY: `saved` was just returned by dup and nothing else owns it.
    let mut out = unsafe { std::fs::File::from_raw_fd(saved) };
    crate::silence_stdout();
    let mut opts = connect_options(g);
    opts.spawn = false;
    let mut ctx = Ctx::new(opts, g);
    let mi_data = MiBefore::collect(&mut ctx, &cmd);
    let shown = describe(&cmd);
    let result = run_with(&mut ctx, g, cmd);
    let ok = result.is_ok();
    let doc = mi_document(&mut ctx, name, &shown, mi_data, ok);
    let _ = out.write_all(doc.as_bytes());
    exit_status(result)
}

/// What a command's MI document needs from its arguments.
struct Shown {
    session: Option<String>,
    /// Channel names (enable/disable-channel), context types (add-context), or the
    /// channel of disable-event (first).
    names: Vec<String>,
    domain: Domain,
    /// `list -u` (with `-f`: fields).
    apps: Option<bool>,
    events: Vec<String>,
    syscall: bool,
    loglevel: LoglevelRule,
    exclusions: Vec<String>,
}

fn describe(cmd: &SessionCommand) -> Shown {
    let mut s = Shown {
        session: None,
        names: Vec::new(),
        domain: Domain::Ust,
        apps: None,
        events: Vec::new(),
        syscall: false,
        loglevel: LoglevelRule::All,
        exclusions: Vec::new(),
    };
    match cmd {
        SessionCommand::List(l) => {
            s.session = l.session.clone();
            s.apps = l.userspace.then_some(l.fields);
        }
        SessionCommand::Status => s.session = rttng_ctl::current_session(),
        SessionCommand::SetSession { session } => s.session = Some(session.clone()),
        SessionCommand::EnableChannel(a) => {
            s.session = a.session.clone().or_else(rttng_ctl::current_session);
            s.names = split_names(&a.channels);
            s.domain = if a.domain.kernel {
                Domain::Kernel
            } else {
                Domain::Ust
            };
        }
        SessionCommand::DisableChannel(a) => s.names = split_names(&a.channels),
        SessionCommand::AddContext(a) => s.names = a.types.clone(),
        SessionCommand::DisableEvent(a) => {
            s.names = vec![a.channel.clone().unwrap_or_else(|| "channel0".to_string())];
            s.events = if a.all {
                vec!["*".to_string()]
            } else {
                a.names.as_deref().map(split_names).unwrap_or_default()
            };
        }
        SessionCommand::Start { session } | SessionCommand::Stop { session, .. } => {
            s.session = session.clone().or_else(rttng_ctl::current_session)
        }
        SessionCommand::EnableEvent(a) => {
            s.events = if a.all {
                vec!["*".to_string()]
            } else {
                a.names.as_deref().map(split_names).unwrap_or_default()
            };
            s.syscall = a.syscall;
            let level = |l: &Option<String>| l.as_deref().and_then(parse_level);
            s.loglevel = match (level(&a.loglevel), level(&a.loglevel_only)) {
                (Some(level), _) => LoglevelRule::AtLeast { level },
                (_, Some(level)) => LoglevelRule::Exactly { level },
                _ => LoglevelRule::All,
            };
            s.exclusions = a.exclude.as_deref().map(split_names).unwrap_or_default();
        }
        _ => {}
    }
    s
}

/// What must be read before the command runs (a destroyed session is gone after).
struct MiBefore {
    destroyed: Vec<rttng_ctl::proto::SessionSummary>,
}

impl MiBefore {
    fn collect(ctx: &mut Ctx, cmd: &SessionCommand) -> MiBefore {
        let mut destroyed = Vec::new();
        if let SessionCommand::Destroy(a) = cmd {
            let want = a.session.clone().or_else(rttng_ctl::current_session);
            if let Ok(Response::Sessions { list }) = ctx.call(Request::ListSessions) {
                destroyed = list
                    .into_iter()
                    .filter(|s| a.all || want.as_deref() == Some(s.name.as_str()))
                    .collect();
            }
        }
        MiBefore { destroyed }
    }
}

fn mi_document(ctx: &mut Ctx, name: &str, shown: &Shown, before: MiBefore, ok: bool) -> String {
    use crate::mi;
    let summary = |ctx: &mut Ctx, session: &str| match ctx.call(Request::ListSessions) {
        Ok(Response::Sessions { list }) => list.into_iter().find(|s| s.name == session),
        _ => None,
    };
    match name {
        "version" => mi::document(name, &mi::version(), None),
        "list" if shown.apps.is_some() => {
            let output = match ctx.call(Request::ListApps) {
                Ok(Response::Apps { list }) => mi::apps(&list, shown.apps == Some(true)),
                _ => String::new(),
            };
            mi::document(name, &output, None)
        }
        "list" => {
            let output = match &shown.session {
                None => match ctx.call(Request::ListSessions) {
                    Ok(Response::Sessions { list }) => mi::sessions(&list),
                    _ => String::new(),
                },
                Some(s) => match ctx.call(Request::ListSession { session: s.clone() }) {
                    Ok(Response::Session { detail }) => {
                        let filters = match ctx.call(Request::ListFilters { session: s.clone() }) {
                            Ok(Response::Filters { list }) => list,
                            _ => Vec::new(),
                        };
                        let trackers = match ctx.call(Request::ListTrackers { session: s.clone() })
                        {
                            Ok(Response::Trackers { list }) => list,
                            _ => Vec::new(),
                        };
                        mi::session_detail(&detail, &filters, &trackers)
                    }
                    _ => String::new(),
                },
            };
            mi::document(name, &output, None)
        }
        "create" => {
            let created = if ok {
                rttng_ctl::current_session().and_then(|s| summary(ctx, &s))
            } else {
                None
            };
            let output = created.as_ref().map(mi::session).unwrap_or_default();
            mi::document(name, &output, Some(ok && created.is_some()))
        }
        "enable-event" => {
            let events: String = shown
                .events
                .iter()
                .map(|e| mi::enabled_event(e, shown.syscall, shown.loglevel, &shown.exclusions, ok))
                .collect();
            let output = if events.is_empty() {
                "<events/>".to_string()
            } else {
                format!("<events>{events}</events>")
            };
            mi::document(name, &output, Some(ok))
        }
        "enable-channel" => {
            let infos = match shown.session.as_ref().map(|session| {
                ctx.call(Request::ListSession {
                    session: session.clone(),
                })
            }) {
                Some(Ok(Response::Session { detail })) => detail.channels,
                _ => Vec::new(),
            };
            let chans: Vec<(String, Option<rttng_ctl::proto::ChannelInfo>)> = shown
                .names
                .iter()
                .map(|n| {
                    let c = infos
                        .iter()
                        .find(|c| &c.name == n && c.domain == shown.domain)
                        .cloned();
                    (n.clone(), c)
                })
                .collect();
            mi::document(name, &mi::channels_enabled(&chans, ok), Some(ok))
        }
        "disable-channel" => mi::document(name, &mi::channels_disabled(&shown.names, ok), Some(ok)),
        "disable-event" => {
            let channel = shown.names.first().cloned().unwrap_or_default();
            mi::document(
                name,
                &mi::events_disabled(&channel, &shown.events, ok),
                Some(ok),
            )
        }
        "add-context" => mi::document(name, &mi::contexts_added(&shown.names), Some(ok)),
        "track" | "untrack" => {
            let changes = std::mem::take(&mut ctx.tracked);
            mi::document(name, &mi::trackers_changed(&changes), Some(ok))
        }
        "set-session" => {
            let output = match (&shown.session, ok) {
                (Some(s), true) => mi::session_name(s),
                _ => "<sessions/>".to_string(),
            };
            mi::document(name, &output, Some(ok))
        }
        "start" | "stop" => {
            let output = match (&shown.session, ok) {
                (Some(s), true) => mi::session_state(s, name == "start"),
                _ => "<sessions/>".to_string(),
            };
            mi::document(name, &output, Some(ok))
        }
        _ => {
            // destroy
            let list = if ok { before.destroyed } else { Vec::new() };
            mi::document(name, &mi::sessions(&list), Some(ok))
        }
    }
}
