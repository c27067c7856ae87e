//! Pika 3.5 ("blackwidow"-style storage) keys and values, from Pika v3.5.5's `src/storage/`
//! (`base_data_key_format.h`, `lists_data_key_format.h`, `zsets_data_key_format.h`,
//! `base_meta_value_format.h`, `strings_value_format.h`, `lists_meta_value_format.h`,
//! `pika_stream_meta_value.h`). One RocksDB per type, each keyed by the raw user key in its
//! `default` column family; integers little-endian (`EncodeFixed*`), stream ids big-endian.
//!
//! | directory | `default` value | data column family: key → value |
//! |---|---|---|
//! | `strings` | `value \| timestamp:i32` | none |
//! | `hashes` | `count:i32 \| version:i32 \| timestamp:i32` | `data_cf`: `len:u32 \| key \| version:i32 \| field` → value |
//! | `sets` | the same | `member_cf`: `… \| member` → empty |
//! | `zsets` | the same | `data_cf`: `… \| member` → score bits; `score_cf`: `… \| score \| member` → empty |
//! | `lists` | `count:u64 \| version:i32 \| timestamp:i32 \| left:u64 \| right:u64` | `data_cf`: `… \| index:u64` → value |
//! | `streams` | 68 bytes: `groups_id:u32 \| entries_added:u64 \| first, last, max_deleted id (ms:u64, seq:u64) \| length:i32 \| version:i32` | `data_cf`: `… \| id(16, BE)` → the message |
//!
//! Timestamps are Unix seconds, 0 for none; a key is stale when its timestamp is below the
//! current second (`IsStale`). Stream metas carry no timestamp.

use super::comparator::{le_u32, le_u64};
use super::meta::{Meta, StreamIds};
use super::KeyType;

/// Length of a stream's meta value in 3.5 (`kDefaultStreamValueLength`).
const STREAM_META_LEN: usize = 68;

/// The start of every data key of `key`'s `version`: `len:u32 | key | version:i32`.
pub(crate) fn data_prefix(key: &[u8], version: u64) -> Result<Vec<u8>, &'static str> {
    let len = u32::try_from(key.len()).map_err(|_| "key longer than 4 GiB")?;
    // The version is an i32, kept in the low 32 bits.
    Ok([&len.to_le_bytes()[..], key, &(version as u32).to_le_bytes()].concat())
}

/// The index of a list data key (`prefix | index:u64`).
pub(crate) fn list_index(row: &[u8], prefix: &[u8]) -> Result<u64, &'static str> {
    match row.get(prefix.len()..) {
        Some(index) if index.len() == 8 => Ok(le_u64(index, 0)),
        _ => Err("list data key without an 8-byte index"),
    }
}

/// Decodes the `default` column family value of a key of `kind`.
pub(crate) fn meta(kind: KeyType, value: &[u8]) -> Result<Meta<'_>, &'static str> {
    let len = value.len();
    let mut meta = Meta {
        kind,
        count: 1,
        version: 0,
        etime_ms: 0,
        value: &[],
        hyperloglog: false,
        list: (0, 0),
        stream: None,
        seconds: true,
    };
    let timestamp = |at: usize| seconds_ms(le_u32(value, at) as i32);
    match kind {
        KeyType::String => {
            let end = len.checked_sub(4).ok_or("string value shorter than 4 bytes")?;
            meta.value = value.get(..end).unwrap_or_default();
            meta.etime_ms = timestamp(end);
        }
        KeyType::Hash | KeyType::Set | KeyType::ZSet => {
            let end = len.checked_sub(8).filter(|e| *e >= 4).ok_or("meta value shorter than 12 bytes")?;
            meta.count = i64::from(le_u32(value, 0) as i32);
            meta.version = u64::from(le_u32(value, end));
            meta.etime_ms = timestamp(end + 4);
        }
        KeyType::List => {
            let end = len.checked_sub(24).filter(|e| *e >= 8).ok_or("list meta value shorter than 32 bytes")?;
            meta.count = i64::try_from(le_u64(value, 0)).map_err(|_| "list length over 2^63")?;
            meta.version = u64::from(le_u32(value, end));
            meta.etime_ms = timestamp(end + 4);
            meta.list = (le_u64(value, end + 8), le_u64(value, end + 16));
        }
        KeyType::Stream => {
            if len != STREAM_META_LEN {
                return Err("stream meta value not 68 bytes long");
            }
            let id = |at| (le_u64(value, at), le_u64(value, at + 8));
            meta.count = i64::from(le_u32(value, 60) as i32);
            meta.version = u64::from(le_u32(value, 64));
            meta.stream = Some(StreamIds { entries_added: le_u64(value, 4), last: id(28), max_deleted: id(44) });
        }
    }
    Ok(meta)
}

/// A 3.5 timestamp (seconds; 0: none) in ms; a negative one is long past (1 ms).
fn seconds_ms(timestamp: i32) -> u64 {
    match timestamp {
        0 => 0,
        t if t < 0 => 1,
        t => u64::from(t.unsigned_abs()) * 1000,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn data_prefixes_are_length_key_version() {
        // `HashesDataKey("h", 1796660608, "")`.
        let p = data_prefix(b"h", 1_796_660_608).unwrap();
        assert_eq!(p, [&[1u8, 0, 0, 0][..], b"h", &1_796_660_608u32.to_le_bytes()].concat());
        // A negative version (an i32 gone past 2^31) keeps its bits.
        assert_eq!(&data_prefix(b"", u64::from(-2i32 as u32)).unwrap()[4..], &[0xfe, 0xff, 0xff, 0xff]);
        let row = [&p[..], &5u64.to_le_bytes()].concat();
        assert_eq!(list_index(&row, &p).unwrap(), 5);
        assert!(list_index(&row[..row.len() - 1], &p).is_err());
    }

    #[test]
    fn strings_end_with_a_timestamp_in_seconds() {
        // `StringsValue("hello")` with timestamp 1796660708.
        let v = [&b"hello"[..], &1_796_660_708i32.to_le_bytes()].concat();
        let m = meta(KeyType::String, &v).unwrap();
        assert_eq!((m.value, m.etime_ms), (&b"hello"[..], 1_796_660_708_000));
        assert!(!m.expired(1_796_660_708_999), "stale from the next second on");
        assert!(m.expired(1_796_660_709_000));
        let m = meta(KeyType::String, &[0, 0, 0, 0]).unwrap();
        assert_eq!((m.value, m.etime_ms, m.expired(u64::MAX)), (&b""[..], 0, false));
        let past = (-5i32).to_le_bytes();
        let m = meta(KeyType::String, &past).unwrap();
        assert!(m.expired(1_000));
        assert!(meta(KeyType::String, b"abc").is_err());
    }

    #[test]
    fn collection_and_list_metas() {
        // `HashesMetaValue(count 2)`, version 1796660608, timestamp 4102444800.
        let v = [2i32.to_le_bytes(), 1_796_660_608i32.to_le_bytes(), (4_102_444_800u32 as i32).to_le_bytes()].concat();
        let m = meta(KeyType::ZSet, &v).unwrap();
        // 4102444800 does not fit an i32: Pika reads it negative, hence stale.
        assert_eq!((m.count, m.version, m.etime_ms), (2, 1_796_660_608, 1));
        let v = [2i32.to_le_bytes(), 9i32.to_le_bytes(), 2_000_000_000i32.to_le_bytes()].concat();
        assert_eq!(meta(KeyType::Set, &v).unwrap().etime_ms, 2_000_000_000_000);
        assert!(meta(KeyType::Hash, &v[..11]).is_err());
        // `ListsMetaValue(count 3)`: version, timestamp, left, right.
        let left = (1u64 << 63) - 2;
        let v = [
            &3u64.to_le_bytes()[..],
            &7i32.to_le_bytes(),
            &0i32.to_le_bytes(),
            &left.to_le_bytes(),
            &(left + 4).to_le_bytes(),
        ]
        .concat();
        let m = meta(KeyType::List, &v).unwrap();
        assert_eq!((m.count, m.version, m.etime_ms, m.list), (3, 7, 0, (left, left + 4)));
        assert!(meta(KeyType::List, &v[..31]).is_err());
    }

    #[test]
    fn stream_metas_are_68_bytes() {
        let id = |ms: u64, seq: u64| [ms.to_le_bytes(), seq.to_le_bytes()].concat();
        let v = [
            &0u32.to_le_bytes()[..],
            &4u64.to_le_bytes(),
            &id(1, 1),
            &id(3, 0),
            &id(2, 0),
            &2i32.to_le_bytes(),
            &6i32.to_le_bytes(),
        ]
        .concat();
        let m = meta(KeyType::Stream, &v).unwrap();
        assert_eq!((m.count, m.version), (2, 6));
        assert_eq!(m.stream, Some(StreamIds { entries_added: 4, last: (3, 0), max_deleted: (2, 0) }));
        assert!(meta(KeyType::Stream, &v[1..]).is_err());
    }
}
