//! What an [`crate::InternalKey`]'s `sub_key` and its value mean, per column family and type.
//!
//! | type / CF | sub_key | value |
//! |---|---|---|
//! | hash (default) | field | value |
//! | set (default) | member | empty |
//! | list (default) | index u64 BE | element |
//! | zset (default) | member | encoded double score |
//! | zset (zset_score) | encoded double score, member | empty |
//! | bitmap (default) | decimal byte offset of a 1 KiB segment | segment bytes, LSB-first bits |
//! | sortedint (default) | id u64 BE | empty |
//! | bloom (default) | filter index u16 BE | filter bits |
//! | hyperloglog (default) | decimal segment index | dense 6-bit registers |
//! | stream (stream) | see [`crate::stream`] | |
//!
//! The type of a default-CF subkey is not in the record: the caller gets it from the
//! metadata put in the same batch or from the LogData (see [`crate::update`]).

use crate::cf::ColumnFamily;
use crate::cursor::Cursor;
use crate::error::{KvrocksError, Result};
use crate::key::read_double;
use crate::log_data::parse_decimal;
use crate::metadata::RedisType;
use crate::stream::{ConsumerMetadata, GroupMetadata, PelEntry, StreamFields, StreamKey};

/// A decoded `sub_key`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SubKey<'a> {
    /// A hash field.
    HashField(&'a [u8]),
    /// A set member.
    SetMember(&'a [u8]),
    /// A list index (elements run from the metadata's `head` to `tail`).
    ListIndex(u64),
    /// A zset member (its value is the score).
    ZSetMember(&'a [u8]),
    /// A zset score-index entry (zset_score CF).
    ZSetScore {
        /// The score.
        score: f64,
        /// The member.
        member: &'a [u8],
    },
    /// A bitmap segment, by the byte offset it starts at (a multiple of 1024).
    BitmapSegment(u64),
    /// A sortedint id.
    SortedintId(u64),
    /// A bloom sub-filter, by index.
    BloomFilter(u16),
    /// A hyperloglog register segment, by index.
    HllSegment(u32),
    /// A stream entry, group, consumer or pending entry.
    Stream(StreamKey<'a>),
    /// A subkey whose type is unknown (no metadata or LogData said), or a search CF key.
    Unknown(&'a [u8]),
}

/// A decoded subkey value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SubValue<'a> {
    /// Bytes kept as they are: hash value, list element, bitmap segment, filter, registers,
    /// the (normally empty) value of set members, sortedint ids and score-index entries,
    /// and any value of an [`SubKey::Unknown`] key.
    Bytes(&'a [u8]),
    /// A zset member's score.
    Score(f64),
    /// A stream entry's fields and values.
    StreamEntry(StreamFields<'a>),
    /// A consumer group's state.
    Group(GroupMetadata),
    /// A consumer's state.
    Consumer(ConsumerMetadata),
    /// A pending entry.
    Pel(PelEntry<'a>),
}

impl<'a> SubKey<'a> {
    /// Decodes `sub_key` of a record in `cf`, for a key of `redis_type` when known.
    pub fn load(cf: ColumnFamily, redis_type: Option<RedisType>, sub_key: &'a [u8]) -> Result<Self> {
        match cf {
            ColumnFamily::Stream => Ok(Self::Stream(StreamKey::load(sub_key)?)),
            ColumnFamily::SecondarySubkey => {
                let mut c = Cursor::new(sub_key);
                let score = read_double(&mut c, "zset score")?;
                Ok(Self::ZSetScore { score, member: c.rest() })
            }
            ColumnFamily::PrimarySubkey => match redis_type {
                Some(t) => primary(t, sub_key),
                None => Ok(Self::Unknown(sub_key)),
            },
            _ => Ok(Self::Unknown(sub_key)),
        }
    }

    /// Decodes the value stored under this subkey.
    pub fn value(&self, value: &'a [u8]) -> Result<SubValue<'a>> {
        Ok(match self {
            Self::ZSetMember(_) => {
                let mut c = Cursor::new(value);
                let score = SubValue::Score(read_double(&mut c, "zset member score")?);
                exact(c, score)?
            }
            Self::Stream(StreamKey::Entry(_)) => SubValue::StreamEntry(StreamFields::load(value)?),
            Self::Stream(StreamKey::Group { .. }) => SubValue::Group(GroupMetadata::load(value)?),
            Self::Stream(StreamKey::Consumer { .. }) => SubValue::Consumer(ConsumerMetadata::load(value)?),
            Self::Stream(StreamKey::Pel { .. }) => SubValue::Pel(PelEntry::load(value)?),
            _ => SubValue::Bytes(value),
        })
    }
}

fn primary(redis_type: RedisType, sub_key: &[u8]) -> Result<SubKey<'_>> {
    Ok(match redis_type {
        RedisType::Hash => SubKey::HashField(sub_key),
        RedisType::Set => SubKey::SetMember(sub_key),
        RedisType::ZSet => SubKey::ZSetMember(sub_key),
        RedisType::List => SubKey::ListIndex(fixed_u64(sub_key, "list index")?),
        RedisType::Sortedint => SubKey::SortedintId(fixed_u64(sub_key, "sortedint id")?),
        RedisType::Bitmap => SubKey::BitmapSegment(decimal(sub_key, "bitmap segment offset")?),
        RedisType::HyperLogLog => {
            let index = decimal(sub_key, "hyperloglog segment index")?;
            SubKey::HllSegment(
                u32::try_from(index).map_err(|_| KvrocksError::Malformed {
                    what: "hyperloglog segment index (above u32)",
                    offset: 0,
                })?,
            )
        }
        RedisType::BloomFilter => {
            let mut c = Cursor::new(sub_key);
            let index = c.u16_be("bloom filter index")?;
            exact(c, SubKey::BloomFilter(index))?
        }
        // Single-KV types and streams have no default-CF subkeys.
        RedisType::String | RedisType::Json | RedisType::Stream => SubKey::Unknown(sub_key),
    })
}

fn fixed_u64(bytes: &[u8], what: &'static str) -> Result<u64> {
    let mut c = Cursor::new(bytes);
    let value = c.u64_be(what)?;
    exact(c, value)
}

fn exact<T>(c: Cursor<'_>, value: T) -> Result<T> {
    if c.is_empty() {
        Ok(value)
    } else {
        Err(KvrocksError::Malformed { what: "subkey or value (trailing bytes)", offset: c.offset() })
    }
}

/// Plain ASCII decimal, as `std::to_string` writes it.
fn decimal(bytes: &[u8], what: &'static str) -> Result<u64> {
    parse_decimal(bytes).ok_or(KvrocksError::Malformed { what, offset: 0 })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::stream::StreamId;

    const CF0: ColumnFamily = ColumnFamily::PrimarySubkey;

    #[test]
    fn per_type_primary_subkeys() {
        assert_eq!(SubKey::load(CF0, Some(RedisType::Hash), b"f9").unwrap(), SubKey::HashField(b"f9"));
        assert_eq!(SubKey::load(CF0, Some(RedisType::Set), b"m9").unwrap(), SubKey::SetMember(b"m9"));
        assert_eq!(
            SubKey::load(CF0, Some(RedisType::List), b"\x7f\xff\xff\xff\xff\xff\xff\xfd").unwrap(),
            SubKey::ListIndex(0x7fff_ffff_ffff_fffd)
        );
        assert_eq!(SubKey::load(CF0, Some(RedisType::Sortedint), &9u64.to_be_bytes()).unwrap(), SubKey::SortedintId(9));
        assert_eq!(SubKey::load(CF0, Some(RedisType::Bitmap), b"12288").unwrap(), SubKey::BitmapSegment(12288));
        assert_eq!(SubKey::load(CF0, Some(RedisType::HyperLogLog), b"15").unwrap(), SubKey::HllSegment(15));
        assert_eq!(SubKey::load(CF0, Some(RedisType::BloomFilter), b"\x00\x00").unwrap(), SubKey::BloomFilter(0));
        assert_eq!(SubKey::load(CF0, None, b"xyz").unwrap(), SubKey::Unknown(b"xyz"));
        assert_eq!(SubKey::load(ColumnFamily::Search, None, b"xyz").unwrap(), SubKey::Unknown(b"xyz"));
    }

    #[test]
    fn bad_primary_subkeys() {
        assert!(SubKey::load(CF0, Some(RedisType::List), b"\x00\x01").is_err());
        assert!(SubKey::load(CF0, Some(RedisType::List), &[0; 9]).is_err());
        assert_eq!(
            SubKey::load(CF0, Some(RedisType::Bitmap), b"12a").unwrap_err(),
            KvrocksError::Malformed { what: "bitmap segment offset", offset: 0 }
        );
        assert!(SubKey::load(CF0, Some(RedisType::Bitmap), b"").is_err());
        assert!(SubKey::load(CF0, Some(RedisType::Bitmap), b"99999999999999999999999").is_err());
        assert!(SubKey::load(CF0, Some(RedisType::HyperLogLog), b"4294967296").is_err());
    }

    #[test]
    fn zset_member_and_score_index() {
        // ZADD z1 2.5 n9 in the capture.
        let key = SubKey::load(CF0, Some(RedisType::ZSet), b"n9").unwrap();
        assert_eq!(key.value(b"\xc0\x04\x00\x00\x00\x00\x00\x00").unwrap(), SubValue::Score(2.5));
        assert!(key.value(b"\xc0\x04").is_err());
        let idx = SubKey::load(ColumnFamily::SecondarySubkey, None, b"\xc0\x04\x00\x00\x00\x00\x00\x00n9").unwrap();
        assert_eq!(idx, SubKey::ZSetScore { score: 2.5, member: b"n9" });
        assert_eq!(idx.value(b"").unwrap(), SubValue::Bytes(b""));
    }

    #[test]
    fn stream_values() {
        let mut sub = 1_700_000_000_000u64.to_be_bytes().to_vec();
        sub.extend_from_slice(&10u64.to_be_bytes());
        let key = SubKey::load(ColumnFamily::Stream, Some(RedisType::Stream), &sub).unwrap();
        assert_eq!(key, SubKey::Stream(StreamKey::Entry(StreamId { ms: 1_700_000_000_000, seq: 10 })));
        let SubValue::StreamEntry(fields) = key.value(b"\x01f\x03v10").unwrap() else { panic!() };
        assert_eq!(fields.iter().collect::<Vec<_>>(), [&b"f"[..], b"v10"]);
    }
}
