//! Sessions against real tracefs: exact event counts for system calls, tracepoints and
//! wildcards from a workload the test runs itself; babeltrace2 reads the trace; destroy leaves
//! nothing behind; `--function`/`--probe` explain why they are unavailable.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use rttng_kernel::Tracefs;
use rttng_kernel::{ChannelConfig, Context, KernelSession, Syscalls};

pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "rttng-kernel-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// This thread's kernel id (what tracefs's pid filter compares with).
pub(crate) fn my_tid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .expect("tid")
}

/// babeltrace2's text of a trace; fails the test on any error output or status.
pub(crate) fn babeltrace(dir: &Path) -> String {
    let out = Command::new("babeltrace2")
        .arg(dir)
        .output()
        .expect("babeltrace2 runs (apt-get install babeltrace2)");
    assert!(
        out.status.success(),
        "babeltrace2 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "babeltrace2 warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

pub(crate) fn instance_present(names: &[String]) -> bool {
    let tfs = Tracefs::open().expect("tracefs");
    let present = tfs.rttng_instances().expect("list instances");
    names.iter().any(|n| present.contains(n))
}

#[test]
fn syscalls_by_name_record_exactly_the_calls_made() {
    let _serial = crate::serial();
    let out = TempDir::new("sys");
    let mut s = KernelSession::create("sys", &out.0, ChannelConfig::default()).expect("session");
    let enabled = s
        .enable_syscalls("channel0", &Syscalls::Names(vec!["getppid".into()]))
        .expect("enable");
    assert_eq!(enabled, vec!["getppid".to_string()]);
    s.add_context("channel0", Context::Tid).expect("context");
    let tid = my_tid();
    s.filter_pids(&[tid], false).expect("pid filter");
    s.start().expect("start");
    let mut parent = 0;
    for _ in 0..1000 {
        parent = std::os::unix::process::parent_id();
    }
    let report = s.stop().expect("stop");
    let names = s.instance_names();
    s.destroy().expect("destroy");
    assert!(!instance_present(&names), "instance left after destroy");
    assert_eq!(report.events_written, 2000);
    assert_eq!(report.events_discarded, 0);
    let text = babeltrace(&out.0.join("kernel"));
    assert_eq!(count(&text, "syscall_entry_getppid:"), 1000);
    assert_eq!(count(&text, "syscall_exit_getppid: { cpu_id = "), 1000);
    assert_eq!(
        count(&text, &format!("{{ tid = {tid} }}, {{ ret = {parent} }}")),
        1000,
        "exit events carry ret"
    );
    assert_eq!(text.lines().count(), 2000, "nothing else recorded");
}

#[test]
fn tracepoints_and_wildcards_record_exactly_the_workload() {
    let _serial = crate::serial();
    let out = TempDir::new("tp");
    let mut s = KernelSession::create("tp", &out.0, ChannelConfig::default()).expect("session");
    let enabled: BTreeSet<String> = s
        .enable_tracepoints("channel0", "sched_process_*")
        .expect("wildcard")
        .into_iter()
        .collect();
    let tfs = Tracefs::open().expect("tracefs");
    let expected: BTreeSet<String> = tfs
        .available_events()
        .expect("events")
        .into_iter()
        .filter(|(sys, e)| sys == "sched" && e.starts_with("sched_process_"))
        .map(|(sys, e)| format!("{sys}:{e}"))
        .collect();
    assert_eq!(
        enabled, expected,
        "the wildcard enables exactly the matching tracepoints"
    );
    s.enable_tracepoints("channel0", "sched:sched_switch")
        .expect("by ftrace name");
    s.filter_pids(&[my_tid()], true)
        .expect("pid filter following children");
    s.start().expect("start");
    for _ in 0..3 {
        let st = Command::new("/bin/true").status().expect("run true");
        assert!(st.success());
    }
    s.stop().expect("stop");
    let names = s.instance_names();
    s.destroy().expect("destroy");
    assert!(!instance_present(&names));
    let text = babeltrace(&out.0.join("kernel"));
    assert_eq!(count(&text, " sched_process_fork:"), 3, "{text}");
    assert_eq!(count(&text, " sched_process_exec:"), 3);
    assert_eq!(
        count(&text, "filename = \"/bin/true\""),
        3,
        "exec filename from the __data_loc string"
    );
    assert_eq!(count(&text, " sched_process_exit:"), 3);
    // lttng-modules naming of thread ids.
    assert!(text.contains("child_tid = "), "{text}");
    assert!(text.contains("old_tid = "), "{text}");
}

#[test]
fn contexts_channels_and_overwrite_mode() {
    let _serial = crate::serial();
    let out = TempDir::new("ctx");
    let cfg = ChannelConfig {
        name: "big".into(),
        subbuf_bytes: 64 * 1024,
        subbuf_count: 2,
        overwrite: true,
    };
    let mut s = KernelSession::create("ctx", &out.0, cfg).expect("session");
    s.add_channel(ChannelConfig {
        name: "other".into(),
        ..ChannelConfig::default()
    })
    .expect("second channel");
    assert!(s
        .add_channel(ChannelConfig {
            name: "other".into(),
            ..ChannelConfig::default()
        })
        .is_err());
    s.enable_syscalls("big", &Syscalls::Names(vec!["getppid".into()]))
        .expect("enable");
    s.enable_syscalls("other", &Syscalls::Names(vec!["getpid".into()]))
        .expect("enable");
    for c in [
        Context::Pid,
        Context::Tid,
        Context::Procname,
        Context::CpuId,
    ] {
        s.add_context("big", c).expect("context");
    }
    assert!(
        s.add_context("big", Context::Prio).is_err(),
        "prio is refused with a reason"
    );
    let names = s.instance_names();
    let tfs = Tracefs::open().expect("tracefs");
    let inst = tfs.path("instances").join(&names[0]);
    // The kernel rounds the 2 × 64 KiB asked for up to whole pages of 4080 data bytes.
    let kb: u64 = std::fs::read_to_string(inst.join("buffer_size_kb"))
        .expect("size")
        .trim()
        .parse()
        .expect("number");
    assert!((128..=136).contains(&kb), "buffer_size_kb {kb}");
    assert_eq!(
        std::fs::read_to_string(inst.join("options/overwrite"))
            .expect("overwrite")
            .trim(),
        "1"
    );
    let clock = rttng_kernel::ClockSpec::shared().trace_clock;
    assert!(std::fs::read_to_string(inst.join("trace_clock"))
        .expect("clock")
        .contains(&format!("[{clock}]")));
    s.filter_pids(&[my_tid()], false).expect("pid filter");
    s.start().expect("start");
    let _ = std::os::unix::process::parent_id();
    let _ = std::process::id();
    s.stop().expect("stop");
    s.destroy().expect("destroy");
    assert!(!instance_present(&names));
    let text = babeltrace(&out.0.join("kernel"));
    let pid = std::process::id();
    let tid = my_tid();
    assert_eq!(
        count(&text, &format!("{{ pid = {pid}, tid = {tid}, procname = ")),
        2,
        "{text}"
    );
    assert_eq!(count(&text, "syscall_entry_getpid:"), 1, "{text}");
    assert!(out.0.join("kernel/big_0").is_file() && out.0.join("kernel/other_0").is_file());
    assert!(out.0.join("kernel/index/big_0.idx").is_file());
}

#[test]
fn function_and_probe_refusals_explain_themselves() {
    let _serial = crate::serial();
    let tfs = Tracefs::open().expect("tracefs");
    // On the test kernels both are unavailable; each refusal says why in words.
    if !tfs.path("kprobe_events").exists() {
        let e = rttng_kernel::check_kprobes(&tfs)
            .expect_err("no kprobes")
            .to_string();
        assert!(e.contains("kprobe"), "{e}");
    }
    if let Err(e) = rttng_kernel::check_function_tracing(&tfs) {
        let e = e.to_string();
        assert!(e.starts_with("--function is unavailable: "), "{e}");
    }
}

#[test]
fn unknown_names_are_errors() {
    let _serial = crate::serial();
    let out = TempDir::new("bad");
    let mut s = KernelSession::create("bad", &out.0, ChannelConfig::default()).expect("session");
    assert!(s
        .enable_tracepoints("channel0", "no_such_event_xyz")
        .is_err());
    assert!(s
        .enable_syscalls("channel0", &Syscalls::Names(vec!["no_such_call".into()]))
        .is_err());
    assert!(s.enable_tracepoints("nochannel", "sched_switch").is_err());
    assert!(KernelSession::create("bad/name", &out.0, ChannelConfig::default()).is_err());
    let names = s.instance_names();
    drop(s);
    assert!(
        !instance_present(&names),
        "dropping a session removes its instance"
    );
}
