//! The scan driver (tokio): every database that holds keys (or the ones configured) is
//! walked with `SCAN cursor COUNT n`; each page's keys get `DUMP` then their expiry
//! (`PEXPIRETIME`, exact, on servers that have it; else `PTTL` added to the time it was
//! read), pipelined `pipeline` keys at a time, and are written to an RDB stream ([`crate::rdb`]) that the
//! caller parses. A key gone between `SCAN` and its `DUMP` (deleted, expired) is counted
//! as vanished, not an error. Output goes out in pieces of about 64 KiB, so a slow reader
//! (the target) slows the scan.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redis_protocol::resp2::types::BytesFrame;
use replicant_net::Endpoint;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::conn::{bulk, describe, Conn};
use crate::pace::Pace;
use crate::{payload, rdb, ScanError};

/// Output is handed on once this much is gathered.
const OUTPUT_PIECE: usize = 64 * 1024;
/// The header written when no key was found (any version the parser reads).
const EMPTY_VERSION: u16 = 9;

/// What to scan and how hard.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScanConfig {
    /// The server, with its credentials.
    pub source: Endpoint,
    /// `SCAN`'s `COUNT` hint.
    pub count: u32,
    /// Keys whose `DUMP` and `PTTL` are in flight at once.
    pub pipeline: usize,
    /// Silence after which the server counts as gone.
    pub timeout: Duration,
    /// The databases to copy; `None`: those `INFO keyspace` lists.
    pub dbs: Option<Vec<u64>>,
    /// Commands per second to the source at most (`SCAN`, `DUMP` and the expiry query
    /// each count); `None`: no limit.
    pub max_ops: Option<u64>,
}

impl ScanConfig {
    /// Scans `source` with default settings.
    pub fn new(source: Endpoint) -> Self {
        ScanConfig { source, count: 1000, pipeline: 256, timeout: Duration::from_secs(60), dbs: None, max_ops: None }
    }
}

/// Live figures of a scan.
#[derive(Debug, Default)]
pub struct ScanStats {
    /// Keys `SCAN` returned.
    pub scanned: AtomicU64,
    /// Keys written to the stream.
    pub copied: AtomicU64,
    /// Keys gone between `SCAN` and `DUMP` (or right after it).
    pub vanished: AtomicU64,
    /// Bytes of `DUMP` payloads.
    pub payload_bytes: AtomicU64,
    /// Dropped connections opened again.
    pub reconnects: AtomicU64,
}

/// Copies the server into `out` as an RDB stream, then shuts `out` down. A dropped
/// connection is opened again (up to [`RECONNECTS`] times in a row) and the scan goes on
/// from the cursor and the key it had reached: `SCAN`'s cursor lives on the client side,
/// and keys already written are not read again.
pub async fn copy<W: AsyncWrite + Unpin>(cfg: &ScanConfig, out: &mut W, stats: &ScanStats) -> Result<(), ScanError> {
    let mut source = Source::open(cfg).await?;
    refuse_cluster_node(&mut source.conn).await?;
    let dbs = match &cfg.dbs {
        Some(dbs) => dbs.clone(),
        None => databases_with_keys(&mut source.conn).await?,
    };
    tracing::info!(
        server = source.conn.addr(),
        databases = ?dbs,
        expiry = source.expiry.name(),
        "Scanning the source (SCAN, DUMP)."
    );
    let mut writer = StreamWriter { buf: Vec::with_capacity(OUTPUT_PIECE * 2), header: false, db: None };
    for db in dbs {
        source.db = db;
        select(&mut source.conn, db).await?;
        let mut cursor = Bytes::from_static(b"0");
        loop {
            source.pace(1).await;
            let (next, keys) = loop {
                match scan_page(&mut source.conn, &cursor, cfg.count).await {
                    Ok(page) => break page,
                    Err(e) => source.recover(e, stats).await?,
                }
            };
            stats.scanned.fetch_add(keys.len() as u64, Ordering::Relaxed);
            let mut done = 0;
            while let Some(rest) = keys.get(done..).filter(|rest| !rest.is_empty()) {
                let chunk = rest.get(..cfg.pipeline.max(1)).unwrap_or(rest);
                source.pace(2 * chunk.len() as u64).await;
                let (dumped, failed) =
                    dump_chunk(&mut source.conn, (db, source.expiry), chunk, &mut writer, stats).await;
                done += dumped;
                match failed {
                    Some(e) => source.recover(e, stats).await?,
                    None => source.reconnects = 0,
                }
                if writer.buf.len() >= OUTPUT_PIECE {
                    writer.send(out).await?;
                }
            }
            if next.as_ref() == b"0" {
                break;
            }
            cursor = next;
        }
    }
    writer.finish(out).await
}

/// Dropped connections opened again in a row before the copy gives up.
pub const RECONNECTS: u32 = 5;
/// The first pause before opening a dropped connection again; doubles each time.
const FIRST_PAUSE: Duration = Duration::from_millis(200);

/// The connection to the source, and what reopening it needs.
struct Source<'a> {
    cfg: &'a ScanConfig,
    conn: Conn,
    expiry: Expiry,
    /// The database being scanned.
    db: u64,
    /// Reconnections since the last chunk that went through.
    reconnects: u32,
    /// The pace of `max_ops`.
    pace: Pace,
}

impl<'a> Source<'a> {
    async fn open(cfg: &'a ScanConfig) -> Result<Source<'a>, ScanError> {
        let mut conn = Conn::open(&cfg.source, cfg.timeout).await?;
        let expiry = Expiry::probe(&mut conn).await?;
        Ok(Source { cfg, conn, expiry, db: 0, reconnects: 0, pace: Pace::new(cfg.max_ops, Instant::now()) })
    }

    /// Waits until `ops` more commands keep within `max_ops`.
    async fn pace(&mut self, ops: u64) {
        let wait = self.pace.take(ops, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// After `error`: a dropped connection is opened again (in the same database), anything
    /// else is returned, as is the last error once [`RECONNECTS`] attempts failed.
    async fn recover(&mut self, mut error: ScanError, stats: &ScanStats) -> Result<(), ScanError> {
        loop {
            let dropped = matches!(error, ScanError::Io { .. } | ScanError::Connect { .. });
            if !dropped || self.reconnects >= RECONNECTS {
                return Err(error);
            }
            let pause = FIRST_PAUSE * 2u32.pow(self.reconnects);
            self.reconnects += 1;
            stats.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                error = %error,
                attempt = self.reconnects,
                retry_in_ms = pause.as_millis() as u64,
                "The connection to the source dropped; opening it again to go on from the cursor."
            );
            tokio::time::sleep(pause).await;
            match self.reopen().await {
                Ok(()) => return Ok(()),
                Err(e) => error = e,
            }
        }
    }

    async fn reopen(&mut self) -> Result<(), ScanError> {
        self.conn = Conn::open(&self.cfg.source, self.cfg.timeout).await?;
        select(&mut self.conn, self.db).await
    }
}

/// How a key's expiry is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// `PEXPIRETIME` (Redis 7+, Valkey): the absolute time, exact.
    Absolute,
    /// `PTTL`, added to the time it was read.
    Relative,
}

impl Expiry {
    /// `PEXPIRETIME` when the server knows it.
    async fn probe(conn: &mut Conn) -> Result<Expiry, ScanError> {
        match conn.query(&[b"PEXPIRETIME", b"replicant:scan:probe"]).await? {
            BytesFrame::Integer(_) => Ok(Expiry::Absolute),
            _ => Ok(Expiry::Relative),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Expiry::Absolute => "PEXPIRETIME",
            Expiry::Relative => "PTTL",
        }
    }

    /// The absolute expiry in ms from the reply; `Err(())` for a key that is gone.
    fn at(self, reply: i64) -> Result<Option<u64>, ()> {
        match (self, reply) {
            (_, -2) => Err(()),
            (_, ..0) => Ok(None),
            (Expiry::Absolute, at) => Ok(Some(at as u64)),
            (Expiry::Relative, ms) => Ok(Some(now_ms().saturating_add(ms as u64))),
        }
    }
}

/// The RDB stream being written.
struct StreamWriter {
    buf: Vec<u8>,
    header: bool,
    db: Option<u64>,
}

impl StreamWriter {
    fn key(&mut self, db: u64, name: &[u8], expire_at_ms: Option<u64>, p: payload::Payload<'_>) {
        if !self.header {
            self.buf.extend_from_slice(&rdb::header(p.rdb_version));
            self.header = true;
        }
        if self.db != Some(db) {
            rdb::select_db(&mut self.buf, db);
            self.db = Some(db);
        }
        rdb::key(&mut self.buf, name, expire_at_ms, p.value);
    }

    async fn send<W: AsyncWrite + Unpin>(&mut self, out: &mut W) -> Result<(), ScanError> {
        out.write_all(&self.buf).await.map_err(ScanError::Output)?;
        self.buf.clear();
        Ok(())
    }

    async fn finish<W: AsyncWrite + Unpin>(mut self, out: &mut W) -> Result<(), ScanError> {
        if !self.header {
            self.buf.extend_from_slice(&rdb::header(EMPTY_VERSION));
        }
        rdb::end(&mut self.buf);
        self.send(out).await?;
        out.shutdown().await.map_err(ScanError::Output)
    }
}

/// A Redis Cluster node holds only its own slots' keys: scanning it would copy a part of
/// the cluster and look complete, so it is refused.
async fn refuse_cluster_node(conn: &mut Conn) -> Result<(), ScanError> {
    let reply = conn.query(&[b"INFO", b"cluster"]).await?;
    let clustered = bulk(&reply).is_some_and(|text| text.windows(17).any(|w| w == b"cluster_enabled:1"));
    if clustered {
        return Err(ScanError::Unsupported {
            addr: conn.addr().to_string(),
            why: "is a Redis Cluster node, which holds only its own slots' keys; scan mode copies one \
                  standalone server (a cluster source is not supported yet)"
                .into(),
        });
    }
    Ok(())
}

/// The databases `INFO keyspace` lists with keys.
async fn databases_with_keys(conn: &mut Conn) -> Result<Vec<u64>, ScanError> {
    let reply = conn.query(&[b"INFO", b"keyspace"]).await?;
    let Some(text) = bulk(&reply) else { return Err(unexpected(conn, "INFO", None, &reply, "a bulk string")) };
    let text = String::from_utf8_lossy(text);
    Ok(text
        .lines()
        .filter_map(|line| {
            let (name, fields) = line.split_once(':')?;
            let db = name.strip_prefix("db")?.parse::<u64>().ok()?;
            let keys = fields.split(',').find_map(|f| f.strip_prefix("keys="))?.parse::<u64>().ok()?;
            (keys > 0).then_some(db)
        })
        .collect())
}

async fn select(conn: &mut Conn, db: u64) -> Result<(), ScanError> {
    match conn.query(&[b"SELECT", db.to_string().as_bytes()]).await? {
        BytesFrame::Error(e) => Err(refused(conn, "SELECT", None, &e)),
        _ => Ok(()),
    }
}

/// One `SCAN` page: the next cursor and the keys.
async fn scan_page(conn: &mut Conn, cursor: &Bytes, count: u32) -> Result<(Bytes, Vec<Bytes>), ScanError> {
    let reply = conn.query(&[b"SCAN", cursor, b"COUNT", count.to_string().as_bytes()]).await?;
    let bad = |conn: &Conn, reply: &BytesFrame| unexpected(conn, "SCAN", None, reply, "a cursor and keys");
    match reply {
        BytesFrame::Array(parts) => match <[BytesFrame; 2]>::try_from(parts) {
            Ok([BytesFrame::BulkString(next), BytesFrame::Array(keys)]) => {
                let keys: Option<Vec<Bytes>> = keys.iter().map(|k| bulk(k).cloned()).collect();
                keys.map(|keys| (next, keys)).ok_or_else(|| bad(conn, &BytesFrame::Null))
            }
            Ok(other) => Err(bad(conn, &BytesFrame::Array(other.into()))),
            Err(parts) => Err(bad(conn, &BytesFrame::Array(parts))),
        },
        BytesFrame::Error(e) => Err(refused(conn, "SCAN", None, &e)),
        other => Err(bad(conn, &other)),
    }
}

/// `DUMP` then the expiry of each key, pipelined; each live key written to the stream.
/// The keys dealt with (written, or counted as gone), and the error that stopped the rest.
async fn dump_chunk(
    conn: &mut Conn,
    at: (u64, Expiry),
    keys: &[Bytes],
    writer: &mut StreamWriter,
    stats: &ScanStats,
) -> (usize, Option<ScanError>) {
    for key in keys {
        conn.push(&[b"DUMP", key]);
        conn.push(&[at.1.name().as_bytes(), key]);
    }
    if let Err(e) = conn.flush().await {
        return (0, Some(e));
    }
    for (done, key) in keys.iter().enumerate() {
        if let Err(e) = dump_one(conn, at, key, writer, stats).await {
            return (done, Some(e));
        }
    }
    (keys.len(), None)
}

/// One key's `DUMP` and expiry replies.
async fn dump_one(
    conn: &mut Conn,
    (db, expiry): (u64, Expiry),
    key: &Bytes,
    writer: &mut StreamWriter,
    stats: &ScanStats,
) -> Result<(), ScanError> {
    let dumped = conn.reply().await?;
    let ttl = conn.reply().await?;
    let name = || String::from_utf8_lossy(key).into_owned();
    let bytes = match &dumped {
        BytesFrame::BulkString(bytes) => bytes,
        BytesFrame::Null => {
            stats.vanished.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        BytesFrame::Error(e) => return Err(refused(conn, "DUMP", Some(name()), e)),
        other => return Err(unexpected(conn, "DUMP", Some(name()), other, "a payload or nil")),
    };
    let expire_at_ms = match ttl {
        BytesFrame::Integer(reply) => match expiry.at(reply) {
            Ok(at) => at,
            Err(()) => {
                stats.vanished.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        },
        BytesFrame::Error(e) => return Err(refused(conn, expiry.name(), Some(name()), &e)),
        other => return Err(unexpected(conn, expiry.name(), Some(name()), &other, "an integer")),
    };
    let checked = payload::split(bytes).map_err(|e| ScanError::BadPayload { key: name(), db, why: e.to_string() })?;
    stats.payload_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    writer.key(db, key, expire_at_ms, checked);
    stats.copied.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn refused(conn: &Conn, command: &'static str, key: Option<String>, reply: &impl std::fmt::Display) -> ScanError {
    ScanError::Refused { addr: conn.addr().to_string(), command, key, reply: reply.to_string() }
}

fn unexpected(
    conn: &Conn,
    command: &'static str,
    key: Option<String>,
    reply: &BytesFrame,
    expected: &'static str,
) -> ScanError {
    ScanError::BadReply { addr: conn.addr().to_string(), command, key, got: describe(reply), expected }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
