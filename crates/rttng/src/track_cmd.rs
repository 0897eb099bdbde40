//! `track` and `untrack`: lttng's process attribute trackers from the command line, with
//! lttng's messages (a value already, or not, in a set is a warning and the command still
//! succeeds) and user and group names resolved from /etc/passwd and /etc/group. Not here:
//! what a tracker selects (the session daemon, `rttng-session/src/trackers.rs`).

use rttng_ctl::proto::{Domain, Request};

use crate::cli::split_names;
use crate::error::{usage, CliError};
use crate::session_cmd::{session_or_current, Ctx};

/// `track` (`add`) or `untrack`, with lttng's messages: a value already (or not) in the set
/// is a warning, and the command still succeeds.
pub(crate) fn track(ctx: &mut Ctx, a: crate::cli::TrackArgs, add: bool) -> Result<u8, CliError> {
    use rttng_ctl::proto::ProcessAttr as P;
    let domain = match (a.userspace, a.kernel) {
        (true, false) => Domain::Ust,
        (false, true) => Domain::Kernel,
        _ => {
            return Err(usage(
                "choose exactly one domain: -u (user space) or -k (kernel)",
            ))
        }
    };
    let session = session_or_current(a.session)?;
    // lttng's words and status for an unknown session here.
    let no_session = |e: CliError| match e {
        CliError::Ctl(rttng_ctl::CtlError::Daemon {
            code: rttng_ctl::ErrorCode::NoSession,
            ..
        }) => CliError::Status {
            status: 1,
            message: "Recording session does not exist".to_string(),
        },
        e => e,
    };
    let given: Vec<(P, &str)> = [
        (P::Pid, &a.pid),
        (P::Vpid, &a.vpid),
        (P::Uid, &a.uid),
        (P::Vuid, &a.vuid),
        (P::Gid, &a.gid),
        (P::Vgid, &a.vgid),
    ]
    .into_iter()
    .filter_map(|(p, v)| v.as_deref().map(|v| (p, v)))
    .collect();
    if given.is_empty() {
        return Err(usage(
            "give a process attribute: --pid, --vpid, --uid, --vuid, --gid or --vgid",
        ));
    }
    for (attr, values) in given {
        let shown = attr.in_domain(domain);
        if a.all || values.is_empty() {
            if !a.all {
                return Err(usage(&format!(
                    "--{}: give values, or --all",
                    format!("{attr:?}").to_lowercase()
                )));
            }
            let req = |all| {
                let (session, value) = (session.clone(), 0);
                if add {
                    Request::Track {
                        session,
                        domain,
                        attr,
                        value,
                        all,
                    }
                } else {
                    Request::Untrack {
                        session,
                        domain,
                        attr,
                        value,
                        all,
                    }
                }
            };
            let r = ctx.call(req(true)).map_err(no_session);
            ctx.tracked.push((shown, vec![(None, r.is_ok())]));
            r?;
            let mut words = shown.words().to_string();
            words[..1].make_ascii_uppercase();
            let policy = if add { "include all" } else { "exclude all" };
            println!("{words} tracking policy set to `{policy}`");
            continue;
        }
        ctx.tracked.push((shown, Vec::new()));
        for v in split_names(values) {
            let value = id_value(attr, &v)?;
            let req = if add {
                Request::Track {
                    session: session.clone(),
                    domain,
                    attr,
                    value,
                    all: false,
                }
            } else {
                Request::Untrack {
                    session: session.clone(),
                    domain,
                    attr,
                    value,
                    all: false,
                }
            };
            let r = ctx.call(req);
            if let Some((_, done)) = ctx.tracked.last_mut() {
                done.push((Some(value), r.is_ok()));
            }
            match r {
                Ok(_) if add => {
                    println!("Added {v} to the {} tracker inclusion set", shown.words())
                }
                Ok(_) => println!(
                    "Removed {v} from the {} tracker inclusion set",
                    shown.words()
                ),
                Err(CliError::Ctl(rttng_ctl::CtlError::Daemon {
                    code:
                        rttng_ctl::ErrorCode::ProcessAttrExists
                        | rttng_ctl::ErrorCode::ProcessAttrMissing,
                    message,
                })) => eprintln!("Warning: {message}"),
                Err(e) => return Err(no_session(e)),
            }
        }
    }
    Ok(0)
}

/// An id given to `track`: a number, or for users and groups a name from /etc/passwd or
/// /etc/group.
fn id_value(attr: rttng_ctl::proto::ProcessAttr, v: &str) -> Result<u32, CliError> {
    use rttng_ctl::proto::ProcessAttr as P;
    if let Ok(n) = v.parse::<u32>() {
        return Ok(n);
    }
    let db = match attr {
        P::Uid | P::Vuid => "/etc/passwd",
        P::Gid | P::Vgid => "/etc/group",
        P::Pid | P::Vpid => {
            return Err(usage(&format!("Invalid process ID value `{v}`")));
        }
    };
    std::fs::read_to_string(db)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next()? == v)
                .then(|| f.nth(1)?.parse::<u32>().ok())
                .flatten()
        })
        .ok_or_else(|| usage(&format!("no user or group named `{v}` in {db}")))
}
