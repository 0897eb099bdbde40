//! Process attribute trackers (`track`/`untrack`): per session and domain, which processes
//! the session records, by (virtual) process, user and group id, with lttng's semantics: a
//! tracker tracks everything until a value is added; `untrack --all` tracks nothing. Which
//! apps match is decided here for user space ([`Registry::app_tracked`], applied by
//! `reconcile`); the kernel's are sent whole to the kernel side ([`KernelOp::Trackers`]) at
//! each change and when the session's kernel domain is created, and applied there. Not here:
//! how the kernel side selects (rttng-kernel's `tracker`: the consumer drops the records of
//! untracked tasks, identified by the eBPF task recorder).

use std::collections::{BTreeMap, BTreeSet};

use crate::{err, KernelOp, Port, Registry, Session};
use rttng_proto::*;

/// Most values in one tracker's inclusion set.
pub const MAX_TRACKER_VALUES: usize = 4096;

/// The trackers of one session; absent: tracks everything.
pub(crate) type Trackers = BTreeMap<(Domain, ProcessAttr), BTreeSet<u32>>;

impl Registry {
    /// `track` (`add`) or `untrack`; `all`: the whole policy.
    #[allow(clippy::too_many_arguments)] // the request's fields, then the context
    pub(crate) fn track(
        &mut self,
        i: usize,
        domain: Domain,
        attr: ProcessAttr,
        value: u32,
        all: bool,
        add: bool,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        let attr = attr.in_domain(domain);
        let s = &mut self.sessions[i];
        let key = (domain, attr);
        let before = s.trackers.get(&key).cloned();
        let words = attr.words();
        match (add, all) {
            (true, true) => {
                s.trackers.remove(&key);
            }
            (false, true) => {
                s.trackers.insert(key, BTreeSet::new());
            }
            (true, false) => {
                let set = s.trackers.entry(key).or_default();
                if !set.insert(value) {
                    return Err(err(
                        ErrorCode::ProcessAttrExists,
                        format!("{value} is already in the {words} inclusion set"),
                    ));
                }
                if set.len() > MAX_TRACKER_VALUES {
                    set.remove(&value);
                    return Err(err(
                        ErrorCode::InvalidArgument,
                        format!("the {words} tracker holds {MAX_TRACKER_VALUES} values already"),
                    ));
                }
            }
            (false, false) => {
                let missing = err(
                    ErrorCode::ProcessAttrMissing,
                    // lttng 2.13's words, typo included.
                    format!("{value} is not in the {words} the inclusion set"),
                );
                if !s
                    .trackers
                    .get_mut(&key)
                    .is_some_and(|set| set.remove(&value))
                {
                    return Err(missing);
                }
            }
        }
        if domain == Domain::Kernel {
            let s = &mut self.sessions[i];
            if s.channels.iter().any(|c| c.domain == Domain::Kernel) {
                // The checkpoint is the session before this change (restored if the kernel
                // side refuses it).
                let after = s.trackers.get(&key).cloned();
                let put = |s: &mut Session, v: Option<BTreeSet<u32>>| match v {
                    Some(v) => s.trackers.insert(key, v),
                    None => s.trackers.remove(&key),
                };
                put(s, before);
                let sid = s.id;
                self.checkpoint(sid);
                let s = &mut self.sessions[i];
                put(s, after);
                let op = KernelOp::Trackers {
                    trackers: kernel_trackers(s),
                };
                port.kernel(sid, op)
                    .map_err(|e| err(ErrorCode::KernelUnavailable, e))?;
            }
            return Ok(Response::Ok);
        }
        self.reconcile(port, errs);
        Ok(Response::Ok)
    }

    /// `list`'s trackers of session `i`: every tracker of each domain it uses.
    pub(crate) fn trackers_of(&self, i: usize) -> Vec<TrackerInfo> {
        let s = &self.sessions[i];
        let mut out = Vec::new();
        for domain in [Domain::Kernel, Domain::Ust] {
            let used = s.channels.iter().any(|c| c.domain == domain)
                || s.trackers.keys().any(|(d, _)| *d == domain);
            if !used {
                continue;
            }
            for attr in ProcessAttr::ALL {
                if attr.in_domain(domain) != attr {
                    continue;
                }
                let set = s.trackers.get(&(domain, attr));
                out.push(TrackerInfo {
                    domain,
                    attr,
                    all: set.is_none(),
                    values: set.map(|v| v.iter().copied().collect()).unwrap_or_default(),
                });
            }
        }
        out
    }
}

/// Session `s`'s kernel trackers that have an inclusion set, as [`KernelOp::Trackers`] sends
/// them.
pub(crate) fn kernel_trackers(s: &Session) -> Vec<TrackerInfo> {
    s.trackers
        .iter()
        .filter(|((d, _), _)| *d == Domain::Kernel)
        .map(|((d, a), v)| TrackerInfo {
            domain: *d,
            attr: *a,
            all: false,
            values: v.iter().copied().collect(),
        })
        .collect()
}

/// Whether a user-space app with these ids is recorded by session `s`.
pub(crate) fn ust_tracked(s: &Session, vpid: u32, vuid: u32, vgid: Option<u32>) -> bool {
    let ok = |attr: ProcessAttr, v: Option<u32>| match s.trackers.get(&(Domain::Ust, attr)) {
        None => true,
        Some(set) => v.is_some_and(|v| set.contains(&v)),
    };
    ok(ProcessAttr::Vpid, Some(vpid))
        && ok(ProcessAttr::Vuid, Some(vuid))
        && ok(ProcessAttr::Vgid, vgid)
}
