//! Test-only fault injection in the consumer's trace writes: `RTTNG_CONSUMERD_FAULTS` makes
//! chosen writes fail, so tests can check that a full or failing disk loses only the packets
//! it must, says so, and leaves every stream file readable.
//!
//! Syntax: comma-separated `KIND:TARGET:N[+COUNT]`. KIND is `enospc`, `eio`, `edquot` (the
//! write fails with that error before any byte is written) or `short` (half the bytes are
//! written, then ENOSPC, as when the disk fills in the middle of a write) or `delay` (the
//! write waits [`DELAY`] first, then succeeds: a slow disk); TARGET is `data`
//! (a packet's write to its stream file), `index` (its index entry) or `metadata` (an
//! append to a trace's metadata file, synced; `short` acts as `enospc` there); N is the 1-based
//! ordinal of that target's write in this process (all buffers and streams counted
//! together), COUNT how many consecutive writes fail (default 1). Example:
//! `enospc:data:3+2,short:index:7`. An unset variable injects nothing; a malformed one
//! makes the daemon refuse to start. Not here: the recovery from the failures (stream.rs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable read once at startup.
pub const ENV: &str = "RTTNG_CONSUMERD_FAULTS";
/// Most rules in the variable.
const MAX_RULES: usize = 64;
/// Linux errno values (this crate does not link libc).
const ENOSPC: i32 = 28;
const EIO: i32 = 5;
const EDQUOT: i32 = 122;
/// How long a `delay` fault holds a write.
pub const DELAY: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Data,
    Index,
    Metadata,
}

/// What an injected fault does to one write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fails before writing, with this errno.
    Errno(i32),
    /// Writes the first half, then fails with ENOSPC.
    Short,
    /// Waits [`DELAY`], then writes.
    Delay,
}

#[derive(Debug)]
struct Rule {
    fault: Fault,
    target: Target,
    first: u64,
    count: u64,
}

static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
static DATA_WRITES: AtomicU64 = AtomicU64::new(0);
static INDEX_WRITES: AtomicU64 = AtomicU64::new(0);
static METADATA_WRITES: AtomicU64 = AtomicU64::new(0);

/// Reads [`ENV`]; call once at startup. An error names the bad rule.
pub fn init() -> Result<(), String> {
    let rules = match std::env::var(ENV) {
        Ok(spec) if !spec.is_empty() => parse(&spec)?,
        _ => Vec::new(),
    };
    let _ = RULES.set(rules);
    Ok(())
}

fn parse(spec: &str) -> Result<Vec<Rule>, String> {
    let rules: Vec<&str> = spec.split(',').collect();
    if rules.len() > MAX_RULES {
        return Err(format!("{ENV}: more than {MAX_RULES} rules"));
    }
    rules
        .into_iter()
        .map(|r| {
            let bad = || format!("{ENV}: bad rule `{r}` (expected KIND:TARGET:N[+COUNT])");
            let mut parts = r.split(':');
            let (Some(kind), Some(target), Some(at), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            let fault = match kind {
                "enospc" => Fault::Errno(ENOSPC),
                "eio" => Fault::Errno(EIO),
                "edquot" => Fault::Errno(EDQUOT),
                "short" => Fault::Short,
                "delay" => Fault::Delay,
                _ => return Err(bad()),
            };
            let target = match target {
                "data" => Target::Data,
                "index" => Target::Index,
                "metadata" => Target::Metadata,
                _ => return Err(bad()),
            };
            let (first, count) = match at.split_once('+') {
                Some((n, c)) => (n.parse(), c.parse()),
                None => (at.parse(), Ok(1)),
            };
            match (first, count) {
                (Ok(first @ 1..), Ok(count)) => Ok(Rule {
                    fault,
                    target,
                    first,
                    count,
                }),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// Counts one write to `target` and returns the fault to inject into it, if any.
pub fn next(target: Target) -> Option<Fault> {
    let rules = RULES.get()?;
    if rules.is_empty() {
        return None;
    }
    let counter = match target {
        Target::Data => &DATA_WRITES,
        Target::Index => &INDEX_WRITES,
        Target::Metadata => &METADATA_WRITES,
    };
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    rules
        .iter()
        .find(|r| r.target == target && n >= r.first && n - r.first < r.count)
        .map(|r| r.fault)
}

/// The error an injected fault reports.
pub fn error(fault: Fault) -> std::io::Error {
    match fault {
        Fault::Errno(e) => std::io::Error::from_raw_os_error(e),
        Fault::Short | Fault::Delay => std::io::Error::from_raw_os_error(ENOSPC),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_bad_ones_are_refused() {
        let r = parse(
            "enospc:data:3+2,short:index:7,eio:data:1,edquot:index:2,delay:data:1,delay:metadata:2",
        )
        .unwrap();
        assert_eq!(r.len(), 6);
        assert_eq!((r[5].fault, r[5].target), (Fault::Delay, Target::Metadata));
        assert_eq!((r[4].fault, r[4].first), (Fault::Delay, 1));
        assert_eq!(
            (r[0].fault, r[0].target, r[0].first, r[0].count),
            (Fault::Errno(ENOSPC), Target::Data, 3, 2)
        );
        assert_eq!((r[1].fault, r[1].first, r[1].count), (Fault::Short, 7, 1));
        for bad in [
            "enospc:data",
            "full:data:1",
            "eio:meta:1",
            "eio:data:0",
            "eio:data:x",
            "eio:data:1+y",
            "eio:data:1:2",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
