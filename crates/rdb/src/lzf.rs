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
    out.reserve(expected);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run).ok_or(LzfError::Truncated)?;
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
                i += 1;
            }
            len += 2;
            let low = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let produced = out.len() - start;
            if back > produced {
                return Err(LzfError::BadBackReference);
            }
            copy_back(out, back, len);
        }
        if out.len() - start > expected {
            break;
        }
    }
    let produced = out.len() - start;
    if produced != expected {
        out.truncate(start);
        return Err(LzfError::WrongLength { produced });
    }
    Ok(())
}

/// Copies `len` bytes starting `back` bytes before the end of `out` onto its end; the
/// regions may overlap, which repeats the pattern.
fn copy_back(out: &mut Vec<u8>, back: usize, len: usize) {
    let from = out.len() - back;
    if back >= len {
        out.extend_from_within(from..from + len);
    } else {
        for k in 0..len {
            let b = out.get(from + k).copied().unwrap_or(0);
            out.push(b);
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
