//! Redis 8.6 (RDB 13): the KEY_META block (opcode 243) before a key, type 26 streams with
//! their IDMP block, and what RDB 13 does not define (243 before RDB 13, type 27, RDB 14).

use replicant_rdb::{Encoding, Error, Flavor};

use crate::streams::{stream_events, stream_value};
use crate::support::collect::{b, id, parse_err, parse_ok, Ev, Idmp, KeyInfo, Meta};
use crate::support::writer::{key_meta_class_spec, listpack, Lp, ModOps, RdbWriter};
use crate::{crc_of, put, T0};

/// The KEY_META block that rdbSaveKeyMetadata (redis@39518acb src/keymeta.c) writes:
/// `[RDB_OPCODE_KEY_META][rdbSaveLen(numClasses)]` then per class the raw 4-byte class
/// spec, the class's `rdb_save` output (RedisModule_Save* calls, so a module opcode
/// stream) and `rdbSaveLen(RDB_MODULE_OPCODE_EOF)`.
fn key_meta_block() -> Vec<u8> {
    let mut m = RdbWriter::fragment();
    m.byte(243).len(2);
    m.raw(&key_meta_class_spec("KMT1", 1, 0));
    m.raw(&ModOps::new().uint(42).string(b"meta").eof());
    m.raw(&key_meta_class_spec("Zz_-", 31, 7));
    m.raw(&ModOps::new().sint(-5).float(1.5).double(-2.25).int_string(300).uint(u64::MAX).eof());
    m.into_bytes()
}

#[test]
fn redis0013_key_meta_and_stream4_with_idmp() {
    let mut f = RdbWriter::new(13);
    f.aux(b"redis-ver", b"8.6.0");
    f.select_db(0).resize_db(3, 1);
    // rdbSaveKeyValuePair (redis@39518acb src/rdb.c): EXPIRETIME_MS, IDLE/FREQ, then
    // `if (getModuleMetaBits(val->metabits)) rdbSaveKeyMetadata(...)`, then type, key,
    // value. The loader reads KEY_META in rdbResolveKeyType, right before the type.
    f.expire_ms(T0 + 60_000).byte(249).byte(5);
    f.raw(&key_meta_block());
    let k = put(&mut f, 0, b"k1", &[2, b'v', b'1']);
    // rdbSaveObjectType: `case OBJ_STREAM: return rdbSaveType(rdb,RDB_TYPE_STREAM_LISTPACKS_4);`
    let s = put(&mut f, 26, b"s", &stream_value(4, -1));
    let a = put(&mut f, 0, b"after", &[2, b'o', b'k']);
    let data = f.finish();

    let mut expected = vec![
        Ev::Header(Flavor::Redis, 13),
        Ev::Aux(b("redis-ver"), b("8.6.0")),
        Ev::SelectDb(0),
        Ev::ResizeDb(3, 1),
        Ev::Key(KeyInfo {
            expire_ms: Some(T0 + 60_000),
            freq: Some(5),
            meta_classes: 2,
            ..k.key(0, Encoding::String, 13)
        }),
        Ev::Str(b("v1")),
        k.key_end(),
        Ev::Key(s.key(0, Encoding::Stream(4), 13)),
    ];
    // entries_read = SCG_INVALID_ENTRIES_READ (-1) saved by rdbSaveLen(uint64_t) is
    // 0x81 + eight 0xFF bytes, and comes back as u64::MAX.
    expected.extend(stream_events(4, Some(u64::MAX)));
    expected.extend([
        s.key_end(),
        Ev::Key(a.key(0, Encoding::String, 13)),
        Ev::Str(b("ok")),
        a.key_end(),
        Ev::End(crc_of(&data)),
    ]);
    assert_eq!(parse_ok(&data), expected);
}

/// A stream with no consumer groups and no producers still has its IDMP block (the
/// writer saves it unconditionally): duration, max entries, 0 producers, 0, 0.
#[test]
fn redis0013_stream4_without_groups_or_producers() {
    let lp = listpack(
        &[
            // master entry: 1 entry, 0 deleted, field f
            &[Lp::Int(1), Lp::Int(0), Lp::Int(1), Lp::Str(b"f"), Lp::Int(0)][..],
            // flags SAMEFIELDS(2), id T0-7
            &[Lp::Int(2), Lp::Int(0), Lp::Int(0), Lp::Str(b"v"), Lp::Int(4)],
        ]
        .concat(),
    );
    let t0 = T0 as u64;
    let mut master = RdbWriter::fragment();
    master.raw_id(t0, 7);
    let mut v = RdbWriter::fragment();
    v.len(1).string(master.bytes()).string(&lp);
    v.len(1).len_id(t0, 7).len_id(t0, 7).len_id(0, 0).len(1);
    v.len(0); // no groups
    v.len(86_400).len(10_000).len(0).len(0).len(0);
    let mut f = RdbWriter::new(13);
    let s = put(&mut f, 26, b"s", v.bytes());
    let data = f.finish();
    assert_eq!(
        parse_ok(&data),
        vec![
            Ev::Header(Flavor::Redis, 13),
            Ev::Key(s.key(0, Encoding::Stream(4), 13)),
            Ev::Entries(vec![(id(t0, 7), vec![(b("f"), b("v"))])]),
            Ev::Meta(Meta {
                length: 1,
                last_id: id(t0, 7),
                first_id: Some(id(t0, 7)),
                max_deleted_id: Some(id(0, 0)),
                entries_added: Some(1),
            }),
            Ev::Idmp(Idmp { duration: 86_400, max_entries: 10_000, producers: 0 }),
            s.key_end(),
            Ev::End(crc_of(&data)),
        ]
    );
}

/// KEY_META is an RDB 13 opcode; in RDB 12 byte 243 is not defined.
#[test]
fn key_meta_is_unknown_before_rdb13() {
    let mut f = RdbWriter::new(12);
    f.raw(&key_meta_block());
    f.key(0, b"k").string(b"v");
    let data = f.finish();
    assert!(matches!(parse_err(&data), Error::UnknownType { byte: 243, offset: 9, flavor: "REDIS", version: 12 }));
}

/// Type 27 (STREAM_LISTPACKS_5) is RDB 14; this parser stops at RDB 13.
#[test]
fn redis0013_rejects_type_27_and_rdb14() {
    let mut f = RdbWriter::new(13);
    f.key(27, b"s").len(0);
    let data = f.finish();
    assert!(matches!(parse_err(&data), Error::UnknownType { byte: 27, .. }));
    let f = RdbWriter::new(14);
    let data = f.finish();
    assert!(matches!(parse_err(&data), Error::UnsupportedVersion { version: 14, .. }));
}
