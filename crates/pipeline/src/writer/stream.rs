//! The live stream's side of the writer: each command is routed by its key into the
//! open routed buffer (one copy of its bytes), `MULTI`…`EXEC` blocks are collected and
//! kept atomic, multi-key commands are split where that is exact, and the rest become
//! barriers or broadcasts.

use replicant_convert::Commands;
use replicant_repl::Command;
use smallvec::SmallVec;

use super::work::Work;
use super::Writer;
use crate::route::{classify, key_args, Route};
use crate::WriterError;

/// A `MULTI` … `EXEC` block being collected.
pub(super) struct Transaction {
    commands: Commands,
    /// Whether a command in it spans slots or has no key.
    spans: bool,
}

impl Writer {
    /// Queues a live command, following `MULTI`/`EXEC` and routing by key.
    pub(super) fn queue_command(&mut self, cmd: &Command<'_>) -> Result<(), WriterError> {
        self.offset = cmd.offset;
        if cmd.db != self.stream_db {
            self.stream_db = cmd.db;
            self.db_marks.push_back((cmd.offset, cmd.db));
        }
        let args: SmallVec<[&[u8]; 8]> = cmd.args().collect();
        let db = self.db_map.unwrap_or(cmd.db);
        let (route, name, multi_key) = classify(&args, self.cfg.forward_publish);
        // Every key of a multi-key command is named when the target rejects it.
        let keys = if multi_key { key_args(&args) } else { Vec::new() };
        match route {
            Route::Skip | Route::Select(_) => self.queue_marker(),
            Route::Multi => {
                let mut tx = Commands::new();
                tx.push_raw("MULTI", db, None, cmd.raw());
                self.tx = Some(Transaction { commands: tx, spans: false });
            }
            Route::Exec => {
                if let Some(mut tx) = self.tx.take() {
                    tx.commands.push_raw("EXEC", db, None, cmd.raw());
                    self.queue_transaction(tx)?;
                    self.data_end = self.offset;
                }
            }
            Route::Discard => self.tx = None,
            Route::Slot(slot, at) => {
                let key = args.get(at).copied().unwrap_or_default();
                if let Some(tx) = self.tx.as_mut() {
                    tx.commands.push_keyed(name, db, key, slot, cmd.raw());
                    tx.commands.note_keys_of_last(&keys);
                } else {
                    let offset = self.offset;
                    let out = self.work.routed(offset);
                    out.push_keyed(name, db, key, slot, cmd.raw());
                    out.note_keys_of_last(&keys);
                    out.stamp_last(offset);
                    self.data_end = offset;
                }
            }
            Route::Split(parts) if self.tx.is_none() => {
                let offset = self.offset;
                let out = self.work.routed(offset);
                let from = out.len();
                for (_, idx) in parts {
                    let mut part: Vec<&[u8]> = vec![cmd.name()];
                    part.extend(idx.iter().filter_map(|i| args.get(*i).copied()));
                    let key = part.get(1).copied();
                    out.push_raw(name, db, key, &encode(&part));
                }
                out.stamp_from(from, offset);
                self.data_end = offset;
            }
            route => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.commands.push_raw(name, db, None, cmd.raw());
                    tx.commands.note_keys_of_last(&keys);
                    tx.spans = true;
                    return Ok(());
                }
                let mut one = Commands::new();
                one.push_raw(name, db, None, cmd.raw());
                one.note_keys_of_last(&keys);
                self.data_end = self.offset;
                match route {
                    Route::Broadcast => self.work.push(Work::Broadcast(one, self.offset)),
                    _ if self.topology.is_cluster() => {
                        return Err(WriterError::Cluster {
                            what: format!("{} ({})", String::from_utf8_lossy(cmd.name()), describe(&route)),
                            why: "its keys are in several hash slots, or replicant does not know where its keys are",
                        })
                    }
                    _ => self.work.push(Work::Barrier(one, self.offset)),
                }
            }
        }
        Ok(())
    }

    /// A command that writes nothing still moves the dispatched offset past it.
    fn queue_marker(&mut self) {
        if self.tx.is_none() {
            self.work.routed(self.offset);
        }
    }

    /// A transaction whose keys all belong to one sender runs there, in order with that
    /// sender's other commands; otherwise it runs alone. Either way it stays atomic.
    fn queue_transaction(&mut self, tx: Transaction) -> Result<(), WriterError> {
        let tx_spans = tx.spans;
        let tx = tx.commands;
        let slots: Vec<u16> = tx.info().iter().filter(|i| i.keyed).map(|i| i.slot).collect();
        let topology = &self.topology;
        let same = |a: u16, b: u16| topology.sender_for(a) == topology.sender_for(b);
        let one_sender = !tx_spans && slots.first().is_some_and(|first| slots.iter().all(|s| same(*s, *first)));
        let one_slot = !tx_spans && slots.first().is_some_and(|first| slots.iter().all(|s| s == first));
        if topology.is_cluster() && !one_slot {
            return Err(WriterError::Cluster {
                what: "a MULTI/EXEC transaction".into(),
                why: "its keys are in several hash slots, so it cannot run atomically on one node",
            });
        }
        if one_sender {
            // Bind the whole transaction to that sender: every command carries its slot.
            let slot = slots.first().copied().unwrap_or(0);
            let offset = self.offset;
            let bound = self.work.routed(offset);
            for (info, bytes) in tx.iter() {
                let mut info = info.clone();
                info.slot = slot;
                info.keyed = true;
                info.offset = offset;
                bound.push_encoded(&info, tx.note_of(&info), bytes);
            }
        } else {
            self.work.push(Work::Barrier(tx, self.offset));
        }
        Ok(())
    }
}

fn describe(route: &Route) -> &'static str {
    match route {
        Route::CrossSlot => "keys in several hash slots",
        _ => "not in replicant's command table",
    }
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}
