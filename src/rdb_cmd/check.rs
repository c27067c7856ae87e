//! `replicant rdb check`: validates structure and checksum and prints a summary, like
//! `redis-check-rdb`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use replicant_rdb::{Checksum, Event, Format, Kind, Value};

use super::feed::{parse_input, Input};
use crate::cli::CheckArgs;

/// What a check found.
#[derive(Default)]
struct Summary {
    format: Option<Format>,
    aux: Vec<(String, String)>,
    /// Keys per db and kind (indexed by `kind_index`).
    keys: BTreeMap<u64, [u64; KINDS.len()]>,
    with_expiry: u64,
    functions: u64,
    module_aux: u64,
    empty_skipped: u64,
    largest: Vec<Sized>,
    current: Option<Sized>,
    /// The current key's name, kept until we know whether it is among the largest.
    current_key: Vec<u8>,
    checksum: Option<Checksum>,
}

const KINDS: [Kind; 7] = [Kind::String, Kind::List, Kind::Set, Kind::ZSet, Kind::Hash, Kind::Stream, Kind::Module];

fn kind_index(kind: Kind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

/// One key's size.
#[derive(Clone)]
struct Sized {
    db: u64,
    key: Vec<u8>,
    kind: Kind,
    offset: u64,
    bytes: u64,
    elements: u64,
}

pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut input = Input::open(&args.file)?;
    let mut s = Summary::default();
    let started = std::time::Instant::now();
    let parser = args.parser.config().decode_raw_values(false);
    let finished = parse_input(&mut input, parser, |event| {
        s.event(event, args.largest);
        Ok(())
    })?;
    s.print(&input.name, finished.rdb_bytes, finished.trailing, started.elapsed());
    Ok(ExitCode::SUCCESS)
}

impl Summary {
    fn event(&mut self, event: &Event<'_>, keep: usize) {
        match event {
            Event::Header(f) => self.format = Some(*f),
            Event::Aux { key, value } => {
                self.aux.push((String::from_utf8_lossy(key).into_owned(), String::from_utf8_lossy(value).into_owned()))
            }
            Event::Function { .. } => self.functions += 1,
            Event::ModuleAux { .. } => self.module_aux += 1,
            Event::EmptyKeySkipped { .. } => self.empty_skipped += 1,
            Event::Key(k) => {
                if let Some(slot) = self.keys.entry(k.db).or_default().get_mut(kind_index(k.kind())) {
                    *slot += 1;
                }
                self.with_expiry += u64::from(k.expire_ms.is_some());
                match k.raw {
                    // Held raw, the key comes whole: no pieces and no KeyEnd follow.
                    Some(raw) => self.keep_largest(k.db, k.key, k.kind(), raw.end.saturating_sub(k.offset), 0, keep),
                    None => {
                        self.current_key.clear();
                        self.current_key.extend_from_slice(k.key.get(..120).unwrap_or(k.key));
                        self.current = Some(Sized {
                            db: k.db,
                            key: Vec::new(),
                            kind: k.kind(),
                            offset: k.offset,
                            bytes: 0,
                            elements: 0,
                        });
                    }
                }
            }
            Event::Value(v) => {
                if let Some(cur) = self.current.as_mut() {
                    cur.elements += elements(v);
                }
            }
            Event::KeyEnd { offset } => {
                if let Some(cur) = self.current.take() {
                    let key = std::mem::take(&mut self.current_key);
                    let bytes = offset.saturating_sub(cur.offset);
                    self.keep_largest(cur.db, &key, cur.kind, bytes, cur.elements, keep);
                    self.current_key = key;
                }
            }
            Event::End(c) => self.checksum = Some(*c),
            _ => {}
        }
    }

    fn keep_largest(&mut self, db: u64, key: &[u8], kind: Kind, bytes: u64, elements: u64, keep: usize) {
        if keep == 0 || (self.largest.len() == keep && self.largest.last().is_some_and(|l| l.bytes >= bytes)) {
            return;
        }
        let key = key.get(..120).unwrap_or(key).to_vec();
        let at = self.largest.partition_point(|l| l.bytes >= bytes);
        self.largest.insert(at, Sized { db, key, kind, offset: 0, bytes, elements });
        self.largest.truncate(keep);
    }

    fn print(&self, name: &str, bytes: u64, trailing: u64, took: std::time::Duration) {
        let total: u64 = self.keys.values().flatten().sum();
        println!("RDB file: {name} ({bytes} bytes, checked in {:.2?})", took);
        if let Some(f) = self.format {
            println!("format: {} version {}", f.flavor.name(), f.version);
        }
        for (k, v) in &self.aux {
            println!("aux: {k} = {v}");
        }
        println!("keys: {total} in {} databases, {} with an expiry", self.keys.len(), self.with_expiry);
        for (db, counts) in &self.keys {
            let per: Vec<String> = KINDS
                .iter()
                .zip(counts)
                .filter(|(_, n)| **n > 0)
                .map(|(kind, n)| format!("{} {n}", kind.name()))
                .collect();
            println!("  db {db}: {} keys ({})", counts.iter().sum::<u64>(), per.join(", "));
        }
        println!(
            "functions: {}, module aux records: {}, empty keys skipped: {}",
            self.functions, self.module_aux, self.empty_skipped
        );
        if !self.largest.is_empty() {
            println!("largest keys:");
            for k in &self.largest {
                let elements = if k.elements > 0 { format!(", {} elements", k.elements) } else { String::new() };
                let name = String::from_utf8_lossy(&k.key);
                println!("  db {} {name:?} {} {} bytes{elements}", k.db, k.kind.name(), k.bytes);
            }
        }
        match self.checksum {
            Some(Checksum::Verified(c)) => println!("checksum: verified ({c:#018x})"),
            Some(Checksum::Disabled) => {
                println!("checksum: not computed by the writer (stored as zero)")
            }
            Some(Checksum::Absent) | None => println!("checksum: none in this RDB version"),
        }
        if trailing > 0 {
            println!("note: {trailing} bytes follow the end of the RDB (ignored)");
        }
        println!("RDB looks OK");
    }
}

fn elements(v: &Value<'_>) -> u64 {
    (match v {
        Value::List(m) | Value::Set(m) => m.len(),
        Value::ZSet(s) => s.len(),
        Value::Hash(f) => f.len(),
        Value::StreamEntries(e) => e.len(),
        _ => 0,
    }) as u64
}
