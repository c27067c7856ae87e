//! The mock master's write-ahead log: the WriteBatch reps it can stream, and the
//! sequence arithmetic Kvrocks does on them.

use std::sync::Arc;

/// The length of a WriteBatch rep's header: sequence (u64 LE) then count (u32 LE).
pub(super) const HEADER_LEN: usize = 12;

/// One WriteBatch, as the WAL holds it.
#[derive(Debug, Clone)]
pub(super) struct Batch {
    /// The sequence of its first record.
    pub(super) seq: u64,
    /// How many records (sequence numbers) it holds.
    pub(super) count: u32,
    /// The rep, as streamed.
    pub(super) rep: Arc<[u8]>,
}

impl Batch {
    /// Reads the header of `rep`. Panics when `rep` is shorter than a header.
    pub(super) fn new(rep: Vec<u8>) -> Batch {
        let header = rep.get(..HEADER_LEN).unwrap_or_else(|| {
            panic!("a WriteBatch rep holds at least a {HEADER_LEN}-byte header, this one {} bytes", rep.len())
        });
        let seq = u64::from_le_bytes(header[..8].try_into().unwrap());
        let count = u32::from_le_bytes(header[8..].try_into().unwrap());
        Batch { seq, count, rep: rep.into() }
    }

    /// The sequence that follows it.
    pub(super) fn next_seq(&self) -> u64 {
        self.seq + u64::from(self.count)
    }
}

/// The checkpoint's sequence and the batches after it.
#[derive(Debug, Default)]
pub(super) struct Wal {
    pub(super) checkpoint_seq: u64,
    pub(super) batches: Vec<Batch>,
    /// Batches below this sequence are gone.
    pub(super) purged_before: u64,
}

impl Wal {
    /// `LatestSeqNumber()`: the last sequence written.
    pub(super) fn latest(&self) -> u64 {
        let end = self.batches.last().map_or(0, |b| b.next_seq().saturating_sub(1));
        end.max(self.checkpoint_seq)
    }

    /// `checkWALBoundary` (`src/commands/cmd_replication.cc`): where a PSYNC from `seq`
    /// starts streaming (an index into `batches`), or `None` when `seq` is neither
    /// `latest + 1` nor the first sequence of a batch still held.
    pub(super) fn boundary(&self, seq: u64) -> Option<usize> {
        let latest = self.latest();
        if seq == latest.wrapping_add(1) {
            return Some(self.batches.len());
        }
        if seq > latest {
            return None;
        }
        if seq < self.purged_before {
            return None;
        }
        self.batches.iter().position(|b| b.seq == seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(seq: u64, count: u32) -> Vec<u8> {
        let mut r = seq.to_le_bytes().to_vec();
        r.extend_from_slice(&count.to_le_bytes());
        r.push(1);
        r
    }

    #[test]
    fn psync_is_accepted_at_batch_boundaries_only() {
        let mut wal = Wal { checkpoint_seq: 98, ..Wal::default() };
        assert_eq!(wal.boundary(99), Some(0));
        assert_eq!(wal.boundary(98), None);
        wal.batches = vec![Batch::new(rep(99, 1)), Batch::new(rep(100, 3)), Batch::new(rep(103, 1))];
        assert_eq!(wal.latest(), 103);
        assert_eq!(wal.boundary(99), Some(0));
        assert_eq!(wal.boundary(100), Some(1));
        assert_eq!(wal.boundary(101), None, "inside a batch");
        assert_eq!(wal.boundary(104), Some(3), "latest + 1");
        assert_eq!(wal.boundary(105), None);
        assert_eq!(wal.boundary(u64::MAX), None);
        wal.purged_before = 100;
        assert_eq!(wal.boundary(99), None);
        assert_eq!(wal.boundary(100), Some(1));
    }
}
