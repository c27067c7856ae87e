//! A sink that records what the link delivers.

use std::sync::{Arc, Mutex};

use replicant_link::{Sink, SinkError};
use replicant_rdb::{Event, Value};
use replicant_repl::{Command, ReplId};

/// Everything delivered, in order.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub full_syncs: Vec<(Option<ReplId>, u64, bool)>,
    pub resumed: Vec<(ReplId, u64, bool)>,
    pub rdb_keys: u64,
    /// Elements of each list in the snapshot, by key.
    pub rdb_lists: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    pub snapshot_done: Option<u64>,
    /// Every command: arguments, offset after it, size.
    pub commands: Vec<(Vec<Vec<u8>>, u64, usize)>,
}

impl Record {
    /// The list's elements as numbers: from the snapshot, then every RPUSH of the stream.
    pub fn sequence(&self, key: &str) -> Vec<u64> {
        let key = key.as_bytes();
        let num = |b: &[u8]| std::str::from_utf8(b).unwrap().parse::<u64>().unwrap();
        let mut out: Vec<u64> =
            self.rdb_lists.iter().filter(|(k, _)| k == key).flat_map(|(_, v)| v.iter().map(|b| num(b))).collect();
        for (args, _, _) in &self.commands {
            if args[0].eq_ignore_ascii_case(b"RPUSH") && args[1] == key {
                out.extend(args[2..].iter().map(|b| num(b)));
            }
        }
        out
    }

    pub fn in_snapshot(&self, key: &str) -> usize {
        self.rdb_lists.iter().filter(|(k, _)| k == key.as_bytes()).map(|(_, v)| v.len()).sum()
    }

    pub fn in_stream(&self, key: &str) -> usize {
        self.commands.iter().filter(|(a, _, _)| a[0].eq_ignore_ascii_case(b"RPUSH") && a[1] == key.as_bytes()).count()
    }

    /// Each command's offset is the previous one plus its size, from the snapshot's
    /// offset (or a resume point) to the master's final offset.
    pub fn assert_offsets_add_up(&self, master_offset: u64) {
        let mut at = self.snapshot_done.expect("a snapshot");
        let resumes: Vec<u64> = self.resumed.iter().map(|r| r.1).collect();
        for (args, offset, size) in &self.commands {
            if *offset != at + *size as u64 {
                assert!(
                    resumes.contains(&at),
                    "gap before {args:?}: at {at}, command ends at {offset} with size {size}"
                );
            }
            assert_eq!(*offset, at + *size as u64, "offsets must be contiguous at {args:?}");
            at = *offset;
        }
        assert_eq!(at, master_offset, "the last offset is the master's");
    }
}

pub struct Recorder {
    shared: Arc<Mutex<Record>>,
    key: Vec<u8>,
}

impl Recorder {
    pub fn new(shared: Arc<Mutex<Record>>) -> Self {
        Recorder { shared, key: Vec::new() }
    }
}

impl Sink for Recorder {
    fn full_sync(&mut self, replid: Option<ReplId>, offset: u64, restart: bool) -> Result<(), SinkError> {
        self.shared.lock().unwrap().full_syncs.push((replid, offset, restart));
        Ok(())
    }

    fn rdb_event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
        let mut rec = self.shared.lock().unwrap();
        match event {
            Event::Key(k) => {
                rec.rdb_keys += 1;
                self.key = k.key.to_vec();
            }
            Event::Value(Value::List(items)) => {
                let items: Vec<Vec<u8>> = items.iter().map(<[u8]>::to_vec).collect();
                match rec.rdb_lists.iter_mut().find(|(k, _)| *k == self.key) {
                    Some((_, v)) => v.extend(items),
                    None => rec.rdb_lists.push((self.key.clone(), items)),
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn snapshot_done(&mut self, offset: u64) -> Result<(), SinkError> {
        self.shared.lock().unwrap().snapshot_done = Some(offset);
        Ok(())
    }

    fn resumed(&mut self, replid: ReplId, offset: u64, replid_changed: bool) -> Result<(), SinkError> {
        self.shared.lock().unwrap().resumed.push((replid, offset, replid_changed));
        Ok(())
    }

    fn command(&mut self, command: &Command<'_>) -> Result<(), SinkError> {
        let args = command.args().map(<[u8]>::to_vec).collect();
        self.shared.lock().unwrap().commands.push((args, command.offset, command.size));
        Ok(())
    }

    async fn ready(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}
