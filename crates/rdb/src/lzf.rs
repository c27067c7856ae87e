//! LZF decompression (liblzf 3.6 format, as Redis writes in its `0xC3` strings) into a
//! caller-owned buffer. Written here rather than taken from the `lzf` crate because that
//! one allocates a fresh vector of the untrusted declared size for every call.
//!
//! Two ways in: [`decompress_into`] expands a whole block at once (small strings, packed
//! containers), and [`expand_some`] expands a block as a stream, a slice of input at a
//! time, into a window that keeps only the history a back reference can reach
//! ([`WINDOW`] bytes), for string values too big to hold whole.

/// How far back a back reference reaches: a 13-bit offset, plus one.
pub(crate) const WINDOW: usize = 8 << 10;

/// The most bytes one instruction writes: a back reference of 7 + 255 + 2 bytes.
pub(crate) const MAX_RUN: usize = 264;

/// Room after the last byte a window may be written to, for the fixed-size copies.
pub(crate) const OVERCOPY: usize = 32;

/// Why a compressed block could not be expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LzfError {
    /// The block refers back before the start of the output.
    BadBackReference,
    /// The block ends in the middle of an instruction.
    Truncated,
    /// The block expands to a different length than declared.
    WrongLength { produced: usize },
}

impl std::fmt::Display for LzfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LzfError::BadBackReference => f.write_str("a back reference points before the start of the output"),
            LzfError::Truncated => f.write_str("the compressed data ends in the middle of an instruction"),
            LzfError::WrongLength { produced } => write!(f, "it expands to at least {produced} bytes"),
        }
    }
}

/// Appends the expansion of `input` to `out`, which must come to exactly `expected` bytes.
pub(crate) fn decompress_into(input: &[u8], expected: usize, out: &mut Vec<u8>) -> Result<(), LzfError> {
    let start = out.len();
    out.resize(start + expected, 0);
    let err = match expand(input, out.get_mut(start..).unwrap_or_default()) {
        Ok(n) if n == expected => return Ok(()),
        Ok(n) => LzfError::WrongLength { produced: n },
        Err(e) => e,
    };
    out.truncate(start);
    Err(err)
}

/// Expands `input` into `buf`, which is exactly the declared size; returns the number of
/// bytes produced. Literal runs (at most 32 bytes) and short back references are copied
/// as fixed-size blocks where both sides have room, which compiles to a few vector moves
/// instead of a `memcpy` call; the bytes written past the run are overwritten later.
fn expand(input: &[u8], buf: &mut [u8]) -> Result<usize, LzfError> {
    let cap = buf.len();
    let (mut i, mut op) = (0usize, 0usize);
    while let Some(&ctrl) = input.get(i) {
        let ctrl = usize::from(ctrl);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if op + run > cap {
                return Err(LzfError::WrongLength { produced: op + run });
            }
            if let (Some(src), Some(dst)) = (input.get(i..i + 32), buf.get_mut(op..op + 32)) {
                dst.copy_from_slice(src);
            } else {
                let src = input.get(i..i + run).ok_or(LzfError::Truncated)?;
                buf.get_mut(op..op + run).ok_or(LzfError::Truncated)?.copy_from_slice(src);
            }
            i += run;
            op += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
                i += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i).ok_or(LzfError::Truncated)?) + 1;
            i += 1;
            if back > op {
                return Err(LzfError::BadBackReference);
            }
            if op + len > cap {
                return Err(LzfError::WrongLength { produced: op + len });
            }
            copy_back(buf, op, back, len).ok_or(LzfError::WrongLength { produced: op + len })?;
            op += len;
        }
    }
    Ok(op)
}

/// How far one call of [`expand_some`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Partial {
    /// Input bytes read: whole instructions only.
    pub(crate) read: usize,
    /// Where the output now ends in the window.
    pub(crate) op: usize,
    /// When the input ran out before an instruction was whole: how many bytes that
    /// instruction needs from `read` on (0 when the call stopped at `stop`).
    pub(crate) need: usize,
}

/// Where a streamed expansion failed: the error, the input position of the instruction
/// at fault and the output position before it.
pub(crate) type Failed = (LzfError, usize, usize);

/// Expands instructions from `input` into `buf`, whose first `op` bytes are the output
/// so far (or, once it is longer, the last [`WINDOW`] bytes of it and what follows),
/// until the output reaches `stop` or the input runs out.
///
/// Only whole instructions are read: one that is cut by the end of `input` is left for
/// the next call (`Partial::need` says how long it is), unless `last` says `input` holds
/// the rest of the block, when it is [`LzfError::Truncated`]. The block ending between
/// instructions before `stop` is for the caller to judge against the declared length.
/// The last instruction may write up to [`MAX_RUN`] - 1 bytes past `stop`, never past
/// `limit` (past it is [`LzfError::WrongLength`], with the position counted in `buf`).
/// `buf` should reach [`OVERCOPY`] bytes past `limit` for the fast copies; with less it
/// is only slower.
pub(crate) fn expand_some(
    input: &[u8],
    buf: &mut [u8],
    mut op: usize,
    stop: usize,
    limit: usize,
    last: bool,
) -> Result<Partial, Failed> {
    let limit = limit.min(buf.len());
    let mut i = 0usize;
    let cut = |i: usize, op: usize, need: usize| {
        if last {
            Err((LzfError::Truncated, i, op))
        } else {
            Ok(Partial { read: i, op, need })
        }
    };
    while op < stop {
        let Some(&ctrl) = input.get(i) else {
            // Between instructions: the end of the block, or of what arrived so far.
            return Ok(Partial { read: i, op, need: usize::from(!last) });
        };
        let ctrl = usize::from(ctrl);
        if ctrl < 32 {
            let run = ctrl + 1;
            let Some(src) = input.get(i + 1..i + 1 + run) else {
                return cut(i, op, 1 + run);
            };
            if op + run > limit {
                return Err((LzfError::WrongLength { produced: op + run }, i, op));
            }
            if let (Some(src), Some(dst)) = (input.get(i + 1..i + 33), buf.get_mut(op..op + 32)) {
                dst.copy_from_slice(src);
            } else if let Some(dst) = buf.get_mut(op..op + run) {
                dst.copy_from_slice(src);
            }
            i += 1 + run;
            op += run;
        } else {
            let long = ctrl >> 5 == 7;
            let size = if long { 3 } else { 2 };
            let Some(ins) = input.get(i..i + size) else {
                return cut(i, op, size);
            };
            let (extra, low) = match ins {
                [_, extra, low] => (usize::from(*extra), usize::from(*low)),
                [_, low] => (0, usize::from(*low)),
                _ => return Err((LzfError::Truncated, i, op)),
            };
            let len = (ctrl >> 5) + extra + 2;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            if back > op {
                return Err((LzfError::BadBackReference, i, op));
            }
            if op + len > limit {
                return Err((LzfError::WrongLength { produced: op + len }, i, op));
            }
            // `op + len <= limit <= buf.len()`, so the copy is in range.
            copy_back(buf, op, back, len).ok_or((LzfError::WrongLength { produced: op + len }, i, op))?;
            i += size;
            op += len;
        }
    }
    Ok(Partial { read: i, op, need: 0 })
}

/// Writes a back reference: `len` bytes at `op`, copied from `back` bytes before it. The
/// caller checked `back <= op`; `None` when `op + len` does not fit in `buf`. Short copies
/// that do not overlap move 16 bytes at once (the window has room past its end).
fn copy_back(buf: &mut [u8], op: usize, back: usize, len: usize) -> Option<()> {
    let from = op.checked_sub(back)?;
    if op.checked_add(len)? > buf.len() {
        return None;
    }
    let (done, rest) = buf.split_at_mut_checked(op)?;
    if let (true, Some(src), Some(dst)) = (len <= 16, done.get(from..from + 16), rest.get_mut(..16)) {
        dst.copy_from_slice(src);
    } else if back >= len {
        buf.copy_within(from..from + len, op);
    } else {
        repeat(buf, from, op, len);
    }
    Some(())
}

/// Copies `len` bytes from `from` to `op` (both in `buf`) front to back, where the
/// ranges overlap: the last `op - from` bytes repeat. A run of one byte (the zero or
/// space padding that LZF sees most) is a fill; otherwise the copy goes byte by byte, as
/// the reference decoder does, since a back reference is at most 264 bytes long.
fn repeat(buf: &mut [u8], from: usize, op: usize, len: usize) {
    if op - from == 1 {
        let byte = buf.get(from).copied().unwrap_or_default();
        if let Some(run) = buf.get_mut(op..op + len) {
            run.fill(byte);
        }
        return;
    }
    for k in 0..len {
        if let Some(&byte) = buf.get(from + k) {
            if let Some(slot) = buf.get_mut(op + k) {
                *slot = byte;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_what_the_lzf_crate_compresses() {
        let mut data = Vec::new();
        for i in 0..5000u32 {
            data.extend_from_slice(format!("value-{}-", i % 37).as_bytes());
        }
        data.extend(std::iter::repeat_n(b'a', 3000));
        let packed = lzf::compress(&data).unwrap();
        let mut out = vec![9, 9];
        decompress_into(&packed, data.len(), &mut out).unwrap();
        assert_eq!(&out[2..], &data[..]);
    }

    /// Streams `packed` through [`expand_some`] the way the string decoder does: input in
    /// slices of `chunk` (growing by `chunk` while an instruction is cut), output in
    /// pieces of `piece` with a window of WINDOW bytes of history.
    fn stream(packed: &[u8], ulen: usize, piece: usize, chunk: usize) -> Result<Vec<u8>, LzfError> {
        let mut window = vec![0u8; WINDOW + piece + MAX_RUN + OVERCOPY];
        let (mut out, mut pos, mut hist, mut filled, mut avail) = (Vec::new(), 0, 0, 0, chunk);
        while out.len() < ulen {
            let target = (ulen - out.len()).min(piece);
            while filled < target {
                let end = (pos + avail).min(packed.len());
                let last = end == packed.len();
                let limit = hist + (ulen - out.len()).min(target + MAX_RUN);
                let part = expand_some(&packed[pos..end], &mut window, hist + filled, hist + target, limit, last)
                    .map_err(|(e, _, _)| e)?;
                pos += part.read;
                filled = part.op - hist;
                if filled < target && last && pos == packed.len() {
                    return Err(LzfError::WrongLength { produced: out.len() + filled });
                }
                avail = if part.read == 0 { avail + chunk } else { chunk };
            }
            let end = hist + target;
            out.extend_from_slice(&window[hist..end]);
            let keep = end.min(WINDOW);
            window.copy_within(end - keep..hist + filled, 0);
            filled -= target;
            hist = keep;
        }
        Ok(out)
    }

    #[test]
    fn streamed_expansion_matches_whole_for_every_split() {
        let mut data = Vec::new();
        for i in 0..3000u32 {
            data.extend_from_slice(format!("v{}-", (i * 7919) % 113).as_bytes());
            if i % 50 == 0 {
                data.extend(std::iter::repeat_n(b'z', 300));
            }
        }
        let packed = lzf::compress(&data).unwrap();
        for piece in [1, 7, 264, 1000, 8192, 20_000] {
            for chunk in [1, 2, 33, 34, 4096, usize::MAX / 2] {
                assert_eq!(stream(&packed, data.len(), piece, chunk).unwrap(), data, "piece {piece}, chunk {chunk}");
            }
        }
    }

    #[test]
    fn streamed_expansion_rejects_bad_input() {
        let mut out = vec![0u8; 64];
        // A back reference before the start.
        assert_eq!(expand_some(&[0x20, 0x00], &mut out, 0, 10, 10, true), Err((LzfError::BadBackReference, 0, 0)));
        // Cut in a literal run: more wanted, or truncated when nothing more comes.
        let p = expand_some(&[0x00, b'a', 0x05, b'b'], &mut out, 0, 10, 10, false).unwrap();
        assert_eq!(p, Partial { read: 2, op: 1, need: 7 });
        assert_eq!(expand_some(&[0x05, b'b'], &mut out, 1, 10, 10, true), Err((LzfError::Truncated, 0, 1)));
        // Cut in a long back reference.
        assert_eq!(expand_some(&[0xe0], &mut out, 1, 10, 10, false).unwrap(), Partial { read: 0, op: 1, need: 3 });
        // Past the limit.
        let e = expand_some(&[0x03, 1, 2, 3, 4], &mut out, 0, 10, 3, true);
        assert_eq!(e, Err((LzfError::WrongLength { produced: 4 }, 0, 0)));
        // Stops at `stop`, the last instruction spilling past it.
        let p = expand_some(&[0x03, 1, 2, 3, 4, 0x00, 5], &mut out, 0, 2, 10, true).unwrap();
        assert_eq!(p, Partial { read: 5, op: 4, need: 0 });
        assert_eq!(&out[..4], &[1, 2, 3, 4]);
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        let mut out = Vec::new();
        assert_eq!(decompress_into(&[0x20, 0x00], 10, &mut out), Err(LzfError::BadBackReference));
        assert_eq!(decompress_into(&[0x05, b'a'], 6, &mut out), Err(LzfError::Truncated));
        assert!(matches!(decompress_into(&[0x00, b'a'], 5, &mut out), Err(LzfError::WrongLength { produced: 1 })));
        assert!(out.is_empty());
    }
}
