//! `--filter` on real tracepoints: one session, one channel recording every
//! `sched_process_exec` of the test's children and one channel per filter; each filtered
//! channel must hold exactly the events of the unfiltered one that rttng-filter's own
//! evaluation keeps (the LTTng semantics, checked against LTTng-UST elsewhere). Filters
//! that tracefs cannot express exactly are refused with the reason; a filter naming a field
//! the event lacks enables nothing (LTTng records nothing of it). Every instance is removed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use rttng_filter::{Event, FieldType, Reference, Root, Schema, Value};
use rttng_kernel::{ChannelConfig, KernelError, KernelSession};

use crate::sessions::{babeltrace, instance_present, TempDir};

const FILTERS: [&str; 4] = [
    "filename == \"*true\"",
    "tid & 1 || filename == \"/bin/ech*\"",
    "old_tid >= 0 && filename != \"*e\" && tid != 1",
    "!(tid > 0) || filename == \"/bin/t*e\" && 1",
];
const EXECS: usize = 24;

/// One `sched_process_exec` as babeltrace2 prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Exec {
    tid: i64,
    old_tid: i64,
    filename: String,
}

fn parse(text: &str) -> Vec<Exec> {
    let int = |l: &str, k: &str| -> i64 {
        l.split(&format!(" {k} = "))
            .nth(1)
            .and_then(|r| r.split([',', ' ']).next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in {l}"))
    };
    text.lines()
        .filter(|l| l.contains(" sched_process_exec: "))
        .map(|l| Exec {
            tid: int(l, "tid"),
            old_tid: int(l, "old_tid"),
            filename: l
                .split("filename = \"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("no filename in {l}"))
                .to_string(),
        })
        .collect()
}

struct ExecSchema;
impl Schema for ExecSchema {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        match (r.root, r.simple_name()?) {
            (Root::Payload, "filename") => Some((0, FieldType::Str)),
            (Root::Payload, "tid") => Some((1, FieldType::Int)),
            (Root::Payload, "old_tid") => Some((2, FieldType::Int)),
            _ => None,
        }
    }
}
impl Event for Exec {
    fn value(&self, slot: u16) -> Value<'_> {
        match slot {
            0 => Value::Str(self.filename.as_bytes()),
            1 => Value::Int(self.tid),
            2 => Value::Int(self.old_tid),
            _ => Value::Absent,
        }
    }
}

/// The events of one channel: the trace's metadata with that channel's stream files only.
fn channel_events(trace: &Path, channel: &str, scratch: &Path) -> Vec<Exec> {
    let dir = scratch.join(channel);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(trace.join("metadata"), dir.join("metadata")).unwrap();
    for e in std::fs::read_dir(trace).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name
            .strip_prefix(channel)
            .is_some_and(|r| r.starts_with('_'))
        {
            std::fs::copy(e.path(), dir.join(&name)).unwrap();
        }
    }
    parse(&babeltrace(&dir))
}

#[test]
fn kernel_filters_keep_exactly_what_lttng_semantics_keep() {
    let _serial = crate::serial();
    let out = TempDir::new("filter");
    let cfg = |name: &str| ChannelConfig {
        name: name.into(),
        ..ChannelConfig::default()
    };
    let mut s = KernelSession::create("filt", &out.0, cfg("all")).expect("session");
    s.enable_tracepoints("all", "sched_process_exec")
        .expect("enable");
    for (k, f) in FILTERS.iter().enumerate() {
        let ch = format!("f{k}");
        s.add_channel(cfg(&ch)).expect("channel");
        let program = rttng_filter::compile(f).unwrap();
        let enabled = s
            .enable_tracepoints_filtered(&ch, "sched_process_exec", &program)
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(enabled, ["sched:sched_process_exec"], "{f}");
    }
    // Refused: the reason is given and nothing is enabled.
    s.add_channel(cfg("refused")).expect("channel");
    let shift = rttng_filter::compile("prev_tid << 1 == 2").unwrap();
    match s.enable_tracepoints_filtered("refused", "sched_switch", &shift) {
        Err(KernelError::Filter(e)) => assert!(e.reason.contains("no tracefs equivalent"), "{e}"),
        other => panic!("{other:?}"),
    }
    // A field the event lacks: LTTng records none of it, so nothing is enabled.
    let missing = rttng_filter::compile("nosuch == 1 || 1").unwrap();
    let none = s
        .enable_tracepoints_filtered("refused", "sched_process_exec", &missing)
        .expect("accepted");
    assert!(none.is_empty(), "{none:?}");

    // tracefs follows the forks of this thread (children of the test's thread).
    s.filter_pids(&[crate::sessions::my_tid()], true)
        .expect("pid filter");
    s.start().expect("start");
    for i in 0..EXECS {
        let prog = if i % 3 == 0 { "/bin/echo" } else { "/bin/true" };
        let status = Command::new(prog)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("spawn");
        assert!(status.success());
    }
    let report = s.stop().expect("stop");
    let names = s.instance_names();
    s.destroy().expect("destroy");
    assert!(!instance_present(&names), "instance left after destroy");
    assert_eq!(report.events_discarded, 0);

    let scratch = TempDir::new("filter-read");
    let trace = out.0.join("kernel");
    let all = channel_events(&trace, "all", &scratch.0);
    assert_eq!(all.len(), EXECS, "every exec of the children: {all:?}");
    assert!(channel_events(&trace, "refused", &scratch.0).is_empty());
    for (k, f) in FILTERS.iter().enumerate() {
        let filter = rttng_filter::compile(f).unwrap().bind(&ExecSchema);
        let want: BTreeSet<Exec> = all.iter().filter(|e| filter.matches(*e)).cloned().collect();
        let got: BTreeSet<Exec> = channel_events(&trace, &format!("f{k}"), &scratch.0)
            .into_iter()
            .collect();
        assert!(
            !want.is_empty() && want.len() < EXECS || k == 2,
            "{f} selects something, not all"
        );
        assert_eq!(got, want, "{f}");
    }
}
