//! Kvrocks' byte encodings, written from Kvrocks 2.10's source (not from replicant's
//! decoder): keys (`ComposeNamespaceKey`, `InternalKey::Encode` in
//! `src/storage/redis_metadata.cc`), the slot id (`GetSlotIdFromKey`,
//! `src/cluster/redis_slot.cc`), the metadata value (`Metadata::Encode`, both encodings),
//! the order-preserving double (`EncodeDoubleToUInt64`, `src/common/encoding.cc`) and
//! varint32 strings (stream entries). Integers in keys and values are big-endian.
//!
//! ```text
//! ns_key   := ns_len:u8 | ns | [slot:u16, cluster only] | key
//! subkey   := ns_len:u8 | ns | [slot:u16] | key_len:u32 | key | version:u64 | sub
//! metadata := flags:u8 | expire | [version:u64 | size]     (no version/size for string, JSON)
//! flags    := 0x80 (64-bit encoding) | type:4
//! expire   := u64 ms (64-bit encoding) | u32 s (legacy, ExpireMsToS rounding)
//! size     := u64 (64-bit encoding) | u32 (legacy)
//! ```

/// The namespace of clients that authenticate with `requirepass` (`kDefaultNamespace`).
pub const DEFAULT_NAMESPACE: &str = "__namespace";
/// The 64-bit-encoding bit of the flags byte (`METADATA_64BIT_ENCODING_MASK`).
pub const ENCODING_64BIT: u8 = 0x80;
/// Where a new list's head and tail start (`ListMetadata`: `UINT64_MAX / 2`).
pub const LIST_INITIAL_INDEX: u64 = u64::MAX / 2;
/// Cluster hash slots (`HASH_SLOTS_MASK` + 1).
const HASH_SLOTS: u16 = 16384;

/// How the master lays out its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// `cluster-enabled yes`: every key carries its slot id after the namespace.
    pub cluster: bool,
}

/// A key's metadata encoding, chosen per key (a database may hold both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// The 64-bit encoding (flag 0x80), the default since Kvrocks 2.9: expire in ms, u64 size.
    #[default]
    New,
    /// The legacy encoding of keys written before 2.9: expire in seconds (u32), u32 size.
    Legacy,
}

/// A key's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// No expiry.
    #[default]
    None,
    /// Expires at this unix time in milliseconds (may be in the past: an expired key that
    /// compaction has not removed yet).
    At(u64),
}

impl Encoding {
    /// The expiry in unix ms that Kvrocks reports (`PEXPIRETIME`) for a key written with
    /// `expiry`: exact with the new encoding, rounded to seconds with the legacy one.
    pub fn stored_expire_ms(self, expiry: Expiry) -> Option<u64> {
        match (self, expiry) {
            (_, Expiry::None) => None,
            (Encoding::New, Expiry::At(ms)) => Some(ms),
            (Encoding::Legacy, Expiry::At(ms)) => Some(expire_ms_to_s(ms) * 1000),
        }
    }

    fn is_64bit(self) -> bool {
        self == Encoding::New
    }
}

/// A Kvrocks type (`RedisType`, `src/storage/redis_metadata.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvType {
    String = 1,
    Hash = 2,
    List = 3,
    Set = 4,
    ZSet = 5,
    Bitmap = 6,
    Sortedint = 7,
    Stream = 8,
    BloomFilter = 9,
    Json = 10,
    HyperLogLog = 11,
}

impl KvType {
    /// The type id (the low bits of the flags byte, and a LogData's first field).
    pub fn id(self) -> u8 {
        self as u8
    }

    fn from_id(id: u8) -> Option<KvType> {
        use KvType::*;
        [String, Hash, List, Set, ZSet, Bitmap, Sortedint, Stream, BloomFilter, Json, HyperLogLog]
            .into_iter()
            .find(|t| t.id() == id)
    }

    /// String and JSON keep their value in the metadata record: no version, no size.
    pub fn is_single_kv(self) -> bool {
        matches!(self, KvType::String | KvType::Json)
    }
}

/// The common part of a metadata value; type extras (list bounds, stream ids, ...) follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// The type.
    pub kind: KvType,
    /// Its encoding.
    pub encoding: Encoding,
    /// Absolute expiry in unix ms, 0 for none (Kvrocks keeps ms in memory for both encodings).
    pub expire_ms: u64,
    /// The version its subkeys carry (0 for single-KV types).
    pub version: u64,
    /// Elements (bytes for a bitmap).
    pub size: u64,
}

impl Metadata {
    /// A new, empty key of `kind`.
    pub fn new(kind: KvType, encoding: Encoding, version: u64) -> Metadata {
        Metadata { kind, encoding, expire_ms: 0, version, size: 0 }
    }

    /// `Metadata::Encode`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.kind.id() | if self.encoding.is_64bit() { ENCODING_64BIT } else { 0 }];
        self.put_common(&mut out, self.expire_ms, true);
        if !self.kind.is_single_kv() {
            out.extend_from_slice(&self.version.to_be_bytes());
            self.put_common(&mut out, self.size, false);
        }
        out
    }

    /// `PutExpire` / `PutFixedCommon`: u64, or u32 (the expiry in seconds) when legacy.
    fn put_common(&self, out: &mut Vec<u8>, value: u64, is_expire: bool) {
        if self.encoding.is_64bit() {
            out.extend_from_slice(&value.to_be_bytes());
        } else {
            let value = if is_expire { expire_ms_to_s(value) } else { value };
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
    }

    /// `Metadata::Decode` of the common part: the metadata and the bytes after it (extras).
    pub fn decode(bytes: &[u8]) -> Option<(Metadata, &[u8])> {
        let (&flags, rest) = bytes.split_first()?;
        let kind = KvType::from_id(flags & 0x0f)?;
        let encoding = if flags & ENCODING_64BIT != 0 { Encoding::New } else { Encoding::Legacy };
        let mut m = Metadata { kind, encoding, expire_ms: 0, version: 0, size: 0 };
        let (expire, mut rest) = m.get_common(rest)?;
        m.expire_ms = if encoding.is_64bit() { expire } else { expire * 1000 };
        if !kind.is_single_kv() {
            let (version, after) = be_u64(rest)?;
            (m.version, rest) = (version, after);
            (m.size, rest) = m.get_common(rest)?;
        }
        Some((m, rest))
    }

    fn get_common<'a>(&self, bytes: &'a [u8]) -> Option<(u64, &'a [u8])> {
        if self.encoding.is_64bit() {
            be_u64(bytes)
        } else {
            let (head, rest) = bytes.split_at_checked(4)?;
            Some((u64::from(u32::from_be_bytes(head.try_into().ok()?)), rest))
        }
    }

    /// Whether Kvrocks treats the key as gone at `now_ms` (`Metadata::ExpireAt`).
    pub fn is_dead(&self, now_ms: u64) -> bool {
        let emptyable =
            self.kind.is_single_kv() || matches!(self.kind, KvType::Stream | KvType::BloomFilter | KvType::HyperLogLog);
        (!emptyable && self.size == 0) || (self.expire_ms != 0 && self.expire_ms < now_ms)
    }
}

/// A big-endian u64 and what follows it.
pub(crate) fn be_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_at_checked(8)?;
    Some((u64::from_be_bytes(head.try_into().ok()?), rest))
}

/// `Metadata::ExpireMsToS`: 0 stays 0, below a second is 1, else rounded to the nearest second.
pub fn expire_ms_to_s(ms: u64) -> u64 {
    match ms {
        0 => 0,
        1..1000 => 1,
        _ => (ms + 499) / 1000,
    }
}

/// `Crc16` (CRC-16/XMODEM, as Redis Cluster).
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// `GetSlotIdFromKey`: the CRC16 of the key's hash tag (the bytes between the first `{`
/// and the next `}`, when not empty) or of the whole key, modulo 16384.
pub fn slot(key: &[u8]) -> u16 {
    let tag = key.iter().position(|&b| b == b'{').and_then(|open| {
        let close = key[open + 1..].iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &key[open + 1..open + 1 + close])
    });
    crc16(tag.unwrap_or(key)) % HASH_SLOTS
}

/// The namespace prefix: `ns_len | ns | [slot of key]`.
fn prefix(layout: Layout, ns: &str, key: &[u8]) -> Vec<u8> {
    let ns_len = u8::try_from(ns.len()).expect("a Kvrocks namespace is at most 255 bytes");
    let mut out = vec![ns_len];
    out.extend_from_slice(ns.as_bytes());
    if layout.cluster {
        out.extend_from_slice(&slot(key).to_be_bytes());
    }
    out
}

/// The metadata CF key (`ComposeNamespaceKey`).
pub fn ns_key(layout: Layout, ns: &str, key: &[u8]) -> Vec<u8> {
    let mut out = prefix(layout, ns, key);
    out.extend_from_slice(key);
    out
}

/// A subkey of any other CF (`InternalKey::Encode`).
pub fn internal_key(layout: Layout, ns: &str, key: &[u8], version: u64, sub: &[u8]) -> Vec<u8> {
    let mut out = prefix(layout, ns, key);
    let key_len = u32::try_from(key.len()).expect("a key shorter than 4 GiB");
    out.extend_from_slice(&key_len.to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(sub);
    out
}

/// `EncodeDoubleToUInt64`, big-endian: sign bit set flips every bit, else the sign bit is set.
pub fn encode_double(value: f64) -> [u8; 8] {
    let bits = value.to_bits();
    let encoded = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    encoded.to_be_bytes()
}

/// `DecodeDouble`: the inverse of [`encode_double`] (0 for fewer than 8 bytes).
pub fn decode_double(bytes: &[u8]) -> f64 {
    let bits = bytes.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes);
    f64::from_bits(if bits >> 63 == 0 { !bits } else { bits & !(1 << 63) })
}

/// Appends big-endian u64s: the fields after the common part of a list's metadata
/// (`head`, `tail`) or a stream's (ids, counters).
pub fn put_metadata_extras(out: &mut Vec<u8>, values: &[u64]) {
    for value in values {
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// `PutVarint32` then the bytes.
pub fn put_varstring(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut n = u32::try_from(bytes.len()).expect("a string shorter than 4 GiB");
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: u64 = 0x3076_f331_6963_42a7;

    #[test]
    fn golden_metadata_of_the_reference_and_the_capture() {
        // Kvrocks' applybatch test (reference §3): SET a 1 and HSET hash field value, legacy.
        let string = Metadata::new(KvType::String, Encoding::Legacy, 0);
        assert_eq!(string.encode(), b"\x01\x00\x00\x00\x00");
        let hash = Metadata { size: 2, ..Metadata::new(KvType::Hash, Encoding::Legacy, V) };
        assert_eq!(hash.encode(), b"\x02\x00\x00\x00\x00\x30\x76\xf3\x31\x69\x63\x42\xa7\x00\x00\x00\x02");
        // Hash h1 in the Kvrocks 2.10.1 capture's WAL (64-bit encoding).
        let h1 = Metadata { size: 2, ..Metadata::new(KvType::Hash, Encoding::New, 0x3310_69f5_6b23_d054) };
        let golden = b"\x82\0\0\0\0\0\0\0\0\x33\x10\x69\xf5\x6b\x23\xd0\x54\0\0\0\0\0\0\0\x02";
        assert_eq!(h1.encode(), golden);
        assert_eq!(Metadata::decode(golden), Some((h1, &b""[..])));
        // PEXPIREAT str3 4102444800999 in the capture; the legacy form rounds to seconds.
        let s = Metadata { expire_ms: 4_102_444_800_999, ..Metadata::new(KvType::String, Encoding::New, 0) };
        assert_eq!(s.encode(), b"\x81\x00\x00\x03\xbb\x2c\xc3\xdb\xe7");
        let legacy = Metadata { encoding: Encoding::Legacy, ..s };
        assert_eq!(legacy.encode(), [&[0x01][..], &4_102_444_801u32.to_be_bytes()].concat());
        assert_eq!(Encoding::Legacy.stored_expire_ms(Expiry::At(4_102_444_800_999)), Some(4_102_444_801_000));
        assert_eq!((expire_ms_to_s(0), expire_ms_to_s(1), expire_ms_to_s(1500), expire_ms_to_s(1501)), (0, 1, 1, 2));
    }

    #[test]
    fn golden_keys_and_slots() {
        let layout = Layout::default();
        let sub = internal_key(layout, DEFAULT_NAMESPACE, b"hash", V, b"field");
        assert_eq!(sub, b"\x0b__namespace\x00\x00\x00\x04hash\x30\x76\xf3\x31\x69\x63\x42\xa7field");
        assert_eq!(ns_key(layout, DEFAULT_NAMESPACE, b"a"), b"\x0b__namespacea");
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(slot(b"foo"), 12182); // CLUSTER KEYSLOT foo
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384, "an empty tag hashes the whole key");
        let cluster = Layout { cluster: true };
        assert_eq!(ns_key(cluster, "ns1", b"foo"), [&b"\x03ns1"[..], &12182u16.to_be_bytes(), b"foo"].concat());
        assert_eq!(encode_double(2.5), 0xc004_0000_0000_0000u64.to_be_bytes());
        assert_eq!(encode_double(-3.25), 0x3ff5_ffff_ffff_ffffu64.to_be_bytes());
        for x in [0.1, -3.25, 1e300, f64::INFINITY, f64::NEG_INFINITY, 0.0] {
            assert_eq!(decode_double(&encode_double(x)), x);
        }
        let mut v = Vec::new();
        put_varstring(&mut v, &[b'x'; 200]);
        assert_eq!(&v[..2], &[0xc8, 0x01]);
    }
}
