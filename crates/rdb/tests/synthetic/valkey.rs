//! Valkey 9 (`VALKEY080`): type 22 HASH_2 with per-field expiry, opcode 243 SLOT_IMPORT,
//! the types and opcodes RDB 80 does not define, and which magic goes with which version.

use replicant_rdb::{Encoding, Error, Flavor};

use crate::support::collect::{b, parse_err, parse_ok, Ev, KeyInfo};
use crate::support::writer::RdbWriter;
use crate::{crc_of, hash, put, T0};

/// A HASH_2 field: name, value (`Err` for an integer-encoded one), expiry.
type Hash2Field<'a> = (&'a [u8], Result<&'a [u8], i32>, i64);

/// The value of a type 22 key as Valkey 9 writes it (valkey@008734ee src/rdb.c,
/// rdbSaveObject): `rdbSaveLen(hashtableSize(ht))`, then per entry
/// `rdbSaveRawString(field)`, `rdbSaveRawString(value)` and, because `add_expiry =
/// hashTypeHasVolatileFields(o)`, `rdbSaveMillisecondTime(rdb, entryGetExpiry(next))` for
/// every field, `EXPIRY_NONE` (-1, src/expire.h) for the ones without expiry.
fn hash2_value(fields: &[Hash2Field<'_>]) -> Vec<u8> {
    let mut v = RdbWriter::fragment();
    v.len(fields.len() as u64);
    for (f, val, exp) in fields {
        v.string(f);
        match val {
            Ok(s) => v.string(s),
            Err(n) => v.int_string(*n),
        };
        v.millis(*exp);
    }
    v.into_bytes()
}

#[test]
fn valkey080_hash2_and_slot_import() {
    // A 40-character job name: rdbSaveRawString(rdb, job->name, CLUSTER_NAMELEN).
    let job = b"4b1f7e2c9a0d3e5f6a7b8c9d0e1f2a3b4c5d6e7f";
    let mut f = RdbWriter::valkey(80);
    f.aux(b"valkey-ver", b"9.0.0");
    // clusterRDBSaveSlotImports (valkey@008734ee src/cluster_migrateslots.c): opcode 243,
    // job name string, rdbSaveLen(listLength(slot_ranges)), then rdbSaveLen(start_slot),
    // rdbSaveLen(end_slot) per range. Written after the functions, before the databases.
    f.byte(243).string(job).len(2).len(0).len(100).len(5000).len(5460);
    f.select_db(0).resize_db(2, 0);
    // rdbSaveDb writes slot sizes as AUX "slot-info" = "slot,keys,expires,volatile".
    f.aux(b"slot-info", b"1234,2,0,1");
    let value = hash2_value(&[(b"f1", Ok(b"v1"), -1), (b"f2", Ok(b"v2"), T0 + 5000), (b"f3", Err(12345), T0)]);
    let h = put(&mut f, 22, b"h2", &value);
    let s = put(&mut f, 0, b"after", &[2, b'o', b'k']);
    let data = f.finish();

    let evs = parse_ok(&data);
    let expected = vec![
        Ev::Header(Flavor::Valkey, 80),
        Ev::Aux(b("valkey-ver"), b("9.0.0")),
        Ev::SlotImport { job: job.to_vec(), ranges: vec![(0, 100), (5000, 5460)] },
        Ev::SelectDb(0),
        Ev::ResizeDb(2, 0),
        Ev::Aux(b("slot-info"), b("1234,2,0,1")),
        Ev::Key(h.key(0, Encoding::Hash2, 80)),
        hash(&[("f1", "v1", None), ("f2", "v2", Some(T0 + 5000)), ("f3", "12345", Some(T0))]),
        h.key_end(),
        Ev::Key(s.key(0, Encoding::String, 80)),
        Ev::Str(b("ok")),
        s.key_end(),
        Ev::End(crc_of(&data)),
    ];
    assert_eq!(evs, expected);
}

/// Valkey writes SLOT_IMPORT once per unfinished import job, and loading it is mandatory;
/// an RDB with several jobs and no keys at all is valid.
#[test]
fn valkey080_several_slot_imports_without_keys() {
    let a = [b'a'; 40];
    let c = [b'c'; 40];
    let mut f = RdbWriter::valkey(80);
    f.byte(243).string(&a).len(1).len(16383).len(16383);
    f.byte(243).string(&c).len(3).len(1).len(1).len(64).len(127).len(128).len(16000);
    let data = f.finish();
    assert_eq!(
        parse_ok(&data),
        vec![
            Ev::Header(Flavor::Valkey, 80),
            Ev::SlotImport { job: a.to_vec(), ranges: vec![(16383, 16383)] },
            Ev::SlotImport { job: c.to_vec(), ranges: vec![(1, 1), (64, 127), (128, 16000)] },
            Ev::End(crc_of(&data)),
        ]
    );
}

/// Valkey 9's HASH_2 carries expiry on some fields only; a HASH_2 whose fields all say
/// -1 is still well-formed (the loader just tracks none of them).
#[test]
fn valkey080_hash2_without_any_expiry_and_with_expire_on_key() {
    let mut f = RdbWriter::valkey(80);
    f.select_db(3);
    f.expire_ms(T0 + 1);
    let value = hash2_value(&[(b"a", Ok(b""), -1), (b"", Ok(b"empty-field"), -1)]);
    let h = put(&mut f, 22, b"h", &value);
    let data = f.finish();
    assert_eq!(
        parse_ok(&data),
        vec![
            Ev::Header(Flavor::Valkey, 80),
            Ev::SelectDb(3),
            Ev::Key(KeyInfo { expire_ms: Some(T0 + 1), ..h.key(3, Encoding::Hash2, 80) }),
            hash(&[("a", "", None), ("", "empty-field", None)]),
            h.key_end(),
            Ev::End(crc_of(&data)),
        ]
    );
}

/// valkey@008734ee src/rdb.c rdbLoadObject, RDB_TYPE_HASH_2:
/// `itemexpiry = rdbLoadMillisecondTime(rdb, RDB_VERSION);
///  if (itemexpiry < EXPIRY_NONE || rioGetReadError(rdb)) { ... return NULL; }`
/// so an expiry below -1 makes Valkey refuse the file.
#[test]
fn valkey080_hash2_expiry_below_minus_one_is_corrupt() {
    let mut f = RdbWriter::valkey(80);
    let value = hash2_value(&[(b"f", Ok(b"v"), -2)]);
    put(&mut f, 22, b"h", &value);
    let data = f.finish();
    assert!(matches!(parse_err(&data), Error::Corrupt { .. }));
}

/// In HASH_2 only -1 means "no expiry" (`EXPIRY_NONE`); 0 is an absolute time like any
/// other (the field is long expired). Redis's types 24/25, by contrast, use 0 for "none".
#[test]
fn valkey080_hash2_expiry_zero_is_a_time() {
    let mut f = RdbWriter::valkey(80);
    let value = hash2_value(&[(b"f", Ok(b"v"), 0)]);
    put(&mut f, 22, b"h", &value);
    let data = f.finish();
    let evs = parse_ok(&data);
    assert!(evs.contains(&hash(&[("f", "v", Some(0))])), "{evs:#?}");
}

/// Valkey 9.0/9.1 (RDB 80) defines types 0-7, 9-22 and opcodes 243-255 only. Redis's
/// 23-26 mean something else or nothing there; 23 (PATH_HASH) and 242 (UPDATE) belong to
/// RDB 81 (valkey@01756301 src/rdb.h: `RDB_TYPE_PATH_HASH = 23, /* ... RDB 81 (9.2) */`,
/// `RDB_OPCODE_UPDATE 242`).
#[test]
fn valkey080_rejects_types_it_does_not_define() {
    for byte in [23u8, 24, 25, 26, 242] {
        let mut f = RdbWriter::valkey(80);
        f.key(byte, b"k").string(b"v");
        let data = f.finish();
        match parse_err(&data) {
            Error::UnknownType { byte: got, offset, flavor, version } => {
                assert_eq!((got, offset, flavor, version), (byte, 9, "VALKEY", 80));
            }
            e => panic!("byte {byte}: {e:?}"),
        }
    }
}

/// valkey@008734ee src/rdb.c rdbIsVersionAccepted: the VALKEY magic is refused for
/// versions up to 79 and the REDIS magic for versions above 79.
#[test]
fn valkey_magic_versions() {
    for magic in [&b"VALKEY011"[..], b"VALKEY079", b"VALKEY081"] {
        let mut f = RdbWriter::fragment();
        f.raw(magic);
        let data = f.finish();
        assert!(matches!(parse_err(&data), Error::UnsupportedVersion { .. }), "{}", String::from_utf8_lossy(magic));
    }
    let mut f = RdbWriter::fragment();
    f.raw(b"REDIS0080");
    let data = f.finish();
    assert!(matches!(parse_err(&data), Error::UnsupportedVersion { .. }));
}
