//! Streams: entry ids, the stream part of the metadata value, and what the stream column
//! family holds under a stream's subkeys (`src/types/redis_stream.cc`).
//!
//! ```text
//! entry      sub_key := ms:u64 | seq:u64                      value := (varint32 len | bytes)*  (field, value, ...)
//! group      sub_key := u64::MAX | 1 | len:u64 | group        value := consumers, pending, last id, entries_read, lag
//! consumer   sub_key := u64::MAX | 2 | len:u64 | group | len:u64 | consumer
//!                                                              value := pending, last attempted ms, last successful ms
//! PEL entry  sub_key := u64::MAX | 3 | len:u64 | group | ms:u64 | seq:u64
//!                                                              value := delivery ms, delivery count, len:u64 | consumer
//! ```
//!
//! All integers are big-endian.

use std::fmt;

use crate::cursor::Cursor;
use crate::error::{KvrocksError, Result};

/// A stream entry id, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The stream-specific fields of a stream's metadata value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamMetadata {
    /// The id XADD last generated.
    pub last_generated_id: StreamId,
    /// The first entry id recorded (for XINFO).
    pub recorded_first_entry_id: StreamId,
    /// The highest id deleted.
    pub max_deleted_entry_id: StreamId,
    /// The first live entry.
    pub first_entry_id: StreamId,
    /// The last live entry.
    pub last_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups (0 when the value predates groups).
    pub group_number: u64,
}

/// A consumer group's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupMetadata {
    /// Consumers in the group.
    pub consumer_number: u64,
    /// Entries pending in the group.
    pub pending_number: u64,
    /// The group's last delivered id.
    pub last_delivered_id: StreamId,
    /// `entries-read` (-1 when unknown).
    pub entries_read: i64,
    /// The group's lag.
    pub lag: u64,
}

/// A consumer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerMetadata {
    /// Entries pending for the consumer.
    pub pending_number: u64,
    /// Last attempted interaction, unix ms.
    pub last_attempted_interaction_ms: u64,
    /// Last successful interaction, unix ms.
    pub last_successful_interaction_ms: u64,
}

/// A pending entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PelEntry<'a> {
    /// Last delivery, unix ms.
    pub last_delivery_time_ms: u64,
    /// Deliveries so far.
    pub last_delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: &'a [u8],
}

/// A stream entry's fields and values, in order, as borrowed slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFields<'a>(&'a [u8]);

impl<'a> StreamFields<'a> {
    /// Wraps an entry value, checking that it is a whole number of length-prefixed strings.
    pub fn load(value: &'a [u8]) -> Result<Self> {
        let mut c = Cursor::new(value);
        while !c.is_empty() {
            c.varstring("stream entry field")?;
        }
        Ok(Self(value))
    }

    /// Field, value, field, value, ...
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut c = Cursor::new(self.0);
        // INVARIANT: `load` checked every string, so this never meets an error.
        std::iter::from_fn(move || if c.is_empty() { None } else { c.varstring("stream entry field").ok() })
    }
}

/// The marker that starts every non-entry subkey.
const GROUP_DELIMITER: u64 = u64::MAX;

/// What a stream CF subkey addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKey<'a> {
    /// An entry.
    Entry(StreamId),
    /// A consumer group's metadata.
    Group {
        /// Group name.
        group: &'a [u8],
    },
    /// A consumer's metadata.
    Consumer {
        /// Group name.
        group: &'a [u8],
        /// Consumer name.
        consumer: &'a [u8],
    },
    /// A pending entry of a group.
    Pel {
        /// Group name.
        group: &'a [u8],
        /// The pending entry's id.
        id: StreamId,
    },
}

impl<'a> StreamKey<'a> {
    /// Decodes a stream CF sub_key.
    pub fn load(sub_key: &'a [u8]) -> Result<Self> {
        let mut c = Cursor::new(sub_key);
        let ms = c.u64_be("stream id ms")?;
        if ms != GROUP_DELIMITER {
            let seq = c.u64_be("stream id seq")?;
            return done(c, Self::Entry(StreamId { ms, seq }));
        }
        let kind_at = c.offset();
        let kind = c.u8("stream subkey type")?;
        let group = name(&mut c, "stream group name")?;
        let key = match kind {
            1 => Self::Group { group },
            2 => Self::Consumer { group, consumer: name(&mut c, "stream consumer name")? },
            3 => Self::Pel { group, id: StreamId { ms: c.u64_be("PEL id ms")?, seq: c.u64_be("PEL id seq")? } },
            _ => return Err(KvrocksError::Malformed { what: "stream subkey type (expected 1-3)", offset: kind_at }),
        };
        done(c, key)
    }
}

fn done<T>(c: Cursor<'_>, value: T) -> Result<T> {
    if c.is_empty() {
        Ok(value)
    } else {
        Err(KvrocksError::Malformed { what: "stream subkey (trailing bytes)", offset: c.offset() })
    }
}

/// A u64 length then that many bytes.
fn name<'a>(c: &mut Cursor<'a>, what: &'static str) -> Result<&'a [u8]> {
    let at = c.offset();
    let len = usize::try_from(c.u64_be(what)?).map_err(|_| KvrocksError::Malformed { what, offset: at })?;
    c.bytes(len, what)
}

impl GroupMetadata {
    /// Decodes a group value.
    pub fn load(value: &[u8]) -> Result<Self> {
        let mut c = Cursor::new(value);
        Ok(Self {
            consumer_number: c.u64_be("group consumer_number")?,
            pending_number: c.u64_be("group pending_number")?,
            last_delivered_id: StreamId {
                ms: c.u64_be("group last_delivered_id")?,
                seq: c.u64_be("group last_delivered_id")?,
            },
            entries_read: i64::from_be_bytes(c.u64_be("group entries_read")?.to_be_bytes()),
            lag: c.u64_be("group lag")?,
        })
    }
}

impl ConsumerMetadata {
    /// Decodes a consumer value.
    pub fn load(value: &[u8]) -> Result<Self> {
        let mut c = Cursor::new(value);
        Ok(Self {
            pending_number: c.u64_be("consumer pending_number")?,
            last_attempted_interaction_ms: c.u64_be("consumer last_attempted_interaction_ms")?,
            last_successful_interaction_ms: c.u64_be("consumer last_successful_interaction_ms")?,
        })
    }
}

impl<'a> PelEntry<'a> {
    /// Decodes a pending-entry value.
    pub fn load(value: &'a [u8]) -> Result<Self> {
        let mut c = Cursor::new(value);
        Ok(Self {
            last_delivery_time_ms: c.u64_be("PEL last_delivery_time_ms")?,
            last_delivery_count: c.u64_be("PEL last_delivery_count")?,
            consumer: name(&mut c, "PEL consumer name")?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn be(parts: &[u64]) -> Vec<u8> {
        parts.iter().flat_map(|p| p.to_be_bytes()).collect()
    }

    #[test]
    fn entry_key_and_fields() {
        let key = be(&[1_700_000_000_000, 10]);
        assert_eq!(StreamKey::load(&key).unwrap(), StreamKey::Entry(StreamId { ms: 1_700_000_000_000, seq: 10 }));
        let fields = StreamFields::load(b"\x01f\x03v10\x00").unwrap();
        assert_eq!(fields.iter().collect::<Vec<_>>(), [&b"f"[..], b"v10", b""]);
        assert!(StreamFields::load(b"\x05ab").is_err());
        assert_eq!(StreamId { ms: 1, seq: 2 }.to_string(), "1-2");
    }

    #[test]
    fn group_consumer_and_pel_keys() {
        let mut group = be(&[u64::MAX]);
        group.push(1);
        group.extend_from_slice(&be(&[2]));
        group.extend_from_slice(b"g2");
        assert_eq!(StreamKey::load(&group).unwrap(), StreamKey::Group { group: b"g2" });

        let mut consumer = be(&[u64::MAX]);
        consumer.push(2);
        consumer.extend_from_slice(&be(&[2]));
        consumer.extend_from_slice(b"g1");
        consumer.extend_from_slice(&be(&[2]));
        consumer.extend_from_slice(b"c1");
        assert_eq!(StreamKey::load(&consumer).unwrap(), StreamKey::Consumer { group: b"g1", consumer: b"c1" });

        let mut pel = be(&[u64::MAX]);
        pel.push(3);
        pel.extend_from_slice(&be(&[2]));
        pel.extend_from_slice(b"g1");
        pel.extend_from_slice(&be(&[5, 1]));
        assert_eq!(StreamKey::load(&pel).unwrap(), StreamKey::Pel { group: b"g1", id: StreamId { ms: 5, seq: 1 } });

        let mut bad = be(&[u64::MAX]);
        bad.push(4);
        bad.extend_from_slice(&be(&[0]));
        assert_eq!(
            StreamKey::load(&bad).unwrap_err(),
            KvrocksError::Malformed { what: "stream subkey type (expected 1-3)", offset: 8 }
        );
        let mut long = be(&[u64::MAX]);
        long.push(1);
        long.extend_from_slice(&be(&[u64::MAX]));
        assert!(StreamKey::load(&long).is_err());
    }

    #[test]
    fn group_values() {
        // XGROUP SETID st g1 $ in the capture.
        let v = be(&[0, 1, 1_700_000_000_000, 10, u64::MAX, 0]);
        let g = GroupMetadata::load(&v).unwrap();
        assert_eq!(g.pending_number, 1);
        assert_eq!(g.last_delivered_id, StreamId { ms: 1_700_000_000_000, seq: 10 });
        assert_eq!(g.entries_read, -1);
        let c = ConsumerMetadata::load(&be(&[1, 7, 8])).unwrap();
        assert_eq!(c.last_successful_interaction_ms, 8);
        let mut pel = be(&[9, 1, 2]);
        pel.extend_from_slice(b"c1");
        let p = PelEntry::load(&pel).unwrap();
        assert_eq!((p.last_delivery_time_ms, p.last_delivery_count, p.consumer), (9, 1, &b"c1"[..]));
    }
}
