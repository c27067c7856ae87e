//! The magic line, format versions, and the tables that map type and opcode bytes to
//! meanings. Type numbers collide between Redis and Valkey (22, 23, 243), so every lookup
//! goes through a [`Format`].

use crate::Error;

/// Who wrote the stream: the magic decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// `REDIS` + 4 digits (also Valkey up to 8.1, and KeyDB).
    Redis,
    /// `VALKEY` + 3 digits (Valkey 9.0 and later).
    Valkey,
}

impl Flavor {
    /// The magic's letters.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Redis => "REDIS",
            Flavor::Valkey => "VALKEY",
        }
    }
}

/// The format of one stream: flavor and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    /// Who wrote it.
    pub flavor: Flavor,
    /// The version number after the magic.
    pub version: u32,
}

/// Highest Redis RDB version this parser reads (Redis 8.6).
pub(crate) const MAX_REDIS_VERSION: u32 = 13;
/// Valkey RDB versions this parser reads (Valkey 9.0 and 9.1).
pub(crate) const VALKEY_VERSIONS: std::ops::RangeInclusive<u32> = 80..=80;

/// The kind of value a key holds, whatever its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A string.
    String,
    /// A list.
    List,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A hash, possibly with field expiry.
    Hash,
    /// A stream.
    Stream,
    /// A module value, kept opaque.
    Module,
}

impl Kind {
    /// The name Redis's `TYPE` command uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Hash => "hash",
            Kind::Stream => "stream",
            Kind::Module => "module",
        }
    }
}

/// How one value is encoded: the meaning of its type byte in this stream's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// 0: one string.
    String,
    /// 1: n strings.
    List,
    /// 2: n strings.
    Set,
    /// 3: n × (member, text score).
    ZSet,
    /// 5: n × (member, binary score).
    ZSet2,
    /// 4: n × (field, value).
    Hash,
    /// 7: module id and opcode stream.
    Module2,
    /// 9: zipmap blob.
    HashZipmap,
    /// 10: ziplist blob.
    ListZiplist,
    /// 11: intset blob.
    SetIntset,
    /// 12: ziplist of (member, score).
    ZSetZiplist,
    /// 13: ziplist of (field, value).
    HashZiplist,
    /// 14: n ziplists.
    ListQuicklist,
    /// 15, 19, 21, 26: stream of listpacks; the number is the layout revision (1-4).
    Stream(u8),
    /// 16: listpack of (field, value).
    HashListpack,
    /// 17: listpack of (member, score).
    ZSetListpack,
    /// 18: n × (container, node).
    ListQuicklist2,
    /// 20: listpack of members.
    SetListpack,
    /// Redis 22 (7.4 release candidates): n × (absolute expiry, field, value).
    HashMetadataPreGa,
    /// Redis 23 (7.4 release candidates): listpack of (field, value, expiry).
    HashListpackExPreGa,
    /// Redis 24: min expiry, n × (relative ttl, field, value).
    HashMetadata,
    /// Redis 25: min expiry, listpack of (field, value, absolute expiry).
    HashListpackEx,
    /// Valkey 22: n × (field, value, absolute expiry or -1).
    Hash2,
}

impl Encoding {
    /// The kind of value this encoding holds.
    pub fn kind(self) -> Kind {
        use Encoding::*;
        match self {
            String => Kind::String,
            List | ListZiplist | ListQuicklist | ListQuicklist2 => Kind::List,
            Set | SetIntset | SetListpack => Kind::Set,
            ZSet | ZSet2 | ZSetZiplist | ZSetListpack => Kind::ZSet,
            Hash | HashZipmap | HashZiplist | HashListpack | HashMetadataPreGa | HashListpackExPreGa | HashMetadata
            | HashListpackEx | Hash2 => Kind::Hash,
            Stream(_) => Kind::Stream,
            Module2 => Kind::Module,
        }
    }
}

/// What a byte in "type or opcode" position means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opcode {
    Value(Encoding),
    Eof,
    SelectDb,
    ExpireSec,
    ExpireMs,
    ResizeDb,
    Aux,
    Freq,
    Idle,
    ModuleAux,
    FunctionPreGa,
    Function2,
    SlotInfo,
    KeyMeta,
    SlotImport,
    ModulePreGa,
}

impl Format {
    /// Reads the 9-byte magic line.
    pub(crate) fn from_magic(magic: &[u8]) -> Result<Format, Error> {
        let bad = || Error::BadMagic { found: magic.escape_ascii().to_string() };
        let (flavor, digits) = if let Some(rest) = magic.strip_prefix(b"REDIS") {
            (Flavor::Redis, rest)
        } else if let Some(rest) = magic.strip_prefix(b"VALKEY") {
            (Flavor::Valkey, rest)
        } else {
            return Err(bad());
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let version = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        let supported = match flavor {
            Flavor::Redis => (1..=MAX_REDIS_VERSION).contains(&version),
            Flavor::Valkey => VALKEY_VERSIONS.contains(&version),
        };
        if !supported {
            return Err(Error::UnsupportedVersion { flavor: flavor.name(), version });
        }
        Ok(Format { flavor, version })
    }

    /// The length of the magic line for this flavor (always 9 bytes).
    pub(crate) const MAGIC_LEN: usize = 9;

    /// Whether an 8-byte CRC-64 follows the EOF opcode.
    pub fn has_checksum(self) -> bool {
        self.flavor == Flavor::Valkey || self.version >= 5
    }

    /// Redis-equivalent RDB version, used for the feature gates shared by both flavors
    /// (Valkey 80 reads everything Redis 11 does).
    fn base_version(self) -> u32 {
        match self.flavor {
            Flavor::Redis => self.version,
            Flavor::Valkey => 11,
        }
    }

    /// What a byte in type-or-opcode position means. Like Redis's own loader, any type a
    /// reader knows is accepted whatever the file's version; only the numbers whose
    /// meaning differs between Redis and Valkey depend on the format.
    pub(crate) fn decode(self, byte: u8, offset: u64) -> Result<Opcode, Error> {
        let v = self.base_version();
        let valkey = self.flavor == Flavor::Valkey;
        let op = match byte {
            255 => Some(Opcode::Eof),
            254 => Some(Opcode::SelectDb),
            253 => Some(Opcode::ExpireSec),
            252 => Some(Opcode::ExpireMs),
            251 => Some(Opcode::ResizeDb),
            250 => Some(Opcode::Aux),
            249 => Some(Opcode::Freq),
            248 => Some(Opcode::Idle),
            247 => Some(Opcode::ModuleAux),
            246 => Some(Opcode::FunctionPreGa),
            245 => Some(Opcode::Function2),
            244 => Some(Opcode::SlotInfo),
            243 if valkey => Some(Opcode::SlotImport),
            243 if v >= 13 => Some(Opcode::KeyMeta),
            _ => self.value_encoding(byte).map(|e| match e {
                Some(enc) => Opcode::Value(enc),
                None => Opcode::ModulePreGa,
            }),
        };
        op.ok_or(Error::UnknownType { byte, offset, flavor: self.flavor.name(), version: self.version })
    }

    /// `Some(Some(enc))` for a value type, `Some(None)` for the pre-GA module type.
    fn value_encoding(self, byte: u8) -> Option<Option<Encoding>> {
        use Encoding::*;
        let valkey = self.flavor == Flavor::Valkey;
        let enc = match byte {
            0 => String,
            1 => List,
            2 => Set,
            3 => ZSet,
            4 => Hash,
            5 => ZSet2,
            6 => return Some(None),
            7 => Module2,
            9 => HashZipmap,
            10 => ListZiplist,
            11 => SetIntset,
            12 => ZSetZiplist,
            13 => HashZiplist,
            14 => ListQuicklist,
            15 => Stream(1),
            16 => HashListpack,
            17 => ZSetListpack,
            18 => ListQuicklist2,
            19 => Stream(2),
            20 => SetListpack,
            21 => Stream(3),
            22 if valkey => Hash2,
            22 => HashMetadataPreGa,
            23 if !valkey => HashListpackExPreGa,
            24 if !valkey => HashMetadata,
            25 if !valkey => HashListpackEx,
            26 if !valkey => Stream(4),
            _ => return None,
        };
        Some(Some(enc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_lines() {
        let f = Format::from_magic(b"REDIS0011").unwrap();
        assert_eq!((f.flavor, f.version), (Flavor::Redis, 11));
        let f = Format::from_magic(b"VALKEY080").unwrap();
        assert_eq!((f.flavor, f.version), (Flavor::Valkey, 80));
        assert!(matches!(Format::from_magic(b"REDIS0099"), Err(Error::UnsupportedVersion { version: 99, .. })));
        assert!(matches!(Format::from_magic(b"RUBIS0011"), Err(Error::BadMagic { .. })));
        assert!(matches!(Format::from_magic(b"REDIS00x1"), Err(Error::BadMagic { .. })));
    }

    #[test]
    fn colliding_type_numbers_depend_on_flavor() {
        let redis = Format::from_magic(b"REDIS0012").unwrap();
        let valkey = Format::from_magic(b"VALKEY080").unwrap();
        assert_eq!(redis.decode(22, 0).unwrap(), Opcode::Value(Encoding::HashMetadataPreGa));
        assert_eq!(valkey.decode(22, 0).unwrap(), Opcode::Value(Encoding::Hash2));
        assert!(valkey.decode(24, 0).is_err());
        assert_eq!(valkey.decode(243, 0).unwrap(), Opcode::SlotImport);
        assert!(redis.decode(27, 0).is_err());
    }
}
