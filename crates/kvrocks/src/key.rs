//! Kvrocks' internal keys: the metadata-CF key (`ns_key`) and the subkey ("internal key")
//! that every other column family uses, plus the order-preserving double encoding that
//! zset scores and bloom error rates use.
//!
//! ```text
//! ns_key       := ns_len:u8 | namespace | [slot:u16 BE] | user_key
//! internal key := ns_len:u8 | namespace | [slot:u16 BE] | key_len:u32 BE | user_key | version:u64 BE | sub_key
//! ```
//!
//! The slot id is there only when the master runs with `cluster-enabled yes`; nothing in a
//! record says so, so the caller passes a [`KeyLayout`] (`src/storage/redis_metadata.cc`,
//! `InternalKey`, `ExtractNamespaceKey`). What a `sub_key` means depends on the key's type
//! and column family: see [`crate::SubKey`].

use crate::cursor::Cursor;
use crate::error::{KvrocksError, Result};

/// The namespace of clients that authenticate with `requirepass` (`kDefaultNamespace`).
pub const DEFAULT_NAMESPACE: &[u8] = b"__namespace";

/// How keys are laid out on the master: with or without the 2-byte slot id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyLayout {
    /// Keys carry a big-endian slot id after the namespace (`cluster-enabled yes`).
    pub slot_id: bool,
}

impl KeyLayout {
    /// A standalone master: no slot ids (Kvrocks' default).
    pub const STANDALONE: KeyLayout = KeyLayout { slot_id: false };
    /// A cluster-enabled master: every key carries its slot id.
    pub const CLUSTER: KeyLayout = KeyLayout { slot_id: true };
}

/// A metadata column family key: namespace, optional slot and user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataKey<'a> {
    /// The namespace (`__namespace` for the default one).
    pub namespace: &'a [u8],
    /// The slot id, when the layout has one.
    pub slot: Option<u16>,
    /// The user key.
    pub key: &'a [u8],
}

impl<'a> MetadataKey<'a> {
    /// Splits a metadata CF key.
    pub fn load(bytes: &'a [u8], layout: KeyLayout) -> Result<Self> {
        let mut c = Cursor::new(bytes);
        let (namespace, slot) = namespace_and_slot(&mut c, layout)?;
        Ok(Self { namespace, slot, key: c.rest() })
    }
}

/// A subkey in any column family but metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalKey<'a> {
    /// The namespace.
    pub namespace: &'a [u8],
    /// The slot id, when the layout has one.
    pub slot: Option<u16>,
    /// The user key.
    pub key: &'a [u8],
    /// The version of the metadata this subkey belongs to; another version is garbage.
    pub version: u64,
    /// The type-specific rest (hash field, list index, ...).
    pub sub_key: &'a [u8],
}

impl<'a> InternalKey<'a> {
    /// Splits a subkey.
    pub fn load(bytes: &'a [u8], layout: KeyLayout) -> Result<Self> {
        let mut c = Cursor::new(bytes);
        let (namespace, slot) = namespace_and_slot(&mut c, layout)?;
        let key_len = c.u32_be("user key length")?;
        let key_len = usize::try_from(key_len).map_err(|_| KvrocksError::Malformed {
            what: "user key length (does not fit usize)",
            offset: c.offset(),
        })?;
        let key = c.bytes(key_len, "user key")?;
        let version = c.u64_be("subkey version")?;
        Ok(Self { namespace, slot, key, version, sub_key: c.rest() })
    }

    /// The metadata key this subkey belongs to.
    pub fn metadata_key(&self) -> MetadataKey<'a> {
        MetadataKey { namespace: self.namespace, slot: self.slot, key: self.key }
    }
}

fn namespace_and_slot<'a>(c: &mut Cursor<'a>, layout: KeyLayout) -> Result<(&'a [u8], Option<u16>)> {
    let ns_len = c.u8("namespace length")?;
    let namespace = c.bytes(usize::from(ns_len), "namespace")?;
    let slot = if layout.slot_id { Some(c.u16_be("slot id")?) } else { None };
    Ok((namespace, slot))
}

/// Kvrocks' order-preserving encoding of a double (`EncodeDoubleToUInt64`): positive values
/// get the sign bit set, negative ones have every bit flipped, so that the big-endian bytes
/// sort like the numbers.
pub fn encode_double(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The inverse of [`encode_double`] (`DecodeDoubleFromUInt64`).
pub fn decode_double(encoded: u64) -> f64 {
    let bits = if encoded >> 63 == 0 { !encoded } else { encoded & !(1 << 63) };
    f64::from_bits(bits)
}

/// Reads an encoded double: 8 big-endian bytes.
pub(crate) fn read_double(c: &mut Cursor<'_>, what: &'static str) -> Result<f64> {
    Ok(decode_double(c.u64_be(what)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn metadata_key_without_and_with_slot() {
        let k = MetadataKey::load(b"\x0b__namespacestr1", KeyLayout::STANDALONE).unwrap();
        assert_eq!(k, MetadataKey { namespace: DEFAULT_NAMESPACE, slot: None, key: b"str1" });
        let k = MetadataKey::load(b"\x03ns1\x05\x39foo", KeyLayout::CLUSTER).unwrap();
        assert_eq!(k, MetadataKey { namespace: b"ns1", slot: Some(0x0539), key: b"foo" });
        // FLUSHDB's range bounds are namespace prefixes with an empty user key.
        let k = MetadataKey::load(b"\x03ns1", KeyLayout::STANDALONE).unwrap();
        assert_eq!(k.key, b"");
    }

    #[test]
    fn metadata_key_truncated() {
        let err = MetadataKey::load(b"\x0b__name", KeyLayout::STANDALONE).unwrap_err();
        assert_eq!(err, KvrocksError::Truncated { what: "namespace", offset: 1, needed: 11, available: 6 });
        let err = MetadataKey::load(b"\x02ns\x01", KeyLayout::CLUSTER).unwrap_err();
        assert_eq!(err, KvrocksError::Truncated { what: "slot id", offset: 3, needed: 2, available: 1 });
    }

    #[test]
    fn internal_key_golden_hset() {
        // From Kvrocks' applybatch test: HSET hash field value.
        let bytes = b"\x0b__namespace\x00\x00\x00\x04hash\x30\x76\xf3\x31\x69\x63\x42\xa7field";
        let k = InternalKey::load(bytes, KeyLayout::STANDALONE).unwrap();
        assert_eq!(k.namespace, b"__namespace");
        assert_eq!(k.key, b"hash");
        assert_eq!(k.version, 0x3076_f331_6963_42a7);
        assert_eq!(k.sub_key, b"field");
        assert_eq!(k.slot, None);
        assert_eq!(k.metadata_key().key, b"hash");
    }

    #[test]
    fn internal_key_with_slot_and_empty_subkey() {
        let bytes = b"\x02ns\x00\x07\x00\x00\x00\x01k\x00\x00\x00\x00\x00\x00\x00\x09";
        let k = InternalKey::load(bytes, KeyLayout::CLUSTER).unwrap();
        assert_eq!((k.namespace, k.slot, k.key, k.version, k.sub_key), (&b"ns"[..], Some(7), &b"k"[..], 9, &b""[..]));
    }

    #[test]
    fn internal_key_length_past_end() {
        let err = InternalKey::load(b"\x00\xff\xff\xff\xffk", KeyLayout::STANDALONE).unwrap_err();
        assert_eq!(err, KvrocksError::Truncated { what: "user key", offset: 5, needed: 0xffff_ffff, available: 1 });
        let err = InternalKey::load(b"\x00\x00\x00\x00\x01k\x00\x00", KeyLayout::STANDALONE).unwrap_err();
        assert_eq!(err, KvrocksError::Truncated { what: "subkey version", offset: 6, needed: 8, available: 2 });
    }

    #[test]
    fn double_encoding_matches_captured_bytes() {
        // Bytes of zset scores in the Kvrocks 2.10.1 capture.
        let cases: [(u64, f64); 6] = [
            (0xbfb9_9999_9999_999a, 0.1),
            (0xfe37_e43c_8800_759c, 1e300),
            (0xfff0_0000_0000_0000, f64::INFINITY),
            (0x000f_ffff_ffff_ffff, f64::NEG_INFINITY),
            (0x3ff5_ffff_ffff_ffff, -3.25),
            (0xc004_0000_0000_0000, 2.5),
        ];
        for (encoded, value) in cases {
            assert_eq!(decode_double(encoded), value, "{encoded:#x}");
            assert_eq!(encode_double(value), encoded, "{value}");
        }
        assert!(encode_double(-1.0) < encode_double(-0.5));
        assert!(encode_double(-0.5) < encode_double(0.0));
        assert!(encode_double(0.0) < encode_double(1e-300));
    }
}
