//! Process attribute trackers (`track`/`untrack`): per session and domain, which processes
//! the session records, by (virtual) process, user and group id, with lttng's semantics: a
//! tracker tracks everything until a value is added; `untrack --all` tracks nothing. Which
//! apps match is decided here for user space ([`Registry::app_tracked`], applied by
//! `reconcile`). Not here: kernel trackers: tracefs filters by thread id only
//! (`set_event_pid`, `common_pid`), so a process, user or group tracker cannot be exact
//! there, and `track -k` is refused with that reason rather than recording another set.

use std::collections::{BTreeMap, BTreeSet};

use crate::{err, Port, Registry, Session};
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
        if domain == Domain::Kernel {
            return Err(err(
                ErrorCode::InvalidArgument,
                "kernel trackers are not available: tracefs selects events by thread id only, so a process, user or group tracker would record another set than asked",
            ));
        }
        let attr = attr.in_domain(domain);
        let s = &mut self.sessions[i];
        let key = (domain, attr);
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
