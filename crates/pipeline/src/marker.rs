//! Exactly-once markers: with `exactly_once`, every streamed batch is one transaction on
//! the target that also sets `replicant:applied:<sender>` to `<replid> <offset> <senders>
//! <db>` (`db`: the stream's database at `offset`; markers of older versions lack it). A
//! transaction is applied whole or not at all, and one sender's batches run in order, so
//! the marker says exactly up to which offset that sender's commands are applied; resuming
//! skips those instead of applying them twice.
//!
//! After a lost target the markers also say what it lost: a target restarted from a
//! persistence file that missed the last writes, or a replica promoted in a failover that
//! had not received them all, holds older markers than the senders had acknowledged.
//! [`plan`] then moves the resume point back to the oldest marker the target holds, so
//! that exactly what it lacks is applied again.

use replicant_net::Endpoint;
use replicant_repl::{ReplId, ResumePoint};
use replicant_target::{Connection, Marker, Reply, Timeouts};

use crate::WriterError;

/// One sender's marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The stream it belongs to.
    pub replid: ReplId,
    /// The sender's commands up to this offset are applied.
    pub offset: u64,
    /// The stream's database at `offset`, when the marker says.
    pub db: Option<u64>,
}

/// What the senders of a writer had acknowledged, to check a target that comes back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedMarks {
    /// Per sender, the last marker the target acknowledged.
    pub marks: Vec<Option<Mark>>,
    /// Where the stream started after a full sync (everything before, the snapshot, was
    /// applied before any marker was written).
    pub stream_start: Option<ResumePoint>,
}

impl AppliedMarks {
    /// Takes in what a later writer acknowledged: its marks where it wrote any.
    pub fn update(&mut self, later: &AppliedMarks) {
        if self.marks.len() != later.marks.len() {
            self.marks.resize(later.marks.len(), None);
        }
        for (mine, theirs) in self.marks.iter_mut().zip(&later.marks) {
            if theirs.is_some() {
                *mine = *theirs;
            }
        }
        if later.stream_start.is_some() {
            self.stream_start = later.stream_start;
        }
    }
}

/// The marker key of sender `i`.
pub(crate) fn key(i: usize) -> Vec<u8> {
    format!("replicant:applied:{i}").into_bytes()
}

/// The marker of sender `i` for a batch ending at `offset`, where the stream is in `stream_db`.
pub(crate) fn marker(db: u64, i: usize, replid: ReplId, offset: u64, senders: usize, stream_db: u64) -> Marker {
    Marker { db, key: key(i), value: format!("{replid} {offset} {senders} {stream_db}").into_bytes() }
}

/// Reads every sender's marker, for markers written by a run with this number of senders.
/// `None` for a sender without one.
pub(crate) async fn read(
    target: &Endpoint,
    timeouts: Timeouts,
    db: u64,
    senders: usize,
) -> Result<Vec<Option<Mark>>, WriterError> {
    let mut conn = Connection::connect_with(target, 16, timeouts).await?;
    conn.query(&[b"SELECT", db.to_string().as_bytes()]).await?;
    let mut out = Vec::with_capacity(senders);
    for i in 0..senders {
        let mark = match conn.query(&[b"GET", &key(i)]).await? {
            Reply::Bulk(Some(v)) => Some(parse(&String::from_utf8_lossy(&v), senders, i)?),
            _ => None,
        };
        out.push(mark);
    }
    Ok(out)
}

fn parse(value: &str, senders: usize, i: usize) -> Result<Mark, WriterError> {
    let bad = |why: &str| WriterError::Marker(format!("replicant:applied:{i} = {value:?}: {why}"));
    let mut parts = value.split(' ');
    let (Some(replid), Some(offset), Some(count), db, None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a replicant marker"));
    };
    let replid: ReplId = replid.parse().map_err(|_| bad("not a replicant marker"))?;
    let offset: u64 = offset.parse().map_err(|_| bad("not a replicant marker"))?;
    let db = db.map(|db| db.parse::<u64>().map_err(|_| bad("not a replicant marker"))).transpose()?;
    if count != senders.to_string() {
        return Err(bad("written by a run with another number of senders; resume with that number (writer.shards)"));
    }
    Ok(Mark { replid, offset, db })
}

/// Where to resume a stream applied up to `at`, given the markers `found` on the target and,
/// after a lost target, the markers its senders had acknowledged (`applied`): the resume
/// point, and per sender the offset through which its commands are skipped.
///
/// Without `applied` (a new process), the markers of `at`'s stream beyond `at` are skipped
/// through. With it, a sender whose marker on the target is older than the acknowledged one
/// lost writes: the resume point moves back to that marker (or to the stream's start when
/// the target holds none of the sender's stream), and every sender skips through its own.
pub(crate) fn plan(
    at: ResumePoint,
    found: &[Option<Mark>],
    applied: Option<&AppliedMarks>,
) -> Result<(ResumePoint, Vec<Option<u64>>), WriterError> {
    let ours = |m: &Option<Mark>| m.filter(|m| m.replid == at.replid);
    let mut from = at;
    if let Some(applied) = applied {
        for (i, (on_target, acked)) in found.iter().zip(&applied.marks).enumerate() {
            let Some(acked) = acked else { continue };
            match on_target {
                Some(t) if t.replid == acked.replid && t.offset >= acked.offset => {}
                Some(t) if t.replid == acked.replid && t.replid == at.replid => {
                    let db = t.db.ok_or_else(|| lost(i, acked, "its marker does not name the stream's database"))?;
                    if t.offset < from.offset {
                        from = ResumePoint { replid: at.replid, offset: t.offset, db };
                    }
                }
                None => match applied.stream_start.filter(|s| s.replid == at.replid) {
                    Some(start) if start.offset < from.offset => from = start,
                    Some(_) => {}
                    None => return Err(lost(i, acked, "it holds no marker for it")),
                },
                Some(_) => return Err(lost(i, acked, "its marker is of another replication stream")),
            }
        }
    }
    let skips = found.iter().map(|m| ours(m).map(|m| m.offset).filter(|o| *o > from.offset)).collect();
    Ok((from, skips))
}

fn lost(i: usize, acked: &Mark, why: &str) -> WriterError {
    WriterError::Marker(format!(
        "the target lost writes of sender {i} it had acknowledged (up to offset {} of {}), and {why}: no \
         resume can tell what it lacks",
        acked.offset, acked.replid
    ))
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

    const ID: &str = "8d9f2e3b2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e";
    const OTHER: &str = "0123456789abcdef0123456789abcdef01234567";

    fn mark(replid: &str, offset: u64, db: u64) -> Option<Mark> {
        Some(Mark { replid: replid.parse().unwrap(), offset, db: Some(db) })
    }

    #[test]
    fn markers_are_written_with_the_stream_database_and_read_with_or_without_it() {
        let id: ReplId = ID.parse().unwrap();
        let m = marker(0, 3, id, 1234, 8, 5);
        assert_eq!(m.key, b"replicant:applied:3");
        let value = String::from_utf8(m.value).unwrap();
        assert_eq!(value, format!("{ID} 1234 8 5"));
        assert_eq!(parse(&value, 8, 3).unwrap(), mark(ID, 1234, 5).unwrap());
        let older = parse(&format!("{ID} 99 8"), 8, 3).unwrap();
        assert_eq!((older.offset, older.db), (99, None));
        assert!(parse(&value, 4, 3).is_err(), "another number of senders");
        assert!(parse("garbage", 8, 3).is_err());
        assert!(parse(&format!("{ID} 1 8 0 extra"), 8, 3).is_err());
    }

    #[test]
    fn a_new_process_skips_through_the_markers_of_its_stream_beyond_the_checkpoint() {
        let at = ResumePoint::new(ID.parse().unwrap(), 100);
        let found = [mark(ID, 150, 0), mark(ID, 90, 0), mark(OTHER, 500, 0), None];
        let (from, skips) = plan(at, &found, None).unwrap();
        assert_eq!(from, at);
        assert_eq!(skips, [Some(150), None, None, None]);
    }

    #[test]
    fn a_target_that_kept_what_it_acknowledged_resumes_at_the_checkpoint() {
        let at = ResumePoint::new(ID.parse().unwrap(), 100);
        let applied = AppliedMarks { marks: vec![mark(ID, 120, 0), mark(ID, 60, 0), None], stream_start: None };
        let found = [mark(ID, 130, 0), mark(ID, 60, 0), None];
        let (from, skips) = plan(at, &found, Some(&applied)).unwrap();
        assert_eq!(from, at);
        assert_eq!(skips, [Some(130), None, None]);
    }

    #[test]
    fn a_target_that_lost_acknowledged_batches_resumes_at_its_oldest_marker() {
        let id: ReplId = ID.parse().unwrap();
        let at = ResumePoint::new(id, 1000);
        let applied = AppliedMarks {
            marks: vec![mark(ID, 990, 0), mark(ID, 980, 2), mark(ID, 400, 0)],
            stream_start: Some(ResumePoint::new(id, 10)),
        };
        let found = [mark(ID, 990, 0), mark(ID, 700, 2), mark(ID, 400, 0)];
        let (from, skips) = plan(at, &found, Some(&applied)).unwrap();
        assert_eq!(from, ResumePoint { replid: id, offset: 700, db: 2 });
        assert_eq!(skips, [Some(990), None, None]);
    }

    #[test]
    fn a_sender_with_no_marker_left_resumes_from_the_stream_start_or_stops() {
        let id: ReplId = ID.parse().unwrap();
        let at = ResumePoint::new(id, 1000);
        let mut applied = AppliedMarks { marks: vec![mark(ID, 990, 0), mark(ID, 500, 0)], stream_start: None };
        let found = [mark(ID, 990, 0), None];
        let e = plan(at, &found, Some(&applied)).unwrap_err().to_string();
        assert!(e.contains("sender 1") && e.contains("holds no marker"), "{e}");
        applied.stream_start = Some(ResumePoint::new(id, 10));
        let (from, skips) = plan(at, &found, Some(&applied)).unwrap();
        assert_eq!(from, ResumePoint::new(id, 10));
        assert_eq!(skips, [Some(990), None]);
        let foreign = [mark(ID, 990, 0), mark(OTHER, 500, 0)];
        assert!(plan(at, &foreign, Some(&applied)).is_err());
    }

    #[test]
    fn applied_marks_of_a_later_writer_replace_only_the_senders_that_wrote() {
        let mut all = AppliedMarks { marks: vec![mark(ID, 10, 0), mark(ID, 20, 0)], stream_start: None };
        all.update(&AppliedMarks { marks: vec![None, mark(ID, 30, 1)], stream_start: None });
        assert_eq!(all.marks, vec![mark(ID, 10, 0), mark(ID, 30, 1)]);
    }
}
