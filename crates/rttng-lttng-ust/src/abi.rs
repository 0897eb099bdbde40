//! LTTng-UST 2.13's application ABI as `#[repr(C)]` structs (x86-64 layouts, checked
//! below against the offsets the installed headers give: `../shared/spec/lttng-ust-abi.md`).
//! Every struct starts with its `struct_size`; fields past a base struct are read only when
//! the size covers them. Not here: what the fields mean to rttng (the other modules).

use std::ffi::{c_char, c_int, c_uint, c_void};

/// `struct lttng_ust_tracepoint_probe`: one entry of a call site's probe array.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TracepointProbe {
    pub func: Option<unsafe extern "C" fn()>,
    pub data: *mut c_void,
}

/// `struct lttng_ust_tracepoint` (56 B), one per call site object, in the app's sections.
#[repr(C)]
#[derive(Debug)]
pub struct Tracepoint {
    pub struct_size: u32,
    pub provider_name: *const c_char,
    pub event_name: *const c_char,
    /// Read by call sites with a plain load: nonzero = call the probes.
    pub state: c_int,
    pub probes: *mut TracepointProbe,
    pub tracepoint_provider_ref: *mut c_int,
    pub signature: *const c_char,
}

#[repr(C)]
#[derive(Debug)]
pub struct ProbeDesc {
    pub struct_size: u32,
    pub provider_name: *const c_char,
    pub event_desc: *const *const EventDesc,
    pub nr_events: c_uint,
    pub major: u32,
    pub minor: u32,
}

#[repr(C)]
#[derive(Debug)]
pub struct EventDesc {
    pub struct_size: u32,
    pub event_name: *const c_char,
    pub probe_desc: *const ProbeDesc,
    pub tp_class: *const TracepointClass,
    pub loglevel: *const *const c_int,
    pub model_emf_uri: *const *const c_char,
}

#[repr(C)]
#[derive(Debug)]
pub struct TracepointClass {
    pub struct_size: u32,
    pub fields: *const *const EventField,
    pub nr_fields: usize,
    pub probe_callback: Option<unsafe extern "C" fn()>,
    pub signature: *const c_char,
    pub probe_desc: *const ProbeDesc,
}

#[repr(C)]
#[derive(Debug)]
pub struct EventField {
    pub struct_size: u32,
    pub name: *const c_char,
    pub type_: *const TypeCommon,
    /// bit 0 nowrite, bit 1 nofilter.
    pub bits: c_uint,
}

pub const TYPE_INTEGER: u32 = 0;
pub const TYPE_STRING: u32 = 1;
pub const TYPE_FLOAT: u32 = 2;
pub const TYPE_DYNAMIC: u32 = 3;
pub const TYPE_ENUM: u32 = 4;
pub const TYPE_ARRAY: u32 = 5;
pub const TYPE_SEQUENCE: u32 = 6;
pub const TYPE_STRUCT: u32 = 7;

pub const ENCODING_NONE: u32 = 0;

#[repr(C)]
#[derive(Debug)]
pub struct TypeCommon {
    pub type_: u32,
}

#[repr(C)]
#[derive(Debug)]
pub struct TypeInteger {
    pub parent: TypeCommon,
    pub struct_size: u32,
    pub size: c_uint,
    pub alignment: u16,
    /// bit 0 signed, bit 1 reverse byte order (C bit-fields packed after `alignment`).
    pub bits: u8,
    pub base: c_uint,
}

#[repr(C)]
#[derive(Debug)]
pub struct TypeFloat {
    pub parent: TypeCommon,
    pub struct_size: u32,
    pub exp_dig: c_uint,
    pub mant_dig: c_uint,
    pub alignment: u16,
    /// bit 0 reverse byte order (a C bit-field packed after `alignment`).
    pub bits: u8,
}

#[repr(C)]
#[derive(Debug)]
pub struct TypeString {
    pub parent: TypeCommon,
    pub struct_size: u32,
    pub encoding: u32,
}

#[repr(C)]
#[derive(Debug)]
pub struct TypeEnum {
    pub parent: TypeCommon,
    pub struct_size: u32,
    pub desc: *const EnumDesc,
    pub container_type: *const TypeCommon,
}

#[repr(C)]
#[derive(Debug)]
pub struct TypeArray {
    pub parent: TypeCommon,
    pub struct_size: u32,
    pub elem_type: *const TypeCommon,
    pub length: c_uint,
    pub alignment: c_uint,
    pub encoding: u32,
}

#[repr(C)]
#[derive(Debug)]
pub struct TypeSequence {
    pub parent: TypeCommon,
    pub struct_size: u32,
    pub length_name: *const c_char,
    pub elem_type: *const TypeCommon,
    pub alignment: c_uint,
    pub encoding: u32,
}

#[repr(C)]
#[derive(Debug)]
pub struct TypeStruct {
    pub parent: TypeCommon,
    pub struct_size: u32,
    pub nr_fields: c_uint,
    pub fields: *const *const EventField,
    pub alignment: c_uint,
}

#[repr(C)]
#[derive(Debug)]
pub struct EnumDesc {
    pub struct_size: u32,
    pub name: *const c_char,
    pub entries: *const *const EnumEntry,
    pub nr_entries: c_uint,
    pub probe_desc: *const ProbeDesc,
}

#[repr(C)]
#[derive(Debug)]
pub struct EnumValue {
    pub value: u64,
    /// bit 0 signed.
    pub bits: c_uint,
}

#[repr(C)]
#[derive(Debug)]
pub struct EnumEntry {
    pub struct_size: u32,
    pub start: EnumValue,
    pub end: EnumValue,
    pub string: *const c_char,
    /// bit 0: automatic value.
    pub options: c_uint,
}

#[repr(C)]
#[derive(Debug)]
pub struct ProbeCtx {
    pub struct_size: u32,
    pub ip: *mut c_void,
}

#[repr(C)]
#[derive(Debug)]
pub struct EventCommon {
    pub struct_size: u32,
    pub priv_: *mut c_void,
    pub type_: u32,
    pub child: *mut c_void,
    pub enabled: c_int,
    pub eval_filter: c_int,
    pub run_filter: Option<
        unsafe extern "C" fn(
            *const EventCommon,
            *const c_char,
            *mut ProbeCtx,
            *mut c_void,
        ) -> c_int,
    >,
}

#[repr(C)]
#[derive(Debug)]
pub struct EventRecorder {
    pub struct_size: u32,
    pub parent: *mut EventCommon,
    pub priv_: *mut c_void,
    pub chan: *mut ChannelBuffer,
}

#[repr(C)]
#[derive(Debug)]
pub struct ChannelCommon {
    pub struct_size: u32,
    pub priv_: *mut c_void,
    pub type_: u32,
    pub child: *mut c_void,
    pub enabled: c_int,
    pub session: *mut Session,
}

#[repr(C)]
#[derive(Debug)]
pub struct ChannelBuffer {
    pub struct_size: u32,
    pub parent: *mut ChannelCommon,
    pub priv_: *mut c_void,
    pub ops: *mut ChannelBufferOps,
}

#[repr(C)]
#[derive(Debug)]
pub struct Session {
    pub struct_size: u32,
    pub priv_: *mut c_void,
    pub active: c_int,
}

#[repr(C)]
#[derive(Debug)]
pub struct ChannelBufferOps {
    pub struct_size: u32,
    pub priv_: *mut c_void,
    pub event_reserve: unsafe extern "C" fn(*mut RingBufferCtx) -> c_int,
    pub event_commit: unsafe extern "C" fn(*mut RingBufferCtx),
    pub event_write: unsafe extern "C" fn(*mut RingBufferCtx, *const c_void, usize, usize),
    pub event_strcpy: unsafe extern "C" fn(*mut RingBufferCtx, *const c_char, usize),
    pub event_pstrcpy_pad: unsafe extern "C" fn(*mut RingBufferCtx, *const c_char, usize),
}

#[repr(C)]
#[derive(Debug)]
pub struct RingBufferCtx {
    pub struct_size: u32,
    pub client_priv: *mut c_void,
    pub data_size: usize,
    pub largest_align: c_int,
    pub probe_ctx: *mut ProbeCtx,
    pub priv_: *mut c_void,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<Tracepoint>() == 56);
    assert!(offset_of!(Tracepoint, state) == 24);
    assert!(offset_of!(Tracepoint, signature) == 48);
    assert!(size_of::<ProbeDesc>() == 40);
    assert!(offset_of!(ProbeDesc, major) == 28);
    assert!(size_of::<EventDesc>() == 48);
    assert!(size_of::<TracepointClass>() == 48);
    assert!(size_of::<EventField>() == 32);
    assert!(offset_of!(EventField, bits) == 24);
    assert!(size_of::<TypeInteger>() == 20);
    assert!(offset_of!(TypeInteger, alignment) == 12);
    assert!(offset_of!(TypeInteger, bits) == 14);
    assert!(offset_of!(TypeInteger, base) == 16);
    assert!(size_of::<TypeFloat>() == 20);
    assert!(offset_of!(TypeFloat, alignment) == 16);
    assert!(offset_of!(TypeFloat, bits) == 18);
    assert!(offset_of!(TypeArray, length) == 16);
    assert!(offset_of!(TypeSequence, alignment) == 24);
    assert!(offset_of!(TypeStruct, fields) == 16);
    assert!(size_of::<EnumDesc>() == 40);
    assert!(size_of::<EnumEntry>() == 56);
    assert!(offset_of!(EnumEntry, string) == 40);
    assert!(size_of::<EventCommon>() == 48);
    assert!(size_of::<EventRecorder>() == 32);
    assert!(size_of::<ChannelCommon>() == 48);
    assert!(size_of::<ChannelBuffer>() == 32);
    assert!(size_of::<Session>() == 24);
    assert!(size_of::<ChannelBufferOps>() == 56);
    assert!(size_of::<RingBufferCtx>() == 48);
};
