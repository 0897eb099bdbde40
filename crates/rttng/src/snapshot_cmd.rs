//! `rttng snapshot add-output | del-output | list-output | record`: lttng 2.13's snapshot
//! commands, with its options (`-s`, `-n`, `-m`, `-C`/`-D`), messages and exit statuses (0,
//! or 1 with one `Error: ...` line). Network outputs (`net://HOST[:C[:D]][/PATH]`, or
//! `-C tcp://HOST[:PORT] -D tcp://HOST[:PORT]`) send the snapshot to a relay daemon
//! (`rttng-relayd` or `lttng-relayd`), under `HOSTNAME/PATH-or-SESSION/NAME-DATE-SEQ/`. Not here: the arguments'
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

/// An output from `DIR`, `file://DIR` (an absolute directory) or `net://...` (checked and
/// written back in full); `tcp://` alone names only one of the relay's two ports.
pub fn local_output(url: &str) -> Result<String, CliError> {
    if url.starts_with("net://") || url.starts_with("net6://") {
        let u = rttng_relay_proto::url::parse_net(url)
            .map_err(|e| usage(&format!("bad URL {url:?}: {e}")))?;
        return Ok(u.to_string());
    }
    if url.starts_with("tcp://") || url.starts_with("tcp6://") {
        return Err(usage(
            "a tcp:// URL names one port of the relay: give net://HOST or -C tcp://... -D tcp://...",
        ));
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

/// `-C tcp://HOST[:PORT] -D tcp://HOST[:PORT]` as one `net://` URL.
fn ctrl_data_url(c: &str, d: &str) -> Result<String, CliError> {
    use rttng_relay_proto::url::{parse_tcp, NetUrl, DEFAULT_CONTROL_PORT, DEFAULT_DATA_PORT};
    let ctrl = parse_tcp(c, DEFAULT_CONTROL_PORT)
        .map_err(|e| usage(&format!("bad control URL {c:?}: {e}")))?;
    let data =
        parse_tcp(d, DEFAULT_DATA_PORT).map_err(|e| usage(&format!("bad data URL {d:?}: {e}")))?;
    if ctrl.host != data.host || ctrl.v6 != data.v6 {
        return Err(usage(&format!(
            "the control and data URLs name different hosts ({} and {}); a snapshot goes to one relay",
            ctrl.host, data.host
        )));
    }
    Ok(NetUrl {
        host: ctrl.host,
        control_port: ctrl.port,
        data_port: data.port,
        v6: ctrl.v6,
        base_path: String::new(),
    }
    .to_string())
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
    let ctrl_data = match (&a.ctrl_url, &a.data_url) {
        (None, None) => None,
        (Some(c), Some(d)) => Some(ctrl_data_url(c, d)?),
        _ => return Err(usage("URLs must be specified for both data and control")),
    };
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
            let Some(url) = url.or(ctrl_data) else {
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
            let shown = url.clone();
            let url = url.or(ctrl_data);
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
            match (shown, &a.ctrl_url, &a.data_url) {
                (Some(u), _, _) => println!("Snapshot written at: {u}"),
                (None, Some(c), Some(d)) => {
                    println!("Snapshot written to ctrl: {c}, data: {d}")
                }
                _ => {}
            }
            Ok(0)
        }
    }
}
