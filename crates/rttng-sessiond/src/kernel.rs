//! The kernel domain in the root daemon (Port::kernel): the tracefs instances of each
//! kernel session (rttng-kernel, created for the session's owner) and what the consumer is
//! told to drain them (`AddKernelChannel`, `KernelEvents` after each enable, `KernelStart`;
//! at stop tracing off, then `KernelFlush`; at destroy `RemoveKernel`, then the instances go:
//! an instance with open files cannot be removed). Not here: session decisions
//! (rttng-session), draining or writing (rttng-consumerd).

use crate::runtime::Io;
use rttng_proto::*;
use rttng_session::{KernelOp, KernelReply, Port};
use std::path::Path;

pub(crate) fn op(io: &mut Io, session_id: u64, op: KernelOp) -> Result<KernelReply, String> {
    use rttng_kernel::{ChannelConfig, KernelSession, Syscalls};
    let cfg = |c: &rttng_session::KernelChannel| ChannelConfig {
        name: c.name.clone(),
        subbuf_bytes: c.subbuf_bytes,
        subbuf_count: c.subbuf_count,
        overwrite: c.overwrite,
    };
    if let KernelOp::Create {
        session,
        output,
        channel,
        snapshot,
        relay_id,
        owner_uid,
    } = op
    {
        // The user-space tracer's clock, so kernel and user events merge exactly.
        let clock = match rttng_clock::ClockParams::detect() {
            Ok(p) => rttng_kernel::ClockSpec::new(p.source.tracefs_clock(), p.clock_class()),
            Err(_) => rttng_kernel::ClockSpec::monotonic(),
        };
        // The consumer drains the instances and writes the trace; this process only
        // controls them.
        let ks = KernelSession::create_for_user(
            &session,
            owner_uid,
            Path::new(&output),
            cfg(&channel),
            clock,
        )
        .map_err(|e| e.to_string())?;
        let trace_dir = match relay_id {
            Some(_) => "kernel".to_string(),
            None => format!("{}/kernel", output.trim_end_matches('/')),
        };
        let k = KernelLink {
            session,
            trace_dir,
            relay_id: relay_id.unwrap_or(0),
            snapshot,
            channels: 0,
        };
        io.kernel.insert(session_id, (ks, k));
        if let Err(e) = io.kernel_add_channel(session_id, &channel) {
            if let Some((ks, _)) = io.kernel.remove(&session_id) {
                let _ = ks.destroy();
            }
            return Err(e);
        }
        return Ok(KernelReply::Ok);
    }
    if op == KernelOp::Destroy {
        let Some((ks, _)) = io.kernel.remove(&session_id) else {
            return Ok(KernelReply::Ok);
        };
        // The consumer closes its fds of the instances first: an instance with open
        // files cannot be removed.
        let consumer = io.consumer_stats(ConsumerRequest::RemoveKernel {
            session_key: session_id,
        });
        let removed = ks.destroy().map_err(|e| e.to_string());
        consumer?;
        return removed.map(|()| KernelReply::Ok);
    }
    if let KernelOp::Trackers { trackers } = op {
        if !io.kernel.contains_key(&session_id) {
            return Err("no kernel session".to_string());
        }
        io.consumer_ok(ConsumerRequest::KernelTrackers {
            session_key: session_id,
            trackers,
        })?;
        return Ok(KernelReply::Ok);
    }
    if let KernelOp::AddChannel { channel } = &op {
        let (ks, _) = io.kernel.get_mut(&session_id).ok_or("no kernel session")?;
        ks.add_channel(cfg(channel)).map_err(|e| e.to_string())?;
        io.kernel_add_channel(session_id, channel)?;
        return Ok(KernelReply::Ok);
    }
    let (ks, _) = io.kernel.get_mut(&session_id).ok_or("no kernel session")?;
    let mut changed = None;
    let r = match op {
        KernelOp::EnableTracepoints { channel, pattern } => {
            let r = ks.enable_tracepoints(&channel, &pattern).map(|_| ());
            changed = Some(channel);
            r
        }
        KernelOp::EnableSyscalls { channel, names } => {
            let which = if names.is_empty() {
                Syscalls::All
            } else {
                Syscalls::Names(names)
            };
            let r = ks.enable_syscalls(&channel, &which).map(|_| ());
            changed = Some(channel);
            r
        }
        KernelOp::DisableTracepoints { channel, pattern } => {
            ks.disable_tracepoints(&channel, &pattern).map(|_| ())
        }
        KernelOp::AddContext { channel, context } => {
            // lttng-modules' context of the same name (cpu_id: rttng's own).
            let c = rttng_kernel::context_by_name(context.name())
                .ok_or_else(|| format!("kernel context {} is not available", context.name()))?;
            let r = ks.add_context(&channel, c);
            changed = Some(channel);
            r
        }
        KernelOp::EnableTracepointsFiltered {
            channel,
            pattern,
            filter,
        } => {
            let program = rttng_filter::compile(&filter).map_err(|e| e.to_string())?;
            let r = ks
                .enable_tracepoints_filtered(&channel, &pattern, &program)
                .map(|_| ());
            changed = Some(channel);
            r
        }
        KernelOp::Start => {
            io.consumer_ok(ConsumerRequest::KernelStart {
                session_key: session_id,
            })?;
            let (ks, _) = io.kernel.get_mut(&session_id).ok_or("no kernel session")?;
            ks.start()
        }
        KernelOp::Stop => {
            // Tracing off, then the consumer writes what the buffers still hold: once
            // this returns, the kernel trace is complete.
            let off = ks.stop().map(|_| ());
            let flushed = io.consumer_stats(ConsumerRequest::KernelFlush {
                session_key: session_id,
            });
            off.map_err(|e| e.to_string())?;
            return flushed.map(|events_discarded| KernelReply::Stopped { events_discarded });
        }
        KernelOp::Stats => {
            return io
                .consumer_stats(ConsumerRequest::KernelStats {
                    session_key: session_id,
                })
                .map(|events_discarded| KernelReply::Stopped { events_discarded });
        }
        KernelOp::Snapshot {
            output,
            max_packets,
            relay_id,
        } => {
            return match io.consumer(ConsumerRequest::KernelSnapshot {
                session_key: session_id,
                trace_dir: output,
                max_packets,
                relay_id: relay_id.unwrap_or(0),
            })? {
                ConsumerReply::SnapshotWritten { .. } => Ok(KernelReply::Stopped {
                    events_discarded: 0,
                }),
                ConsumerReply::Error { message } => Err(message),
                other => Err(format!("unexpected consumer reply {other:?}")),
            };
        }
        KernelOp::Create { .. }
        | KernelOp::Destroy
        | KernelOp::AddChannel { .. }
        | KernelOp::Trackers { .. } => Ok(()),
    };
    r.map_err(|e| e.to_string())?;
    if let Some(channel) = changed {
        io.kernel_events(session_id, &channel)?;
    }
    Ok(KernelReply::Ok)
}

/// What the consumer was told about a kernel session.
pub(crate) struct KernelLink {
    session: String,
    /// `OUT/kernel`, or `kernel` relative to the relay session.
    trace_dir: String,
    relay_id: u64,
    snapshot: bool,
    /// Channels added so far (the next one's stream class id).
    channels: u32,
}

impl Io {
    /// A request whose answer is `Ok`.
    fn consumer_ok(&mut self, req: ConsumerRequest) -> Result<(), String> {
        match self.consumer(req)? {
            ConsumerReply::Ok => Ok(()),
            ConsumerReply::Error { message } => Err(message),
            other => Err(format!("unexpected consumer reply {other:?}")),
        }
    }

    /// A request whose answer is `Stats`: the events discarded.
    fn consumer_stats(&mut self, req: ConsumerRequest) -> Result<u64, String> {
        match self.consumer(req)? {
            ConsumerReply::Stats {
                events_discarded, ..
            } => Ok(events_discarded),
            ConsumerReply::Error { message } => Err(message),
            other => Err(format!("unexpected consumer reply {other:?}")),
        }
    }

    /// Tells the consumer to drain a new channel of kernel session `session_id`.
    fn kernel_add_channel(
        &mut self,
        session_id: u64,
        channel: &rttng_session::KernelChannel,
    ) -> Result<(), String> {
        let (ks, k) = self
            .kernel
            .get_mut(&session_id)
            .ok_or("no kernel session")?;
        let (instance, _, _) = ks
            .channel_plan(&channel.name)
            .ok_or("kernel channel is gone")?;
        let spec = KernelChannelSpec {
            session_key: session_id,
            session_name: k.session.clone(),
            trace_dir: k.trace_dir.clone(),
            relay_id: k.relay_id,
            instance,
            channel: channel.name.clone(),
            stream_id: k.channels,
            subbuf_bytes: channel.subbuf_bytes,
            subbuf_count: channel.subbuf_count,
            snapshot: k.snapshot,
            tracefile_size: channel.tracefile_size,
            tracefile_count: channel.tracefile_count,
            switch_timer_us: channel.switch_timer_us,
        };
        k.channels += 1;
        self.consumer_ok(ConsumerRequest::AddKernelChannel { spec })
    }

    /// Tells the consumer channel `channel`'s events and contexts as they are now.
    fn kernel_events(&mut self, session_id: u64, channel: &str) -> Result<(), String> {
        let (ks, _) = self.kernel.get(&session_id).ok_or("no kernel session")?;
        let (_, events, contexts) = ks.channel_plan(channel).ok_or("no kernel channel")?;
        self.consumer_ok(ConsumerRequest::KernelEvents {
            session_key: session_id,
            channel: channel.to_string(),
            events,
            contexts: contexts
                .into_iter()
                .map(|c| rttng_kernel::context_name(c).to_string())
                .collect(),
        })
    }
}
