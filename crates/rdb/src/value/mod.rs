//! Per-encoding value decoders. Each is a small `Copy` state machine whose `step` decodes
//! one unit (an element, a header, a node) and records what it found as slots. A step
//! that runs out of input changes nothing: the driver restores the state it saved and
//! asks the caller for more bytes, so the same step runs again later.

mod module;
mod packed;
mod seq;
mod stream;

pub(crate) use module::skip_module_ops;

use crate::event::{ModuleId, StreamIdmp, StreamMeta};
use crate::format::Encoding;
use crate::reader::{Cursor, Res};
use crate::slot::{Slot, StreamId};
use crate::Error;

/// Everything a step may read from or write to.
pub(crate) struct Cx<'a, 's> {
    pub(crate) cur: Cursor<'a>,
    pub(crate) input: &'a [u8],
    pub(crate) base: u64,
    pub(crate) scratch: &'s mut Vec<u8>,
    pub(crate) slots: &'s mut Vec<Slot>,
    /// The master-entry field names of the stream node being read.
    pub(crate) node_fields: &'s mut Vec<u8>,
    pub(crate) node_ranges: &'s mut Vec<(usize, usize)>,
    /// Largest single string or blob to hold.
    pub(crate) limit: usize,
    /// Size of one piece of a big string.
    pub(crate) piece: usize,
    /// How many more items the open batch takes (at least 1).
    pub(crate) room: usize,
    /// How many more bytes the open batch takes before it closes (at least 1).
    pub(crate) bytes_room: usize,
    /// Where a compressed string value too big to hold whole is expanded: the history a
    /// back reference can reach, then the piece being filled. Kept between steps.
    pub(crate) window: &'s mut Vec<u8>,
    /// Set by a step that learns how big the value will be (a streamed compressed
    /// string), so that the driver can decide at once whether it is raw.
    pub(crate) declared: Option<Declared>,
}

/// The size a value declares before it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Declared {
    /// Offset just past the value's encoded bytes.
    pub(crate) end: u64,
    /// Bytes it decodes to in scratch.
    pub(crate) decoded: u64,
}

impl Cx<'_, '_> {
    /// Records an item's slots. One push each: `extend` from an array compiles to a
    /// `memcpy` call per item, which showed in profiles of big collections.
    #[inline]
    fn record<const N: usize>(&mut self, slots: [Slot; N]) {
        self.slots.reserve(N);
        for slot in slots {
            self.slots.push(slot);
        }
    }

    fn string(&mut self) -> Res<Slot> {
        self.cur.string(self.scratch, self.limit)
    }

    fn blob(&mut self) -> Res<Blob> {
        let at = self.cur.offset();
        let slot = self.string()?;
        Ok(match slot {
            Slot::Input { start, len } => Blob { loc: Loc::Input(start), len, at },
            Slot::Scratch { start, len } => Blob { loc: Loc::Scratch(start), len, at },
            _ => Blob { loc: Loc::Scratch(0), len: 0, at },
        })
    }

    /// The bytes of a blob.
    fn bytes(&self, blob: Blob) -> &[u8] {
        let range = match blob.loc {
            Loc::Input(start) => start
                .checked_sub(self.base)
                .and_then(|from| usize::try_from(from).ok())
                .and_then(|from| self.input.get(from..from.checked_add(blob.len)?)),
            Loc::Scratch(start) => start.checked_add(blob.len).and_then(|end| self.scratch.get(start..end)),
        };
        range.unwrap_or_default()
    }
}

/// What one step produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Step {
    /// `n` items of this kind were recorded as slots.
    Items(ItemKind, usize),
    /// A piece that is not batched.
    Single(Single),
    /// `n` items were recorded and they complete the value.
    Last(ItemKind, usize),
    /// Input was read, nothing to hand out yet.
    Progress,
    /// The value is complete.
    Done,
}

/// The kind of items a batch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    StringPiece,
    List,
    Set,
    ZSet,
    Hash,
    StreamEntries,
    GroupPending,
    ConsumerPending,
}

/// Value pieces handed out one at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Single {
    StreamMeta(StreamMeta),
    Group { name: Slot, last_id: StreamId, entries_read: Option<u64> },
    Consumer { name: Slot, seen_ms: i64, active_ms: Option<i64> },
    Idmp(StreamIdmp),
    Module(ModuleId),
}

/// A packed container held whole, in the input or in scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blob {
    pub(crate) loc: Loc,
    pub(crate) len: usize,
    /// Offset of the string that held it, for error messages.
    pub(crate) at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    Input(u64),
    Scratch(usize),
}

impl Blob {
    /// A slot for `len` bytes at `at` within the blob.
    fn slot(&self, at: usize, len: usize) -> Slot {
        match self.loc {
            Loc::Input(start) => Slot::Input { start: start + at as u64, len },
            Loc::Scratch(start) => Slot::Scratch { start: start + at, len },
        }
    }

    fn corrupt(&self, what: &str, detail: String) -> Error {
        Error::corrupt(self.at, format!("{what}: {detail}"))
    }
}

/// Where a value decoder is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ValueState {
    String(seq::StringState),
    Seq(seq::SeqState),
    Packed(packed::PackedState),
    Quicklist(packed::QuicklistState),
    Stream(stream::StreamState),
    /// A module value; `true` once it was read.
    Module(bool),
}

impl ValueState {
    /// The decoder for a value of this encoding, before anything of it is read.
    pub(crate) fn start(enc: Encoding) -> Self {
        use Encoding::*;
        match enc {
            String => ValueState::String(seq::StringState::default()),
            List | Set | ZSet | ZSet2 | Hash | HashMetadataPreGa | HashMetadata | Hash2 => {
                ValueState::Seq(seq::SeqState::new(enc))
            }
            ListQuicklist | ListQuicklist2 => ValueState::Quicklist(packed::QuicklistState::new(enc)),
            Stream(rev) => ValueState::Stream(stream::StreamState::new(rev)),
            Module2 => ValueState::Module(false),
            _ => ValueState::Packed(packed::PackedState::new(enc)),
        }
    }

    /// A copy to restore if a step fails, for the decoders that may change their state
    /// before a read fails. Strings and plain collections change theirs only once a unit
    /// was read whole, so they need none (and they step once per element).
    pub(crate) fn checkpoint(&self) -> Option<ValueState> {
        match self {
            ValueState::String(_) | ValueState::Seq(_) => None,
            other => Some(*other),
        }
    }

    /// Decodes one unit.
    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Res<Step> {
        match self {
            ValueState::String(s) => s.step(cx),
            ValueState::Seq(s) => s.step(cx),
            ValueState::Packed(s) => s.step(cx),
            ValueState::Quicklist(s) => s.step(cx),
            ValueState::Stream(s) => s.step(cx),
            ValueState::Module(true) => Ok(Step::Done),
            ValueState::Module(read) => {
                let step = module::step(cx)?;
                *read = true;
                Ok(step)
            }
        }
    }

    /// The blob in the input that later steps still read from, if any.
    pub(crate) fn input_blob_start(&self) -> Option<u64> {
        self.blob().and_then(|b| match b.loc {
            Loc::Input(start) => Some(start),
            Loc::Scratch(_) => None,
        })
    }

    /// The blob in scratch that later steps still read from, if any.
    pub(crate) fn scratch_blob(&self) -> Option<(usize, usize)> {
        self.blob().and_then(|b| match b.loc {
            Loc::Scratch(start) => Some((start, b.len)),
            Loc::Input(_) => None,
        })
    }

    /// Moves a scratch blob to the start of scratch, after the driver compacted it.
    pub(crate) fn rebase_scratch_blob(&mut self, new_start: usize) {
        if let Some(b) = self.blob_mut() {
            if let Loc::Scratch(_) = b.loc {
                b.loc = Loc::Scratch(new_start);
            }
        }
    }

    fn blob(&self) -> Option<Blob> {
        match self {
            ValueState::Packed(s) => s.blob(),
            ValueState::Quicklist(s) => s.blob(),
            ValueState::Stream(s) => s.blob(),
            _ => None,
        }
    }

    fn blob_mut(&mut self) -> Option<&mut Blob> {
        match self {
            ValueState::Packed(s) => s.blob_mut(),
            ValueState::Quicklist(s) => s.blob_mut(),
            ValueState::Stream(s) => s.blob_mut(),
            _ => None,
        }
    }
}
