//! Kernel trackers (`track -k`): which processes a kernel session records, by process, user
//! and group id, with lttng-modules' semantics (`include/lttng/tracepoint-event-impl.h`): an
//! event is recorded when, for every tracker that has an inclusion set, the current task's
//! value is in it: the process id (`tgid`; every thread of the process, not its children),
//! its virtual process id, the real uid and gid in the initial user namespace, and as the
//! task's own user namespace sees them.
//!
//! tracefs cannot select on these, so the instance records every event and the consumer drops
//! the records of untracked tasks as it converts them, with the values of each record's eBPF
//! task record (`bpf_task`); a record without one is dropped while a tracker is set (it
//! cannot be shown to be tracked). Each change is stamped with the trace clock when it
//! arrives: records stamped before it are judged by the previous policy.
//!
//! Not here: the eBPF program and the matching (`bpf_task`), the `track` command's rules
//! (rttng-session).

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::bpf_task::TaskValues;

/// Most policy changes kept (the oldest go first; records are converted within seconds).
pub const MAX_POLICY_CHANGES: usize = 1024;

/// A tracked attribute, in lttng's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackedAttr {
    Pid,
    Vpid,
    Uid,
    Vuid,
    Gid,
    Vgid,
}

impl TrackedAttr {
    fn index(self) -> usize {
        self as usize
    }

    fn value(self, v: &TaskValues) -> u32 {
        match self {
            TrackedAttr::Pid => v.pid as u32,
            TrackedAttr::Vpid => v.vpid as u32,
            TrackedAttr::Uid => v.ids[0],
            TrackedAttr::Vuid => v.vids[0],
            TrackedAttr::Gid => v.ids[3],
            TrackedAttr::Vgid => v.vids[3],
        }
    }

    const ALL: [TrackedAttr; 6] = [
        TrackedAttr::Pid,
        TrackedAttr::Vpid,
        TrackedAttr::Uid,
        TrackedAttr::Vuid,
        TrackedAttr::Gid,
        TrackedAttr::Vgid,
    ];
}

/// The inclusion sets of a session's trackers; `None`: the tracker tracks everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackerPolicy {
    sets: [Option<BTreeSet<u32>>; 6],
}

impl TrackerPolicy {
    /// Tracker `attr` tracks exactly `values` (empty: nothing), or everything (`None`).
    pub fn set(&mut self, attr: TrackedAttr, values: Option<BTreeSet<u32>>) {
        self.sets[attr.index()] = values;
    }

    /// Every tracker tracks everything.
    pub fn is_all(&self) -> bool {
        self.sets.iter().all(Option::is_none)
    }

    /// Whether a task with these values is recorded.
    pub fn tracks(&self, v: &TaskValues) -> bool {
        TrackedAttr::ALL.iter().all(|a| {
            self.sets[a.index()]
                .as_ref()
                .is_none_or(|s| s.contains(&a.value(v)))
        })
    }
}

/// A session's tracker policies over time: `(first trace-clock time, policy)`, oldest first.
#[derive(Debug, Default)]
pub struct KernelTrackers {
    changes: Mutex<Vec<(u64, TrackerPolicy)>>,
}

impl KernelTrackers {
    /// Policy `p` applies to the records stamped at `since_ts` and later.
    pub fn change(&self, since_ts: u64, p: TrackerPolicy) {
        let mut c = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        if c.len() >= MAX_POLICY_CHANGES {
            c.remove(0);
        }
        c.push((since_ts, p));
    }

    /// Whether some policy (past or current) tracks less than everything.
    pub fn ever_set(&self) -> bool {
        let c = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        c.iter().any(|(_, p)| !p.is_all())
    }

    /// The policies, for one conversion pass.
    pub(crate) fn snapshot(&self) -> Vec<(u64, TrackerPolicy)> {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The policy of a record stamped `ts` among `changes` (oldest first); `None`: everything.
pub(crate) fn policy_at(changes: &[(u64, TrackerPolicy)], ts: u64) -> Option<&TrackerPolicy> {
    changes
        .iter()
        .rev()
        .find(|(since, _)| *since <= ts)
        .map(|(_, p)| p)
        .filter(|p| !p.is_all())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(pid: i32, uid: u32, vuid: u32) -> TaskValues {
        let mut v = TaskValues {
            pid,
            vpid: 1,
            ..TaskValues::default()
        };
        v.ids[0] = uid;
        v.vids[0] = vuid;
        v
    }

    #[test]
    fn every_set_tracker_must_include_the_task() {
        let mut p = TrackerPolicy::default();
        assert!(p.is_all() && p.tracks(&task(5, 0, 0)));
        p.set(TrackedAttr::Pid, Some([5, 6].into_iter().collect()));
        assert!(p.tracks(&task(5, 0, 0)));
        assert!(!p.tracks(&task(7, 0, 0)));
        p.set(TrackedAttr::Vuid, Some([0].into_iter().collect()));
        assert!(p.tracks(&task(6, 1234, 0)));
        assert!(!p.tracks(&task(6, 1234, 1234)));
        p.set(TrackedAttr::Uid, Some(BTreeSet::new()));
        assert!(!p.tracks(&task(5, 0, 0)), "an empty set tracks nothing");
    }

    #[test]
    fn records_take_the_policy_of_their_time() {
        let t = KernelTrackers::default();
        let mut only5 = TrackerPolicy::default();
        only5.set(TrackedAttr::Pid, Some([5].into_iter().collect()));
        t.change(100, only5.clone());
        t.change(200, TrackerPolicy::default());
        let c = t.snapshot();
        assert_eq!(policy_at(&c, 50), None);
        assert_eq!(policy_at(&c, 100), Some(&only5));
        assert_eq!(policy_at(&c, 199), Some(&only5));
        assert_eq!(policy_at(&c, 200), None);
        assert!(t.ever_set());
    }
}
