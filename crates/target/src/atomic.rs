//! Atomic batches: a batch sent as one `MULTI` … `EXEC` transaction that also stores a
//! marker key saying how far this connection's commands are applied. After a crash, the
//! marker tells exactly which batches the target applied, since a transaction is applied
//! whole or not at all. The source's own `MULTI`/`EXEC` inside the batch are dropped: the
//! whole batch is atomic already.

use replicant_convert::Commands;

/// The marker stored with an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The database the marker key lives in.
    pub db: u64,
    /// The marker key.
    pub key: Vec<u8>,
    /// Its value.
    pub value: Vec<u8>,
}

/// `batch` wrapped in `MULTI` … `SET marker` … `EXEC`, leaving the connection in the
/// database it would be in after `batch` (`db` is updated to it).
pub(crate) fn wrap(batch: &Commands, marker: &Marker, db: &mut u64) -> Commands {
    let mut out = Commands::new();
    out.command("MULTI", 0, None, &[]);
    for (info, bytes) in batch.iter() {
        if info.name == "MULTI" || info.name == "EXEC" {
            continue;
        }
        if info.name == "SELECT" {
            *db = info.db;
        }
        out.push_encoded(info, batch.note_of(info), bytes);
    }
    out.begin_keyless("SELECT", 2, marker.db).uint(marker.db);
    out.command("SET", marker.db, Some(&marker.key), &[&marker.key, &marker.value]);
    out.begin_keyless("SELECT", 2, *db).uint(*db);
    out.command("EXEC", 0, None, &[]);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_wrapped_batch_is_one_transaction_with_its_marker_and_keeps_the_database() {
        let mut batch = Commands::new();
        batch.begin_keyless("SELECT", 2, 2).uint(2);
        batch.command("MULTI", 2, None, &[]);
        batch.command("INCR", 2, Some(b"n"), &[b"n"]);
        batch.command("EXEC", 2, None, &[]);
        let marker = Marker { db: 0, key: b"m".to_vec(), value: b"v".to_vec() };
        let mut db = 0;
        let out = wrap(&batch, &marker, &mut db);
        let names: Vec<&str> = out.info().iter().map(|i| i.name).collect();
        assert_eq!(names, ["MULTI", "SELECT", "INCR", "SELECT", "SET", "SELECT", "EXEC"]);
        assert_eq!(db, 2);
        let text = String::from_utf8_lossy(out.bytes()).replace("\r\n", " ");
        assert!(text.ends_with("*2 $6 SELECT $1 0 *3 $3 SET $1 m $1 v *2 $6 SELECT $1 2 *1 $4 EXEC "), "{text}");
    }
}
