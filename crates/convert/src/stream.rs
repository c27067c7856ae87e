//! Rebuilding a stream with commands: `XADD` each entry with its ID, `XSETID` the
//! stream-wide state, `XGROUP CREATE` each group, `XGROUP CREATECONSUMER` each consumer
//! and `XCLAIM … TIME RETRYCOUNT FORCE JUSTID` each pending entry, so that delivery
//! times and counts survive. A group's pending list is held (bounded) until its
//! consumers say who owns each entry.

use std::collections::HashMap;

use replicant_rdb::{StreamId, StreamMeta, Value};

use crate::error::{escaped, ConvertError};
use crate::resp::Commands;
use crate::target::TargetProfile;

/// State of the stream being rebuilt.
#[derive(Debug)]
pub(crate) struct StreamRebuild {
    created: bool,
    meta: Option<StreamMeta>,
    group: Vec<u8>,
    consumer: Vec<u8>,
    pending: HashMap<StreamId, (i64, u64)>,
    max_pending: usize,
}

const TEMP_GROUP: &[u8] = b"replicant-temp-group";

impl StreamRebuild {
    pub(crate) fn new(max_pending: usize) -> Self {
        StreamRebuild {
            created: false,
            meta: None,
            group: Vec::new(),
            consumer: Vec::new(),
            pending: HashMap::new(),
            max_pending,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.created = false;
        self.meta = None;
        self.pending.clear();
    }

    pub(crate) fn value(
        &mut self,
        value: &Value<'_>,
        db: u64,
        key: &[u8],
        target: &TargetProfile,
        out: &mut Commands,
    ) -> Result<(), ConvertError> {
        match value {
            Value::StreamEntries(entries) => {
                for e in entries.iter() {
                    out.begin("XADD", 3 + 2 * e.len(), db, key).arg(key).arg(id(e.id).as_bytes());
                    for (f, v) in e.fields() {
                        out.arg(f).arg(v);
                    }
                }
                self.created = true;
            }
            Value::StreamMeta(meta) => self.meta(*meta, db, key, target, out),
            Value::StreamGroup(g) => {
                self.group.clear();
                self.group.extend_from_slice(g.name);
                self.pending.clear();
                let mkstream = !self.created;
                let entries_read = g.entries_read.filter(|n| *n != u64::MAX && target.at_least(7, 0));
                let args = 5 + usize::from(mkstream) + if entries_read.is_some() { 2 } else { 0 };
                out.begin("XGROUP", args, db, key).arg(b"CREATE").arg(key).arg(g.name);
                out.arg(id(g.last_id).as_bytes());
                if mkstream {
                    out.arg(b"MKSTREAM");
                }
                if let Some(n) = entries_read {
                    out.arg(b"ENTRIESREAD").uint(n);
                }
                if mkstream {
                    self.created = true;
                    self.set_id(db, key, target, out);
                }
            }
            Value::StreamGroupPending(entries) => {
                for (id, delivered, count) in entries.iter() {
                    if self.pending.len() >= self.max_pending {
                        return Err(ConvertError::TooManyPending {
                            key: escaped(key),
                            db,
                            group: escaped(&self.group),
                            limit: self.max_pending,
                        });
                    }
                    self.pending.insert(id, (delivered, count));
                }
            }
            Value::StreamConsumer(c) => {
                self.consumer.clear();
                self.consumer.extend_from_slice(c.name);
                out.begin("XGROUP", 5, db, key).arg(b"CREATECONSUMER").arg(key).arg(&self.group).arg(c.name);
            }
            Value::StreamConsumerPending(ids) => {
                for pid in ids.iter() {
                    let Some((delivered, count)) = self.pending.get(&pid).copied() else {
                        return Err(ConvertError::PendingNotInGroup {
                            key: escaped(key),
                            db,
                            consumer: escaped(&self.consumer),
                            id: pid.to_string(),
                        });
                    };
                    out.begin("XCLAIM", 12, db, key).arg(key).arg(&self.group).arg(&self.consumer).arg(b"0");
                    out.arg(id(pid).as_bytes()).arg(b"TIME").int(delivered).arg(b"RETRYCOUNT").uint(count);
                    out.arg(b"FORCE").arg(b"JUSTID");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Stream-wide state: creates an entry-less stream if needed, then sets its IDs.
    fn meta(&mut self, meta: StreamMeta, db: u64, key: &[u8], target: &TargetProfile, out: &mut Commands) {
        self.meta = Some(meta);
        if !self.created && meta.last_id != StreamId::default() {
            // An empty stream that once held entries: add its last ID and trim it away.
            out.begin("XADD", 7, db, key).arg(key).arg(b"MAXLEN").arg(b"0").arg(id(meta.last_id).as_bytes());
            out.arg(b"f").arg(b"v");
            self.created = true;
        }
        if self.created {
            self.set_id(db, key, target, out);
        }
    }

    fn set_id(&mut self, db: u64, key: &[u8], target: &TargetProfile, out: &mut Commands) {
        let Some(meta) = self.meta.take() else { return };
        let full = target.at_least(7, 0);
        let extra = match (full, meta.entries_added, meta.max_deleted_id) {
            (true, Some(added), Some(deleted)) => Some((added, deleted)),
            _ => None,
        };
        out.begin("XSETID", if extra.is_some() { 7 } else { 3 }, db, key).arg(key).arg(id(meta.last_id).as_bytes());
        if let Some((added, deleted)) = extra {
            out.arg(b"ENTRIESADDED").uint(added).arg(b"MAXDELETEDID").arg(id(deleted).as_bytes());
        }
    }

    /// At the end of the key: a stream with no entries and no groups still exists.
    pub(crate) fn finish(&mut self, db: u64, key: &[u8], out: &mut Commands) {
        if self.created {
            return;
        }
        out.begin("XGROUP", 6, db, key).arg(b"CREATE").arg(key).arg(TEMP_GROUP).arg(b"0").arg(b"MKSTREAM");
        out.begin("XGROUP", 4, db, key).arg(b"DESTROY").arg(key).arg(TEMP_GROUP);
        self.created = true;
    }
}

fn id(id: StreamId) -> String {
    id.to_string()
}
