//! Kvrocks' LogData: the blob Kvrocks puts (as a RocksDB `PutLogData`) before the records of
//! each write, saying which type and often which command made them.
//!
//! Two kinds exist (`src/storage/batch_extractor.cc`, `WriteBatchExtractor::LogData`):
//! - `WriteBatchLogData` (`src/storage/redis_db.cc`): ASCII `"<type>[ <arg>]*"`. The type is
//!   a [`RedisType`] id, 0 when the command is type-agnostic (EXPIRE). The first argument, when
//!   numeric, is a [`RedisCommand`]; other commands put words there (`"9 insert"`,
//!   `"8 XSETID"`). Kvrocks joins with single spaces and splits on them dropping empty pieces,
//!   so an argument that contains a space (a LINSERT pivot, say) cannot be recovered exactly:
//!   [`RedisLog::raw_args`] gives the unsplit text.
//! - `ServerLogData` (`src/server/server.cc`): `"r <16-byte replication id>"`, appended to
//!   every batch only with `use-rsid-psync yes`.

use crate::error::{KvrocksError, Result};
use crate::metadata::RedisType;

/// Length of a Kvrocks replication id (`kReplIdLength`).
pub const REPL_ID_LEN: usize = 16;

/// The command code a LogData's first argument carries (`RedisCommand` in
/// `src/storage/redis_metadata.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedisCommand {
    /// 0.
    LSet,
    /// 1: args `<1=before|0=after> <pivot> <element>`.
    LInsert,
    /// 2: args `<start> <stop>`.
    LTrim,
    /// 3.
    LPop,
    /// 4.
    RPop,
    /// 5: args `<count> <element>`.
    LRem,
    /// 6.
    LPush,
    /// 7.
    RPush,
    /// 8: any type's EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT/PERSIST (LogData type 0).
    Expire,
    /// 9: args `<bit offset>`.
    SetBit,
    /// 10: args `<op> <dest> <src>...`.
    BitOp,
    /// 11: args are the BITFIELD arguments.
    BitField,
    /// 12: args `<src> <dst> <left|right> <left|right>`.
    LMove,
}

impl RedisCommand {
    /// The command for a code.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::LSet,
            1 => Self::LInsert,
            2 => Self::LTrim,
            3 => Self::LPop,
            4 => Self::RPop,
            5 => Self::LRem,
            6 => Self::LPush,
            7 => Self::RPush,
            8 => Self::Expire,
            9 => Self::SetBit,
            10 => Self::BitOp,
            11 => Self::BitField,
            12 => Self::LMove,
            _ => return None,
        })
    }
}

/// A decoded LogData blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogData<'a> {
    /// A `WriteBatchLogData`.
    Redis(RedisLog<'a>),
    /// A `ServerLogData` with the master's replication id.
    ReplicationId(&'a [u8]),
}

impl<'a> LogData<'a> {
    /// Parses a LogData blob.
    pub fn parse(blob: &'a [u8]) -> Result<Self> {
        match blob {
            [b'r', rest @ ..] => match rest {
                [b' ', id @ ..] if id.len() == REPL_ID_LEN => Ok(Self::ReplicationId(id)),
                _ => Err(KvrocksError::Malformed { what: "server LogData (expected \"r <16-byte id>\")", offset: 1 }),
            },
            _ => RedisLog::parse(blob).map(Self::Redis),
        }
    }

    /// The `WriteBatchLogData`, if this is one.
    pub fn as_redis(&self) -> Option<&RedisLog<'a>> {
        match self {
            Self::Redis(log) => Some(log),
            Self::ReplicationId(_) => None,
        }
    }
}

/// A `WriteBatchLogData`: a type id and space-separated arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisLog<'a> {
    /// The type id as written (0 = `kRedisNone`).
    pub type_id: u8,
    raw_args: &'a [u8],
}

impl<'a> RedisLog<'a> {
    /// Parses `"<type>[ <arg>]*"`.
    pub fn parse(blob: &'a [u8]) -> Result<Self> {
        let mut pieces = blob.splitn(2, |b| *b == b' ');
        let first = pieces.next().unwrap_or_default();
        let type_id = parse_decimal(first)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or(KvrocksError::Malformed { what: "LogData type (expected a decimal type id)", offset: 0 })?;
        Ok(Self { type_id, raw_args: pieces.next().unwrap_or_default() })
    }

    /// The type, unless it is 0 (type-agnostic) or unknown.
    pub fn redis_type(&self) -> Option<RedisType> {
        RedisType::from_id(self.type_id)
    }

    /// The arguments, split on spaces with empty pieces dropped, as Kvrocks splits them.
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.raw_args.split(|b| *b == b' ').filter(|piece| !piece.is_empty())
    }

    /// Argument `i` (0 is the command code when there is one).
    pub fn arg(&self, i: usize) -> Option<&'a [u8]> {
        self.args().nth(i)
    }

    /// Everything after the type and its space, unsplit.
    pub fn raw_args(&self) -> &'a [u8] {
        self.raw_args
    }

    /// The command code in the first argument, if it is a known numeric code.
    pub fn command(&self) -> Option<RedisCommand> {
        self.arg(0).and_then(parse_decimal).and_then(RedisCommand::from_code)
    }
}

/// A non-empty run of ASCII digits that fits in u64.
pub(crate) fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn redis(blob: &[u8]) -> RedisLog<'_> {
        *LogData::parse(blob).unwrap().as_redis().unwrap()
    }

    #[test]
    fn type_only() {
        let log = redis(b"2");
        assert_eq!(log.type_id, 2);
        assert_eq!(log.redis_type(), Some(RedisType::Hash));
        assert_eq!(log.args().count(), 0);
        assert_eq!(log.command(), None);
    }

    #[test]
    fn commands_from_the_capture() {
        let expire = redis(b"0 8");
        assert_eq!((expire.type_id, expire.redis_type(), expire.command()), (0, None, Some(RedisCommand::Expire)));

        let linsert = redis(b"3 1 1 first ins");
        assert_eq!(linsert.command(), Some(RedisCommand::LInsert));
        assert_eq!(linsert.args().collect::<Vec<_>>(), [&b"1"[..], b"1", b"first", b"ins"]);

        let lmove = redis(b"3 12 l1 l2 left right");
        assert_eq!(lmove.command(), Some(RedisCommand::LMove));
        assert_eq!(lmove.arg(4), Some(&b"right"[..]));

        let bitop = redis(b"6 10 OR bm bm2");
        assert_eq!(bitop.command(), Some(RedisCommand::BitOp));

        let bloom = redis(b"9 createBloomChain");
        assert_eq!((bloom.redis_type(), bloom.command()), (Some(RedisType::BloomFilter), None));
        assert_eq!(bloom.arg(0), Some(&b"createBloomChain"[..]));
    }

    #[test]
    fn spaces_are_collapsed_like_kvrocks() {
        let log = redis(b"3 5 0  a b");
        assert_eq!(log.args().collect::<Vec<_>>(), [&b"5"[..], b"0", b"a", b"b"]);
        assert_eq!(log.raw_args(), b"5 0  a b");
    }

    #[test]
    fn replication_id() {
        assert_eq!(LogData::parse(b"r 0123456789ABCDEF").unwrap(), LogData::ReplicationId(b"0123456789ABCDEF"));
        assert!(LogData::parse(b"r 0123").is_err());
        assert_eq!(LogData::parse(b"r 0123456789ABCDEF").unwrap().as_redis(), None);
    }

    #[test]
    fn bad_type() {
        for bad in [&b""[..], b"x 1", b"256", b"-1", b" 1"] {
            assert_eq!(
                LogData::parse(bad).unwrap_err(),
                KvrocksError::Malformed { what: "LogData type (expected a decimal type id)", offset: 0 },
                "{bad:?}"
            );
        }
    }
}
