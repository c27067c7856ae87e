//! Databases reached by password instead of `SELECT`: a Kvrocks target has no numbered
//! databases (it answers `SELECT` with `+OK` and ignores it), and each of its namespaces is
//! a keyspace reached by authenticating with that namespace's token. A connection to such
//! a target ([`replicant_net::Endpoint::db_passwords`]) sends `AUTH <password of db>`
//! wherever it would send `SELECT <db>` (Kvrocks runs a re-`AUTH` in order with the
//! pipelined commands, and in order inside `MULTI`/`EXEC`). A database without a password
//! is refused before any byte of its batch is written.

use replicant_convert::Commands;
use replicant_net::Endpoint;

use crate::TargetError;

/// `batch` with every `SELECT <db>` turned into `AUTH <password of db>`; `batch` itself
/// when databases are selected as usual or it selects none.
pub(crate) fn translate(endpoint: &Endpoint, addr: &str, batch: Commands) -> Result<Commands, TargetError> {
    if endpoint.db_passwords.is_none() || !batch.info().iter().any(|i| i.name == "SELECT") {
        return Ok(batch);
    }
    let mut out = Commands::with_capacity(batch.byte_len(), batch.len());
    for (info, bytes) in batch.iter() {
        if info.name == "SELECT" {
            let password = password(endpoint, addr, info.db)?;
            out.begin_keyless("AUTH", 2, info.db).arg(password.as_bytes());
            out.stamp_last(info.offset);
        } else {
            out.push_encoded(info, batch.note_of(info), bytes);
        }
    }
    Ok(out)
}

/// The arguments to send for `args`: `AUTH <password>` for a `SELECT` when databases are
/// reached by password, else `args` unchanged.
pub(crate) fn translate_query<'a>(
    endpoint: &'a Endpoint,
    addr: &str,
    args: &[&'a [u8]],
) -> Result<Vec<&'a [u8]>, TargetError> {
    let select = args.first().is_some_and(|name| name.eq_ignore_ascii_case(b"SELECT"));
    let db = args.get(1).and_then(|a| std::str::from_utf8(a).ok()?.parse::<u64>().ok());
    match (select, db) {
        (true, Some(db)) if endpoint.db_passwords.is_some() => {
            Ok(vec![b"AUTH".as_slice(), password(endpoint, addr, db)?.as_bytes()])
        }
        _ => Ok(args.to_vec()),
    }
}

/// The password a new connection authenticates with: database 0's when databases are
/// reached by password and it has one, else the URL's.
pub(crate) fn first_password(endpoint: &Endpoint) -> Option<&str> {
    endpoint.db_password(0).flatten().or(endpoint.password.as_deref())
}

fn password<'a>(endpoint: &'a Endpoint, addr: &str, db: u64) -> Result<&'a str, TargetError> {
    endpoint.db_password(db).flatten().ok_or_else(|| TargetError::NoDbPassword { addr: addr.to_string(), db })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;

    fn kvrocks() -> Endpoint {
        let tokens = BTreeMap::from([(0, "admin".to_string()), (9, "tok9".to_string())]);
        Endpoint::tcp("127.0.0.1", 6666).with_db_passwords(Arc::new(tokens))
    }

    fn text(c: &Commands) -> String {
        String::from_utf8_lossy(c.bytes()).replace("\r\n", " ")
    }

    #[test]
    fn select_becomes_auth_with_the_databases_password() {
        let mut batch = Commands::new();
        batch.begin_keyless("SELECT", 2, 9).uint(9);
        batch.command("SET", 9, Some(b"k"), &[b"k", b"v"]);
        batch.begin_keyless("SELECT", 2, 0).uint(0);
        let out = translate(&kvrocks(), "t:1", batch.clone()).unwrap();
        assert_eq!(text(&out), "*2 $4 AUTH $4 tok9 *3 $3 SET $1 k $1 v *2 $4 AUTH $5 admin ");
        assert_eq!(out.key_of(&out.info()[1]), b"k");
        let plain = translate(&Endpoint::tcp("h", 1), "t:1", batch).unwrap();
        assert!(text(&plain).starts_with("*2 $6 SELECT $1 9"));
    }

    #[test]
    fn a_database_without_a_password_is_refused_before_writing() {
        let mut batch = Commands::new();
        batch.begin_keyless("SELECT", 2, 1).uint(1);
        let e = translate(&kvrocks(), "t:1", batch).unwrap_err();
        assert!(matches!(e, TargetError::NoDbPassword { db: 1, .. }), "{e}");
        let e = translate_query(&kvrocks(), "t:1", &[b"select", b"3"]).unwrap_err();
        assert!(e.to_string().contains("database 3"), "{e}");
        assert_eq!(translate_query(&kvrocks(), "t:1", &[b"SELECT", b"9"]).unwrap(), [&b"AUTH"[..], b"tok9"]);
        assert_eq!(first_password(&kvrocks()), Some("admin"));
    }
}
