//! Unit tests of the state machine with a recording [`Port`].

use super::*;
use rttng_ctf::ir::{sint_class, struct_class};
use rttng_ctf::ir::{ByteOrder, FieldClass, StructClass};

mod later;

#[derive(Default)]
struct Rec {
    consumer: Vec<ConsumerRequest>,
    app: Vec<(AppId, AppCommand, Option<u64>)>,
    uuids: u8,
    consumer_down: bool,
    kernel: Vec<(u64, KernelOp)>,
}

impl Port for Rec {
    fn consumer(&mut self, req: ConsumerRequest) -> Result<ConsumerReply, String> {
        if self.consumer_down {
            return Err("consumer exited".into());
        }
        let stats = matches!(req, ConsumerRequest::Stats { .. });
        let relay = matches!(req, ConsumerRequest::OpenRelay { .. });
        self.consumer.push(req);
        Ok(if relay {
            ConsumerReply::RelayOpened {
                relay_session_id: 1,
                output_path: "host/s".into(),
            }
        } else if stats {
            ConsumerReply::Stats {
                events_discarded: 2,
                packets_lost: 1,
                packets_written: 5,
                events_lost: 3,
            }
        } else {
            ConsumerReply::Ok
        })
    }
    fn app(
        &mut self,
        app: AppId,
        cmd: AppCommand,
        buffer: Option<u64>,
    ) -> Result<Option<AppReply>, String> {
        self.app.push((app, cmd, buffer));
        Ok(Some(AppReply::Ok {
            context_class: None,
        }))
    }
    fn new_uuid(&mut self) -> [u8; 16] {
        self.uuids += 1;
        [self.uuids; 16]
    }
    fn kernel(&mut self, session_id: u64, op: KernelOp) -> Result<KernelReply, String> {
        self.kernel.push((session_id, op.clone()));
        Ok(if op == KernelOp::Stop {
            KernelReply::Stopped {
                events_discarded: 9,
            }
        } else {
            KernelReply::Ok
        })
    }
}

fn host() -> Host {
    Host {
        home: "/home/u".into(),
        hostname: "h".into(),
        cpu_count: 2,
        kernel: true,
    }
}

fn now() -> Clock {
    Clock {
        compact: "20260101-120000".into(),
        iso: "20260101T120000+0000".into(),
        epoch_s: 1_767_268_800,
    }
}

fn hello(pid: u32, uid: u32, events: &[(&str, i32)]) -> AppHello {
    AppHello {
        pid,
        uid,
        procname: "app".into(),
        bitness: 64,
        clock: ClockDesc {
            name: "monotonic".into(),
            description: "Monotonic Clock".into(),
            freq: 1_000_000_000,
            offset_s: 0,
            offset: 0,
            precision: 0,
            uuid: None,
            absolute: false,
        },
        events: events
            .iter()
            .enumerate()
            .map(|(i, (n, l))| EventDesc {
                index: i as u32,
                name: n.to_string(),
                loglevel: *l,
                fields: struct_class(
                    vec![(
                        "_x",
                        FieldClass::Integer(sint_class(32, 8, ByteOrder::Little)),
                    )],
                    1,
                ),
            })
            .collect(),
    }
}

fn ok(r: &Outcome) {
    assert!(
        matches!(r.response, Response::Ok | Response::SessionCreated { .. }),
        "{:?}",
        r.response
    );
}

fn enabled(rec: &Rec) -> Vec<u32> {
    let mut v: Vec<u32> = rec
        .app
        .iter()
        .filter_map(|(_, c, _)| match c {
            AppCommand::Enable { event_index, .. } => Some(*event_index),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn rule(p: &str, l: LoglevelRule, x: &[&str]) -> EventRule {
    EventRule {
        pattern: p.into(),
        loglevel: l,
        exclusions: x.iter().map(|s| s.to_string()).collect(),
        syscall: false,
    }
}

/// Creates session `name` (default output) as uid 1000, which must succeed.
fn create(r: &mut Registry, p: &mut Rec, name: &str) {
    ok(&create_as(r, p, Some(name), 1000));
}

/// Creates a session (`name`: `None` for an automatic one) with the default output, as `uid`.
fn create_as(r: &mut Registry, p: &mut Rec, name: Option<&str>, uid: u32) -> Outcome {
    r.handle(
        Request::CreateSession {
            name: name.map(Into::into),
            output: None,
            live_timer_us: 0,
        },
        uid,
        &now(),
        p,
    )
}

/// A registry and its recording port, with session `s` created (default output) as uid 1000.
fn registry_with_s() -> (Registry, Rec) {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    create(&mut r, &mut p, "s");
    (r, p)
}

/// App 7 (pid 70, uid 1000) registers, declaring `events`.
fn register_app7(r: &mut Registry, p: &mut Rec, events: &[(&str, i32)]) {
    r.app_registered(7, hello(70, 1000, events), &now(), p)
        .unwrap();
}

/// Handles `req` as uid 1000.
fn handle(r: &mut Registry, p: &mut Rec, req: Request) -> Outcome {
    r.handle(req, 1000, &now(), p)
}

/// The request was refused with `code`.
fn assert_error(o: &Outcome, code: ErrorCode) {
    assert!(
        matches!(&o.response, Response::Error { code: c, .. } if *c == code),
        "expected {code:?}: {:?}",
        o.response
    );
}

/// Starts session `name` as uid 1000, which must succeed.
fn start(r: &mut Registry, p: &mut Rec, name: &str) {
    ok(&handle(
        r,
        p,
        Request::Start {
            session: name.into(),
        },
    ));
}

fn ev(r: &mut Registry, p: &mut Rec, session: &str, rule: EventRule) -> Outcome {
    r.handle(
        Request::EnableEvent {
            session: session.into(),
            domain: Domain::Ust,
            channel: None,
            rule,
        },
        1000,
        &now(),
        p,
    )
}

#[test]
fn create_names_and_default_output() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    let o = create_as(&mut r, &mut p, Some("s"), 1000);
    assert_eq!(
        o.response,
        Response::SessionCreated {
            name: "s".into(),
            output: "/home/u/rttng-traces/s-20260101-120000".into()
        }
    );
    let o = create_as(&mut r, &mut p, None, 1000);
    assert_eq!(
        o.response,
        Response::SessionCreated {
            name: "auto-20260101-120000".into(),
            output: "/home/u/rttng-traces/auto-20260101-120000".into()
        }
    );
    let o = create_as(&mut r, &mut p, Some("s"), 1000);
    assert_error(&o, ErrorCode::SessionExists);
    let o = create_as(&mut r, &mut p, Some("a/b"), 1000);
    assert_error(&o, ErrorCode::InvalidArgument);
}

#[test]
fn other_users_sessions_are_invisible() {
    let (mut r, mut p) = registry_with_s();
    ok(&ev(&mut r, &mut p, "s", rule("*", LoglevelRule::All, &[])));
    let o = r.handle(
        Request::Start {
            session: "s".into(),
        },
        1001,
        &now(),
        &mut p,
    );
    assert_error(&o, ErrorCode::NoSession);
    let o = r.handle(Request::ListSessions, 1001, &now(), &mut p);
    assert_eq!(o.response, Response::Sessions { list: vec![] });
    ok(&r.handle(
        Request::Start {
            session: "s".into(),
        },
        0,
        &now(),
        &mut p,
    ));
}

#[test]
fn session_names_are_per_user_and_sessions_are_limited_per_user() {
    let (mut r, mut p) = registry_with_s();
    // Another user can neither learn that "s" exists nor be kept from the name.
    ok(&create_as(&mut r, &mut p, Some("s"), 1001));
    let start_as = |r: &mut Registry, p: &mut Rec, uid| {
        r.handle(
            Request::Start {
                session: "s".into(),
            },
            uid,
            &now(),
            p,
        )
    };
    for uid in [1000, 1001] {
        ok(&r.handle(
            Request::EnableEvent {
                session: "s".into(),
                domain: Domain::Ust,
                channel: None,
                rule: rule("*", LoglevelRule::All, &[]),
            },
            uid,
            &now(),
            &mut p,
        ));
    }
    ok(&start_as(&mut r, &mut p, 1001));
    // Each user's "s" is their own: 1000's is still stopped.
    ok(&start_as(&mut r, &mut p, 1000));
    // Root reaches a user's session by name only when it is unambiguous.
    let o = start_as(&mut r, &mut p, 0);
    assert!(
        matches!(&o.response, Response::Error { message, .. } if message.contains("several users")),
        "{:?}",
        o.response
    );
    // One user's sessions stop at the per-user limit; root can still create.
    for i in 0..MAX_SESSIONS_PER_UID {
        ok(&create_as(&mut r, &mut p, Some(&format!("x{i}")), 1002));
    }
    let o = create_as(&mut r, &mut p, Some("one-too-many"), 1002);
    assert!(
        matches!(o.response, Response::Error { .. }),
        "{:?}",
        o.response
    );
    ok(&create_as(&mut r, &mut p, Some("root"), 0));
    ok(&create_as(&mut r, &mut p, Some("x1"), 1003));
}

#[test]
fn rules_select_exactly_and_order_does_not_matter() {
    let events = [("p:a", 6), ("p:b", 3), ("p:debug", 14), ("q:a", 6)];
    // Rules first, then the app.
    let (mut r, mut p) = registry_with_s();
    ok(&ev(
        &mut r,
        &mut p,
        "s",
        rule("p:*", LoglevelRule::AtLeast { level: 6 }, &["p:b"]),
    ));
    start(&mut r, &mut p, "s");
    r.app_registered(7, hello(70, 1000, &events), &now(), &mut p)
        .unwrap();
    assert_eq!(enabled(&p), vec![0]);
    // The buffer was created before the install that carries its fd.
    let add = p
        .consumer
        .iter()
        .position(|c| matches!(c, ConsumerRequest::AddBuffer { .. }))
        .unwrap();
    let spec = match &p.consumer[add] {
        ConsumerRequest::AddBuffer { spec } => spec.clone(),
        _ => unreachable!(),
    };
    assert_eq!(
        spec.trace_dir,
        "/home/u/rttng-traces/s-20260101-120000/ust/uid/1000/64-bit"
    );
    assert_eq!(
        (spec.subbuf_bytes, spec.subbuf_count, spec.cpu_count),
        (524_288, 4, 2)
    );
    let install = p
        .app
        .iter()
        .find(|(_, c, _)| matches!(c, AppCommand::InstallChannel { .. }))
        .unwrap();
    assert_eq!(install.2, Some(spec.buffer_id));
    // Exact log level.
    ok(&ev(
        &mut r,
        &mut p,
        "s",
        rule("*", LoglevelRule::Exactly { level: 14 }, &[]),
    ));
    assert_eq!(enabled(&p), vec![0, 2]);
    // The app first, then rules.
    let mut r2 = Registry::new(host());
    let mut p2 = Rec::default();
    r2.app_registered(7, hello(70, 1000, &events), &now(), &mut p2)
        .unwrap();
    create(&mut r2, &mut p2, "s");
    // Channels cannot be created after the first start (lttng's rule), rules can.
    ok(&r2.handle(
        Request::EnableChannel {
            session: "s".into(),
            domain: Domain::Ust,
            channel: "channel0".into(),
            attrs: ChannelAttrs::default(),
        },
        1000,
        &now(),
        &mut p2,
    ));
    ok(&r2.handle(
        Request::Start {
            session: "s".into(),
        },
        1000,
        &now(),
        &mut p2,
    ));
    ok(&ev(
        &mut r2,
        &mut p2,
        "s",
        rule("p:*", LoglevelRule::AtLeast { level: 6 }, &["p:b"]),
    ));
    ok(&ev(
        &mut r2,
        &mut p2,
        "s",
        rule("*", LoglevelRule::Exactly { level: 14 }, &[]),
    ));
    assert_eq!(enabled(&p2), vec![0, 2]);
}

#[test]
fn disable_and_stop_disable_events_and_flush() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    register_app7(&mut r, &mut p, &[("p:a", 6), ("p:b", 6)]);
    create(&mut r, &mut p, "s");
    ok(&ev(
        &mut r,
        &mut p,
        "s",
        rule("p:a", LoglevelRule::All, &[]),
    ));
    ok(&ev(
        &mut r,
        &mut p,
        "s",
        rule("p:b", LoglevelRule::All, &[]),
    ));
    start(&mut r, &mut p, "s");
    assert_eq!(enabled(&p), vec![0, 1]);
    p.app.clear();
    ok(&handle(
        &mut r,
        &mut p,
        Request::DisableEvent {
            session: "s".into(),
            domain: Domain::Ust,
            channel: None,
            pattern: "p:b".into(),
        },
    ));
    assert!(
        matches!(
            p.app.as_slice(),
            [(7, AppCommand::Disable { event_index: 1, .. }, None)]
        ),
        "{:?}",
        p.app
    );
    p.app.clear();
    ok(&handle(
        &mut r,
        &mut p,
        Request::Stop {
            session: "s".into(),
        },
    ));
    assert!(
        matches!(
            p.app.as_slice(),
            [(7, AppCommand::Disable { event_index: 0, .. }, None)]
        ),
        "{:?}",
        p.app
    );
    assert!(matches!(
        p.consumer.last(),
        Some(ConsumerRequest::Flush { .. })
    ));
    let o = handle(
        &mut r,
        &mut p,
        Request::Stop {
            session: "s".into(),
        },
    );
    assert_error(&o, ErrorCode::AlreadyStopped);
    // Restart re-enables without a new buffer.
    let adds = p
        .consumer
        .iter()
        .filter(|c| matches!(c, ConsumerRequest::AddBuffer { .. }))
        .count();
    start(&mut r, &mut p, "s");
    assert_eq!(
        p.consumer
            .iter()
            .filter(|c| matches!(c, ConsumerRequest::AddBuffer { .. }))
            .count(),
        adds
    );
}

#[test]
fn two_sessions_get_their_own_buffers_and_ids() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    register_app7(&mut r, &mut p, &[("p:a", 6), ("p:b", 6)]);
    for (s, e) in [("s1", "p:a"), ("s2", "p:b")] {
        create(&mut r, &mut p, s);
        ok(&ev(&mut r, &mut p, s, rule(e, LoglevelRule::All, &[])));
        start(&mut r, &mut p, s);
    }
    let en: Vec<(u32, u64, u32)> = p
        .app
        .iter()
        .filter_map(|(_, c, _)| match c {
            AppCommand::Enable {
                event_index,
                key,
                event_class_id,
            } => Some((*event_index, key.session_id, *event_class_id)),
            _ => None,
        })
        .collect();
    assert_eq!(en.len(), 2);
    assert_ne!(en[0].1, en[1].1);
    // Each trace numbers its own events from 0.
    assert_eq!((en[0].2, en[1].2), (0, 0));
    let dirs: BTreeSet<String> = p
        .consumer
        .iter()
        .filter_map(|c| match c {
            ConsumerRequest::AddBuffer { spec } => Some(spec.trace_dir.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(dirs.len(), 2);
}

#[test]
fn per_pid_buffers_are_recovered_and_removed_when_the_app_dies() {
    let (mut r, mut p) = registry_with_s();
    let attrs = ChannelAttrs {
        buffers: Some(Buffers::PerPid),
        ..Default::default()
    };
    ok(&handle(
        &mut r,
        &mut p,
        Request::EnableChannel {
            session: "s".into(),
            domain: Domain::Ust,
            channel: "c".into(),
            attrs,
        },
    ));
    ok(&handle(
        &mut r,
        &mut p,
        Request::EnableEvent {
            session: "s".into(),
            domain: Domain::Ust,
            channel: Some("c".into()),
            rule: rule("*", LoglevelRule::All, &[]),
        },
    ));
    // Rules in a domain without channel0 must name the channel (lttng's
    // LTTNG_ERR_NEED_CHANNEL_NAME).
    let o = ev(&mut r, &mut p, "s", rule("*", LoglevelRule::All, &[]));
    assert_error(&o, ErrorCode::NeedChannelName);
    start(&mut r, &mut p, "s");
    register_app7(&mut r, &mut p, &[("p:a", 6)]);
    let spec = p
        .consumer
        .iter()
        .find_map(|c| match c {
            ConsumerRequest::AddBuffer { spec } => Some(spec.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        spec.trace_dir,
        "/home/u/rttng-traces/s-20260101-120000/ust/pid/app-70-20260101-120000"
    );
    assert_eq!(spec.subbuf_bytes, 16_384);
    let md = p
        .consumer
        .iter()
        .find_map(|c| match c {
            ConsumerRequest::AppendMetadata { text, .. } => Some(text.clone()),
            _ => None,
        })
        .unwrap();
    assert!(md.contains("tracer_buffering_scheme = \"pid\""), "{md}");
    p.consumer.clear();
    r.app_gone(7, &mut p);
    assert_eq!(
        p.consumer,
        vec![
            ConsumerRequest::Recover {
                buffer_id: spec.buffer_id
            },
            ConsumerRequest::RemoveBuffer {
                buffer_id: spec.buffer_id
            }
        ]
    );
}

#[test]
fn per_uid_buffer_is_shared_and_recovered_after_the_last_app() {
    let (mut r, mut p) = registry_with_s();
    ok(&ev(&mut r, &mut p, "s", rule("*", LoglevelRule::All, &[])));
    start(&mut r, &mut p, "s");
    register_app7(&mut r, &mut p, &[("p:a", 6)]);
    r.app_registered(8, hello(80, 1000, &[("p:a", 6)]), &now(), &mut p)
        .unwrap();
    assert_eq!(
        p.consumer
            .iter()
            .filter(|c| matches!(c, ConsumerRequest::AddBuffer { .. }))
            .count(),
        1
    );
    // Same event, same id in both apps, declared once.
    let ids: Vec<u32> = p
        .app
        .iter()
        .filter_map(|(_, c, _)| match c {
            AppCommand::Enable { event_class_id, .. } => Some(*event_class_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![0, 0]);
    p.consumer.clear();
    r.app_gone(7, &mut p);
    assert!(p.consumer.is_empty());
    r.app_gone(8, &mut p);
    assert!(matches!(
        p.consumer.as_slice(),
        [ConsumerRequest::Recover { .. }]
    ));
}

#[test]
fn a_dead_consumer_is_reported() {
    let (mut r, mut p) = registry_with_s();
    ok(&ev(&mut r, &mut p, "s", rule("*", LoglevelRule::All, &[])));
    start(&mut r, &mut p, "s");
    register_app7(&mut r, &mut p, &[("p:a", 6)]);
    p.consumer_down = true;
    let o = handle(
        &mut r,
        &mut p,
        Request::Stop {
            session: "s".into(),
        },
    );
    match o.response {
        Response::Warning { message } => {
            assert!(message.contains("consumer daemon is gone"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let o = handle(
        &mut r,
        &mut p,
        Request::ListSession {
            session: "s".into(),
        },
    );
    let Response::Session { detail } = o.response else {
        panic!()
    };
    assert_eq!(detail.warnings.len(), 1);
}

#[test]
fn attrs_defaults_and_rounding() {
    let a = resolve_attrs(
        Domain::Ust,
        &ChannelAttrs {
            subbuf_size: Some(5000),
            num_subbuf: Some(3),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        (a.subbuf_size, a.num_subbuf, a.buffers),
        (8192, 4, Buffers::PerUid)
    );
    assert!(resolve_attrs(
        Domain::Ust,
        &ChannelAttrs {
            subbuf_size: Some(1024),
            ..Default::default()
        }
    )
    .is_err());
    assert!(resolve_attrs(
        Domain::Ust,
        &ChannelAttrs {
            tracefile_count: Some(2),
            ..Default::default()
        }
    )
    .is_err());
}

#[test]
fn hostile_app_field_names_are_refused() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    let mut h = hello(70, 1000, &[("p:a", 6)]);
    h.events[0].fields = FieldClass::Struct(StructClass {
        members: vec![rttng_ctf::ir::StructMember {
            name: "_x; } evil {".into(),
            class: FieldClass::Integer(sint_class(8, 8, ByteOrder::Little)),
        }],
        min_align_bits: 1,
    });
    assert!(r.app_registered(7, h, &now(), &mut p).is_err());
}

#[test]
fn kernel_domain_drives_the_kernel_port() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    ok(&create_as(&mut r, &mut p, Some("k"), 0));
    let rule = EventRule {
        pattern: "openat".into(),
        loglevel: LoglevelRule::All,
        exclusions: vec![],
        syscall: true,
    };
    ok(&r.handle(
        Request::EnableEvent {
            session: "k".into(),
            domain: Domain::Kernel,
            channel: None,
            rule,
        },
        0,
        &now(),
        &mut p,
    ));
    ok(&r.handle(
        Request::AddContext {
            session: "k".into(),
            domain: Domain::Kernel,
            channel: None,
            context: ContextType::Pid,
        },
        0,
        &now(),
        &mut p,
    ));
    ok(&r.handle(
        Request::Start {
            session: "k".into(),
        },
        0,
        &now(),
        &mut p,
    ));
    ok(&r.handle(
        Request::Stop {
            session: "k".into(),
        },
        0,
        &now(),
        &mut p,
    ));
    let ops: Vec<&KernelOp> = p.kernel.iter().map(|(_, op)| op).collect();
    assert!(
        matches!(ops[0], KernelOp::Create { channel, .. } if channel.name == "channel0" && channel.subbuf_bytes == 1_048_576)
    );
    assert_eq!(
        ops[1],
        &KernelOp::EnableSyscalls {
            channel: "channel0".into(),
            names: vec!["openat".into()]
        }
    );
    assert_eq!(
        ops[2],
        &KernelOp::AddContext {
            channel: "channel0".into(),
            context: ContextType::Pid
        }
    );
    assert_eq!(ops[3..], [&KernelOp::Start, &KernelOp::Stop]);
    let o = r.handle(
        Request::ListSession {
            session: "k".into(),
        },
        0,
        &now(),
        &mut p,
    );
    let Response::Session { detail } = o.response else {
        panic!()
    };
    assert_eq!(detail.channels[0].discarded_events, 9);
    ok(&r.handle(
        Request::DestroySession {
            session: "k".into(),
        },
        0,
        &now(),
        &mut p,
    ));
    assert_eq!(p.kernel.last().map(|(_, op)| op), Some(&KernelOp::Destroy));
    // A user's daemon cannot trace the kernel.
    let mut u = Registry::new(Host {
        kernel: false,
        ..host()
    });
    create(&mut u, &mut p, "k");
    let rule = EventRule {
        pattern: "*".into(),
        loglevel: LoglevelRule::All,
        exclusions: vec![],
        syscall: false,
    };
    let o = u.handle(
        Request::EnableEvent {
            session: "k".into(),
            domain: Domain::Kernel,
            channel: None,
            rule,
        },
        1000,
        &now(),
        &mut p,
    );
    assert!(
        matches!(
            o.response,
            Response::Error {
                code: ErrorCode::KernelUnavailable,
                ..
            }
        ),
        "{:?}",
        o.response
    );
}

fn ev_filter(r: &mut Registry, p: &mut Rec, session: &str, pattern: &str, filter: &str) -> Outcome {
    r.handle(
        Request::EnableEventFilter {
            session: session.into(),
            domain: Domain::Ust,
            channel: None,
            rule: rule(pattern, LoglevelRule::All, &[]),
            filter: filter.into(),
        },
        1000,
        &now(),
        p,
    )
}

/// The commands sent about event `index`, in order, as short names.
fn commands_for(p: &Rec, index: u32) -> Vec<String> {
    p.app
        .iter()
        .filter_map(|(_, c, _)| match c {
            AppCommand::SetFilter {
                event_index,
                programs,
                ..
            } if *event_index == index => Some(format!("filter{}", programs.len())),
            AppCommand::Enable { event_index, .. } if *event_index == index => {
                Some("enable".into())
            }
            AppCommand::Disable { event_index, .. } if *event_index == index => {
                Some("disable".into())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn filters_are_checked_stored_listed_and_sent_before_enable() {
    let (mut r, mut p) = registry_with_s();
    // A client that skipped the check is refused by the daemon, with the position.
    let o = ev_filter(&mut r, &mut p, "s", "a:*", "x == (1");
    match &o.response {
        Response::Error { code, message } => {
            assert_eq!(*code, ErrorCode::InvalidFilter);
            assert!(message.ends_with("at byte 7"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    ok(&ev_filter(&mut r, &mut p, "s", "a:*", "x > 1"));
    ok(&ev_filter(&mut r, &mut p, "s", "a:e", "x < -1"));
    // The same rule and filter again is the same rule.
    ok(&ev_filter(&mut r, &mut p, "s", "a:e", "x < -1"));
    let listed = handle(
        &mut r,
        &mut p,
        Request::ListFilters {
            session: "s".into(),
        },
    );
    let Response::Filters { list } = listed.response else {
        panic!("{:?}", listed.response)
    };
    let texts: Vec<(u32, &str)> = list
        .iter()
        .map(|f| (f.rule_index, f.filter.as_str()))
        .collect();
    assert_eq!(texts, [(0, "x > 1"), (1, "x < -1")]);
    start(&mut r, &mut p, "s");
    register_app7(&mut r, &mut p, &[("a:e", 6), ("a:f", 6)]);
    // a:e matches both filtered rules: two programs, sent before the enable.
    assert_eq!(commands_for(&p, 0), ["filter2", "enable"]);
    assert_eq!(commands_for(&p, 1), ["filter1", "enable"]);
    let programs = p.app.iter().find_map(|(_, c, _)| match c {
        AppCommand::SetFilter {
            event_index: 1,
            programs,
            ..
        } => Some(programs.clone()),
        _ => None,
    });
    let prog = rttng_filter::Program::decode(&programs.unwrap()[0]).unwrap();
    assert_eq!(
        prog.encode(),
        rttng_filter::compile("x > 1").unwrap().encode()
    );
    // An unfiltered rule for a:f lifts its filter (an empty list), without re-enabling.
    ok(&ev(
        &mut r,
        &mut p,
        "s",
        rule("a:f", LoglevelRule::All, &[]),
    ));
    assert_eq!(commands_for(&p, 1), ["filter1", "enable", "filter0"]);
    assert_eq!(commands_for(&p, 0), ["filter2", "enable"]);
}

fn agent_ev(r: &mut Registry, p: &mut Rec, domain: Domain, name: &str, l: LoglevelRule) -> Outcome {
    r.handle(
        Request::EnableEvent {
            session: "s".into(),
            domain,
            channel: None,
            rule: rule(name, l, &[]),
        },
        1000,
        &now(),
        p,
    )
}

#[test]
fn agent_rules_enable_the_agents_tracepoint_with_lttngs_filters() {
    let (mut r, mut p) = registry_with_s();
    ok(&agent_ev(
        &mut r,
        &mut p,
        Domain::Python,
        "my.log",
        LoglevelRule::All,
    ));
    ok(&agent_ev(
        &mut r,
        &mut p,
        Domain::Python,
        "x*",
        LoglevelRule::AtLeast { level: 30 },
    ));
    // Exclusions are refused for agents, as by lttng 2.13.
    let o = handle(
        &mut r,
        &mut p,
        Request::EnableEvent {
            session: "s".into(),
            domain: Domain::Jul,
            channel: None,
            rule: rule("*", LoglevelRule::All, &["a"]),
        },
    );
    assert!(
        matches!(&o.response, Response::Error { message, .. } if message.contains("exclusions are not yet implemented for jul")),
        "{:?}",
        o.response
    );
    // A name that would break out of the filter's string literal is refused.
    assert!(matches!(
        agent_ev(
            &mut r,
            &mut p,
            Domain::Python,
            "a\" || 1 == 1 || \"",
            LoglevelRule::All
        )
        .response,
        Response::Error { .. }
    ));
    let wants: Vec<(Domain, String)> = r
        .agent_wants()
        .into_iter()
        .map(|w| (w.domain, w.name))
        .collect();
    assert_eq!(
        wants,
        [
            (Domain::Python, "my.log".into()),
            (Domain::Python, "x*".into())
        ]
    );
    // list: the agent channel, without its internal rules; the agent rules with filters.
    let Response::Session { detail } = r
        .handle(
            Request::ListSession {
                session: "s".into(),
            },
            1000,
            &now(),
            &mut p,
        )
        .response
    else {
        panic!()
    };
    assert_eq!(detail.channels.len(), 1);
    assert_eq!(detail.channels[0].name, "lttng_python_channel");
    assert!(detail.channels[0].rules.is_empty());
    let Response::AgentRules { list } = r
        .handle(
            Request::ListAgentRules {
                session: "s".into(),
            },
            1000,
            &now(),
            &mut p,
        )
        .response
    else {
        panic!()
    };
    let filters: Vec<&str> = list.iter().map(|a| a.filter.as_str()).collect();
    assert_eq!(
        filters,
        [
            "logger_name == \"my.log\"",
            "(logger_name == \"x*\") && (int_loglevel >= 30)"
        ]
    );
    // An app with the Python agent's tracepoint gets it enabled with both programs.
    start(&mut r, &mut p, "s");
    register_app7(
        &mut r,
        &mut p,
        &[("lttng_python:event", 13), ("other:ev", 13)],
    );
    assert_eq!(commands_for(&p, 0), ["filter2", "enable"]);
    assert!(commands_for(&p, 1).is_empty());
    // Disabling one rule leaves the other's program; disabling both disables the event.
    let dis = |r: &mut Registry, p: &mut Rec, name: &str| {
        r.handle(
            Request::DisableEvent {
                session: "s".into(),
                domain: Domain::Python,
                channel: None,
                pattern: name.into(),
            },
            1000,
            &now(),
            p,
        )
    };
    ok(&dis(&mut r, &mut p, "my.log"));
    assert_eq!(commands_for(&p, 0), ["filter2", "enable", "filter1"]);
    assert_eq!(r.agent_wants().len(), 1);
    ok(&dis(&mut r, &mut p, "x*"));
    assert_eq!(
        commands_for(&p, 0),
        ["filter2", "enable", "filter1", "disable"]
    );
    assert!(r.agent_wants().is_empty());
    assert!(matches!(
        dis(&mut r, &mut p, "nope").response,
        Response::Error {
            code: ErrorCode::NoEvent,
            ..
        }
    ));
}

/// Issue 16: lttng's behaviours a script relies on, at the session level.
#[test]
fn lttng_compatible_channel_creation_empty_start_and_disable_all() {
    let (mut r, mut p) = registry_with_s();
    // Starting a session with no channel is refused and leaves it usable.
    let o = handle(
        &mut r,
        &mut p,
        Request::Start {
            session: "s".into(),
        },
    );
    assert!(
        matches!(
            o.response,
            Response::Error {
                code: ErrorCode::NoChannel,
                ..
            }
        ),
        "{:?}",
        o.response
    );
    // add-context with no channel creates channel0; enable-event -c creates its channel.
    ok(&handle(
        &mut r,
        &mut p,
        Request::AddContext {
            session: "s".into(),
            domain: Domain::Ust,
            channel: None,
            context: ContextType::Vpid,
        },
    ));
    let enable = |r: &mut Registry, p: &mut Rec, ch: &str, pat: &str| {
        r.handle(
            Request::EnableEvent {
                session: "s".into(),
                domain: Domain::Ust,
                channel: Some(ch.into()),
                rule: rule(pat, LoglevelRule::All, &[]),
            },
            1000,
            &now(),
            p,
        )
    };
    ok(&enable(&mut r, &mut p, "new", "p:a"));
    ok(&enable(&mut r, &mut p, "new", "p:*"));
    ok(&enable(&mut r, &mut p, "channel0", "*"));
    let o = handle(
        &mut r,
        &mut p,
        Request::ListSession {
            session: "s".into(),
        },
    );
    let Response::Session { detail } = o.response else {
        panic!("{:?}", o.response)
    };
    let names: Vec<&str> = detail.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["channel0", "new"]);
    assert_eq!(detail.channels[0].contexts, [ContextType::Vpid]);
    // disable-event -a disables every rule of the channel, whatever its pattern.
    ok(&handle(
        &mut r,
        &mut p,
        Request::DisableEventAll {
            session: "s".into(),
            domain: Domain::Ust,
            channel: Some("new".into()),
        },
    ));
    let o = handle(
        &mut r,
        &mut p,
        Request::ListSession {
            session: "s".into(),
        },
    );
    let Response::Session { detail } = o.response else {
        panic!()
    };
    assert!(detail.channels[1].rules.iter().all(|r| !r.enabled));
    assert!(detail.channels[0].rules.iter().all(|r| r.enabled));
    start(&mut r, &mut p, "s");
    let o = handle(
        &mut r,
        &mut p,
        Request::Start {
            session: "s".into(),
        },
    );
    assert_error(&o, ErrorCode::AlreadyStarted);
}

#[test]
fn ust_trackers_select_apps_at_registration_and_at_run_time() {
    let (mut r, mut p) = registry_with_s();
    ok(&ev(&mut r, &mut p, "s", rule("*", LoglevelRule::All, &[])));
    let track = |r: &mut Registry, p: &mut Rec, attr, value, all, add| {
        let req = if add {
            Request::Track {
                session: "s".into(),
                domain: Domain::Ust,
                attr,
                value,
                all,
            }
        } else {
            Request::Untrack {
                session: "s".into(),
                domain: Domain::Ust,
                attr,
                value,
                all,
            }
        };
        r.handle(req, 1000, &now(), p)
    };
    // `-u --pid` is the virtual process ID tracker; a second add is lttng's warning code.
    ok(&track(&mut r, &mut p, ProcessAttr::Pid, 70, false, true));
    let o = track(&mut r, &mut p, ProcessAttr::Vpid, 70, false, true);
    assert_error(&o, ErrorCode::ProcessAttrExists);
    let o = track(&mut r, &mut p, ProcessAttr::Vpid, 5, false, false);
    assert_error(&o, ErrorCode::ProcessAttrMissing);
    start(&mut r, &mut p, "s");
    // App 70 is tracked, app 71 is not: only 70 gets the session's channel.
    r.app_registered_as(7, hello(70, 1000, &[("p:a", 6)]), Some(100), &now(), &mut p)
        .unwrap();
    r.app_registered_as(8, hello(71, 1000, &[("p:a", 6)]), Some(100), &now(), &mut p)
        .unwrap();
    let installs = |p: &Rec, app: AppId| {
        p.app
            .iter()
            .filter(|(a, c, _)| *a == app && matches!(c, AppCommand::InstallChannel { .. }))
            .count()
    };
    assert_eq!(installs(&p, 7), 1);
    assert_eq!(installs(&p, 8), 0);
    // Run-time change: track 71 too; then a group tracker that 100 is not in stops both.
    ok(&track(&mut r, &mut p, ProcessAttr::Vpid, 71, false, true));
    assert_eq!(installs(&p, 8), 1);
    ok(&track(&mut r, &mut p, ProcessAttr::Vgid, 5, false, true));
    let disables = |p: &Rec, app: AppId| {
        p.app
            .iter()
            .filter(|(a, c, _)| *a == app && matches!(c, AppCommand::Disable { .. }))
            .count()
    };
    assert!(disables(&p, 7) >= 1 && disables(&p, 8) >= 1);
    let o = handle(
        &mut r,
        &mut p,
        Request::ListTrackers {
            session: "s".into(),
        },
    );
    let Response::Trackers { list } = o.response else {
        panic!("{:?}", o.response)
    };
    let vpid = list.iter().find(|t| t.attr == ProcessAttr::Vpid).unwrap();
    assert_eq!((vpid.all, vpid.values.clone()), (false, vec![70, 71]));
    assert!(list
        .iter()
        .all(|t| t.domain == Domain::Ust && t.attr != ProcessAttr::Pid));
    // untrack --all: nothing; track --all: everything again.
    ok(&track(&mut r, &mut p, ProcessAttr::Vpid, 0, true, false));
    ok(&track(&mut r, &mut p, ProcessAttr::Vgid, 0, true, true));
    let o = handle(
        &mut r,
        &mut p,
        Request::ListTrackers {
            session: "s".into(),
        },
    );
    let Response::Trackers { list } = o.response else {
        panic!()
    };
    let vpid = list.iter().find(|t| t.attr == ProcessAttr::Vpid).unwrap();
    assert_eq!((vpid.all, vpid.values.len()), (false, 0));
    assert!(
        list.iter()
            .find(|t| t.attr == ProcessAttr::Vgid)
            .unwrap()
            .all
    );
}

fn app_ctx(
    r: &mut Registry,
    p: &mut Rec,
    domain: Domain,
    channel: Option<&str>,
    name: &str,
) -> Outcome {
    r.handle(
        Request::AddAppContext {
            session: "s".into(),
            domain,
            channel: channel.map(String::from),
            name: name.into(),
        },
        1000,
        &now(),
        p,
    )
}

#[test]
fn app_contexts_go_to_channels_and_to_the_domains_agents() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    create(&mut r, &mut p, "s");
    ok(&agent_ev(
        &mut r,
        &mut p,
        Domain::Jul,
        "a.logger",
        LoglevelRule::All,
    ));
    // -j: every user-space channel (here the JUL channel), and the JUL agents.
    ok(&app_ctx(&mut r, &mut p, Domain::Jul, None, "myprov:text"));
    ok(&app_ctx(&mut r, &mut p, Domain::Jul, None, "myprov:text")); // twice: once
    ok(&r.handle(
        Request::AddContext {
            session: "s".into(),
            domain: Domain::Ust,
            channel: None,
            context: ContextType::Vpid,
        },
        1000,
        &now(),
        &mut p,
    ));
    ok(&app_ctx(&mut r, &mut p, Domain::Ust, None, "cprov:n")); // -u: no agent
    assert_eq!(
        r.agent_app_contexts(),
        [AgentAppContext {
            domain: Domain::Jul,
            provider: "myprov".into(),
            name: "text".into(),
        }]
    );
    // Refused: a channel that is not the agent's, a bad name, the kernel and Python
    // domains, and after the first start.
    for (domain, channel, name) in [
        (Domain::Jul, Some("channel0"), "p:n"),
        (Domain::Ust, None, "no-colon"),
        (Domain::Ust, None, ":n"),
        (Domain::Ust, None, "p:"),
        (Domain::Ust, None, "p:a\"b"),
        (Domain::Kernel, None, "p:n"),
        (Domain::Python, None, "p:n"),
    ] {
        let o = app_ctx(&mut r, &mut p, domain, channel, name);
        assert!(
            matches!(o.response, Response::Error { .. }),
            "{domain:?} {channel:?} {name:?}: {:?}",
            o.response
        );
    }
    let long = format!("p:{}", "n".repeat(MAX_APP_CONTEXT_BYTES));
    assert!(matches!(
        app_ctx(&mut r, &mut p, Domain::Ust, None, &long).response,
        Response::Error { .. }
    ));
    // An app gets the channel with its application contexts, in order.
    start(&mut r, &mut p, "s");
    r.app_registered(
        7,
        hello(70, 1000, &[("lttng_jul:event", 13)]),
        &now(),
        &mut p,
    )
    .unwrap();
    let apps: Vec<(Vec<ContextType>, Vec<AppContextAt>)> = p
        .app
        .iter()
        .filter_map(|(_, c, _)| match c {
            AppCommand::InstallChannel {
                app_contexts,
                contexts,
                ..
            } => Some((contexts.clone(), app_contexts.clone())),
            _ => None,
        })
        .collect();
    let at = |position: u32, name: &str| AppContextAt {
        position,
        name: name.into(),
    };
    assert_eq!(
        apps,
        [(
            vec![ContextType::Vpid],
            vec![at(0, "myprov:text"), at(2, "cprov:n")]
        )]
    );
    assert!(matches!(
        app_ctx(&mut r, &mut p, Domain::Ust, None, "late:x").response,
        Response::Error { .. }
    ));
    // The session gone, the agents are told to stop providing it.
    ok(&r.handle(
        Request::DestroySession {
            session: "s".into(),
        },
        1000,
        &now(),
        &mut p,
    ));
    assert!(r.agent_app_contexts().is_empty());
}

/// The first metadata a relayed trace's stream gets declares a stream class (and so the
/// clock its streams use), with the trace's base blocks: live viewers read that stream while
/// it grows, babeltrace2's live client keeps the first metadata it decodes as the trace's
/// class, and a trace header alone (no stream class, hence no clock) makes it abort at the
/// first inactivity beacon of the trace's streams.
#[test]
fn a_relayed_traces_first_metadata_declares_a_stream_class_with_the_base_blocks() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    ok(&handle(
        &mut r,
        &mut p,
        Request::CreateSession {
            name: Some("s".into()),
            output: Some("net://127.0.0.1".into()),
            live_timer_us: 100_000,
        },
    ));
    ok(&ev(&mut r, &mut p, "s", rule("*", LoglevelRule::All, &[])));
    start(&mut r, &mut p, "s");
    register_app7(&mut r, &mut p, &[("p:a", 6)]);
    let texts: Vec<&String> = p
        .consumer
        .iter()
        .filter_map(|c| match c {
            ConsumerRequest::AppendRelayMetadata { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    let first = texts.first().expect("metadata sent to the relay");
    for block in ["trace {", "clock {", "stream {"] {
        assert!(
            first.contains(block),
            "no {block:?} in the first append:\n{first}"
        );
    }
    let all: String = texts.iter().map(|t| t.as_str()).collect();
    assert_eq!(all.matches("trace {").count(), 1, "{all}");
    assert!(all.contains("name = \"p:a\""), "{all}");
}

/// Kernel trackers go to the kernel side whole: those set before the kernel domain exists
/// right after it is created, then each change (an inclusion set, `--all` back to
/// everything, an empty set for `untrack --all`).
#[test]
fn kernel_trackers_are_sent_whole_to_the_kernel_side() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    ok(&create_as(&mut r, &mut p, Some("k"), 0));
    let mut track = |r: &mut Registry, add: bool, attr, value, all| {
        let (session, domain) = ("k".to_string(), Domain::Kernel);
        let req = if add {
            Request::Track {
                session,
                domain,
                attr,
                value,
                all,
            }
        } else {
            Request::Untrack {
                session,
                domain,
                attr,
                value,
                all,
            }
        };
        ok(&r.handle(req, 0, &now(), &mut p));
        std::mem::take(&mut p.kernel)
    };
    // No kernel domain yet: kept, nothing sent.
    assert_eq!(track(&mut r, true, ProcessAttr::Uid, 1000, false), vec![]);
    let rule = EventRule {
        pattern: "sched_switch".into(),
        loglevel: LoglevelRule::All,
        exclusions: vec![],
        syscall: false,
    };
    let mut p2 = Rec::default();
    ok(&r.handle(
        Request::EnableEvent {
            session: "k".into(),
            domain: Domain::Kernel,
            channel: None,
            rule,
        },
        0,
        &now(),
        &mut p2,
    ));
    let info = |attr, values: &[u32]| TrackerInfo {
        domain: Domain::Kernel,
        attr,
        all: false,
        values: values.to_vec(),
    };
    assert!(matches!(p2.kernel[0].1, KernelOp::Create { .. }));
    assert_eq!(
        p2.kernel[1].1,
        KernelOp::Trackers {
            trackers: vec![info(ProcessAttr::Uid, &[1000])]
        }
    );
    let sent = track(&mut r, true, ProcessAttr::Pid, 42, false);
    assert_eq!(
        sent.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>(),
        vec![KernelOp::Trackers {
            trackers: vec![
                info(ProcessAttr::Pid, &[42]),
                info(ProcessAttr::Uid, &[1000])
            ]
        }]
    );
    let sent = track(&mut r, true, ProcessAttr::Uid, 0, true);
    assert_eq!(
        sent[0].1,
        KernelOp::Trackers {
            trackers: vec![info(ProcessAttr::Pid, &[42])]
        }
    );
    let sent = track(&mut r, false, ProcessAttr::Vgid, 0, true);
    assert_eq!(
        sent[0].1,
        KernelOp::Trackers {
            trackers: vec![info(ProcessAttr::Pid, &[42]), info(ProcessAttr::Vgid, &[])]
        }
    );
}

/// lttng-sessiond 2.13's `add_filter_app_ctx`: a new JUL/log4j rule whose filter reads
/// `$app.P:N` has the domain's agents provide the context (once, whatever the rules); a
/// Python rule and a user-space rule do not; the contexts go with the session.
#[test]
fn agent_filters_reading_app_contexts_have_the_agents_provide_them() {
    let mut r = Registry::new(host());
    let mut p = Rec::default();
    create(&mut r, &mut p, "s");
    let filtered = |r: &mut Registry, p: &mut Rec, domain: Domain, name: &str, f: &str| {
        r.handle(
            Request::EnableEventFilter {
                session: "s".into(),
                domain,
                channel: None,
                rule: rule(name, LoglevelRule::All, &[]),
                filter: f.into(),
            },
            1000,
            &now(),
            p,
        )
    };
    // First: a user-space rule (lttng wants -c once the agents' channels exist).
    ok(&filtered(
        &mut r,
        &mut p,
        Domain::Ust,
        "e:*",
        "$app.u:v == 1",
    ));
    ok(&filtered(
        &mut r,
        &mut p,
        Domain::Jul,
        "a",
        "$app.retriever:count > 2 || $app.retriever:name == \"x*\"",
    ));
    ok(&filtered(
        &mut r,
        &mut p,
        Domain::Jul,
        "b",
        "$app.retriever:count == 1 && $ctx.vpid > 0",
    ));
    ok(&filtered(
        &mut r,
        &mut p,
        Domain::Log4j,
        "c",
        "$app.l4:v == 1",
    ));
    ok(&filtered(
        &mut r,
        &mut p,
        Domain::Python,
        "d",
        "$app.py:v == 1",
    ));
    let ctx = |domain, provider: &str, name: &str| AgentAppContext {
        domain,
        provider: provider.into(),
        name: name.into(),
    };
    assert_eq!(
        r.agent_app_contexts(),
        [
            ctx(Domain::Jul, "retriever", "count"),
            ctx(Domain::Jul, "retriever", "name"),
            ctx(Domain::Log4j, "l4", "v"),
        ]
    );
    ok(&r.handle(
        Request::DestroySession {
            session: "s".into(),
        },
        1000,
        &now(),
        &mut p,
    ));
    assert!(r.agent_app_contexts().is_empty());
}
