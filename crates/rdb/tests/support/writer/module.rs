//! Module payloads: type ids (`moduleTypeEncodeId`), Redis 8.6 key-metadata class specs
//! (`keyMetaClassEncode`) and the opcode streams `RedisModule_Save*` writes.

use super::RdbWriter;

/// `name`'s characters, 6 bits each (their index in `charset`), most significant first.
fn six_bit_chars(name: &str, charset: &[u8]) -> u64 {
    name.bytes().fold(0, |acc, c| {
        let pos = charset.iter().position(|&x| x == c).unwrap_or_else(|| panic!("{c:?} is not in the charset"));
        (acc << 6) | pos as u64
    })
}

/// A module type id: nine characters of `A-Z a-z 0-9 - _` (6 bits each), then a 10-bit
/// encoding version (`moduleTypeEncodeId`).
pub(crate) fn module_id(name: &str, encver: u64) -> u64 {
    assert_eq!(name.len(), 9);
    (six_bit_chars(name, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") << 10) | encver
}

/// A Redis 8.6 key-metadata class spec (`keyMetaClassEncode`): a 4-character name (6 bits
/// per character, charset `A-Z a-z 0-9 _ -`), a 5-bit version and 3 flag bits, written
/// raw as a host-order (little-endian) u32.
pub(crate) fn key_meta_class_spec(name: &str, ver: u32, flags: u32) -> [u8; 4] {
    assert_eq!(name.len(), 4);
    let enc = six_bit_chars(name, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") as u32;
    ((((enc << 5) | ver) << 3) | (flags & 7)).to_le_bytes()
}

/// Module opcode streams (`RedisModule_Save*`): each value is preceded by its opcode,
/// written as an RDB length.
pub(crate) struct ModOps(RdbWriter);

impl ModOps {
    pub(crate) fn new() -> Self {
        ModOps(RdbWriter::fragment())
    }

    /// `RDB_MODULE_OPCODE_SINT`: the value's u64 bits as a length.
    pub(crate) fn sint(&mut self, v: i64) -> &mut Self {
        self.0.len(1).len_signed(v);
        self
    }

    /// `RDB_MODULE_OPCODE_UINT`: a length.
    pub(crate) fn uint(&mut self, v: u64) -> &mut Self {
        self.0.len(2).len(v);
        self
    }

    /// `RDB_MODULE_OPCODE_FLOAT`: 4 bytes LE.
    pub(crate) fn float(&mut self, v: f32) -> &mut Self {
        self.0.len(3).raw(&v.to_le_bytes());
        self
    }

    /// `RDB_MODULE_OPCODE_DOUBLE`: 8 bytes LE.
    pub(crate) fn double(&mut self, v: f64) -> &mut Self {
        self.0.len(4).raw(&v.to_le_bytes());
        self
    }

    /// `RDB_MODULE_OPCODE_STRING`: a plain string.
    pub(crate) fn string(&mut self, s: &[u8]) -> &mut Self {
        self.0.len(5).string(s);
        self
    }

    /// `RDB_MODULE_OPCODE_STRING`: an integer-encoded string.
    pub(crate) fn int_string(&mut self, v: i32) -> &mut Self {
        self.0.len(5).int_string(v);
        self
    }

    /// The stream with its EOF marker (`RDB_MODULE_OPCODE_EOF`, a length 0).
    pub(crate) fn eof(&mut self) -> Vec<u8> {
        self.0.len(0);
        self.0.bytes().to_vec()
    }
}
