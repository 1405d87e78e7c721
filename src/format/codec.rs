//! Low-level readers and writers for the canonical binary encoding.
//!
//! All integers are big-endian and fixed-width. Variable-length fields carry an
//! explicit length prefix. The reader refuses truncated input and trailing bytes;
//! it never panics, whatever the bytes.

use super::FormatError;

/// Appends canonical encodings to a byte vector.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// A string or byte field of at most 255 bytes, prefixed by its length as a `u8`.
    pub fn short(&mut self, v: &[u8]) -> Result<(), FormatError> {
        let n = u8::try_from(v.len()).map_err(|_| FormatError::TooLong("short field", v.len()))?;
        self.u8(n);
        self.bytes(v);
        Ok(())
    }
    /// A field of at most 65,535 bytes, prefixed by its length as a `u16`.
    pub fn long(&mut self, v: &[u8]) -> Result<(), FormatError> {
        let n = u16::try_from(v.len()).map_err(|_| FormatError::TooLong("long field", v.len()))?;
        self.u16(n);
        self.bytes(v);
        Ok(())
    }
    /// An optional 32-byte value: `0x00`, or `0x01` followed by the 32 bytes.
    pub fn opt32(&mut self, v: &Option<[u8; 32]>) {
        match v {
            None => self.u8(0),
            Some(b) => {
                self.u8(1);
                self.bytes(b);
            }
        }
    }
    pub fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(n) => {
                self.u8(1);
                self.u64(n);
            }
        }
    }
}

/// Reads canonical encodings from a byte slice, tracking the offset for errors.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(FormatError::Truncated {
                field: what,
                offset: self.pos,
            })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FormatError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8, FormatError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16, FormatError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    pub fn i64(&mut self, what: &'static str) -> Result<i64, FormatError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
    pub fn short(&mut self, what: &'static str) -> Result<&'a [u8], FormatError> {
        let n = self.u8(what)? as usize;
        self.take(n, what)
    }
    pub fn long(&mut self, what: &'static str) -> Result<&'a [u8], FormatError> {
        let n = self.u16(what)? as usize;
        self.take(n, what)
    }
    /// A flag byte that must be exactly 0 or 1 (anything else is non-canonical).
    pub fn flag(&mut self, what: &'static str) -> Result<bool, FormatError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(FormatError::NonCanonical {
                field: what,
                offset: self.pos - 1,
                detail: format!("flag byte {v:#04x}, expected 0x00 or 0x01"),
            }),
        }
    }
    pub fn opt32(&mut self, what: &'static str) -> Result<Option<[u8; 32]>, FormatError> {
        Ok(if self.flag(what)? {
            Some(self.array(what)?)
        } else {
            None
        })
    }
    pub fn opt_u64(&mut self, what: &'static str) -> Result<Option<u64>, FormatError> {
        Ok(if self.flag(what)? {
            Some(self.u64(what)?)
        } else {
            None
        })
    }
    /// Fails unless every byte has been consumed.
    pub fn finish(self, what: &'static str) -> Result<(), FormatError> {
        if self.pos == self.data.len() {
            Ok(())
        } else {
            Err(FormatError::TrailingBytes {
                what,
                count: self.data.len() - self.pos,
            })
        }
    }
}
