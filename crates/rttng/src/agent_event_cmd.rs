//! `enable-event` and `disable-event` in the agents' domains (`-j`, `-l`, `-p`): the requests
//! they send, one per logger name. Not here: the agents' texts and log levels
//! (`agent_cmd.rs`), the user-space and kernel event commands (`session_cmd.rs`).

use rttng_ctl::proto::{Domain, EventRule, Request};

use crate::cli::split_names;
use crate::error::{usage, CliError};
use crate::session_cmd::{indent, Ctx};

/// `enable-event -j/-l/-p`.
pub(crate) fn enable_agent_event(
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
pub(crate) fn disable_agent_event(
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
