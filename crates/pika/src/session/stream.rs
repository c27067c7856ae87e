//! BinlogSync responses: items grouped per database, checked, turned into [`Batch`]es,
//! and the ack or ping Pika's replica answers with (`HandleBGWorkerWriteBinlog`,
//! `src/pika_repl_bgworker.cc`).

use std::time::Instant;

use super::event::{Batch, DbState, Entry, Event};
use super::{request, Phase, Session};
use crate::error::{PikaError, Result};
use crate::position::LogOffset;
use crate::proto::inner::{inner_response::BinlogSync, InnerResponse};

/// A response's items for one database.
type Group = (String, Vec<BinlogSync>);

/// Splits the items by database, keeping the order of first appearance.
fn group_by_db(items: Vec<BinlogSync>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for item in items {
        let db = item.slot.db_name.clone();
        match groups.iter_mut().find(|(name, _)| *name == db) {
            Some((_, members)) => members.push(item),
            None => groups.push((db, vec![item])),
        }
    }
    groups
}

impl Session {
    pub(super) fn on_binlog_sync(&mut self, response: InnerResponse, now: Instant) -> Result<()> {
        if self.phase == Phase::MetaSync {
            return Err(self.unexpected("BinlogSync response".into()));
        }
        for (db, items) in group_by_db(response.binlog_sync) {
            match self.db_state(&db) {
                Some(DbState::Streaming { session_id, local_index, .. }) => {
                    self.on_stream(&db, (session_id, local_index), items, now)?;
                }
                Some(DbState::DbSyncing { session_id }) => self.on_dump_keepalive(&db, session_id, &items, now)?,
                // Stale traffic after a refusal, a mismatch or RemoveSlaveNode: dropped.
                Some(_) => {}
                None => return Err(PikaError::UnknownDb { db }),
            }
        }
        Ok(())
    }

    /// Items of a streaming database: a batch and its ack, or a ping for keepalives only.
    /// An item whose header does not decode ends the batch with no ack, as Pika's replica
    /// does: the items before it are delivered, and the driver stops at it, naming its
    /// position.
    fn on_stream(
        &mut self,
        db: &str,
        (session_id, local_index): (i32, u64),
        items: Vec<BinlogSync>,
        now: Instant,
    ) -> Result<()> {
        let mut entries = Vec::new();
        for item in items {
            if item.session_id != session_id {
                self.set_state(db, DbState::Idle);
                let got = item.session_id;
                self.events.push_back(Event::SessionMismatch { db: db.to_owned(), expected: session_id, got });
                return Ok(());
            }
            let Some(entry) = entry(item) else { continue };
            if entry.item().is_err() {
                entries.push(entry);
                self.set_state(db, DbState::Idle);
                self.events.push_back(Event::Binlog(Batch { db: db.to_owned(), entries }));
                return Ok(());
            }
            entries.push(entry);
        }
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            let ping = (LogOffset::ZERO, LogOffset::ZERO);
            self.send(request::binlog_sync(&self.node, db, ping, session_id, false), now);
            return Ok(());
        };
        let local_index = local_index + entries.len() as u64;
        let (start, position) = (first.end, last.end);
        let end = LogOffset { index: local_index, ..position };
        self.set_state(db, DbState::Streaming { session_id, position, local_index });
        self.send(request::binlog_sync(&self.node, db, (start, end), session_id, false), now);
        self.events.push_back(Event::Binlog(Batch { db: db.to_owned(), entries }));
        Ok(())
    }

    /// During a dump the master pings too; anything but keepalives is a protocol error.
    fn on_dump_keepalive(&mut self, db: &str, session_id: i32, items: &[BinlogSync], now: Instant) -> Result<()> {
        if items.iter().any(|item| !item.binlog.is_empty()) {
            return Err(self.unexpected(format!("binlog items for {db} during its dump")));
        }
        if items.iter().all(|item| item.session_id == session_id) {
            let ping = (LogOffset::ZERO, LogOffset::ZERO);
            self.send(request::binlog_sync(&self.node, db, ping, session_id, false), now);
        }
        Ok(())
    }
}

/// The item as an [`Entry`] (its header is checked by [`Entry::item`]); `None` for a
/// keepalive.
fn entry(item: BinlogSync) -> Option<Entry> {
    if item.binlog.is_empty() {
        return None;
    }
    Some(Entry { end: LogOffset::from(&item.binlog_offset), binlog: item.binlog })
}
