//! A tiny RDB writer for generated test inputs. It writes the plain encodings only
//! (lengths, raw strings, type 0/1/2/4 values), which is all the tests need to build big
//! or hostile files byte by byte.

use replicant_rdb::crc64;

/// Builds an RDB stream in memory.
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

    /// The bytes written so far.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
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

    /// A length in the shortest form: 6 bits, 14 bits, `0x80` + u32 BE, or `0x81` + u64 BE.
    pub(crate) fn len(&mut self, n: u64) -> &mut Self {
        if n < 1 << 6 {
            self.byte(n as u8)
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u64::from(u32::MAX) {
            self.byte(0x80).raw(&(n as u32).to_be_bytes())
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

    /// A length-prefixed raw string.
    pub(crate) fn string(&mut self, s: &[u8]) -> &mut Self {
        self.len(s.len() as u64).raw(s)
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
        self.byte(0xFC).raw(&ms.to_le_bytes())
    }

    /// A string key (type 0).
    pub(crate) fn string_key(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.byte(0).string(key).string(value)
    }

    /// A list key in the plain encoding (type 1).
    pub(crate) fn list_key<'a>(&mut self, key: &[u8], items: impl ExactSizeIterator<Item = &'a [u8]>) -> &mut Self {
        self.byte(1).string(key).len(items.len() as u64);
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
        self.byte(2).string(key).len(members.len() as u64);
        for m in members {
            self.string(m.as_ref());
        }
        self
    }

    /// A hash key in the plain encoding (type 4).
    pub(crate) fn hash_key(&mut self, key: &[u8], fields: &[(&[u8], &[u8])]) -> &mut Self {
        self.byte(4).string(key).len(fields.len() as u64);
        for (f, v) in fields {
            self.string(f).string(v);
        }
        self
    }

    /// `EOF`, then (Redis 5+ and Valkey) the CRC-64 of everything before and including it.
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
