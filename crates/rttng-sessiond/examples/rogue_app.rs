//! `rogue_app`: a hostile "application" for the security tests of the session daemon. It
//! speaks the app protocol directly (no tracer), so it can declare what a real tracer never
//! would: `rogue_app RUNDIR ATTACK MODE`.
//!
//! ATTACK chooses the hello: `none` (a well-formed one), `freq0` (clock frequency 0),
//! `offset` (clock offsets near i64::MAX), `clock-name` (a clock name that is no identifier),
//! `huge-array` (an array of 2^63 elements), `bad-seq` (a sequence whose length field does
//! not exist), `dup-field` (two fields of one name), `enum-empty` (an enum without labels),
//! `bitness` (a 7-bit process), `huge-static` (a payload of 2^40 bytes in nested arrays).
//! MODE: `answer` answers every command with `Ok`; `mute` reads commands and never answers.
//!
//! It prints `sent` after the hello, `registered` when the daemon says registration is done,
//! and `closed` when the daemon hangs up (then it exits 0). It deliberately does nothing else:
//! it maps no buffer and writes no event.

use rttng_ctf::ir::{
    ArrayClass, ByteOrder, DisplayBase, Encoding, EnumClass, FieldClass, IntegerClass,
    SequenceClass, StructClass, StructMember,
};
use rttng_proto::sock::{self, RecvError};
use rttng_proto::*;
use std::io::Write;
use std::os::unix::net::UnixStream;

fn int(size_bits: u32) -> FieldClass {
    FieldClass::Integer(IntegerClass {
        size_bits,
        align_bits: 8,
        signed: false,
        byte_order: ByteOrder::Little,
        base: DisplayBase::Decimal,
        encoding: Encoding::None,
        mapped_clock: None,
        role: None,
        store_slot: None,
    })
}

fn record(members: Vec<(&str, FieldClass)>) -> FieldClass {
    FieldClass::Struct(StructClass {
        members: members
            .into_iter()
            .map(|(n, class)| StructMember {
                name: n.to_string(),
                class,
            })
            .collect(),
        min_align_bits: 8,
    })
}

fn array(element: FieldClass, length: u64) -> FieldClass {
    FieldClass::Array(ArrayClass {
        element: Box::new(element),
        length,
    })
}

fn hello(attack: &str) -> Option<AppHello> {
    let mut clock = ClockDesc {
        name: "monotonic".into(),
        description: "Monotonic Clock".into(),
        freq: 1_000_000_000,
        offset_s: 1_700_000_000,
        offset: 0,
        precision: 0,
        uuid: None,
        absolute: false,
    };
    let mut bitness = 64;
    let mut fields = record(vec![("_seq", int(64))]);
    match attack {
        "none" => {}
        "freq0" => clock.freq = 0,
        "offset" => {
            clock.offset_s = i64::MAX;
            clock.offset = i64::MAX;
        }
        "clock-name" => clock.name = "mono tonic".into(),
        "huge-array" => fields = record(vec![("_a", array(int(8), 1 << 63))]),
        "bad-seq" => {
            fields = record(vec![(
                "_s",
                FieldClass::Sequence(SequenceClass {
                    element: Box::new(int(8)),
                    length_ref: "_no_such_field".into(),
                    length_slot: 0,
                }),
            )])
        }
        "dup-field" => fields = record(vec![("_a", int(32)), ("_a", int(32))]),
        "enum-empty" => {
            let FieldClass::Integer(container) = int(32) else {
                return None;
            };
            fields = record(vec![(
                "_e",
                FieldClass::Enum(EnumClass {
                    container,
                    mappings: Vec::new(),
                }),
            )])
        }
        "bitness" => bitness = 7,
        "huge-static" => {
            fields = record(vec![(
                "_a",
                array(array(array(int(64), 1 << 13), 1 << 13), 1 << 13),
            )])
        }
        _ => return None,
    }
    Some(AppHello {
        pid: 0,
        uid: 0,
        procname: "rogue".into(),
        bitness,
        clock,
        events: vec![EventDesc {
            index: 0,
            name: "rogue:event".into(),
            loglevel: 13,
            fields,
        }],
    })
}

fn say(what: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{what}");
    let _ = out.flush();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(rundir), Some(attack), Some(mode)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: rogue_app RUNDIR ATTACK answer|mute");
        std::process::exit(2);
    };
    let Some(hello) = hello(attack) else {
        eprintln!("rogue_app: unknown attack {attack}");
        std::process::exit(2);
    };
    let path = std::path::Path::new(rundir).join(paths::APP_SOCKET);
    let s = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rogue_app: cannot connect to {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    if let Err(e) = sock::send(&s, Kind::AppHello, &hello, None) {
        eprintln!("rogue_app: cannot send the hello: {e}");
        std::process::exit(1);
    }
    say("sent");
    loop {
        match sock::recv::<AppCommand>(&s, Kind::AppCommand) {
            Ok((cmd, _fd)) => {
                if cmd == AppCommand::RegistrationDone {
                    say("registered");
                }
                if mode == "answer" {
                    let reply = AppReply::Ok {
                        context_class: None,
                    };
                    if sock::send(&s, Kind::AppReply, &reply, None).is_err() {
                        break;
                    }
                }
            }
            Err(RecvError::Closed) | Err(RecvError::Io(_)) => break,
            Err(RecvError::Frame(e)) => {
                eprintln!("rogue_app: bad frame from the daemon: {e}");
                break;
            }
        }
    }
    say("closed");
}
