//! The writer's queue of work, in source order, between the sink's sync side (which only
//! queues) and the dispatcher (which hands work to the senders). Commands routed by key
//! are gathered into one open buffer that the converter and the stream write into
//! directly; emptied buffers are kept for reuse, so steady work allocates nothing.

use std::collections::VecDeque;

use replicant_convert::Commands;

/// Queued work.
pub(super) enum Work {
    /// Commands each bound to its own key's sender (or barriers when keyless), and the
    /// source offset after the last of them.
    Routed(Commands, u64),
    /// Commands that must run alone, in order, on one connection (a transaction, or a
    /// command spanning slots).
    Barrier(Commands, u64),
    /// A keyless command for the whole server: alone, and on every node of a cluster.
    Broadcast(Commands, u64),
    /// The snapshot is complete.
    SnapshotDone(u64),
}

/// An open routed buffer is sealed at this many commands…
const OPEN_MAX_COMMANDS: usize = 4096;
/// …or at this many bytes.
const OPEN_MAX_BYTES: usize = 1 << 20;
/// Emptied buffers kept for reuse, at most, and the largest one kept.
const SPARES: usize = 4;
const SPARE_MAX_BYTES: usize = 4 << 20;

/// Work in source order: sealed items, then the open routed buffer.
#[derive(Default)]
pub(super) struct WorkQueue {
    sealed: VecDeque<Work>,
    open: Option<(Commands, u64)>,
    spare: Vec<Commands>,
}

impl WorkQueue {
    /// The routed buffer to append to, for commands up to source offset `offset`.
    pub(super) fn routed(&mut self, offset: u64) -> &mut Commands {
        if self.open.as_ref().is_some_and(|(c, _)| c.len() >= OPEN_MAX_COMMANDS || c.byte_len() >= OPEN_MAX_BYTES) {
            self.seal();
        }
        let spare = &mut self.spare;
        let (commands, at) = self.open.get_or_insert_with(|| (spare.pop().unwrap_or_default(), offset));
        *at = offset;
        commands
    }

    /// Whether nothing is queued.
    pub(super) fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.open.as_ref().is_none_or(|(c, _)| c.is_empty())
    }

    /// Queues work after everything queued so far.
    pub(super) fn push(&mut self, work: Work) {
        self.seal();
        self.sealed.push_back(work);
    }

    /// The oldest work.
    pub(super) fn pop(&mut self) -> Option<Work> {
        if self.sealed.is_empty() {
            self.seal();
        }
        self.sealed.pop_front()
    }

    /// Takes back a buffer whose commands were dispatched.
    pub(super) fn recycle(&mut self, mut commands: Commands) {
        if self.spare.len() < SPARES && commands.capacity_bytes() <= SPARE_MAX_BYTES {
            commands.clear();
            self.spare.push(commands);
        }
    }

    fn seal(&mut self) {
        if let Some((commands, at)) = self.open.take() {
            self.sealed.push_back(Work::Routed(commands, at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &mut WorkQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop())
            .map(|w| match w {
                Work::Routed(c, at) => format!("routed {} @{at}", c.len()),
                Work::Barrier(_, at) => format!("barrier @{at}"),
                Work::Broadcast(_, at) => format!("broadcast @{at}"),
                Work::SnapshotDone(at) => format!("done @{at}"),
            })
            .collect()
    }

    #[test]
    fn keeps_source_order_around_the_open_buffer() {
        let mut q = WorkQueue::default();
        q.routed(10).command("SET", 0, Some(b"a"), &[b"a", b"1"]);
        q.routed(20).command("SET", 0, Some(b"b"), &[b"b", b"1"]);
        q.push(Work::Barrier(Commands::new(), 30));
        q.routed(40).command("SET", 0, Some(b"c"), &[b"c", b"1"]);
        q.push(Work::SnapshotDone(40));
        assert_eq!(names(&mut q), ["routed 2 @20", "barrier @30", "routed 1 @40", "done @40"]);
    }

    #[test]
    fn seals_a_full_buffer_and_reuses_emptied_ones() {
        let mut q = WorkQueue::default();
        for i in 0..OPEN_MAX_COMMANDS + 1 {
            q.routed(i as u64).command("SET", 0, Some(b"k"), &[b"k", b"v"]);
        }
        let Some(Work::Routed(first, _)) = q.pop() else { panic!("routed work first") };
        assert_eq!(first.len(), OPEN_MAX_COMMANDS);
        let capacity = first.capacity_bytes();
        q.recycle(first);
        assert_eq!(names(&mut q), [format!("routed 1 @{OPEN_MAX_COMMANDS}")]);
        assert!(q.routed(0).is_empty());
        assert_eq!(q.routed(0).capacity_bytes(), capacity, "the emptied buffer is reused");
    }
}
