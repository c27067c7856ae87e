//! The link's error type.

use replicant_repl::ReplId;

/// An error of the sink, in the sink's own type.
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What ended a link.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The master could not be reached.
    #[error(transparent)]
    Connect(#[from] replicant_net::NetError),
    /// The connection broke.
    #[error("the connection to the master broke")]
    Io(#[from] std::io::Error),
    /// The master closed the connection.
    #[error("the master closed the connection")]
    Closed,
    /// The replication protocol failed.
    #[error(transparent)]
    Repl(#[from] replicant_repl::ReplError),
    /// The snapshot is not a valid RDB.
    #[error("the master's snapshot is not a valid RDB")]
    Rdb(#[from] replicant_rdb::Error),
    /// The snapshot ended before the RDB did.
    #[error("the master's snapshot ended before the RDB did ({received} bytes)")]
    SnapshotCut {
        /// Payload bytes received.
        received: u64,
    },
    /// An RDB file could not be read.
    #[error("cannot read {name}")]
    FileRead {
        /// The file's name.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An RDB file is not a valid RDB.
    #[error("{name} is not a valid RDB")]
    FileRdb {
        /// The file's name.
        name: String,
        /// Where and why.
        #[source]
        source: replicant_rdb::Error,
    },
    /// An RDB file ended before the RDB did.
    #[error("{name} ends before the RDB does ({received} bytes)")]
    FileCut {
        /// The file's name.
        name: String,
        /// Bytes read.
        received: u64,
    },
    /// The sink failed.
    #[error("the sink failed")]
    Sink(#[source] SinkError),
    /// The master would only send a new full snapshot, and the policy forbids taking it.
    #[error(
        "the master cannot continue from replication ID {replid} offset {offset} ({why}); \
         a new full sync is needed: empty the target and start again, or allow full resyncs"
    )]
    FullResyncRefused {
        /// The resume point.
        replid: ReplId,
        /// Its offset.
        offset: u64,
        /// Why.
        why: &'static str,
    },
    /// The link dropped during a snapshot, which cannot be resumed, and the policy forbids
    /// taking a new one.
    #[error(
        "the link dropped during the full sync, which cannot be resumed; a new full sync is \
         needed: empty the target and start again, or allow full resyncs"
    )]
    SnapshotInterrupted {
        /// What broke the link.
        #[source]
        cause: Box<LinkError>,
    },
    /// What a source other than a Redis master sent could not be used (a malformed or
    /// unknown record, a file transfer cut short, a refused request); the error says what
    /// and where. Not retryable.
    #[error("the master's data cannot be used")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Too many reconnection attempts failed in a row.
    #[error("gave up after {attempts} failed attempts to reach the master")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        last: Box<LinkError>,
    },
}

impl LinkError {
    /// Whether reconnecting may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            LinkError::Connect(_) | LinkError::Io(_) | LinkError::Closed => true,
            LinkError::Repl(e) => e.is_retryable(),
            _ => false,
        }
    }
}
