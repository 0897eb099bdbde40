//! The kernel domain in the root daemon (Port::kernel): the tracefs instances of each
//! kernel session (rttng-kernel, created for the session's owner) and what the consumer is
//! told to drain them (`AddKernelChannel`, `KernelEvents` after each enable, `KernelStart`;
//! at stop tracing off, then `KernelFlush`; at destroy `RemoveKernel`, then the instances go:
//! an instance with open files cannot be removed). Operations run outside the daemon's lock,
//! on the session's worker (`runtime/queues.rs`), with the instances of that session taken
//! out of the table meanwhile. Not here: session decisions (rttng-session), draining or
//! writing (rttng-consumerd).

use rttng_proto::*;
use rttng_session::{KernelOp, KernelReply};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// The kernel sessions, by session id (root daemon only).
pub(crate) type Kernels = Mutex<HashMap<u64, (rttng_kernel::KernelSession, KernelLink)>>;

/// What a kernel operation works with: the table, and the consumer (through the lane of
/// the session's worker).
pub(crate) struct Ctx<'a> {
    pub kernels: &'a Kernels,
    pub consumer: &'a mut dyn FnMut(ConsumerRequest) -> Result<ConsumerReply, String>,
}

fn table(
    k: &Kernels,
) -> std::sync::MutexGuard<'_, HashMap<u64, (rttng_kernel::KernelSession, KernelLink)>> {
    k.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn op(ctx: &mut Ctx<'_>, session_id: u64, op: KernelOp) -> Result<KernelReply, String> {
    use rttng_kernel::{ChannelConfig, KernelSession};
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
        let mut k = KernelLink {
            session,
            trace_dir,
            relay_id: relay_id.unwrap_or(0),
            snapshot,
            channels: 0,
        };
        if let Err(e) = add_channel(ctx.consumer, session_id, &ks, &mut k, &channel) {
            let _ = ks.destroy();
            return Err(e);
        }
        table(ctx.kernels).insert(session_id, (ks, k));
        return Ok(KernelReply::Ok);
    }
    if op == KernelOp::Destroy {
        let Some((ks, _)) = table(ctx.kernels).remove(&session_id) else {
            return Ok(KernelReply::Ok);
        };
        // The consumer closes its fds of the instances first: an instance with open
        // files cannot be removed.
        let consumer = consumer_stats(
            ctx.consumer,
            ConsumerRequest::RemoveKernel {
                session_key: session_id,
            },
        );
        let removed = ks.destroy().map_err(|e| e.to_string());
        consumer?;
        return removed.map(|()| KernelReply::Ok);
    }
    // The session's instances, out of the table while the operation runs (the session's
    // operations run one after the other).
    let (mut ks, mut k) = table(ctx.kernels)
        .remove(&session_id)
        .ok_or("no kernel session")?;
    let r = op_on(ctx.consumer, session_id, &mut ks, &mut k, op, &cfg);
    table(ctx.kernels).insert(session_id, (ks, k));
    r
}

/// An operation on the instances `ks` of kernel session `session_id`.
fn op_on(
    consumer: &mut dyn FnMut(ConsumerRequest) -> Result<ConsumerReply, String>,
    session_id: u64,
    ks: &mut rttng_kernel::KernelSession,
    k: &mut KernelLink,
    op: KernelOp,
    cfg: &dyn Fn(&rttng_session::KernelChannel) -> rttng_kernel::ChannelConfig,
) -> Result<KernelReply, String> {
    use rttng_kernel::Syscalls;
    if let KernelOp::AddChannel { channel } = &op {
        ks.add_channel(cfg(channel)).map_err(|e| e.to_string())?;
        add_channel(consumer, session_id, ks, k, channel)?;
        return Ok(KernelReply::Ok);
    }
    if let KernelOp::Trackers { trackers } = op {
        consumer_ok(
            consumer,
            ConsumerRequest::KernelTrackers {
                session_key: session_id,
                trackers,
            },
        )?;
        return Ok(KernelReply::Ok);
    }
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
            consumer_ok(
                consumer,
                ConsumerRequest::KernelStart {
                    session_key: session_id,
                },
            )?;
            ks.start()
        }
        KernelOp::Stop => {
            // Tracing off, then the consumer writes what the buffers still hold: once
            // this returns, the kernel trace is complete.
            let off = ks.stop().map(|_| ());
            let flushed = consumer_stats(
                consumer,
                ConsumerRequest::KernelFlush {
                    session_key: session_id,
                },
            );
            off.map_err(|e| e.to_string())?;
            return flushed.map(|events_discarded| KernelReply::Stopped { events_discarded });
        }
        KernelOp::Stats => {
            return consumer_stats(
                consumer,
                ConsumerRequest::KernelStats {
                    session_key: session_id,
                },
            )
            .map(|events_discarded| KernelReply::Stopped { events_discarded });
        }
        KernelOp::Snapshot {
            output,
            max_packets,
            relay_id,
        } => {
            return match consumer(ConsumerRequest::KernelSnapshot {
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
        kernel_events(consumer, session_id, ks, &channel)?;
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

/// A request whose answer is `Ok`.
fn consumer_ok(
    consumer: &mut dyn FnMut(ConsumerRequest) -> Result<ConsumerReply, String>,
    req: ConsumerRequest,
) -> Result<(), String> {
    match consumer(req)? {
        ConsumerReply::Ok => Ok(()),
        ConsumerReply::Error { message } => Err(message),
        other => Err(format!("unexpected consumer reply {other:?}")),
    }
}

/// A request whose answer is `Stats`: the events discarded.
fn consumer_stats(
    consumer: &mut dyn FnMut(ConsumerRequest) -> Result<ConsumerReply, String>,
    req: ConsumerRequest,
) -> Result<u64, String> {
    match consumer(req)? {
        ConsumerReply::Stats {
            events_discarded, ..
        } => Ok(events_discarded),
        ConsumerReply::Error { message } => Err(message),
        other => Err(format!("unexpected consumer reply {other:?}")),
    }
}

/// Tells the consumer to drain a new channel of kernel session `session_id`.
fn add_channel(
    consumer: &mut dyn FnMut(ConsumerRequest) -> Result<ConsumerReply, String>,
    session_id: u64,
    ks: &rttng_kernel::KernelSession,
    k: &mut KernelLink,
    channel: &rttng_session::KernelChannel,
) -> Result<(), String> {
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
    consumer_ok(consumer, ConsumerRequest::AddKernelChannel { spec })
}

/// Tells the consumer channel `channel`'s events and contexts as they are now.
fn kernel_events(
    consumer: &mut dyn FnMut(ConsumerRequest) -> Result<ConsumerReply, String>,
    session_id: u64,
    ks: &rttng_kernel::KernelSession,
    channel: &str,
) -> Result<(), String> {
    let (_, events, contexts) = ks.channel_plan(channel).ok_or("no kernel channel")?;
    consumer_ok(
        consumer,
        ConsumerRequest::KernelEvents {
            session_key: session_id,
            channel: channel.to_string(),
            events,
            contexts: contexts
                .into_iter()
                .map(|c| rttng_kernel::context_name(c).to_string())
                .collect(),
        },
    )
}
