//! The command-line surface: every subcommand and flag is defined once, here, and clap derives
//! the help text from these definitions; with them, the parsers of argument values (sizes, log
//! levels, comma lists). Not here: what the commands do (`session_cmd.rs`, `view.rs`, ...).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rttng_ctl::proto::Domain;

use crate::error::{usage, CliError};
use rttng_ctf::lttng::LOGLEVEL_NAMES;

#[derive(Debug, Parser)]
#[command(
    name = "rttng",
    version,
    about = "rttng: LTTng-class tracing for Linux",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print CTF traces as text, exactly like babeltrace2's default output
    View(ViewArgs),
    #[command(flatten)]
    Session(SessionCommand),
    /// Trace the bundled example application end to end and show its events
    Demo(DemoArgs),
    /// Run a command and show its system calls live, strace-style, keeping a CTF trace
    Trace(TraceArgs),
    /// Record and manage snapshots of a snapshot session (add-output, del-output,
    /// list-output, record)
    Snapshot(SnapshotArgs),
    /// Record a snapshot of every snapshot session when an application dumps core
    CoredumpHandler(CoredumpArgs),
    /// Live per-task CPU, system calls, I/O and busiest user-space events, from traces
    Top(rttng_top::TopArgs),
    /// Run a program instrumented with LTTng-UST on rttng's drop-in libraries
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Session (default: the current session)
    #[arg(short = 's', long, global = true)]
    pub session: Option<String>,
    /// Snapshot output name (default: snapshot-ID)
    #[arg(short = 'n', long, global = true)]
    pub name: Option<String>,
    /// Largest size of a snapshot (k, M, G suffixes): the newest packets of each stream
    /// that fit
    #[arg(short = 'm', long, global = true, value_name = "SIZE")]
    pub max_size: Option<String>,
    /// Control URL of a relay daemon, tcp://HOST[:PORT] (with --data-url)
    #[arg(short = 'C', long, global = true, value_name = "URL")]
    pub ctrl_url: Option<String>,
    /// Data URL of a relay daemon, tcp://HOST[:PORT] (with --ctrl-url)
    #[arg(short = 'D', long, global = true, value_name = "URL")]
    pub data_url: Option<String>,
    #[command(subcommand)]
    pub action: SnapshotAction,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Set the session's snapshot output (a session has one)
    AddOutput {
        /// Output directory (DIR or file://DIR) or relay (net://HOST[:C[:D]][/PATH])
        #[arg(value_name = "DIR|URL")]
        url: Option<String>,
    },
    /// Remove the session's snapshot output, by id or name
    DelOutput {
        #[arg(value_name = "ID|NAME")]
        output: Option<String>,
    },
    /// List the session's snapshot output
    ListOutput,
    /// Record a snapshot to the session's output, or to DIR or a relay (net://HOST)
    Record {
        /// Output for this snapshot only: DIR, file://DIR or net://HOST[:C[:D]][/PATH]
        #[arg(value_name = "DIR|URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct CoredumpArgs {
    #[command(subcommand)]
    pub action: CoredumpAction,
}

#[derive(Debug, Subcommand)]
pub enum CoredumpAction {
    /// Point kernel.core_pattern at this handler (root), saving the current pattern
    Install {
        /// Write core files here (default: where the previous core_pattern put them)
        #[arg(long, value_name = "DIR")]
        core_dir: Option<PathBuf>,
    },
    /// Restore the core_pattern saved by install
    Uninstall,
    /// What the kernel runs on a crash: STATE %P %p %u %g %s %t %e (core on stdin)
    #[command(hide = true)]
    Run {
        state: PathBuf,
        #[arg(num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true)]
        crash: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print the directory of the drop-in libraries and exit
    #[arg(long, conflicts_with = "command")]
    pub print_lib_dir: bool,
    /// Preload the dlopen wrapper liblttng-ust-dl.so.1 (lttng_ust_dl:* and lttng_ust_lib:*
    /// events), as LD_PRELOAD=liblttng-ust-dl.so does with LTTng
    #[arg(long)]
    pub dl: bool,
    /// The command to run, after `--`
    #[arg(
        last = true,
        required_unless_present = "print_lib_dir",
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// Record the kernel domain (system calls of the command and its children); the default
    #[arg(short = 'k', long)]
    pub kernel: bool,
    /// Record user-space events too (refused: `rttng trace` records the kernel only)
    #[arg(short = 'u', long)]
    pub user: bool,
    /// Session output directory (default: ~/rttng-traces/trace-DATE-TIME-PID)
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The command to run, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Never,
    Always,
}

#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    /// Trace directories (searched recursively for `metadata` files), or one session name
    /// (default: the current session's output)
    #[arg(value_name = "PATH|SESSION")]
    pub paths: Vec<PathBuf>,
    /// Print timestamps in clock cycles
    #[arg(long)]
    pub clock_cycles: bool,
    /// Print timestamp dates
    #[arg(long)]
    pub clock_date: bool,
    /// Print and parse timestamps in the GMT time zone instead of the local time zone
    #[arg(long)]
    pub clock_gmt: bool,
    /// Print timestamps in seconds since the Unix epoch
    #[arg(long)]
    pub clock_seconds: bool,
    /// Do not print the time delta between consecutive events
    #[arg(long)]
    pub no_delta: bool,
    /// Print field names of these categories: none, all, scope, header, context (ctx), payload (args)
    #[arg(short = 'n', long, value_name = "NAME[,NAME]...")]
    pub names: Option<String>,
    /// Print these additional fields: trace, trace:hostname, trace:domain, trace:procname, trace:vpid, loglevel, emf, callsite, all
    #[arg(short = 'f', long, value_name = "NAME[,NAME]...")]
    pub fields: Option<String>,
    /// When to use terminal colors (NO_COLOR in the environment turns `auto` off)
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// Decode every event but print only the number of events per event name
    #[arg(long)]
    pub count: bool,
    /// Read a live session from a relay daemon: net://HOST[:PORT]/host/HOSTNAME/SESSION
    /// attaches, net://HOST[:PORT][/host/HOSTNAME] lists sessions
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "net://localhost", conflicts_with_all = ["paths", "count"])]
    pub live: Option<String>,
}

impl ViewArgs {
    /// Default options for these paths.
    pub fn for_paths(paths: Vec<PathBuf>) -> ViewArgs {
        ViewArgs {
            paths,
            clock_cycles: false,
            clock_date: false,
            clock_gmt: false,
            clock_seconds: false,
            no_delta: false,
            names: None,
            fields: None,
            color: ColorWhen::Auto,
            count: false,
            live: None,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Tracing group of the root session daemon
    #[arg(short = 'g', long, default_value = "tracing", value_name = "GROUP")]
    pub group: String,
    /// Do not start a session daemon when none answers
    #[arg(short = 'n', long)]
    pub no_sessiond: bool,
    /// Session daemon binary to start
    #[arg(long, value_name = "PATH")]
    pub sessiond_path: Option<PathBuf>,
    /// Print no messages on standard output (errors and warnings still go to standard error)
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Say each request to the session daemon and its answer on standard error (-vv: with
    /// their fields)
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print the command names, one a line, and exit (for completion scripts)
    #[arg(long)]
    pub list_commands: bool,
    /// Print the options of rttng (or of the command before it), one a line, and exit
    #[arg(long)]
    pub list_options: bool,
    /// Machine interface: print lttng's MI document instead of messages (`xml`; for the
    /// session commands, track and untrack)
    #[arg(short = 'm', long, value_name = "TYPE")]
    pub mi: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Create a recording session
    Create(CreateArgs),
    /// Destroy recording sessions (stopping them first)
    Destroy(DestroyArgs),
    /// Set the current recording session
    SetSession { session: String },
    /// Create or enable channels
    EnableChannel(EnableChannelArgs),
    /// Disable channels
    DisableChannel(DisableChannelArgs),
    /// Create or enable recording event rules
    EnableEvent(EnableEventArgs),
    /// Disable recording event rules
    DisableEvent(DisableEventArgs),
    /// Add context fields to channels
    AddContext(AddContextArgs),
    /// Start recording
    Start { session: Option<String> },
    /// Stop recording (waits until the trace data is written)
    Stop {
        session: Option<String>,
        /// Do not wait until a relay daemon has the data
        #[arg(short = 'n', long)]
        no_wait: bool,
    },
    /// Show the current recording session (= list CURRENT)
    Status,
    /// List sessions, a session's channels and rules, or instrumented applications
    List(ListArgs),
    /// Show version information
    Version,
    /// Add values to a session's process attribute trackers (record only those processes)
    Track(TrackArgs),
    /// Remove values from a session's process attribute trackers
    Untrack(TrackArgs),
}

/// `track`/`untrack`: each attribute option takes a comma list of ids (user and group
/// names too), or none with `--all`.
#[derive(Debug, Args)]
pub struct TrackArgs {
    /// User-space domain (trackers have no agent domains, so not the shared domain flags)
    #[arg(short = 'u', long)]
    pub userspace: bool,
    /// Linux kernel domain
    #[arg(short = 'k', long)]
    pub kernel: bool,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    /// Every value of the attributes given (track: all processes; untrack: none)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Process IDs (user space: virtual process IDs)
    #[arg(short = 'p', long, value_name = "PID[,PID]...", num_args = 0..=1, default_missing_value = "")]
    pub pid: Option<String>,
    /// Virtual process IDs
    #[arg(long, value_name = "VPID[,VPID]...", num_args = 0..=1, default_missing_value = "")]
    pub vpid: Option<String>,
    /// User IDs or names (user space: virtual user IDs)
    #[arg(long, value_name = "UID[,UID]...", num_args = 0..=1, default_missing_value = "")]
    pub uid: Option<String>,
    /// Virtual user IDs or names
    #[arg(long, value_name = "VUID[,VUID]...", num_args = 0..=1, default_missing_value = "")]
    pub vuid: Option<String>,
    /// Group IDs or names (user space: virtual group IDs)
    #[arg(long, value_name = "GID[,GID]...", num_args = 0..=1, default_missing_value = "")]
    pub gid: Option<String>,
    /// Virtual group IDs or names
    #[arg(long, value_name = "VGID[,VGID]...", num_args = 0..=1, default_missing_value = "")]
    pub vgid: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub session: Option<String>,
    /// Output directory
    #[arg(short = 'o', long, value_name = "DIR", conflicts_with_all = ["set_url", "ctrl_url", "data_url"])]
    pub output: Option<PathBuf>,
    /// Stream to a relay daemon: net://HOST[:CTRL_PORT[:DATA_PORT]][/PATH] (or file://DIR)
    #[arg(short = 'U', long, value_name = "URL", conflicts_with_all = ["ctrl_url", "data_url"])]
    pub set_url: Option<String>,
    /// The relay's control URL, tcp://HOST[:PORT] (with --data-url)
    #[arg(short = 'C', long, value_name = "URL", requires = "data_url")]
    pub ctrl_url: Option<String>,
    /// The relay's data URL, tcp://HOST[:PORT] (with --ctrl-url)
    #[arg(short = 'D', long, value_name = "URL", requires = "ctrl_url")]
    pub data_url: Option<String>,
    /// Snapshot session: channels default to overwrite mode and nothing is written until
    /// `rttng snapshot record`
    #[arg(long)]
    pub snapshot: bool,
    /// No output (a snapshot session then needs `snapshot add-output` or a directory at
    /// `snapshot record`)
    #[arg(long, conflicts_with_all = ["output", "set_url", "ctrl_url", "data_url"])]
    pub no_output: bool,
    /// A live session: flush every PERIOD_US microseconds (default 100000) and stream to a
    /// relay daemon (default net://127.0.0.1) that live viewers read
    #[arg(long, value_name = "PERIOD_US", num_args = 0..=1, default_missing_value = "100000", conflicts_with_all = ["output", "snapshot"])]
    pub live: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    pub session: Option<String>,
    /// Destroy every session
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not wait until the session's last data is written
    #[arg(short = 'n', long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct DomainArgs {
    /// User-space domain
    #[arg(short = 'u', long)]
    pub userspace: bool,
    /// Linux kernel domain
    #[arg(short = 'k', long)]
    pub kernel: bool,
    /// Java Util Logging (JUL) agent domain
    #[arg(short = 'j', long)]
    pub jul: bool,
    /// Apache log4j agent domain
    #[arg(short = 'l', long)]
    pub log4j: bool,
    /// Python logging agent domain
    #[arg(short = 'p', long)]
    pub python: bool,
}

impl DomainArgs {
    pub fn domain(&self) -> Result<Domain, CliError> {
        let chosen: Vec<Domain> = [
            (self.userspace, Domain::Ust),
            (self.kernel, Domain::Kernel),
            (self.jul, Domain::Jul),
            (self.log4j, Domain::Log4j),
            (self.python, Domain::Python),
        ]
        .into_iter()
        .filter_map(|(on, d)| on.then_some(d))
        .collect();
        match chosen[..] {
            [d] => Ok(d),
            _ => Err(usage(
                "choose exactly one domain: -u (user space), -k (kernel), -j (JUL), -l (log4j) or -p (Python)",
            )),
        }
    }
}

/// The domains of a channel command: lttng 2.13's enable-channel and disable-channel have no
/// agent options (`-j/-l/-p` are refused at parsing, as any unknown option).
#[derive(Debug, Args)]
pub struct ChannelDomainArgs {
    /// User-space domain
    #[arg(short = 'u', long)]
    pub userspace: bool,
    /// Linux kernel domain
    #[arg(short = 'k', long)]
    pub kernel: bool,
}

impl ChannelDomainArgs {
    pub fn domain(&self) -> Result<Domain, CliError> {
        match (self.userspace, self.kernel) {
            (true, false) => Ok(Domain::Ust),
            (false, true) => Ok(Domain::Kernel),
            _ => Err(usage(
                "choose exactly one domain: -u (user space) or -k (kernel)",
            )),
        }
    }
}

#[derive(Debug, Args)]
pub struct EnableChannelArgs {
    #[command(flatten)]
    pub domain: ChannelDomainArgs,
    /// Channel names, comma separated
    pub channels: String,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    /// Sub-buffer size (k, M, G suffixes); rounded up to a power of two
    #[arg(long, value_name = "SIZE")]
    pub subbuf_size: Option<String>,
    /// Sub-buffers per ring buffer; rounded up to a power of two
    #[arg(long, value_name = "COUNT")]
    pub num_subbuf: Option<u64>,
    /// Overwrite the oldest sub-buffer when full (flight recorder)
    #[arg(long, conflicts_with = "discard")]
    pub overwrite: bool,
    /// Drop new events when full (default)
    #[arg(long)]
    pub discard: bool,
    /// Flush packets every PERIODUS microseconds
    #[arg(long, value_name = "PERIODUS")]
    pub switch_timer: Option<u64>,
    /// Consumer read period in microseconds (0: wake-up based)
    #[arg(long, value_name = "PERIODUS")]
    pub read_timer: Option<u64>,
    /// Per-user buffers (default)
    #[arg(long, conflicts_with = "buffers_pid")]
    pub buffers_uid: bool,
    /// Per-process buffers
    #[arg(long)]
    pub buffers_pid: bool,
    /// Global buffers (kernel)
    #[arg(long)]
    pub buffers_global: bool,
    /// Maximum size of each stream file (k, M, G suffixes)
    #[arg(long, value_name = "SIZE")]
    pub tracefile_size: Option<String>,
    /// Maximum number of stream files per stream
    #[arg(long, value_name = "COUNT")]
    pub tracefile_count: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DisableChannelArgs {
    #[command(flatten)]
    pub domain: ChannelDomainArgs,
    pub channels: String,
    #[arg(short = 's', long)]
    pub session: Option<String>,
}

#[derive(Debug, Args)]
pub struct EnableEventArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    /// Event names or patterns, comma separated (`*` wildcards)
    pub names: Option<String>,
    /// Every event (`*`)
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    #[arg(short = 'c', long)]
    pub channel: Option<String>,
    /// Tracepoint events (the default)
    #[arg(long)]
    pub tracepoint: bool,
    /// Kernel system calls (entry and exit)
    #[arg(long)]
    pub syscall: bool,
    /// Only events at least as severe as LEVEL
    #[arg(long, value_name = "LEVEL", conflicts_with = "loglevel_only")]
    pub loglevel: Option<String>,
    /// Only events of exactly LEVEL
    #[arg(long, value_name = "LEVEL")]
    pub loglevel_only: Option<String>,
    /// Names to exclude, comma separated
    #[arg(short = 'x', long, value_name = "NAMES")]
    pub exclude: Option<String>,
    /// Filter expression (LTTng's language: payload fields, $ctx.NAME, $app.PROVIDER:NAME)
    #[arg(short = 'f', long, allow_hyphen_values = true)]
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct DisableEventArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    pub names: Option<String>,
    #[arg(short = 'a', long = "all-events")]
    pub all: bool,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    #[arg(short = 'c', long)]
    pub channel: Option<String>,
    /// Only tracepoint rules (in the messages; a rule's name selects it)
    #[arg(long, conflicts_with = "syscall")]
    pub tracepoint: bool,
    /// Only system call rules (in the messages; a rule's name selects it)
    #[arg(long)]
    pub syscall: bool,
}

#[derive(Debug, Args)]
pub struct AddContextArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    /// Print the context type names lttng 2.13 knows, one a line, and exit
    #[arg(short = 'L', long)]
    pub list: bool,
    /// Context types
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    #[arg(short = 's', long)]
    pub session: Option<String>,
    #[arg(short = 'c', long)]
    pub channel: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// A session to describe
    pub session: Option<String>,
    /// User-space: running instrumented applications and their events
    #[arg(short = 'u', long)]
    pub userspace: bool,
    /// Kernel: available tracepoints
    #[arg(short = 'k', long)]
    pub kernel: bool,
    /// With -k: system calls
    #[arg(long)]
    pub syscall: bool,
    /// With -u: event fields
    #[arg(short = 'f', long)]
    pub fields: bool,
    /// JUL: the loggers of running Java applications
    #[arg(short = 'j', long)]
    pub jul: bool,
    /// log4j: the loggers of running Java applications
    #[arg(short = 'l', long)]
    pub log4j: bool,
    /// Python: the loggers of running Python applications
    #[arg(short = 'p', long)]
    pub python: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Example program to run (default: rttng-example next to rttng)
    #[arg(long, value_name = "PATH")]
    pub app: Option<PathBuf>,
    /// Arguments for the example program
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Parses `SIZE` with optional k/M/G suffixes (binary units).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// Parses a UST log level name (`INFO`, `TRACE_INFO`, `LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO`) or number.
pub fn parse_level(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (0..=14).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up
        .strip_prefix("LTTNG_UST_TRACEPOINT_LOGLEVEL_")
        .or_else(|| up.strip_prefix("TRACE_"))
        .unwrap_or(&up);
    let name = if name == "WARN" { "WARNING" } else { name };
    LOGLEVEL_NAMES
        .iter()
        .position(|l| *l == name)
        .map(|i| i as i32)
}

/// Splits a comma list, honouring `\,`.
pub fn split_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(',') => cur.push(','),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            ',' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_levels() {
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_level("INFO"), Some(6));
        assert_eq!(parse_level("TRACE_DEBUG_LINE"), Some(13));
        assert_eq!(parse_level("warning"), Some(4));
        assert_eq!(parse_level("NOPE"), None);
    }

    #[test]
    fn comma_lists_with_escapes() {
        assert_eq!(split_names("a,b\\,c,,d"), vec!["a", "b,c", "d"]);
    }
}
