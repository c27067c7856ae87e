//! Redis 7.4+ field-expiry hashes (RDB 12): the GA types 24 (HASH_METADATA) and 25
//! (HASH_LISTPACK_EX), the 7.4 release candidates' types 22 and 23, and the largest
//! expiry the loaders accept.

use replicant_rdb::{Encoding, Error, Flavor};

use crate::support::collect::{b, parse_err, parse_ok, Ev};
use crate::support::writer::{listpack, Lp, RdbWriter};
use crate::{crc_of, hash, put, T0};

/// Type 24 (HASH_METADATA), redis@39518acb src/rdb.c:
/// save: `rdbSaveMillisecondTime(rdb, minExpire)`, `rdbSaveLen(dictSize)`, then per field
/// `ttl = (expiryTime == EB_EXPIRE_TIME_INVALID) ? 0 : expiryTime - minExpire + 1;
/// rdbSaveLen(rdb, ttl)`, field, value;
/// load: `expireAt = (ttl != 0) ? (ttl + minExpire - 1) : 0;`.
#[test]
fn redis0012_type24_hash_metadata() {
    let mut v = RdbWriter::fragment();
    v.millis(T0).len(4);
    v.len(0).string(b"f0").string(b"v0");
    v.len(1).string(b"f1").string(b"v1");
    v.len(1001).string(b"f2").string(b"v2"); // 14-bit length
    v.len(100_000).string(b"f3").int_string(-7); // 32-bit length
    let mut f = RdbWriter::new(12);
    f.aux(b"redis-ver", b"7.4.0");
    let h = put(&mut f, 24, b"hm", v.bytes());
    let data = f.finish();
    assert_eq!(
        parse_ok(&data),
        vec![
            Ev::Header(Flavor::Redis, 12),
            Ev::Aux(b("redis-ver"), b("7.4.0")),
            Ev::Key(h.key(0, Encoding::HashMetadata, 12)),
            hash(&[
                ("f0", "v0", None),
                ("f1", "v1", Some(T0)),
                ("f2", "v2", Some(T0 + 1000)),
                ("f3", "-7", Some(T0 + 99_999)),
            ]),
            h.key_end(),
            Ev::End(crc_of(&data)),
        ]
    );
}

/// ebuckets.h: `#define EB_EXPIRE_TIME_MAX ((uint64_t)0x0000FFFFFFFFFFFF)`.
const EB_EXPIRE_TIME_MAX: i64 = 0xFFFF_FFFF_FFFF;

/// A type 22 or 24 hash with one field expiring at `expire_at`.
fn one_field_hash(type_byte: u8, expire_at: i64) -> Vec<u8> {
    let mut v = RdbWriter::fragment();
    if type_byte == 24 {
        v.millis(T0).len(1).len((expire_at - T0 + 1) as u64);
    } else {
        v.len(1).len(expire_at as u64);
    }
    v.string(b"f").string(b"v");
    let mut f = RdbWriter::new(12);
    put(&mut f, type_byte, b"h", v.bytes());
    f.finish()
}

/// The largest expiry the loader takes (`if (expireAt > EB_EXPIRE_TIME_MAX)` is the
/// corruption check, redis@39518acb src/rdb.c) comes through unchanged.
#[test]
fn redis0012_field_expiry_at_the_maximum() {
    for type_byte in [22u8, 24] {
        let evs = parse_ok(&one_field_hash(type_byte, EB_EXPIRE_TIME_MAX));
        assert!(evs.contains(&hash(&[("f", "v", Some(EB_EXPIRE_TIME_MAX))])), "type {type_byte}: {evs:#?}");
    }
}

/// redis@39518acb src/rdb.c, types 22 and 24:
/// `if (expireAt > EB_EXPIRE_TIME_MAX) { rdbReportCorruptRDB("invalid expireAt time: %llu", ...); ... return NULL; }`
#[test]
fn redis0012_field_expiry_above_the_maximum_is_corrupt() {
    for type_byte in [22u8, 24] {
        let e = parse_err(&one_field_hash(type_byte, EB_EXPIRE_TIME_MAX + 1));
        assert!(matches!(e, Error::Corrupt { .. }), "type {type_byte}: {e:?}");
    }
}

/// Type 25 (HASH_LISTPACK_EX), redis@39518acb src/rdb.c:
/// save: `minExpire = hashTypeGetMinExpire(o, 0); if (minExpire == EB_EXPIRE_TIME_INVALID)
/// minExpire = 0; rdbSaveMillisecondTime(rdb, minExpire)`, then the listpack as a string;
/// load: the listpack holds (field, value, ttl) triplets (`tuple_len = 3`) whose ttl is an
/// absolute time, 0 for none (`_lpEntryValidation`: integer, 0..EB_EXPIRE_TIME_MAX, fields
/// with a TTL first, ascending).
#[test]
fn redis0012_type25_hash_listpack_ex() {
    let lp = listpack(
        &[
            [Lp::Str(b"a"), Lp::Str(b"x"), Lp::Int(T0)],
            [Lp::Str(b"b"), Lp::Int(7), Lp::Int(T0 + 5000)],
            [Lp::Str(b"c"), Lp::Str(b"y"), Lp::Int(0)],
        ]
        .concat(),
    );
    let mut v = RdbWriter::fragment();
    v.millis(T0).string(&lp);
    // A listpack-ex hash whose TTLs were all removed: minExpire saved as 0.
    let lp0 = listpack(&[Lp::Str(b"k"), Lp::Str(b"v"), Lp::Int(0)]);
    let mut v0 = RdbWriter::fragment();
    v0.millis(0).string(&lp0);
    let mut f = RdbWriter::new(12);
    let hl = put(&mut f, 25, b"hl", v.bytes());
    let hl0 = put(&mut f, 25, b"hl0", v0.bytes());
    let data = f.finish();
    assert_eq!(
        parse_ok(&data),
        vec![
            Ev::Header(Flavor::Redis, 12),
            Ev::Key(hl.key(0, Encoding::HashListpackEx, 12)),
            hash(&[("a", "x", Some(T0)), ("b", "7", Some(T0 + 5000)), ("c", "y", None)]),
            hl.key_end(),
            Ev::Key(hl0.key(0, Encoding::HashListpackEx, 12)),
            hash(&[("k", "v", None)]),
            hl0.key_end(),
            Ev::End(crc_of(&data)),
        ]
    );
}

/// The 7.4 release candidates' layouts, still loaded by Redis 8.6 (redis@39518acb
/// src/rdb.c): type 22 has no minExpire and each field's length-encoded TTL is absolute
/// (`expireAt = ttl; /* Value is absolute */`, 0 = none); type 23 is the type 25 listpack
/// without the minExpire prefix (`if (rdbtype == RDB_TYPE_HASH_LISTPACK_EX)` guards the
/// read).
#[test]
fn redis0012_pre_ga_types_22_and_23() {
    let mut v22 = RdbWriter::fragment();
    v22.len(2);
    v22.len((T0 + 7) as u64).string(b"f").string(b"v");
    v22.len(0).string(b"g").string(b"w");
    let lp = listpack(&[Lp::Str(b"a"), Lp::Int(1), Lp::Int(T0 + 9), Lp::Str(b"b"), Lp::Int(2), Lp::Int(0)]);
    let mut v23 = RdbWriter::fragment();
    v23.string(&lp);
    let mut f = RdbWriter::new(12);
    let p22 = put(&mut f, 22, b"p22", v22.bytes());
    let p23 = put(&mut f, 23, b"p23", v23.bytes());
    let data = f.finish();
    assert_eq!(
        parse_ok(&data),
        vec![
            Ev::Header(Flavor::Redis, 12),
            Ev::Key(p22.key(0, Encoding::HashMetadataPreGa, 12)),
            hash(&[("f", "v", Some(T0 + 7)), ("g", "w", None)]),
            p22.key_end(),
            Ev::Key(p23.key(0, Encoding::HashListpackExPreGa, 12)),
            hash(&[("a", "1", Some(T0 + 9)), ("b", "2", None)]),
            p23.key_end(),
            Ev::End(crc_of(&data)),
        ]
    );
}
