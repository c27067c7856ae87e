//! Reading the primitive encodings (lengths, strings, integers, doubles) from the input
//! at a cursor. Every read either completes, asks for more input, or reports corruption;
//! none of them allocates from a length it has not checked against a limit.

use crate::lzf;
use crate::slot::Slot;
use crate::Error;

/// Why a read did not complete.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The input must reach this absolute offset before the read can complete.
    More(u64),
    /// The input is wrong. Boxed, so that a read's result stays small: it is returned
    /// from every primitive read of every element.
    Bad(Box<Error>),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Bad(Box::new(e))
    }
}

pub(crate) type Res<T> = Result<T, Fail>;

/// A length prefix, or the marker of a specially encoded string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Len {
    Plain(u64),
    Special(u8),
}

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
pub(crate) const ENC_LZF: u8 = 3;

/// A position in the caller's input; `base` is the absolute offset of `buf[0]`.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    base: u64,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], base: u64, pos: usize) -> Self {
        Cursor { buf, base, pos }
    }

    /// Absolute offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub(crate) fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Fail::More(u64::MAX))?;
        match self.buf.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(Fail::More(self.base + end as u64)),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Res<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Res<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u64_le(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn i64_le(&mut self) -> Res<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A millisecond time (8 bytes little-endian; host order before RDB 9, which is
    /// little-endian on every machine Redis runs on).
    pub(crate) fn millis(&mut self) -> Res<i64> {
        self.i64_le()
    }

    /// A length prefix or a special-encoding marker.
    #[inline]
    pub(crate) fn len_or_special(&mut self) -> Res<Len> {
        let at = self.offset();
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(self.u8()?)),
            3 => Len::Special(first & 0x3f),
            _ => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(Error::corrupt(at, format!("bad length prefix {first:#04x}")).into()),
            },
        })
    }

    /// A plain length; a special-encoding marker here is corruption.
    pub(crate) fn len(&mut self) -> Res<u64> {
        let at = self.offset();
        match self.len_or_special()? {
            Len::Plain(n) => Ok(n),
            Len::Special(s) => Err(Error::corrupt(at, format!("expected a length, found string encoding {s}")).into()),
        }
    }

    /// A plain length that is also used as a count of things that follow.
    pub(crate) fn count(&mut self) -> Res<u64> {
        self.len()
    }

    /// Reads a string, leaving its bytes in the input when it is stored plainly, and
    /// decoding integer and LZF forms into `scratch`.
    pub(crate) fn string(&mut self, scratch: &mut Vec<u8>, limit: usize) -> Res<Slot> {
        let at = self.offset();
        match self.len_or_special()? {
            Len::Plain(n) => {
                let len = bounded(n, limit, "string", at)?;
                let start = self.offset();
                self.take(len)?;
                Ok(Slot::Input { start, len })
            }
            Len::Special(enc) => self.special_string(enc, at, scratch, limit),
        }
    }

    /// The rest of a string whose length prefix was the special encoding `enc`.
    pub(crate) fn special_string(&mut self, enc: u8, at: u64, scratch: &mut Vec<u8>, limit: usize) -> Res<Slot> {
        let value = match enc {
            ENC_INT8 => i64::from(i8::from_le_bytes(self.array()?)),
            ENC_INT16 => i64::from(i16::from_le_bytes(self.array()?)),
            ENC_INT32 => i64::from(i32::from_le_bytes(self.array()?)),
            ENC_LZF => return self.lzf_string(at, scratch, limit),
            other => return Err(Error::corrupt(at, format!("unknown string encoding {other}")).into()),
        };
        Ok(push_int(scratch, value))
    }

    fn lzf_string(&mut self, at: u64, scratch: &mut Vec<u8>, limit: usize) -> Res<Slot> {
        let (clen, ulen) = self.lzf_lengths()?;
        self.lzf_block(at, clen, ulen, scratch, limit)
    }

    /// The compressed and the decompressed length of an LZF string, after its `0xC3`.
    pub(crate) fn lzf_lengths(&mut self) -> Res<(u64, u64)> {
        Ok((self.len()?, self.len()?))
    }

    /// The compressed block of an LZF string (whose lengths were read), decompressed
    /// whole into `scratch`. Both lengths must be within `limit`.
    pub(crate) fn lzf_block(
        &mut self,
        at: u64,
        clen: u64,
        ulen: u64,
        scratch: &mut Vec<u8>,
        limit: usize,
    ) -> Res<Slot> {
        let clen = bounded(clen, limit, "compressed string", at)?;
        let ulen = bounded(ulen, limit, "decompressed string", at)?;
        let packed = self.take(clen)?;
        let start = scratch.len();
        lzf::decompress_into(packed, ulen, scratch)
            .map_err(|e| Error::corrupt(at, format!("bad LZF string of declared length {ulen}: {e}")))?;
        Ok(Slot::Scratch { start, len: ulen })
    }

    /// A score stored as text with a one-byte length (253 NaN, 254 +inf, 255 -inf).
    pub(crate) fn text_double(&mut self) -> Res<f64> {
        let at = self.offset();
        let n = self.u8()?;
        let v = match n {
            253 => f64::NAN,
            254 => f64::INFINITY,
            255 => f64::NEG_INFINITY,
            _ => {
                let text = self.take(usize::from(n))?;
                parse_f64(text)
                    .ok_or_else(|| Error::corrupt(at, format!("bad score {:?}", text.escape_ascii().to_string())))?
            }
        };
        Ok(v)
    }

    /// A score stored as 8 bytes of IEEE-754, little-endian.
    pub(crate) fn binary_double(&mut self) -> Res<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

/// Checks a declared length against a limit before anything is sized from it.
pub(crate) fn bounded(n: u64, limit: usize, what: &'static str, at: u64) -> Result<usize, Error> {
    match usize::try_from(n) {
        Ok(len) if len <= limit => Ok(len),
        _ => Err(Error::TooLarge { what, len: n, limit, offset: at }),
    }
}

/// Writes the decimal text of an integer to `scratch`.
pub(crate) fn push_int(scratch: &mut Vec<u8>, value: i64) -> Slot {
    let start = scratch.len();
    let mut buf = itoa::Buffer::new();
    scratch.extend_from_slice(buf.format(value).as_bytes());
    Slot::Scratch { start, len: scratch.len() - start }
}

/// Parses a score written as text (`%.17g`, `inf`, `-inf`).
pub(crate) fn parse_f64(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    match s {
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(b: &[u8]) -> Cursor<'_> {
        Cursor::new(b, 0, 0)
    }

    #[test]
    fn lengths_in_every_width() {
        assert_eq!(cur(&[0x05]).len().unwrap(), 5);
        assert_eq!(cur(&[0x41, 0x02]).len().unwrap(), 0x102);
        assert_eq!(cur(&[0x80, 0, 1, 0, 0]).len().unwrap(), 0x10000);
        assert_eq!(cur(&[0x81, 0, 0, 0, 1, 0, 0, 0, 0]).len().unwrap(), 1 << 32);
        assert!(matches!(cur(&[0x82]).len(), Err(Fail::Bad(_))));
        assert!(matches!(cur(&[0x80, 0]).len(), Err(Fail::More(5))));
    }

    #[test]
    fn integer_strings_become_text() {
        let mut scratch = Vec::new();
        for (bytes, text) in [
            (&[0xc0, 0xfe][..], "-2"),
            (&[0xc1, 0x39, 0x30][..], "12345"),
            (&[0xc2, 0xff, 0xff, 0xff, 0x7f][..], "2147483647"),
        ] {
            let slot = cur(bytes).string(&mut scratch, 100).unwrap();
            let Slot::Scratch { start, len } = slot else { panic!("{slot:?}") };
            assert_eq!(&scratch[start..start + len], text.as_bytes());
        }
    }

    #[test]
    fn oversized_strings_are_refused_before_allocation() {
        let mut scratch = Vec::new();
        let r = cur(&[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).string(&mut scratch, 1 << 20);
        assert!(matches!(r, Err(Fail::Bad(ref e)) if matches!(**e, Error::TooLarge { .. })));
        let r = cur(&[0xc3, 0x02, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).string(&mut scratch, 1 << 20);
        assert!(matches!(r, Err(Fail::Bad(ref e)) if matches!(**e, Error::TooLarge { .. })));
    }

    #[test]
    fn text_doubles() {
        assert_eq!(cur(&[254]).text_double().unwrap(), f64::INFINITY);
        assert_eq!(cur(&[255]).text_double().unwrap(), f64::NEG_INFINITY);
        assert!(cur(&[253]).text_double().unwrap().is_nan());
        assert_eq!(cur(b"\x031.5").text_double().unwrap(), 1.5);
    }
}
