//! `list` in the CLI: the requests behind `list`, `list SESSION`, `list -u` and
//! `list -j/-l/-p`, and the output directory `view SESSION` reads. Not here: how the answers
//! are printed (`list.rs`, `agent_cmd.rs`), `list -k` (`main.rs`).

use std::path::PathBuf;

use rttng_ctl::proto::{Domain, Request, Response};
use rttng_ctl::{Client, ConnectOptions};

use crate::cli::Global;
use crate::error::{usage, CliError};
use crate::list;
use crate::session_cmd::{session_or_current, Ctx};

pub(crate) fn list_sessions(ctx: &mut Ctx) -> Result<u8, CliError> {
    if let Response::Sessions { list } = ctx.call(Request::ListSessions)? {
        list::print_sessions(&list);
    }
    Ok(0)
}

/// `list SESSION`; 4 when the daemon reported a problem.
pub(crate) fn list_session(ctx: &mut Ctx, session: &str) -> Result<u8, CliError> {
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
            let trackers = match ctx.call(Request::ListTrackers {
                session: session.to_string(),
            })? {
                Response::Trackers { list } => list,
                _ => Vec::new(),
            };
            let agents = match ctx.call(Request::ListAgentRules {
                session: session.to_string(),
            }) {
                Ok(Response::AgentRules { list }) => list,
                _ => Vec::new(),
            };
            let code = list::print_session(&detail, &filters, &trackers);
            print!("{}", crate::agent_cmd::format_rules(&agents));
            Ok(code)
        }
        _ => Ok(0),
    }
}

/// `list -j/-l/-p`.
pub(crate) fn list_agent_loggers(ctx: &mut Ctx, domain: Domain) -> Result<u8, CliError> {
    if let Response::AgentLoggers { list } = ctx.call(Request::ListAgentLoggers { domain })? {
        print!("{}", crate::agent_cmd::format_loggers(domain, &list));
    }
    Ok(0)
}

pub(crate) fn list_apps(ctx: &mut Ctx, fields: bool) -> Result<u8, CliError> {
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
