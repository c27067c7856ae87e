//! String commands beyond `SET` (`src/types/redis_string.cc`). All but `GETDEL` rewrite the
//! whole metadata record (`flags | expire | value`) after LogData `1` (`updateRawValue`);
//! those that edit a value keep its header (its expiry and its encoding), those that set one
//! (`GETEX`) write a new 64-bit header. `SET k v EX s`/`SETEX`/`PSETEX`/`SET ... PXAT` are
//! [`string`](KvrocksCheckpoint::string) with [`Expiry::At`](super::Expiry::At) the
//! absolute time Kvrocks computes.

use super::encode::{Encoding, KvType, Metadata};
use super::{Cf, KvrocksCheckpoint};

impl KvrocksCheckpoint {
    /// `INCRBY k n` (`INCR`, `DECR`, `DECRBY` alike; `String::IncrBy`): the value as
    /// `std::to_string` of the sum. Returns it. Panics on a value that is not an integer.
    pub fn incrby(&mut self, ns: &str, key: impl AsRef<[u8]>, by: i64) -> i64 {
        let key = key.as_ref();
        let (header, value) = self.string_value(ns, key);
        let old: i64 = if value.is_empty() { 0 } else { parse(&value) };
        let new = old.checked_add(by).expect("INCRBY: increment or decrement would overflow");
        self.update_string(ns, key, header, new.to_string().as_bytes());
        new
    }

    /// `INCRBYFLOAT k x` (`String::IncrByFloat`): the value as `std::to_string(double)`,
    /// that is `%f`, six decimals (`1.5` is stored `1.500000`, unlike Redis). Returns it.
    pub fn incrbyfloat(&mut self, ns: &str, key: impl AsRef<[u8]>, by: f64) -> String {
        let key = key.as_ref();
        let (header, value) = self.string_value(ns, key);
        let old: f64 = if value.is_empty() { 0.0 } else { parse(&value) };
        let text = std_to_string(old + by);
        self.update_string(ns, key, header, text.as_bytes());
        text
    }

    /// `APPEND k v` (`String::Append`). Returns the new length.
    pub fn append(&mut self, ns: &str, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> usize {
        let key = key.as_ref();
        let (header, mut old) = self.string_value(ns, key);
        old.extend_from_slice(value.as_ref());
        self.update_string(ns, key, header, &old);
        old.len()
    }

    /// `SETRANGE k offset v` (`String::SetRange`): zero padding up to `offset`; nothing on a
    /// missing key with an empty `v`. Returns the new length.
    pub fn setrange(&mut self, ns: &str, key: impl AsRef<[u8]>, offset: usize, value: impl AsRef<[u8]>) -> usize {
        let (key, value) = (key.as_ref(), value.as_ref());
        let exists = self.string_raw(ns, key).is_some();
        if !exists && value.is_empty() {
            return 0;
        }
        let (header, mut old) = self.string_value(ns, key);
        if old.len() < offset {
            old.resize(offset, 0);
        }
        if offset + value.len() >= old.len() {
            old.truncate(offset);
            old.extend_from_slice(value);
        } else {
            old[offset..offset + value.len()].copy_from_slice(value);
        }
        self.update_string(ns, key, header, &old);
        old.len()
    }

    /// `GETEX k PXAT at_ms` (`EX`, `PX`, `EXAT` alike; `PERSIST` with `at_ms` 0;
    /// `String::GetEx`): LogData `1`, the value under a new 64-bit header with that expiry
    /// (a legacy key becomes a 64-bit one). Nothing on a missing key. Returns the value.
    pub fn getex(&mut self, ns: &str, key: impl AsRef<[u8]>, at_ms: u64) -> Option<Vec<u8>> {
        let key = key.as_ref();
        let raw = self.string_raw(ns, key)?;
        let value = raw.get(header_len(&raw)..).unwrap_or_default().to_vec();
        let header = Metadata { expire_ms: at_ms, ..Metadata::new(KvType::String, Encoding::New, 0) }.encode();
        self.update_string(ns, key, header, &value);
        Some(value)
    }

    /// `GETDEL k` (`String::GetDel`): a batch holding only the metadata delete, no LogData
    /// (`Storage::Delete`). Nothing on a missing key. Returns the value.
    pub fn getdel(&mut self, ns: &str, key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        let key = key.as_ref();
        let raw = self.string_raw(ns, key)?;
        let mut w = self.write(None);
        w.delete(Cf::Metadata, &self.ns_key(ns, key));
        w.commit();
        Some(raw.get(header_len(&raw)..).unwrap_or_default().to_vec())
    }

    /// The raw metadata record of a live string (`getRawValue`); panics on another type.
    pub(super) fn string_raw(&self, ns: &str, key: &[u8]) -> Option<Vec<u8>> {
        self.existing(ns, key, KvType::String)?;
        self.raw_metadata(ns, key)
    }

    /// The header and value of a live string, or a new 64-bit header and no value.
    fn string_value(&self, ns: &str, key: &[u8]) -> (Vec<u8>, Vec<u8>) {
        match self.string_raw(ns, key) {
            Some(raw) => {
                let (header, value) = raw.split_at(header_len(&raw).min(raw.len()));
                (header.to_vec(), value.to_vec())
            }
            None => (Metadata::new(KvType::String, Encoding::New, 0).encode(), Vec::new()),
        }
    }

    /// `updateRawValue`: LogData `1`, the metadata put.
    pub(super) fn update_string(&mut self, ns: &str, key: &[u8], mut header: Vec<u8>, value: &[u8]) {
        header.extend_from_slice(value);
        let mut w = self.write(Some(KvType::String.id().to_string()));
        w.put(Cf::Metadata, &self.ns_key(ns, key), &header);
        w.commit();
    }
}

/// `Metadata::GetOffsetAfterExpire`: the flags byte and the expiry.
pub(super) fn header_len(raw: &[u8]) -> usize {
    match raw.first() {
        Some(flags) if flags & super::encode::ENCODING_64BIT != 0 => 9,
        _ => 5,
    }
}

fn parse<T: std::str::FromStr>(value: &[u8]) -> T {
    let text = std::str::from_utf8(value).ok();
    text.and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("not a number: {:?}", String::from_utf8_lossy(value)))
}

/// C++'s `std::to_string(double)`: `%f`.
pub(super) fn std_to_string(value: f64) -> String {
    format!("{value:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_formatted_as_std_to_string() {
        assert_eq!(std_to_string(1.5), "1.500000");
        assert_eq!(std_to_string(-0.1 + 0.0), "-0.100000");
        assert_eq!(std_to_string(1e20), "100000000000000000000.000000");
        assert_eq!(header_len(&[0x81]), 9);
        assert_eq!(header_len(&[0x01]), 5);
    }
}
