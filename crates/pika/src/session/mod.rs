//! The replica's side of the InnerMessage exchange as a sans-IO state machine (Pika 4.0.1's
//! `PikaReplClient`/`PikaReplClientConn`/`PikaReplBgWorker`, 3.5 is the same exchange):
//!
//! 1. [`Session::new`] queues MetaSync (with masterauth); the answer is
//!    [`Event::MetaSynced`] (or a retry, or [`PikaError::MetaSyncRejected`]).
//! 2. Per database the driver calls [`Session::try_sync`] from a binlog position or
//!    [`Session::db_sync`] for a full copy ([`Event::DbSyncStarted`]; then the dump comes
//!    over RsyncService, see [`crate::rsync`], and `try_sync` follows from its `info`).
//! 3. TrySync OK → the session sends the first BinlogSync (`first_send`, range = the
//!    TrySync position) and streaming starts: every BinlogSync response becomes per
//!    database an [`Event::Binlog`] batch and the ack the master expects, exactly as Pika's
//!    replica builds it (`HandleBGWorkerWriteBinlog`): start = the first non-empty item's
//!    `binlog_offset` as received, end = the last one's position and term with the index of
//!    the replica's own binlog (counted from 0 at TrySync, one per item; the master matches
//!    acks on filenum/offset only). A response of keepalives only (empty `binlog`) is
//!    answered with an all-zero range, which the master takes as a ping.
//! 4. [`Session::stop`] sends RemoveSlaveNode per database ([`Event::Removed`]).
//!
//! Time is a parameter: [`Session::poll`] sends a ping when nothing was sent for
//! `keepalive_interval` and reports [`Event::MasterTimeout`] when the master has been silent
//! for `master_timeout` (Pika: `kRecvKeepAliveTimeout`, 20 s, on both sides).
//! [`Session::poll_timeout`] says when to call it next.

mod event;
mod handlers;
mod request;
mod stream;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use event::{Batch, DbState, Entry, Event, MasterDb, MasterMeta, TrySyncOutcome};

use crate::error::{PikaError, Result};
use crate::position::{BinlogPos, LogOffset};
use crate::proto::inner::{InnerRequest, InnerResponse, Node, Type};

/// Default [`SessionConfig::keepalive_interval`]: half the master's 20 s receive timeout.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Default [`SessionConfig::master_timeout`]: Pika's `kRecvKeepAliveTimeout`.
pub const DEFAULT_MASTER_TIMEOUT: Duration = Duration::from_secs(20);

/// How the session presents itself and keeps the link alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The IP this replica declares (a real one sends its address on the master link).
    pub ip: String,
    /// The port it declares (a real one sends its own server port).
    pub port: i32,
    /// masterauth: the master's `requirepass`, if it has one.
    pub auth: Option<String>,
    /// Send a ping when nothing was sent for this long. Default 10 s.
    pub keepalive_interval: Duration,
    /// Report the master dead after this long without a message. Default 20 s.
    pub master_timeout: Duration,
}

impl SessionConfig {
    /// A config declaring `ip:port`, without auth, with the default timers.
    pub fn new(ip: impl Into<String>, port: i32) -> Self {
        Self {
            ip: ip.into(),
            port,
            auth: None,
            keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
            master_timeout: DEFAULT_MASTER_TIMEOUT,
        }
    }
}

/// Where the session as a whole stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// MetaSync sent, no answer yet.
    MetaSync,
    /// MetaSync done: databases can sync.
    Synced,
    /// RemoveSlaveNode sent for some databases.
    Stopping,
    /// Done: nothing more to send.
    Stopped,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Self::MetaSync => "waiting for MetaSync",
            Self::Synced => "synced",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
        }
    }
}

/// The replica session: feed it the master's responses and the time, send what it queues.
#[derive(Debug)]
pub struct Session {
    node: Node,
    keepalive_interval: Duration,
    master_timeout: Duration,
    phase: Phase,
    dbs: Vec<(String, DbState)>,
    out: VecDeque<InnerRequest>,
    events: VecDeque<Event>,
    last_sent: Instant,
    last_recv: Instant,
    timeout_reported: bool,
}

impl Session {
    /// A session that starts with MetaSync (already queued).
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let node = Node { ip: config.ip, port: config.port };
        let auth = config.auth.filter(|a| !a.is_empty());
        Self {
            out: VecDeque::from([request::meta_sync(&node, auth.as_deref())]),
            node,
            keepalive_interval: config.keepalive_interval,
            master_timeout: config.master_timeout,
            phase: Phase::MetaSync,
            dbs: Vec::new(),
            events: VecDeque::new(),
            last_sent: now,
            last_recv: now,
            timeout_reported: false,
        }
    }

    /// Handles one message from the master.
    pub fn handle_response(&mut self, response: InnerResponse, now: Instant) -> Result<()> {
        self.last_recv = now;
        self.timeout_reported = false;
        match Type::try_from(response.r#type) {
            Ok(Type::MetaSync) => self.on_meta_sync(response),
            Ok(Type::TrySync) => self.on_try_sync(response, now),
            Ok(Type::DbSync) => self.on_db_sync(response),
            Ok(Type::BinlogSync) => self.on_binlog_sync(response, now),
            Ok(Type::RemoveSlaveNode) => self.on_removed(response),
            _ => Err(self.unexpected(format!("response type {}", response.r#type))),
        }
    }

    /// Asks to stream `db` from `from` (a position from a previous run, `INFO`'s
    /// `binlog_offset`, or a dump's `info` file).
    pub fn try_sync(&mut self, db: &str, from: BinlogPos, now: Instant) -> Result<()> {
        self.transition(db, "TrySync", |state| matches!(state, DbState::Idle | DbState::DbSyncing { .. }))?;
        self.set_state(db, DbState::TrySyncSent { from });
        self.send(request::try_sync(&self.node, db, from), now);
        Ok(())
    }

    /// Asks the master for a full copy of `db`; `own` is this replica's binlog position,
    /// which Pika sends and the master only logs (`(0, 0)` for a fresh replica).
    pub fn db_sync(&mut self, db: &str, own: BinlogPos, now: Instant) -> Result<()> {
        self.transition(db, "DBSync", |state| matches!(state, DbState::Idle))?;
        self.set_state(db, DbState::DbSyncSent);
        self.send(request::db_sync(&self.node, db, own), now);
        Ok(())
    }

    /// Detaches cleanly: RemoveSlaveNode for every database the master knows us on.
    pub fn stop(&mut self, now: Instant) {
        if self.phase != Phase::Synced {
            self.phase = Phase::Stopped;
            return;
        }
        let known: Vec<String> =
            self.dbs.iter().filter(|(_, state)| *state != DbState::Idle).map(|(name, _)| name.clone()).collect();
        for db in &known {
            self.set_state(db, DbState::Removing);
            self.send(request::remove_slave_node(&self.node, db), now);
        }
        self.phase = if known.is_empty() { Phase::Stopped } else { Phase::Stopping };
    }

    /// Runs the timers: a ping per live database when nothing was sent for the keepalive
    /// interval, [`Event::MasterTimeout`] once when the master has been silent too long.
    pub fn poll(&mut self, now: Instant) {
        if let Some(deadline) = self.master_deadline() {
            if now >= deadline {
                self.timeout_reported = true;
                self.events.push_back(Event::MasterTimeout { silent_for: now - self.last_recv });
            }
        }
        if self.keepalive_deadline().is_some_and(|deadline| now >= deadline) {
            self.send_pings(now);
        }
    }

    /// When [`Session::poll`] has something to do next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.master_deadline(), self.keepalive_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next request to send, in order.
    pub fn poll_transmit(&mut self) -> Option<InnerRequest> {
        self.out.pop_front()
    }

    /// The next event, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The session's phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The master's databases and their states (empty before MetaSync).
    pub fn dbs(&self) -> impl Iterator<Item = (&str, &DbState)> {
        self.dbs.iter().map(|(name, state)| (name.as_str(), state))
    }

    /// One database's state.
    pub fn db_state(&self, db: &str) -> Option<DbState> {
        self.dbs.iter().find(|(name, _)| name == db).map(|(_, state)| *state)
    }

    /// Where `db` would resume: the end of the last item received.
    pub fn position(&self, db: &str) -> Option<LogOffset> {
        match self.db_state(db)? {
            DbState::Streaming { position, .. } => Some(position),
            _ => None,
        }
    }

    fn send(&mut self, request: InnerRequest, now: Instant) {
        self.out.push_back(request);
        self.last_sent = now;
    }

    fn set_state(&mut self, db: &str, state: DbState) {
        if let Some((_, slot)) = self.dbs.iter_mut().find(|(name, _)| name == db) {
            *slot = state;
        }
    }

    /// Checks that `action` is allowed for `db` now.
    fn transition(&self, db: &str, action: &'static str, allowed: impl Fn(&DbState) -> bool) -> Result<()> {
        if self.phase != Phase::Synced {
            return Err(PikaError::WrongState { action, db: db.to_owned(), state: self.phase.name() });
        }
        let state = self.db_state(db).ok_or_else(|| PikaError::UnknownDb { db: db.to_owned() })?;
        if allowed(&state) {
            Ok(())
        } else {
            Err(PikaError::WrongState { action, db: db.to_owned(), state: state.name() })
        }
    }

    fn unexpected(&self, what: String) -> PikaError {
        PikaError::Unexpected { what, state: self.phase.name() }
    }

    /// The master must be heard from: a request is outstanding or a database is live.
    fn master_deadline(&self) -> Option<Instant> {
        let waiting = match self.phase {
            Phase::MetaSync | Phase::Stopping => true,
            Phase::Synced => self.dbs.iter().any(|(_, state)| *state != DbState::Idle),
            Phase::Stopped => false,
        };
        (waiting && !self.timeout_reported).then(|| self.last_recv + self.master_timeout)
    }

    fn keepalive_deadline(&self) -> Option<Instant> {
        let live = self.phase == Phase::Synced && self.dbs.iter().any(|(_, state)| state.session_id().is_some());
        live.then(|| self.last_sent + self.keepalive_interval)
    }

    fn send_pings(&mut self, now: Instant) {
        let live: Vec<(String, i32)> =
            self.dbs.iter().filter_map(|(name, state)| Some((name.clone(), state.session_id()?))).collect();
        for (db, session_id) in live {
            self.send(
                request::binlog_sync(&self.node, &db, (LogOffset::ZERO, LogOffset::ZERO), session_id, false),
                now,
            );
        }
    }
}

#[cfg(test)]
mod tests;
