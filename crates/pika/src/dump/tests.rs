//! The reader against a real Pika 4.0.1 dump: the files of the captured RsyncService
//! transfer (`shared/pika/v4.0.1/streams/1-server-29422.bin`, or under
//! `$REPLICANT_PIKA_CAPTURES`) written to a directory as the replica wrote them, then read.
//! The capture's writes (`commands.jsonl`) came after this dump and the final dataset
//! (`expected-final.json`) after them, so the dump's keys are what those writes imply.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use prost::Message;

use super::*;
use crate::proto::rsync::RsyncResponse;
use crate::FrameDecoder;

fn capture(rel: &str) -> Vec<u8> {
    let dir = match std::env::var_os("REPLICANT_PIKA_CAPTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pika"),
    };
    let path = dir.join("v4.0.1").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (set REPLICANT_PIKA_CAPTURES)", path.display()))
}

/// Writes every file chunk of the captured transfer into `dir`.
fn write_captured_dump(dir: &Path) -> Vec<String> {
    let mut buf = BytesMut::from(&capture("streams/1-server-29422.bin")[..]);
    let mut decoder = FrameDecoder::new();
    let mut files = Vec::new();
    while let Some(frame) = decoder.decode_frame(&mut buf).unwrap() {
        let Some(chunk) = RsyncResponse::decode(frame).unwrap().file_resp else { continue };
        let path = dir.join(&chunk.filename);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut f = OpenOptions::new().create(true).truncate(false).write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(chunk.offset)).unwrap();
        f.write_all(&chunk.data).unwrap();
        files.push(chunk.filename);
    }
    files.sort();
    files.dedup();
    files
}

/// When the capture started (Unix ms).
fn capture_ms() -> u64 {
    let index: serde_json::Value = serde_json::from_slice(&capture("streams/index.json")).unwrap();
    (index[0]["start_time"].as_f64().unwrap() * 1000.0) as u64
}

fn text(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

/// Reads `dir` and gives each key's commands (by key name).
fn read_all(dir: &Path, layout: &DumpLayout, now_ms: u64) -> (BTreeMap<Vec<u8>, Vec<String>>, DumpSummary) {
    let mut keys: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
    let summary = read_dump(dir, layout, now_ms, |piece| {
        assert_eq!(piece.db, layout.db);
        for command in piece.commands {
            keys.entry(command[1].clone()).or_default().push(text(&command));
        }
        true
    })
    .unwrap();
    (keys, summary)
}

#[test]
fn a_real_pika_4_0_1_dump_reads_as_the_capture_implies() {
    let tmp = tempfile::tempdir().unwrap();
    let files = write_captured_dump(tmp.path());
    assert_eq!(files.len(), 19, "{files:?}");
    let format = DumpFormat::detect(tmp.path()).unwrap();
    assert_eq!(format, DumpFormat::Floyd { instances: 3 });
    let (keys, summary) = read_all(tmp.path(), &DumpLayout::new(0, format), capture_ms());
    let text: BTreeMap<String, Vec<String>> =
        keys.iter().map(|(k, c)| (String::from_utf8_lossy(k).into_owned(), c.clone())).collect();
    let get = |k: &str| text.get(k).unwrap_or_else(|| panic!("{k} not in the dump: {text:?}")).clone();
    // Untouched by the later writes: as in `expected-final.json`.
    assert_eq!(get("s:ex"), ["SET s:ex expiring", "PEXPIREAT s:ex 1796760601485"]);
    assert_eq!(get("s:exat"), ["SET s:exat far", "PEXPIREAT s:exat 1893456000000"]);
    let bin: Vec<u8> = (0..=255u8).chain([0, 255, 254]).collect();
    assert_eq!(keys[&b"s:bin"[..]], [format!("SET s:bin {}", String::from_utf8_lossy(&bin))]);
    // What the writes imply the keys held before them.
    assert_eq!(get("s:empty"), ["SET s:empty "], "DEL s:empty deleted it");
    assert_eq!(get("s:num"), ["SET s:num 42"]);
    assert_eq!(get("s:plain"), ["SET s:plain hello"], "EXPIRE s:plain gave it its TTL");
    assert_eq!(get("h:small"), ["DEL h:small", "HSET h:small f v"], "HSET g, HINCRBY cnt came later");
    let bin = String::from_utf8_lossy(b"\x01\x02\xff");
    assert_eq!(
        get("h:user"),
        ["DEL h:user".to_owned(), format!("HSET h:user age 30 bin {bin} name alice")],
        "HDEL age"
    );
    // LPUSH made 9 elements; LSET 0 and LTRIM 0 3 left HEAD and the first three.
    let l = "\u{fffd}\0";
    assert_eq!(get("l:list"), ["DEL l:list".to_owned(), format!("RPUSH l:list a b c {l} a b c {l}")]);
    assert_eq!(get("l:two"), ["DEL l:two", "RPUSH l:two x y x y"], "LPOP took an x");
    assert_eq!(get("set:s"), ["DEL set:s", "SADD set:s m1 m2 m3"], "SADD m4 m5, SREM m1, SPOP m5 came later");
    // ZADD two, ZINCRBY one 1.25 (to 2.75) and ZREM small came later.
    assert_eq!(get("z:z"), ["DEL z:z", "ZADD z:z 10000000000 big -3.25 neg 1.5 one 0.1 small"]);
    assert_eq!(text.len(), 12, "{text:?}");
    let expected = DumpSummary { keys: 12, expired: 1, ..DumpSummary::default() };
    assert_eq!(summary, expected, "one key had expired when the capture started");
}

/// The comparators against Pika's own order: in each instance of the real dump, the rows of
/// `list_data_cf` and `zset_score_cf` (sorted by Pika's C++ comparators when written) come
/// out strictly increasing by ours. Bytewise the scores would not (little-endian doubles);
/// the lists were filled with RPUSH only, whose indexes (2^63 up) sort the same bytewise.
#[test]
fn the_comparators_agree_with_the_real_dumps_order() {
    let tmp = tempfile::tempdir().unwrap();
    write_captured_dump(tmp.path());
    let cache = rocksdb::Cache::new_lru_cache(1 << 20);
    let mut rows = [Vec::new(), Vec::new()];
    for instance in 0..3 {
        let dir = tmp.path().join(instance.to_string());
        let db = open::open(&dir, &floyd_read::FAMILIES, &cache, "an instance").unwrap();
        for (at, family) in ["list_data_cf", "zset_score_cf"].into_iter().enumerate() {
            let mut it = open::scan(&db, &dir, family).unwrap();
            it.seek_to_first();
            while let Some(key) = it.key() {
                rows[at].push(key.to_vec());
                it.next();
            }
        }
    }
    let [lists, scores] = rows;
    assert_eq!((lists.len(), scores.len()), (12, 4), "l:list's 8 and l:two's 4; z:z's 4");
    for (rows, compare) in [(&lists, floyd_lists_compare as fn(&[u8], &[u8]) -> _), (&scores, floyd_zset_score_compare)]
    {
        for pair in rows.windows(2) {
            assert_eq!(compare(&pair[0], &pair[1]), std::cmp::Ordering::Less, "{:?}", pair);
        }
    }
    assert!(scores.windows(2).any(|p| p[0] > p[1]), "bytewise, 0.1 would sort after 1e10");
    // The score rows: by score, then member.
    let members: Vec<&[u8]> = scores.iter().map(|k| &k[8 + 5 + 8 + 8..k.len() - 16]).collect();
    assert_eq!(members, [&b"neg"[..], b"small", b"one", b"big"]);
}
