//! A bounds-checked reader over a byte slice: the one place that turns offsets into
//! slices. Everything else decodes through it, so no other module indexes input.
//!
//! Kvrocks' own fields are big-endian (`EncodeFixed*` in its `encoding.h`); RocksDB's
//! WriteBatch header and varints are little-endian. Both are here.

use crate::error::{KvrocksError, Result};

/// A read position in a borrowed slice. Every read checks the remaining length first.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Starts at `pos` (clamped to the end).
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos: pos.min(buf.len()) }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, consumed.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    /// The next `n` bytes, consumed. `n` may come off the wire: it is checked, never allocated.
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.buf.get(self.pos..end)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(self.truncated(what, n)),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let slice = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u16_be(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32_be(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u64_be(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32_le(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64_le(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// RocksDB's varint32: LEB128, at most 5 bytes, value within `u32`.
    pub(crate) fn varint32(&mut self, what: &'static str) -> Result<u32> {
        let start = self.pos;
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(KvrocksError::Truncated {
                    what,
                    offset: start,
                    needed: self.pos - start + 1,
                    available: self.buf.len().saturating_sub(start),
                });
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| KvrocksError::BadVarint { what, offset: start });
            }
        }
        Err(KvrocksError::BadVarint { what, offset: start })
    }

    /// A varint32 length followed by that many bytes (RocksDB's `GetLengthPrefixedSlice`).
    pub(crate) fn varstring(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let len = self.varint32(what)?;
        let len = usize::try_from(len).map_err(|_| KvrocksError::Malformed { what, offset: self.pos })?;
        self.bytes(len, what)
    }

    fn truncated(&self, what: &'static str, needed: usize) -> KvrocksError {
        KvrocksError::Truncated { what, offset: self.pos, needed, available: self.remaining() }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn varint32_round_values() {
        let mut c = Cursor::new(&[0x00, 0x7f, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(c.varint32("v").unwrap(), 0);
        assert_eq!(c.varint32("v").unwrap(), 127);
        assert_eq!(c.varint32("v").unwrap(), 128);
        assert_eq!(c.varint32("v").unwrap(), u32::MAX);
        assert!(c.is_empty());
    }

    #[test]
    fn varint32_rejects_overlong_and_overflow() {
        let mut c = Cursor::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
        assert_eq!(c.varint32("len").unwrap_err(), KvrocksError::BadVarint { what: "len", offset: 0 });
        let mut c = Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
        assert_eq!(c.varint32("len").unwrap_err(), KvrocksError::BadVarint { what: "len", offset: 0 });
    }

    #[test]
    fn varint32_truncated() {
        let mut c = Cursor::new(&[0x01, 0x80]);
        c.u8("x").unwrap();
        let err = c.varint32("len").unwrap_err();
        assert_eq!(err, KvrocksError::Truncated { what: "len", offset: 1, needed: 2, available: 1 });
    }

    #[test]
    fn huge_length_is_an_error_not_an_allocation() {
        let mut c = Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0x0f, b'a']);
        let err = c.varstring("key").unwrap_err();
        assert_eq!(err, KvrocksError::Truncated { what: "key", offset: 5, needed: u32::MAX as usize, available: 1 });
    }

    #[test]
    fn fixed_widths() {
        let mut c = Cursor::new(&[0, 0, 0, 1, 1, 0, 0, 0, 0, 2]);
        assert_eq!(c.u32_be("a").unwrap(), 1);
        assert_eq!(c.u32_le("b").unwrap(), 1);
        assert_eq!(c.u16_be("c").unwrap(), 2);
        assert!(c.u8("d").is_err());
    }
}
