//! Intset (`intset.c`): `u32 width (2, 4 or 8) | u32 count | sorted little-endian
//! integers`.

use super::{le, sign_extend};

/// Bytes before the first element.
pub(crate) const HEADER: usize = 8;

/// Checks the header against the blob size; returns (width, count).
pub(crate) fn header(blob: &[u8]) -> Result<(usize, u64), String> {
    let width = le(blob, 0, 4)?;
    let count = le(blob, 4, 4)?;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("bad intset encoding {width}"));
    }
    if (HEADER as u64).checked_add(count * width) != Some(blob.len() as u64) {
        return Err(format!("intset of {count} × {width}-byte integers does not fit a {}-byte blob", blob.len()));
    }
    Ok((width as usize, count))
}

/// The `k`th element.
pub(crate) fn element(blob: &[u8], width: usize, k: u64) -> Result<i64, String> {
    let at = HEADER + (k as usize) * width;
    Ok(sign_extend(le(blob, at, width)?, (width * 8) as u32))
}
