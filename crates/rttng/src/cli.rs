//! The command-line surface: every subcommand and flag is defined once, here, and clap derives
//! the help text from these definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rttng",
    version,
    about = "rttng: LTTng-class tracing for Linux",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: crate::session_cmd::Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print CTF traces as text, exactly like babeltrace2's default output
    View(ViewArgs),
    #[command(flatten)]
    Session(crate::session_cmd::SessionCommand),
    /// Run a command and show its system calls live, strace-style, keeping a CTF trace
    Trace(TraceArgs),
    /// Run a program instrumented with LTTng-UST on rttng's drop-in libraries
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print the directory of the drop-in libraries and exit
    #[arg(long, conflicts_with = "command")]
    pub print_lib_dir: bool,
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
    /// Record user-space events too (not yet available in `rttng trace`)
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
        }
    }
}
