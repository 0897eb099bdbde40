//! Running a command to completion with its output discarded, measuring wall time and peak
//! resident memory (from `wait4`'s rusage, so only that child is counted).

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

pub struct Measurement {
    pub label: String,
    pub wall_s: f64,
    pub max_rss_kib: i64,
}

/// Fails with the install command when `tool` is not on PATH.
pub fn require(tool: &str, install: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    if !found {
        bail!("{tool} is not installed; install it with `{install}`");
    }
    Ok(())
}

pub fn measure(label: &str, argv: &[&str]) -> Result<Measurement> {
    eprintln!("running: {}", argv.join(" "));
    let start = Instant::now();
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .spawn()
        .with_context(|| format!("starting {}", argv[0]))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data, fully written by wait4 on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet reaped (we never call child.wait()); the pointers
    // are valid for the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall_s = start.elapsed().as_secs_f64();
    if r != pid {
        bail!(
            "waiting for {}: {}",
            argv[0],
            std::io::Error::last_os_error()
        );
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{} failed with wait status {status:#x}", argv.join(" "));
    }
    std::mem::forget(child);
    Ok(Measurement {
        label: label.to_owned(),
        wall_s,
        max_rss_kib: usage.ru_maxrss,
    })
}
