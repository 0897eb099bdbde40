//! tracefs access: finding (or mounting) it, reading event formats, listing tracepoints and
//! system calls, creating and removing the `rttng-` instances sessions trace into, and cleaning
//! up the instances a crashed process left behind.
//!
//! It never touches the global (top-level) buffer's settings: every write goes under
//! `instances/rttng-*`. It does not drain buffers; see `drain`.

use std::path::{Path, PathBuf};

use crate::error::{io_err, KernelError};
use crate::format::{check_header_event, parse_format, parse_header_page, EventFormat, PageLayout};

/// Prefix of every instance this crate creates: `rttng-<owner pid>-<session>-<channel>`.
pub const INSTANCE_PREFIX: &str = "rttng-";
/// Longest session or channel name accepted in an instance name.
pub const MAX_NAME_BYTES: usize = 64;
/// Most lines read from `available_events` or similar lists.
pub const MAX_LIST_LINES: usize = 100_000;

const MOUNT_POINTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// A mounted tracefs.
#[derive(Clone, Debug)]
pub struct Tracefs {
    root: PathBuf,
}

fn is_tracefs(p: &Path) -> bool {
    p.join("events").is_dir() && p.join("instances").is_dir()
}

impl Tracefs {
    /// Find tracefs, mounting it on `/sys/kernel/tracing` when it is not mounted.
    pub fn open() -> Result<Tracefs, KernelError> {
        for m in MOUNT_POINTS {
            if is_tracefs(Path::new(m)) {
                return Ok(Tracefs {
                    root: PathBuf::from(m),
                });
            }
        }
        let status = std::process::Command::new("mount")
            .args(["-t", "tracefs", "nodev", MOUNT_POINTS[0]])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|source| KernelError::NoTracefs { source })?;
        if status.success() && is_tracefs(Path::new(MOUNT_POINTS[0])) {
            return Ok(Tracefs {
                root: PathBuf::from(MOUNT_POINTS[0]),
            });
        }
        Err(KernelError::NoTracefs {
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "`mount -t tracefs` failed"),
        })
    }

    /// A tracefs at `root` (tests, unusual mounts).
    pub fn at(root: impl Into<PathBuf>) -> Tracefs {
        Tracefs { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn read(&self, rel: &str) -> Result<String, KernelError> {
        let p = self.path(rel);
        read_text(&p).map_err(io_err(p))
    }

    /// The page layout, checked against `header_event`.
    pub fn page_layout(&self) -> Result<PageLayout, KernelError> {
        let hp = self.path("events/header_page");
        let text = self.read("events/header_page")?;
        let layout = parse_header_page(&text).map_err(|e| KernelError::Format {
            path: hp.clone(),
            line: e.line,
            reason: e.reason,
        })?;
        let he = self.path("events/header_event");
        let text = self.read("events/header_event")?;
        check_header_event(&text).map_err(|e| KernelError::UnsupportedHeader {
            path: he,
            reason: e.reason,
        })?;
        Ok(layout)
    }

    /// Parse `events/SYSTEM/EVENT/format`.
    pub fn event_format(&self, system: &str, event: &str) -> Result<EventFormat, KernelError> {
        let rel = format!("events/{system}/{event}/format");
        let p = self.path(&rel);
        let text = self.read(&rel)?;
        parse_format(system, &text).map_err(|e| KernelError::Format {
            path: p,
            line: e.line,
            reason: e.reason,
        })
    }

    /// Every tracepoint as `(system, event)`, in `available_events` order.
    pub fn available_events(&self) -> Result<Vec<(String, String)>, KernelError> {
        let text = self.read("available_events")?;
        Ok(text
            .lines()
            .take(MAX_LIST_LINES)
            .filter_map(|l| l.split_once(':'))
            .map(|(s, e)| (s.to_string(), e.to_string()))
            .collect())
    }

    /// Every system call with a tracepoint pair, sorted by name.
    pub fn syscalls(&self) -> Result<Vec<String>, KernelError> {
        let mut names: Vec<String> = self
            .available_events()?
            .into_iter()
            .filter(|(s, _)| s == "syscalls")
            .filter_map(|(_, e)| e.strip_prefix("sys_enter_").map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Names of the `rttng-` instances present.
    pub fn rttng_instances(&self) -> Result<Vec<String>, KernelError> {
        let p = self.path("instances");
        let rd = std::fs::read_dir(&p).map_err(io_err(&p))?;
        let mut out = Vec::new();
        for e in rd.take(MAX_LIST_LINES) {
            let e = e.map_err(io_err(&p))?;
            if let Some(n) = e.file_name().to_str() {
                if n.starts_with(INSTANCE_PREFIX) {
                    out.push(n.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Largest tracefs text file read.
pub const MAX_TEXT_BYTES: usize = 64 << 20;

/// Read a tracefs text file with large reads: some tracefs files (`header_page`) return
/// end-of-file after a short first read, so the small probe read `read_to_string` starts with
/// loses the rest.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match f.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 || out.len() + n > MAX_TEXT_BYTES {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Check that `name` fits an instance or file name.
pub fn check_name(name: &str) -> Result<(), KernelError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(KernelError::BadName {
            name: name.to_string(),
        })
    }
}

/// The instance name for a session channel owned by this process:
/// `rttng-<pid>-<session>-<channel>`, or with the session owner's uid,
/// `rttng-<pid>-u<uid>-<session>-<channel>` (a daemon serving several users, whose session
/// names may be equal). The owning pid comes first ([`instance_owner`]).
pub fn instance_name(owner_uid: Option<u32>, session: &str, channel: &str) -> String {
    match owner_uid {
        Some(uid) => format!(
            "{INSTANCE_PREFIX}{}-u{uid}-{session}-{channel}",
            std::process::id()
        ),
        None => format!(
            "{INSTANCE_PREFIX}{}-{session}-{channel}",
            std::process::id()
        ),
    }
}

/// The owner pid encoded in an instance name.
pub fn instance_owner(name: &str) -> Option<u32> {
    name.strip_prefix(INSTANCE_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// One tracefs instance (`instances/NAME`).
#[derive(Debug)]
pub struct Instance {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    removed: bool,
}

impl Instance {
    /// `mkdir instances/NAME`, with tracing off until [`Instance::set_tracing`].
    pub fn create(tracefs: &Tracefs, name: &str) -> Result<Instance, KernelError> {
        let dir = tracefs.path("instances").join(name);
        std::fs::create_dir(&dir).map_err(io_err(&dir))?;
        let inst = Instance {
            name: name.to_string(),
            dir,
            removed: false,
        };
        inst.write("tracing_on", "0")?;
        Ok(inst)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn write(&self, rel: &str, value: &str) -> Result<(), KernelError> {
        let p = self.dir.join(rel);
        std::fs::write(&p, value).map_err(io_err(p))
    }

    pub fn set_tracing(&self, on: bool) -> Result<(), KernelError> {
        self.write("tracing_on", if on { "1" } else { "0" })
    }

    /// Enable or disable one event of this instance.
    pub fn set_event(&self, system: &str, event: &str, on: bool) -> Result<(), KernelError> {
        self.write(
            &format!("events/{system}/{event}/enable"),
            if on { "1" } else { "0" },
        )
    }

    /// Turn everything off and `rmdir` the instance. Idempotent.
    pub fn remove(&mut self) -> Result<(), KernelError> {
        if self.removed {
            return Ok(());
        }
        let _ = self.set_tracing(false);
        remove_instance_dir(&self.dir)?;
        self.removed = true;
        Ok(())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Best effort: an error here has nowhere to go; cleanup_stale_instances catches leftovers.
        let _ = self.remove();
    }
}

fn remove_instance_dir(dir: &Path) -> Result<(), KernelError> {
    // Disable the events first: rmdir of an instance with events enabled works on current
    // kernels, but is slower and older ones refuse it.
    let _ = std::fs::write(dir.join("events/enable"), "0");
    let _ = std::fs::write(dir.join("set_event_pid"), "");
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// Sum of `overrun` and `dropped events` in a `stats` file.
pub fn parse_stats_lost(text: &str) -> u64 {
    let mut lost = 0u64;
    for line in text.lines().take(64) {
        if let Some((k, v)) = line.split_once(':') {
            if k.trim() == "overrun" || k.trim() == "dropped events" {
                lost = lost.saturating_add(v.trim().parse().unwrap_or(0));
            }
        }
    }
    lost
}

/// Whether process `pid` runs. A zombie (killed, not yet reaped by a parent that may never
/// reap it) has released its instances' owner role: it counts as gone.
fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself hold `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Remove the `rttng-` instances whose owner process is gone (a daemon killed with SIGKILL, a
/// crashed `rttng trace`). Returns the names removed.
pub fn cleanup_stale_instances() -> Result<Vec<String>, KernelError> {
    let tfs = Tracefs::open()?;
    let mut removed = Vec::new();
    for name in tfs.rttng_instances()? {
        let stale = match instance_owner(&name) {
            Some(pid) => !pid_alive(pid),
            None => true,
        };
        if stale {
            remove_instance_dir(&tfs.path("instances").join(&name))?;
            removed.push(name);
        }
    }
    Ok(removed)
}

/// Why `--function` (the function tracer) is refused here, after looking at what the running
/// kernel allows; `Ok(())` only if it would work.
pub fn check_function_tracing(tfs: &Tracefs) -> Result<(), KernelError> {
    let tracers = tfs.read("available_tracers").unwrap_or_default();
    if !tracers.split_whitespace().any(|t| t == "function") {
        return Err(KernelError::Unavailable {
            feature: "--function",
            reason: format!(
                "this kernel has no function tracer (available_tracers: {})",
                tracers.trim()
            ),
        });
    }
    match std::fs::File::open(tfs.path("available_filter_functions")) {
        Ok(_) => Ok(()),
        Err(e) => Err(KernelError::Unavailable {
            feature: "--function",
            reason: format!(
                "the kernel refuses the function tracer (reading available_filter_functions: {e}); \
                 kernel lockdown{} forbids it",
                lockdown_state().map(|s| format!(" ({s})")).unwrap_or_default()
            ),
        }),
    }
}

/// Why `--probe` (kprobes) is refused here; `Ok(())` only if kprobe events exist.
pub fn check_kprobes(tfs: &Tracefs) -> Result<(), KernelError> {
    if tfs.path("kprobe_events").exists() {
        return Ok(());
    }
    Err(KernelError::Unavailable {
        feature: "--probe",
        reason: "this kernel is built without kprobe events (no kprobe_events in tracefs, CONFIG_KPROBE_EVENTS off); \
                 rttng has no kernel module to add them"
            .to_string(),
    })
}

fn lockdown_state() -> Option<String> {
    let t = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    let cur = t.split_whitespace().find(|w| w.starts_with('['))?;
    Some(format!("lockdown={}", cur.trim_matches(['[', ']'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_owners() {
        assert!(check_name("my-session_1.x").is_ok());
        assert!(check_name("a/b").is_err());
        assert!(check_name("..").is_err());
        assert!(check_name("").is_err());
        assert_eq!(instance_owner("rttng-1234-s-channel0"), Some(1234));
        assert_eq!(instance_owner("rttng-x-s"), None);
        assert_eq!(instance_owner("other"), None);
    }

    #[test]
    fn stats_lost() {
        let t = "entries: 5\noverrun: 3\ncommit overrun: 0\nbytes: 10\ndropped events: 4\nread events: 9\n";
        assert_eq!(parse_stats_lost(t), 7);
    }
}
