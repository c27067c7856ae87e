//! Exactly-once markers: with `exactly_once`, every streamed batch is one transaction on
//! the target that also sets `replicant:applied:<sender>` to `<replid> <offset>
//! <senders>`. A transaction is applied whole or not at all, and one sender's batches run
//! in order, so after a crash the marker says exactly up to which offset that sender's
//! commands are applied; resuming skips those instead of applying them twice.

use replicant_net::Endpoint;
use replicant_repl::{ReplId, ResumePoint};
use replicant_target::{Connection, Marker, Reply, Timeouts};

use crate::WriterError;

/// The marker key of sender `i`.
pub(crate) fn key(i: usize) -> Vec<u8> {
    format!("replicant:applied:{i}").into_bytes()
}

/// The marker of sender `i` for a batch ending at `offset`.
pub(crate) fn marker(db: u64, i: usize, replid: ReplId, offset: u64, senders: usize) -> Marker {
    Marker { db, key: key(i), value: format!("{replid} {offset} {senders}").into_bytes() }
}

/// Reads every sender's marker: the offset up to which its commands are applied, for
/// markers of this stream and this number of senders. `None` for a sender without one.
pub(crate) async fn read(
    target: &Endpoint,
    timeouts: Timeouts,
    db: u64,
    at: ResumePoint,
    senders: usize,
) -> Result<Vec<Option<u64>>, WriterError> {
    let mut conn = Connection::connect_with(target, 16, timeouts).await?;
    conn.query(&[b"SELECT", db.to_string().as_bytes()]).await?;
    let mut out = Vec::with_capacity(senders);
    for i in 0..senders {
        let value = match conn.query(&[b"GET", &key(i)]).await? {
            Reply::Bulk(Some(v)) => String::from_utf8_lossy(&v).into_owned(),
            _ => {
                out.push(None);
                continue;
            }
        };
        out.push(parse(&value, at, senders, i)?);
    }
    Ok(out)
}

fn parse(value: &str, at: ResumePoint, senders: usize, i: usize) -> Result<Option<u64>, WriterError> {
    let bad = |why: &str| WriterError::Marker(format!("replicant:applied:{i} = {value:?}: {why}"));
    let mut parts = value.split(' ');
    let (Some(replid), Some(offset), Some(count), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a replicant marker"));
    };
    let offset: u64 = offset.parse().map_err(|_| bad("not a replicant marker"))?;
    if count != senders.to_string() {
        return Err(bad("written by a run with another number of senders; resume with that number (writer.shards)"));
    }
    if replid != at.replid.to_string() {
        // Another stream (an earlier migration): says nothing about this one.
        return Ok(None);
    }
    Ok(Some(offset))
}

/// Deletes the markers (after a clean stop the checkpoint is exact without them).
pub(crate) async fn clear(target: &Endpoint, timeouts: Timeouts, db: u64, senders: usize) -> Result<(), WriterError> {
    let mut conn = Connection::connect_with(target, 16, timeouts).await?;
    conn.query(&[b"SELECT", db.to_string().as_bytes()]).await?;
    let keys: Vec<Vec<u8>> = (0..senders).map(key).collect();
    let mut args: Vec<&[u8]> = vec![b"DEL"];
    args.extend(keys.iter().map(Vec::as_slice));
    conn.query(&args).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn markers_of_this_stream_are_read_and_others_ignored_or_refused() {
        let id: ReplId = "8d9f2e3b2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e".parse().unwrap();
        let at = ResumePoint::new(id, 10);
        let m = marker(0, 3, id, 1234, 8);
        assert_eq!(m.key, b"replicant:applied:3");
        let value = String::from_utf8(m.value).unwrap();
        assert_eq!(parse(&value, at, 8, 3).unwrap(), Some(1234));
        let other = "0123456789abcdef0123456789abcdef01234567 99 8";
        assert_eq!(parse(other, at, 8, 3).unwrap(), None);
        assert!(parse(&value, at, 4, 3).is_err());
        assert!(parse("garbage", at, 8, 3).is_err());
    }
}
