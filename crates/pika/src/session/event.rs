//! What the [`Session`](super::Session) reports to its driver: [`Event`]s, the binlog
//! [`Batch`]es among them, and each database's [`DbState`].

use std::time::Duration;

use bytes::Bytes;

use crate::binlog::BinlogItem;
use crate::error::Result;
use crate::position::{BinlogPos, LogOffset};

/// Something the driver acts on, in the order the master's messages caused them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// MetaSync accepted: the driver now calls `try_sync` or `db_sync` per database.
    MetaSynced(MasterMeta),
    /// MetaSync answered "try again" (`kOther`, "Slave AlreadyExist" while the master still
    /// holds a previous connection of ours): reconnect after a pause.
    MetaSyncRetry {
        /// The master's reply text.
        reply: String,
    },
    /// The master answered a TrySync.
    TrySync {
        /// The database.
        db: String,
        /// How.
        outcome: TrySyncOutcome,
    },
    /// DBSync accepted: the master makes a dump to fetch over RsyncService, after which the
    /// driver calls `try_sync` from the dump's `info` position.
    DbSyncStarted {
        /// The database.
        db: String,
        /// The session id for this database.
        session_id: i32,
    },
    /// DBSync refused.
    DbSyncRefused {
        /// The database.
        db: String,
        /// The master's reply text, if any.
        reply: Option<String>,
    },
    /// Binlog items to replay, in order. The session has already queued their ack.
    Binlog(Batch),
    /// Items arrived under another session id: the database went back to idle and must
    /// TrySync again (Pika's replica does the same, `kTryConnect`).
    SessionMismatch {
        /// The database.
        db: String,
        /// Our session id.
        expected: i32,
        /// The items'.
        got: i32,
    },
    /// The master confirmed RemoveSlaveNode for this database.
    Removed {
        /// The database.
        db: String,
    },
    /// Nothing came from the master for the configured timeout: drop the link.
    MasterTimeout {
        /// How long it has been silent.
        silent_for: Duration,
    },
}

/// The master's MetaSync answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterMeta {
    /// Classic (not sharded) mode.
    pub classic_mode: bool,
    /// Its databases, in its order.
    pub dbs: Vec<MasterDb>,
    /// Its run id (Pika 3.5+).
    pub run_id: Option<String>,
    /// Its replication id (Pika 3.5.x later releases, 4.x): a real replica with another one
    /// forces a full sync.
    pub replication_id: Option<String>,
}

/// One database of the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterDb {
    /// `db0`, `db1`, …
    pub name: String,
    /// RocksDB instances behind it (Pika 4 only).
    pub instances: Option<i32>,
}

/// The master's answer to TrySync (`InnerResponse.TrySync.ReplyCode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrySyncOutcome {
    /// Streaming starts: the session sent the first BinlogSync.
    Ok {
        /// The session id.
        session_id: i32,
        /// The master's binlog end.
        master: Option<BinlogPos>,
    },
    /// `kSyncPointBePurged`: the binlog file is gone; a full copy (DBSync) is needed.
    PointPurged {
        /// The master's binlog end.
        master: Option<BinlogPos>,
    },
    /// `kSyncPointLarger`: the position is past the master's binlog end.
    PointLarger {
        /// The master's binlog end.
        master: Option<BinlogPos>,
    },
    /// `kError` (also: the position is not an item boundary) or a non-OK status.
    Error {
        /// The master's reply text, if any.
        reply: Option<String>,
    },
}

/// Binlog items of one database from one BinlogSync response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The database.
    pub db: String,
    /// The items, keepalives left out, in order.
    pub entries: Vec<Entry>,
}

/// One binlog item as the master sent it; its header was checked on arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where the item ends: the position to resume from after it.
    pub end: LogOffset,
    /// The encoded item (a slice of the received frame).
    pub binlog: Bytes,
}

impl Entry {
    /// The decoded item, borrowing from `binlog`.
    pub fn item(&self) -> Result<BinlogItem<'_>> {
        BinlogItem::decode(&self.binlog)
    }
}

/// Where one database stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbState {
    /// Nothing asked yet (or back here after a refusal or a session mismatch).
    Idle,
    /// TrySync sent.
    TrySyncSent {
        /// From where.
        from: BinlogPos,
    },
    /// DBSync sent.
    DbSyncSent,
    /// DBSync accepted; the dump is being fetched by the driver.
    DbSyncing {
        /// Session id.
        session_id: i32,
    },
    /// Binlog streaming.
    Streaming {
        /// Session id.
        session_id: i32,
        /// The end of the last item received: where to resume.
        position: LogOffset,
        /// The index this replica's own binlog would be at, sent in ack ends as Pika does.
        local_index: u64,
    },
    /// RemoveSlaveNode sent.
    Removing,
}

impl DbState {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::TrySyncSent { .. } => "waiting for TrySync",
            Self::DbSyncSent => "waiting for DBSync",
            Self::DbSyncing { .. } => "fetching the dump",
            Self::Streaming { .. } => "streaming",
            Self::Removing => "removing",
        }
    }

    /// The session id, where there is one.
    pub fn session_id(&self) -> Option<i32> {
        match self {
            Self::DbSyncing { session_id } | Self::Streaming { session_id, .. } => Some(*session_id),
            _ => None,
        }
    }
}
