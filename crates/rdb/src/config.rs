//! Parser limits: how much one batch, one raw value and one buffered item may hold.

/// Limits that bound the parser's memory, whatever the size of the data or of one key.
///
/// The caller's input buffer never needs to hold more than about
/// `max(batch_bytes, raw_value_max) + 64 KiB` unconsumed bytes, plus the largest single
/// element (at most `max_buffered`). The 64 KiB is the step in which the parser releases
/// input, so that its CRC runs over long slices. A compressed string value bigger than
/// `batch_bytes` is expanded as a stream: the caller holds the compressed bytes of one
/// piece (about `batch_bytes` × 33/32 for data LZF cannot shrink, at most twice
/// `batch_bytes` for any valid stream), the parser an 8 KiB window and one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParserConfig {
    /// A collection's elements come out in batches of at most this many. Default 512.
    pub batch_items: usize,
    /// A batch also closes once its elements hold this many bytes, and a big string value
    /// comes out in pieces of this size. Default 1 MiB.
    pub batch_bytes: usize,
    /// A value whose encoded form is at most this many bytes is also handed out whole, raw,
    /// so that it can be sent as a RESTORE payload. 0 disables. Default 512 KiB.
    pub raw_value_max: usize,
    /// The largest single element, packed container (ziplist, listpack, intset), compressed
    /// element or module value the parser will hold whole. Default 512 MiB (Redis's own
    /// `proto-max-bulk-len`). String values are not bounded by it: they come in pieces,
    /// whether stored plainly or compressed.
    pub max_buffered: usize,
    /// When false, a key handed out raw ([`crate::Key::raw`] is `Some`) comes only raw:
    /// no `Value` pieces and no `KeyEnd` follow it (the value is still read and
    /// validated). For consumers that only need raw values. Default true.
    pub decode_raw_values: bool,
    /// When true, a string key whose whole value is one piece and is handed out raw comes
    /// as one event: its [`crate::Key::value`] holds the decoded value, and no `Value`
    /// piece and no `KeyEnd` follow. Saves two events per small string. Default false.
    pub inline_strings: bool,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            batch_items: 512,
            batch_bytes: 1 << 20,
            raw_value_max: 512 << 10,
            max_buffered: 512 << 20,
            decode_raw_values: true,
            inline_strings: false,
        }
    }
}

impl ParserConfig {
    /// Sets [`ParserConfig::batch_items`] (at least 1).
    pub fn batch_items(mut self, n: usize) -> Self {
        self.batch_items = n.max(1);
        self
    }

    /// Sets [`ParserConfig::batch_bytes`] (at least 1).
    pub fn batch_bytes(mut self, n: usize) -> Self {
        self.batch_bytes = n.max(1);
        self
    }

    /// Sets [`ParserConfig::raw_value_max`].
    pub fn raw_value_max(mut self, n: usize) -> Self {
        self.raw_value_max = n;
        self
    }

    /// Sets [`ParserConfig::decode_raw_values`].
    pub fn decode_raw_values(mut self, decode: bool) -> Self {
        self.decode_raw_values = decode;
        self
    }

    /// Sets [`ParserConfig::inline_strings`].
    pub fn inline_strings(mut self, inline: bool) -> Self {
        self.inline_strings = inline;
        self
    }

    /// Sets [`ParserConfig::max_buffered`] (at least 1 KiB).
    pub fn max_buffered(mut self, n: usize) -> Self {
        self.max_buffered = n.max(1024);
        self
    }

    /// The most decoded bytes (integers as text, expanded compressed strings) the parser
    /// holds in scratch for a value it may still hand out raw.
    pub(crate) fn raw_scratch_cap(&self) -> usize {
        self.raw_value_max.saturating_mul(4).saturating_add(64 << 10)
    }
}
