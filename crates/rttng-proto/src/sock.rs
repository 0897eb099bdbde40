//! Transport over Unix stream sockets: send and receive whole frames, with at most one file
//! descriptor attached (SCM_RIGHTS on the frame's first byte), and read the peer's
//! credentials (SO_PEERCRED). The frame header is validated before the payload is read, so
//! an oversized frame costs the receiver nothing. Not here: timeouts policy (callers set
//! `set_read_timeout`) and what the messages mean.

#![allow(unsafe_code)]

use crate::frame::{self, FrameError, Kind, HEADER_BYTES};
use crate::wire::Wire;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Credentials of the process at the other end of a socket, as the kernel reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Why a message could not be received.
#[derive(Debug)]
pub enum RecvError {
    /// The peer closed the connection before a frame started.
    Closed,
    Io(io::Error),
    Frame(FrameError),
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecvError::Closed => write!(f, "connection closed by the peer"),
            RecvError::Io(e) => write!(f, "{e}"),
            RecvError::Frame(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RecvError {}

impl From<io::Error> for RecvError {
    fn from(e: io::Error) -> Self {
        RecvError::Io(e)
    }
}

impl From<FrameError> for RecvError {
    fn from(e: FrameError) -> Self {
        RecvError::Frame(e)
    }
}

/// The peer's pid, uid and gid (SO_PEERCRED).
pub fn peer_cred(s: &UnixStream) -> io::Result<PeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a valid ucred we own.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred {
        pid: cred.pid as u32,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// Sends `msg` as one frame of `kind`, with `fd` attached if given.
pub fn send<T: Wire>(
    s: &UnixStream,
    kind: Kind,
    msg: &T,
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let bytes = frame::encode_frame(kind, msg)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    send_raw(s, &bytes, fd)
}

/// Sends raw bytes, attaching `fd` (if any) to the first byte.
pub fn send_raw(s: &UnixStream, bytes: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let Some(fd) = fd else {
        let mut w = s;
        return w.write_all(bytes);
    };
    if bytes.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot attach an fd to an empty message",
        ));
    }
    let raw: RawFd = fd.as_raw_fd();
    // cmsg buffer for one int, u64-aligned.
    let mut cbuf = [0u64; 4];
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: the control buffer is large enough for one cmsg with one fd (space ≤ 32 bytes);
    // CMSG_FIRSTHDR/CMSG_DATA point inside it.
    let sent = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::copy_nonoverlapping(
            &raw as *const RawFd as *const u8,
            libc::CMSG_DATA(c),
            std::mem::size_of::<RawFd>(),
        );
        libc::sendmsg(s.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let sent = sent as usize;
    if sent < bytes.len() {
        let mut w = s;
        w.write_all(&bytes[sent..])?;
    }
    Ok(())
}

/// Receives one frame of `kind`; returns the message and the fd attached to it, if any.
pub fn recv<T: Wire>(s: &UnixStream, kind: Kind) -> Result<(T, Option<OwnedFd>), RecvError> {
    let mut head = [0u8; HEADER_BYTES];
    let (got, fd) = recv_with_fd(s, &mut head)?;
    if got == 0 {
        return Err(RecvError::Closed);
    }
    if got < HEADER_BYTES {
        let mut r = s;
        r.read_exact(&mut head[got..])?;
    }
    let h = frame::decode_header(&head, kind)?;
    let mut payload = vec![0u8; h.payload_bytes as usize];
    let mut r = s;
    r.read_exact(&mut payload)?;
    let msg = crate::wire::decode_all::<T>(&payload).map_err(FrameError::Payload)?;
    Ok((msg, fd))
}

/// The kind of the next frame, without consuming it (waits for its first 12 bytes, within
/// the socket's read timeout): a receiver that accepts several kinds picks the decoder.
pub fn peek_kind(s: &UnixStream) -> Result<Kind, RecvError> {
    let mut head = [0u8; 12];
    loop {
        // SAFETY: `head` is valid for its length; MSG_PEEK leaves the bytes queued.
        let n = unsafe {
            libc::recv(
                s.as_raw_fd(),
                head.as_mut_ptr().cast(),
                head.len(),
                libc::MSG_PEEK | libc::MSG_WAITALL,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        if n == 0 {
            return Err(RecvError::Closed);
        }
        if (n as usize) < head.len() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short frame header").into());
        }
        break;
    }
    let raw = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    Kind::from_u32(raw).ok_or(RecvError::Frame(FrameError::UnknownKind { kind: raw }))
}

/// recvmsg into `buf` with room for one passed fd.
fn recv_with_fd(s: &UnixStream, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut cbuf = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: zeroed msghdr is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    loop {
        // SAFETY: iov and control buffers are valid for the sizes given; MSG_CMSG_CLOEXEC
        // makes received fds close-on-exec.
        let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut fd = None;
        // SAFETY: walking the control messages the kernel wrote into our buffer; every fd
        // in an SCM_RIGHTS message is now ours: the first is kept, others are closed.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c);
                    let payload = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    let count = payload / std::mem::size_of::<RawFd>();
                    for i in 0..count {
                        let mut raw: RawFd = -1;
                        std::ptr::copy_nonoverlapping(
                            data.add(i * std::mem::size_of::<RawFd>()),
                            &mut raw as *mut RawFd as *mut u8,
                            std::mem::size_of::<RawFd>(),
                        );
                        if raw >= 0 {
                            let owned = OwnedFd::from_raw_fd(raw);
                            if fd.is_none() {
                                fd = Some(owned);
                            }
                        }
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        return Ok((n as usize, fd));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{AppCommand, ChannelKey, Request, Response};
    use std::os::fd::AsFd;

    #[test]
    fn frames_and_fds_cross_a_socket_pair() {
        let (a, b) = UnixStream::pair().unwrap();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let cmd = AppCommand::InstallChannel {
            key: ChannelKey {
                session_id: 1,
                channel_id: 2,
            },
            stream_class_id: 0,
            contexts: vec![],
            app_contexts: vec![crate::msg::AppContextAt {
                position: 0,
                name: "myprov:text".into(),
            }],
        };
        send(&a, Kind::AppCommand, &cmd, Some(file.as_fd())).unwrap();
        send(&a, Kind::Request, &Request::Version, None).unwrap();
        let (got, fd) = recv::<AppCommand>(&b, Kind::AppCommand).unwrap();
        assert_eq!(got, cmd);
        let fd = fd.expect("fd passed");
        let m1 = std::fs::File::from(fd).metadata().unwrap();
        let m2 = file.metadata().unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((m1.dev(), m1.ino()), (m2.dev(), m2.ino()));
        let (req, fd) = recv::<Request>(&b, Kind::Request).unwrap();
        assert_eq!(req, Request::Version);
        assert!(fd.is_none());
        // Wrong kind is refused.
        send(&a, Kind::Response, &Response::Ok, None).unwrap();
        assert!(matches!(
            recv::<Request>(&b, Kind::Request),
            Err(RecvError::Frame(FrameError::UnexpectedKind { .. }))
        ));
        // After a frame error the stream is out of step: receivers close it. A closed
        // peer is reported as such.
        let (c, d) = UnixStream::pair().unwrap();
        drop(c);
        assert!(matches!(
            recv::<Request>(&d, Kind::Request),
            Err(RecvError::Closed)
        ));
    }

    #[test]
    fn peer_cred_is_our_own_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        let c = peer_cred(&a).unwrap();
        assert_eq!(c.pid, std::process::id());
    }
}
