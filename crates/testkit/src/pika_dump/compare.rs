//! Pika's custom comparators, written again from Pika's `custom_comparator.h` (v4.0.1's
//! `floyd.*`, v3.5.5's `blackwidow.*`) for the writer, independently of replicant's, so
//! that a dump written in this order and read with replicant's checks both. Only what a
//! complete key needs (the writer never hands RocksDB a short one); bytes past the end of
//! a short key read as zeros.

use std::cmp::Ordering;

/// Pika 4.x's `list_data_cf` comparator name.
pub const FLOYD_LISTS: &str = "floyd.ListsDataKeyComparator";
/// Pika 4.x's `zset_score_cf` comparator name.
pub const FLOYD_ZSET_SCORE: &str = "floyd.ZSetsScoreKeyComparator";
/// Pika 3.5's `lists/data_cf` comparator name.
pub const BW_LISTS: &str = "blackwidow.ListsDataKeyComparator";
/// Pika 3.5's `zsets/score_cf` comparator name.
pub const BW_ZSET_SCORE: &str = "blackwidow.ZSetsScoreKeyComparator";

fn fixed<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = bytes.get(at + i).copied().unwrap_or(0);
    }
    out
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(fixed(bytes, at))
}

/// End of a 4.x key's user key, delimiter included (`SeekUserkeyDelim` from byte 8; 8 when
/// there is none).
fn user_key_end(key: &[u8]) -> usize {
    let body = key.get(8..).unwrap_or(&[]);
    body.windows(2).position(|w| w == [0, 0]).map_or(8, |i| 8 + i + 2)
}

fn slice(key: &[u8], from: usize, to: usize) -> &[u8] {
    let to = to.min(key.len());
    key.get(from.min(to)..to).unwrap_or(&[])
}

/// `floyd.ListsDataKeyComparator`.
pub fn floyd_lists(a: &[u8], b: &[u8]) -> Ordering {
    let (ea, eb) = (user_key_end(a), user_key_end(b));
    slice(a, 0, ea)
        .cmp(slice(b, 0, eb))
        .then_with(|| (a.len() > ea).cmp(&(b.len() > eb)))
        .then_with(|| if a.len() > ea { u64_at(a, ea).cmp(&u64_at(b, eb)) } else { Ordering::Equal })
        .then_with(|| (a.len() > ea + 8).cmp(&(b.len() > eb + 8)))
        .then_with(|| if a.len() > ea + 8 { u64_at(a, ea + 8).cmp(&u64_at(b, eb + 8)) } else { Ordering::Equal })
}

fn doubles(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a == b {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

/// `floyd.ZSetsScoreKeyComparator`.
pub fn floyd_zset_score(a: &[u8], b: &[u8]) -> Ordering {
    let (ea, eb) = (user_key_end(a), user_key_end(b));
    slice(a, 8, ea)
        .cmp(slice(b, 8, eb))
        .then_with(|| u64_at(a, ea).cmp(&u64_at(b, eb)))
        .then_with(|| doubles(f64::from_bits(u64_at(a, ea + 8)), f64::from_bits(u64_at(b, eb + 8))))
        .then_with(|| slice(a, ea + 16, a.len()).cmp(slice(b, eb + 16, b.len())))
}

/// A 3.5 key's length-prefixed user key and where it ends.
fn bw_key(key: &[u8]) -> (&[u8], usize) {
    let end = 4 + u32::from_le_bytes(fixed(key, 0)) as usize;
    (slice(key, 4, end), end)
}

/// `blackwidow.ListsDataKeyComparator`.
pub fn bw_lists(a: &[u8], b: &[u8]) -> Ordering {
    let ((ka, ea), (kb, eb)) = (bw_key(a), bw_key(b));
    let version = |k: &[u8], e: usize| i32::from_le_bytes(fixed(k, e));
    ka.cmp(kb)
        .then_with(|| (a.len() > ea).cmp(&(b.len() > eb)))
        .then_with(|| if a.len() > ea { version(a, ea).cmp(&version(b, eb)) } else { Ordering::Equal })
        .then_with(|| (a.len() > ea + 4).cmp(&(b.len() > eb + 4)))
        .then_with(|| if a.len() > ea + 4 { u64_at(a, ea + 4).cmp(&u64_at(b, eb + 4)) } else { Ordering::Equal })
}

/// `blackwidow.ZSetsScoreKeyComparator`.
pub fn bw_zset_score(a: &[u8], b: &[u8]) -> Ordering {
    let ((_, ea), (_, eb)) = (bw_key(a), bw_key(b));
    let (pa, pb) = (ea + 4, eb + 4);
    slice(a, 0, pa)
        .cmp(slice(b, 0, pb))
        .then_with(|| doubles(f64::from_bits(u64_at(a, pa)), f64::from_bits(u64_at(b, pb))))
        .then_with(|| slice(a, pa + 8, a.len()).cmp(slice(b, pb + 8, b.len())))
}

#[cfg(test)]
mod tests {
    use super::super::encode::*;
    use super::*;

    #[test]
    fn lists_sort_by_number_not_bytes() {
        let k = |v, i| floyd_list_key(b"l", v, i);
        assert_eq!(floyd_lists(&k(1, INITIAL_LEFT_INDEX), &k(1, INITIAL_RIGHT_INDEX)), Ordering::Less);
        assert_eq!(floyd_lists(&k(256, 0), &k(1, 0)), Ordering::Greater);
        assert_eq!(bw_lists(&bw_list_key(b"l", -1, 5), &bw_list_key(b"l", 1, 0)), Ordering::Less);
        assert_eq!(
            bw_lists(&bw_list_key(b"l", 3, INITIAL_LEFT_INDEX), &bw_list_key(b"l", 3, INITIAL_RIGHT_INDEX)),
            Ordering::Less
        );
    }

    #[test]
    fn scores_sort_as_doubles() {
        let s = |x, m: &[u8]| floyd_score_key(b"z", 1, x, m);
        assert_eq!(floyd_zset_score(&s(-1.0, b"b"), &s(0.5, b"a")), Ordering::Less);
        assert_eq!(floyd_zset_score(&s(0.5, b"a"), &s(0.5, b"b")), Ordering::Less);
        let t = |x, m: &[u8]| bw_score_key(b"z", 1, x, m);
        assert_eq!(bw_zset_score(&t(f64::NEG_INFINITY, b"z"), &t(-1e300, b"a")), Ordering::Less);
    }
}
