//! rttng-live's live port against its real peer: babeltrace2 2.0's unmodified `lttng-live`
//! client reads a trace directory while it is being written, served by `server::LiveServer`
//! over `dir::DirRelay`; a second babeltrace2 attaches late; a viewer that stops reading and a
//! client that sends garbage slow nobody down. rttng's own client (`viewer` + the live merge +
//! `rttng_text`) reads the same session and prints the same text.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rttng_live::dir::{DirRelay, DirSession};
use rttng_live::proto::{Command, *};
use rttng_live::server::{LiveServer, RelaySession};
use rttng_live::url::LiveUrl;

const STREAMS: u64 = 2;
const PACKETS_PER_STREAM: u64 = 30;
const EVENTS_PER_PACKET: u64 = 20;
/// Between two rounds of packets (one per stream).
const WRITE_PERIOD: Duration = Duration::from_millis(40);
const TIMEOUT: Duration = Duration::from_secs(60);

fn require_babeltrace2() {
    let ok = Process::new("babeltrace2")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "babeltrace2 is needed; install it with: apt-get install babeltrace2"
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rttng-live-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes the metadata now, then each stream's packets, one round every [`WRITE_PERIOD`],
/// appended to the stream files as a consumer would; counts the rounds written.
fn write_growing_trace(dir: &Path, rounds_done: &AtomicU64, gate: &AtomicBool) {
    use rttng_ctf::encode::BitWriter;
    use rttng_ctf::ir::{ByteOrder, Encoding, FieldClass, StringClass};
    use rttng_ctf::lttng::{EventHeaderKind, LttngLayout};
    use rttng_ctf::writer::{self, HeaderForm, PacketOpen};

    let le = ByteOrder::Little;
    let layout = LttngLayout::x86_64();
    let fields = rttng_ctf::ir::struct_class(
        vec![
            (
                "seq",
                FieldClass::Integer(rttng_ctf::ir::uint_class(64, 8, le)),
            ),
            (
                "msg",
                FieldClass::String(StringClass {
                    encoding: Encoding::Utf8,
                }),
            ),
        ],
        1,
    );
    let mut md = layout.metadata(
        *b"rttng-live-it-00",
        rttng_ctf::lttng::monotonic_clock(None, 1_700_000_000_000_000_000),
        rttng_ctf::lttng::ust_uid_env("host", "grow", "20231114T221320+0000", 0),
    );
    let mut sc = layout.stream_class(0, EventHeaderKind::Large, None);
    sc.events.push(rttng_ctf::lttng::event_class(
        0,
        0,
        "it:tick",
        Some(13),
        fields,
    ));
    md.streams.push(sc);
    std::fs::write(dir.join("metadata"), rttng_ctf::emit::emit_metadata(&md)).unwrap();
    let mut writers: Vec<_> = (0..STREAMS)
        .map(|s| writer::StreamWriter::new(&md, 0, s).unwrap())
        .collect();
    // Wait for the first viewer to attach before writing data.
    let start = Instant::now();
    while !gate.load(Ordering::Acquire) && start.elapsed() < TIMEOUT {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut ts = 1_000u64;
    for round in 0..PACKETS_PER_STREAM {
        for (s, w) in writers.iter_mut().enumerate() {
            w.open_packet(&PacketOpen {
                timestamp_begin: ts,
                packet_seq_num: round,
                cpu_id: s as u64,
                ..PacketOpen::default()
            })
            .unwrap();
            for k in 0..EVENTS_PER_PACKET {
                ts += 3 + s as u64;
                let seq = (round * EVENTS_PER_PACKET + k) * STREAMS + s as u64;
                w.append_event_raw(0, ts, HeaderForm::Auto, |b: &mut BitWriter| {
                    b.write_uint(seq, 64, le);
                    b.write_string(b"tick");
                })
                .unwrap();
            }
            w.close_packet(ts, writer::PacketSize::Bytes(4096)).unwrap();
            let bytes = w.take_data();
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("chan_{s}")))
                .unwrap();
            f.write_all(&bytes).unwrap();
        }
        rounds_done.store(round + 1, Ordering::Release);
        std::thread::sleep(WRITE_PERIOD);
    }
}

fn babeltrace2_live(url: &str, out: &Path) -> Child {
    // babeltrace2 writes through stdio, fully buffered into a file: line-buffer it (coreutils'
    // stdbuf) so that what it printed can be seen while it runs.
    Process::new("stdbuf")
        .args(["-oL", "babeltrace2", "-i", "lttng-live", url])
        .env("TZ", "UTC")
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
        .spawn()
        .expect("babeltrace2 starts")
}

fn wait_for(what: &str, mut pred: impl FnMut() -> bool) {
    let start = Instant::now();
    while !pred() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_child(c: &mut Child, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = c.kill();
            panic!("{what} did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn clients(url: &LiveUrl) -> u32 {
    rttng_live::viewer::list_sessions(url)
        .ok()
        .and_then(|v| v.first().map(|s| s.clients))
        .unwrap_or(0)
}

/// The line without its `(+delta)` column (the first line of any viewer has none).
fn without_delta(line: &str) -> String {
    match (line.find(" (+"), line.find(") ")) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &line[..a], &line[b + 1..]),
        _ => line.to_owned(),
    }
}

/// A viewer that attaches, asks for packets and never reads the replies.
fn stuck_viewer(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = Vec::new();
    let mut send = |cmd: Command, payload: &[u8]| {
        CmdHeader::new(cmd).encode(&mut req);
        req.extend_from_slice(payload);
    };
    let mut c = Vec::new();
    Connect {
        viewer_session_id: NO_VIEWER_SESSION_ID,
        major: 2,
        minor: 4,
        connection_type: 1,
    }
    .encode(&mut c);
    send(Command::Connect, &c);
    send(Command::CreateSession, &[]);
    let mut a = Vec::new();
    AttachRequest {
        session_id: 1,
        offset: 0,
        seek: SEEK_BEGINNING,
    }
    .encode(&mut a);
    send(Command::AttachSession, &a);
    // Stream ids are small numbers (the directory's files in order): ask for the first
    // packets, 16 MiB in all, far more than the sockets buffer.
    for _ in 0..2048 {
        for id in 1..=2u64 {
            let mut g = Vec::new();
            GetPacketRequest {
                stream_id: id,
                offset_bytes: 0,
                len_bytes: 4096,
            }
            .encode(&mut g);
            send(Command::GetPacket, &g);
        }
    }
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(&req);
    s
}

/// rttng's own client, in process: the live session, the live merge, the pretty printer.
fn rttng_view_live(url: LiveUrl) -> std::thread::JoinHandle<Result<Vec<u8>, String>> {
    std::thread::spawn(move || {
        let mut session =
            rttng_live::viewer::LiveSession::attach(&url).map_err(|e| e.to_string())?;
        let mut printer = rttng_text::PrettyPrinter::new(rttng_text::PrettyOptions {
            clock_gmt: true,
            ..rttng_text::PrettyOptions::default()
        });
        let mut out = Vec::new();
        rttng_reader::live::run(&mut session, &mut |m| {
            if let rttng_reader::live::LiveMessage::Event { view, trace, .. } = m {
                printer.write_event(view, &trace.name, &mut out);
            }
            true
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    })
}

#[test]
fn babeltrace2_reads_a_directory_while_it_is_written_two_viewers_one_late() {
    require_babeltrace2();
    let dir = temp_dir("grow");
    let trace = dir.join("trace");
    std::fs::create_dir_all(&trace).unwrap();
    let closed = Arc::new(AtomicBool::new(false));
    let relay = Arc::new(DirRelay::new(vec![DirSession {
        info: RelaySession {
            id: 1,
            hostname: "host".into(),
            name: "grow".into(),
            live_timer_us: 100_000,
        },
        root: trace.clone(),
        closed: closed.clone(),
    }]));
    let server = LiveServer::start("127.0.0.1:0", relay).expect("live port");
    let addr = server.local_addr();
    let url = format!("net://127.0.0.1:{}/host/host/grow", addr.port());
    let list_url = LiveUrl::parse(&format!("net://127.0.0.1:{}", addr.port())).unwrap();

    let rounds = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(AtomicBool::new(false));
    let writer = {
        let (trace, rounds, gate) = (trace.clone(), rounds.clone(), gate.clone());
        std::thread::spawn(move || write_growing_trace(&trace, &rounds, &gate))
    };
    wait_for("the metadata", || trace.join("metadata").exists());
    let first_out = dir.join("first.txt");
    let mut first = babeltrace2_live(&url, &first_out);
    wait_for("babeltrace2 attached", || clients(&list_url) == 1);
    let ours = rttng_view_live(LiveUrl::parse(&url).unwrap());
    wait_for("rttng's viewer attached", || clients(&list_url) == 2);
    gate.store(true, Ordering::Release);

    // Events on screen while the trace is still being written.
    wait_for("babeltrace2 printing", || {
        std::fs::metadata(&first_out).is_ok_and(|m| m.len() > 0)
    });
    let rounds_when_printed = rounds.load(Ordering::Acquire);
    // A viewer that stops reading from now on: its thread blocks, nobody else does.
    let stuck = stuck_viewer(addr);
    assert!(
        rounds_when_printed < PACKETS_PER_STREAM,
        "babeltrace2 printed only after all {PACKETS_PER_STREAM} rounds were written"
    );
    // A second viewer attaches halfway.
    wait_for("half the rounds", || {
        rounds.load(Ordering::Acquire) >= PACKETS_PER_STREAM / 2
    });
    let late_out = dir.join("late.txt");
    let mut late = babeltrace2_live(&url, &late_out);
    writer.join().unwrap();
    closed.store(true, Ordering::Release);

    let s1 = wait_child(&mut first, "the first babeltrace2");
    let s2 = wait_child(&mut late, "the late babeltrace2");
    let err = |p: &Path| std::fs::read_to_string(p.with_extension("err")).unwrap_or_default();
    assert!(s1.success(), "first viewer: {}", err(&first_out));
    assert!(s2.success(), "late viewer: {}", err(&late_out));
    let ours = ours.join().unwrap().expect("rttng's viewer");
    drop(stuck);

    // Everything, as babeltrace2 prints the finished files.
    let files = Process::new("babeltrace2")
        .arg(&trace)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(files.status.success());
    let expected = String::from_utf8(files.stdout).unwrap();
    assert_eq!(
        expected.lines().count() as u64,
        STREAMS * PACKETS_PER_STREAM * EVENTS_PER_PACKET
    );
    let first_text = std::fs::read_to_string(&first_out).unwrap();
    assert!(
        first_text == expected,
        "the first viewer's text differs from the files'"
    );
    assert!(
        String::from_utf8_lossy(&ours) == expected,
        "rttng's viewer differs from babeltrace2"
    );

    // The late viewer: a gapless suffix, from a packet boundary on.
    let late_text = std::fs::read_to_string(&late_out).unwrap();
    let late_lines: Vec<String> = late_text.lines().map(without_delta).collect();
    let all_lines: Vec<String> = expected.lines().map(without_delta).collect();
    assert!(
        !late_lines.is_empty() && late_lines.len() < all_lines.len(),
        "late viewer printed {} of {} lines",
        late_lines.len(),
        all_lines.len()
    );
    assert_eq!(
        late_lines[..],
        all_lines[all_lines.len() - late_lines.len()..],
        "the late viewer's events are not a gapless suffix"
    );
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_and_hang_ups_leave_the_live_port_serving() {
    let dir = temp_dir("garbage");
    let relay = Arc::new(DirRelay::new(vec![DirSession {
        info: RelaySession {
            id: 1,
            hostname: "host".into(),
            name: "s".into(),
            live_timer_us: 0,
        },
        root: dir.clone(),
        closed: Arc::new(AtomicBool::new(true)),
    }]));
    let server = LiveServer::start("127.0.0.1:0", relay).unwrap();
    let addr = server.local_addr();
    let cases: Vec<Vec<u8>> = vec![
        vec![0xff; 64],                     // a huge payload size
        b"GET / HTTP/1.0\r\n\r\n".to_vec(), // not the protocol
        {
            let mut v = Vec::new();
            CmdHeader::new(Command::ListSessions).encode(&mut v); // before CONNECT
            v
        },
        {
            let mut v = Vec::new();
            CmdHeader::new(Command::Connect).encode(&mut v);
            v.extend_from_slice(&[0; 7]); // cut mid-payload, then hang up
            v
        },
    ];
    for bytes in cases {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(&bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        // The server closes the connection (no reply to any of these).
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty(), "a reply to garbage: {rest:?}");
    }
    // Still serving, and a non-live session refuses attaching.
    let url = LiveUrl::parse(&format!("net://127.0.0.1:{}/host/host/s", addr.port())).unwrap();
    let listed = rttng_live::viewer::list_sessions(&url).expect("listing still works");
    assert_eq!(listed.len(), 1);
    let err = rttng_live::viewer::LiveSession::attach(&url)
        .err()
        .expect("attach refused");
    assert_eq!(
        err.to_string(),
        "cannot attach to session `s`: it is not a live session"
    );
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A relay whose stream's first six entries are in tracefiles already reused (as with
/// `--tracefile-count`), and whose entries 6..=9 each begin their own tracefile at offset 0.
struct Rotated {
    /// The entry each packet read was asked for.
    reads: std::sync::Mutex<Vec<Option<u64>>>,
}

const ROTATED_STREAM: u64 = 7;

impl rttng_live::server::LiveRelay for Rotated {
    fn sessions(&self) -> Vec<RelaySession> {
        vec![RelaySession {
            id: 1,
            hostname: "h".into(),
            name: "s".into(),
            live_timer_us: 100_000,
        }]
    }
    fn streams(&self, session: u64) -> Option<(Vec<rttng_live::server::RelayStream>, bool)> {
        (session == 1).then(|| {
            let s = rttng_live::server::RelayStream {
                id: ROTATED_STREAM,
                ctf_trace_id: 1,
                metadata: false,
                path: "ust/uid/0/64-bit".into(),
                channel: "chan_0".into(),
            };
            (vec![s], false)
        })
    }
    fn index_count(&self, _stream: u64) -> u64 {
        0
    }
    fn index(&self, _stream: u64, n: u64) -> rttng_live::server::IndexState {
        use rttng_live::server::{IndexState, RelayIndex};
        match n {
            0..=5 => IndexState::Gone { next: 6 },
            6..=9 => IndexState::Entry(RelayIndex {
                offset_bytes: 0,
                packet_size_bits: 16 * 8,
                content_size_bits: 16 * 8,
                timestamp_begin: n * 100,
                timestamp_end: n * 100 + 99,
                events_discarded: 0,
                stream_class_id: 0,
            }),
            _ => IndexState::Wait { beacon: None },
        }
    }
    fn read(
        &self,
        _stream: u64,
        entry: Option<u64>,
        _offset: u64,
        len: u32,
    ) -> std::io::Result<Vec<u8>> {
        self.reads.lock().unwrap().push(entry);
        Ok(vec![entry.map_or(255, |e| e as u8); len as usize])
    }
    fn metadata_len(&self, _stream: u64) -> Option<(u64, bool)> {
        None
    }
    fn read_metadata(&self, _stream: u64, _offset: u64, _len: u64) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::other("no metadata here"))
    }
}

/// Rotated tracefiles: a viewer behind a reused tracefile goes on from the oldest entry still
/// there (lttng-relayd's rule), and each packet is read from the tracefile of the entry the
/// viewer was given (every tracefile has its own offsets).
#[test]
fn the_live_port_skips_reused_tracefiles_and_reads_each_packet_from_its_entrys_file() {
    let relay = Arc::new(Rotated {
        reads: std::sync::Mutex::new(Vec::new()),
    });
    let server = LiveServer::start("127.0.0.1:0", relay.clone()).expect("live port");
    let port = server.local_addr().port();
    let mut c = rttng_live::client::Connection::connect("127.0.0.1", port).expect("connect");
    assert_eq!(c.create_session().unwrap(), CreateSessionStatus::Ok);
    let (status, streams) = c.attach(1).unwrap();
    assert_eq!(status, AttachStatus::Ok);
    assert_eq!(streams.len(), 1);
    for n in 6..=9u64 {
        let idx = c.get_next_index(ROTATED_STREAM).unwrap();
        assert_eq!(idx.status, IndexStatus::Ok, "entry {n}");
        assert_eq!(
            idx.timestamp_begin,
            n * 100,
            "entries 0..6 are skipped, then in order"
        );
        let (reply, bytes) = c.get_packet(ROTATED_STREAM, idx.offset_bytes, 16).unwrap();
        assert_eq!(reply.status, PacketStatus::Ok);
        assert_eq!(
            bytes,
            vec![n as u8; 16],
            "entry {n}'s packet from another file"
        );
    }
    assert_eq!(
        c.get_next_index(ROTATED_STREAM).unwrap().status,
        IndexStatus::Retry
    );
    assert_eq!(*relay.reads.lock().unwrap(), [6, 7, 8, 9].map(Some));
}
