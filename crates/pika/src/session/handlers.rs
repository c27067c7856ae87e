//! The session's answers to MetaSync, TrySync, DBSync and RemoveSlaveNode responses
//! (Pika's `PikaReplClientConn::Handle*Response`, `src/pika_repl_client_conn.cc`).

use std::time::Instant;

use super::event::{DbState, Event, MasterDb, MasterMeta, TrySyncOutcome};
use super::{request, Phase, Session};
use crate::error::{PikaError, Result};
use crate::position::{BinlogPos, LogOffset};
use crate::proto::inner::{inner_response, InnerResponse, StatusCode};

fn missing(message: &'static str, field: &'static str) -> PikaError {
    PikaError::MissingField { message, field }
}

fn is_ok(response: &InnerResponse) -> bool {
    response.code == StatusCode::Ok as i32
}

impl Session {
    pub(super) fn on_meta_sync(&mut self, response: InnerResponse) -> Result<()> {
        if self.phase != Phase::MetaSync {
            return Err(self.unexpected("MetaSync response".into()));
        }
        let reply = response.reply.clone().unwrap_or_default();
        match StatusCode::try_from(response.code) {
            Ok(StatusCode::Ok) => {}
            Ok(StatusCode::Other) => {
                self.events.push_back(Event::MetaSyncRetry { reply });
                return Ok(());
            }
            _ => return Err(PikaError::MetaSyncRejected { reply }),
        }
        let meta = response.meta_sync.ok_or_else(|| missing("MetaSync response", "meta_sync"))?;
        let dbs: Vec<MasterDb> = meta
            .dbs_info
            .into_iter()
            .map(|info| MasterDb { name: info.db_name, instances: info.db_instance_num })
            .collect();
        self.dbs = dbs.iter().map(|db| (db.name.clone(), DbState::Idle)).collect();
        self.phase = Phase::Synced;
        let meta = MasterMeta {
            classic_mode: meta.classic_mode,
            dbs,
            run_id: meta.run_id,
            replication_id: meta.replication_id,
        };
        self.events.push_back(Event::MetaSynced(meta));
        Ok(())
    }

    pub(super) fn on_try_sync(&mut self, response: InnerResponse, now: Instant) -> Result<()> {
        let body = response.try_sync.as_ref().ok_or_else(|| missing("TrySync response", "try_sync"))?;
        let db = body.slot.db_name.clone();
        let Some(DbState::TrySyncSent { from }) = self.db_state(&db) else {
            return Err(self.unexpected(format!("TrySync response for {db}")));
        };
        let outcome = if is_ok(&response) {
            self.try_sync_outcome(&db, body, from, now)?
        } else {
            TrySyncOutcome::Error { reply: response.reply.clone() }
        };
        if !matches!(outcome, TrySyncOutcome::Ok { .. }) {
            self.set_state(&db, DbState::Idle);
        }
        self.events.push_back(Event::TrySync { db, outcome });
        Ok(())
    }

    /// Reads the reply code; on OK starts streaming with the `first_send` BinlogSync.
    fn try_sync_outcome(
        &mut self,
        db: &str,
        body: &inner_response::TrySync,
        from: BinlogPos,
        now: Instant,
    ) -> Result<TrySyncOutcome> {
        use inner_response::try_sync::ReplyCode;
        let master = body.binlog_offset.as_ref().map(BinlogPos::from);
        Ok(match ReplyCode::try_from(body.reply_code) {
            Ok(ReplyCode::Ok) => {
                let session_id = body.session_id.ok_or_else(|| missing("TrySync response", "session_id"))?;
                // Pika's replica sends its own binlog position with a zero logic offset.
                let start = LogOffset { pos: from, term: 0, index: 0 };
                self.set_state(db, DbState::Streaming { session_id, position: start, local_index: 0 });
                self.send(request::binlog_sync(&self.node, db, (start, start), session_id, true), now);
                TrySyncOutcome::Ok { session_id, master }
            }
            Ok(ReplyCode::SyncPointBePurged) => TrySyncOutcome::PointPurged { master },
            Ok(ReplyCode::SyncPointLarger) => TrySyncOutcome::PointLarger { master },
            Ok(ReplyCode::Error) | Err(_) => TrySyncOutcome::Error { reply: None },
        })
    }

    pub(super) fn on_db_sync(&mut self, response: InnerResponse) -> Result<()> {
        let body = response.db_sync.as_ref().ok_or_else(|| missing("DBSync response", "db_sync"))?;
        let db = body.slot.db_name.clone();
        if self.db_state(&db) != Some(DbState::DbSyncSent) {
            return Err(self.unexpected(format!("DBSync response for {db}")));
        }
        if is_ok(&response) {
            let session_id = body.session_id;
            self.set_state(&db, DbState::DbSyncing { session_id });
            self.events.push_back(Event::DbSyncStarted { db, session_id });
        } else {
            self.set_state(&db, DbState::Idle);
            self.events.push_back(Event::DbSyncRefused { db, reply: response.reply });
        }
        Ok(())
    }

    pub(super) fn on_removed(&mut self, response: InnerResponse) -> Result<()> {
        for removed in &response.remove_slave_node {
            let db = removed.slot.db_name.clone();
            if self.db_state(&db) == Some(DbState::Removing) {
                self.set_state(&db, DbState::Idle);
                self.events.push_back(Event::Removed { db });
            }
        }
        if self.phase == Phase::Stopping && self.dbs.iter().all(|(_, state)| *state != DbState::Removing) {
            self.phase = Phase::Stopped;
        }
        Ok(())
    }
}
