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
//! It prints `sent` after the hello, `got` for each command, `registered` when the daemon
//! says registration is done,
//! and `closed` when the daemon hangs up (then it exits 0). It deliberately does nothing else:
//! it maps no buffer and writes no event.
//!
//! Other attacks, as `rogue_app RUNDIR --MODE N`:
//! `--conns N` opens N app connections that each announce a 4 MiB hello, send 64 KiB of it
//! and stall; `--clients N` opens N client connections that trickle one byte of a request
//! per second each; both print `opened K`, then `all closed` once the daemon closed every
//! one (or give up after a minute). `--sessions N` creates N sessions over one client
//! connection and prints `created K refused M`.

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

/// Most time a flooding mode waits for the daemon to close its connections.
const FLOOD_MAX: std::time::Duration = std::time::Duration::from_secs(60);

/// Holds `conns`, writing `trickle` (if any) one byte per second to each, until the daemon
/// closed them all or FLOOD_MAX passed.
fn hold(conns: Vec<UnixStream>, trickle: Option<u8>) {
    say(&format!("opened {}", conns.len()));
    let mut open: Vec<UnixStream> = conns;
    for s in &open {
        let _ = s.set_nonblocking(true);
    }
    let end = std::time::Instant::now() + FLOOD_MAX;
    while !open.is_empty() && std::time::Instant::now() < end {
        open.retain(|s| {
            let mut b = [0u8; 256];
            let mut r = s;
            match std::io::Read::read(&mut r, &mut b) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
            match trickle {
                Some(byte) => {
                    let mut w = s;
                    std::io::Write::write(&mut w, &[byte]).is_ok()
                }
                None => true,
            }
        });
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    if open.is_empty() {
        say("all closed");
    } else {
        say(&format!("still open {}", open.len()));
    }
}

fn flood(rundir: &str, mode: &str, n: usize) {
    let dir = std::path::Path::new(rundir);
    match mode {
        "--conns" => {
            let mut conns = Vec::new();
            // A frame header announcing the largest hello, and a part of its payload.
            let mut head = rttng_proto::frame::encode_header(
                Kind::AppHello,
                rttng_proto::frame::MAX_PAYLOAD_BYTES,
            )
            .to_vec();
            head.resize(head.len() + (64 << 10), 0x55);
            for _ in 0..n {
                let Ok(s) = UnixStream::connect(dir.join(paths::APP_SOCKET)) else {
                    break;
                };
                let _ = s.set_write_timeout(Some(std::time::Duration::from_secs(1)));
                let mut w = &s;
                let _ = std::io::Write::write_all(&mut w, &head);
                conns.push(s);
            }
            hold(conns, None);
        }
        "--clients" => {
            let mut conns = Vec::new();
            for _ in 0..n {
                let Ok(s) = UnixStream::connect(dir.join(paths::CLIENT_SOCKET)) else {
                    break;
                };
                conns.push(s);
            }
            // The magic's first byte, then more bytes that never make a whole header.
            hold(conns, Some(b'R'));
        }
        "--sessions" => {
            let s = match UnixStream::connect(dir.join(paths::CLIENT_SOCKET)) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("rogue_app: cannot connect: {e}");
                    std::process::exit(1);
                }
            };
            let (mut created, mut refused) = (0, 0);
            for i in 0..n {
                let req = Request::CreateSession {
                    name: Some(format!("rogue{i}")),
                    output: Some(format!("/tmp/rogue-{}-{i}", std::process::id())),
                    live_timer_us: 0,
                };
                if sock::send(&s, Kind::Request, &req, None).is_err() {
                    break;
                }
                match sock::recv::<Response>(&s, Kind::Response) {
                    Ok((Response::SessionCreated { .. }, _)) => created += 1,
                    Ok(_) => refused += 1,
                    Err(_) => break,
                }
            }
            say(&format!("created {created} refused {refused}"));
        }
        _ => {
            eprintln!("rogue_app: unknown mode {mode}");
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let (Some(rundir), Some(mode), Some(n)) = (args.get(1), args.get(2), args.get(3)) {
        if let (true, Ok(n)) = (mode.starts_with("--"), n.parse::<usize>()) {
            flood(rundir, mode, n);
            return;
        }
    }
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
                say("got");
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
