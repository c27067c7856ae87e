//! Comparing [`Snapshot`]s: [`assert_same`], [`diff_report`] and
//! [`wait_until_same`] explain differences key by key in bounded text
//! (first 20 differing keys, values clipped).

use std::fmt::{Debug, Write as _};
use std::time::{Duration, Instant};

use redis::Connection;

use crate::dataset::{snapshot, Blob, Data, Entry, Snapshot};
use crate::reply::escape;
use crate::stream::{GroupImage, StreamImage};

/// How many differing keys a report shows.
const SHOWN_KEYS: usize = 20;
/// Longest rendering of one value or element inside a report.
const CLIP: usize = 120;

/// How often [`wait_until_same`] re-reads the target.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Panics with a readable, bounded diff unless the snapshots are equal.
pub fn assert_same(source: &Snapshot, target: &Snapshot) {
    if let Some(report) = diff_report(source, target) {
        panic!("{report}");
    }
}

/// Re-reads the target until it equals `source`; after `timeout`, panics
/// with the last diff. For checks after asynchronous replication.
pub fn wait_until_same(source: &Snapshot, target: &mut Connection, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        // A target still being written can change between the reads of one snapshot (a
        // key vanishes or changes type): such a snapshot is discarded and taken again.
        let taken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| snapshot(target)));
        let report = match taken {
            Ok(image) => diff_report(source, &image),
            Err(_) => Some("the target changed while it was being read".to_string()),
        };
        let Some(report) = report else {
            return;
        };
        if Instant::now() >= deadline {
            panic!("target still differs after {timeout:?}: {report}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// `None` when equal, otherwise a report of the first differing keys.
pub fn diff_report(source: &Snapshot, target: &Snapshot) -> Option<String> {
    if source == target {
        return None;
    }
    let lines = differing_keys(source, target);
    let mut out = format!(
        "snapshots differ: source has {} keys, target has {} keys; {} keys differ\n",
        source.len(),
        target.len(),
        lines.len()
    );
    let _ = writeln!(out, "keys per db (source/target): {}", per_db(source, target));
    for line in lines.iter().take(SHOWN_KEYS) {
        let _ = writeln!(out, "  {line}");
    }
    if lines.len() > SHOWN_KEYS {
        let _ = writeln!(out, "  ... and {} more", lines.len() - SHOWN_KEYS);
    }
    Some(out)
}

fn per_db(source: &Snapshot, target: &Snapshot) -> String {
    let mut dbs: Vec<u32> = source.dbs().chain(target.dbs()).collect();
    dbs.sort_unstable();
    dbs.dedup();
    let parts = dbs.iter().map(|db| format!("db{db} {}/{}", source.keys_in_db(*db), target.keys_in_db(*db)));
    parts.collect::<Vec<_>>().join(", ")
}

/// One line per differing key: source keys in order, then extra target keys.
fn differing_keys(source: &Snapshot, target: &Snapshot) -> Vec<String> {
    let mut lines = Vec::new();
    for (db, key, entry) in source.iter() {
        let what = match target.get(db, &key.0) {
            None => Some(format!("missing in target ({})", entry.data.type_name())),
            Some(other) => entry_diff(entry, other),
        };
        if let Some(what) = what {
            lines.push(format!("db{db} \"{}\": {what}", clip(escape(&key.0))));
        }
    }
    for (db, key, entry) in target.iter() {
        if source.get(db, &key.0).is_none() {
            let kind = entry.data.type_name();
            lines.push(format!("db{db} \"{}\": extra in target ({kind})", clip(escape(&key.0))));
        }
    }
    lines
}

fn entry_diff(source: &Entry, target: &Entry) -> Option<String> {
    let mut parts = Vec::new();
    let (a, b) = (&source.data, &target.data);
    if a.type_name() != b.type_name() {
        parts.push(format!("type {} vs {}", a.type_name(), b.type_name()));
    } else if a != b {
        parts.push(format!("value: {}", value_diff(a, b)));
    }
    if source.expire_at_ms != target.expire_at_ms {
        parts.push(format!("ttl (expire at ms) {} vs {}", source.expire_at_ms, target.expire_at_ms));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn value_diff(source: &Data, target: &Data) -> String {
    match (source, target) {
        (Data::String(a), Data::String(b)) => bytes_diff(a, b),
        (Data::List(a), Data::List(b)) | (Data::Set(a), Data::Set(b)) => seq_diff(a, b),
        (Data::ZSet(a), Data::ZSet(b)) => seq_diff(a, b),
        (Data::Hash(a), Data::Hash(b)) => seq_diff(a, b),
        (Data::Stream(a), Data::Stream(b)) => stream_diff(a, b),
        (a, b) => format!("{} vs {}", clip(format!("{a:?}")), clip(format!("{b:?}"))),
    }
}

fn bytes_diff(a: &Blob, b: &Blob) -> String {
    let first = a.0.iter().zip(&b.0).position(|(x, y)| x != y);
    let at = first.unwrap_or(a.0.len().min(b.0.len()));
    let window = |v: &[u8]| clip(escape(v.get(at..).unwrap_or_default()));
    format!(
        "{} vs {} bytes, first difference at byte {at}: \"{}\" vs \"{}\"",
        a.0.len(),
        b.0.len(),
        window(&a.0),
        window(&b.0)
    )
}

fn seq_diff<T: Debug + PartialEq>(a: &[T], b: &[T]) -> String {
    let first = a.iter().zip(b).position(|(x, y)| x != y);
    let at = first.unwrap_or(a.len().min(b.len()));
    let show = |v: &[T]| v.get(at).map_or("<none>".to_owned(), |x| clip(format!("{x:?}")));
    format!("{} vs {} elements, first difference at [{at}]: {} vs {}", a.len(), b.len(), show(a), show(b))
}

fn stream_diff(a: &StreamImage, b: &StreamImage) -> String {
    let mut parts = Vec::new();
    let meta = |s: &StreamImage| {
        format!(
            "length={} last-generated-id={} max-deleted-entry-id={:?} entries-added={:?} recorded-first-entry-id={:?}",
            s.length, s.last_generated_id, s.max_deleted_entry_id, s.entries_added, s.recorded_first_entry_id
        )
    };
    if meta(a) != meta(b) {
        parts.push(format!("meta {} vs {}", meta(a), meta(b)));
    }
    if a.entries != b.entries {
        parts.push(format!("entries {}", seq_diff(&a.entries, &b.entries)));
    }
    if a.groups != b.groups {
        parts.push(groups_diff(&a.groups, &b.groups));
    }
    parts.join("; ")
}

/// Names the first differing group and which of its parts differ.
fn groups_diff(a: &[GroupImage], b: &[GroupImage]) -> String {
    let pair = a.iter().zip(b).find(|(x, y)| x != y);
    let Some((x, y)) = pair.filter(|(x, y)| x.name == y.name) else {
        let names = |g: &[GroupImage]| g.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
        return format!("group names {}", seq_diff(&names(a), &names(b)));
    };
    let mut parts = Vec::new();
    if x.last_delivered_id != y.last_delivered_id {
        parts.push(format!("last-delivered-id {} vs {}", x.last_delivered_id, y.last_delivered_id));
    }
    if x.entries_read != y.entries_read {
        parts.push(format!("entries-read {:?} vs {:?}", x.entries_read, y.entries_read));
    }
    if x.pel != y.pel {
        parts.push(format!("pel {}", seq_diff(&x.pel, &y.pel)));
    }
    if x.consumers != y.consumers {
        parts.push(format!("consumers {}", seq_diff(&x.consumers, &y.consumers)));
    }
    format!("group {:?}: {}", x.name, parts.join(", "))
}

fn clip(text: String) -> String {
    if text.len() <= CLIP {
        return text;
    }
    let mut end = CLIP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...({} chars)", &text[..end], text.len())
}
