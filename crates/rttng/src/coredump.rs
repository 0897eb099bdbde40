//! `rttng coredump-handler install | run | uninstall`: a snapshot of every snapshot session
//! when an application dumps core.
//!
//! `install` (root) saves the current `kernel.core_pattern` to a state file ([`STATE_PATH`],
//! naming the session daemon's run directory) and points the pattern at a pipe into `rttng coredump-handler run
//! STATE %P %p %u %g %s %t %e`. On a crash the kernel starts `run` with the core on its
//! standard input while the crashing process waits, still mapped: `run` first asks the
//! session daemon to record a snapshot of each started snapshot session (the app's last
//! events are in the shared-memory buffers the consumer owns), within [`SNAPSHOT_BUDGET`],
//! then writes the core where the previous pattern (or `--core-dir`) says, or hands it to
//! the previous pipe handler. A watchdog ends `run` after [`MAX_RUN_TIME`] whatever happens,
//! so the crashing process is never held longer. `uninstall` writes the saved pattern back
//! byte for byte.
//!
//! Not here: what a snapshot contains; the kernel's `core_pipe_limit`; `%`-specifiers of a
//! previous pattern other than those listed in [`expand`] (such a pattern keeps working
//! through the fallback file name).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rttng_ctl::proto::{Request, Response};

/// The kernel's core pattern.
pub const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";
/// Longest pattern the kernel keeps (`CORENAME_MAX_SIZE` 128 with its NUL).
pub const MAX_CORE_PATTERN_BYTES: usize = 127;
/// The state file. One per machine, as `core_pattern` is; at a short fixed path, because
/// it is part of the pattern (at most 127 bytes). It names the run directory of the
/// session daemon to ask for snapshots (`RTTNG_RUNDIR` or the caller's, at install).
pub const STATE_PATH: &str = "/run/rttng/coredump-handler.state";
/// The handler's log, next to the state file (the kernel gives the handler no terminal).
pub const LOG_FILE: &str = "coredump-handler.log";
/// Time the handler gives the snapshots before it writes the core anyway.
pub const SNAPSHOT_BUDGET: Duration = Duration::from_secs(10);
/// Longest the handler runs; then it exits, and the kernel ends the dump.
pub const MAX_RUN_TIME: Duration = Duration::from_secs(60);
/// Largest state file read back.
const MAX_STATE_BYTES: u64 = 64 << 10;
/// Most sessions the handler snapshots.
const MAX_SESSIONS: usize = 1024;

/// What `install` saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// `core_pattern` before install, exactly (without the kernel's trailing newline).
    pub previous: String,
    /// Where cores go (`--core-dir`), instead of the previous pattern's place.
    pub core_dir: Option<PathBuf>,
    /// The session daemon's run directory (its client socket is there).
    pub rundir: PathBuf,
}

impl State {
    fn encode(&self) -> String {
        let mut s = String::from("rttng-coredump-handler 1\n");
        s.push_str(&format!("previous {}\n", self.previous));
        if let Some(d) = &self.core_dir {
            s.push_str(&format!("core-dir {}\n", d.display()));
        }
        s.push_str(&format!("rundir {}\n", self.rundir.display()));
        s
    }

    fn decode(text: &str) -> anyhow::Result<State> {
        let mut lines = text.lines();
        if lines.next() != Some("rttng-coredump-handler 1") {
            bail!("not an rttng core-dump handler state file (version line missing)");
        }
        let (mut previous, mut core_dir, mut rundir) = (None, None, None);
        for l in lines {
            let (k, v) = l.split_once(' ').unwrap_or((l, ""));
            match k {
                "previous" => previous = Some(v.to_string()),
                "core-dir" => core_dir = Some(PathBuf::from(v)),
                "rundir" => rundir = Some(PathBuf::from(v)),
                _ => bail!("unknown line {l:?} in the state file"),
            }
        }
        Ok(State {
            previous: previous.context("state file without the previous core_pattern")?,
            core_dir,
            rundir: rundir.context("state file without the run directory")?,
        })
    }
}

/// What the kernel tells the handler about the crash (the pattern's specifiers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// `%P`: PID in the initial PID namespace.
    pub pid_global: u32,
    /// `%p`: PID in the process's own namespace.
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
    pub signal: u32,
    /// `%t`: seconds since the epoch.
    pub time_s: u64,
    /// `%e`: the command name (may hold spaces: the rest of the arguments).
    pub comm: String,
}

impl Crash {
    /// Parses `%P %p %u %g %s %t %e...`.
    pub fn parse(args: &[String]) -> anyhow::Result<Crash> {
        if args.len() < 7 {
            bail!(
                "expected %P %p %u %g %s %t %e, got {} arguments",
                args.len()
            );
        }
        let n = |i: usize, what: &str| -> anyhow::Result<u64> {
            args[i]
                .parse::<u64>()
                .with_context(|| format!("{what} {:?} is not a number", args[i]))
        };
        let small = |v: u64, what: &str| {
            u32::try_from(v).with_context(|| format!("{what} {v} out of range"))
        };
        Ok(Crash {
            pid_global: small(n(0, "pid")?, "pid")?,
            pid: small(n(1, "pid")?, "pid")?,
            uid: small(n(2, "uid")?, "uid")?,
            gid: small(n(3, "gid")?, "gid")?,
            signal: small(n(4, "signal")?, "signal")?,
            time_s: n(5, "time")?,
            comm: args[6..].join(" "),
        })
    }
}

/// Expands the `%` specifiers of a core pattern for `crash` (`%% %p %P %i %I %u %g %s %t %e
/// %h`; `%i`/`%I` become the PID, as for a single-threaded crash; `%E` the executable path
/// with `/` as `!`). Returns None for a specifier it does not know.
pub fn expand(pattern: &str, crash: &Crash, hostname: &str, exe: &str) -> Option<String> {
    let mut out = String::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next()? {
            '%' => out.push('%'),
            'p' | 'i' => out.push_str(&crash.pid.to_string()),
            'P' | 'I' => out.push_str(&crash.pid_global.to_string()),
            'u' => out.push_str(&crash.uid.to_string()),
            'g' => out.push_str(&crash.gid.to_string()),
            's' => out.push_str(&crash.signal.to_string()),
            't' => out.push_str(&crash.time_s.to_string()),
            'e' => out.push_str(&crash.comm),
            'h' => out.push_str(hostname),
            'E' => out.push_str(&exe.replace('/', "!")),
            _ => return None,
        }
    }
    Some(out)
}

fn read_core_pattern() -> anyhow::Result<String> {
    let s = std::fs::read_to_string(CORE_PATTERN)
        .with_context(|| format!("cannot read {CORE_PATTERN}"))?;
    Ok(s.strip_suffix('\n').unwrap_or(&s).to_string())
}

fn write_core_pattern(p: &str) -> anyhow::Result<()> {
    std::fs::write(CORE_PATTERN, p.as_bytes())
        .with_context(|| format!("cannot write {CORE_PATTERN}"))?;
    let back = read_core_pattern()?;
    if back != p {
        bail!("{CORE_PATTERN} reads back as {back:?} instead of {p:?}");
    }
    Ok(())
}

fn state_path() -> PathBuf {
    PathBuf::from(STATE_PATH)
}

fn euid() -> u32 {
    // /proc/self/status "Uid: real effective saved fs": no unsafe needed.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).and_then(|e| e.parse().ok()))
        })
        .unwrap_or(u32::MAX)
}

/// The core pattern `install` writes.
pub fn handler_pattern(exe: &Path, state: &Path) -> anyhow::Result<String> {
    for (what, p) in [("rttng binary", exe), ("state file", state)] {
        let s = p.to_string_lossy();
        if s.chars().any(|c| c.is_whitespace() || c == '%') {
            bail!("the {what} path {s:?} holds a space or '%', which core_pattern cannot carry");
        }
    }
    let pattern = format!(
        "|{} coredump-handler run {} %P %p %u %g %s %t %e",
        exe.display(),
        state.display()
    );
    if pattern.len() > MAX_CORE_PATTERN_BYTES {
        bail!(
            "the handler's core_pattern would be {} bytes, above the kernel's {MAX_CORE_PATTERN_BYTES}: {pattern}; install rttng (or set RTTNG_RUNDIR) at a shorter path",
            pattern.len()
        );
    }
    Ok(pattern)
}

fn is_ours(pattern: &str) -> bool {
    pattern.starts_with('|') && pattern.contains(" coredump-handler run ")
}

/// `install [--core-dir DIR]`.
pub fn install(core_dir: Option<PathBuf>) -> anyhow::Result<()> {
    if euid() != 0 {
        bail!("installing the core-dump handler needs root: it writes {CORE_PATTERN}");
    }
    let previous = read_core_pattern()?;
    let state_file = state_path();
    if is_ours(&previous) || state_file.exists() {
        bail!(
            "an rttng core-dump handler is installed already (core_pattern {previous:?}, state {}); run `rttng coredump-handler uninstall` first",
            state_file.display()
        );
    }
    let core_dir = match core_dir {
        Some(d) => {
            let d = std::path::absolute(&d)
                .with_context(|| format!("bad core directory {}", d.display()))?;
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
            Some(d)
        }
        None => None,
    };
    let exe = std::env::current_exe()
        .and_then(|e| e.canonicalize())
        .context("cannot find the rttng binary's path")?;
    let pattern = handler_pattern(&exe, &state_file)?;
    let state = State {
        previous: previous.clone(),
        core_dir,
        rundir: rttng_ctl::proto::paths::rundir(euid()),
    };
    if let Some(parent) = state_file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let tmp = state_file.with_extension("tmp");
    std::fs::write(&tmp, state.encode())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &state_file)
        .with_context(|| format!("cannot write {}", state_file.display()))?;
    if let Err(e) = write_core_pattern(&pattern) {
        // Leave the system as it was.
        let _ = std::fs::write(CORE_PATTERN, previous.as_bytes());
        let _ = std::fs::remove_file(&state_file);
        return Err(e);
    }
    println!("Core-dump handler installed: {CORE_PATTERN} is {pattern}");
    println!("Previous core_pattern (restored by uninstall): {previous}");
    Ok(())
}

/// `uninstall`: the saved pattern goes back exactly.
pub fn uninstall() -> anyhow::Result<()> {
    let state_file = state_path();
    let text = std::fs::read_to_string(&state_file).with_context(|| {
        format!(
            "no rttng core-dump handler is installed here (cannot read {})",
            state_file.display()
        )
    })?;
    let state = State::decode(&text)?;
    let current = read_core_pattern()?;
    if !is_ours(&current) {
        eprintln!("Warning: core_pattern was changed since install ({current:?}); restoring the one saved at install anyway");
    }
    write_core_pattern(&state.previous)?;
    std::fs::remove_file(&state_file)
        .with_context(|| format!("cannot remove {}", state_file.display()))?;
    println!(
        "Core-dump handler uninstalled: core_pattern restored to {}",
        state.previous
    );
    Ok(())
}

/// The handler's log (append; the kernel gives the handler no terminal).
struct Log(Option<std::fs::File>);

impl Log {
    fn line(&mut self, msg: &str) {
        if let Some(f) = &mut self.0 {
            let _ = writeln!(f, "rttng coredump-handler[{}]: {msg}", std::process::id());
        }
    }
}

/// `run STATE %P %p %u %g %s %t %e...`: what the kernel starts on a crash. Returns the
/// exit status; every failure is logged, and the core is written whatever the snapshots did.
pub fn run(state_file: &Path, args: &[String]) -> std::process::ExitCode {
    let started = Instant::now();
    // Whatever blocks below, the crashing process is released after MAX_RUN_TIME.
    std::thread::spawn(|| {
        std::thread::sleep(MAX_RUN_TIME);
        std::process::exit(2);
    });
    let log_path = state_file.with_file_name(LOG_FILE);
    let mut log = Log(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .ok());
    let state = match std::fs::File::open(state_file)
        .and_then(|f| {
            let mut s = String::new();
            f.take(MAX_STATE_BYTES).read_to_string(&mut s).map(|_| s)
        })
        .map_err(anyhow::Error::from)
        .and_then(|s| State::decode(&s))
    {
        Ok(s) => s,
        Err(e) => {
            log.line(&format!(
                "cannot read {}: {e:#}; discarding the core",
                state_file.display()
            ));
            drain_stdin();
            return std::process::ExitCode::FAILURE;
        }
    };
    let crash = match Crash::parse(args) {
        Ok(c) => c,
        Err(e) => {
            log.line(&format!("bad arguments from the kernel: {e:#}"));
            return write_core(&state, None, &mut log);
        }
    };
    log.line(&format!(
        "pid {} ({}) got signal {}: recording snapshots",
        crash.pid_global, crash.comm, crash.signal
    ));
    for line in record_snapshots(&state.rundir, SNAPSHOT_BUDGET) {
        log.line(&line);
    }
    log.line(&format!("snapshots done in {:?}", started.elapsed()));
    write_core(&state, Some(&crash), &mut log)
}

/// Asks the daemon in `rundir` to record a snapshot of each started snapshot session.
/// Bounded by `budget` (the requests run on a thread that is abandoned if late). Returns
/// log lines.
pub fn record_snapshots(rundir: &Path, budget: Duration) -> Vec<String> {
    let socket = rundir.join(rttng_ctl::proto::paths::CLIENT_SOCKET);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut client = match rttng_ctl::Client::connect_to(&socket) {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(vec![format!("no session daemon: {e}")]);
                return;
            }
        };
        let sessions = match client.call(&Request::ListSessions) {
            Ok(Response::Sessions { list }) => list,
            Ok(other) => {
                let _ = tx.send(vec![format!("unexpected answer {other:?}")]);
                return;
            }
            Err(e) => {
                let _ = tx.send(vec![format!("cannot list sessions: {e}")]);
                return;
            }
        };
        for s in sessions
            .into_iter()
            .filter(|s| s.snapshot)
            .take(MAX_SESSIONS)
        {
            let r = client.call(&Request::SnapshotRecord {
                session: s.name.clone(),
                output: None,
                name: String::new(),
                max_size: None,
            });
            lines.push(match r {
                Ok(Response::SnapshotRecorded { paths }) => {
                    format!("session {}: snapshot at {}", s.name, paths.join(", "))
                }
                Ok(other) => format!("session {}: {other:?}", s.name),
                Err(e) => format!("session {}: {e}", s.name),
            });
        }
        let _ = tx.send(lines);
    });
    match rx.recv_timeout(budget) {
        Ok(lines) => lines,
        Err(_) => vec![format!(
            "snapshots not done within {budget:?}; writing the core now"
        )],
    }
}

fn drain_stdin() {
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
}

/// Writes the core from standard input: to `--core-dir` (`core.COMM.PID`), else where the
/// previous pattern said (relative to the crashing process's working directory), or runs the
/// previous pipe handler on it.
fn write_core(state: &State, crash: Option<&Crash>, log: &mut Log) -> std::process::ExitCode {
    let Some(crash) = crash else {
        drain_stdin();
        return std::process::ExitCode::FAILURE;
    };
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let exe = std::fs::read_link(format!("/proc/{}/exe", crash.pid_global))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fallback = format!("core.{}.{}", crash.comm.replace('/', "!"), crash.pid);
    let target: PathBuf = if let Some(dir) = &state.core_dir {
        dir.join(&fallback)
    } else if let Some(cmd) = state.previous.strip_prefix('|') {
        return hand_over(cmd, crash, &hostname, &exe, log);
    } else {
        let name = expand(&state.previous, crash, &hostname, &exe).unwrap_or_else(|| {
            log.line(&format!(
                "previous pattern {:?} has a specifier rttng does not know; using {fallback}",
                state.previous
            ));
            fallback.clone()
        });
        if name.is_empty() {
            drain_stdin();
            return std::process::ExitCode::SUCCESS;
        }
        let p = PathBuf::from(&name);
        if p.is_absolute() {
            p
        } else {
            PathBuf::from(format!("/proc/{}/cwd", crash.pid_global)).join(p)
        }
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target);
    match file {
        Ok(mut f) => match std::io::copy(&mut std::io::stdin().lock(), &mut f) {
            Ok(n) => {
                log.line(&format!("core written to {} ({n} bytes)", target.display()));
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                log.line(&format!("cannot write {}: {e}", target.display()));
                drain_stdin();
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            log.line(&format!("cannot create {}: {e}", target.display()));
            drain_stdin();
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the previous pipe handler (`|prog args`) with the core on its standard input.
fn hand_over(
    cmd: &str,
    crash: &Crash,
    hostname: &str,
    exe: &str,
    log: &mut Log,
) -> std::process::ExitCode {
    use std::os::unix::process::CommandExt;
    // The kernel splits the pattern on spaces, then expands each argument.
    let argv: Option<Vec<String>> = cmd
        .split(' ')
        .filter(|a| !a.is_empty())
        .map(|a| expand(a, crash, hostname, exe))
        .collect();
    let Some(argv) = argv.filter(|a| !a.is_empty()) else {
        log.line(&format!(
            "cannot expand the previous handler {cmd:?}; discarding the core"
        ));
        drain_stdin();
        return std::process::ExitCode::FAILURE;
    };
    log.line(&format!("handing the core to {argv:?}"));
    let err = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    log.line(&format!("cannot run {}: {err}", argv[0]));
    drain_stdin();
    std::process::ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crash() -> Crash {
        Crash::parse(
            &["4242", "7", "1000", "100", "6", "1700000000", "my", "app"].map(String::from),
        )
        .unwrap()
    }

    #[test]
    fn kernel_arguments_parse_with_a_comm_holding_spaces() {
        let c = crash();
        assert_eq!(
            (c.pid_global, c.pid, c.uid, c.gid, c.signal),
            (4242, 7, 1000, 100, 6)
        );
        assert_eq!(c.comm, "my app");
        assert!(Crash::parse(&["1".to_string()]).is_err());
        assert!(Crash::parse(&["x", "7", "1", "1", "6", "1", "a"].map(String::from)).is_err());
    }

    #[test]
    fn patterns_expand_like_the_kernel() {
        let c = crash();
        assert_eq!(expand("core", &c, "h", "/bin/x").unwrap(), "core");
        assert_eq!(
            expand(
                "/var/crash/%e.%p.%P.%s.%t.%u.%g.%h.%%.%E",
                &c,
                "box",
                "/usr/bin/app"
            )
            .unwrap(),
            "/var/crash/my app.7.4242.6.1700000000.1000.100.box.%.!usr!bin!app"
        );
        assert_eq!(expand("core.%Z", &c, "h", ""), None, "unknown specifier");
        assert_eq!(expand("core.%", &c, "h", ""), None, "dangling percent");
    }

    #[test]
    fn state_round_trips_and_bad_state_is_an_error() {
        let s = State {
            previous: "|/usr/share/apport/apport -p%p -s%s %c".into(),
            core_dir: Some(PathBuf::from("/var/cores")),
            rundir: PathBuf::from("/run/rttng"),
        };
        assert_eq!(State::decode(&s.encode()).unwrap(), s);
        let none = State {
            core_dir: None,
            previous: String::new(),
            ..s
        };
        assert_eq!(State::decode(&none.encode()).unwrap(), none);
        assert!(State::decode("garbage").is_err());
        assert!(State::decode("rttng-coredump-handler 1\nrundir /r\n").is_err());
    }

    #[test]
    fn handler_pattern_fits_the_kernel_or_says_why() {
        let p = handler_pattern(
            Path::new("/usr/bin/rttng"),
            Path::new("/run/rttng/coredump-handler.state"),
        )
        .unwrap();
        assert_eq!(p, "|/usr/bin/rttng coredump-handler run /run/rttng/coredump-handler.state %P %p %u %g %s %t %e");
        assert!(p.len() <= MAX_CORE_PATTERN_BYTES);
        let long = "/x".repeat(60);
        assert!(handler_pattern(Path::new(&long), Path::new("/s")).is_err());
        assert!(handler_pattern(Path::new("/a b/rttng"), Path::new("/s")).is_err());
    }
}
