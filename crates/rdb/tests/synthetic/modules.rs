//! Module values (type 7) and MODULE_AUX (opcode 247): opcode streams as
//! `RedisModule_Save*` writes them, and the opcodes the loaders refuse.

use replicant_rdb::{Encoding, Error, Flavor, ModuleId};

use crate::support::collect::{parse_err, parse_ok, Ev};
use crate::support::writer::{module_id, ModOps, RdbWriter};
use crate::{crc_of, put};

/// rdbSaveSingleModuleAux (redis@39518acb and valkey@008734ee src/rdb.c): opcode 247,
/// `rdbSaveLen(mt->id)`, `rdbSaveLen(RDB_MODULE_OPCODE_UINT)`, `rdbSaveLen(when)`, the
/// module's opcode stream, `rdbSaveLen(RDB_MODULE_OPCODE_EOF)`. Type 7 values:
/// `rdbSaveLen(mt->id)`, the opcode stream, EOF. Opcodes (rdb.h): 1 SINT and 2 UINT
/// followed by an RDB length (signed values as their u64 bits), 3 FLOAT 4 bytes LE,
/// 4 DOUBLE 8 bytes LE, 5 STRING an RDB string.
#[test]
fn module_value_and_module_aux_before_and_after() {
    let mid = module_id("mymodtype", 3);
    let aux_before = ModOps::new().uint(7).string(b"abc").eof();
    let aux_after = ModOps::new().double(f64::NAN).eof();
    let ops =
        ModOps::new().sint(-1).uint(300).float(1.5).double(2.5).string(b"hello").int_string(-100).string(b"").eof();
    let mut value = RdbWriter::fragment();
    value.len(mid).raw(&ops);

    let mut f = RdbWriter::new(11);
    f.byte(247).len(mid).len(2).len(1).raw(&aux_before);
    f.select_db(0);
    let m = put(&mut f, 7, b"m", value.bytes());
    f.byte(247).len(mid).len(2).len(2).raw(&aux_after);
    let data = f.finish();

    let evs = parse_ok(&data);
    assert_eq!(
        evs,
        vec![
            Ev::Header(Flavor::Redis, 11),
            Ev::ModuleAux { module: ModuleId(mid), when: 1, raw: aux_before },
            Ev::SelectDb(0),
            Ev::Key(m.key(0, Encoding::Module2, 11)),
            Ev::Module(ModuleId(mid)),
            m.key_end(),
            Ev::ModuleAux { module: ModuleId(mid), when: 2, raw: aux_after },
            Ev::End(crc_of(&data)),
        ]
    );
    assert_eq!(ModuleId(mid).name(), "mymodtype");
    assert_eq!(ModuleId(mid).encver(), 3);
}

/// The loaders refuse a MODULE_AUX whose 'when' is not introduced by the UINT opcode:
/// `if (when_opcode != RDB_MODULE_OPCODE_UINT) { rdbReportReadError("bad when_opcode"); ...`.
#[test]
fn module_aux_when_must_be_uint() {
    let mid = module_id("ReJSON-RL", 1);
    let mut f = RdbWriter::new(11);
    f.byte(247).len(mid).len(1).len(2).raw(&ModOps::new().eof());
    let data = f.finish();
    assert!(matches!(parse_err(&data), Error::Corrupt { offset: 9, .. }));
}

/// An opcode outside 0-5 cannot be skipped (its payload size is unknown).
#[test]
fn module_value_with_unknown_opcode_is_corrupt() {
    let mid = module_id("mymodtype", 0);
    let mut f = RdbWriter::new(11);
    f.key(7, b"m").len(mid).len(2).len(1).len(6).len(0);
    let data = f.finish();
    assert!(matches!(parse_err(&data), Error::Corrupt { .. }));
}
