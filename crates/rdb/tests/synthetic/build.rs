//! A byte builder for synthetic RDB files: every primitive encoding the RDB writers of
//! Redis and Valkey use, written from the format (not from a parser), so the tests can
//! lay out exact bytes and then check what the parser makes of them.

use replicant_rdb::crc64;

/// An RDB stream (or any RDB-encoded fragment) being built.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bytes {
    pub(crate) buf: Vec<u8>,
}

impl Bytes {
    /// An empty fragment (for values, listpacks, opcode streams).
    pub(crate) fn new() -> Self {
        Bytes::default()
    }

    /// `REDIS` + 4 digits.
    pub(crate) fn redis(version: u32) -> Self {
        Bytes { buf: format!("REDIS{version:04}").into_bytes() }
    }

    /// `VALKEY` + 3 digits.
    pub(crate) fn valkey(version: u32) -> Self {
        Bytes { buf: format!("VALKEY{version:03}").into_bytes() }
    }

    pub(crate) fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    pub(crate) fn byte(&mut self, b: u8) -> &mut Self {
        self.buf.push(b);
        self
    }

    /// `rdbSaveLen`: the shortest of 6-bit, 14-bit (BE), `0x80`+u32 BE, `0x81`+u64 BE.
    pub(crate) fn len(&mut self, n: u64) -> &mut Self {
        if n < 1 << 6 {
            self.byte(n as u8)
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u64::from(u32::MAX) {
            self.byte(0x80).raw(&(n as u32).to_be_bytes())
        } else {
            self.byte(0x81).raw(&n.to_be_bytes())
        }
    }

    /// A signed value saved through `rdbSaveLen((uint64_t)v)`, as `entries_read = -1`
    /// and module SINT values are.
    pub(crate) fn len_signed(&mut self, v: i64) -> &mut Self {
        self.len(v as u64)
    }

    /// A plain (length-prefixed) string.
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

    pub(crate) fn aux(&mut self, k: &[u8], v: &[u8]) -> &mut Self {
        self.byte(250).string(k).string(v)
    }

    pub(crate) fn select_db(&mut self, db: u64) -> &mut Self {
        self.byte(254).len(db)
    }

    pub(crate) fn resize_db(&mut self, keys: u64, expires: u64) -> &mut Self {
        self.byte(251).len(keys).len(expires)
    }

    pub(crate) fn expire_ms(&mut self, ms: i64) -> &mut Self {
        self.byte(252).millis(ms)
    }

    /// Type byte and key name.
    pub(crate) fn key(&mut self, type_byte: u8, key: &[u8]) -> &mut Self {
        self.byte(type_byte).string(key)
    }

    pub(crate) fn len_of(&self) -> usize {
        self.buf.len()
    }

    /// `EOF` and the CRC-64 of everything before it (from the magic on).
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        self.byte(255);
        let crc = crc64(&self.buf);
        self.raw(&crc.to_le_bytes());
        self.buf.clone()
    }
}

/// One listpack element.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lp<'a> {
    Str(&'a [u8]),
    Int(i64),
}

/// The encoding + data bytes of one listpack element, in the smallest form
/// `lpEncodeString`/`lpEncodeIntegerGetType` would choose.
fn lp_entry(e: Lp<'_>) -> Vec<u8> {
    match e {
        Lp::Int(v) if (0..=127).contains(&v) => vec![v as u8],
        Lp::Int(v) if (-4096..=4095).contains(&v) => {
            let u = (v as u16) & 0x1fff;
            vec![0xc0 | (u >> 8) as u8, u as u8]
        }
        Lp::Int(v) if i16::try_from(v).is_ok() => {
            let mut o = vec![0xf1];
            o.extend_from_slice(&(v as i16).to_le_bytes());
            o
        }
        Lp::Int(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
            let mut o = vec![0xf2];
            o.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            o
        }
        Lp::Int(v) if i32::try_from(v).is_ok() => {
            let mut o = vec![0xf3];
            o.extend_from_slice(&(v as i32).to_le_bytes());
            o
        }
        Lp::Int(v) => {
            let mut o = vec![0xf4];
            o.extend_from_slice(&v.to_le_bytes());
            o
        }
        Lp::Str(s) if s.len() < 64 => {
            let mut o = vec![0x80 | s.len() as u8];
            o.extend_from_slice(s);
            o
        }
        Lp::Str(s) if s.len() < 4096 => {
            let mut o = vec![0xe0 | (s.len() >> 8) as u8, s.len() as u8];
            o.extend_from_slice(s);
            o
        }
        Lp::Str(s) => {
            let mut o = vec![0xf0];
            o.extend_from_slice(&(s.len() as u32).to_le_bytes());
            o.extend_from_slice(s);
            o
        }
    }
}

/// `lpEncodeBacklen`: the entry size in 7-bit groups, most significant group first, every
/// group but the first flagged with bit 7, so it can be read backwards.
fn lp_backlen(l: usize) -> Vec<u8> {
    let l = l as u64;
    if l <= 127 {
        vec![l as u8]
    } else if l < 16383 {
        vec![(l >> 7) as u8, (l & 127) as u8 | 128]
    } else if l < 2_097_151 {
        vec![(l >> 14) as u8, ((l >> 7) & 127) as u8 | 128, (l & 127) as u8 | 128]
    } else {
        panic!("listpack entry too big for these tests")
    }
}

/// A whole listpack: `u32 total | u16 count | entries | 0xFF`.
pub(crate) fn listpack(elems: &[Lp<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for e in elems {
        let enc = lp_entry(*e);
        body.extend_from_slice(&enc);
        body.extend_from_slice(&lp_backlen(enc.len()));
    }
    let total = (6 + body.len() + 1) as u32;
    let mut out = total.to_le_bytes().to_vec();
    out.extend_from_slice(&(elems.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xff);
    out
}

/// A module type id: nine characters of `A-Z a-z 0-9 - _` (6 bits each), then a 10-bit
/// encoding version (`moduleTypeEncodeId`).
pub(crate) fn module_id(name: &str, encver: u64) -> u64 {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_eq!(name.len(), 9);
    let mut id = 0u64;
    for c in name.bytes() {
        let pos = CHARSET.iter().position(|&x| x == c).unwrap() as u64;
        id = (id << 6) | pos;
    }
    (id << 10) | encver
}

/// A Redis 8.6 key-metadata class spec (`keyMetaClassEncode`): a 4-character name (6 bits
/// per character, charset `A-Z a-z 0-9 _ -`), a 5-bit version and 3 flag bits, written
/// raw as a host-order (little-endian) u32.
pub(crate) fn key_meta_class_spec(name: &str, ver: u32, flags: u32) -> [u8; 4] {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    assert_eq!(name.len(), 4);
    let mut enc = 0u32;
    for c in name.bytes() {
        let pos = CHARSET.iter().position(|&x| x == c).unwrap() as u32;
        enc = (enc << 6) | pos;
    }
    ((((enc << 5) | ver) << 3) | (flags & 7)).to_le_bytes()
}

/// Module opcode streams (`RedisModule_Save*`): each value is preceded by its opcode,
/// written as an RDB length.
pub(crate) struct ModOps(pub(crate) Bytes);

impl ModOps {
    pub(crate) fn new() -> Self {
        ModOps(Bytes::new())
    }
    pub(crate) fn sint(&mut self, v: i64) -> &mut Self {
        self.0.len(1).len_signed(v);
        self
    }
    pub(crate) fn uint(&mut self, v: u64) -> &mut Self {
        self.0.len(2).len(v);
        self
    }
    pub(crate) fn float(&mut self, v: f32) -> &mut Self {
        self.0.len(3).raw(&v.to_le_bytes());
        self
    }
    pub(crate) fn double(&mut self, v: f64) -> &mut Self {
        self.0.len(4).raw(&v.to_le_bytes());
        self
    }
    pub(crate) fn string(&mut self, s: &[u8]) -> &mut Self {
        self.0.len(5).string(s);
        self
    }
    pub(crate) fn int_string(&mut self, v: i32) -> &mut Self {
        self.0.len(5).int_string(v);
        self
    }
    /// The stream with its EOF marker (`RDB_MODULE_OPCODE_EOF`, a length 0).
    pub(crate) fn eof(&mut self) -> Vec<u8> {
        self.0.len(0);
        self.0.buf.clone()
    }
}
