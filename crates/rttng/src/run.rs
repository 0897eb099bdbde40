//! `rttng run -- CMD ARGS...`: runs a program instrumented with LTTng-UST 2.13 on rttng's
//! drop-in libraries (`liblttng-ust.so.1`, `liblttng-ust-tracepoint.so.1`,
//! `liblttng-ust-common.so.1`, `liblttng-ust-dl.so.1`, crates `rttng-lttng-ust*`), by
//! putting their directory first on `LD_LIBRARY_PATH` and executing the command in place
//! of this process; nothing else changes (the environment, the exit status and the
//! signals are the command's). `--dl` also puts the dlopen wrapper first on `LD_PRELOAD`,
//! as LTTng's users preload `liblttng-ust-dl.so`.
//!
//! Where the libraries are, first found wins: `$RTTNG_LTTNG_UST_DIR`; `lttng-ust-compat/`
//! next to this executable; `../lib/rttng/lttng-ust-compat/` from it (an install). In a
//! cargo target directory (`target/release/`), `lttng-ust-compat/` is (re)made from the
//! cargo outputs next to the executable (`liblttng_ust*.so`), copied under LTTng's names.
//!
//! Not here: programs whose RPATH (not RUNPATH) names LTTng's directory, which beats
//! `LD_LIBRARY_PATH` (use `LD_PRELOAD=DIR/liblttng-ust.so.1` for those).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::RunArgs;

/// The drop-in libraries: (LTTng's file name, cargo's output name).
const LIBRARIES: [(&str, &str); 4] = [
    ("liblttng-ust.so.1", "liblttng_ust.so"),
    ("liblttng-ust-tracepoint.so.1", "liblttng_ust_tracepoint.so"),
    ("liblttng-ust-common.so.1", "liblttng_ust_common.so"),
    ("liblttng-ust-dl.so.1", "liblttng_ust_dl.so"),
];
/// The dlopen wrapper, preloaded by `--dl`.
const DL_WRAPPER: &str = "liblttng-ust-dl.so.1";
const DIR_ENV: &str = "RTTNG_LTTNG_UST_DIR";
const DIR_NAME: &str = "lttng-ust-compat";

fn complete(dir: &Path) -> bool {
    LIBRARIES.iter().all(|(name, _)| dir.join(name).is_file())
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Copies the cargo outputs in `from` to `dir` under LTTng's names, where missing or older.
fn refresh(from: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, built) in LIBRARIES {
        let src = from.join(built);
        let dst = dir.join(name);
        if modified(&dst).is_some_and(|d| modified(&src).is_some_and(|s| d >= s)) {
            continue;
        }
        // Copy then rename, so that a concurrent `rttng run` never loads half a file.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        std::fs::copy(&src, &tmp).with_context(|| format!("cannot copy {}", src.display()))?;
        std::fs::rename(&tmp, &dst).with_context(|| format!("cannot install {}", dst.display()))?;
    }
    Ok(())
}

/// The directory holding the drop-in libraries, made from cargo's outputs if need be.
pub fn lib_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os(DIR_ENV) {
        let d = PathBuf::from(d);
        if !complete(&d) {
            bail!(
                "{DIR_ENV}={} does not hold {}",
                d.display(),
                LIBRARIES.map(|l| l.0).join(", ")
            );
        }
        return Ok(d);
    }
    let exe = std::env::current_exe().context("cannot find the rttng executable")?;
    let exe_dir = exe
        .parent()
        .context("the rttng executable has no directory")?;
    let next_to = exe_dir.join(DIR_NAME);
    if LIBRARIES
        .iter()
        .all(|(_, built)| exe_dir.join(built).is_file())
    {
        refresh(exe_dir, &next_to)?;
        return Ok(next_to);
    }
    if complete(&next_to) {
        return Ok(next_to);
    }
    let installed = exe_dir.join("../lib/rttng").join(DIR_NAME);
    if complete(&installed) {
        return Ok(installed);
    }
    bail!(
        "the drop-in LTTng-UST libraries are not built; build them with \
         `cargo build --release -p rttng-lttng-ust -p rttng-lttng-ust-tracepoint -p rttng-lttng-ust-common -p rttng-lttng-ust-dl` \
         (or set {DIR_ENV})"
    )
}

pub fn run(args: &RunArgs) -> Result<()> {
    let dir = lib_dir()?;
    if args.print_lib_dir {
        println!("{}", dir.display());
        return Ok(());
    }
    let Some((program, rest)) = args.command.split_first() else {
        bail!("no command given; usage: rttng run -- CMD [ARGS...]");
    };
    let mut path = std::ffi::OsString::from(dir.as_os_str());
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|v| !v.is_empty()) {
        path.push(":");
        path.push(old);
    }
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).env("LD_LIBRARY_PATH", path);
    if args.dl {
        let mut preload = std::ffi::OsString::from(dir.join(DL_WRAPPER).as_os_str());
        if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
            preload.push(":");
            preload.push(old);
        }
        cmd.env("LD_PRELOAD", preload);
    }
    let err = cmd.exec();
    Err(err).with_context(|| format!("cannot run {program}"))
}
