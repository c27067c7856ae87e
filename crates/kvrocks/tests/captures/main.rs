//! Decodes the byte captures of a real Kvrocks 2.10.1 master (`/work/shared/kvrocks`, or
//! `$REPLICANT_KVROCKS_CAPTURES`) in place: every PSYNC bulk of every command, the WAL file
//! of the checkpoint, and a replay of both against the expected datasets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod model;
mod replay;

use std::path::PathBuf;

use replicant_kvrocks::{
    Change, ColumnFamily, Extra, Frame, KeyLayout, LogData, RedisCommand, RedisType, StreamKey, SubKey, SubValue,
    Update,
};
use serde_json::Value;

const ENV: &str = "REPLICANT_KVROCKS_CAPTURES";
const CASES: [&str; 2] = ["v2.10.1-types", "v2.10.1-sst"];

fn captures_dir() -> PathBuf {
    let dir = match std::env::var_os(ENV) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kvrocks"),
    };
    assert!(
        dir.join("README.md").is_file(),
        "Kvrocks captures not found at {} (set {ENV} to the directory holding v2.10.1-types/ and v2.10.1-sst/)",
        dir.display()
    );
    dir
}

fn read(case: &str, file: &str) -> Vec<u8> {
    let path = captures_dir().join(case).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e} (captures from {ENV})", path.display()))
}

/// The WriteBatch reps a case's checkpoint holds in its WAL, read back with the rocksdb
/// binding from a copy of the checkpoint (opening it replays the WAL; the copy keeps it).
pub(crate) fn checkpoint_reps(case: &str) -> Vec<Vec<u8>> {
    let copy = tempfile::tempdir().unwrap();
    let from = captures_dir().join(case).join("checkpoint");
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    let mut opts = rocksdb::Options::default();
    opts.set_wal_ttl_seconds(u64::MAX / 2);
    let families = rocksdb::DB::list_cf(&opts, copy.path()).unwrap();
    let db = rocksdb::DB::open_cf(&opts, copy.path(), &families).unwrap();
    db.get_updates_since(0).unwrap().map(|update| update.unwrap().1.data().to_vec()).collect()
}

fn json(case: &str, file: &str) -> Value {
    serde_json::from_slice(&read(case, file)).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2));
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// One line of `stream.jsonl` with its received bytes.
struct Command {
    namespace: String,
    args: Vec<String>,
    received: Vec<u8>,
}

impl Command {
    /// The WriteBatch reps in the received bytes (pings dropped).
    fn batches(&self) -> Vec<&[u8]> {
        let mut buf = &self.received[..];
        let mut out = Vec::new();
        while let Some((frame, used)) = Frame::load(buf).unwrap() {
            match frame {
                Frame::Batch(rep) => out.push(rep),
                Frame::Ping => {}
                other => panic!("{:?}: unexpected frame {other:?}", self.args),
            }
            buf = &buf[used..];
        }
        assert!(buf.is_empty(), "{:?}: {} bytes left after the last frame", self.args, buf.len());
        out
    }

    fn updates(&self) -> Vec<Update<'_>> {
        self.batches()
            .into_iter()
            .map(|rep| Update::decode(rep, KeyLayout::STANDALONE).unwrap_or_else(|e| panic!("{:?}: {e}", self.args)))
            .collect()
    }

    /// The only update this command produced.
    fn update(&self) -> Update<'_> {
        let mut updates = self.updates();
        assert_eq!(updates.len(), 1, "{:?}", self.args);
        updates.remove(0)
    }
}

fn commands(case: &str) -> Vec<Command> {
    let text = String::from_utf8(read(case, "stream.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            Command {
                namespace: v["namespace"].as_str().unwrap().to_owned(),
                args: v["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
                received: unhex(v["received_hex"].as_str().unwrap()),
            }
        })
        .collect()
}

fn find<'c>(commands: &'c [Command], args: &[&str]) -> &'c Command {
    commands
        .iter()
        .find(|c| c.args.len() >= args.len() && c.args.iter().zip(args).all(|(a, b)| a == b))
        .unwrap_or_else(|| panic!("no command {args:?} in the capture"))
}

#[test]
fn every_bulk_decodes_and_sequences_are_consecutive() {
    for case in CASES {
        let meta = json(case, "capture-meta.json");
        let mut expected = meta["psync_arg"].as_u64().unwrap();
        let mut batches = 0;
        let mut last = None;
        for command in commands(case) {
            for update in command.updates() {
                assert_eq!(update.sequence, expected, "{case} {:?}", command.args);
                assert!(update.count > 0, "{case} {:?}", command.args);
                let counted = update.entries().filter(|e| e.sequence.is_some()).count();
                assert_eq!(counted, update.count as usize);
                expected = update.next_sequence();
                batches += 1;
                last = Some((update.sequence, update.count));
            }
        }
        // INFO `sequence` is the last sequence applied; the replica would ask for the next one.
        assert_eq!(expected, meta["sequence_after_stream"].as_u64().unwrap() + 1, "{case}");
        assert!(batches >= 45, "{case}: only {batches} batches");
        if case == "v2.10.1-types" {
            assert_eq!(meta["psync_arg"], 99);
            assert_eq!(last, Some((185, 2)));
        } else {
            assert_eq!(meta["psync_arg"], 52600);
        }
    }
}

#[test]
fn stream_bin_frames_the_same_in_any_chunking() {
    for case in CASES {
        let stream = read(case, "stream.bin");
        let whole = frames_fed_in_chunks(&stream, stream.len());
        assert_eq!(whole.first(), Some(&(b'+', b"OK".to_vec())), "{case}");
        let bulks: usize = commands(case).iter().map(|c| c.batches().len()).sum();
        assert_eq!(whole.iter().filter(|(k, _)| *k == b'$').count(), bulks, "{case}");
        assert!(whole.iter().filter(|(k, _)| *k == b'p').count() >= 2, "{case}: heartbeats");
        for chunk in [1, 2, 7, 64, 1000] {
            assert_eq!(frames_fed_in_chunks(&stream, chunk), whole, "{case} chunk {chunk}");
        }
    }
}

/// Feeds `bytes` `chunk` bytes at a time into a buffer, as a socket driver would.
fn frames_fed_in_chunks(bytes: &[u8], chunk: usize) -> Vec<(u8, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        buffer.extend_from_slice(piece);
        while let Some((frame, used)) = Frame::load(&buffer).unwrap() {
            out.push(match frame {
                Frame::Simple(s) => (b'+', s.to_vec()),
                Frame::Error(s) => (b'-', s.to_vec()),
                Frame::Batch(b) => (b'$', b.to_vec()),
                Frame::Ping => (b'p', Vec::new()),
            });
            buffer.drain(..used);
        }
    }
    assert!(buffer.is_empty());
    out
}

fn redis_log<'a>(update: &'a Update<'_>, group: usize) -> &'a replicant_kvrocks::RedisLog<'a> {
    update.groups[group].log.as_ref().and_then(LogData::as_redis).expect("a WriteBatchLogData")
}

#[test]
fn strings_expiry_and_deletes_match_their_commands() {
    for case in CASES {
        let cmds = commands(case);

        let set = find(&cmds, &["SET", "s:new", "hello"]).update();
        assert_eq!(redis_log(&set, 0).redis_type(), Some(RedisType::String));
        let [entry] = &set.groups[0].entries[..] else { panic!("{case}: {set:?}") };
        let Change::PutMetadata { key, metadata } = &entry.change else { panic!("{entry:?}") };
        assert_eq!((key.namespace, key.key, key.slot), (&b"__namespace"[..], &b"s:new"[..], None));
        assert!(metadata.is_64bit());
        assert_eq!((metadata.expire_ms, metadata.extra), (0, Extra::String(b"hello")));

        let ex = find(&cmds, &["SET", "s:ex", "v", "EX", "100000"]).update();
        let Change::PutMetadata { metadata, .. } = &ex.groups[0].entries[0].change else { panic!() };
        assert!(metadata.expire_ms > 1_700_000_000_000 + 100_000_000, "{case}: {}", metadata.expire_ms);

        let pexpireat = find(&cmds, &["PEXPIREAT", "str3", "4102444800999"]).update();
        let log = redis_log(&pexpireat, 0);
        assert_eq!((log.type_id, log.command()), (0, Some(RedisCommand::Expire)));
        let Change::PutMetadata { key, metadata } = &pexpireat.groups[0].entries[0].change else { panic!() };
        assert_eq!(key.key, b"str3");
        assert_eq!((metadata.expire_ms, metadata.extra), (4_102_444_800_999, Extra::String(b"val3")));

        let persist = find(&cmds, &["PERSIST", "str_exp0"]).update();
        assert_eq!(redis_log(&persist, 0).command(), Some(RedisCommand::Expire));
        let Change::PutMetadata { metadata, .. } = &persist.groups[0].entries[0].change else { panic!() };
        assert_eq!(metadata.expire_ms, 0);

        let del = find(&cmds, &["DEL", "str1"]).update();
        assert_eq!((redis_log(&del, 0).type_id, redis_log(&del, 0).args().count()), (0, 0));
        let [Change::DeleteMetadata { key }] =
            &del.groups[0].entries.iter().map(|e| e.change.clone()).collect::<Vec<_>>()[..]
        else {
            panic!("{del:?}")
        };
        assert_eq!(key.key, b"str1");
    }
}

#[test]
fn hashes_match_their_commands() {
    for case in CASES {
        let cmds = commands(case);
        let hset = find(&cmds, &["HSET", "h2", "f9", "v9", "f10", "v10"]).update();
        assert_eq!(redis_log(&hset, 0).redis_type(), Some(RedisType::Hash));
        let mut fields = Vec::new();
        let mut meta = None;
        for entry in &hset.groups[0].entries {
            match &entry.change {
                Change::PutSubkey { cf: ColumnFamily::PrimarySubkey, key, sub: SubKey::HashField(f), value } => {
                    assert_eq!(key.key, b"h2");
                    let SubValue::Bytes(v) = value else { panic!() };
                    fields.push((f.to_vec(), v.to_vec(), key.version));
                }
                Change::PutMetadata { key, metadata } if key.key == b"h2" => meta = Some(*metadata),
                other => panic!("{case}: unexpected {other:?}"),
            }
        }
        fields.sort();
        let meta = meta.unwrap();
        assert_eq!(meta.redis_type, RedisType::Hash);
        assert_eq!(meta.size, 4);
        assert_eq!(
            fields,
            [(b"f10".to_vec(), b"v10".to_vec(), meta.version), (b"f9".to_vec(), b"v9".to_vec(), meta.version)]
        );

        let hdel = find(&cmds, &["HDEL", "h2", "f1"]).update();
        let Change::DeleteSubkey { sub, key, .. } = &hdel.groups[0].entries[0].change else { panic!() };
        assert_eq!((*sub, key.version), (SubKey::HashField(b"f1"), meta.version));
        let Change::PutMetadata { metadata, .. } = &hdel.groups[0].entries[1].change else { panic!() };
        assert_eq!(metadata.size, 3);

        let ns1 = find(&cmds, &["HSET", "nh", "f3", "v3"]);
        assert_eq!(ns1.namespace, "ns1");
        let Change::PutSubkey { key, sub, .. } = &ns1.update().groups[0].entries[0].change else { panic!() };
        assert_eq!((key.namespace, *sub), (&b"ns1"[..], SubKey::HashField(b"f3")));
    }
}

#[test]
fn zsets_keep_exact_scores() {
    for case in CASES {
        let cmds = commands(case);
        let zadd = find(&cmds, &["ZADD", "z1", "2.5", "n9"]).update();
        let changes: Vec<_> = zadd.entries().map(|e| e.change.clone()).collect();
        let [Change::PutSubkey { sub: member, value, .. }, Change::PutSubkey { cf, sub: index, .. }, Change::PutMetadata { metadata, .. }] =
            &changes[..]
        else {
            panic!("{case}: {changes:?}")
        };
        assert_eq!((*member, *value), (SubKey::ZSetMember(b"n9"), SubValue::Score(2.5)));
        assert_eq!((*cf, *index), (ColumnFamily::SecondarySubkey, SubKey::ZSetScore { score: 2.5, member: b"n9" }));
        assert_eq!((metadata.redis_type, metadata.size), (RedisType::ZSet, 7));

        let zincrby = find(&cmds, &["ZINCRBY", "z1", "1.25", "a"]).update();
        let subs: Vec<_> = zincrby
            .entries()
            .filter_map(|e| match e.change {
                Change::PutSubkey { sub, value, .. } => Some((true, sub, Some(value))),
                Change::DeleteSubkey { sub, .. } => Some((false, sub, None)),
                _ => None,
            })
            .collect();
        assert_eq!(
            subs,
            [
                (false, SubKey::ZSetScore { score: 1.5, member: b"a" }, None),
                (true, SubKey::ZSetMember(b"a"), Some(SubValue::Score(2.75))),
                (true, SubKey::ZSetScore { score: 2.75, member: b"a" }, Some(SubValue::Bytes(b""))),
            ]
        );

        let zrem = find(&cmds, &["ZREMRANGEBYSCORE", "z1", "-inf", "-1"]).update();
        let scores: Vec<_> = zrem
            .entries()
            .filter_map(|e| match e.change {
                Change::DeleteSubkey { sub: SubKey::ZSetScore { score, member }, .. } => Some((score, member)),
                _ => None,
            })
            .collect();
        assert_eq!(scores, [(f64::NEG_INFINITY, &b"e"[..])]);
    }
}

#[test]
fn lists_bitmaps_and_streams_match_their_commands() {
    for case in CASES {
        let cmds = commands(case);
        let linsert = find(&cmds, &["LINSERT", "l1", "BEFORE", "first", "ins"]).update();
        let log = redis_log(&linsert, 0);
        assert_eq!(log.command(), Some(RedisCommand::LInsert));
        assert_eq!(log.args().skip(1).collect::<Vec<_>>(), [&b"1"[..], b"first", b"ins"]);
        let Change::PutSubkey { sub: SubKey::ListIndex(_), value: SubValue::Bytes(b"ins"), .. } =
            linsert.groups[0].entries[0].change
        else {
            panic!("{linsert:?}")
        };

        let setbit = find(&cmds, &["SETBIT", "bm", "42", "1"]).update();
        let log = redis_log(&setbit, 0);
        assert_eq!((log.command(), log.arg(1)), (Some(RedisCommand::SetBit), Some(&b"42"[..])));
        let Change::PutSubkey { sub: SubKey::BitmapSegment(0), value: SubValue::Bytes(bytes), .. } =
            setbit.groups[0].entries[0].change
        else {
            panic!("{setbit:?}")
        };
        assert_eq!(bytes[5] & (1 << 2), 1 << 2, "bit 42 is LSB-first bit 2 of byte 5");

        let xadd = find(&cmds, &["XADD", "st", "1700000000000-10", "f", "v10"]).update();
        let Change::PutSubkey { cf: ColumnFamily::Stream, sub: SubKey::Stream(StreamKey::Entry(id)), value, .. } =
            xadd.groups[0].entries[0].change
        else {
            panic!("{xadd:?}")
        };
        assert_eq!(id.to_string(), "1700000000000-10");
        let SubValue::StreamEntry(fields) = value else { panic!() };
        assert_eq!(fields.iter().collect::<Vec<_>>(), [&b"f"[..], b"v10"]);
        let Change::PutMetadata { metadata, .. } = &xadd.groups[0].entries[1].change else { panic!() };
        let Extra::Stream(stream) = metadata.extra else { panic!() };
        assert_eq!((stream.last_entry_id, stream.entries_added, stream.group_number), (id, 6, 1));

        let group = find(&cmds, &["XGROUP", "CREATE", "st", "g2", "0"]).update();
        let Change::PutSubkey { sub: SubKey::Stream(StreamKey::Group { group }), value: SubValue::Group(meta), .. } =
            group.groups[0].entries[0].change
        else {
            panic!("{group:?}")
        };
        assert_eq!((group, meta.consumer_number, meta.last_delivered_id.ms), (&b"g2"[..], 0, 0));
    }
}

#[test]
fn transactions_flushdb_and_scripts_match_their_commands() {
    for case in CASES {
        let cmds = commands(case);
        for queued in [&["MULTI"][..], &["SET", "tx1", "a"], &["INCR", "tx2"]] {
            assert!(find(&cmds, queued).batches().is_empty(), "{case}: {queued:?} sent nothing");
        }
        let exec = find(&cmds, &["EXEC"]).update();
        assert_eq!((exec.count, exec.groups.len()), (2, 2));
        let values: Vec<_> = exec
            .entries()
            .map(|e| match &e.change {
                Change::PutMetadata { key, metadata: m } => (key.key, m.extra),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(values, [(&b"tx1"[..], Extra::String(b"a")), (&b"tx2"[..], Extra::String(b"1"))]);

        let flush = find(&cmds, &["FLUSHDB"]);
        assert_eq!(flush.namespace, "ns1");
        let flush = flush.update();
        assert_eq!(flush.groups.len(), 1);
        assert_eq!(flush.groups[0].log, None, "{case}: Kvrocks writes FLUSHDB without LogData");
        assert_eq!(flush.groups[0].entries[0].change.flushed_namespace(), Some(&b"ns1"[..]));

        let eval = find(&cmds, &["EVAL"]).updates();
        assert_eq!(eval.len(), 2, "{case}: one batch per redis.call");
        assert_eq!(redis_log(&eval[0], 0).redis_type(), Some(RedisType::String));
        assert_eq!(redis_log(&eval[1], 0).redis_type(), Some(RedisType::Hash));
        assert_eq!(eval[1].count, 2);
    }
}

#[test]
fn wal_checkpoint_replays_to_the_snapshot_and_stream_to_the_final_dataset() {
    let case = "v2.10.1-types";
    let reps = checkpoint_reps(case);
    let mut model = model::Model::default();
    let mut next = 1;
    for rep in &reps {
        let update = Update::decode(rep, KeyLayout::STANDALONE).unwrap();
        assert_eq!(update.sequence, next);
        next = update.next_sequence();
        model.apply(&update);
    }
    let meta = json(case, "capture-meta.json");
    assert_eq!(next, meta["sequence_at_checkpoint"].as_u64().unwrap() + 1);
    model.check(&json(case, "expected-snapshot.json"));

    let cmds = commands(case);
    for command in &cmds {
        for update in command.updates() {
            model.apply(&update);
        }
    }
    model.check(&json(case, "expected-final.json"));
}

#[test]
fn wal_holds_the_odd_zset_scores() {
    let mut scores = Vec::new();
    for rep in checkpoint_reps("v2.10.1-types") {
        let update = Update::decode(&rep, KeyLayout::STANDALONE).unwrap();
        for entry in update.entries() {
            if let Change::PutSubkey { sub: SubKey::ZSetMember(m), value: SubValue::Score(s), .. } = entry.change {
                scores.push((String::from_utf8(m.to_vec()).unwrap(), s));
            }
        }
    }
    scores.sort_by(|a, b| a.0.cmp(&b.0));
    let expected = [("a", 1.5), ("b", -3.25), ("c", 1e300), ("d", f64::INFINITY), ("e", f64::NEG_INFINITY), ("f", 0.1)];
    assert_eq!(scores, expected.map(|(m, s)| (m.to_owned(), s)));
}

#[test]
fn capture_commands_convert_to_redis_commands() {
    use replicant_kvrocks::convert::convert;
    for case in CASES {
        let cmds = commands(case);
        let to_strings = |args: &[&str]| -> Vec<Vec<String>> {
            find(&cmds, args)
                .updates()
                .iter()
                .flat_map(|u| convert(u).commands)
                .map(|c| c.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect())
                .collect()
        };
        assert_eq!(to_strings(&["SET", "s:new", "hello"]), [["SET", "s:new", "hello"]]);
        assert_eq!(
            to_strings(&["PEXPIREAT", "str3", "4102444800999"]),
            [vec!["SET", "str3", "val3"], vec!["PEXPIREAT", "str3", "4102444800999"]]
        );
        assert_eq!(to_strings(&["PERSIST", "str_exp0"]), [["SET", "str_exp0", "expval0"]]);
        assert_eq!(to_strings(&["DEL", "h1"]), [["DEL", "h1"]]);
        assert_eq!(to_strings(&["HSET", "h2", "f9", "v9", "f10", "v10"]), [["HSET", "h2", "f10", "v10", "f9", "v9"]]);
        assert_eq!(to_strings(&["HDEL", "h2", "f1"]), [["HDEL", "h2", "f1"]]);
        assert_eq!(to_strings(&["EXEC"]), [["SET", "tx1", "a"], ["SET", "tx2", "1"]]);
        assert_eq!(to_strings(&["FLUSHDB"]), [["FLUSHDB"]]);
        assert_eq!(
            to_strings(&["RENAME", "s:new", "s:renamed"]),
            [vec!["SET", "s:renamed", "heXYo!!"], vec!["DEL", "s:new"]]
        );
        let flush = find(&cmds, &["FLUSHDB"]).update();
        assert_eq!(convert(&flush).commands[0].namespace, b"ns1");
        assert_eq!(to_strings(&["ZADD", "z1", "2.5", "n9"]), [["ZADD", "z1", "2.5", "n9"]]);
        assert_eq!(to_strings(&["ZINCRBY", "z1", "1.25", "a"]), [["ZADD", "z1", "2.75", "a"]]);
        assert_eq!(
            to_strings(&["LINSERT", "l1", "BEFORE", "first", "ins"]),
            [["LINSERT", "l1", "BEFORE", "first", "ins"]]
        );
        assert_eq!(to_strings(&["LMOVE", "l1", "l2", "LEFT", "RIGHT"]), [["LMOVE", "l1", "l2", "LEFT", "RIGHT"]]);
        assert_eq!(
            to_strings(&["XGROUP", "SETID", "st", "g1", "$"])[0][..5],
            ["XGROUP", "SETID", "st", "g1", "1700000000000-10"]
        );
        for args in
            [&["SETBIT", "bm", "42", "1"][..], &["BITOP", "OR", "bmor", "bm", "bm2"], &["XTRIM", "st", "MAXLEN", "3"]]
        {
            let skipped: usize = find(&cmds, args).updates().iter().map(|u| convert(u).skipped.len()).sum();
            assert_eq!(skipped, 0, "{case} {args:?}");
        }
    }
}
