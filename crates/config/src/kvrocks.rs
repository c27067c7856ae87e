//! What kind of master the source is (`source.kind`), how a Kvrocks master's namespaces
//! map to target databases (`[source.kvrocks]`), and how a Kvrocks target's namespaces
//! are reached (`[target.kvrocks]`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::check::Problems;
use crate::choice::choices;

/// `source.kind`: the protocol the master speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceKind {
    /// Asked from the master (`INFO server`: `kvrocks_version` means Kvrocks).
    #[default]
    Auto,
    /// Redis or Valkey: `PSYNC`/`SYNC` and an RDB snapshot.
    Redis,
    /// Apache Kvrocks: a checkpoint (`_fetch_meta`/`_fetch_file`), then WriteBatches by sequence.
    Kvrocks,
    /// Pika 3.5/4.x: a dump over its RsyncService, then its binlog by position.
    Pika,
}

choices!(SourceKind { Auto = "auto", Redis = "redis", Kvrocks = "kvrocks", Pika = "pika" });

/// `[source.kvrocks]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Kvrocks {
    /// Namespace → target database (`default` is the default namespace). Default:
    /// `{ default = 0 }`.
    pub namespaces: BTreeMap<String, u64>,
    /// Skip keys of namespaces with no database instead of stopping (default false).
    pub skip_unmapped_namespaces: bool,
    /// Types whose keys are left out, by the name `TYPE` gives (`ReJSON-RL`, `MBbloom--`,
    /// …) or `json`, `bloom`: for a target without the modules they need (default none).
    pub skip_types: Vec<String>,
}

impl Default for Kvrocks {
    fn default() -> Self {
        Kvrocks {
            namespaces: BTreeMap::from([("default".to_string(), 0)]),
            skip_unmapped_namespaces: false,
            skip_types: Vec::new(),
        }
    }
}

/// `[target.kvrocks]`: a Kvrocks target keeps its keyspaces apart as namespaces, each
/// reached by its own token, and has no numbered databases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KvrocksTarget {
    /// Database (as replicant would `SELECT` it on a Redis target) → the token of the
    /// namespace it goes to. Database 0 goes to the default namespace (the URL's
    /// password) unless given here; a database with no token stops the run before
    /// anything of it is written.
    pub namespaces: BTreeMap<String, String>,
}

impl KvrocksTarget {
    /// The tokens by database number (entries whose database is not a number are left
    /// out: `check` reports them).
    pub fn tokens(&self) -> BTreeMap<u64, String> {
        self.namespaces.iter().filter_map(|(db, token)| Some((db.parse().ok()?, token.clone()))).collect()
    }

    pub(crate) fn check(&self, out: &mut Problems) {
        for (db, token) in &self.namespaces {
            if db.parse::<u64>().is_err() {
                out.push(format!("target.kvrocks.namespaces.{db:?}"), "the key is a database number");
            }
            if token.is_empty() {
                out.push(format!("target.kvrocks.namespaces.{db}"), "the namespace's token is empty");
            }
        }
    }
}

impl Kvrocks {
    pub(crate) fn check(&self, out: &mut Problems) {
        for name in self.namespaces.keys() {
            if name.is_empty() || name.len() > 255 {
                out.push(format!("source.kvrocks.namespaces.{name:?}"), "a namespace name has 1 to 255 bytes");
            }
        }
    }
}
