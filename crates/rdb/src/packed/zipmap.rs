//! Zipmap (`zipmap.c`, Redis before 2.6): `u8 count | { len key len free value pad }* |
//! 0xFF`.

use super::{le, within, Elem};

/// Bytes before the first entry.
pub(crate) const HEADER: usize = 1;
const EOF: u8 = 0xff;

/// A key, its value, and where the next pair starts.
pub(crate) type Pair = ((Elem, Elem), usize);

/// Decodes the (key, value) pair at `pos`; `None` at the end marker.
pub(crate) fn pair(blob: &[u8], pos: usize) -> Result<Option<Pair>, String> {
    if *blob.get(pos).ok_or("zipmap runs past its end")? == EOF {
        return if pos + 1 == blob.len() {
            Ok(None)
        } else {
            Err(format!("zipmap end marker at {pos} before the end"))
        };
    }
    let (klen, at) = length(blob, pos)?;
    within(blob, at, klen)?;
    let key = Elem::Bytes { at, len: klen };
    let (vlen, at) = length(blob, at + klen)?;
    let free = le(blob, at, 1)? as usize;
    let vat = at + 1;
    within(blob, vat, vlen + free)?;
    let next = vat + vlen + free;
    if next >= blob.len() {
        return Err(format!("zipmap entry at {pos} runs past the end"));
    }
    Ok(Some(((key, Elem::Bytes { at: vat, len: vlen }), next)))
}

fn length(blob: &[u8], pos: usize) -> Result<(usize, usize), String> {
    match *blob.get(pos).ok_or("zipmap length runs past its end")? {
        b @ 0..=253 => Ok((usize::from(b), pos + 1)),
        254 => Ok((le(blob, pos + 1, 4)? as usize, pos + 5)),
        _ => Err(format!("bad zipmap length at {pos}")),
    }
}
