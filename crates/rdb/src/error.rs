//! The parser's one error type: what went wrong, and at which byte offset of the stream.

/// Everything that can go wrong while parsing an RDB stream.
///
/// Offsets are absolute: counted from the first byte of the magic (`REDIS0011`).
/// Needing more input is never an error: see [`crate::Status::NeedMore`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream does not start with `REDIS` or `VALKEY` followed by a version number.
    #[error("not an RDB stream: bad magic {found:?} at offset 0 (expected REDISnnnn or VALKEYnnn)")]
    BadMagic {
        /// The bytes found where the magic should be, escaped.
        found: String,
    },
    /// The version is one this parser does not know how to read.
    #[error("unsupported RDB version {version} ({flavor}) in the magic at offset 0; this parser reads Redis RDB 1-13 and Valkey 80")]
    UnsupportedVersion {
        /// `REDIS` or `VALKEY`.
        flavor: &'static str,
        /// The version number after the magic.
        version: u32,
    },
    /// A type or opcode byte that this format version does not define.
    #[error("unknown value type or opcode {byte} at offset {offset} (RDB {flavor} version {version})")]
    UnknownType {
        /// The byte read.
        byte: u8,
        /// Where it was read.
        offset: u64,
        /// `REDIS` or `VALKEY`.
        flavor: &'static str,
        /// The stream's version.
        version: u32,
    },
    /// A type or opcode that is defined but that this parser cannot read.
    #[error("unsupported {what} at offset {offset}")]
    Unsupported {
        /// What it is, e.g. "module value of a pre-GA module (type 6)".
        what: &'static str,
        /// Where it was read.
        offset: u64,
    },
    /// The bytes do not follow the format.
    #[error("corrupt RDB at offset {offset}: {what}")]
    Corrupt {
        /// What was expected or what is inconsistent.
        what: String,
        /// Where in the stream (for values inside a compressed blob: the blob's offset).
        offset: u64,
    },
    /// A length read off the stream exceeds the configured bound.
    #[error(
        "{what} of {len} bytes at offset {offset} exceeds the limit of {limit} bytes \
         (raise `max_buffered` to read it)"
    )]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// The length the stream declares.
        len: u64,
        /// The configured bound.
        limit: usize,
        /// Where the length was read.
        offset: u64,
    },
    /// The CRC-64 trailer does not match the bytes read.
    #[error("checksum mismatch at offset {offset}: the trailer says {expected:#018x}, the data gives {actual:#018x}")]
    ChecksumMismatch {
        /// Where the trailer starts.
        offset: u64,
        /// Stored in the trailer.
        expected: u64,
        /// Computed over the stream.
        actual: u64,
    },
    /// The input ended before the RDB did.
    #[error("truncated RDB: the input ended at offset {offset} while reading {what}")]
    Truncated {
        /// Where the input ended.
        offset: u64,
        /// What the parser was in the middle of.
        what: &'static str,
    },
    /// `parse` was called again after the end or after an error.
    #[error("the parser has already finished")]
    Finished,
}

impl Error {
    pub(crate) fn corrupt(offset: u64, what: impl Into<String>) -> Self {
        Error::Corrupt { what: what.into(), offset }
    }
}
