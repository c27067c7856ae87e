//! Listpacks (`lpNew`, `lpAppend`), as the packed values of hashes, sets, sorted sets and
//! stream nodes hold them: each element in the smallest encoding Redis would choose,
//! followed by its back-length.

/// One listpack element.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lp<'a> {
    Str(&'a [u8]),
    Int(i64),
}

/// The encoding + data bytes of one listpack element, in the smallest form
/// `lpEncodeString`/`lpEncodeIntegerGetType` would choose.
fn lp_entry(e: Lp<'_>) -> Vec<u8> {
    match e {
        Lp::Int(v) if (0..=127).contains(&v) => vec![v as u8],
        Lp::Int(v) if (-4096..=4095).contains(&v) => {
            let u = (v as u16) & 0x1fff;
            vec![0xc0 | (u >> 8) as u8, u as u8]
        }
        Lp::Int(v) if i16::try_from(v).is_ok() => [&[0xf1][..], &(v as i16).to_le_bytes()].concat(),
        Lp::Int(v) if (-(1 << 23)..(1 << 23)).contains(&v) => [&[0xf2][..], &(v as i32).to_le_bytes()[..3]].concat(),
        Lp::Int(v) if i32::try_from(v).is_ok() => [&[0xf3][..], &(v as i32).to_le_bytes()].concat(),
        Lp::Int(v) => [&[0xf4][..], &v.to_le_bytes()].concat(),
        Lp::Str(s) if s.len() < 64 => [&[0x80 | s.len() as u8][..], s].concat(),
        Lp::Str(s) if s.len() < 4096 => [&[0xe0 | (s.len() >> 8) as u8, s.len() as u8][..], s].concat(),
        Lp::Str(s) => [&[0xf0][..], &(s.len() as u32).to_le_bytes(), s].concat(),
    }
}

/// `lpEncodeBacklen`: the entry size in 7-bit groups, most significant group first, every
/// group but the first flagged with bit 7, so it can be read backwards.
fn lp_backlen(l: usize) -> Vec<u8> {
    let l = l as u64;
    if l <= 127 {
        vec![l as u8]
    } else if l < 16383 {
        vec![(l >> 7) as u8, (l & 127) as u8 | 128]
    } else if l < 2_097_151 {
        vec![(l >> 14) as u8, ((l >> 7) & 127) as u8 | 128, (l & 127) as u8 | 128]
    } else {
        panic!("listpack entry too big for these tests")
    }
}

/// A whole listpack: `u32 total | u16 count | entries | 0xFF`.
pub(crate) fn listpack(elems: &[Lp<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for e in elems {
        let enc = lp_entry(*e);
        body.extend_from_slice(&enc);
        body.extend_from_slice(&lp_backlen(enc.len()));
    }
    let total = (6 + body.len() + 1) as u32;
    let mut out = total.to_le_bytes().to_vec();
    out.extend_from_slice(&(elems.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xff);
    out
}
