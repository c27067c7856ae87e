//! Listpack (`listpack.c`): `u32 total | u16 count | entries | 0xFF`, each entry being
//! `encoding+data | backlen`.

use super::{le, sign_extend, within, Elem};

/// Bytes before the first entry.
pub(crate) const HEADER: usize = 6;
const EOF: u8 = 0xff;

/// Checks the header and returns the declared element count (`None` if it was too
/// large to store, 65535).
pub(crate) fn header(blob: &[u8]) -> Result<Option<u64>, String> {
    let total = le(blob, 0, 4)?;
    if total != blob.len() as u64 {
        return Err(format!("listpack header says {total} bytes, blob has {}", blob.len()));
    }
    if blob.len() < HEADER + 1 || blob.last() != Some(&EOF) {
        return Err("listpack does not end with 0xFF".into());
    }
    let count = le(blob, 4, 2)?;
    Ok((count != 65535).then_some(count))
}

/// Decodes the entry at `pos`; `None` at the end marker.
pub(crate) fn entry(blob: &[u8], pos: usize) -> Result<Option<(Elem, usize)>, String> {
    let b = *blob.get(pos).ok_or("listpack runs past its end")?;
    let (elem, size) = match b {
        EOF => {
            return if pos + 1 == blob.len() {
                Ok(None)
            } else {
                Err(format!("listpack end marker at {pos} before the end"))
            }
        }
        0x00..=0x7f => (Elem::Int(i64::from(b)), 1),
        0x80..=0xbf => str_entry(blob, pos, 1, usize::from(b & 0x3f))?,
        0xc0..=0xdf => {
            let v = (u64::from(b & 0x1f) << 8) | le(blob, pos + 1, 1)?;
            (Elem::Int(sign_extend(v, 13)), 2)
        }
        0xe0..=0xef => {
            let len = (usize::from(b & 0x0f) << 8) | le(blob, pos + 1, 1)? as usize;
            str_entry(blob, pos, 2, len)?
        }
        0xf0 => {
            let len = usize::try_from(le(blob, pos + 1, 4)?).map_err(|e| e.to_string())?;
            str_entry(blob, pos, 5, len)?
        }
        0xf1 => (Elem::Int(sign_extend(le(blob, pos + 1, 2)?, 16)), 3),
        0xf2 => (Elem::Int(sign_extend(le(blob, pos + 1, 3)?, 24)), 4),
        0xf3 => (Elem::Int(sign_extend(le(blob, pos + 1, 4)?, 32)), 5),
        0xf4 => (Elem::Int(le(blob, pos + 1, 8)? as i64), 9),
        _ => return Err(format!("bad listpack encoding {b:#04x} at {pos}")),
    };
    let next = pos + size + backlen_size(size);
    if next >= blob.len() {
        return Err(format!("listpack entry at {pos} runs past the end"));
    }
    Ok(Some((elem, next)))
}

fn str_entry(blob: &[u8], pos: usize, head: usize, len: usize) -> Result<(Elem, usize), String> {
    let at = pos + head;
    within(blob, at, len)?;
    Ok((Elem::Bytes { at, len }, head + len))
}

/// Size of the back-length field that follows an entry of `size` bytes.
fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(entries: &[&[u8]]) -> Vec<u8> {
        let body: Vec<u8> = entries.concat();
        let total = (HEADER + body.len() + 1) as u32;
        let mut v = total.to_le_bytes().to_vec();
        v.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        v.extend_from_slice(&body);
        v.push(EOF);
        v
    }

    #[test]
    fn decodes_every_encoding() {
        let blob = lp(&[
            &[0x05, 0x01],
            &[0x83, b'a', b'b', b'c', 0x04],
            &[0xdf, 0xff, 0x02],
            &[0xf1, 0x00, 0x80, 0x03],
            &[0xf2, 0xff, 0xff, 0xff, 0x04],
            &[0xf4, 1, 0, 0, 0, 0, 0, 0, 0x80, 0x09],
        ]);
        assert_eq!(header(&blob).unwrap(), Some(6));
        let mut pos = HEADER;
        let mut out = vec![];
        while let Some((e, next)) = entry(&blob, pos).unwrap() {
            out.push(e);
            pos = next;
        }
        assert_eq!(
            out,
            vec![
                Elem::Int(5),
                Elem::Bytes { at: 9, len: 3 },
                Elem::Int(-1),
                Elem::Int(-32768),
                Elem::Int(-1),
                Elem::Int(i64::MIN + 1),
            ]
        );
    }

    #[test]
    fn rejects_lies() {
        let mut blob = lp(&[&[0x83, b'a', b'b', b'c', 0x04]]);
        blob[6] = 0x8f; // string longer than the blob
        assert!(entry(&blob, HEADER).is_err());
        let mut blob = lp(&[&[0x01, 0x01]]);
        blob[0] = 99;
        assert!(header(&blob).is_err());
    }
}
