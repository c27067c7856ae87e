//! Ziplist (`ziplist.c`, Redis 2.4-6.2): `u32 bytes | u32 tail | u16 count | entries |
//! 0xFF`, each entry being `prevlen | encoding | data`.

use super::{le, sign_extend, within, Elem};

/// Bytes before the first entry.
pub(crate) const HEADER: usize = 10;
const EOF: u8 = 0xff;

/// Checks the header and returns the declared element count (`None` if 65535: count by
/// walking).
pub(crate) fn header(blob: &[u8]) -> Result<Option<u64>, String> {
    let total = le(blob, 0, 4)?;
    if total != blob.len() as u64 {
        return Err(format!("ziplist header says {total} bytes, blob has {}", blob.len()));
    }
    let tail = le(blob, 4, 4)?;
    if blob.len() < HEADER + 1 || blob.last() != Some(&EOF) || tail >= total {
        return Err("ziplist header or end marker is inconsistent".into());
    }
    let count = le(blob, 8, 2)?;
    Ok((count != 65535).then_some(count))
}

/// Decodes the entry at `pos`; `None` at the end marker.
pub(crate) fn entry(blob: &[u8], pos: usize) -> Result<Option<(Elem, usize)>, String> {
    let first = *blob.get(pos).ok_or("ziplist runs past its end")?;
    if first == EOF {
        return if pos + 1 == blob.len() {
            Ok(None)
        } else {
            Err(format!("ziplist end marker at {pos} before the end"))
        };
    }
    let at = pos + if first < 254 { 1 } else { 5 };
    let enc = *blob.get(at).ok_or("ziplist entry runs past its end")?;
    let (elem, next) = match enc >> 6 {
        0 => string(blob, at + 1, usize::from(enc & 0x3f))?,
        1 => string(blob, at + 2, (usize::from(enc & 0x3f) << 8) | le(blob, at + 1, 1)? as usize)?,
        2 => {
            let be = blob.get(at + 1..at + 5).ok_or("ziplist length runs past its end")?;
            let len = be.iter().fold(0usize, |v, b| (v << 8) | usize::from(*b));
            string(blob, at + 5, len)?
        }
        _ => integer(blob, at, enc)?,
    };
    if next >= blob.len() {
        return Err(format!("ziplist entry at {pos} runs past the end"));
    }
    Ok(Some((elem, next)))
}

fn string(blob: &[u8], at: usize, len: usize) -> Result<(Elem, usize), String> {
    within(blob, at, len)?;
    Ok((Elem::Bytes { at, len }, at + len))
}

fn integer(blob: &[u8], at: usize, enc: u8) -> Result<(Elem, usize), String> {
    let (v, size) = match enc {
        0xc0 => (sign_extend(le(blob, at + 1, 2)?, 16), 2),
        0xd0 => (sign_extend(le(blob, at + 1, 4)?, 32), 4),
        0xe0 => (le(blob, at + 1, 8)? as i64, 8),
        0xf0 => (sign_extend(le(blob, at + 1, 3)?, 24), 3),
        0xfe => (sign_extend(le(blob, at + 1, 1)?, 8), 1),
        0xf1..=0xfd => (i64::from(enc & 0x0f) - 1, 0),
        _ => return Err(format!("bad ziplist encoding {enc:#04x} at {at}")),
    };
    Ok((Elem::Int(v), at + 1 + size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_strings_and_integers() {
        let body: Vec<u8> =
            [&[0x00, 0x02, b'h', b'i'][..], &[0x04, 0xf3][..], &[0x02, 0xfe, 0x80][..], &[0x03, 0xc0, 0x39, 0x30][..]]
                .concat();
        let total = (HEADER + body.len() + 1) as u32;
        let mut blob = total.to_le_bytes().to_vec();
        blob.extend_from_slice(&(HEADER as u32).to_le_bytes());
        blob.extend_from_slice(&4u16.to_le_bytes());
        blob.extend_from_slice(&body);
        blob.push(EOF);
        assert_eq!(header(&blob).unwrap(), Some(4));
        let mut pos = HEADER;
        let mut out = vec![];
        while let Some((e, next)) = entry(&blob, pos).unwrap() {
            out.push(e);
            pos = next;
        }
        assert_eq!(out, vec![Elem::Bytes { at: 12, len: 2 }, Elem::Int(2), Elem::Int(-128), Elem::Int(12345)]);
    }
}
