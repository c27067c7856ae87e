//! Kvrocks namespaces to target databases. Kvrocks has one keyspace per namespace and no
//! numbered databases; each namespace's keys go to the database configured for it
//! (default: the default namespace to database 0). A key of a namespace with no database
//! stops the run naming the namespace, unless unmapped namespaces are to be skipped.

use std::collections::BTreeMap;

use crate::error::KvrocksError;
use crate::key::DEFAULT_NAMESPACE;

/// Namespace → target database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    map: BTreeMap<Vec<u8>, u64>,
    skip_unmapped: bool,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces { map: BTreeMap::from([(DEFAULT_NAMESPACE.to_vec(), 0)]), skip_unmapped: false }
    }
}

/// What to do with a namespace's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Into this database.
    Db(u64),
    /// Nowhere (an unmapped namespace, skipped as configured).
    Skip,
}

impl Namespaces {
    /// No namespace mapped.
    pub fn empty() -> Self {
        Namespaces { map: BTreeMap::new(), skip_unmapped: false }
    }

    /// Maps `namespace` (`default` or `__namespace` for the default one) to `db`.
    pub fn map(mut self, namespace: &str, db: u64) -> Self {
        let name = if namespace == "default" { DEFAULT_NAMESPACE } else { namespace.as_bytes() };
        self.map.insert(name.to_vec(), db);
        self
    }

    /// Skips keys of namespaces with no database instead of stopping.
    pub fn skip_unmapped(mut self, skip: bool) -> Self {
        self.skip_unmapped = skip;
        self
    }

    /// The databases namespaces go to, each once.
    pub fn databases(&self) -> Vec<u64> {
        let mut dbs: Vec<u64> = self.map.values().copied().collect();
        dbs.sort_unstable();
        dbs.dedup();
        dbs
    }

    /// Where keys of `namespace` go; an error naming it when it has no database.
    pub fn place(&self, namespace: &[u8]) -> Result<Placement, KvrocksError> {
        match self.map.get(namespace) {
            Some(db) => Ok(Placement::Db(*db)),
            None if self.skip_unmapped => Ok(Placement::Skip),
            None => Err(KvrocksError::UnmappedNamespace(String::from_utf8_lossy(namespace).into_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_default_namespace_goes_to_db_0_and_others_only_where_mapped() {
        let ns = Namespaces::default().map("ns1", 1);
        assert_eq!(ns.place(b"__namespace").unwrap(), Placement::Db(0));
        assert_eq!(ns.place(b"ns1").unwrap(), Placement::Db(1));
        let e = ns.place(b"ns2").unwrap_err().to_string();
        assert!(e.contains("\"ns2\"") && e.contains("--kvrocks-namespace"), "{e}");
        assert_eq!(ns.skip_unmapped(true).place(b"ns2").unwrap(), Placement::Skip);
    }
}
