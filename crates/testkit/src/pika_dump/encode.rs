//! Pika's on-disk bytes, written from Pika's source (not from replicant's decoder, so that
//! a test is a cross-check): 4.x from v4.0.1's `src/storage/` (`storage_define.h`
//! `EncodeUserKey`, `BaseKey`, `BaseDataKey`, `ListsDataKey`, `ZSetsScoreKey`,
//! `StringsValue`, `HyperloglogValue`, `BaseMetaValue`, `ListsMetaValue`, `BaseDataValue`,
//! `StreamMetaValue`), 3.5 from v3.5.5's (`BaseDataKey`, `ListsDataKey`, `ZSetsScoreKey`,
//! `StringsValue`, `BaseMetaValue`, `ListsMetaValue`, `StreamMetaValue`); stream ids
//! (`streamID::Serialize`, big-endian) and messages (`StreamUtils::SerializeMessage`) are
//! the same in both. `EncodeFixed32/64` are little-endian (`memcpy` on x86).

/// `DataType` of Pika 4.x, the first byte of a meta value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DataType {
    /// `kStrings`.
    Strings = 0,
    /// `kHashes`.
    Hashes = 1,
    /// `kSets`.
    Sets = 2,
    /// `kLists`.
    Lists = 3,
    /// `kZSets`.
    ZSets = 4,
    /// `kStreams`.
    Streams = 5,
}

/// `InitalLeftIndex`: a new list's left index (its first LPUSH goes there).
pub const INITIAL_LEFT_INDEX: u64 = 9_223_372_036_854_775_807;
/// `InitalRightIndex`: a new list's right index (its first RPUSH goes there).
pub const INITIAL_RIGHT_INDEX: u64 = 9_223_372_036_854_775_808;
/// Bit 63 of a 4.x time: milliseconds.
const MS_FLAG: u64 = 1 << 63;
/// What an uninitialised byte of Pika's encode buffer is taken to hold here.
const GARBAGE: u8 = 0xa5;

/// A stream's meta fields (`StreamMetaValue`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamMeta {
    /// `groups_id_`.
    pub groups_id: u32,
    /// `entries_added_`.
    pub entries_added: u64,
    /// `first_id_`.
    pub first_id: (u64, u64),
    /// `last_id_`.
    pub last_id: (u64, u64),
    /// `max_deleted_entry_id_`.
    pub max_deleted_id: (u64, u64),
    /// `length_`.
    pub length: i32,
}

// ===== Pika 4.x =====

/// `EncodeUserKey`: each `\0` as `\0\1`, then `\0\0`.
pub fn floyd_user_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    for &b in key {
        if b == 0 {
            out.extend_from_slice(b"\x00\x01");
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(b"\x00\x00");
    out
}

/// `BaseKey(key).Encode()`: `reserve1(8) | user key | reserve2(16)`.
pub fn floyd_meta_key(key: &[u8]) -> Vec<u8> {
    [&[0u8; 8][..], &floyd_user_key(key), &[0u8; 16]].concat()
}

/// `BaseDataKey(key, version, data).Encode()`: `reserve1 | user key | version | data | reserve2`.
pub fn floyd_data_key(key: &[u8], version: u64, data: &[u8]) -> Vec<u8> {
    [&[0u8; 8][..], &floyd_user_key(key), &version.to_le_bytes(), data, &[0u8; 16]].concat()
}

/// `ListsDataKey(key, version, index).Encode()`.
pub fn floyd_list_key(key: &[u8], version: u64, index: u64) -> Vec<u8> {
    floyd_data_key(key, version, &index.to_le_bytes())
}

/// `ZSetsScoreKey(key, version, score, member).Encode()`.
pub fn floyd_score_key(key: &[u8], version: u64, score: f64, member: &[u8]) -> Vec<u8> {
    floyd_data_key(key, version, &[&score.to_bits().to_le_bytes()[..], member].concat())
}

/// A 4.x time as `Encode` stores it: ms with bit 63 (0 stays 0).
fn ms_time(ms: u64) -> u64 {
    if ms > 0 {
        ms | MS_FLAG
    } else {
        0
    }
}

/// `StringsValue(value).Encode()` (`etime` as stored: see [`floyd_etime`]), or a
/// `HyperloglogValue` (the reserve's first byte | 0x80, times stored as they are).
pub fn floyd_string_value(value: &[u8], ctime_ms: u64, etime: u64, hyperloglog: bool) -> Vec<u8> {
    let mut reserve = [0u8; 16];
    let ctime = if hyperloglog {
        reserve[0] |= 0x80;
        ctime_ms
    } else {
        ms_time(ctime_ms)
    };
    [&[DataType::Strings as u8][..], value, &reserve, &ctime.to_le_bytes(), &etime.to_le_bytes()].concat()
}

/// An expiry as 4.x stores it: ms with bit 63, or (`seconds`) a bare number of seconds as
/// data from before the ms change holds it; 0 for none.
pub fn floyd_etime(ms: u64, seconds: bool) -> u64 {
    if seconds {
        ms / 1000
    } else {
        ms_time(ms)
    }
}

/// `BaseMetaValue(type, count:i32).Encode()` of a hash, set or zset.
pub fn floyd_meta_value(kind: DataType, count: i32, version: u64, ctime_ms: u64, etime: u64) -> Vec<u8> {
    let tail = [[0u8; 16].to_vec(), ms_time(ctime_ms).to_le_bytes().to_vec(), etime.to_le_bytes().to_vec()].concat();
    [&[kind as u8][..], &count.to_le_bytes(), &version.to_le_bytes(), &tail].concat()
}

/// `ListsMetaValue(count:u64).Encode()`: each index in a 16-byte slot (`kListValueIndexLength`)
/// of which `EncodeFixed64` writes 8; the other 8 keep whatever the buffer held.
pub fn floyd_list_meta_value(count: u64, version: u64, left: u64, right: u64, ctime_ms: u64, etime: u64) -> Vec<u8> {
    let mut v = vec![DataType::Lists as u8];
    v.extend_from_slice(&count.to_le_bytes());
    v.extend_from_slice(&version.to_le_bytes());
    v.extend_from_slice(&left.to_le_bytes());
    v.extend_from_slice(&[GARBAGE; 8]);
    v.extend_from_slice(&right.to_le_bytes());
    v.extend_from_slice(&[GARBAGE; 8]);
    v.extend_from_slice(&[0u8; 16]);
    v.extend_from_slice(&ms_time(ctime_ms).to_le_bytes());
    v.extend_from_slice(&etime.to_le_bytes());
    v
}

/// `BaseDataValue(value).Encode()`: `value | reserve(16) | ctime(8)`.
pub fn floyd_data_value(value: &[u8], ctime_ms: u64) -> Vec<u8> {
    [value, &[0u8; 16], &ms_time(ctime_ms).to_le_bytes()].concat()
}

/// `StreamMetaValue::value()` in 4.x: 73 bytes, version `u64`.
pub fn floyd_stream_meta_value(meta: &StreamMeta, version: u64) -> Vec<u8> {
    let mut v = vec![DataType::Streams as u8];
    stream_meta_fields(&mut v, meta);
    v.extend_from_slice(&version.to_le_bytes());
    v
}

// ===== Pika 3.5 =====

/// `BaseDataKey(key, version, data).Encode()` of 3.5: `len:u32 | key | version:i32 | data`.
pub fn bw_data_key(key: &[u8], version: i32, data: &[u8]) -> Vec<u8> {
    [&(key.len() as u32).to_le_bytes()[..], key, &version.to_le_bytes(), data].concat()
}

/// `ListsDataKey(key, version, index).Encode()` of 3.5.
pub fn bw_list_key(key: &[u8], version: i32, index: u64) -> Vec<u8> {
    bw_data_key(key, version, &index.to_le_bytes())
}

/// `ZSetsScoreKey(key, version, score, member).Encode()` of 3.5.
pub fn bw_score_key(key: &[u8], version: i32, score: f64, member: &[u8]) -> Vec<u8> {
    bw_data_key(key, version, &[&score.to_bits().to_le_bytes()[..], member].concat())
}

/// `StringsValue(value).Encode()` of 3.5: `value | timestamp:i32`.
pub fn bw_string_value(value: &[u8], timestamp: i32) -> Vec<u8> {
    [value, &timestamp.to_le_bytes()].concat()
}

/// `BaseMetaValue(count).Encode()` of 3.5: `count:i32 | version:i32 | timestamp:i32`.
pub fn bw_meta_value(count: i32, version: i32, timestamp: i32) -> Vec<u8> {
    [count.to_le_bytes(), version.to_le_bytes(), timestamp.to_le_bytes()].concat()
}

/// `ListsMetaValue(count).Encode()` of 3.5: `count:u64 | version | timestamp | left | right`.
pub fn bw_list_meta_value(count: u64, version: i32, timestamp: i32, left: u64, right: u64) -> Vec<u8> {
    [
        &count.to_le_bytes()[..],
        &version.to_le_bytes(),
        &timestamp.to_le_bytes(),
        &left.to_le_bytes(),
        &right.to_le_bytes(),
    ]
    .concat()
}

/// `StreamMetaValue::value()` in 3.5: 68 bytes, version `i32`.
pub fn bw_stream_meta_value(meta: &StreamMeta, version: i32) -> Vec<u8> {
    let mut v = Vec::new();
    stream_meta_fields(&mut v, meta);
    v.extend_from_slice(&version.to_le_bytes());
    v
}

// ===== both =====

fn stream_meta_fields(v: &mut Vec<u8>, meta: &StreamMeta) {
    v.extend_from_slice(&meta.groups_id.to_le_bytes());
    v.extend_from_slice(&meta.entries_added.to_le_bytes());
    for (ms, seq) in [meta.first_id, meta.last_id, meta.max_deleted_id] {
        v.extend_from_slice(&ms.to_le_bytes());
        v.extend_from_slice(&seq.to_le_bytes());
    }
    v.extend_from_slice(&meta.length.to_le_bytes());
}

/// `streamID::Serialize`: ms and seq big-endian.
pub fn stream_id(id: (u64, u64)) -> Vec<u8> {
    [id.0.to_be_bytes(), id.1.to_be_bytes()].concat()
}

/// `StreamUtils::SerializeMessage`: each field and value as `len:u32 | bytes`.
pub fn stream_message(fields: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (f, v) in fields {
        for part in [f, v] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_pika_writes_them() {
        assert_eq!(floyd_meta_key(b"a\0b"), b"\0\0\0\0\0\0\0\0a\0\x01b\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(floyd_list_key(b"l", 1, 2).len(), 8 + 3 + 8 + 8 + 16);
        assert_eq!(bw_data_key(b"h", 7, b"f"), b"\x01\0\0\0h\x07\0\0\0f");
    }

    #[test]
    fn values_have_pikas_lengths() {
        assert_eq!(floyd_string_value(b"", 0, 0, false).len(), 33);
        assert_eq!(floyd_meta_value(DataType::Hashes, 1, 1, 1, 0).len(), 45);
        assert_eq!(floyd_list_meta_value(1, 1, 1, 1, 1, 0).len(), 81);
        assert_eq!(floyd_stream_meta_value(&StreamMeta::default(), 1).len(), 73);
        assert_eq!(bw_stream_meta_value(&StreamMeta::default(), 1).len(), 68);
        assert_eq!(bw_list_meta_value(1, 1, 0, 1, 2).len(), 32);
        assert_eq!(floyd_etime(1_500, true), 1);
        assert_eq!(floyd_etime(1_500, false), 1_500 | 1 << 63);
    }
}
