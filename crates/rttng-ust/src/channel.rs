//! Installed channels and the record layout: the channel table the event path reads
//! (lock-free: one Acquire load of a slot pointer), stream event context fields, and
//! [`Channel::write_event`], which lays out LTTng's large event header, the contexts and
//! the payload into one ring-buffer reservation.
//!
//! Event header (spec §6, x86 packed): compact = u16 id + u32 low timestamp bits (6 B),
//! extended = u16 0xFFFF + u32 id + u64 timestamp (14 B). Compact is used only when the
//! reader can rebuild the timestamp: this process wrote into the same per-CPU buffer
//! less than 2^32 cycles before (`last_ts`, so the reader's clock is at least that
//! recent) and the id fits; otherwise extended. The timestamp is read once per event,
//! inside the reservation loop (ring-buffer protocol), and the header form is decided
//! from it in the same attempt (as LTTng does), so records are ordered in time per buffer
//! and a compact header is never wrong.
//!
//! Removed channels are unlinked, then freed with their mapping once no thread can be inside
//! the event path with them (`retire`, `reclaim`: a grace period, see `reclaim.rs`); until
//! then they stay mapped. A fork child only unlinks them (it may not allocate there).
//!
//! Not here: enable/disable bookkeeping (`control`, which re-exports the channel key and
//! setup types defined here), metadata.

use crate::field::{Fields, Writer};
use crate::sys;
use rttng_ringbuf::Producer;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// Names a channel of a session of one session daemon. Each daemon numbers its own
/// sessions (the root daemon's session 1 and the user daemon's session 1 are different
/// sessions), so the key carries which daemon installed the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelKey {
    /// Which daemon connection installed it: the index of its socket path in the
    /// registration's list; [`LOCAL_DAEMON`] for the daemon-less test harness.
    pub daemon: u32,
    pub session_id: u64,
    pub channel_id: u64,
}

/// [`ChannelKey::daemon`] of channels installed by [`crate::testing`].
pub const LOCAL_DAEMON: u32 = u32::MAX;

/// A channel to install: its mapped ring buffer and what its records carry.
#[derive(Debug)]
pub struct ChannelSetup {
    pub key: ChannelKey,
    pub producer: rttng_ringbuf::Producer,
    pub stream_class_id: u64,
    /// Stream event context fields, in order.
    pub contexts: Vec<Context>,
}

/// Most channels installed at once in one process.
pub const MAX_CHANNELS: usize = 64;

/// Bytes of the compact and extended large event header.
pub const COMPACT_HEADER_BYTES: usize = 6;
pub const EXTENDED_HEADER_BYTES: usize = 14;

/// Largest event class id the compact header carries (65535 means extended).
const COMPACT_MAX_ID: u32 = 65534;

/// Compact is chosen only if a record this process wrote earlier into the same buffer is
/// less than this many cycles older than the new one: the 2^32 range a reader rebuilds
/// from the header's 32 low bits (the header is chosen from the reservation's own
/// timestamp, so no margin is needed).
const COMPACT_WINDOW_CYCLES: u64 = 1 << 32;

/// `last_ts` is rewritten only once it is this many cycles old (2^24 cycles: a few ms),
/// far inside [`COMPACT_WINDOW_CYCLES`].
const LAST_TS_REFRESH_CYCLES: u64 = 1 << 24;

/// A stream event context field (LTTng `add-context` types), in the order given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    /// `_vpid`: i32.
    Vpid,
    /// `_vtid`: i32.
    Vtid,
    /// `_procname`: 17 bytes of thread name (text array).
    Procname,
    /// `_pthread_id`: u64, decimal (LTTng's).
    PthreadId,
    /// `_cpu_id`: i32.
    CpuId,
    /// `_hostname`: string (the process's, when the channel was installed).
    Hostname,
    /// `_cgroup_ns` … `_uts_ns`: u64 inode numbers of the process's namespaces, in
    /// [`sys::NAMESPACES`] order.
    Namespace(u8),
    /// `_vuid`, `_veuid`, `_vsuid`, `_vgid`, `_vegid`, `_vsgid`: u32.
    Id(u8),
    /// `_ip`: u64, decimal (LTTng's): the instrumented code's address, for events whose writer
    /// knows it (the LTTng-UST drop-in's C probes, tracef/tracelog); 0 for `tracepoint!`.
    Ip,
    /// `$app.PROVIDER:NAME` (index of the interned name, [`crate::appctx`]): a tag and a
    /// value of the size the provider says per record.
    App(u16),
}

/// LTTng's names of the namespace contexts, in [`sys::NAMESPACES`] order.
const NAMESPACE_CONTEXTS: [&str; 8] = [
    "cgroup_ns",
    "ipc_ns",
    "mnt_ns",
    "net_ns",
    "pid_ns",
    "time_ns",
    "user_ns",
    "uts_ns",
];
/// LTTng's names of the id contexts, in `ProcessFacts::ids` order.
const ID_CONTEXTS: [&str; 6] = ["vuid", "veuid", "vsuid", "vgid", "vegid", "vsgid"];

impl Context {
    /// Bytes in a record; the hostname's depend on the process (`facts`).
    pub(crate) fn bytes_for(self, facts: &sys::ProcessFacts) -> usize {
        match self {
            Context::Vpid | Context::Vtid | Context::CpuId | Context::Id(_) => 4,
            Context::Procname => sys::PROCNAME_BYTES,
            Context::PthreadId | Context::Namespace(_) | Context::Ip => 8,
            Context::Hostname => facts.hostname_len + 1,
            Context::App(_) => 0, // per record (`app_bytes`)
        }
    }

    /// LTTng's name (`lttng add-context -t NAME`) and the member name without `_`.
    pub fn name(self) -> &'static str {
        match self {
            Context::Vpid => "vpid",
            Context::Vtid => "vtid",
            Context::Procname => "procname",
            Context::PthreadId => "pthread_id",
            Context::CpuId => "cpu_id",
            Context::Hostname => "hostname",
            Context::Namespace(i) => NAMESPACE_CONTEXTS.get(i as usize).copied().unwrap_or("ns"),
            Context::Id(i) => ID_CONTEXTS.get(i as usize).copied().unwrap_or("id"),
            Context::Ip => "ip",
            Context::App(i) => crate::appctx::name(i),
        }
    }

    /// The members LTTng declares for it: one, or an application context's tag and
    /// variant.
    pub fn members(self) -> Vec<rttng_desc::StructMember> {
        match self {
            Context::App(i) => crate::appctx::members(crate::appctx::name(i)).into(),
            c => vec![c.member()],
        }
    }

    /// The member LTTng declares for it.
    pub fn member(self) -> rttng_desc::StructMember {
        use rttng_desc::{ArrayClass, Encoding, FieldClass};
        let int = |bits: u32, signed: bool| {
            let mut c = rttng_desc::uint_class(bits, 8, rttng_desc::ByteOrder::Little);
            c.signed = signed;
            c
        };
        let class = match self {
            Context::Vpid | Context::Vtid | Context::CpuId => FieldClass::Integer(int(32, true)),
            Context::Id(_) => FieldClass::Integer(int(32, false)),
            Context::Namespace(_) => FieldClass::Integer(int(64, false)),
            Context::Hostname => FieldClass::String(rttng_desc::StringClass {
                encoding: Encoding::Utf8,
            }),
            // Decimal, as LTTng-UST 2.13 declares them (babeltrace2 prints
            // `pthread_id = 139981156315200`, `ip = 94179619321186`).
            Context::PthreadId | Context::Ip => FieldClass::Integer(int(64, false)),
            // Its tag member only (`members` has both).
            Context::App(i) => {
                let [tag, _] = crate::appctx::members(crate::appctx::name(i));
                return tag;
            }
            Context::Procname => {
                let mut c = int(8, true);
                c.encoding = Encoding::Utf8;
                FieldClass::Array(ArrayClass {
                    element: Box::new(FieldClass::Integer(c)),
                    length: sys::PROCNAME_BYTES as u64,
                })
            }
        };
        rttng_desc::StructMember {
            name: format!("_{}", self.name()),
            class,
        }
    }
}

/// The last timestamp this process wrote into one per-CPU buffer, alone on its line.
#[repr(align(64))]
#[derive(Debug)]
struct LastTs(AtomicU64);

/// An installed channel.
#[derive(Debug)]
pub(crate) struct Channel {
    pub key: ChannelKey,
    pub producer: Producer,
    #[allow(dead_code)]
    pub stream_class_id: u64,
    pub contexts: Vec<Context>,
    context_bytes: usize,
    /// Whether `contexts` has application contexts (their bytes vary per record).
    has_app: bool,
    /// No contexts at all: records are a header and a payload.
    plain: bool,
    /// Hostname, namespaces and ids of this process, read when the channel was installed.
    facts: sys::ProcessFacts,
    /// Per buffer; Release store after a reservation, Acquire load before choosing the
    /// header form (pair: our CAS happens-before a later reserver's, so its reader clock
    /// is at least our timestamp).
    last_ts: Box<[LastTs]>,
    /// Records whose compact timestamp could not be rebuilt. Always 0 since the header is
    /// chosen from the reservation's own timestamp; kept for the diagnostics API.
    pub timestamp_errors: AtomicU64,
}

impl Channel {
    pub(crate) fn new(setup: ChannelSetup) -> Channel {
        let buffers = setup.producer.cpu_count().max(1) as usize;
        let facts = sys::read_process_facts();
        Channel {
            key: setup.key,
            context_bytes: setup.contexts.iter().map(|c| c.bytes_for(&facts)).sum(),
            has_app: setup.contexts.iter().any(|c| matches!(c, Context::App(_))),
            plain: setup.contexts.is_empty(),
            facts,
            contexts: setup.contexts,
            stream_class_id: setup.stream_class_id,
            producer: setup.producer,
            last_ts: (0..buffers).map(|_| LastTs(AtomicU64::new(0))).collect(),
            timestamp_errors: AtomicU64::new(0),
        }
    }

    #[inline]
    fn write_contexts(&self, w: &mut Writer<'_>, cpu: u32, ip: u64) {
        for c in &self.contexts {
            self.write_context(*c, w, cpu, ip);
        }
    }

    #[inline(always)]
    fn write_context(&self, c: Context, w: &mut Writer<'_>, cpu: u32, ip: u64) {
        match c {
            Context::Vpid => w.put_array(sys::vpid().to_le_bytes()),
            Context::Vtid => w.put_array(sys::vtid().to_le_bytes()),
            Context::Procname => w.put_array(sys::procname()),
            Context::PthreadId => w.put_array(sys::pthread_id().to_le_bytes()),
            Context::CpuId => w.put_array((cpu as i32).to_le_bytes()),
            Context::Hostname => {
                let f = &self.facts;
                w.put(&f.hostname[..f.hostname_len + 1]);
            }
            Context::Namespace(i) => w.put_array(
                self.facts
                    .ns
                    .get(i as usize)
                    .copied()
                    .unwrap_or(0)
                    .to_le_bytes(),
            ),
            Context::Ip => w.put_array(ip.to_le_bytes()),
            Context::Id(i) => w.put_array(
                self.facts
                    .ids
                    .get(i as usize)
                    .copied()
                    .unwrap_or(0)
                    .to_le_bytes(),
            ),
            Context::App(_) => {} // sized per record: `write_contexts_with_app`
        }
    }

    /// The contexts of a channel with application contexts, in order, into `out`
    /// (`context_bytes + app_bytes` long): each gets its own part of it.
    #[cold]
    fn write_contexts_with_app(&self, mut out: &mut [u8], cpu: u32, ip: u64) {
        for &c in &self.contexts {
            let n = match c {
                Context::App(i) => crate::appctx::size(i),
                c => c.bytes_for(&self.facts),
            }
            .min(out.len());
            let (this, rest) = std::mem::take(&mut out).split_at_mut(n);
            match c {
                Context::App(i) => crate::appctx::write(i, this),
                c => self.write_context(c, &mut Writer::new(this), cpu, ip),
            }
            out = rest;
        }
    }

    /// The application contexts' bytes in the record being written (0 without any).
    #[inline(always)]
    fn app_bytes(&self) -> usize {
        if self.has_app {
            self.app_bytes_slow()
        } else {
            0
        }
    }

    #[cold]
    fn app_bytes_slow(&self) -> usize {
        self.contexts
            .iter()
            .map(|c| match c {
                Context::App(i) => crate::appctx::size(*i),
                _ => 0,
            })
            .sum()
    }

    /// Reserves, writes header + contexts + payload, commits. Errors are counted by the
    /// ring buffer (`events_discarded`), never returned. The clock is read once, inside
    /// the reservation loop, and the header form is chosen from that very timestamp.
    #[inline(always)]
    pub(crate) fn write_event<F: Fields>(
        &self,
        cpu: u32,
        event_id: u32,
        payload_bytes: usize,
        fields: &F,
        lens: &F::Lens,
        ip: u64,
    ) {
        let n = self.last_ts.len();
        // Avoid a division on the event path: CPU numbers are almost always in range.
        let buffer = if (cpu as usize) < n {
            cpu as usize
        } else {
            cpu as usize % n.max(1)
        };
        let Some(last_cell) = self.last_ts.get(buffer) else {
            return;
        };
        // Acquire pairs with the Release store below in another writer: its reservation
        // (and so its record, whose time is `last`) precedes ours in the buffer.
        let last = last_cell.0.load(Ordering::Acquire);
        let id_fits = event_id <= COMPACT_MAX_ID;
        // Contexts are a few hundred bytes at most and the payload at most 16 × 2^40
        // (`Fields::lens`): no overflow.
        let app_bytes = self.app_bytes();
        let context_bytes = self.context_bytes.wrapping_add(app_bytes);
        let rest = context_bytes.wrapping_add(payload_bytes);
        let mut compact = false;
        let Ok(mut r) = self.producer.reserve_timed_ordered(cpu, || {
            let ts = rttng_clock::now_ordered();
            // The record before ours in the buffer (or the packet's timestamp_begin) is
            // at least `last` and at most `ts`: within 2^32 cycles the reader rebuilds
            // the full time from 32 bits.
            compact = id_fits && last != 0 && ts.wrapping_sub(last) < COMPACT_WINDOW_CYCLES;
            let header = if compact {
                COMPACT_HEADER_BYTES
            } else {
                EXTENDED_HEADER_BYTES
            };
            (ts, header.wrapping_add(rest))
        }) else {
            return;
        };
        let ts = r.timestamp();
        {
            // Header, contexts and payload each get their own writer over their part of
            // the record (cut from its end: the header's size is what is left), so that a
            // field writing another length than it declared cannot shift another part.
            let record = r.bytes_mut();
            let (head, payload) = record.split_at_mut(record.len().saturating_sub(payload_bytes));
            let (header, contexts) = head.split_at_mut(head.len().saturating_sub(context_bytes));
            let mut w = Writer::new(header);
            if compact {
                w.put_array((event_id as u16).to_le_bytes());
                w.put_array((ts as u32).to_le_bytes());
            } else {
                w.put_array(0xFFFFu16.to_le_bytes());
                w.put_array(event_id.to_le_bytes());
                w.put_array(ts.to_le_bytes());
            }
            if app_bytes != 0 {
                self.write_contexts_with_app(contexts, cpu, ip);
            } else if context_bytes != 0 {
                self.write_contexts(&mut Writer::new(contexts), cpu, ip);
            }
            // Called directly (not through a closure) so that the field stores are
            // inlined into the event path.
            fields.encode_with_lens(&mut Writer::new(payload), lens);
        }
        r.commit();
        // Refreshing `last` only when it has aged keeps the line read-mostly when several
        // threads share a buffer; an older `last` only makes the test above stricter.
        if ts.wrapping_sub(last) >= LAST_TS_REFRESH_CYCLES {
            last_cell.0.store(ts, Ordering::Release);
        }
    }
}

impl Channel {
    /// For run-time events ([`crate::dynamic`]): reserves a record with room for
    /// `payload_bytes`, writes its header and contexts, and returns the reservation with
    /// the payload's offset in it; the caller writes the payload and commits. The same
    /// protocol as [`Channel::write_event`] (kept separate so that the static event path's
    /// code stays as it was measured).
    #[inline]
    pub(crate) fn begin_event(
        &'static self,
        cpu: u32,
        event_id: u32,
        payload_bytes: usize,
        ip: u64,
    ) -> Option<(rttng_ringbuf::Reservation<'static>, usize)> {
        let n = self.last_ts.len();
        let buffer = if (cpu as usize) < n {
            cpu as usize
        } else {
            cpu as usize % n.max(1)
        };
        let last_cell = self.last_ts.get(buffer)?;
        let last = last_cell.0.load(Ordering::Acquire);
        let id_fits = event_id <= COMPACT_MAX_ID;
        // Sizes come from C code: saturate (the ring buffer refuses and counts what does
        // not fit a sub-buffer).
        let app_bytes = self.app_bytes();
        let context_bytes = self.context_bytes.saturating_add(app_bytes);
        let rest = context_bytes.saturating_add(payload_bytes);
        let mut compact = false;
        let mut r = self
            .producer
            .reserve_timed_ordered(cpu, || {
                let ts = rttng_clock::now_ordered();
                compact = id_fits && last != 0 && ts.wrapping_sub(last) < COMPACT_WINDOW_CYCLES;
                let header = if compact {
                    COMPACT_HEADER_BYTES
                } else {
                    EXTENDED_HEADER_BYTES
                };
                (ts, header.saturating_add(rest))
            })
            .ok()?;
        let ts = r.timestamp();
        let record = r.bytes_mut();
        let payload_start = record.len().saturating_sub(payload_bytes);
        let (head, _) = record.split_at_mut(payload_start);
        let (header, contexts) = head.split_at_mut(head.len().saturating_sub(context_bytes));
        let mut w = Writer::new(header);
        if compact {
            w.put_array((event_id as u16).to_le_bytes());
            w.put_array((ts as u32).to_le_bytes());
        } else {
            w.put_array(0xFFFFu16.to_le_bytes());
            w.put_array(event_id.to_le_bytes());
            w.put_array(ts.to_le_bytes());
        }
        if app_bytes != 0 {
            self.write_contexts_with_app(contexts, cpu, ip);
        } else if context_bytes != 0 {
            self.write_contexts(&mut Writer::new(contexts), cpu, ip);
        }
        if ts.wrapping_sub(last) >= LAST_TS_REFRESH_CYCLES {
            last_cell.0.store(ts, Ordering::Release);
        }
        Some((r, payload_start))
    }
}

impl Channel {
    /// [`Channel::begin_event`] for a writer that keeps its record in place across calls
    /// ([`crate::dynamic::ThreadRecords`]): reserves, writes the header and contexts, and
    /// hands `slot` the payload (the record's last `payload_bytes` bytes, the slot's to
    /// write until it commits) and the commit. False when the buffer refused.
    #[inline(always)]
    pub(crate) fn begin_event_raw(
        &'static self,
        slot: &mut crate::dynamic::DynSlot,
        cpu: u32,
        event_id: u32,
        payload_bytes: usize,
        ip: impl Fn() -> u64,
    ) -> bool {
        if !self.plain {
            return self.begin_event_raw_contexts(slot, cpu, event_id, payload_bytes, ip());
        }
        // No contexts (LTTng's default channel): nothing but the header before the payload,
        // and fewer values to keep across the reservation (the `ip` is not even read).
        self.begin_event_raw_with::<false, false>(slot, cpu, event_id, payload_bytes, 0)
    }

    /// [`Channel::begin_event_raw`] in a channel with contexts.
    #[inline(never)]
    fn begin_event_raw_contexts(
        &'static self,
        slot: &mut crate::dynamic::DynSlot,
        cpu: u32,
        event_id: u32,
        payload_bytes: usize,
        ip: u64,
    ) -> bool {
        if self.has_app {
            self.begin_event_raw_with::<true, true>(slot, cpu, event_id, payload_bytes, ip)
        } else {
            self.begin_event_raw_with::<true, false>(slot, cpu, event_id, payload_bytes, ip)
        }
    }

    /// `CONTEXTS`: the channel has contexts; `APP`: some are application contexts (sized
    /// per record).
    #[inline(always)]
    fn begin_event_raw_with<const CONTEXTS: bool, const APP: bool>(
        &'static self,
        slot: &mut crate::dynamic::DynSlot,
        cpu: u32,
        event_id: u32,
        payload_bytes: usize,
        ip: u64,
    ) -> bool {
        let n = self.last_ts.len();
        let buffer = if (cpu as usize) < n {
            cpu as usize
        } else {
            cpu as usize % n.max(1)
        };
        let Some(last_cell) = self.last_ts.get(buffer) else {
            return false;
        };
        // Acquire: as in `write_event`.
        let last = last_cell.0.load(Ordering::Acquire);
        let id_fits = event_id <= COMPACT_MAX_ID;
        // Sizes come from C code: saturate. The ring buffer refuses a record larger than a
        // sub-buffer, so a reservation means that no sum below saturated: the record is
        // exactly header + contexts + payload.
        let app_bytes = if APP { self.app_bytes_slow() } else { 0 };
        let context_bytes = if CONTEXTS {
            self.context_bytes.saturating_add(app_bytes)
        } else {
            0
        };
        let rest = context_bytes.saturating_add(payload_bytes);
        let mut header = EXTENDED_HEADER_BYTES;
        let Ok(r) = self.producer.reserve_timed_ordered(cpu, || {
            let ts = rttng_clock::now_ordered();
            let compact = id_fits && last != 0 && ts.wrapping_sub(last) < COMPACT_WINDOW_CYCLES;
            header = if compact {
                COMPACT_HEADER_BYTES
            } else {
                EXTENDED_HEADER_BYTES
            };
            (ts, header.saturating_add(rest))
        }) else {
            return false;
        };
        let ts = r.timestamp();
        debug_assert_eq!(Some(r.len()), header.checked_add(rest));
        let (record, pending) = r.into_raw();
        // SAFETY: `record..record + header + context_bytes + payload_bytes` is our
        // reservation (its size did not saturate, see above), exclusively ours until the
        // commit: the header's 6 or 14 bytes, the contexts' slice and the payload are inside.
        unsafe {
            if header == COMPACT_HEADER_BYTES {
                record
                    .cast::<u16>()
                    .write_unaligned((event_id as u16).to_le());
                record
                    .add(2)
                    .cast::<u32>()
                    .write_unaligned((ts as u32).to_le());
            } else {
                record.cast::<u16>().write_unaligned(0xFFFFu16.to_le());
                record
                    .add(2)
                    .cast::<u32>()
                    .write_unaligned(event_id.to_le());
                record.add(6).cast::<u64>().write_unaligned(ts.to_le());
            }
            if CONTEXTS && context_bytes != 0 {
                let contexts = std::slice::from_raw_parts_mut(record.add(header), context_bytes);
                if APP {
                    self.write_contexts_with_app(contexts, cpu, ip);
                } else {
                    self.write_contexts(&mut Writer::new(contexts), cpu, ip);
                }
            }
            slot.set_reserved(record.add(header + context_bytes), payload_bytes, pending);
        }
        if ts.wrapping_sub(last) >= LAST_TS_REFRESH_CYCLES {
            last_cell.0.store(ts, Ordering::Release);
        }
        true
    }
}

/// The channel table. A slot is written only under the control lock; an unlinked channel is
/// freed only after a grace period (see the module documentation).
static CHANNELS: [AtomicPtr<Channel>; MAX_CHANNELS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHANNELS];

/// The channel in `slot`, if any.
#[inline(always)]
pub(crate) fn get(slot: usize) -> Option<&'static Channel> {
    let p = CHANNELS.get(slot)?.load(Ordering::Acquire);
    // SAFETY: a non-null slot holds a leaked `Box<Channel>`; it is freed only after it was
    // unlinked and no thread was inside the event path (`retire`), and the callers of `get`
    // on the event path are inside it (`reclaim::enter`).
    unsafe { p.as_ref() }
}

/// Installs a channel in a free slot (control lock held). Returns the slot.
pub(crate) fn install(ch: Channel) -> Option<usize> {
    let slot = CHANNELS
        .iter()
        .position(|s| s.load(Ordering::Relaxed).is_null())?;
    let p = Box::into_raw(Box::new(ch));
    // Release pairs with `get`'s Acquire: the channel is fully built before it is seen.
    CHANNELS[slot].store(p, Ordering::Release);
    Some(slot)
}

/// The slot of the channel with `key` (control lock held).
pub(crate) fn find(key: ChannelKey) -> Option<usize> {
    (0..MAX_CHANNELS).find(|&i| get(i).is_some_and(|c| c.key == key))
}

/// Unlinks the channel in `slot` without freeing it (fork child: it must not allocate, and
/// the mapping is the parent's buffer).
pub(crate) fn unlink(slot: usize) {
    if let Some(s) = CHANNELS.get(slot) {
        s.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// Unlinked channels not freed yet, because a thread might still be inside the event path
/// with a pointer to them (control lock held to change it).
struct Retired(Vec<*mut Channel>);

// SAFETY: the pointers are leaked boxes only the control side touches, under the control lock.
unsafe impl Send for Retired {}

static RETIRED: std::sync::Mutex<Retired> = std::sync::Mutex::new(Retired(Vec::new()));

/// Unlinks the channel in `slot` (control lock held) and frees it, with its mapping, as
/// soon as no thread can be inside the event path with it ([`reclaim`]).
pub(crate) fn retire(slot: usize) {
    let Some(s) = CHANNELS.get(slot) else { return };
    let p = s.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if !p.is_null() {
        if let Ok(mut r) = RETIRED.lock() {
            r.0.push(p);
        }
    }
    reclaim();
}

/// Frees the retired channels if no thread is inside the event path (control lock held);
/// otherwise leaves them for a later control call.
pub(crate) fn reclaim() {
    let Ok(mut r) = RETIRED.lock() else { return };
    if r.0.is_empty() || !crate::reclaim::quiescent() {
        return;
    }
    for p in r.0.drain(..) {
        // SAFETY: `p` came from `Box::into_raw` in `install`, was unlinked before the grace
        // period `quiescent` observed, so no thread holds it; it is freed once.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// All installed channels (control side).
pub(crate) fn installed() -> impl Iterator<Item = (usize, &'static Channel)> {
    (0..MAX_CHANNELS).filter_map(|i| get(i).map(|c| (i, c)))
}
