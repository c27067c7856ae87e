//! Pika 4.x ("floyd") keys and values, from Pika v4.0.1's `src/storage/`
//! (`storage_define.h`, `base_key_format.h`, `base_data_key_format.h`,
//! `lists_data_key_format.h`, `base_value_format.h`, `base_meta_value_format.h`,
//! `strings_value_format.h`, `lists_meta_value_format.h`, `base_data_value_format.h`,
//! `pika_stream_meta_value.h`). Every integer is little-endian (`EncodeFixed*`), except
//! stream ids (big-endian, so that they sort).
//!
//! | column family | key | value |
//! |---|---|---|
//! | `default` | `reserve(8) \| ukey \| reserve(16)` | a string, or a collection's meta (first byte: its type) |
//! | `hash_data_cf`, `set_data_cf`, `zset_data_cf` | `reserve(8) \| ukey \| version(8) \| field \| reserve(16)` | `value \| reserve(16) \| ctime(8)` (a zset's: the score's bits) |
//! | `list_data_cf` | `reserve(8) \| ukey \| version(8) \| index(8) \| reserve(16)` | `value \| reserve(16) \| ctime(8)` |
//! | `zset_score_cf` | `reserve(8) \| ukey \| version(8) \| score(8) \| member \| reserve(16)` | `reserve(16) \| ctime(8)` |
//! | `stream_data_cf` | `reserve(8) \| ukey \| version(8) \| id(16, BE) \| reserve(16)` | the message, `(len:u32 \| bytes)*` |
//!
//! `ukey` is the user key with each `\0` written `\0\1`, then the delimiter `\0\0`.
//!
//! Meta values (`type` is Pika's `DataType`: 0 string, 1 hash, 2 set, 3 list, 4 zset,
//! 5 stream), times as `u64` with bit 63 set for milliseconds (clear: seconds, as 4.0.0
//! wrote them; the layout is otherwise the same from 4.0.0 to `unstable`):
//!
//! - string: `type | value | reserve(16) | ctime(8) | etime(8)`; bit 7 of the reserve's first
//!   byte marks Pika's own HyperLogLog.
//! - hash, set, zset: `type | count:i32 | version(8) | reserve(16) | ctime(8) | etime(8)`.
//! - list: `type | count:u64 | version(8) | left(16) | right(16) | reserve(16) | ctime(8) |
//!   etime(8)`: each index takes 16 bytes (`kListValueIndexLength`), its first 8 the `u64`.
//! - stream, exactly 73 bytes, no expiry: `type | groups_id:u32 | entries_added:u64 |
//!   first_id | last_id | max_deleted_id (each ms:u64, seq:u64) | length:i32 | version:u64`.

use super::comparator::{after_delim, le_u32, le_u64};
use super::meta::{Meta, StreamIds};
use super::KeyType;

/// `kPrefixReserveLength`.
pub(crate) const PREFIX_RESERVE: usize = 8;
/// `kSuffixReserveLength`: the reserve after every key but strings' values.
pub(crate) const SUFFIX_RESERVE: usize = 16;
/// A data value's suffix: reserve (16) and ctime (8).
const DATA_VALUE_SUFFIX: usize = 24;
/// Bit 63 of a stored time: milliseconds.
const MS_FLAG: u64 = 1 << 63;
/// `hyperloglog_reserve_flag`, in the first byte of a string's reserve.
const HYPERLOGLOG_FLAG: u8 = 0x80;
/// Length of a stream's meta value (`kDefaultStreamValueLength`).
const STREAM_META_LEN: usize = 73;

/// A meta key of the `default` column family, split.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MetaKey<'a> {
    /// The reserve, the encoded user key and its delimiter: the start of every data key.
    pub(crate) head: &'a [u8],
    /// The user key.
    pub(crate) key: Vec<u8>,
}

/// Splits a `default` column family key (`ParsedBaseKey`).
pub(crate) fn meta_key(raw: &[u8]) -> Result<MetaKey<'_>, &'static str> {
    let end = after_delim(raw);
    if end == PREFIX_RESERVE || raw.len() < PREFIX_RESERVE {
        return Err("meta key without the user key's \\0\\0 delimiter");
    }
    if raw.len() != end + SUFFIX_RESERVE {
        return Err("meta key not followed by exactly 16 reserve bytes");
    }
    let head = raw.get(..end).ok_or("meta key cut short")?;
    let key = decode_user_key(head.get(PREFIX_RESERVE..).unwrap_or_default())?;
    Ok(MetaKey { head, key })
}

/// The user key of `encoded` (escaped key and delimiter, `DecodeUserKey`).
fn decode_user_key(encoded: &[u8]) -> Result<Vec<u8>, &'static str> {
    let body = encoded.strip_suffix(b"\0\0").ok_or("user key without its delimiter")?;
    let mut key = Vec::with_capacity(body.len());
    let mut bytes = body.iter();
    while let Some(&byte) = bytes.next() {
        if byte == 0 && bytes.next() != Some(&1) {
            return Err("user key with a \\0 not escaped as \\0\\1");
        }
        key.push(byte);
    }
    Ok(key)
}

/// A user key escaped and delimited (`EncodeUserKey`).
#[cfg(test)]
fn encode_user_key(key: &[u8], out: &mut Vec<u8>) {
    for &byte in key {
        out.push(byte);
        if byte == 0 {
            out.push(1);
        }
    }
    out.extend_from_slice(b"\0\0");
}

/// The start of every data key of a key's `version`: `head | version(8)`.
pub(crate) fn data_prefix(head: &[u8], version: u64) -> Vec<u8> {
    [head, &version.to_le_bytes()].concat()
}

/// The part of a hash, set, zset or stream data key after `prefix`, before the reserve.
pub(crate) fn data_field<'k>(row: &'k [u8], prefix: &[u8]) -> Result<&'k [u8], &'static str> {
    let end = row.len().checked_sub(SUFFIX_RESERVE).ok_or("data key shorter than its reserve")?;
    row.get(prefix.len()..end).ok_or("data key shorter than its prefix and reserve")
}

/// The index of a list data key (`prefix | index(8) | reserve(16)`).
pub(crate) fn list_index(row: &[u8], prefix: &[u8]) -> Result<u64, &'static str> {
    let field = data_field(row, prefix)?;
    if field.len() != 8 {
        return Err("list data key without an 8-byte index");
    }
    Ok(le_u64(field, 0))
}

/// The user value of a data value (`ParsedBaseDataValue`).
pub(crate) fn data_value(value: &[u8]) -> Result<&[u8], &'static str> {
    let end = value.len().checked_sub(DATA_VALUE_SUFFIX).ok_or("data value shorter than its 24-byte suffix")?;
    value.get(..end).ok_or("data value cut short")
}

/// A time as stored (bit 63: milliseconds, else seconds), in milliseconds; 0 stays 0.
fn time_ms(raw: u64) -> u64 {
    if raw & MS_FLAG != 0 {
        raw & !MS_FLAG
    } else {
        raw.saturating_mul(1000)
    }
}

/// Decodes a `default` column family value.
pub(crate) fn meta(value: &[u8]) -> Result<Meta<'_>, &'static str> {
    let len = value.len();
    let mut meta = Meta {
        kind: KeyType::String,
        count: 1,
        version: 0,
        etime_ms: 0,
        value: &[],
        hyperloglog: false,
        list: (0, 0),
        stream: None,
        seconds: false,
    };
    let etime = || time_ms(le_u64(value, len.saturating_sub(8)));
    match value.first() {
        Some(0) => {
            let end = len.checked_sub(32).filter(|e| *e >= 1).ok_or("string value shorter than 33 bytes")?;
            meta.value = value.get(1..end).unwrap_or_default();
            meta.hyperloglog = value.get(end).is_some_and(|r| r & HYPERLOGLOG_FLAG != 0);
            meta.etime_ms = etime();
        }
        Some(t @ (1 | 2 | 4)) => {
            let end = len.checked_sub(40).filter(|e| *e >= 5).ok_or("meta value shorter than 45 bytes")?;
            meta.kind = match t {
                1 => KeyType::Hash,
                2 => KeyType::Set,
                _ => KeyType::ZSet,
            };
            meta.count = i64::from(le_u32(value, 1) as i32);
            meta.version = le_u64(value, end);
            meta.etime_ms = etime();
        }
        Some(3) => {
            let end = len.checked_sub(72).filter(|e| *e >= 9).ok_or("list meta value shorter than 81 bytes")?;
            meta.kind = KeyType::List;
            meta.count = i64::try_from(le_u64(value, 1)).map_err(|_| "list length over 2^63")?;
            meta.version = le_u64(value, end);
            meta.list = (le_u64(value, end + 8), le_u64(value, end + 24));
            meta.etime_ms = etime();
        }
        Some(5) if len == STREAM_META_LEN => {
            meta.kind = KeyType::Stream;
            let id = |at| (le_u64(value, at), le_u64(value, at + 8));
            let length = le_u32(value, 61) as i32;
            meta.count = i64::from(length);
            meta.version = le_u64(value, 65);
            let ids = StreamIds { entries_added: le_u64(value, 5), last: id(29), max_deleted: id(45) };
            meta.stream = Some(ids);
        }
        Some(5) => return Err("stream meta value not 73 bytes long"),
        Some(_) => return Err("meta value of an unknown type"),
        None => return Err("empty meta value"),
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// `BaseKey("a\0b").Encode()`: reserve, `a \0\1 b`, delimiter, reserve.
    const META_KEY: &[u8] = b"\0\0\0\0\0\0\0\0a\0\x01b\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

    #[test]
    fn meta_keys_unescape_the_user_key() {
        let k = meta_key(META_KEY).unwrap();
        assert_eq!(k.key, b"a\0b");
        assert_eq!(k.head, &META_KEY[..14]);
        let mut encoded = vec![0; 8];
        encode_user_key(b"a\0b", &mut encoded);
        assert_eq!(encoded, k.head);
        // An empty user key is only the delimiter.
        let empty = [&[0u8; 8][..], b"\0\0", &[0u8; 16]].concat();
        assert_eq!(meta_key(&empty).unwrap().key, b"");
    }

    #[test]
    fn bad_meta_keys_are_refused() {
        assert!(meta_key(b"\0\0\0\0\0\0\0\0abc").is_err(), "no delimiter");
        assert!(meta_key(&META_KEY[..META_KEY.len() - 1]).is_err(), "reserve cut");
        let mut bad = META_KEY.to_vec();
        bad[10] = 2; // "a\0\x02b": a zero not escaped
        assert!(meta_key(&bad).is_err());
    }

    #[test]
    fn data_keys_give_their_field_and_list_index() {
        let head = &META_KEY[..14];
        let prefix = data_prefix(head, 0x0102);
        assert_eq!(&prefix[14..], b"\x02\x01\0\0\0\0\0\0");
        let row = [&prefix[..], b"field", &[0u8; 16]].concat();
        assert_eq!(data_field(&row, &prefix).unwrap(), b"field");
        let row = [&prefix[..], &(1u64 << 63).to_le_bytes(), &[0u8; 16]].concat();
        assert_eq!(list_index(&row, &prefix).unwrap(), 1 << 63);
        assert!(list_index(&[&prefix[..], &[0u8; 20]].concat(), &prefix).is_err());
        assert!(data_field(&prefix[..10], &prefix).is_err());
    }

    /// `BaseDataValue("v").Encode()` with ctime 1700000000000 ms.
    #[test]
    fn data_values_drop_reserve_and_ctime() {
        let value = [&b"v"[..], &[0u8; 16], &(1_700_000_000_000u64 | MS_FLAG).to_le_bytes()].concat();
        assert_eq!(data_value(&value).unwrap(), b"v");
        assert_eq!(data_value(&value[1..]).unwrap(), b"");
        assert!(data_value(&value[2..]).is_err());
    }

    fn tail(ctime: u64, etime: u64) -> Vec<u8> {
        [&[0u8; 16][..], &ctime.to_le_bytes(), &etime.to_le_bytes()].concat()
    }

    #[test]
    fn string_values_with_expiry_in_ms_or_seconds() {
        // `StringsValue("hello")` with etime 1796660708123 ms (bit 63 set).
        let v = [&[0u8][..], b"hello", &tail(1 | MS_FLAG, 1_796_660_708_123 | MS_FLAG)].concat();
        let m = meta(&v).unwrap();
        assert_eq!(
            (m.kind, m.value, m.etime_ms, m.hyperloglog),
            (KeyType::String, &b"hello"[..], 1_796_660_708_123, false)
        );
        assert!(m.expired(1_796_660_708_124) && !m.expired(1_796_660_708_123));
        // An etime from an older Pika, in seconds (bit 63 clear).
        let v = [&[0u8][..], b"x", &tail(0, 1_796_660_708)].concat();
        assert_eq!(meta(&v).unwrap().etime_ms, 1_796_660_708_000);
        // No expiry, empty value.
        let v = [&[0u8][..], &tail(0, 0)].concat();
        let m = meta(&v).unwrap();
        assert_eq!((m.value, m.etime_ms, m.expired(u64::MAX)), (&b""[..], 0, false));
        // `HyperloglogValue`: the reserve's first byte has bit 7.
        let mut hll = [&[0u8][..], b"regs", &tail(0, 0)].concat();
        hll[5] = 0x80;
        assert!(meta(&hll).unwrap().hyperloglog);
        assert_eq!(v.len(), 33);
        assert!(meta(&v[..32]).is_err());
    }

    #[test]
    fn collection_meta_values() {
        // `HashesMetaValue(kHashes, count 3)` version 1796660608000, no expiry.
        let v = [&[1u8][..], &3i32.to_le_bytes(), &1_796_660_608_000u64.to_le_bytes(), &tail(5 | MS_FLAG, 0)].concat();
        assert_eq!(v.len(), 45);
        let m = meta(&v).unwrap();
        assert_eq!((m.kind, m.count, m.version, m.etime_ms), (KeyType::Hash, 3, 1_796_660_608_000, 0));
        let mut set = v.clone();
        set[0] = 2;
        assert_eq!(meta(&set).unwrap().kind, KeyType::Set);
        set[0] = 4;
        assert_eq!(meta(&set).unwrap().kind, KeyType::ZSet);
        set[0] = 6;
        assert!(meta(&set).is_err(), "kNones");
        assert!(meta(&v[..44]).is_err());
    }

    #[test]
    fn list_meta_values_have_16_byte_index_slots() {
        // `ListsMetaValue(count 2)`: version, left (8 + 8 unused), right (8 + 8 unused).
        let left = (1u64 << 63) - 2;
        let right = (1u64 << 63) + 1;
        let pad = [0xaau8; 8]; // whatever was in Pika's buffer
        let v = [
            &[3u8][..],
            &2u64.to_le_bytes(),
            &77u64.to_le_bytes(),
            &left.to_le_bytes(),
            &pad,
            &right.to_le_bytes(),
            &pad,
            &tail(0, 4_102_444_800_000 | MS_FLAG),
        ]
        .concat();
        assert_eq!(v.len(), 81);
        let m = meta(&v).unwrap();
        assert_eq!(
            (m.kind, m.count, m.version, m.list, m.etime_ms),
            (KeyType::List, 2, 77, (left, right), 4_102_444_800_000)
        );
    }

    #[test]
    fn stream_meta_values_are_73_bytes() {
        let id = |ms: u64, seq: u64| [ms.to_le_bytes(), seq.to_le_bytes()].concat();
        let v = [
            &[5u8][..],
            &0u32.to_le_bytes(),
            &7u64.to_le_bytes(),
            &id(5, 1),
            &id(5, 4),
            &id(4, 9),
            &3i32.to_le_bytes(),
            &12u64.to_le_bytes(),
        ]
        .concat();
        let m = meta(&v).unwrap();
        assert_eq!((m.kind, m.count, m.version, m.etime_ms), (KeyType::Stream, 3, 12, 0));
        assert_eq!(m.stream, Some(StreamIds { entries_added: 7, last: (5, 4), max_deleted: (4, 9) }));
        assert!(meta(&v[..72]).is_err());
    }
}
