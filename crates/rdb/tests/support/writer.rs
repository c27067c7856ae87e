//! The one RDB byte builder of the tests: [`RdbWriter`] writes every primitive encoding
//! the RDB writers of Redis and Valkey use (lengths in each form, plain and
//! integer-encoded strings, millisecond times, stream IDs, opcodes, plain-encoded keys),
//! laid out from the format rather than from the parser, so a test can build big,
//! hostile or byte-exact inputs and check what the parser makes of them. The packed
//! containers and module payloads that go inside values are in [`listpack`] and
//! [`module`].

mod listpack;
mod module;

pub(crate) use listpack::{listpack, Lp};
pub(crate) use module::{key_meta_class_spec, module_id, ModOps};

use replicant_rdb::crc64;

/// Builds an RDB stream, or any RDB-encoded fragment (a value, an opcode stream), in memory.
#[derive(Debug, Clone)]
pub(crate) struct RdbWriter {
    buf: Vec<u8>,
    /// Whether a CRC-64 follows `EOF` (Redis RDB 5+, every Valkey RDB).
    checksum: bool,
}

impl RdbWriter {
    /// Starts a Redis RDB: `REDIS` + four-digit version.
    pub(crate) fn new(version: u32) -> Self {
        RdbWriter { buf: format!("REDIS{version:04}").into_bytes(), checksum: version >= 5 }
    }

    /// Starts a Valkey RDB: `VALKEY` + three-digit version.
    pub(crate) fn valkey(version: u32) -> Self {
        RdbWriter { buf: format!("VALKEY{version:03}").into_bytes(), checksum: true }
    }

    /// Starts an empty fragment (a value, a listpack's wrapper, an opcode stream, or an
    /// RDB whose magic the test writes itself); [`finish`](Self::finish) adds a CRC-64.
    pub(crate) fn fragment() -> Self {
        RdbWriter { buf: Vec::new(), checksum: true }
    }

    /// The bytes written so far.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written, without `EOF` or checksum.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Appends raw bytes.
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Appends one byte.
    pub(crate) fn byte(&mut self, b: u8) -> &mut Self {
        self.buf.push(b);
        self
    }

    /// `rdbSaveLen`: a length in the shortest form: 6 bits, 14 bits (BE), `0x80` + u32 BE,
    /// or `0x81` + u64 BE.
    pub(crate) fn len(&mut self, n: u64) -> &mut Self {
        if n < 1 << 6 {
            self.byte(n as u8)
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u64::from(u32::MAX) {
            self.len32(n as u32)
        } else {
            self.len64(n)
        }
    }

    /// A length in the 64-bit form, `0x81` + u64 BE, whatever its size.
    pub(crate) fn len64(&mut self, n: u64) -> &mut Self {
        self.byte(0x81).raw(&n.to_be_bytes())
    }

    /// A length in the 32-bit form, `0x80` + u32 BE, whatever its size.
    pub(crate) fn len32(&mut self, n: u32) -> &mut Self {
        self.byte(0x80).raw(&n.to_be_bytes())
    }

    /// A signed value saved through `rdbSaveLen((uint64_t)v)`, as `entries_read = -1`
    /// and module SINT values are.
    pub(crate) fn len_signed(&mut self, v: i64) -> &mut Self {
        self.len(v as u64)
    }

    /// A length-prefixed raw string.
    pub(crate) fn string(&mut self, s: &[u8]) -> &mut Self {
        self.len(s.len() as u64).raw(s)
    }

    /// An integer-encoded string (`0xC0`/`0xC1`/`0xC2` + LE), as `rdbSaveRawString`
    /// writes numeric strings of up to 11 characters.
    pub(crate) fn int_string(&mut self, v: i32) -> &mut Self {
        if let Ok(v) = i8::try_from(v) {
            self.byte(0xc0).raw(&v.to_le_bytes())
        } else if let Ok(v) = i16::try_from(v) {
            self.byte(0xc1).raw(&v.to_le_bytes())
        } else {
            self.byte(0xc2).raw(&v.to_le_bytes())
        }
    }

    /// `rdbSaveMillisecondTime`: 8 bytes, little-endian, signed.
    pub(crate) fn millis(&mut self, ms: i64) -> &mut Self {
        self.raw(&ms.to_le_bytes())
    }

    /// A 16-byte stream ID as stored raw (u64 BE ms, u64 BE seq).
    pub(crate) fn raw_id(&mut self, ms: u64, seq: u64) -> &mut Self {
        self.raw(&ms.to_be_bytes()).raw(&seq.to_be_bytes())
    }

    /// A stream ID stored as two lengths.
    pub(crate) fn len_id(&mut self, ms: u64, seq: u64) -> &mut Self {
        self.len(ms).len(seq)
    }

    /// `AUX` field.
    pub(crate) fn aux(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.byte(0xFA).string(key).string(value)
    }

    /// `SELECTDB`.
    pub(crate) fn select_db(&mut self, db: u64) -> &mut Self {
        self.byte(0xFE).len(db)
    }

    /// `RESIZEDB`.
    pub(crate) fn resize_db(&mut self, keys: u64, expires: u64) -> &mut Self {
        self.byte(0xFB).len(keys).len(expires)
    }

    /// `EXPIRETIME_MS` prefix for the next key.
    pub(crate) fn expire_ms(&mut self, ms: i64) -> &mut Self {
        self.byte(0xFC).millis(ms)
    }

    /// Type byte and key name; the value is the caller's to write.
    pub(crate) fn key(&mut self, type_byte: u8, key: &[u8]) -> &mut Self {
        self.byte(type_byte).string(key)
    }

    /// A string key (type 0).
    pub(crate) fn string_key(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.key(0, key).string(value)
    }

    /// A list key in the plain encoding (type 1).
    pub(crate) fn list_key<'a>(&mut self, key: &[u8], items: impl ExactSizeIterator<Item = &'a [u8]>) -> &mut Self {
        self.key(1, key).len(items.len() as u64);
        for item in items {
            self.string(item);
        }
        self
    }

    /// A set key in the plain encoding (type 2).
    pub(crate) fn set_key<I, T>(&mut self, key: &[u8], members: I) -> &mut Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
        T: AsRef<[u8]>,
    {
        let members = members.into_iter();
        self.key(2, key).len(members.len() as u64);
        for m in members {
            self.string(m.as_ref());
        }
        self
    }

    /// A hash key in the plain encoding (type 4).
    pub(crate) fn hash_key(&mut self, key: &[u8], fields: &[(&[u8], &[u8])]) -> &mut Self {
        self.key(4, key).len(fields.len() as u64);
        for (f, v) in fields {
            self.string(f).string(v);
        }
        self
    }

    /// `EOF`, then (Redis 5+, Valkey, fragments) the CRC-64 of everything before and
    /// including it, from the magic on.
    pub(crate) fn finish(&self) -> Vec<u8> {
        let mut out = self.buf.clone();
        out.push(0xFF);
        if self.checksum {
            let crc = crc64(&out);
            out.extend_from_slice(&crc.to_le_bytes());
        }
        out
    }

    /// `EOF` with a zero checksum ("checksums disabled").
    pub(crate) fn finish_unchecked(&self) -> Vec<u8> {
        let mut out = self.buf.clone();
        out.push(0xFF);
        out.extend_from_slice(&[0; 8]);
        out
    }
}

/// Recomputes the CRC-64 trailer of an RDB whose last 9 bytes are `EOF` + checksum, so
/// that a mutated body is judged on its structure rather than stopped by the checksum.
pub(crate) fn fix_crc(data: &mut [u8]) {
    if let Some(body) = data.len().checked_sub(8) {
        let crc = crc64(&data[..body]);
        data[body..].copy_from_slice(&crc.to_le_bytes());
    }
}
