//! The multi-request parts of `create` and `destroy` in the CLI: the relay URL of a network
//! session, `destroy` with lttng's lines, and the losses summary `stop` and `destroy` print.
//! Not here: the dispatch of the commands (`session_cmd.rs`), any session logic (daemon).

use rttng_ctl::proto::{Request, Response};

use crate::error::{usage, CliError};
use crate::session_cmd::{warned, Ctx};

/// The relay URL of `create --set-url net://...` or `-C tcp://... -D tcp://...`, as the
/// `net://HOST:CTRL:DATA[/PATH]` the session daemon takes; `None` for a local session.
pub(crate) fn net_output(a: &crate::cli::CreateArgs) -> Result<Option<String>, CliError> {
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

/// `destroy NAME`, with lttng's lines: "Destroying session NAME." while a session that
/// recorded writes its last data (not with `-n`), then "Session NAME destroyed", then the
/// losses of a session that was not stopped first.
pub(crate) fn destroy_one(ctx: &mut Ctx, name: &str, no_wait: bool) -> Result<u8, CliError> {
    // A session that recorded (it runs, or its start made its output directory) has data
    // to write out: lttng says so while it waits.
    let (active, recorded) = match ctx.call(Request::ListSession {
        session: name.to_string(),
    })? {
        Response::Session { detail } => (
            detail.active,
            detail.active || std::path::Path::new(&detail.output).is_dir(),
        ),
        _ => (false, false),
    };
    // lttng shows the losses at destroy only when `stop` did not show them already.
    let losses = if active {
        session_losses(ctx, name)?
    } else {
        None
    };
    let waits = recorded && !no_wait;
    if waits {
        print!("Destroying session {name}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
    let r = if no_wait {
        ctx.call(Request::DestroySessionNoWait {
            session: name.to_string(),
        })?
    } else {
        ctx.call(Request::DestroySession {
            session: name.to_string(),
        })?
    };
    if waits {
        println!(".");
    }
    let code = warned(r);
    rttng_ctl::clear_current_session(name);
    println!("Session {name} destroyed");
    if let Some(l) = losses {
        println!("{l}");
    }
    Ok(code)
}

/// After `stop`, lttng's summary of what the session lost (the totals `list` shows, which
/// are the trace's packet contexts' and the consumer's lost packets).
pub(crate) fn print_session_losses(ctx: &mut Ctx, session: &str) -> Result<(), CliError> {
    if let Some(l) = session_losses(ctx, session)? {
        println!("{l}");
    }
    Ok(())
}

/// lttng's warning line about a session's losses, if it has any (never for a snapshot
/// session, as lttng).
pub(crate) fn session_losses(ctx: &mut Ctx, session: &str) -> Result<Option<String>, CliError> {
    let Response::Session { detail } = ctx.call(Request::ListSession {
        session: session.to_string(),
    })?
    else {
        return Ok(None);
    };
    if detail.snapshot {
        return Ok(None);
    }
    let discarded: u64 = detail.channels.iter().map(|c| c.discarded_events).sum();
    let lost: u64 = detail.channels.iter().map(|c| c.lost_packets).sum();
    // lttng 2.13's wording (src/bin/lttng/utils.c, get_session_stats_str).
    let doc = "please refer to the documentation on channel configuration.";
    Ok(match (discarded, lost) {
        (0, 0) => None,
        (d, 0) => Some(format!("Warning: {d} events were discarded, {doc}")),
        (0, l) => Some(format!("Warning: {l} packets were lost, {doc}")),
        (d, l) => Some(format!(
            "Warning: {d} events were discarded and {l} packets were lost, {doc}"
        )),
    })
}
