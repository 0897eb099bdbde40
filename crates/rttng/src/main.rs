//! `rttng`: the command line of the rttng tracing toolchain.
//!
//! Each subcommand lives in its own module; this file only parses arguments, dispatches, and
//! turns errors into one `Error: ...` line and a non-zero exit status. A closed standard output
//! (`rttng view | head`) ends the program quietly with status 0.

mod agent_cmd;
mod agent_event_cmd;
mod cli;
mod context_cmd;
mod coredump;
mod create_destroy_cmd;
mod demo;
mod error;
mod kernel_list;
mod list;
mod list_cmd;
mod live_view;
mod mi;
mod mi_cmd;
mod run;
mod session_cmd;
mod snapshot_cmd;
mod trace;
mod track_cmd;
mod view;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    // `--list-commands` needs no command (lttng's, for completion scripts).
    if std::env::args().nth(1).as_deref() == Some("--list-commands") {
        use clap::CommandFactory;
        for c in cli::Cli::command().get_subcommands() {
            if !c.is_hide_set() {
                println!("{}", c.get_name());
            }
        }
        return ExitCode::SUCCESS;
    }
    // `--list-options` (lttng's, for completion scripts): rttng's, or a command's
    // (`rttng CMD --list-options`), long then short spelling of each.
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "--list-options") {
        use clap::CommandFactory;
        let root = cli::Cli::command();
        let named = argv
            .iter()
            .find(|a| !a.starts_with('-'))
            .and_then(|n| root.find_subcommand(n).cloned());
        let cmd = named.as_ref().unwrap_or(&root);
        for a in cmd.get_arguments().filter(|a| !a.is_positional()) {
            if let Some(l) = a.get_long() {
                println!("--{l}");
            }
            if let Some(s) = a.get_short() {
                println!("-{s}");
            }
        }
        return ExitCode::SUCCESS;
    }
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => return refuse_parse_error(e),
    };
    if args.global.quiet {
        silence_stdout();
    }
    if args.global.mi.is_some() && !matches!(args.command, cli::Command::Session(_)) {
        return mi_cmd::mi_not_implemented();
    }
    let result = match args.command {
        cli::Command::View(v) if v.live.is_some() => live_view::run(&v),
        cli::Command::View(mut v) => {
            // `view [SESSION]`: no path, or one that is not a directory, names a session.
            if v.paths.len() <= 1 && !v.paths.first().is_some_and(|p| p.exists()) {
                let session = v.paths.pop().map(|p| p.to_string_lossy().into_owned());
                match list_cmd::session_output(&args.global, session) {
                    Ok(out) => v.paths = vec![out],
                    Err(e) => {
                        eprintln!("Error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            view::run(&v)
        }
        // `list -k` reads tracefs, not the session daemon.
        cli::Command::Session(cli::SessionCommand::List(l))
            if l.kernel && args.global.mi.is_none() =>
        {
            kernel_list::run(l.syscall)
        }
        cli::Command::Session(s) => return session_cmd::run(&args.global, s),
        cli::Command::Demo(d) => {
            let opts = session_cmd::connect_options(&args.global);
            return session_cmd::exit_status(demo::run(opts, d));
        }
        cli::Command::Trace(t) => trace::run(&t),
        cli::Command::Snapshot(s) => return snapshot_cmd::run(&args.global, s),
        cli::Command::CoredumpHandler(c) => match c.action {
            cli::CoredumpAction::Install { core_dir } => coredump::install(core_dir),
            cli::CoredumpAction::Uninstall => coredump::uninstall(),
            cli::CoredumpAction::Run { state, crash } => return coredump::run(&state, &crash),
        },
        cli::Command::Top(t) => rttng_top::run(&t),
        cli::Command::Run(r) => run::run(&r),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("Error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

/// A command line clap refuses. An option a command does not have is refused as lttng 2.13
/// refuses it (its popt tables): one `Error:` line and status 2. Everything else (help,
/// version, a missing value, an unknown option before the command) is clap's text and status.
fn refuse_parse_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use clap::CommandFactory;
    let arg = match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(ContextValue::String(a))) => a.clone(),
        _ => e.exit(),
    };
    let root = cli::Cli::command();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = argv.iter().position(|a| root.find_subcommand(a).is_some());
    match command {
        Some(c) if !argv[..c].iter().any(|a| a.starts_with(arg.as_str())) => {
            eprintln!(
                "Error: Unrecognized argument {arg} used with '{}' command",
                argv[c]
            );
            ExitCode::from(2)
        }
        _ => e.exit(),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` panics when standard output is a closed pipe (`rttng list | head -1`); like
/// the explicit writers (which return the error, see `is_broken_pipe`), such a program ends
/// quietly with status 0 instead of a panic message and status 101.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// `-q` (and `--mi`, whose document goes to a saved copy of the descriptor): standard
/// output goes to /dev/null (what lttng's `-q` keeps quiet is exactly its
/// standard output messages).
pub(crate) fn silence_stdout() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 on two descriptors this process holds; it touches no memory.
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
}
