//! `rttng snapshot add-output | del-output | list-output | record`: lttng 2.13's snapshot
//! commands, with its options (`-s`, `-n`, `-m`, `-C`/`-D`), messages and exit statuses (0,
//! or 1 with one `Error: ...` line). Network outputs (`net://`, `tcp://`, `-C`/`-D`) are
//! refused with a clear error (snapshots are not sent to `rttng-relayd` yet). Not here: the arguments'
//! definitions (`cli.rs`), what a snapshot contains (session and consumer daemons).

use rttng_ctl::proto::{Request, Response, SnapshotOutput, SnapshotOutputInfo};
use rttng_ctl::Client;

use crate::cli::{parse_size, Global, SnapshotAction, SnapshotArgs};
use crate::error::{usage, CliError};
use crate::session_cmd::{connect_options, exit_status};

/// Runs a snapshot command; prints errors as `Error: ...` and returns lttng's exit status.
pub fn run(g: &Global, a: SnapshotArgs) -> std::process::ExitCode {
    exit_status(dispatch(g, a))
}

/// A local output directory from `DIR`, `file://DIR`; network URLs are refused.
pub fn local_output(url: &str) -> Result<String, CliError> {
    const NETWORK: [&str; 4] = ["net://", "net6://", "tcp://", "tcp6://"];
    if NETWORK.iter().any(|p| url.starts_with(p)) {
        return Err(network_refused());
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    if path.is_empty() {
        return Err(usage("empty output directory"));
    }
    Ok(std::path::absolute(path)
        .map_err(|e| usage(&format!("bad output directory {path:?}: {e}")))?
        .to_string_lossy()
        .into_owned())
}

/// The error for network snapshot outputs (not wired to the relay yet).
pub fn network_refused() -> CliError {
    usage("snapshots to a relay daemon (net://, tcp://, -C/-D) are not supported yet; give a local directory (DIR or file://DIR)")
}

fn show(o: &SnapshotOutputInfo, indent: &str) -> String {
    if o.max_size > 0 {
        format!(
            "{indent}[{}] {}: {} (max size: {} bytes)",
            o.id, o.name, o.path, o.max_size
        )
    } else {
        format!("{indent}[{}] {}: {}", o.id, o.name, o.path)
    }
}

fn dispatch(g: &Global, a: SnapshotArgs) -> Result<u8, CliError> {
    if a.ctrl_url.is_some() || a.data_url.is_some() {
        if a.ctrl_url.is_none() || a.data_url.is_none() {
            return Err(usage("URLs must be specified for both data and control"));
        }
        return Err(network_refused());
    }
    let max_size = match &a.max_size {
        Some(m) => Some(
            parse_size(m).ok_or_else(|| usage(&format!("Unable to handle max-size value {m}")))?,
        ),
        None => None,
    };
    let session = match a.session {
        Some(s) => s,
        None => rttng_ctl::current_session().ok_or_else(|| {
            usage("no session given and no current session; create one with `rttng create --snapshot` or choose one with `rttng set-session`")
        })?,
    };
    let mut client = Client::connect(&connect_options(g))?;
    let name = a.name.unwrap_or_default();
    match a.action {
        SnapshotAction::AddOutput { url } => {
            let Some(url) = url else {
                return Err(usage(
                    "An output destination must be specified to add a snapshot output.",
                ));
            };
            let path = local_output(&url)?;
            let r = client.call(&Request::SnapshotAddOutput {
                session: session.clone(),
                output: SnapshotOutput {
                    name,
                    path,
                    max_size: max_size.unwrap_or(0),
                },
            })?;
            println!("Snapshot output successfully added for session {session}");
            if let Response::SnapshotOutputs { list } = r {
                for o in &list {
                    println!("{}", show(o, "  "));
                }
            }
            Ok(0)
        }
        SnapshotAction::DelOutput { output } => {
            let Some(output) = output else {
                return Err(usage(
                    "A snapshot output name or id must be provided to delete a snapshot output.",
                ));
            };
            // lttng: a number is an id, anything else a name.
            let (id, by_name) = match output.parse::<u32>() {
                Ok(0) => return Err(usage(&format!("Argument {output} not recognized"))),
                Ok(id) => (id, String::new()),
                Err(_) => (0, output.clone()),
            };
            client.call(&Request::SnapshotDelOutput {
                session: session.clone(),
                id,
                name: by_name.clone(),
            })?;
            if id != 0 {
                println!("Snapshot output id {id} successfully deleted for session {session}");
            } else {
                println!("Snapshot output {by_name} successfully deleted for session {session}");
            }
            Ok(0)
        }
        SnapshotAction::ListOutput => {
            let r = client.call(&Request::SnapshotListOutputs {
                session: session.clone(),
            })?;
            println!("Snapshot output list for session {session}");
            match r {
                Response::SnapshotOutputs { list } if !list.is_empty() => {
                    for o in &list {
                        println!("{}", show(o, "    "));
                    }
                }
                _ => println!("    None"),
            }
            Ok(0)
        }
        SnapshotAction::Record { url } => {
            let output = match &url {
                Some(u) => Some(SnapshotOutput {
                    name: String::new(),
                    path: local_output(u)?,
                    max_size: 0,
                }),
                None => None,
            };
            client.call(&Request::SnapshotRecord {
                session: session.clone(),
                output,
                name,
                max_size,
            })?;
            println!("Snapshot recorded successfully for session {session}");
            if let Some(u) = url {
                println!("Snapshot written at: {u}");
            }
            Ok(0)
        }
    }
}
