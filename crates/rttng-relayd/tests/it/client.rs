//! A relay-protocol peer for the tests, built on `rttng_relay_proto`: it drives a session as
//! lttng-consumerd does (VERSION, GET_CONFIGURATION, CREATE_SESSION, CREATE_TRACE_CHUNK,
//! ADD_STREAM, packets on the data port with SEND_INDEX, SEND_METADATA, data pending,
//! CLOSE_STREAM), and replays a recorded LTTng trace directory packet by packet from its index
//! files. It can stop mid-packet, to play a peer that dies.

use rttng_ctf::index::decode_index;
use rttng_relay_proto::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// Replies must come within this bound.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Client {
    pub ctl: TcpStream,
    pub data: TcpStream,
    pub session_id: u64,
    pub session_dir: String,
}

pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the relay");
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    s
}

pub fn send(ctl: &mut TcpStream, cmd: Command, payload: &[u8]) {
    ctl.write_all(&encode_request(cmd, payload))
        .expect("send request");
}

pub fn read_n(ctl: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    ctl.read_exact(&mut b).expect("read reply");
    b
}

pub fn read_u32(ctl: &mut TcpStream) -> u32 {
    u32::from_be_bytes(read_n(ctl, 4).try_into().unwrap())
}

/// Whether the relay closed the connection (EOF or reset) without sending more.
pub fn closed_by_relay(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

pub fn create_session_msg(name: &str, host: &str) -> CreateSession {
    CreateSession {
        session_name: name.into(),
        hostname: host.into(),
        base_path: String::new(),
        live_timer_us: 0,
        snapshot: false,
        name_contains_creation_time: false,
        sessiond_uuid: [0x42; 16],
        sessiond_session_id: 7,
        creation_time_s: 1_765_065_092,
        current_chunk_id: None,
    }
}

/// VERSION on a fresh control connection; returns the relay's answer.
pub fn version(ctl: &mut TcpStream) -> Version {
    send(
        ctl,
        Command::Version,
        &Version {
            major: 2,
            minor: 13,
        }
        .encode(),
    );
    Version::decode(&read_n(ctl, VERSION_BYTES)).unwrap()
}

impl Client {
    /// Connects both ports and sets a session up with chunk 0, as a 2.13 consumer would.
    pub fn open(ctrl_port: u16, data_port: u16, name: &str, host: &str) -> Client {
        let mut ctl = connect(ctrl_port);
        assert_eq!(
            version(&mut ctl),
            Version {
                major: 2,
                minor: 13
            }
        );
        send(&mut ctl, Command::GetConfiguration, &U64Arg(0).encode());
        let c = ConfigurationReply::decode(&read_n(&mut ctl, CONFIGURATION_REPLY_BYTES)).unwrap();
        assert_eq!(c.ret_code, ret::OK);
        send(
            &mut ctl,
            Command::CreateSession,
            &create_session_msg(name, host).encode(),
        );
        let fixed = read_n(&mut ctl, CREATE_SESSION_REPLY_FIXED_BYTES);
        let (session_id, code, path_len) = CreateSessionReply::decode_fixed(&fixed).unwrap();
        assert_eq!(code, ret::OK, "CREATE_SESSION refused");
        let path = read_n(&mut ctl, path_len as usize);
        let session_dir = String::from_utf8(path[..path.len() - 1].to_vec()).unwrap();
        let data = connect(data_port);
        let mut c = Client {
            ctl,
            data,
            session_id,
            session_dir,
        };
        c.generic(
            Command::CreateTraceChunk,
            &CreateTraceChunk {
                chunk_id: 0,
                creation_timestamp_s: 1_765_065_093,
                override_name: None,
            }
            .encode(),
        );
        c
    }

    /// A request with a generic reply that must be OK.
    pub fn generic(&mut self, cmd: Command, payload: &[u8]) {
        send(&mut self.ctl, cmd, payload);
        assert_eq!(read_u32(&mut self.ctl), ret::OK, "{cmd:?} refused");
    }

    pub fn add_stream(&mut self, channel: &str, path: &str, size: u64, count: u64) -> u64 {
        send(
            &mut self.ctl,
            Command::AddStream,
            &AddStream {
                channel_name: channel.into(),
                pathname: path.into(),
                tracefile_size_bytes: size,
                tracefile_count: count,
                trace_chunk_id: 0,
            }
            .encode(),
        );
        let r = AddStreamReply::decode(&read_n(&mut self.ctl, ADD_STREAM_REPLY_BYTES)).unwrap();
        assert_eq!(r.ret_code, ret::OK, "ADD_STREAM {path}/{channel} refused");
        r.handle
    }

    pub fn send_metadata(&mut self, handle: u64, bytes: &[u8]) {
        let mut p = MetadataHeader {
            stream_id: handle,
            padding_size: 0,
        }
        .encode()
        .to_vec();
        p.extend_from_slice(bytes);
        send(&mut self.ctl, Command::SendMetadata, &p);
    }

    pub fn send_packet(&mut self, handle: u64, seq: u64, bytes: &[u8]) {
        let h = DataHeader {
            stream_id: handle,
            net_seq_num: seq,
            data_size: bytes.len() as u32,
            padding_size: 0,
        };
        self.data.write_all(&h.encode()).unwrap();
        self.data.write_all(bytes).unwrap();
    }

    pub fn send_index(&mut self, idx: &SendIndex) {
        self.generic(Command::SendIndex, &idx.encode());
    }

    pub fn data_pending(&mut self, handle: u64, last: u64) -> u32 {
        send(
            &mut self.ctl,
            Command::DataPending,
            &StreamSeq {
                stream_id: handle,
                last_net_seq_num: last,
            }
            .encode(),
        );
        read_u32(&mut self.ctl)
    }

    pub fn close_stream(&mut self, handle: u64, last: u64) {
        self.generic(
            Command::CloseStream,
            &StreamSeq {
                stream_id: handle,
                last_net_seq_num: last,
            }
            .encode(),
        );
    }
}

/// How a replay ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Data pending until nothing pends, CLOSE_STREAM for every stream, then close.
    Clean,
    /// The last packet of the first data stream: its index, then half its bytes, then both
    /// sockets close.
    DieMidPacket,
}

/// What a replay sent.
#[derive(Debug, Default)]
pub struct Replayed {
    /// (file name, bytes of whole packets sent) per data stream.
    pub whole_bytes: Vec<(String, u64)>,
    pub packets: u64,
}

/// Sends the trace in `src` (one CTF trace directory with `index/`) as stream path `path`.
pub fn replay(client: &mut Client, src: &Path, path: &str, ending: Ending) -> Replayed {
    replay_with(client, src, path, ending, (0, 0))
}

/// [`replay`] with streams given a tracefile size and count.
pub fn replay_with(
    client: &mut Client,
    src: &Path,
    path: &str,
    ending: Ending,
    tracefile: (u64, u64),
) -> Replayed {
    let mut files: Vec<String> = std::fs::read_dir(src)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "metadata")
        .collect();
    files.sort();
    let mut handles = Vec::new();
    for f in &files {
        handles.push(client.add_stream(f, path, tracefile.0, tracefile.1));
    }
    let meta = client.add_stream("metadata", path, 0, 0);
    client.generic(Command::StreamsSent, &[]);
    // Metadata in 4 KiB messages, as consumerd sends its packetized sub-buffers.
    let m = std::fs::read(src.join("metadata")).unwrap();
    for chunk in m.chunks(4096) {
        client.send_metadata(meta, chunk);
    }
    let mut out = Replayed::default();
    let mut last_seq = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let data = std::fs::read(src.join(f)).unwrap();
        let idx = decode_index(
            &std::fs::read(src.join("index").join(format!("{f}.idx"))).unwrap(),
            None,
        )
        .unwrap();
        let n = idx.entries.len();
        let mut whole = 0u64;
        for (seq, e) in idx.entries.iter().enumerate() {
            let bytes =
                &data[e.offset_bytes as usize..(e.offset_bytes + e.packet_size_bits / 8) as usize];
            let sidx = SendIndex {
                relay_stream_id: handles[i],
                net_seq_num: seq as u64,
                packet_size_bits: e.packet_size_bits,
                content_size_bits: e.content_size_bits,
                timestamp_begin: e.timestamp_begin,
                timestamp_end: e.timestamp_end,
                events_discarded: e.events_discarded,
                stream_class_id: e.stream_id,
                stream_instance_id: e.stream_instance_id.unwrap_or(0),
                packet_seq_num: e.packet_seq_num.unwrap_or(seq as u64),
            };
            if ending == Ending::DieMidPacket && i == 0 && seq + 1 == n {
                // The index first, then half the packet, then the peer is gone.
                client.send_index(&sidx);
                let h = DataHeader {
                    stream_id: handles[i],
                    net_seq_num: seq as u64,
                    data_size: bytes.len() as u32,
                    padding_size: 0,
                };
                client.data.write_all(&h.encode()).unwrap();
                client.data.write_all(&bytes[..bytes.len() / 2]).unwrap();
                client.data.flush().unwrap();
                out.whole_bytes.push((f.clone(), whole));
                let _ = client.data.shutdown(std::net::Shutdown::Both);
                let _ = client.ctl.shutdown(std::net::Shutdown::Both);
                return out;
            }
            client.send_packet(handles[i], seq as u64, bytes);
            client.send_index(&sidx);
            whole += bytes.len() as u64;
            out.packets += 1;
        }
        out.whole_bytes.push((f.clone(), whole));
        last_seq.push(n as u64 - 1);
    }
    // Stop: wait until the relay holds everything, then close every stream.
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        client.generic(
            Command::BeginDataPending,
            &U64Arg(client.session_id).encode(),
        );
        let mut pending = false;
        for (h, l) in handles.iter().zip(&last_seq) {
            pending |= client.data_pending(*h, *l) == 1;
        }
        client.generic(Command::QuiescentControl, &U64Arg(meta).encode());
        send(
            &mut client.ctl,
            Command::EndDataPending,
            &U64Arg(client.session_id).encode(),
        );
        pending |= read_u32(&mut client.ctl) == 1;
        if !pending {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "data still pending after {REPLY_TIMEOUT:?}"
        );
        // The relay has the bytes in its socket buffer; ask again (no sleep: the round trip
        // paces the loop).
    }
    client.generic(
        Command::RotateStreams,
        &RotateStreams {
            new_chunk_id: None,
            positions: Vec::new(),
        }
        .encode(),
    );
    send(
        &mut client.ctl,
        Command::CloseTraceChunk,
        &CloseTraceChunk {
            chunk_id: 0,
            close_timestamp_s: 1_765_065_099,
            close_command: None,
        }
        .encode(),
    );
    assert_eq!(read_u32(&mut client.ctl), ret::OK);
    let len = read_u32(&mut client.ctl);
    let p = read_n(&mut client.ctl, len as usize);
    assert_eq!(&p[..p.len() - 1], client.session_dir.as_bytes());
    client.close_stream(meta, NO_SEQ);
    for (h, l) in handles.iter().zip(&last_seq) {
        client.close_stream(*h, *l);
    }
    out
}
