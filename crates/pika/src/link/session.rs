//! One attempt at following the master: the InnerMessage connection driven through the
//! sans-IO [`Session`], a full copy when there is no position to continue from (or the
//! master purged it and a new copy is allowed), then the binlog until the link drops.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use replicant_link::{FullResyncPolicy, LinkError, LinkState, LinkStatus, Sink};
use replicant_repl::CommandBuf;
use tokio::sync::watch;

use super::conn::{timed_out, Framed};
use super::{pack, source_error, unpack, PikaLink, PIKA_HISTORY};
use crate::position::{db_index, BinlogPos};
use crate::proto::inner::InnerResponse;
use crate::rewrite::{rewrite, Rewritten};
use crate::session::{Batch, Event, MasterMeta, Phase, Session, SessionConfig, TrySyncOutcome};

/// How often the committed position is taken while the link waits.
const COMMIT_TICK: Duration = Duration::from_millis(250);
/// The master's replication port is its client port plus this.
const REPL_PORT_SHIFT: u16 = 2000;
/// Its RsyncService port is its client port plus this.
const RSYNC_PORT_SHIFT: u16 = 10001;

/// The InnerMessage connection and the session it carries.
struct Driver {
    conn: Framed,
    session: Session,
    /// Events taken from the session while something else ran.
    stash: VecDeque<Event>,
    /// Set when the link is to stop: the session then detaches (RemoveSlaveNode).
    stop: watch::Receiver<bool>,
}

/// Runs one attempt; `Ok` once the master confirmed a clean stop (asked for through
/// `stop`), or at once when stopped before the master knew this replica.
pub(super) async fn run<S: Sink>(
    cfg: &PikaLink,
    next: &mut Option<u64>,
    delivered: &mut bool,
    sink: &mut S,
    status: &Arc<LinkStatus>,
    stop: watch::Receiver<bool>,
) -> Result<(), LinkError> {
    status.connections.fetch_add(1, Ordering::Relaxed);
    let mut driver = Driver::connect(cfg, stop).await?;
    let mut db = (String::new(), 0u64);
    let mut command = CommandBuf::new();
    let mut copied_here = false;
    loop {
        if driver.session.phase() == Phase::Stopped {
            return Ok(());
        }
        let Some(event) = driver.next_event().await? else {
            let _ = sink.committed();
            continue;
        };
        match event {
            Event::MetaSynced(meta) => {
                db = followed_database(&meta, cfg.master.db, driver.conn.addr())?;
                match *next {
                    Some(at) => driver.session.try_sync(&db.0, unpack(at), Instant::now()),
                    None => driver.session.db_sync(&db.0, BinlogPos::new(0, 0), Instant::now()),
                }
                .map_err(protocol)?;
            }
            Event::DbSyncStarted { db: name, .. } => {
                let pos = full_copy(cfg, &mut driver, (&name, db.1), *delivered, sink, status).await?;
                (*delivered, copied_here) = (true, true);
                *next = Some(packed(pos)?);
                driver.session.try_sync(&name, pos, Instant::now()).map_err(protocol)?;
            }
            Event::TrySync { db: name, outcome } => match outcome {
                TrySyncOutcome::Ok { .. } => {
                    if let (Some(at), false) = (*next, copied_here) {
                        sink.resumed(PIKA_HISTORY, at, false).map_err(LinkError::Sink)?;
                        status.partial_syncs.fetch_add(1, Ordering::Relaxed);
                    }
                    status.set_state(LinkState::Streaming);
                }
                TrySyncOutcome::PointPurged { .. } if cfg.full_resync == FullResyncPolicy::Accept => {
                    tracing::warn!(db = name, "The master purged the binlog position; taking a new full copy.");
                    *next = None;
                    driver.session.db_sync(&name, BinlogPos::new(0, 0), Instant::now()).map_err(protocol)?;
                }
                TrySyncOutcome::PointPurged { .. } => {
                    return Err(LinkError::FullResyncRefused {
                        replid: PIKA_HISTORY,
                        offset: next.unwrap_or(0),
                        why: "the Pika master purged that binlog position (raise expire-logs-nums on the master, \
                              then start over)",
                    })
                }
                other => {
                    return Err(source_error(format!("{} refused TrySync of {name}: {other:?}", driver.conn.addr())))
                }
            },
            Event::Binlog(batch) => {
                let last = deliver(cfg, &batch, db.1, sink, &mut command)?;
                *delivered = false;
                if let Some(at) = last {
                    *next = Some(at);
                    status.offset.store(at, Ordering::Relaxed);
                }
                driver.keep_alive_while(sink.ready()).await?.map_err(LinkError::Sink)?;
                let _ = sink.committed();
            }
            Event::Removed { .. } => return Ok(()),
            Event::MasterTimeout { silent_for } => {
                return Err(timed_out(driver.conn.addr(), silent_for, "streaming (not even a keepalive)"))
            }
            other => return Err(retry(format!("{}: {other:?}; reconnecting", driver.conn.addr()))),
        }
    }
}

impl Driver {
    async fn connect(cfg: &PikaLink, stop: watch::Receiver<bool>) -> Result<Driver, LinkError> {
        let port = cfg.master.port.checked_add(REPL_PORT_SHIFT).ok_or_else(|| bad_port(cfg))?;
        let conn = Framed::connect(&cfg.master.host, port, cfg.timeout).await?;
        let local = conn.local_addr()?;
        let mut config = SessionConfig::new(local.ip().to_string(), i32::from(local.port()));
        config.auth.clone_from(&cfg.master.password);
        let session = Session::new(config, Instant::now());
        Ok(Driver { conn, session, stash: VecDeque::new(), stop })
    }

    /// Sends what the session queued.
    async fn flush(&mut self) -> Result<(), LinkError> {
        while let Some(request) = self.session.poll_transmit() {
            self.conn.send(&request).await?;
        }
        Ok(())
    }

    /// The next event, or `None` on a commit tick or once detached.
    async fn next_event(&mut self) -> Result<Option<Event>, LinkError> {
        loop {
            if let Some(event) = self.stash.pop_front().or_else(|| self.session.poll_event()) {
                return Ok(Some(event));
            }
            self.flush().await?;
            if self.session.phase() == Phase::Stopped {
                return Ok(None);
            }
            let deadline = self.deadline().min(tokio::time::Instant::now() + COMMIT_TICK);
            let stopping = matches!(self.session.phase(), Phase::Stopping);
            let mut stop = self.stop.clone();
            tokio::select! {
                message = self.conn.next::<InnerResponse>() => self.handle(message?)?,
                () = async { let _ = stop.wait_for(|stop| *stop).await; }, if !stopping => {
                    tracing::info!(master = %self.conn.addr(), "Detaching from the Pika master (RemoveSlaveNode).");
                    self.session.stop(Instant::now());
                }
                () = tokio::time::sleep_until(deadline) => {
                    self.session.poll(Instant::now());
                    if self.session.poll_timeout().is_none_or(|t| t > Instant::now()) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Runs `work` while answering the master (keepalives, pings), so that a long dump or
    /// a slow target does not look like a dead replica; stops early if the master does.
    async fn keep_alive_while<F: Future>(&mut self, work: F) -> Result<F::Output, LinkError> {
        tokio::pin!(work);
        loop {
            self.flush().await?;
            let deadline = self.deadline();
            tokio::select! {
                output = &mut work => return Ok(output),
                message = self.conn.next::<InnerResponse>() => self.handle(message?)?,
                () = tokio::time::sleep_until(deadline) => self.session.poll(Instant::now()),
            }
            while let Some(event) = self.session.poll_event() {
                if let Event::MasterTimeout { silent_for } = event {
                    return Err(timed_out(self.conn.addr(), silent_for, "a full copy or a slow target held us up"));
                }
                self.stash.push_back(event);
            }
        }
    }

    fn handle(&mut self, message: InnerResponse) -> Result<(), LinkError> {
        self.session.handle_response(message, Instant::now()).map_err(protocol)
    }

    /// When the session's timers fire next (far away when they do not).
    fn deadline(&self) -> tokio::time::Instant {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        self.session.poll_timeout().map_or(far, tokio::time::Instant::from_std)
    }
}

/// Fetches the dump of `db`, delivers it as a snapshot and removes it; its position.
async fn full_copy<S: Sink>(
    cfg: &PikaLink,
    driver: &mut Driver,
    (name, db): (&str, u64),
    restart: bool,
    sink: &mut S,
    status: &Arc<LinkStatus>,
) -> Result<BinlogPos, LinkError> {
    status.set_state(LinkState::FullSync);
    status.full_syncs.fetch_add(1, Ordering::Relaxed);
    status.rdb_bytes.store(0, Ordering::Relaxed);
    let dir = cfg.work_dir.join(format!("pika-dump-{}", std::process::id()));
    if dir.exists() {
        tokio::fs::remove_dir_all(&dir).await?;
    }
    // A master that cannot say its size is not refused: the transfer then finds out.
    let size = super::precheck::MasterFacts::read(&cfg.master, cfg.timeout).await.ok().and_then(|f| f.db_size);
    replicant_link::check_free_space(&cfg.work_dir, size, "the master's dump")?;
    let rsync_port = cfg.master.port.checked_add(RSYNC_PORT_SHIFT).ok_or_else(|| bad_port(cfg))?;
    let fetch = super::fetch::fetch_dump(&cfg.master.host, rsync_port, name, &dir, cfg.timeout, status);
    let info = driver.keep_alive_while(fetch).await??;
    let at = packed(info.pos)?;
    sink.full_sync(Some(PIKA_HISTORY), at, restart).map_err(LinkError::Sink)?;
    let result = driver.keep_alive_while(super::copy::deliver(&dir, db, at, sink, status)).await;
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        tracing::warn!(dir = %dir.display(), error = %e, "Cannot remove the fetched dump.");
    }
    result??;
    sink.snapshot_done(at).map_err(LinkError::Sink)?;
    // Applied and committed at once, not with the first binlog item: an idle master's copy
    // is then caught up and checkpointed.
    driver.keep_alive_while(sink.ready()).await?.map_err(LinkError::Sink)?;
    status.offset.store(at, Ordering::Relaxed);
    let _ = sink.committed();
    Ok(info.pos)
}

/// Hands a batch's commands to the sink, each at the position after its item; the last
/// position, when the batch held an item.
fn deliver<S: Sink>(
    cfg: &PikaLink,
    batch: &Batch,
    db: u64,
    sink: &mut S,
    command: &mut CommandBuf,
) -> Result<Option<u64>, LinkError> {
    let now_ms = now_ms();
    let mut last = None;
    for entry in &batch.entries {
        let at = packed(entry.end.pos)?;
        let item = entry.item().map_err(|e| at_position(batch, entry.end.pos, &e))?;
        let payload = item.payload().map_err(|e| at_position(batch, entry.end.pos, &e))?;
        match rewrite(&payload, now_ms, &cfg.rewrite).map_err(|e| at_position(batch, entry.end.pos, &e))? {
            Rewritten::Command(args) => {
                command.set(&args);
                sink.command(&command.command(at, db)).map_err(LinkError::Sink)?;
            }
            Rewritten::Skip(_) => {}
        }
        last = Some(at);
    }
    Ok(last)
}

/// The database followed: the one the source URL names (`redis://host:port/N` → `dbN`),
/// else the master's only one; a master with several and none named is refused, saying
/// how to follow each.
fn followed_database(meta: &MasterMeta, named: Option<u64>, addr: &str) -> Result<(String, u64), LinkError> {
    let names: Vec<&str> = meta.dbs.iter().map(|d| d.name.as_str()).collect();
    let index = |name: &str| db_index(name).map(u64::from);
    match (named, meta.dbs.as_slice()) {
        (Some(n), dbs) => match dbs.iter().find(|d| index(&d.name) == Some(n)) {
            Some(db) => Ok((db.name.clone(), n)),
            None => Err(source_error(format!(
                "the source URL names database {n}, and the Pika master {addr} has {} ({})",
                dbs.len(),
                names.join(", ")
            ))),
        },
        (None, [one]) => Ok((one.name.clone(), index(&one.name).unwrap_or(0))),
        (None, dbs) => Err(source_error(format!(
            "the Pika master {addr} has {} databases ({}), each with its own binlog: follow each with its own \
             replicant (its own state directory), naming the database in the source URL (redis://{addr}/N)",
            dbs.len(),
            names.join(", ")
        ))),
    }
}

fn packed(pos: BinlogPos) -> Result<u64, LinkError> {
    pack(pos).ok_or_else(|| source_error(format!("binlog position {pos:?} is past 1 TiB into its file")))
}

fn at_position(batch: &Batch, pos: BinlogPos, e: &crate::PikaError) -> LinkError {
    source_error(format!(
        "the binlog of {} at the item ending at {}:{}: {e}; nothing from that item on was applied",
        batch.db, pos.filenum, pos.offset
    ))
}

fn protocol(e: crate::PikaError) -> LinkError {
    source_error(e.to_string())
}

fn retry(text: String) -> LinkError {
    LinkError::Io(std::io::Error::other(text))
}

fn bad_port(cfg: &PikaLink) -> LinkError {
    source_error(format!("port {} leaves no room for Pika's replication ports (+2000, +10001)", cfg.master.port))
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
