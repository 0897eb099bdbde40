//! The wire form of a program: the session daemon compiles a filter once and sends this to
//! the tracers, which decode it (bounded, every index and name validated) and re-run the
//! checks. Layout (little-endian; normative description in `docs/protocols/control.md`):
//!
//! ```text
//! u8 version (1) | u32 node_count | node*
//! node = u8 tag, then  0 Int: i64 | 1 Float: u64 (IEEE bits) | 2 Str: u32 len, bytes
//!                    | 3 Ref: u8 root (0 payload, 1 $ctx, 2 $app), u8 segments,
//!                           per segment: u16 len, name bytes, u8 indexes, u64 each
//!                    | 4 Unary: u8 op, u32 child | 5 Binary: u8 op, u32 left, u32 right
//! ```
//! Children come before their parent, every node but the last is the child of exactly one
//! node, and the last is the root. Not here: type checks (shared with [`crate::compile`]).

use crate::parse::{Ast, BinaryOp, Node, NodeKind, Reference, Root, Segment, UnaryOp};
use crate::{MAX_EXPRESSION_BYTES, MAX_NODES, MAX_PROGRAM_BYTES, MAX_REFERENCE_SEGMENTS};

const VERSION: u8 = 1;

/// Why bytes are not a program.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    TooLong {
        bytes: usize,
    },
    Version(u8),
    Truncated {
        offset: usize,
    },
    TooManyNodes {
        count: u64,
    },
    BadTag {
        offset: usize,
        tag: u8,
    },
    BadName {
        offset: usize,
    },
    BadTree {
        node: usize,
    },
    TrailingBytes {
        offset: usize,
    },
    /// Decoded, but refused by the compile-time checks.
    Check(crate::Error),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLong { bytes } => {
                write!(
                    f,
                    "filter program of {bytes} bytes exceeds {MAX_PROGRAM_BYTES}"
                )
            }
            DecodeError::Version(v) => write!(f, "unknown filter program version {v}"),
            DecodeError::Truncated { offset } => {
                write!(f, "filter program truncated at byte {offset}")
            }
            DecodeError::TooManyNodes { count } => {
                write!(f, "filter program of {count} nodes exceeds {MAX_NODES}")
            }
            DecodeError::BadTag { offset, tag } => {
                write!(f, "bad filter program tag {tag} at byte {offset}")
            }
            DecodeError::BadName { offset } => {
                write!(f, "bad name in filter program at byte {offset}")
            }
            DecodeError::BadTree { node } => write!(f, "filter program node {node} is misplaced"),
            DecodeError::TrailingBytes { offset } => {
                write!(f, "filter program has trailing bytes at {offset}")
            }
            DecodeError::Check(e) => write!(f, "filter program refused: {}", e.kind),
        }
    }
}

impl std::error::Error for DecodeError {}

pub(crate) fn encode(ast: &Ast) -> Vec<u8> {
    let mut out = vec![VERSION];
    out.extend_from_slice(&(ast.nodes.len() as u32).to_le_bytes());
    for n in &ast.nodes {
        match &n.kind {
            NodeKind::Int(v) => {
                out.push(0);
                out.extend_from_slice(&v.to_le_bytes());
            }
            NodeKind::Float(v) => {
                out.push(1);
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            NodeKind::Str(s) => {
                out.push(2);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s);
            }
            NodeKind::Ref(r) => {
                out.push(3);
                out.push(match r.root {
                    Root::Payload => 0,
                    Root::Context => 1,
                    Root::App => 2,
                });
                out.push(r.path.len() as u8);
                for s in &r.path {
                    out.extend_from_slice(&(s.name.len() as u16).to_le_bytes());
                    out.extend_from_slice(s.name.as_bytes());
                    out.push(s.indices.len() as u8);
                    for i in &s.indices {
                        out.extend_from_slice(&i.to_le_bytes());
                    }
                }
            }
            NodeKind::Unary(op, c) => {
                out.push(4);
                out.push(UnaryOp::ALL.iter().position(|o| o == op).unwrap_or(0) as u8);
                out.extend_from_slice(&c.to_le_bytes());
            }
            NodeKind::Binary(op, l, r) => {
                out.push(5);
                out.push(BinaryOp::ALL.iter().position(|o| o == op).unwrap_or(0) as u8);
                out.extend_from_slice(&l.to_le_bytes());
                out.extend_from_slice(&r.to_le_bytes());
            }
        }
    }
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or(DecodeError::Truncated { offset: self.at })?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
}

fn valid_name(s: &[u8]) -> bool {
    let ok = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':';
    !s.is_empty() && !s[0].is_ascii_digit() && s.iter().all(ok)
}

pub(crate) fn decode(b: &[u8]) -> Result<Ast, DecodeError> {
    if b.len() > MAX_PROGRAM_BYTES {
        return Err(DecodeError::TooLong { bytes: b.len() });
    }
    let mut r = Reader { b, at: 0 };
    let v = r.u8()?;
    if v != VERSION {
        return Err(DecodeError::Version(v));
    }
    let count = r.u32()? as u64;
    if count == 0 || count > MAX_NODES as u64 {
        return Err(DecodeError::TooManyNodes { count });
    }
    let mut nodes = Vec::new();
    let mut used = vec![false; count as usize];
    for i in 0..count as usize {
        let offset = r.at;
        let tag = r.u8()?;
        let mut child = |c: u32| -> Result<u32, DecodeError> {
            let c_us = c as usize;
            if c_us >= i || std::mem::replace(&mut used[c_us], true) {
                return Err(DecodeError::BadTree { node: i });
            }
            Ok(c)
        };
        let kind = match tag {
            0 => NodeKind::Int(r.u64()? as i64),
            1 => NodeKind::Float(f64::from_bits(r.u64()?)),
            2 => {
                let len = r.u32()? as usize;
                if len > MAX_EXPRESSION_BYTES {
                    return Err(DecodeError::Truncated { offset });
                }
                let s = r.take(len)?;
                if s.contains(&0) {
                    return Err(DecodeError::BadName { offset });
                }
                NodeKind::Str(s.into())
            }
            3 => {
                let root = match r.u8()? {
                    0 => Root::Payload,
                    1 => Root::Context,
                    2 => Root::App,
                    t => return Err(DecodeError::BadTag { offset, tag: t }),
                };
                let nseg = r.u8()? as usize;
                if nseg == 0 || nseg > MAX_REFERENCE_SEGMENTS {
                    return Err(DecodeError::BadName { offset });
                }
                let mut path = Vec::with_capacity(nseg);
                for _ in 0..nseg {
                    let len = r.u16()? as usize;
                    let name = r.take(len)?;
                    if !valid_name(name) {
                        return Err(DecodeError::BadName { offset });
                    }
                    let nidx = r.u8()? as usize;
                    if nidx > MAX_REFERENCE_SEGMENTS {
                        return Err(DecodeError::BadName { offset });
                    }
                    let mut indices = Vec::with_capacity(nidx);
                    for _ in 0..nidx {
                        indices.push(r.u64()?);
                    }
                    path.push(Segment {
                        name: String::from_utf8_lossy(name).into_owned(),
                        indices,
                    });
                }
                NodeKind::Ref(Reference { root, path })
            }
            4 => {
                let op = r.u8()?;
                let op = *UnaryOp::ALL
                    .get(op as usize)
                    .ok_or(DecodeError::BadTag { offset, tag: op })?;
                NodeKind::Unary(op, child(r.u32()?)?)
            }
            5 => {
                let op = r.u8()?;
                let op = *BinaryOp::ALL
                    .get(op as usize)
                    .ok_or(DecodeError::BadTag { offset, tag: op })?;
                let (a, b) = (r.u32()?, r.u32()?);
                NodeKind::Binary(op, child(a)?, child(b)?)
            }
            t => return Err(DecodeError::BadTag { offset, tag: t }),
        };
        nodes.push(Node { pos: 0, kind });
    }
    if r.at != b.len() {
        return Err(DecodeError::TrailingBytes { offset: r.at });
    }
    // Every node but the root is some node's child.
    if let Some(i) = used[..used.len() - 1].iter().position(|u| !u) {
        return Err(DecodeError::BadTree { node: i });
    }
    Ok(Ast { nodes })
}
