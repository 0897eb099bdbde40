//! Big-endian byte reader and writer for the relay protocol's packed structures, and the
//! decode error. Strings are length-prefixed elsewhere: [`Reader::cstring`] reads one whose
//! length (NUL included) was given. No allocation beyond the decoded strings.

/// Why a payload does not decode. `what` names the structure or field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload ends before the structure does.
    Truncated {
        what: &'static str,
        need_bytes: usize,
        have_bytes: usize,
    },
    /// Bytes left after the structure.
    TrailingBytes {
        what: &'static str,
        extra_bytes: usize,
    },
    /// A length or count beyond its named bound.
    TooLarge {
        what: &'static str,
        len: u64,
        max: u64,
    },
    /// A string without its NUL, with an inner NUL, empty where it may not be, or not UTF-8.
    BadString {
        what: &'static str,
        reason: &'static str,
    },
    /// A field with a value the protocol does not allow.
    BadValue { what: &'static str, value: u64 },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated {
                what,
                need_bytes,
                have_bytes,
            } => write!(
                f,
                "{what}: truncated ({have_bytes} bytes, {need_bytes} needed)"
            ),
            DecodeError::TrailingBytes { what, extra_bytes } => {
                write!(f, "{what}: {extra_bytes} unexpected trailing bytes")
            }
            DecodeError::TooLarge { what, len, max } => {
                write!(f, "{what}: {len} is beyond the limit of {max}")
            }
            DecodeError::BadString { what, reason } => write!(f, "{what}: {reason}"),
            DecodeError::BadValue { what, value } => write!(f, "{what}: invalid value {value}"),
        }
    }
}

impl std::error::Error for DecodeError {}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated {
                what: self.what,
                need_bytes: self.pos.saturating_add(n),
                have_bytes: self.buf.len(),
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.bytes(4)?.try_into().expect("4")))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.bytes(8)?.try_into().expect("8")))
    }

    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::BadValue {
                what,
                value: v as u64,
            }),
        }
    }

    /// A string of `len` bytes, the last of them its NUL. `len == 0` gives an empty string.
    pub(crate) fn cstring(
        &mut self,
        len: u32,
        max: usize,
        what: &'static str,
    ) -> Result<String, DecodeError> {
        if len as usize > max {
            return Err(DecodeError::TooLarge {
                what,
                len: len as u64,
                max: max as u64,
            });
        }
        if len == 0 {
            return Ok(String::new());
        }
        let b = self.bytes(len as usize)?;
        let (last, body) = b.split_last().expect("len > 0");
        if *last != 0 {
            return Err(DecodeError::BadString {
                what,
                reason: "not NUL-terminated",
            });
        }
        if body.contains(&0) {
            return Err(DecodeError::BadString {
                what,
                reason: "NUL inside the string",
            });
        }
        String::from_utf8(body.to_vec()).map_err(|_| DecodeError::BadString {
            what,
            reason: "not UTF-8",
        })
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra_bytes => Err(DecodeError::TrailingBytes {
                what: self.what,
                extra_bytes,
            }),
        }
    }
}

#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
}

/// The wire length of a string: its bytes and the NUL.
pub(crate) fn cstring_len(s: &str) -> u32 {
    s.len() as u32 + 1
}

pub(crate) fn put_cstring(w: &mut Writer, s: &str) {
    w.bytes(s.as_bytes()).u8(0);
}
