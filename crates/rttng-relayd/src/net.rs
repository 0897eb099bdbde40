//! Socket helpers shared by the control and data connections: reading a whole header or
//! telling a clean end from a truncated one, moving a payload into a reserved file range (a
//! data connection splices through its pipe; otherwise one fixed buffer), and the connection
//! limit. No protocol knowledge.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most peer connections (control, data and live together) served at once; each costs a
/// thread and one [`COPY_BUFFER_BYTES`] buffer.
pub const MAX_CONNECTIONS: usize = 1024;
/// Payload bytes moved from a socket to a file per read.
pub const COPY_BUFFER_BYTES: usize = 64 * 1024;
/// Stack of a connection thread (buffers are on the heap).
pub const THREAD_STACK_BYTES: usize = 256 * 1024;

static OPEN_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// A slot in [`MAX_CONNECTIONS`], released on drop.
#[derive(Debug)]
pub struct ConnectionSlot(());

impl ConnectionSlot {
    pub fn acquire() -> Option<ConnectionSlot> {
        let prev = OPEN_CONNECTIONS.fetch_add(1, Ordering::AcqRel);
        if prev >= MAX_CONNECTIONS {
            OPEN_CONNECTIONS.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(ConnectionSlot(()))
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        OPEN_CONNECTIONS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How a read of a fixed-size header ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Fill {
    Full,
    /// The peer closed before the first byte: a clean end.
    Eof,
    /// The peer closed after `got` bytes.
    Truncated {
        got: usize,
    },
}

/// Reads exactly `buf.len()` bytes, unless the peer closes first.
pub fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<Fill> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(Fill::Eof),
            Ok(0) => return Ok(Fill::Truncated { got }),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Fill::Full)
}

/// Pipe capacity of a data connection's splice path: packet bytes go from the socket to the
/// file through the kernel, at most this much at a time.
pub const SPLICE_PIPE_BYTES: usize = 256 * 1024;

/// Moves `len` packet bytes from the socket to `file` at `offset`, then `padding` zero
/// bytes: spliced through `pipe` when it can (no copy in this process), else copied. A pipe
/// that cannot be used is dropped, so later packets are copied.
pub fn packet_to_file(
    sock: &mut std::net::TcpStream,
    pipe: &mut Option<crate::sys::Pipe>,
    buf: &mut [u8],
    file: &File,
    offset: u64,
    len: u64,
    padding: u64,
) -> io::Result<()> {
    let mut moved = 0;
    if let Some(p) = pipe {
        moved = crate::sys::splice_to_file(sock, p, buf, file, offset, len)?;
        if moved < len {
            *pipe = None;
        }
    }
    copy_to_file(sock, buf, file, offset + moved, len - moved, padding)
}

/// Copies `len` bytes from the socket to `file` at `offset`, then `padding` zero bytes.
pub fn copy_to_file(
    r: &mut impl Read,
    buf: &mut [u8],
    file: &File,
    offset: u64,
    len: u64,
    padding: u64,
) -> io::Result<()> {
    let mut done = 0u64;
    while done < len {
        let want = (len - done).min(buf.len() as u64) as usize;
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("peer closed after {done} of {len} payload bytes"),
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        file.write_all_at(&buf[..n], offset + done)?;
        done += n as u64;
    }
    if padding > 0 {
        buf.fill(0);
        let mut left = padding;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            file.write_all_at(&buf[..n], offset + len + (padding - left))?;
            left -= n as u64;
        }
    }
    Ok(())
}
