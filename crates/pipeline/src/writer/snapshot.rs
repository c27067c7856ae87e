//! Snapshot keys converted straight into their sender's pending batch. The converter then
//! writes a key's commands where they are sent from, instead of into the routed buffer
//! that `dispatch` copies out command by command. Used whenever nothing is queued ahead of
//! the key (so the order is the queue's); otherwise keys take the queue like the rest.

use replicant_convert::Commands;
use replicant_rdb::Event as RdbEvent;

use super::Writer;
use crate::WriterError;

impl Writer {
    /// Whether `event` can be converted straight into a sender's batch: a key's event
    /// during a snapshot, with nothing queued before it.
    pub(super) fn converts_directly(&self, event: &RdbEvent<'_>) -> bool {
        !self.streaming
            && self.work.is_empty()
            && matches!(event, RdbEvent::Key(_) | RdbEvent::Value(_) | RdbEvent::KeyEnd { .. })
    }

    /// Converts a key's event into the pending batch of the sender that `dispatch` would
    /// give its commands (see `sender_for`): the key's slot's, or its node's first sender
    /// for a collection rebuilt with several commands.
    pub(super) fn convert_directly(&mut self, event: &RdbEvent<'_>, offset: u64) -> Result<(), WriterError> {
        let (sender, head) = self.key_senders;
        let i = if self.converter.rebuilding_collection() { head } else { sender };
        let db = self.converter.db();
        let cluster = self.topology.is_cluster();
        let dispatched = self.dispatched;
        let Some(shard) = self.shards.get_mut(i) else { return Err(WriterError::stopped()) };
        shard.prepare(db, cluster, dispatched);
        let from = shard.pending.len();
        self.converter.event(event, &mut shard.pending)?;
        if shard.pending.len() == from {
            return Ok(());
        }
        if cluster && db != 0 {
            return Err(super::not_in_cluster(db));
        }
        shard.pending.stamp_from(from, offset);
        shard.pending_offset = offset;
        if i != head && self.converter.rebuilding_collection() {
            // The key turned out to be a collection rebuilt with commands: its first
            // commands join the rest on the node's first sender.
            self.move_tail(i, from, head, offset)?;
        }
        Ok(())
    }

    /// Moves sender `from_sender`'s pending commands from the `from`-th on to sender `to`.
    fn move_tail(&mut self, from_sender: usize, from: usize, to: usize, offset: u64) -> Result<(), WriterError> {
        let Some(shard) = self.shards.get_mut(from_sender) else { return Err(WriterError::stopped()) };
        let mut tail = Commands::new();
        for (info, bytes) in shard.pending.iter().skip(from) {
            tail.push_encoded(info, shard.pending.note_of(info), bytes);
        }
        shard.pending.truncate(from);
        for (info, bytes) in tail.iter() {
            self.append(to, info, tail.note_of(info), bytes, offset)?;
        }
        Ok(())
    }
}
