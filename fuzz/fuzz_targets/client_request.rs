//! Fuzz target: arbitrary bytes as a client's request (the `Request` frame the session
//! daemon decodes from any member of its group), then the request applied to a session
//! registry (`rttng_session::Registry::handle`, with a port that does no I/O) as a
//! non-root user. Must return a response, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rttng_proto::frame::decode_frame;
use rttng_proto::*;
use rttng_session::{Clock, Host, KernelOp, KernelReply, Port, Registry};

struct NoIo;

impl Port for NoIo {
    fn consumer(&mut self, _: ConsumerRequest) -> Result<ConsumerReply, String> {
        Ok(ConsumerReply::Ok)
    }
    fn app(&mut self, _: u64, _: AppCommand, _: Option<u64>) -> Result<Option<AppReply>, String> {
        Ok(None)
    }
    fn new_uuid(&mut self) -> [u8; 16] {
        [7; 16]
    }
    fn kernel(&mut self, _: u64, _: KernelOp) -> Result<KernelReply, String> {
        Ok(KernelReply::Ok)
    }
}

fuzz_target!(|data: &[u8]| {
    let framed = decode_frame::<Request>(data, Kind::Request).ok();
    let bare = rttng_proto::wire::decode_all::<Request>(data).ok();
    for req in [framed, bare].into_iter().flatten() {
        let mut reg = Registry::new(Host {
            home: "/home/u".into(),
            hostname: "h".into(),
            cpu_count: 2,
            kernel: false,
        });
        let now = Clock {
            compact: "20260101-000000".into(),
            iso: "20260101T000000+0000".into(),
            epoch_s: 0,
        };
        // A session to act on, then the request, twice (create/enable paths both ways).
        let _ = reg.handle(
            Request::CreateSession {
                name: Some("s".into()),
                output: Some("/tmp/s".into()),
                live_timer_us: 0,
            },
            1000,
            &now,
            &mut NoIo,
        );
        let _ = reg.handle(req.clone(), 1000, &now, &mut NoIo);
        let _ = reg.handle(req, 1000, &now, &mut NoIo);
    }
});
