//! [`Snapshot`]: a complete, comparable image of every key of a server.
//!
//! A snapshot walks every database (`CONFIG GET databases`) with `SCAN` and
//! records, per key, its value as raw bytes and its absolute expiry in ms
//! (`PEXPIRETIME`, -1 when none). Sets and hash fields are sorted so two
//! snapshots compare equal exactly when the data is the same; hashes carry
//! per-field expiries when the server supports `HPEXPIRETIME`; streams are
//! described by [`crate::StreamImage`]; unknown (module) types by their `DUMP`.
//! Comparing snapshots is [`crate::diff`]'s job ([`assert_same`] is
//! re-exported here for convenience).

use std::collections::BTreeMap;
use std::fmt;

use redis::{Connection, Value};

pub use crate::diff::assert_same;
use crate::info::supports_command;
use crate::reply::{escape, into_array, into_bytes, into_int, into_pairs, into_text, query};
use crate::stream::{capture_stream, StreamImage};

const SCAN_COUNT: usize = 1000;

/// Binary-safe bytes whose `Debug` shows them escaped, like a Rust byte string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Blob(pub Vec<u8>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", escape(&self.0))
    }
}

impl std::borrow::Borrow<[u8]> for Blob {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Blob {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl From<&str> for Blob {
    fn from(text: &str) -> Self {
        Self(text.as_bytes().to_vec())
    }
}

/// One field of a hash, with its absolute expiry in ms (-1 when none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashField {
    pub field: Blob,
    pub value: Blob,
    pub expire_at_ms: i64,
}

/// The value of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    String(Blob),
    List(Vec<Blob>),
    /// Members, sorted.
    Set(Vec<Blob>),
    /// `(member, score)` in rank order; the score as the server printed it.
    ZSet(Vec<(Blob, Blob)>),
    /// Fields sorted by name.
    Hash(Vec<HashField>),
    Stream(Box<StreamImage>),
    /// Any other type (modules): the `TYPE` name and the `DUMP` payload.
    Other {
        type_name: String,
        dump: Blob,
    },
}

impl Data {
    /// The `TYPE` name of this value.
    pub fn type_name(&self) -> &str {
        match self {
            Data::String(_) => "string",
            Data::List(_) => "list",
            Data::Set(_) => "set",
            Data::ZSet(_) => "zset",
            Data::Hash(_) => "hash",
            Data::Stream(_) => "stream",
            Data::Other { type_name, .. } => type_name,
        }
    }
}

/// One key: value plus absolute expiry in ms (-1 when none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub data: Data,
    pub expire_at_ms: i64,
}

/// Every key of every database of a server.
///
/// `Debug` prints a per-database summary only (values can be megabytes);
/// use [`assert_same`] to see what differs between two snapshots.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    dbs: BTreeMap<u32, BTreeMap<Blob, Entry>>,
}

impl Snapshot {
    /// Total number of keys over all databases.
    pub fn len(&self) -> usize {
        self.dbs.values().map(BTreeMap::len).sum()
    }

    /// Whether no database holds any key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of keys in database `db`.
    pub fn keys_in_db(&self, db: u32) -> usize {
        self.dbs.get(&db).map_or(0, BTreeMap::len)
    }

    /// The non-empty databases, ascending.
    pub fn dbs(&self) -> impl Iterator<Item = u32> + '_ {
        self.dbs.keys().copied()
    }

    /// Adds every key of `other` (the image of another cluster node).
    pub fn merge(&mut self, other: Snapshot) {
        for (db, keys) in other.dbs {
            self.dbs.entry(db).or_default().extend(keys);
        }
    }

    /// Keeps only the keys for which `keep(db, key)` is true (what a target that refused
    /// some keys should hold).
    pub fn retain(&mut self, mut keep: impl FnMut(u32, &[u8]) -> bool) {
        for (db, keys) in &mut self.dbs {
            keys.retain(|key, _| keep(*db, &key.0));
        }
        self.dbs.retain(|_, keys| !keys.is_empty());
    }

    /// The keys of database `db` alone, as database `into` (what a server that keeps each
    /// database apart, such as a Kvrocks namespace, holds).
    pub fn db_as(&self, db: u32, into: u32) -> Snapshot {
        let keys = self.dbs.get(&db).cloned().unwrap_or_default();
        let dbs = if keys.is_empty() { BTreeMap::new() } else { BTreeMap::from([(into, keys)]) };
        Snapshot { dbs }
    }

    /// The key `key` of database `db`.
    pub fn get(&self, db: u32, key: &[u8]) -> Option<&Entry> {
        self.dbs.get(&db)?.get(key)
    }

    /// All `(db, key, entry)`, ordered by db then key bytes.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Blob, &Entry)> + '_ {
        self.dbs.iter().flat_map(|(db, keys)| keys.iter().map(move |(k, e)| (*db, k, e)))
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_db: BTreeMap<u32, usize> = self.dbs.iter().map(|(db, k)| (*db, k.len())).collect();
        f.debug_struct("Snapshot").field("keys", &self.len()).field("keys_per_db", &per_db).finish()
    }
}

/// Captures every key of every database. Leaves the connection on db 0.
pub fn snapshot(conn: &mut Connection) -> Snapshot {
    let field_ttls = supports_command(conn, "HPEXPIRETIME");
    let mut dbs = BTreeMap::new();
    for db in 0..database_count(conn) {
        query(conn, redis::cmd("SELECT").arg(db));
        let keys = capture_db(conn, field_ttls);
        if !keys.is_empty() {
            dbs.insert(db, keys);
        }
    }
    query(conn, redis::cmd("SELECT").arg(0));
    Snapshot { dbs }
}

fn database_count(conn: &mut Connection) -> u32 {
    // A cluster node has database 0 only.
    let info = crate::reply::into_bytes(query(conn, redis::cmd("INFO").arg("cluster")));
    if String::from_utf8_lossy(&info).contains("cluster_enabled:1") {
        return 1;
    }
    let reply = query(conn, redis::cmd("CONFIG").arg("GET").arg("databases"));
    let value = into_array(reply).into_iter().nth(1).expect("CONFIG GET databases");
    u32::try_from(into_int(value)).expect("database count")
}

fn capture_db(conn: &mut Connection, field_ttls: bool) -> BTreeMap<Blob, Entry> {
    let mut entries = BTreeMap::new();
    let mut cursor = b"0".to_vec();
    loop {
        let cmd = redis::cmd("SCAN").arg(&cursor).arg("COUNT").arg(SCAN_COUNT).clone();
        let mut reply = into_array(query(conn, &cmd)).into_iter();
        cursor = into_bytes(reply.next().expect("SCAN cursor"));
        let keys = into_array(reply.next().expect("SCAN keys"));
        let keys: Vec<Blob> = keys.into_iter().map(|k| Blob(into_bytes(k))).collect();
        entries.extend(capture_keys(conn, keys, field_ttls));
        if cursor == b"0" {
            return entries;
        }
    }
}

/// Reads a batch of keys: one pipeline for types and expiries, one for the
/// values of single-command types, then streams and field TTLs one by one.
fn capture_keys(conn: &mut Connection, keys: Vec<Blob>, field_ttls: bool) -> Vec<(Blob, Entry)> {
    if keys.is_empty() {
        return Vec::new();
    }
    let mut pipe = redis::pipe();
    for key in &keys {
        pipe.cmd("TYPE").arg(&key.0).cmd("PEXPIRETIME").arg(&key.0);
    }
    let meta = into_pairs(pipe.query::<Value>(conn).expect("TYPE/PEXPIRETIME pipeline"));
    let typed: Vec<(Blob, String, i64)> = keys
        .into_iter()
        .zip(meta)
        .map(|(key, (kind, ttl))| (key, into_text(kind), into_int(ttl)))
        .filter(|(_, kind, _)| kind != "none")
        .collect();
    let mut values = read_simple_values(conn, &typed).into_iter();
    let mut out = Vec::with_capacity(typed.len());
    for (key, kind, expire_at_ms) in typed {
        let data = match kind.as_str() {
            "stream" => Data::Stream(Box::new(capture_stream(conn, &key.0))),
            _ => decode(kind, values.next().expect("pipelined value")),
        };
        let data = with_field_ttls(conn, &key, data, field_ttls);
        out.push((key, Entry { data, expire_at_ms }));
    }
    out
}

/// Pipelines the single read command of every non-stream key.
fn read_simple_values(conn: &mut Connection, typed: &[(Blob, String, i64)]) -> Vec<Value> {
    let mut pipe = redis::pipe();
    let mut any = false;
    for (key, kind, _) in typed {
        let cmd = match kind.as_str() {
            "stream" => continue,
            "string" => redis::cmd("GET").arg(&key.0).clone(),
            "list" => redis::cmd("LRANGE").arg(&key.0).arg(0).arg(-1).clone(),
            "set" => redis::cmd("SMEMBERS").arg(&key.0).clone(),
            "zset" => redis::cmd("ZRANGE").arg(&key.0).arg(0).arg(-1).arg("WITHSCORES").clone(),
            "hash" => redis::cmd("HGETALL").arg(&key.0).clone(),
            _ => redis::cmd("DUMP").arg(&key.0).clone(),
        };
        pipe.add_command(cmd);
        any = true;
    }
    if !any {
        return Vec::new();
    }
    into_array(pipe.query::<Value>(conn).expect("value pipeline"))
}

fn decode(kind: String, value: Value) -> Data {
    let blobs = |v: Value| -> Vec<Blob> { into_array(v).into_iter().map(|x| Blob(into_bytes(x))).collect() };
    let pairs = |v: Value| into_pairs(v).into_iter().map(|(a, b)| (Blob(into_bytes(a)), Blob(into_bytes(b))));
    match kind.as_str() {
        "string" => Data::String(Blob(into_bytes(value))),
        "list" => Data::List(blobs(value)),
        "set" => Data::Set(sorted(blobs(value))),
        "zset" => Data::ZSet(pairs(value).collect()),
        "hash" => {
            let fields = pairs(value).map(|(field, value)| HashField { field, value, expire_at_ms: -1 });
            let mut fields: Vec<HashField> = fields.collect();
            fields.sort_by(|a, b| a.field.cmp(&b.field));
            Data::Hash(fields)
        }
        _ => Data::Other { type_name: kind, dump: Blob(into_bytes(value)) },
    }
}

fn sorted(mut items: Vec<Blob>) -> Vec<Blob> {
    items.sort();
    items
}

/// Fills in per-field expiries of a hash with `HPEXPIRETIME` (Redis >= 7.4).
fn with_field_ttls(conn: &mut Connection, key: &Blob, data: Data, field_ttls: bool) -> Data {
    let Data::Hash(mut fields) = data else {
        return data;
    };
    if !field_ttls || fields.is_empty() {
        return Data::Hash(fields);
    }
    let mut cmd = redis::cmd("HPEXPIRETIME");
    cmd.arg(&key.0).arg("FIELDS").arg(fields.len());
    for field in &fields {
        cmd.arg(&field.field.0);
    }
    let ttls = into_array(query(conn, &cmd));
    for (field, ttl) in fields.iter_mut().zip(ttls) {
        field.expire_at_ms = into_int(ttl);
    }
    Data::Hash(fields)
}
