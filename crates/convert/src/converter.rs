//! The converter: follows the parser's events key by key and writes, for each key, either
//! one `RESTORE … REPLACE ABSTTL` or the commands that rebuild it (in batches, then
//! `PEXPIREAT`). Expiry is always absolute, so a long transfer cannot lose TTL keys.

use replicant_rdb::{Event, Key, Kind, Value};

use crate::error::{escaped, ConvertError};
use crate::payload::{payload_len, write_payload};
use crate::resp::Commands;
use crate::stream::StreamRebuild;
use crate::target::TargetProfile;

/// How values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// RESTORE when the target loads the payload and the value was small enough to be
    /// held whole, otherwise commands. Strings are written with `SET` (`PXAT` for the
    /// expiry), which is cheaper for the target, unless they carry LRU/LFU data.
    #[default]
    Auto,
    /// Always RESTORE.
    Restore,
    /// Always commands (module values, which have no commands, still use RESTORE).
    Commands,
}

/// Converter settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConvertConfig {
    /// RESTORE or commands.
    pub mode: Mode,
    /// What the target can load.
    pub target: TargetProfile,
    /// Keys whose expiry is at or before this time (Unix ms) are not written.
    pub now_ms: Option<i64>,
    /// Write every key into this database instead of its own.
    pub db: Option<u64>,
    /// Emit `SELECT` (off for cluster targets, which only have db 0).
    pub select: bool,
    /// Bound on the pending entries of one consumer group held while rebuilding a stream.
    pub max_pending_entries: usize,
}

impl Default for ConvertConfig {
    fn default() -> Self {
        ConvertConfig {
            mode: Mode::Auto,
            target: TargetProfile::latest(),
            now_ms: None,
            db: None,
            select: true,
            max_pending_entries: 1 << 20,
        }
    }
}

impl ConvertConfig {
    /// Sets the mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the target profile.
    pub fn target(mut self, target: TargetProfile) -> Self {
        self.target = target;
        self
    }

    /// Skips keys that expired at or before `now_ms`.
    pub fn now_ms(mut self, now_ms: Option<i64>) -> Self {
        self.now_ms = now_ms;
        self
    }

    /// Writes every key into `db`.
    pub fn db(mut self, db: Option<u64>) -> Self {
        self.db = db;
        self
    }
}

/// What the converter did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Keys seen.
    pub keys: u64,
    /// Keys written with RESTORE.
    pub restored: u64,
    /// Keys rebuilt with commands.
    pub rebuilt: u64,
    /// Keys not written because they had already expired.
    pub expired_skipped: u64,
    /// Empty collections skipped (as Redis does on load).
    pub empty_skipped: u64,
    /// Function libraries loaded.
    pub functions: u64,
    /// Lua scripts loaded (pre-7.0 replication RDBs).
    pub scripts: u64,
    /// Module auxiliary records not copied (they have no command form).
    pub module_aux_skipped: u64,
    /// Streams whose idempotent-producer history could not be rebuilt with commands.
    pub idmp_dropped: u64,
    /// Commands written.
    pub commands: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    Idle,
    Skip,
    Restored,
    /// Rebuilding with commands. `expire_set`: the first `SET` of a string carried the
    /// expiry (`PXAT`).
    Rebuild {
        kind: Kind,
        expire: Option<i64>,
        pieces: u64,
        expire_set: bool,
    },
}

/// Turns parser events into commands for a target.
#[derive(Debug)]
pub struct Converter {
    cfg: ConvertConfig,
    selected: Option<u64>,
    src_db: u64,
    key: Vec<u8>,
    cur: Current,
    stream: StreamRebuild,
    stats: Stats,
}

impl Converter {
    /// A converter with these settings.
    pub fn new(cfg: ConvertConfig) -> Self {
        let stream = StreamRebuild::new(cfg.max_pending_entries);
        Converter {
            cfg,
            selected: None,
            src_db: 0,
            key: Vec::new(),
            cur: Current::Idle,
            stream,
            stats: Stats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Appends the commands that one event calls for.
    pub fn event(&mut self, event: &Event<'_>, out: &mut Commands) -> Result<(), ConvertError> {
        let before = out.len();
        let bulk_before = self.rebuilding_collection();
        match *event {
            Event::SelectDb { db } => self.src_db = db,
            Event::Function { code } => {
                out.command("FUNCTION", self.db(), None, &[b"LOAD", b"REPLACE", code]);
                self.stats.functions += 1;
            }
            Event::Aux { key: b"lua", value } => {
                out.command("SCRIPT", self.db(), None, &[b"LOAD", value]);
                self.stats.scripts += 1;
            }
            Event::ModuleAux { .. } => self.stats.module_aux_skipped += 1,
            Event::EmptyKeySkipped { .. } => self.stats.empty_skipped += 1,
            Event::Key(ref key) => {
                self.key_start(key, out)?;
                if let Some(value) = key.value {
                    // The whole string came with its key: nothing else follows for it.
                    self.value(&Value::String(value), out)?;
                    self.key_end(out);
                }
            }
            Event::Value(ref value) => self.value(value, out)?,
            Event::KeyEnd { .. } => self.key_end(out),
            _ => {}
        }
        if bulk_before || self.rebuilding_collection() {
            out.mark_bulk_from(before);
        }
        self.stats.commands += (out.len() - before) as u64;
        Ok(())
    }

    /// Whether the current key is a collection being rebuilt with commands (strings, even
    /// in pieces, are not marked: their commands stay with their key's sender). Its
    /// commands are marked [`CommandInfo::bulk`](crate::CommandInfo::bulk).
    pub fn rebuilding_collection(&self) -> bool {
        matches!(self.cur, Current::Rebuild { kind, .. } if kind != Kind::String)
    }

    /// The database the next key's commands are written for.
    pub fn db(&self) -> u64 {
        self.cfg.db.unwrap_or(self.src_db)
    }

    fn select(&mut self, out: &mut Commands) {
        let db = self.db();
        if self.cfg.select && self.selected != Some(db) {
            out.begin_keyless("SELECT", 2, db).uint(db);
            self.selected = Some(db);
        }
    }

    fn key_start(&mut self, k: &Key<'_>, out: &mut Commands) -> Result<(), ConvertError> {
        self.stats.keys += 1;
        if let (Some(expire), Some(now)) = (k.expire_ms, self.cfg.now_ms) {
            if expire <= now {
                self.cur = Current::Skip;
                self.stats.expired_skipped += 1;
                return Ok(());
            }
        }
        self.key.clear();
        self.key.extend_from_slice(k.key);
        self.select(out);
        if self.use_restore(k)? {
            self.restore(k, out);
            self.cur = Current::Restored;
            self.stats.restored += 1;
        } else {
            if k.kind() != Kind::String {
                out.command("DEL", self.db(), Some(k.key), &[k.key]);
            }
            self.stream.reset();
            self.cur = Current::Rebuild { kind: k.kind(), expire: k.expire_ms, pieces: 0, expire_set: false };
            self.stats.rebuilt += 1;
        }
        Ok(())
    }

    fn use_restore(&self, k: &Key<'_>) -> Result<bool, ConvertError> {
        let target = &self.cfg.target;
        let loadable = k.raw.is_some_and(|r| target.loads_payload(r.version) && target.at_least(5, 0));
        if k.kind() == Kind::Module && !loadable {
            return Err(ConvertError::ModuleNeedsRestore {
                key: escaped(k.key),
                db: k.db,
                module: module_name(k),
                target: format!("{:?} {}.{}", target.family, target.version.0, target.version.1),
                payload_rdb: k.raw.map_or(0, |r| r.version),
            });
        }
        Ok(match self.cfg.mode {
            Mode::Restore if k.raw.is_none() => {
                return Err(ConvertError::RawUnavailable { key: escaped(k.key), db: k.db })
            }
            Mode::Restore => true,
            Mode::Commands => k.kind() == Kind::Module,
            // A string is cheaper for the target as `SET` than as a payload to check and
            // decode, and `SET` loses nothing unless the key carries LRU/LFU data.
            Mode::Auto if k.kind() == Kind::String => loadable && (k.idle_secs.is_some() || k.freq.is_some()),
            Mode::Auto => loadable,
        })
    }

    fn restore(&mut self, k: &Key<'_>, out: &mut Commands) {
        let Some(raw) = k.raw else { return };
        let extra = if k.idle_secs.is_some() || k.freq.is_some() { 2 } else { 0 };
        let db = self.db();
        out.begin("RESTORE", 6 + extra, db, k.key).arg(k.key).int(k.expire_ms.unwrap_or(0));
        out.arg_from(payload_len(&raw), |buf| write_payload(&raw, buf)).arg(b"REPLACE").arg(b"ABSTTL");
        if let Some(idle) = k.idle_secs {
            out.arg(b"IDLETIME").uint(idle);
        } else if let Some(freq) = k.freq {
            out.arg(b"FREQ").uint(u64::from(freq));
        }
    }

    fn value(&mut self, value: &Value<'_>, out: &mut Commands) -> Result<(), ConvertError> {
        let Current::Rebuild { pieces, expire, expire_set, .. } = &mut self.cur else {
            return Ok(());
        };
        let db = self.cfg.db.unwrap_or(self.src_db);
        let key = self.key.as_slice();
        match value {
            Value::String(piece) if *pieces == 0 => {
                *pieces += 1;
                match expire.filter(|_| self.cfg.target.at_least(6, 2)) {
                    Some(ms) => {
                        out.begin("SET", 5, db, key).arg(key).arg(piece).arg(b"PXAT").int(ms);
                        *expire_set = true;
                    }
                    None => out.command("SET", db, Some(key), &[key, piece]),
                }
            }
            Value::String(piece) => {
                out.command("APPEND", db, Some(key), &[key, piece]);
                *pieces += 1;
            }
            Value::List(m) => push_all(out, "RPUSH", db, key, m.len(), m.iter()),
            Value::Set(m) => push_all(out, "SADD", db, key, m.len(), m.iter()),
            Value::ZSet(s) => {
                out.begin("ZADD", 2 + 2 * s.len(), db, key).arg(key);
                for (member, score) in s.iter() {
                    out.score(score).arg(member);
                }
            }
            Value::Hash(f) => {
                out.begin("HSET", 2 + 2 * f.len(), db, key).arg(key);
                for (field, value, _) in f.iter() {
                    out.arg(field).arg(value);
                }
                for (field, _, ttl) in f.iter() {
                    let Some(ttl) = ttl else { continue };
                    if !self.cfg.target.has_field_expiry() {
                        return Err(ConvertError::TargetTooOld {
                            key: escaped(key),
                            db,
                            what: "hash field expiry",
                            needs: "7.4 (or Valkey 9)",
                        });
                    }
                    out.begin("HPEXPIREAT", 6, db, key).arg(key).int(ttl).arg(b"FIELDS").arg(b"1").arg(field);
                }
            }
            Value::StreamIdmp(_) => self.stats.idmp_dropped += 1,
            Value::Module(_) => {}
            other => self.stream.value(other, db, key, &self.cfg.target, out)?,
        }
        Ok(())
    }

    fn key_end(&mut self, out: &mut Commands) {
        if let Current::Rebuild { kind, expire, pieces, expire_set } = self.cur {
            let db = self.db();
            let key = self.key.as_slice();
            if kind == Kind::Stream {
                self.stream.finish(db, key, out);
            }
            // After `APPEND`s the expiry is set again: had it passed meanwhile, the first
            // `APPEND` would have made a new key without one.
            let done = expire_set && pieces == 1;
            if let Some(ms) = expire.filter(|_| !done) {
                out.begin("PEXPIREAT", 3, db, key).arg(key).int(ms);
            }
        }
        self.cur = Current::Idle;
    }
}

fn push_all<'a>(
    out: &mut Commands,
    name: &'static str,
    db: u64,
    key: &[u8],
    n: usize,
    items: impl Iterator<Item = &'a [u8]>,
) {
    out.begin(name, 2 + n, db, key).arg(key);
    for item in items {
        out.arg(item);
    }
}

/// The module type name from a raw module value (its first field is the module id).
fn module_name(k: &Key<'_>) -> String {
    let value = k.raw.map(|r| r.value).unwrap_or_default();
    let id = match value.split_first() {
        Some((0x81, rest)) => rest.get(..8).map(|b| b.iter().fold(0u64, |v, x| (v << 8) | u64::from(*x))),
        Some((0x80, rest)) => rest.get(..4).map(|b| b.iter().fold(0u64, |v, x| (v << 8) | u64::from(*x))),
        _ => None,
    };
    id.map_or_else(|| "unknown".to_string(), |id| replicant_rdb::ModuleId(id).name())
}
