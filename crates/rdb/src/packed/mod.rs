//! Decoders for the packed containers Redis stores as one string: listpack, ziplist,
//! intset and zipmap. Each works on a complete blob and yields one element at a time,
//! checking every length against the blob before using it.

pub(crate) mod intset;
pub(crate) mod listpack;
pub(crate) mod ziplist;
pub(crate) mod zipmap;

/// One element of a packed container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    /// Bytes at `at..at + len` within the blob.
    Bytes { at: usize, len: usize },
    /// An integer stored in binary.
    Int(i64),
}

/// Reads `n` little-endian bytes at `pos` as an unsigned number.
pub(crate) fn le(blob: &[u8], pos: usize, n: usize) -> Result<u64, String> {
    let bytes =
        blob.get(pos..pos.saturating_add(n)).ok_or_else(|| format!("{n}-byte integer at {pos} runs past the end"))?;
    Ok(bytes.iter().rev().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
}

/// Sign-extends the low `bits` bits of `v`.
pub(crate) fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Checks that `len` bytes at `at` lie within the blob.
pub(crate) fn within(blob: &[u8], at: usize, len: usize) -> Result<(), String> {
    match at.checked_add(len) {
        Some(end) if end <= blob.len() => Ok(()),
        _ => Err(format!("element of {len} bytes at {at} runs past the end")),
    }
}
