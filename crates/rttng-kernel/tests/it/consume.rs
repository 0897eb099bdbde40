//! The consumer's side against real tracefs: a session created for a user (the daemon's
//! way) is drained by `ChannelDrain` in this process; its packets, written as stream files
//! with their index and the metadata `KernelMetadata` hands out (the base at the first
//! start, an event enabled after it appended), are a trace babeltrace2 reads whole, with
//! this thread's marked system calls; the pass counts what it converted.

use std::io::Write;

use rttng_ctf::index::{encode_index, IndexEntry, IndexVersion};
use rttng_kernel::{
    context_name, ChannelConfig, ChannelDrain, ClockSpec, Context, KernelMetadata, KernelSession,
    Syscalls, Tracefs,
};

use crate::sessions::{babeltrace, my_tid, TempDir};

/// `getpriority(PRIO_PROCESS, who)`, `n` times (each fails: `who` is no process).
fn marked(who: i64, n: usize) {
    for _ in 0..n {
        // SAFETY: getpriority takes two integers and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_getpriority, 0i64, who) };
    }
}

#[test]
fn a_consumer_drain_writes_a_trace_with_metadata_appended_for_later_events() {
    let _serial = crate::serial();
    let dir = TempDir::new("consume");
    let out = dir.0.join("kernel");
    std::fs::create_dir_all(out.join("index")).unwrap();
    let clock = ClockSpec::shared();
    let mut ks = KernelSession::create_for_user(
        "consume",
        4242,
        &dir.0,
        ChannelConfig {
            name: "kc".into(),
            subbuf_bytes: 65536,
            subbuf_count: 4,
            overwrite: false,
        },
        clock.clone(),
    )
    .unwrap();
    ks.filter_pids(&[my_tid()], false).unwrap();
    ks.enable_syscalls("kc", &Syscalls::Names(vec!["getpriority".into()]))
        .unwrap();
    ks.add_context("kc", Context::Tid).unwrap();
    let (instance, events, contexts) = ks.channel_plan("kc").unwrap();
    assert!(instance.contains("-u4242-consume-kc"), "{instance}");
    assert_eq!(
        contexts
            .iter()
            .map(|c| context_name(*c))
            .collect::<Vec<_>>(),
        ["tid"]
    );
    let mut drain = ChannelDrain::open(&instance, 0, 65536, 4).unwrap();
    drain.set_events(&events, &contexts).unwrap();
    // An event list that does not extend the known one is refused.
    assert!(drain.set_events(&events[..1], &contexts).is_err());
    let mut md = KernelMetadata::new("consume", &clock);
    let mut text = md.declare(&[&drain]);
    drain.declared(&md);
    ks.start().unwrap();
    marked(987_650_041, 100);
    // Enabled while tracing: its class is appended to the metadata.
    ks.enable_syscalls("kc", &Syscalls::Names(vec!["getppid".into()]))
        .unwrap();
    let (_, events, _) = ks.channel_plan("kc").unwrap();
    drain.set_events(&events, &contexts).unwrap();
    let added = md.add_events(&drain).unwrap();
    assert!(added.contains("syscall_entry_getppid"), "{added}");
    text.push_str(&added);
    for _ in 0..50 {
        // SAFETY: getppid takes no argument.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    ks.stop().unwrap();
    let cpus = drain.cpus();
    let mut files: Vec<(std::fs::File, u64, Vec<IndexEntry>)> = cpus
        .iter()
        .map(|c| {
            (
                std::fs::File::create(out.join(format!("kc_{c}"))).unwrap(),
                0,
                Vec::new(),
            )
        })
        .collect();
    let mut events_converted = 0;
    for i in 0..cpus.len() {
        let s = drain
            .pass(i, true, &mut |cpu, data, entry| {
                let f = &mut files[cpu as usize];
                f.0.write_all(data).unwrap();
                f.2.push(IndexEntry {
                    offset_bytes: f.1,
                    ..*entry
                });
                f.1 += data.len() as u64;
            })
            .unwrap();
        events_converted += s.events;
    }
    for (c, f) in cpus.iter().zip(&files) {
        std::fs::write(
            out.join(format!("index/kc_{c}.idx")),
            encode_index(&f.2, IndexVersion::V1_1),
        )
        .unwrap();
    }
    std::fs::write(
        out.join("metadata"),
        rttng_ctf::emit::packetize_metadata(
            &text,
            md.uuid(),
            rttng_ctf::ir::ByteOrder::NATIVE,
            4096,
        ),
    )
    .unwrap();
    assert_eq!(drain.events_discarded(), 0);
    let bt = babeltrace(&out);
    let count = |what: &str| bt.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("who = 987650041"), 100, "{bt}");
    assert_eq!(count("syscall_exit_getpriority:"), 100);
    assert_eq!(count("syscall_entry_getppid:"), 50);
    assert_eq!(count("syscall_exit_getppid:"), 50);
    assert_eq!(events_converted, 300);
    let tid = format!("tid = {}", my_tid());
    assert!(bt.lines().all(|l| l.contains(&tid)), "{bt}");
    drop(drain);
    ks.destroy().unwrap();
    assert!(
        !Tracefs::open()
            .unwrap()
            .rttng_instances()
            .unwrap()
            .iter()
            .any(|n| n == &instance),
        "instance left"
    );
}
