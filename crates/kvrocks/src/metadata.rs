//! Metadata values: what the metadata column family stores per user key (type, expiry,
//! version, size and type-specific fields), in both of Kvrocks' encodings.
//!
//! ```text
//! value := flags:u8 | expire | [version:u64 | size] | extras
//! flags := 64-bit-encoding:1 (0x80) | 0:3 | type:4
//! ```
//!
//! With the 0x80 bit (the default since Kvrocks 2.9) `expire` is u64 milliseconds and
//! `size` u64; without it `expire` is u32 seconds and `size` u32. A database can hold both.
//! Strings and JSON are single-KV: no version or size, the value follows the expiry. All
//! integers are big-endian (`src/storage/redis_metadata.cc`). As in Kvrocks, bytes after
//! the known fields are ignored.

use crate::cursor::Cursor;
use crate::error::{KvrocksError, Result};
use crate::key::read_double;
use crate::stream::{StreamId, StreamMetadata};

/// The 64-bit-encoding bit of the flags byte.
pub const ENCODING_64BIT: u8 = 0x80;
/// The type bits of the flags byte.
pub const TYPE_MASK: u8 = 0x0f;
/// Low bits of a version that are a counter, not time (`VersionCounterBits`).
pub const VERSION_COUNTER_BITS: u32 = 11;

/// A Kvrocks data type (`RedisType` in `src/storage/redis_metadata.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedisType {
    /// 1.
    String,
    /// 2.
    Hash,
    /// 3.
    List,
    /// 4.
    Set,
    /// 5.
    ZSet,
    /// 6.
    Bitmap,
    /// 7: Kvrocks' sorted set of u64 ids.
    Sortedint,
    /// 8.
    Stream,
    /// 9: a scalable bloom filter chain (`BF.*`).
    BloomFilter,
    /// 10: RedisJSON-compatible (`JSON.*`).
    Json,
    /// 11.
    HyperLogLog,
}

impl RedisType {
    /// The type for a type id (`flags & 0x0f`, or a LogData's first field); `None` for 0
    /// (`kRedisNone`) and ids Kvrocks 2.10 does not define.
    pub fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            1 => Self::String,
            2 => Self::Hash,
            3 => Self::List,
            4 => Self::Set,
            5 => Self::ZSet,
            6 => Self::Bitmap,
            7 => Self::Sortedint,
            8 => Self::Stream,
            9 => Self::BloomFilter,
            10 => Self::Json,
            11 => Self::HyperLogLog,
            _ => return None,
        })
    }

    /// The type id.
    pub fn id(self) -> u8 {
        match self {
            Self::String => 1,
            Self::Hash => 2,
            Self::List => 3,
            Self::Set => 4,
            Self::ZSet => 5,
            Self::Bitmap => 6,
            Self::Sortedint => 7,
            Self::Stream => 8,
            Self::BloomFilter => 9,
            Self::Json => 10,
            Self::HyperLogLog => 11,
        }
    }

    /// What Kvrocks' `TYPE` replies.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Hash => "hash",
            Self::List => "list",
            Self::Set => "set",
            Self::ZSet => "zset",
            Self::Bitmap => "bitmap",
            Self::Sortedint => "sortedint",
            Self::Stream => "stream",
            Self::BloomFilter => "MBbloom--",
            Self::Json => "ReJSON-RL",
            Self::HyperLogLog => "hyperloglog",
        }
    }

    /// The type `TYPE` names (`ReJSON-RL`, `MBbloom--`, …), or a plain alias of one (`json`,
    /// `bloom`), ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Self> {
        let alias = match name.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "bloom" | "bf" => Some(Self::BloomFilter),
            "hll" => Some(Self::HyperLogLog),
            _ => None,
        };
        alias.or_else(|| (1..=11).filter_map(Self::from_id).find(|t| t.name().eq_ignore_ascii_case(name)))
    }

    /// Single-KV types keep the whole value in the metadata record: no version, no size.
    pub fn is_single_kv(self) -> bool {
        matches!(self, Self::String | Self::Json)
    }

    /// Types that stay alive with `size == 0`; any other type is dead when empty.
    pub fn is_emptyable(self) -> bool {
        self.is_single_kv() || matches!(self, Self::Stream | Self::BloomFilter | Self::HyperLogLog)
    }
}

/// How a JSON value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonFormat {
    /// 0: JSON text.
    Json,
    /// 1: CBOR.
    Cbor,
}

/// Bloom filter chain parameters (`BloomChainMetadata`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BloomMetadata {
    /// Number of sub-filters.
    pub n_filters: u16,
    /// Growth factor of each new sub-filter; 0 means non-scaling.
    pub expansion: u16,
    /// Capacity of the first sub-filter.
    pub base_capacity: u32,
    /// Target false-positive rate (stored with the order-preserving double encoding).
    pub error_rate: f64,
    /// Bytes allocated over all sub-filters.
    pub bloom_bytes: u32,
}

/// The type-specific part of a metadata value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Extra<'a> {
    /// Hash, set, zset, bitmap, sortedint: nothing beyond version and size.
    None,
    /// A string's value.
    String(&'a [u8]),
    /// A JSON value.
    Json {
        /// The storage format.
        format: JsonFormat,
        /// The serialized document.
        payload: &'a [u8],
    },
    /// A list's index bounds: elements live at `head..tail` (both start at `u64::MAX / 2`).
    List {
        /// Index of the first element.
        head: u64,
        /// One past the index of the last element.
        tail: u64,
    },
    /// Stream bookkeeping.
    Stream(StreamMetadata),
    /// Bloom filter chain parameters.
    Bloom(BloomMetadata),
    /// HyperLogLog: the register encoding (0 = dense, the only one).
    HyperLogLog {
        /// The encoding byte.
        encode_type: u8,
    },
}

/// One decoded metadata value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metadata<'a> {
    /// The raw flags byte.
    pub flags: u8,
    /// The type.
    pub redis_type: RedisType,
    /// Absolute expiry in unix milliseconds; 0 for none. Legacy values (stored in
    /// seconds) are multiplied by 1000, as Kvrocks does.
    pub expire_ms: u64,
    /// The version subkeys must carry (microseconds << 11 | counter); 0 for single-KV types.
    pub version: u64,
    /// Element count; 0 for single-KV types.
    pub size: u64,
    /// Type-specific fields.
    pub extra: Extra<'a>,
}

impl<'a> Metadata<'a> {
    /// Decodes a metadata value.
    pub fn load(bytes: &'a [u8]) -> Result<Self> {
        let mut c = Cursor::new(bytes);
        let flags = c.u8("metadata flags")?;
        let type_id = flags & TYPE_MASK;
        let redis_type = RedisType::from_id(type_id).ok_or(KvrocksError::UnknownType { type_id, flags, offset: 0 })?;
        let wide = flags & ENCODING_64BIT != 0;
        let expire_ms = if wide {
            c.u64_be("metadata expire (ms)")?
        } else {
            u64::from(c.u32_be("metadata expire (s)")?).saturating_mul(1000)
        };
        let (version, size) = if redis_type.is_single_kv() {
            (0, 0)
        } else {
            let version = c.u64_be("metadata version")?;
            let size = if wide { c.u64_be("metadata size")? } else { u64::from(c.u32_be("metadata size")?) };
            (version, size)
        };
        let extra = read_extra(redis_type, &mut c)?;
        Ok(Self { flags, redis_type, expire_ms, version, size, extra })
    }

    /// Whether `expire` and `size` use the 64-bit encoding.
    pub fn is_64bit(&self) -> bool {
        self.flags & ENCODING_64BIT != 0
    }

    /// Whether the key has an expiry that is before `now_ms` (Kvrocks compares with `<`).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_ms != 0 && self.expire_ms < now_ms
    }

    /// Whether Kvrocks treats the key as gone at `now_ms`: expired, or an empty collection
    /// of a type that cannot be empty (`Metadata::ExpireAt`).
    pub fn is_dead(&self, now_ms: u64) -> bool {
        (!self.redis_type.is_emptyable() && self.size == 0) || self.is_expired(now_ms)
    }

    /// Whether a subkey with `version` belongs to this incarnation of the key; subkeys of
    /// another version are left-overs of a deleted or overwritten key.
    pub fn owns_version(&self, version: u64) -> bool {
        self.version == version
    }

    /// When this incarnation was created, in unix microseconds (the version's time part).
    pub fn created_at_us(&self) -> u64 {
        self.version >> VERSION_COUNTER_BITS
    }
}

fn read_extra<'a>(redis_type: RedisType, c: &mut Cursor<'a>) -> Result<Extra<'a>> {
    Ok(match redis_type {
        RedisType::String => Extra::String(c.rest()),
        RedisType::Json => {
            let offset = c.offset();
            let format = match c.u8("JSON format")? {
                0 => JsonFormat::Json,
                1 => JsonFormat::Cbor,
                _ => return Err(KvrocksError::Malformed { what: "JSON format (expected 0 or 1)", offset }),
            };
            Extra::Json { format, payload: c.rest() }
        }
        RedisType::List => Extra::List { head: c.u64_be("list head")?, tail: c.u64_be("list tail")? },
        RedisType::Stream => Extra::Stream(read_stream(c)?),
        RedisType::BloomFilter => Extra::Bloom(BloomMetadata {
            n_filters: c.u16_be("bloom n_filters")?,
            expansion: c.u16_be("bloom expansion")?,
            base_capacity: c.u32_be("bloom base_capacity")?,
            error_rate: read_double(c, "bloom error_rate")?,
            bloom_bytes: c.u32_be("bloom bloom_bytes")?,
        }),
        RedisType::HyperLogLog => {
            let offset = c.offset();
            let encode_type = c.u8("hyperloglog encode type")?;
            if encode_type != 0 {
                return Err(KvrocksError::Malformed { what: "hyperloglog encode type (expected 0, dense)", offset });
            }
            Extra::HyperLogLog { encode_type }
        }
        RedisType::Hash | RedisType::Set | RedisType::ZSet | RedisType::Bitmap | RedisType::Sortedint => Extra::None,
    })
}

fn read_stream(c: &mut Cursor<'_>) -> Result<StreamMetadata> {
    let mut id = |what| -> Result<StreamId> { Ok(StreamId { ms: c.u64_be(what)?, seq: c.u64_be(what)? }) };
    let last_generated_id = id("stream last_generated_id")?;
    let recorded_first_entry_id = id("stream recorded_first_entry_id")?;
    let max_deleted_entry_id = id("stream max_deleted_entry_id")?;
    let first_entry_id = id("stream first_entry_id")?;
    let last_entry_id = id("stream last_entry_id")?;
    let entries_added = c.u64_be("stream entries_added")?;
    // Written since consumer groups exist; older values end before it.
    let group_number = if c.remaining() >= 8 { c.u64_be("stream group_number")? } else { 0 };
    Ok(StreamMetadata {
        last_generated_id,
        recorded_first_entry_id,
        max_deleted_entry_id,
        first_entry_id,
        last_entry_id,
        entries_added,
        group_number,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn legacy_string_from_golden_set() {
        // Kvrocks' applybatch test: flags 0x01, expire u32 0, value "1".
        let m = Metadata::load(b"\x01\x00\x00\x00\x001").unwrap();
        assert_eq!(m.redis_type, RedisType::String);
        assert!(!m.is_64bit());
        assert_eq!((m.expire_ms, m.version, m.size), (0, 0, 0));
        assert_eq!(m.extra, Extra::String(b"1"));
    }

    #[test]
    fn legacy_hash_from_golden_hset() {
        let m = Metadata::load(b"\x02\x00\x00\x00\x00\x30\x76\xf3\x31\x69\x63\x42\xa7\x00\x00\x00\x02").unwrap();
        assert_eq!(m.redis_type, RedisType::Hash);
        assert_eq!((m.version, m.size), (0x3076_f331_6963_42a7, 2));
        assert!(m.owns_version(0x3076_f331_6963_42a7));
        assert_eq!(m.extra, Extra::None);
    }

    #[test]
    fn legacy_expire_is_seconds() {
        let m = Metadata::load(b"\x01\x00\x00\x00\x0aabc").unwrap();
        assert_eq!(m.expire_ms, 10_000);
        assert!(m.is_expired(10_001));
        assert!(!m.is_expired(10_000));
    }

    #[test]
    fn string_64bit_with_expiry_from_capture() {
        // PEXPIREAT str3 4102444800999 in the Kvrocks 2.10.1 capture.
        let m = Metadata::load(b"\x81\x00\x00\x03\xbb\x2c\xc3\xdb\xe7val3").unwrap();
        assert!(m.is_64bit());
        assert_eq!(m.expire_ms, 4_102_444_800_999);
        assert_eq!(m.extra, Extra::String(b"val3"));
        assert!(!m.is_dead(4_102_444_800_999));
        assert!(m.is_dead(4_102_444_801_000));
    }

    #[test]
    fn list_from_capture() {
        let mut v = b"\x83".to_vec();
        v.extend_from_slice(&0u64.to_be_bytes());
        v.extend_from_slice(&0x3310_69f5_6b2d_1856u64.to_be_bytes());
        v.extend_from_slice(&8u64.to_be_bytes());
        v.extend_from_slice(&0x7fff_ffff_ffff_fffdu64.to_be_bytes());
        v.extend_from_slice(&0x8000_0000_0000_0005u64.to_be_bytes());
        let m = Metadata::load(&v).unwrap();
        assert_eq!(m.size, 8);
        assert_eq!(m.extra, Extra::List { head: 0x7fff_ffff_ffff_fffd, tail: 0x8000_0000_0000_0005 });
        assert_eq!(m.created_at_us(), 0x3310_69f5_6b2d_1856 >> 11);
    }

    #[test]
    fn empty_collections_are_dead_but_empty_streams_are_not() {
        let mut hash = b"\x82".to_vec();
        hash.extend_from_slice(&[0; 24]);
        assert!(Metadata::load(&hash).unwrap().is_dead(0));
        let mut stream = b"\x88".to_vec();
        stream.extend_from_slice(&[0; 24 + 11 * 8]);
        let m = Metadata::load(&stream).unwrap();
        assert!(!m.is_dead(0));
        let Extra::Stream(s) = m.extra else { panic!("{m:?}") };
        assert_eq!(s.group_number, 0);
    }

    #[test]
    fn stream_without_group_number() {
        let mut v = b"\x88".to_vec();
        v.extend_from_slice(&[0; 24]);
        for i in 1..=11u64 {
            v.extend_from_slice(&i.to_be_bytes());
        }
        let m = Metadata::load(&v).unwrap();
        let Extra::Stream(s) = m.extra else { panic!("{m:?}") };
        assert_eq!(s.last_generated_id, StreamId { ms: 1, seq: 2 });
        assert_eq!(s.last_entry_id, StreamId { ms: 9, seq: 10 });
        assert_eq!((s.entries_added, s.group_number), (11, 0));
        v.truncate(v.len() - 1);
        assert!(matches!(Metadata::load(&v), Err(KvrocksError::Truncated { what: "stream entries_added", .. })));
    }

    #[test]
    fn bloom_and_hll_and_json_from_capture() {
        // BF.ADD b x: n_filters 1, expansion 2, capacity 100, error rate 0.01, 128 bytes.
        let mut v = b"\x89".to_vec();
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&1u64.to_be_bytes());
        v.extend_from_slice(&1u64.to_be_bytes());
        v.extend_from_slice(b"\x00\x01\x00\x02\x00\x00\x00\x64");
        v.extend_from_slice(&crate::key::encode_double(0.01).to_be_bytes());
        v.extend_from_slice(&128u32.to_be_bytes());
        let m = Metadata::load(&v).unwrap();
        assert_eq!(
            m.extra,
            Extra::Bloom(BloomMetadata {
                n_filters: 1,
                expansion: 2,
                base_capacity: 100,
                error_rate: 0.01,
                bloom_bytes: 128
            })
        );
        let mut hll = b"\x8b".to_vec();
        hll.extend_from_slice(&[0; 25]);
        assert_eq!(Metadata::load(&hll).unwrap().extra, Extra::HyperLogLog { encode_type: 0 });
        *hll.last_mut().unwrap() = 1;
        assert!(matches!(Metadata::load(&hll), Err(KvrocksError::Malformed { offset: 25, .. })));
        let json = b"\x8a\x00\x00\x00\x00\x00\x00\x00\x00\x00{\"a\":1}";
        let m = Metadata::load(json).unwrap();
        assert_eq!(m.extra, Extra::Json { format: JsonFormat::Json, payload: b"{\"a\":1}" });
    }

    #[test]
    fn unknown_type_and_truncation() {
        assert_eq!(
            Metadata::load(b"\x8c\x00").unwrap_err(),
            KvrocksError::UnknownType { type_id: 12, flags: 0x8c, offset: 0 }
        );
        assert!(matches!(Metadata::load(b"\x80"), Err(KvrocksError::UnknownType { type_id: 0, .. })));
        assert_eq!(
            Metadata::load(b"\x82\x00\x00\x00\x00\x00\x00\x00\x00\x01").unwrap_err(),
            KvrocksError::Truncated { what: "metadata version", offset: 9, needed: 8, available: 1 }
        );
        assert!(matches!(Metadata::load(b""), Err(KvrocksError::Truncated { what: "metadata flags", .. })));
    }

    #[test]
    fn type_names() {
        let names: Vec<_> = (1..=11).map(|i| RedisType::from_id(i).unwrap().name()).collect();
        assert_eq!(
            names,
            [
                "string",
                "hash",
                "list",
                "set",
                "zset",
                "bitmap",
                "sortedint",
                "stream",
                "MBbloom--",
                "ReJSON-RL",
                "hyperloglog"
            ]
        );
        for i in 1..=11 {
            assert_eq!(RedisType::from_id(i).unwrap().id(), i);
        }
        assert_eq!(RedisType::from_id(0), None);
        assert_eq!(RedisType::from_id(12), None);
    }
}
