//! What a master says of its dataset before its snapshot starts: the keys of each database
//! in `INFO keyspace`. They give the progress bar a real total and an ETA in keys, which
//! the snapshot itself cannot: a diskless sync announces no size, and a disk-based one
//! announces bytes only. Also the parser of that section, which the target prechecks use.

use std::time::Duration;

use replicant_net::Endpoint;
use replicant_target::{Connection, Reply};

/// How long the master may take to answer; the estimate is only for display.
const PATIENCE: Duration = Duration::from_secs(5);

/// The keys the master holds now, in every database; `None` when it cannot tell (not
/// reachable yet, `INFO` renamed or refused, or no key at all).
pub(crate) async fn master_keys(master: &Endpoint) -> Option<u64> {
    let ask = async {
        let mut conn = Connection::connect(master, 4).await.ok()?;
        match conn.query(&[b"INFO", b"keyspace"]).await.ok()? {
            Reply::Error(e) => {
                tracing::debug!(error = %e, "The master refused INFO keyspace; the progress has no total.");
                None
            }
            reply => Some(keyspace_keys(&reply.text(), None)),
        }
    };
    tokio::time::timeout(PATIENCE, ask).await.ok().flatten().filter(|keys| *keys > 0)
}

/// The keys an `INFO keyspace` reply lists, in every database or in database `db` only.
pub(crate) fn keyspace_keys(info: &str, db: Option<u64>) -> u64 {
    let mut total = 0;
    for line in info.lines() {
        let Some((name, rest)) = line.split_once(':') else { continue };
        let Some(n) = name.strip_prefix("db").and_then(|n| n.parse::<u64>().ok()) else { continue };
        if db.is_some_and(|db| db != n) {
            continue;
        }
        let keys = rest.split(',').find_map(|kv| kv.strip_prefix("keys=")).and_then(|k| k.trim().parse::<u64>().ok());
        total += keys.unwrap_or(0);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::keyspace_keys;

    const INFO: &str = "# Keyspace\r\ndb0:keys=120,expires=3,avg_ttl=0\r\ndb3:keys=7,expires=0,avg_ttl=0\r\n";

    #[test]
    fn keys_of_every_database_or_of_one() {
        assert_eq!(keyspace_keys(INFO, None), 127);
        assert_eq!(keyspace_keys(INFO, Some(3)), 7);
        assert_eq!(keyspace_keys(INFO, Some(1)), 0);
        assert_eq!(keyspace_keys("# Keyspace\r\n", None), 0);
        assert_eq!(keyspace_keys("db0:garbage\r\ndbx:keys=5\r\n", None), 0);
    }
}
