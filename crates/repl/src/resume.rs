//! Where a replica continues a master's stream: the replication ID, the offset of the last
//! byte taken, and the database the stream had selected there (a master does not repeat
//! `SELECT` after a partial resync, so the replica must remember it).

use crate::ReplId;

/// A point of a master's replication stream to continue from with `PSYNC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// The master's replication ID.
    pub replid: ReplId,
    /// Offset of the last byte already taken; `PSYNC` asks for `offset + 1`.
    pub offset: u64,
    /// The database selected in the stream at `offset`.
    pub db: u64,
}

impl ResumePoint {
    /// A resume point in database 0.
    pub fn new(replid: ReplId, offset: u64) -> Self {
        ResumePoint { replid, offset, db: 0 }
    }

    /// The same point with the stream's database.
    pub fn db(mut self, db: u64) -> Self {
        self.db = db;
        self
    }
}
