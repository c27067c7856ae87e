//! [`PikaError`]: every way following a Pika master can fail here, each saying what and
//! where (byte offset, message number, database, file).

use std::fmt;

/// The crate's result type.
pub type Result<T, E = PikaError> = std::result::Result<T, E>;

/// Everything that can go wrong decoding, rewriting or driving a Pika replication.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PikaError {
    /// A frame announced more bytes than the decoder accepts.
    #[error("frame {message} at byte {at} announces {len} bytes, over the {max}-byte limit")]
    FrameTooLarge {
        /// The announced length.
        len: u64,
        /// The decoder's limit.
        max: usize,
        /// Stream offset of the frame's length prefix.
        at: u64,
        /// Number of the frame in the stream, from 0.
        message: u64,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside frame {message} at byte {at}: {available} of {needed} bytes")]
    Truncated {
        /// Stream offset of the frame's length prefix.
        at: u64,
        /// Number of the frame in the stream, from 0.
        message: u64,
        /// Bytes the frame needs, prefix included.
        needed: u64,
        /// Bytes there were.
        available: u64,
    },
    /// A frame's payload is not a valid protobuf of the expected message.
    #[error("frame {message} at byte {at} is not a valid {kind}: {source}")]
    Protobuf {
        /// The expected message type.
        kind: &'static str,
        /// Stream offset of the frame's length prefix.
        at: u64,
        /// Number of the frame in the stream, from 0.
        message: u64,
        /// What prost said.
        source: prost::DecodeError,
    },
    /// A message is too large to be framed (over `u32::MAX` bytes).
    #[error("a {len}-byte message cannot be framed")]
    Unframable {
        /// Its encoded length.
        len: usize,
    },
    /// A binlog item is shorter than its 34-byte header.
    #[error("binlog item of {len} bytes is shorter than its {header}-byte header")]
    ItemTooShort {
        /// The item's length.
        len: usize,
        /// The header length.
        header: usize,
    },
    /// A binlog item's type is not TypeFirst (1).
    #[error("binlog item type {found} at byte 0, expected 1 (TypeFirst)")]
    ItemType {
        /// The type found.
        found: u16,
    },
    /// A binlog item's content length disagrees with the bytes after the header.
    #[error("binlog item content length {declared} at byte 30 does not match the {actual} bytes after the header")]
    ItemLength {
        /// The length in the header.
        declared: u32,
        /// The bytes present.
        actual: usize,
    },
    /// A binlog item's content is not one RESP array of bulk strings.
    #[error("binlog item content is not a RESP command: {reason} at byte {at}")]
    Resp {
        /// Offset in the content.
        at: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A command in the binlog cannot be turned into Redis commands.
    #[error("cannot rewrite `{command}`: {reason}")]
    Rewrite {
        /// The command name (lossy UTF-8).
        command: String,
        /// Why.
        reason: &'static str,
    },
    /// A `set` that carries Pika's own HyperLogLog registers (a PFMERGE result).
    #[error("key {} holds Pika's own HyperLogLog registers (a PFMERGE result), which Redis cannot read", Lossy(key))]
    PikaHyperLogLog {
        /// The key.
        key: Vec<u8>,
    },
    /// The master refused MetaSync (wrong masterauth, for example).
    #[error("master refused MetaSync: {reply}")]
    MetaSyncRejected {
        /// The master's reply text.
        reply: String,
    },
    /// A message lacks a field the exchange needs.
    #[error("{message} without {field}")]
    MissingField {
        /// The message.
        message: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// The master sent something the session does not expect now.
    #[error("unexpected {what} while {state}")]
    Unexpected {
        /// What arrived.
        what: String,
        /// The session's state.
        state: &'static str,
    },
    /// The driver asked for something the session cannot do now.
    #[error("cannot {action} database {db} while {state}")]
    WrongState {
        /// The request.
        action: &'static str,
        /// The database.
        db: String,
        /// Its state.
        state: &'static str,
    },
    /// A database the master did not list in its MetaSync reply.
    #[error("database {db} is not on the master")]
    UnknownDb {
        /// The name.
        db: String,
    },
    /// The RsyncService master answered with an error code.
    #[error("rsync master refused {what} (code {code})")]
    RsyncRefused {
        /// The request ("meta" or the file name and offset).
        what: String,
        /// The code.
        code: i32,
    },
    /// An RsyncService reply belongs to another dump than the one being copied.
    #[error("snapshot changed during the transfer: {got} after {expected}")]
    SnapshotChanged {
        /// The dump's UUID from the meta reply.
        expected: String,
        /// The UUID of this reply.
        got: String,
    },
    /// A file chunk that answers no outstanding request.
    #[error("reader {reader}: unexpected chunk {got_file}@{got_offset}, expected {expected}")]
    UnexpectedChunk {
        /// The reader index of the reply.
        reader: i32,
        /// What that reader asked for ("file@offset", or "nothing").
        expected: String,
        /// The chunk's file.
        got_file: String,
        /// The chunk's offset.
        got_offset: u64,
    },
    /// A file chunk whose `count` is not the length of its data, or that makes no progress.
    #[error("chunk {file}@{offset}: {reason} (count {count}, {len} data bytes)")]
    BadChunk {
        /// The file.
        file: String,
        /// The chunk's offset.
        offset: u64,
        /// Its `count`.
        count: u64,
        /// Its data length.
        len: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A file name from the master that is not a plain relative path.
    #[error("unsafe file name from the master: {name:?}")]
    BadFileName {
        /// The name.
        name: String,
    },
    /// The dump's `info` file does not parse.
    #[error("dump info file, line {line}: {reason}")]
    InfoFile {
        /// Line number, from 1 (0: the whole file).
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The dump's `info` file does not hash to the snapshot UUID.
    #[error("dump info file hashes to {actual}, not the snapshot UUID {expected}")]
    InfoChecksum {
        /// The snapshot UUID.
        expected: String,
        /// MD5 of the info file received.
        actual: String,
    },
    /// A fetched dump (or one of its RocksDB directories) does not open or cannot be read.
    #[error("Pika dump {dir}: {why}")]
    Dump {
        /// The directory.
        dir: String,
        /// What went wrong (RocksDB's message, or what is missing).
        why: String,
    },
    /// A record of a fetched dump that does not decode.
    #[error("Pika dump {dir}: key {}: {what}", Lossy(key))]
    DumpKey {
        /// The RocksDB directory holding it.
        dir: String,
        /// The user key (or the raw record key, when even that does not decode).
        key: Vec<u8>,
        /// What is wrong.
        what: &'static str,
    },
}

/// Displays bytes as UTF-8, escaping what is not.
pub(crate) struct Lossy<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}
