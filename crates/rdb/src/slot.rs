//! Where decoded data lives until it is handed out: a [`Slot`] points into the caller's
//! input (zero-copy) or into the parser's scratch arena (integers turned to text,
//! decompressed strings), or holds a number. The public views in this module read
//! batches of slots back as typed items.

/// One decoded datum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Slot {
    /// Bytes in the input, at an absolute stream offset.
    Input { start: u64, len: usize },
    /// Bytes in the scratch arena.
    Scratch { start: usize, len: usize },
    /// A signed number.
    Int(i64),
    /// An unsigned number.
    Uint(u64),
    /// A score.
    Float(f64),
}

/// The two byte stores that slots point into, as they are during one call.
#[derive(Clone, Copy)]
pub(crate) struct Arena<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) base: u64,
    pub(crate) scratch: &'a [u8],
}

impl<'a> Arena<'a> {
    /// The bytes of a slot; empty for numbers or for a slot outside the stores, which the
    /// parser never produces.
    pub(crate) fn bytes(&self, slot: Slot) -> &'a [u8] {
        match slot {
            Slot::Input { start, len } => {
                let from = usize::try_from(start.saturating_sub(self.base)).unwrap_or(usize::MAX);
                from.checked_add(len).and_then(|end| self.input.get(from..end)).unwrap_or_default()
            }
            Slot::Scratch { start, len } => {
                start.checked_add(len).and_then(|end| self.scratch.get(start..end)).unwrap_or_default()
            }
            _ => &[],
        }
    }
}

fn num(slot: Option<&Slot>) -> u64 {
    match slot {
        Some(Slot::Uint(v)) => *v,
        Some(Slot::Int(v)) => *v as u64,
        _ => 0,
    }
}

fn int(slot: Option<&Slot>) -> i64 {
    match slot {
        Some(Slot::Int(v)) => *v,
        Some(Slot::Uint(v)) => *v as i64,
        _ => 0,
    }
}

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A batch of slots with a fixed number of slots per item.
#[derive(Clone, Copy)]
pub(crate) struct Batch<'a> {
    pub(crate) arena: Arena<'a>,
    pub(crate) slots: &'a [Slot],
}

impl<'a> Batch<'a> {
    fn bytes(&self, i: usize) -> &'a [u8] {
        self.slots.get(i).map(|s| self.arena.bytes(*s)).unwrap_or_default()
    }
}

macro_rules! batch_view {
    ($(#[$doc:meta])* $name:ident, $per:expr, $item:ty, |$b:ident, $i:ident| $make:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(pub(crate) Batch<'a>);

        impl<'a> $name<'a> {
            /// How many items the batch holds.
            pub fn len(&self) -> usize {
                self.0.slots.len() / $per
            }

            /// Whether the batch is empty (the parser never emits an empty one).
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The items, in the order they are stored.
            pub fn iter(&self) -> impl ExactSizeIterator<Item = $item> + 'a {
                let $b = self.0;
                (0..self.len()).map(move |k| {
                    let $i = k * $per;
                    $make
                })
            }
        }

        impl std::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_list().entries(self.iter()).finish()
            }
        }
    };
}

batch_view!(
    /// List elements or set members.
    Members, 1, &'a [u8], |b, i| b.bytes(i)
);
batch_view!(
    /// Sorted-set members with their scores.
    Scored, 2, (&'a [u8], f64), |b, i| (b.bytes(i), match b.slots.get(i + 1) {
        Some(Slot::Float(f)) => *f,
        _ => 0.0,
    })
);
batch_view!(
    /// Hash fields with their values and, when set, their absolute expiry in ms.
    Fields, 3, (&'a [u8], &'a [u8], Option<i64>), |b, i| {
        let ttl = match b.slots.get(i + 2) {
            Some(Slot::Int(ms)) => Some(*ms),
            _ => None,
        };
        (b.bytes(i), b.bytes(i + 1), ttl)
    }
);
batch_view!(
    /// Pending entries of a consumer group: ID, last delivery time (ms), delivery count.
    PendingEntries, 4, (StreamId, i64, u64), |b, i| (
        StreamId { ms: num(b.slots.get(i)), seq: num(b.slots.get(i + 1)) },
        int(b.slots.get(i + 2)),
        num(b.slots.get(i + 3)),
    )
);
batch_view!(
    /// Stream IDs (a consumer's pending entries).
    Ids, 2, StreamId, |b, i| StreamId { ms: num(b.slots.get(i)), seq: num(b.slots.get(i + 1)) }
);
batch_view!(
    /// Slot ranges (start, end), inclusive.
    Ranges, 2, (u64, u64), |b, i| (num(b.slots.get(i)), num(b.slots.get(i + 1)))
);

/// Stream entries: each with its ID and field/value pairs. Deleted entries are not
/// included.
#[derive(Clone, Copy)]
pub struct StreamEntries<'a>(pub(crate) Batch<'a>);

/// One stream entry.
#[derive(Clone, Copy)]
pub struct StreamEntry<'a> {
    /// The entry's ID.
    pub id: StreamId,
    batch: Batch<'a>,
    first: usize,
    pairs: usize,
}

impl<'a> StreamEntry<'a> {
    /// The field/value pairs, in order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let b = self.batch;
        let first = self.first;
        (0..self.pairs).map(move |k| (b.bytes(first + 2 * k), b.bytes(first + 2 * k + 1)))
    }

    /// How many field/value pairs the entry has.
    pub fn len(&self) -> usize {
        self.pairs
    }

    /// Whether the entry has no fields (Redis never writes one).
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }
}

impl std::fmt::Debug for StreamEntry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEntry").field("id", &self.id).field("fields", &self.fields().collect::<Vec<_>>()).finish()
    }
}

impl<'a> StreamEntries<'a> {
    /// The entries in ID order.
    pub fn iter(&self) -> impl Iterator<Item = StreamEntry<'a>> + 'a {
        let batch = self.0;
        let mut i = 0;
        std::iter::from_fn(move || {
            if i + 3 > batch.slots.len() {
                return None;
            }
            let id = StreamId { ms: num(batch.slots.get(i)), seq: num(batch.slots.get(i + 1)) };
            let pairs = usize::try_from(num(batch.slots.get(i + 2))).unwrap_or(0);
            let entry = StreamEntry { id, batch, first: i + 3, pairs };
            i += 3 + 2 * pairs;
            Some(entry)
        })
    }

    /// How many entries the batch holds.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the batch is empty (the parser never emits an empty one).
    pub fn is_empty(&self) -> bool {
        self.0.slots.is_empty()
    }
}

impl std::fmt::Debug for StreamEntries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
