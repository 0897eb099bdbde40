//! Unit tests of effects answered at once and carried out later (`effects.rs`), with a
//! port that answers apps later and records every effect, as the daemon's does.

use super::*;

#[derive(Default)]
struct Later {
    consumer: Vec<(u64, ConsumerRequest)>,
    app: Vec<(AppId, AppCommand)>,
    kernel: Vec<(u64, KernelOp)>,
}

impl Port for Later {
    fn consumer(&mut self, req: ConsumerRequest) -> Result<ConsumerReply, String> {
        self.consumer_in(0, req)
    }
    fn consumer_in(&mut self, sid: u64, req: ConsumerRequest) -> Result<ConsumerReply, String> {
        self.consumer.push((sid, req));
        Ok(ConsumerReply::Ok)
    }
    fn app(
        &mut self,
        app: AppId,
        cmd: AppCommand,
        _buffer: Option<u64>,
    ) -> Result<Option<AppReply>, String> {
        self.app.push((app, cmd));
        Ok(None)
    }
    fn new_uuid(&mut self) -> [u8; 16] {
        [1; 16]
    }
    fn kernel(&mut self, session_id: u64, op: KernelOp) -> Result<KernelReply, String> {
        self.kernel.push((session_id, op));
        Ok(KernelReply::Ok)
    }
}

fn request(r: &mut Registry, p: &mut Later, req: Request) -> Response {
    r.handle(req, 0, &now(), p).response
}

/// A buffer whose creation failed later is forgotten with the install that waited for it:
/// the app still gets `RegistrationDone`, and the next change creates another buffer.
#[test]
fn a_buffer_that_failed_later_is_forgotten_and_made_again() {
    let mut r = Registry::new(host());
    let mut p = Later::default();
    let created = request(
        &mut r,
        &mut p,
        Request::CreateSession {
            name: Some("s".into()),
            output: None,
            live_timer_us: 0,
        },
    );
    assert!(
        matches!(created, Response::SessionCreated { .. }),
        "{created:?}"
    );
    let all = EventRule {
        pattern: "*".into(),
        loglevel: LoglevelRule::All,
        exclusions: vec![],
        syscall: false,
    };
    let enable = Request::EnableEvent {
        session: "s".into(),
        domain: Domain::Ust,
        channel: None,
        rule: all,
    };
    assert_eq!(request(&mut r, &mut p, enable.clone()), Response::Ok);
    let start = Request::Start {
        session: "s".into(),
    };
    assert_eq!(request(&mut r, &mut p, start), Response::Ok);
    r.app_registered(7, hello(70, 0, &[("p:a", 13)]), &now(), &mut p)
        .unwrap();
    let add = |p: &Later| -> Vec<(u64, ConsumerRequest)> {
        p.consumer
            .iter()
            .filter(|(_, c)| matches!(c, ConsumerRequest::AddBuffer { .. }))
            .cloned()
            .collect()
    };
    let adds = add(&p);
    assert_eq!(adds.len(), 1, "{:?}", p.consumer);
    let (sid, failed) = adds[0].clone();
    assert!(
        !p.app
            .iter()
            .any(|(_, c)| matches!(c, AppCommand::RegistrationDone)),
        "registration done before the install was answered"
    );
    let errs = r.effect_failed(sid, &Effect::Consumer(failed), "disk full", &mut p);
    assert!(errs.iter().any(|e| e.contains("disk full")), "{errs:?}");
    // The install waited for that buffer: dropped, so the registration is done.
    assert!(p
        .app
        .iter()
        .any(|(_, c)| matches!(c, AppCommand::RegistrationDone)));
    // Only RegistrationDone awaits an answer: the daemon drops the install it held.
    assert_eq!(r.app_awaiting(7), 1);
    // The next change tries again with a new buffer.
    let adds_before = add(&p).len();
    let disable = Request::DisableEvent {
        session: "s".into(),
        domain: Domain::Ust,
        channel: None,
        pattern: "*".into(),
    };
    assert_eq!(request(&mut r, &mut p, disable), Response::Ok);
    assert_eq!(request(&mut r, &mut p, enable), Response::Ok);
    let adds = add(&p);
    assert_eq!(adds.len(), adds_before + 1, "{:?}", p.consumer);
    let ConsumerRequest::AddBuffer { spec } = &adds.last().unwrap().1 else {
        panic!()
    };
    let ConsumerRequest::AddBuffer { spec: first } = &adds[0].1 else {
        panic!()
    };
    assert_ne!(spec.buffer_id, first.buffer_id);
}

/// A kernel operation that failed later fails the request: the session goes back to the
/// checkpoint taken just before it (the channel its first operation created stays, the
/// rule of the failed one does not), and the answer is the operation's.
#[test]
fn a_kernel_operation_that_failed_later_puts_the_session_back() {
    let mut r = Registry::new(host());
    let mut p = Later::default();
    let created = request(
        &mut r,
        &mut p,
        Request::CreateSession {
            name: Some("k".into()),
            output: None,
            live_timer_us: 0,
        },
    );
    assert!(matches!(created, Response::SessionCreated { .. }));
    let out = r.handle_deferring(
        Request::EnableEvent {
            session: "k".into(),
            domain: Domain::Kernel,
            channel: None,
            rule: EventRule {
                pattern: "nosuch".into(),
                loglevel: LoglevelRule::All,
                exclusions: vec![],
                syscall: false,
            },
        },
        0,
        &now(),
        &mut p,
    );
    assert_eq!(out.response, Response::Ok, "answered at once");
    let saves = r.take_checkpoints();
    let ops: Vec<Effect> = p
        .kernel
        .iter()
        .map(|(_, o)| Effect::Kernel(o.clone()))
        .collect();
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_eq!(saves.len(), 2, "one checkpoint before each operation");
    assert!(ops.iter().all(|e| e.has_checkpoint() && e.is_critical()));
    // The enable (second) failed: back to just before it.
    let sid = saves[1].session_id();
    let resp = r
        .failure_response(sid, &ops[1], "no tracepoint nosuch")
        .unwrap();
    assert!(
        matches!(&resp, Response::Error { code: ErrorCode::NoEvent, message } if message.contains("nosuch")),
        "{resp:?}"
    );
    let mut errs = Vec::new();
    let save = saves.into_iter().nth(1).unwrap();
    r.restore(save, &mut p, &mut errs);
    let Response::Session { detail } = request(
        &mut r,
        &mut p,
        Request::ListSession {
            session: "k".into(),
        },
    ) else {
        panic!()
    };
    assert_eq!(detail.channels.len(), 1, "channel0 stays");
    assert!(detail.channels[0].rules.is_empty(), "{:?}", detail.channels);
    // A system call rule's exit tracepoint may not exist: not a failure.
    let exit = Effect::Kernel(KernelOp::DisableTracepoints {
        channel: "channel0".into(),
        pattern: "sys_exit_exit".into(),
    });
    assert!(!exit.is_critical());
}
