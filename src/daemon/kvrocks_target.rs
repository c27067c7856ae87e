//! An Apache Kvrocks target. Kvrocks has no numbered databases (it answers `SELECT` with
//! `+OK` and ignores it): each namespace is its own keyspace, reached by authenticating
//! with its token. This module tells a Kvrocks target from a Redis one (`INFO server` has
//! `kvrocks_version`), gives its endpoint the token of each database
//! (`[target.kvrocks.namespaces]`; database 0 → the default namespace, reached with the
//! URL's password, unless mapped), refuses a source database without a namespace before
//! anything is written, and tells whether a namespace holds keys (by `SCAN`: the counts in
//! Kvrocks' `INFO keyspace` are those of the last `DBSIZE SCAN`, often none).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context};
use replicant_net::Endpoint;
use replicant_target::{Connection, Reply};

/// `SCAN` calls made to find a key in one namespace before calling it non-empty anyway
/// (an empty namespace answers cursor 0 at once).
const SCAN_ROUNDS: usize = 64;

/// The target as the writer must reach it: with a token per database when it is a Kvrocks.
pub(crate) async fn prepare(target: Endpoint, tokens: &BTreeMap<u64, String>) -> anyhow::Result<Endpoint> {
    let mut conn =
        Connection::connect(&target, 4).await.with_context(|| format!("target {} is not reachable", target.addr()))?;
    let info = match conn.query(&[b"INFO", b"server"]).await? {
        Reply::Error(_) => String::new(),
        reply => reply.text(),
    };
    let version = info.lines().find_map(|l| l.strip_prefix("kvrocks_version:")).map(str::trim);
    let Some(version) = version else {
        if !tokens.is_empty() {
            tracing::warn!(
                target_server = target.addr(),
                "target.kvrocks.namespaces is set but the target is not a Kvrocks (no kvrocks_version in its INFO); \
                 ignored: databases are selected with SELECT."
            );
        }
        return Ok(target);
    };
    let mut passwords = tokens.clone();
    if let Some(password) = &target.password {
        passwords.entry(0).or_insert_with(|| password.clone());
    }
    let dbs: Vec<String> = passwords.keys().map(u64::to_string).collect();
    tracing::info!(
        target_server = target.addr(),
        version,
        databases = dbs.join(","),
        "The target is an Apache Kvrocks: each database goes to the namespace its token reaches."
    );
    Ok(target.with_db_passwords(Arc::new(passwords)))
}

/// Refuses, before anything is written, source databases that a Kvrocks target has no
/// namespace for. `into` is the database every source database goes to, when one is set.
pub(crate) fn check_databases(target: &Endpoint, source_dbs: &[u64], into: Option<u64>) -> anyhow::Result<()> {
    if target.db_passwords.is_none() {
        return Ok(());
    }
    let missing: Vec<u64> =
        source_dbs.iter().map(|db| into.unwrap_or(*db)).filter(|db| target.db_password(*db) == Some(None)).collect();
    let Some(first) = missing.first() else { return Ok(()) };
    let list: Vec<String> = missing.iter().map(u64::to_string).collect();
    bail!(
        "the source has keys in database {} and the Kvrocks target {} has no namespace for it (Kvrocks ignores \
         SELECT: each database needs the token of its own namespace); nothing was written. Add \
         `{first} = \"<token>\"` under [target.kvrocks.namespaces] (or --target-kvrocks-namespace {first}=TOKEN)",
        list.join(", "),
        target.addr()
    )
}

/// The databases a Redis master holds keys in, from its `INFO keyspace`; empty when it
/// does not say.
pub(crate) async fn master_databases(master: &Endpoint) -> Vec<u64> {
    let Ok(mut conn) = Connection::connect(master, 4).await else { return Vec::new() };
    let Ok(reply) = conn.query(&[b"INFO", b"keyspace"]).await else { return Vec::new() };
    reply.text().lines().filter_map(|l| l.split_once(':')?.0.strip_prefix("db")?.parse::<u64>().ok()).collect()
}

/// Whether the namespace the connection is in holds a key.
pub(crate) async fn holds_keys(conn: &mut Connection) -> anyhow::Result<bool> {
    let mut cursor = b"0".to_vec();
    for _ in 0..SCAN_ROUNDS {
        let reply = conn.query(&[b"SCAN", &cursor, b"COUNT", b"1000"]).await?;
        let Reply::Array(Some(parts)) = reply else {
            bail!("target {} answered SCAN with: {}", conn.addr(), reply.text());
        };
        let mut parts = parts.into_iter();
        let next = parts.next().map(|c| c.text()).unwrap_or_default();
        if matches!(parts.next(), Some(Reply::Array(Some(keys))) if !keys.is_empty()) {
            return Ok(true);
        }
        if next == "0" || next.is_empty() {
            return Ok(false);
        }
        cursor = next.into_bytes();
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_database_without_a_namespace_is_refused_by_number() {
        let tokens = BTreeMap::from([(0, "admin".to_string()), (1, "t1".to_string())]);
        let kvrocks = Endpoint::tcp("k", 6666).with_db_passwords(Arc::new(tokens));
        assert!(check_databases(&kvrocks, &[0, 1], None).is_ok());
        let e = check_databases(&kvrocks, &[0, 1, 9, 5], None).unwrap_err().to_string();
        assert!(e.contains("database 9, 5") && e.contains("`9 = \"<token>\"`"), "{e}");
        assert!(check_databases(&kvrocks, &[3, 9], Some(1)).is_ok(), "all go to database 1");
        assert!(check_databases(&Endpoint::tcp("r", 6379), &[9], None).is_ok(), "a Redis selects");
    }
}
