//! Pika's two custom RocksDB comparators, in both generations, implemented from Pika's
//! `src/storage/src/custom_comparator.h` (v4.0.1 for `floyd.*`, v3.5.5 for `blackwidow.*`).
//! RocksDB refuses to open a column family whose comparator name differs from the one in
//! its MANIFEST, and seeks in it are only right with the same order, so these follow
//! Pika's code step for step, quirks included:
//!
//! - `floyd.ListsDataKeyComparator` (`list_data_cf`): the bytes up to and including the
//!   user key's `\0\0` delimiter (the 8-byte reserve included) bytewise, then the version
//!   and the index as little-endian `u64` numbers; the 16-byte reserve after is ignored.
//! - `floyd.ZSetsScoreKeyComparator` (`zset_score_cf`): the encoded user key *without* the
//!   reserve, bytewise; the version (`u64` LE); the score as a `double` (`<`, `!=`: a NaN
//!   sorts after anything); then the rest (member and reserve) bytewise.
//! - `blackwidow.ListsDataKeyComparator` (3.5 `lists/data_cf`): the user key (length-prefixed)
//!   bytewise, then the version as a *signed* `i32`, then the index (`u64`).
//! - `blackwidow.ZSetsScoreKeyComparator` (3.5 `zsets/score_cf`): length, key and version
//!   bytewise, then the score as a `double`, then the member bytewise.
//!
//! Where Pika would read past a short key (it never writes one; RocksDB only hands these
//! complete keys or Pika's own index separators), the missing bytes read as zeros here:
//! the functions are total and never panic (they run inside RocksDB's C++ callbacks).

use std::cmp::Ordering;

/// Name of Pika 4.x's list data comparator.
pub const FLOYD_LISTS_COMPARATOR: &str = "floyd.ListsDataKeyComparator";
/// Name of Pika 4.x's zset score comparator.
pub const FLOYD_ZSET_SCORE_COMPARATOR: &str = "floyd.ZSetsScoreKeyComparator";
/// Name of Pika 3.5's list data comparator.
pub const BLACKWIDOW_LISTS_COMPARATOR: &str = "blackwidow.ListsDataKeyComparator";
/// Name of Pika 3.5's zset score comparator.
pub const BLACKWIDOW_ZSET_SCORE_COMPARATOR: &str = "blackwidow.ZSetsScoreKeyComparator";

/// Pika 4.x's `kPrefixReserveLength`.
const PREFIX_RESERVE: usize = 8;

/// `floyd.ListsDataKeyComparator::Compare`.
pub fn floyd_lists_compare(a: &[u8], b: &[u8]) -> Ordering {
    let (pa, pb) = (after_delim(a), after_delim(b));
    let (head_a, head_b) = (upto(a, pa), upto(b, pb));
    if head_a != head_b {
        return head_a.cmp(head_b);
    }
    if let Some(order) = ends(a, pa, b, pb) {
        return order;
    }
    let (va, vb) = (le_u64(a, pa), le_u64(b, pb));
    if va != vb {
        return va.cmp(&vb);
    }
    let (pa, pb) = (pa + 8, pb + 8);
    if let Some(order) = ends(a, pa, b, pb) {
        return order;
    }
    le_u64(a, pa).cmp(&le_u64(b, pb))
}

/// `floyd.ZSetsScoreKeyComparator::Compare`.
pub fn floyd_zset_score_compare(a: &[u8], b: &[u8]) -> Ordering {
    let (pa, pb) = (after_delim(a), after_delim(b));
    let key_a = a.get(PREFIX_RESERVE..pa).unwrap_or_default();
    let key_b = b.get(PREFIX_RESERVE..pb).unwrap_or_default();
    let order = key_a.cmp(key_b);
    if order != Ordering::Equal {
        return order;
    }
    let (va, vb) = (le_u64(a, pa), le_u64(b, pb));
    if va != vb {
        return va.cmp(&vb);
    }
    let (sa, sb) = (f64::from_bits(le_u64(a, pa + 8)), f64::from_bits(le_u64(b, pb + 8)));
    if let Some(order) = score_order(sa, sb) {
        return order;
    }
    rest(a, pa + 16).cmp(rest(b, pb + 16))
}

/// `blackwidow.ListsDataKeyComparator::Compare`.
pub fn blackwidow_lists_compare(a: &[u8], b: &[u8]) -> Ordering {
    let (key_a, pa) = length_prefixed(a);
    let (key_b, pb) = length_prefixed(b);
    if key_a != key_b {
        return key_a.cmp(key_b);
    }
    if let Some(order) = ends(a, pa, b, pb) {
        return order;
    }
    let (va, vb) = (le_u32(a, pa) as i32, le_u32(b, pb) as i32);
    if va != vb {
        return va.cmp(&vb);
    }
    let (pa, pb) = (pa + 4, pb + 4);
    if let Some(order) = ends(a, pa, b, pb) {
        return order;
    }
    le_u64(a, pa).cmp(&le_u64(b, pb))
}

/// `blackwidow.ZSetsScoreKeyComparator::Compare`.
pub fn blackwidow_zset_score_compare(a: &[u8], b: &[u8]) -> Ordering {
    // The prefix is `key_len | key | version`: the length's 4 bytes, the key, 4 more.
    let pa = (le_u32(a, 0) as i32 as i64 + 8).max(0) as usize;
    let pb = (le_u32(b, 0) as i32 as i64 + 8).max(0) as usize;
    let order = upto(a, pa).cmp(upto(b, pb));
    if order != Ordering::Equal {
        return order;
    }
    let (sa, sb) = (f64::from_bits(le_u64(a, pa)), f64::from_bits(le_u64(b, pb)));
    if let Some(order) = score_order(sa, sb) {
        return order;
    }
    let (pa, pb) = (pa + 8, pb + 8);
    if let Some(order) = ends(a, pa, b, pb) {
        return order;
    }
    rest(a, pa).cmp(rest(b, pb))
}

/// `if (a_score != b_score) return a_score < b_score ? -1 : 1;`
fn score_order(a: f64, b: f64) -> Option<Ordering> {
    #[allow(clippy::float_cmp)]
    let differ = a != b;
    differ.then_some(if a < b { Ordering::Less } else { Ordering::Greater })
}

/// The end checks Pika makes between fields: both keys end here (equal), or one does (it
/// sorts first); `None` when both go on.
fn ends(a: &[u8], pa: usize, b: &[u8], pb: usize) -> Option<Ordering> {
    match (pa >= a.len(), pb >= b.len()) {
        (true, true) => Some(Ordering::Equal),
        (true, false) => Some(Ordering::Less),
        (false, true) => Some(Ordering::Greater),
        (false, false) => None,
    }
}

/// Where the bytes after a 4.x key's user-key delimiter start: `SeekUserkeyDelim` after the
/// 8-byte reserve, which gives the start of the search (right after the reserve) when there is
/// no delimiter.
pub(crate) fn after_delim(key: &[u8]) -> usize {
    let mut zero_ahead = false;
    for (i, byte) in key.iter().enumerate().skip(PREFIX_RESERVE) {
        if *byte == 0 && zero_ahead {
            return i + 1;
        }
        zero_ahead = *byte == 0;
    }
    PREFIX_RESERVE
}

/// A 3.5 key's user key (its `u32` LE length, clipped to the bytes there are) and where the
/// bytes after it start.
fn length_prefixed(key: &[u8]) -> (&[u8], usize) {
    let len = le_u32(key, 0) as i32;
    let end = 4usize.saturating_add(len.max(0) as usize);
    (key.get(4..end.min(key.len())).unwrap_or_default(), end)
}

fn upto(key: &[u8], end: usize) -> &[u8] {
    key.get(..end.min(key.len())).unwrap_or_default()
}

fn rest(key: &[u8], from: usize) -> &[u8] {
    key.get(from..).unwrap_or_default()
}

/// The little-endian `u64` at `at` (`DecodeFixed64`), missing bytes read as zeros.
pub(crate) fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut buf = [0u8; 8];
    for (slot, byte) in buf.iter_mut().zip(rest(bytes, at)) {
        *slot = *byte;
    }
    u64::from_le_bytes(buf)
}

/// The little-endian `u32` at `at` (`DecodeFixed32`), missing bytes read as zeros.
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut buf = [0u8; 4];
    for (slot, byte) in buf.iter_mut().zip(rest(bytes, at)) {
        *slot = *byte;
    }
    u32::from_le_bytes(buf)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// A 4.x list data key written as Pika's `ListsDataKey::Encode` does (no zero in the key).
    fn floyd_list(key: &[u8], version: u64, index: u64) -> Vec<u8> {
        [&[0u8; 8][..], key, b"\0\0", &version.to_le_bytes(), &index.to_le_bytes(), &[0u8; 16]].concat()
    }

    fn floyd_score(key: &[u8], version: u64, score: f64, member: &[u8]) -> Vec<u8> {
        [&[0u8; 8][..], key, b"\0\0", &version.to_le_bytes(), &score.to_bits().to_le_bytes(), member, &[0u8; 16]]
            .concat()
    }

    #[test]
    fn floyd_list_keys_sort_by_key_then_version_then_index_as_numbers() {
        let k = |v, i| floyd_list(b"l", v, i);
        // Little-endian bytes would sort 256 before 1 bytewise; the comparator sorts numbers.
        assert_eq!(floyd_lists_compare(&k(7, 1), &k(7, 256)), Less);
        assert_eq!(floyd_lists_compare(&k(256, 0), &k(1, 9)), Greater);
        assert_eq!(floyd_lists_compare(&k(7, 9), &k(7, 9)), Equal);
        // The initial middle indexes (2^63 - 1 | 2^63) around which Pika grows lists.
        assert_eq!(floyd_lists_compare(&k(1, (1 << 63) - 1), &k(1, 1 << 63)), Less);
        // The user key first, bytewise with its delimiter: "a\0\0" < "a\0\x01…" < "ab\0\0".
        let a = floyd_list(b"a", 9, 9);
        let a0 = floyd_list(b"a\0\x01", 0, 0);
        let ab = floyd_list(b"ab", 0, 0);
        assert_eq!(floyd_lists_compare(&a, &a0), Less);
        assert_eq!(floyd_lists_compare(&a0, &ab), Less);
        // The reserve after the index is not compared.
        let mut other_reserve = k(7, 9);
        *other_reserve.last_mut().unwrap() = 1;
        assert_eq!(floyd_lists_compare(&k(7, 9), &other_reserve), Equal);
        // A key that ends after its delimiter or version sorts first.
        let head = [&[0u8; 8][..], b"l\0\0"].concat();
        assert_eq!(floyd_lists_compare(&head, &k(0, 0)), Less);
        let versioned = [&head[..], &7u64.to_le_bytes()].concat();
        assert_eq!(floyd_lists_compare(&versioned, &k(7, 0)), Less);
        assert_eq!(floyd_lists_compare(&k(7, 0), &versioned), Greater);
    }

    #[test]
    fn floyd_score_keys_sort_by_key_version_score_then_member() {
        let s = |v, score, m: &[u8]| floyd_score(b"z", v, score, m);
        assert_eq!(floyd_zset_score_compare(&s(1, -3.25, b"b"), &s(1, 2.5, b"a")), Less);
        assert_eq!(floyd_zset_score_compare(&s(1, f64::INFINITY, b"a"), &s(1, 1e300, b"b")), Greater);
        assert_eq!(floyd_zset_score_compare(&s(1, 2.5, b"a"), &s(1, 2.5, b"b")), Less);
        assert_eq!(floyd_zset_score_compare(&s(1, 2.5, b"b"), &s(1, 2.5, b"b")), Equal);
        // -0 and 0 are the same score: the member decides.
        assert_eq!(floyd_zset_score_compare(&s(1, 0.0, b"b"), &s(1, -0.0, b"a")), Greater);
        // Versions as numbers: 256 after 1.
        assert_eq!(floyd_zset_score_compare(&s(256, -1.0, b"a"), &s(1, 5.0, b"a")), Greater);
        // The key before anything, without the reserve: a reserve byte changes nothing.
        let mut r = s(1, 1.0, b"m");
        r[0] = 0xff;
        assert_eq!(floyd_zset_score_compare(&r, &s(1, 1.0, b"m")), Equal);
        assert_eq!(floyd_zset_score_compare(&floyd_score(b"y", 9, 9.0, b""), &s(1, 1.0, b"")), Less);
        // A NaN sorts after any score, both ways round (Pika's `<` then `!=`).
        assert_eq!(floyd_zset_score_compare(&s(1, f64::NAN, b""), &s(1, f64::INFINITY, b"")), Greater);
        assert_eq!(floyd_zset_score_compare(&s(1, 1.0, b""), &s(1, f64::NAN, b"")), Greater);
        // A separator shortened after the score (Pika's FindShortestSeparator) sorts before
        // the members of that score.
        let short = [&[0u8; 8][..], b"z\0\0", &1u64.to_le_bytes(), &2.5f64.to_bits().to_le_bytes()].concat();
        assert_eq!(floyd_zset_score_compare(&short, &s(1, 2.5, b"a")), Less);
    }

    fn bw_list(key: &[u8], version: i32, index: u64) -> Vec<u8> {
        [&(key.len() as u32).to_le_bytes()[..], key, &version.to_le_bytes(), &index.to_le_bytes()].concat()
    }

    #[test]
    fn blackwidow_list_keys_sort_by_key_then_signed_version_then_index() {
        assert_eq!(blackwidow_lists_compare(&bw_list(b"l", 5, 1), &bw_list(b"l", 5, 256)), Less);
        assert_eq!(blackwidow_lists_compare(&bw_list(b"l", -1, 9), &bw_list(b"l", 1, 0)), Less);
        // The key bytes only, not the length in front: "ab" (len 2) before "b" (len 1).
        assert_eq!(blackwidow_lists_compare(&bw_list(b"ab", 9, 9), &bw_list(b"b", 0, 0)), Less);
        assert_eq!(blackwidow_lists_compare(&bw_list(b"a", 9, 9), &bw_list(b"ab", 0, 0)), Less);
        let prefix = [&1u32.to_le_bytes()[..], b"l", &5i32.to_le_bytes()].concat();
        assert_eq!(blackwidow_lists_compare(&prefix, &bw_list(b"l", 5, 0)), Less);
        assert_eq!(blackwidow_lists_compare(&bw_list(b"l", 5, 3), &bw_list(b"l", 5, 3)), Equal);
    }

    fn bw_score(key: &[u8], version: i32, score: f64, member: &[u8]) -> Vec<u8> {
        let head = [&(key.len() as u32).to_le_bytes()[..], key, &version.to_le_bytes()].concat();
        [&head[..], &score.to_bits().to_le_bytes(), member].concat()
    }

    #[test]
    fn blackwidow_score_keys_sort_by_prefix_bytes_then_score_then_member() {
        let s = |score, m: &[u8]| bw_score(b"z", 3, score, m);
        assert_eq!(blackwidow_zset_score_compare(&s(-3.25, b"b"), &s(2.5, b"a")), Less);
        assert_eq!(blackwidow_zset_score_compare(&s(2.5, b"a"), &s(2.5, b"ab")), Less);
        assert_eq!(blackwidow_zset_score_compare(&s(2.5, b""), &s(2.5, b"a")), Less);
        assert_eq!(blackwidow_zset_score_compare(&s(2.5, b"x"), &s(2.5, b"x")), Equal);
        // The prefix is compared as bytes: the length first, then key, then version LE.
        assert_eq!(blackwidow_zset_score_compare(&bw_score(b"b", 3, 0.0, b""), &bw_score(b"aa", 3, 0.0, b"")), Less);
        assert_eq!(blackwidow_zset_score_compare(&bw_score(b"z", 256, 0.0, b""), &bw_score(b"z", 1, 0.0, b"")), Less);
    }

    #[test]
    fn short_and_empty_keys_do_not_panic() {
        for f in
            [floyd_lists_compare, floyd_zset_score_compare, blackwidow_lists_compare, blackwidow_zset_score_compare]
        {
            for (a, b) in
                [(&b""[..], &b""[..]), (b"\0", b"\0\0\0\0\0\0\0\0\0"), (b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff")]
            {
                let _ = f(a, b);
                let _ = f(b, a);
            }
        }
    }
}
