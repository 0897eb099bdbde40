//! `rttng demo`: the README's first command. Starts the session daemon if needed, creates a
//! session, enables every user-space event, starts tracing, runs the bundled example app
//! (`rttng-example`, next to `rttng`), stops, prints the recorded events and the trace path.
//! It keeps the trace; it destroys the session it created, and stops the daemon again if it
//! started it. Not here: anything configurable beyond the app to run.

use std::path::PathBuf;
use std::process::Command;

use rttng_ctl::proto::{Domain, EventRule, LoglevelRule, Request, Response};
use rttng_ctl::{Client, ConnectOptions, CtlError};

use crate::cli::DemoArgs;
use crate::error::CliError;

/// How long the session daemon this demo started may take to exit.
const DAEMON_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn fail(msg: String) -> CliError {
    CliError::Usage(msg)
}

fn example_path(a: &DemoArgs) -> Result<PathBuf, CliError> {
    if let Some(p) = &a.app {
        return Ok(p.clone());
    }
    let next = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("rttng-example")));
    match next {
        Some(p) if p.exists() => Ok(p),
        _ => Err(fail("the example app rttng-example is not next to rttng; build it with `cargo build -p rttng-example` or pass --app PATH".into())),
    }
}

pub fn run(opts: ConnectOptions, a: DemoArgs) -> Result<u8, CliError> {
    let app = example_path(&a)?;
    // A daemon already running stays; one this demo starts is stopped at the end.
    let existing = ConnectOptions {
        spawn: false,
        ..opts.clone()
    };
    let (mut c, spawned) = match Client::connect(&existing) {
        Ok(c) => (c, false),
        Err(CtlError::NoDaemon { .. }) if opts.spawn => (Client::connect(&opts)?, true),
        Err(e) => return Err(e.into()),
    };
    let Response::SessionCreated { name, output } = c.call(&Request::CreateSession {
        name: None,
        output: None,
        live_timer_us: 0,
    })?
    else {
        return Err(fail("unexpected answer to create".into()));
    };
    println!("Session {name} created; traces go to {output}");
    let result = (|| {
        c.call(&Request::EnableEvent {
            session: name.clone(),
            domain: Domain::Ust,
            channel: None,
            rule: EventRule {
                pattern: "*".into(),
                loglevel: LoglevelRule::All,
                exclusions: vec![],
                syscall: false,
            },
        })?;
        println!("All ust events are enabled in channel channel0");
        c.call(&Request::Start {
            session: name.clone(),
        })?;
        println!("Tracing started; running {}", app.display());
        let status = Command::new(&app)
            .args(&a.args)
            .status()
            .map_err(|e| fail(format!("cannot run {}: {e}", app.display())))?;
        if !status.success() {
            eprintln!("Warning: {} exited with {status}", app.display());
        }
        c.call(&Request::Stop {
            session: name.clone(),
        })?;
        println!("Tracing stopped");
        Ok::<(), CliError>(())
    })();
    let _ = c.call(&Request::DestroySession {
        session: name.clone(),
    });
    drop(c);
    if spawned {
        if let Err(e) = rttng_ctl::stop_user_daemon(DAEMON_STOP_TIMEOUT) {
            eprintln!("Warning: could not stop the session daemon this demo started: {e}");
        }
    }
    result?;
    println!();
    let view = crate::cli::ViewArgs::for_paths(vec![PathBuf::from(&output)]);
    if let Err(e) = crate::view::run(&view) {
        return Err(fail(format!("cannot show the trace: {e:#}")));
    }
    println!();
    println!("Trace written to {output}");
    println!("Read it again with: rttng view {output}   (or: babeltrace2 {output})");
    Ok(0)
}
