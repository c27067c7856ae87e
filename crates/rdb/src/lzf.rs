//! LZF decompression (liblzf 3.6 format, as Redis writes in its `0xC3` strings) into a
//! caller-owned buffer. Written here rather than taken from the `lzf` crate because that
//! one allocates a fresh vector of the untrusted declared size for every call.

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
            let from = op - back;
            let (done, rest) = buf.split_at_mut(op);
            if let (true, Some(src), Some(dst)) = (len <= 16, done.get(from..from + 16), rest.get_mut(..16)) {
                dst.copy_from_slice(src);
            } else if back >= len {
                buf.copy_within(from..from + len, op);
            } else {
                repeat(buf, from, op, len);
            }
            op += len;
        }
    }
    Ok(op)
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

    #[test]
    fn rejects_bad_input_without_panicking() {
        let mut out = Vec::new();
        assert_eq!(decompress_into(&[0x20, 0x00], 10, &mut out), Err(LzfError::BadBackReference));
        assert_eq!(decompress_into(&[0x05, b'a'], 6, &mut out), Err(LzfError::Truncated));
        assert!(matches!(decompress_into(&[0x00, b'a'], 5, &mut out), Err(LzfError::WrongLength { produced: 1 })));
        assert!(out.is_empty());
    }
}
