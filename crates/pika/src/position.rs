//! Binlog positions: [`BinlogPos`] (file number and byte offset, what TrySync and the dump's
//! `info` file carry) and [`LogOffset`] (plus Pika's logic offset, term and index, what
//! BinlogSync items and acks carry), with their protobuf forms.

use std::fmt;

use crate::proto::inner::BinlogOffset;

/// A place in a master's binlog: `write2file<filenum>` at byte `offset`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BinlogPos {
    /// Binlog file number.
    pub filenum: u32,
    /// Byte offset in that file.
    pub offset: u64,
}

impl BinlogPos {
    /// The position `(filenum, offset)`.
    pub const fn new(filenum: u32, offset: u64) -> Self {
        Self { filenum, offset }
    }

    /// Its protobuf form without term and index, as TrySync and DBSync send it.
    pub fn to_proto(self) -> BinlogOffset {
        BinlogOffset { filenum: self.filenum, offset: self.offset, term: None, index: None }
    }
}

impl From<&BinlogOffset> for BinlogPos {
    fn from(offset: &BinlogOffset) -> Self {
        Self { filenum: offset.filenum, offset: offset.offset }
    }
}

impl fmt::Display for BinlogPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.filenum, self.offset)
    }
}

/// A binlog position with Pika's logic offset. The master matches acks on `pos` only
/// (`SyncWinItem::operator==`, `include/pika_slave_node.h`); term and index ride along.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogOffset {
    /// The byte position.
    pub pos: BinlogPos,
    /// Consensus term (0 in classic mode).
    pub term: u32,
    /// Logic index: the item's sequence number in its binlog.
    pub index: u64,
}

impl LogOffset {
    /// The all-zero offset: an ack range of two of these is a ping.
    pub const ZERO: Self = Self { pos: BinlogPos::new(0, 0), term: 0, index: 0 };

    /// Its protobuf form with term and index set, as acks send it.
    pub fn to_proto(self) -> BinlogOffset {
        BinlogOffset {
            filenum: self.pos.filenum,
            offset: self.pos.offset,
            term: Some(self.term),
            index: Some(self.index),
        }
    }
}

impl From<&BinlogOffset> for LogOffset {
    fn from(offset: &BinlogOffset) -> Self {
        Self { pos: offset.into(), term: offset.term.unwrap_or(0), index: offset.index.unwrap_or(0) }
    }
}

impl fmt::Display for LogOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (term {}, index {})", self.pos, self.term, self.index)
    }
}

/// The database number of a Pika database name (`db0` → 0), for `SELECT` on the target.
pub fn db_index(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("db")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_forms() {
        let pos = BinlogPos::new(3, 5462);
        assert_eq!(BinlogPos::from(&pos.to_proto()), pos);
        let off = LogOffset { pos, term: 2, index: 57 };
        assert_eq!(LogOffset::from(&off.to_proto()), off);
        assert_eq!(pos.to_proto().term, None);
        assert_eq!(off.to_string(), "3:5462 (term 2, index 57)");
    }

    #[test]
    fn db_names() {
        assert_eq!(db_index("db0"), Some(0));
        assert_eq!(db_index("db15"), Some(15));
        for bad in ["db", "db-1", "d0", "db+1", "db0x"] {
            assert_eq!(db_index(bad), None, "{bad}");
        }
    }
}
