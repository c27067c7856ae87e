//! Checks made before anything is written: every target server is reachable, accepts the
//! credentials, is a master and takes writes; a target that already holds keys is refused
//! unless `target.existing_data` says to merge or replace (replace empties it here, and a
//! target that cannot be emptied is a refusal, never a silent merge); an eviction policy
//! other than `noeviction` is warned about, since eviction drops copied keys without a
//! word. A Kvrocks target is checked namespace by namespace (see `kvrocks_target`) and
//! has no eviction policy to check.

use anyhow::{bail, Context};
use replicant_config::ExistingData;
use replicant_net::{DbPasswords, Endpoint};
use replicant_target::{Connection, Reply};

use super::kvrocks_target::holds_keys;

/// What the daemon knows before writing.
pub(crate) struct Situation {
    /// The run continues a stream from a checkpoint: the target's keys are ours.
    pub(crate) resuming: bool,
    /// An earlier run stopped during its full sync: the target holds part of a snapshot.
    pub(crate) partial_snapshot: bool,
    /// The target is a cluster (the write probe is left out: its key's slot would belong
    /// to one master only).
    pub(crate) cluster: bool,
    /// A Kvrocks target: the token of each database's namespace.
    pub(crate) kvrocks: Option<DbPasswords>,
}

/// What the checks found on the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Found {
    /// Keys the target held.
    pub(crate) keys: u64,
    /// Each server's replication IDs (`master_replid`, `master_replid2`): a server promoted
    /// from a replica of another keeps that one's ID as its second.
    pub(crate) histories: Vec<(String, String)>,
}

/// Runs the checks on every target server; with `replace`, empties them.
pub(crate) async fn run(
    nodes: &[Endpoint],
    db: Option<u64>,
    policy: ExistingData,
    s: &Situation,
) -> anyhow::Result<Found> {
    let mut total = 0;
    let mut histories = Vec::with_capacity(nodes.len());
    let mut conns = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut conn =
            Connection::connect(node, 16).await.with_context(|| format!("target {} is not reachable", node.addr()))?;
        histories.push(check_master(&mut conn).await?);
        match &s.kvrocks {
            Some(namespaces) => total += namespaces_with_keys(&mut conn, namespaces, db).await?,
            None => {
                warn_on_eviction(&mut conn).await;
                total += key_count(&mut conn, db).await?;
            }
        }
        conns.push(conn);
    }
    if s.resuming {
        return Ok(Found { keys: total, histories });
    }
    let held = match s.kvrocks {
        Some(_) => format!("keys in {total} of its namespaces"),
        None => format!("{total} keys"),
    };
    let what = if s.partial_snapshot {
        format!("an earlier run stopped during its full sync, so the target holds part of a snapshot ({held})")
    } else {
        format!("the target already holds {held}")
    };
    if total > 0 || s.partial_snapshot {
        match policy {
            ExistingData::Refuse => bail!(
                "{what}; refusing to write over them. Empty the target, or set target.existing_data to \
                 \"replace\" (empty it first) or \"merge\" (write over it)"
            ),
            ExistingData::Merge => tracing::warn!("{what}; merging into it as target.existing_data says."),
            ExistingData::Replace => {
                tracing::warn!("{what}; emptying it as target.existing_data = \"replace\" says.");
                for conn in &mut conns {
                    match &s.kvrocks {
                        Some(namespaces) => empty_namespaces(conn, namespaces, db).await?,
                        None => empty(conn, db).await?,
                    }
                }
            }
        }
    }
    if !s.cluster {
        for conn in &mut conns {
            check_writable(conn).await?;
        }
    }
    Ok(Found { keys: total, histories })
}

async fn query(conn: &mut Connection, args: &[&[u8]]) -> anyhow::Result<Reply> {
    let reply = conn.query(args).await?;
    if let Reply::Error(e) = &reply {
        bail!(
            "target {} answered {} with: {e}",
            conn.addr(),
            String::from_utf8_lossy(args.first().copied().unwrap_or_default())
        );
    }
    Ok(reply)
}

/// A master, with its replication IDs.
async fn check_master(conn: &mut Connection) -> anyhow::Result<(String, String)> {
    let info = query(conn, &[b"INFO", b"replication"]).await?.text();
    let role = info_field(&info, "role").unwrap_or("master");
    if role != "master" {
        bail!(
            "target {} is a replica (role:{role}); it would refuse writes. Point the target at a master",
            conn.addr()
        );
    }
    let id = |name| info_field(&info, name).unwrap_or_default().to_string();
    Ok((id("master_replid"), id("master_replid2")))
}

async fn warn_on_eviction(conn: &mut Connection) {
    match conn.query(&[b"CONFIG", b"GET", b"maxmemory-policy"]).await {
        Ok(Reply::Array(Some(items))) => {
            let policy = items.get(1).map(Reply::text).unwrap_or_default();
            if policy != "noeviction" {
                tracing::warn!(
                    target_server = conn.addr(),
                    policy,
                    "The target's maxmemory-policy is not noeviction: if it fills up it will evict copied keys silently."
                );
            }
        }
        _ => tracing::warn!(
            target_server = conn.addr(),
            "Cannot read the target's maxmemory-policy (CONFIG GET refused)."
        ),
    }
}

/// Keys on the server, or in database `db` only.
async fn key_count(conn: &mut Connection, db: Option<u64>) -> anyhow::Result<u64> {
    let info = query(conn, &[b"INFO", b"keyspace"]).await?.text();
    Ok(super::estimate::keyspace_keys(&info, db))
}

/// The namespaces of a Kvrocks target (those of database `db` only, when set) that hold
/// keys.
async fn namespaces_with_keys(conn: &mut Connection, namespaces: &DbPasswords, db: Option<u64>) -> anyhow::Result<u64> {
    let mut found = 0;
    for n in namespaces.keys().filter(|n| db.is_none_or(|db| db == **n)) {
        query(conn, &[b"SELECT", n.to_string().as_bytes()]).await?;
        found += u64::from(holds_keys(conn).await?);
    }
    query(conn, &[b"SELECT", b"0"]).await?;
    Ok(found)
}

async fn empty(conn: &mut Connection, db: Option<u64>) -> anyhow::Result<()> {
    match db {
        Some(db) => {
            query(conn, &[b"SELECT", db.to_string().as_bytes()]).await?;
            flush(conn, b"FLUSHDB").await?;
            query(conn, &[b"SELECT", b"0"]).await?;
        }
        None => flush(conn, b"FLUSHALL").await?,
    }
    Ok(())
}

/// Empties each namespace of a Kvrocks target that replicant writes to (`FLUSHDB` empties
/// the connection's namespace; `FLUSHALL` would need the admin password and empty
/// namespaces replicant does not write to).
async fn empty_namespaces(conn: &mut Connection, namespaces: &DbPasswords, db: Option<u64>) -> anyhow::Result<()> {
    for n in namespaces.keys().filter(|n| db.is_none_or(|db| db == **n)) {
        query(conn, &[b"SELECT", n.to_string().as_bytes()]).await?;
        flush(conn, b"FLUSHDB").await?;
    }
    query(conn, &[b"SELECT", b"0"]).await?;
    Ok(())
}

/// `FLUSHALL` or `FLUSHDB`; a target that refuses it (a proxy or a cloud service without
/// it) is a clear refusal, never a silent merge.
async fn flush(conn: &mut Connection, command: &[u8]) -> anyhow::Result<()> {
    if let Reply::Error(e) = conn.query(&[command]).await? {
        bail!(
            "target.existing_data = \"replace\" cannot empty target {}: it answered {} with: {e}. Empty it \
             another way, or set target.existing_data = \"merge\" to write over what it holds",
            conn.addr(),
            String::from_utf8_lossy(command)
        );
    }
    Ok(())
}

/// A write the target must accept (an out-of-memory or read-only target fails here).
async fn check_writable(conn: &mut Connection) -> anyhow::Result<()> {
    let key = format!("replicant:precheck:{}", std::process::id());
    query(conn, &[b"SET", key.as_bytes(), b"1", b"PX", b"60000"])
        .await
        .with_context(|| format!("target {} does not take writes", conn.addr()))?;
    query(conn, &[b"DEL", key.as_bytes()]).await?;
    Ok(())
}

fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}
