//! Kvrocks' column families: the ids a WriteBatch record carries and the names a RocksDB
//! reader opens them by.
//!
//! The ids are the creation order in Kvrocks 2.10 (`ColumnFamilyID` in
//! `src/storage/storage.h`); the default column family is id 0 and holds the primary
//! subkeys. Records for id 0 use RocksDB's non-CF tags.

use std::fmt;

/// One of Kvrocks 2.10's seven column families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ColumnFamily {
    /// Id 0, RocksDB's `default`: subkeys of hash, set, list, zset (member → score),
    /// bitmap, sortedint, bloom and hyperloglog keys.
    PrimarySubkey,
    /// Id 1, `metadata`: one record per user key (type, expiry, version, size).
    Metadata,
    /// Id 2, `zset_score`: zset score index (score + member → empty).
    SecondarySubkey,
    /// Id 3, `pubsub`: PUBLISH, channel → message.
    PubSub,
    /// Id 4, `propagate`: scripts, functions, namespace tokens, replication id.
    Propagate,
    /// Id 5, `stream`: stream entries, consumer groups, consumers and pending entries.
    Stream,
    /// Id 6, `search`: search index data (opaque here).
    Search,
}

impl ColumnFamily {
    /// All seven, in id order: the order a RocksDB reader must create or open them in.
    pub const ALL: [ColumnFamily; 7] = [
        Self::PrimarySubkey,
        Self::Metadata,
        Self::SecondarySubkey,
        Self::PubSub,
        Self::Propagate,
        Self::Stream,
        Self::Search,
    ];

    /// The column family for a WriteBatch cf id, if Kvrocks 2.10 defines it.
    pub fn from_id(id: u32) -> Option<Self> {
        usize::try_from(id).ok().and_then(|i| Self::ALL.get(i)).copied()
    }

    /// The WriteBatch cf id.
    pub fn id(self) -> u32 {
        match self {
            Self::PrimarySubkey => 0,
            Self::Metadata => 1,
            Self::SecondarySubkey => 2,
            Self::PubSub => 3,
            Self::Propagate => 4,
            Self::Stream => 5,
            Self::Search => 6,
        }
    }

    /// The RocksDB column family name.
    pub fn name(self) -> &'static str {
        match self {
            Self::PrimarySubkey => "default",
            Self::Metadata => "metadata",
            Self::SecondarySubkey => "zset_score",
            Self::PubSub => "pubsub",
            Self::Propagate => "propagate",
            Self::Stream => "stream",
            Self::Search => "search",
        }
    }
}

impl fmt::Display for ColumnFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cf {} ({})", self.id(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_follow_kvrocks_order() {
        let names: Vec<_> = ColumnFamily::ALL.iter().map(|cf| cf.name()).collect();
        assert_eq!(names, ["default", "metadata", "zset_score", "pubsub", "propagate", "stream", "search"]);
        for (i, cf) in ColumnFamily::ALL.iter().enumerate() {
            assert_eq!(cf.id() as usize, i);
            assert_eq!(ColumnFamily::from_id(cf.id()), Some(*cf));
        }
        assert_eq!(ColumnFamily::from_id(7), None);
        assert_eq!(ColumnFamily::Metadata.to_string(), "cf 1 (metadata)");
    }
}
