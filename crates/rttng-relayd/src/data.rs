//! One data connection (port 5343): a sequence of packet headers, each followed by its packet,
//! copied into the stream's current tracefile at the place reserved for it. There is no
//! handshake and no reply. A packet for an unknown stream, from a host other than the one
//! that created the stream, or beyond the size bound ends the connection with a log line; a
//! peer that disconnects mid-packet leaves the stream ending at its last whole packet.

use crate::net::{self, Fill};
use crate::state::Relay;
use crate::{log_error, log_info};
use anyhow::{bail, Context, Result};
use rttng_relay_proto::{DataHeader, DATA_HEADER_BYTES};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Most distinct streams one data connection feeds (one consumer's streams of one session).
pub const MAX_STREAMS_PER_DATA_CONNECTION: usize = 1 << 16;

static NEXT_DATA_CONN: AtomicU64 = AtomicU64::new(1);

/// Serves one data connection until it ends.
pub fn serve(relay: Arc<Relay>, mut sock: TcpStream, peer: SocketAddr) {
    let conn = NEXT_DATA_CONN.fetch_add(1, Ordering::Relaxed);
    log_info!("data connection {conn} from {peer}");
    let mut fed = Vec::new();
    match run(&relay, &mut sock, peer, conn, &mut fed) {
        Ok(()) => log_info!("data connection {conn} from {peer} closed"),
        Err(e) => log_error!("data connection from {peer}: {e:#}; closing it"),
    }
    relay.data_gone(conn, &fed);
}

fn run(
    relay: &Relay,
    sock: &mut TcpStream,
    peer: SocketAddr,
    conn: u64,
    fed: &mut Vec<u64>,
) -> Result<()> {
    let mut buf = vec![0u8; net::COPY_BUFFER_BYTES];
    // Without a pipe (descriptors exhausted), packets are copied instead.
    let mut pipe = crate::sys::Pipe::new(net::SPLICE_PIPE_BYTES).ok();
    loop {
        let mut hb = [0u8; DATA_HEADER_BYTES];
        match net::fill(sock, &mut hb).context("cannot read a packet header")? {
            Fill::Full => {}
            Fill::Eof => return Ok(()),
            Fill::Truncated { got } => {
                bail!("truncated packet header ({got} of {DATA_HEADER_BYTES} bytes)")
            }
        }
        let h = DataHeader::decode(&hb).context("refused packet")?;
        let Some(stream) = relay.stream(h.stream_id) else {
            bail!("refused packet for unknown stream {}", h.stream_id);
        };
        if stream.session.spec.peer_ip != peer.ip() {
            bail!(
                "refused packet for stream {}: its session belongs to host {}",
                h.stream_id,
                stream.session.spec.peer_ip
            );
        }
        if stream.is_metadata {
            bail!("refused packet for metadata stream {}", h.stream_id);
        }
        if !fed.contains(&h.stream_id) {
            if fed.len() >= MAX_STREAMS_PER_DATA_CONNECTION {
                bail!("more than {MAX_STREAMS_PER_DATA_CONNECTION} streams on one connection");
            }
            fed.push(h.stream_id);
        }
        let total = h.data_size as u64 + h.padding_size as u64;
        let res = stream.begin_packet(conn, total)?;
        if let Err(e) = net::packet_to_file(
            sock,
            &mut pipe,
            &mut buf,
            &res.file,
            res.offset,
            h.data_size as u64,
            h.padding_size as u64,
        ) {
            stream.abort_write();
            return Err(e).context(format!(
                "packet {} of stream {} did not arrive whole; the stream keeps its packets before it",
                h.net_seq_num, h.stream_id
            ));
        }
        stream.complete_packet(h.net_seq_num)?;
        relay.close_if_done(&stream);
    }
}
