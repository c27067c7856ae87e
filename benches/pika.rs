//! The Pika source's benchmark pieces (`make bench-pika`, run by `scripts/bench-pika.sh`;
//! figures in `docs/performance.md`).
//!
//! ```text
//! cargo bench --bench pika                    # decode, then a 1M-key dump written and read in a temp dir
//! cargo bench --bench pika -- decode          # binlog items decoded + rewritten + RESP, one core
//! cargo bench --bench pika -- dump DIR N      # a Pika 4.x dump of N mixed keys in DIR
//! cargo bench --bench pika -- read DIR        # read_dump over DIR's dump, one thread
//! cargo bench --bench pika -- serve DIR       # a mock Pika master serving DIR's dump
//! ```
//!
//! `decode` encodes 1,000,000 binlog items once, as a Pika 4.0.1 master writes them (34-byte
//! header + RESP command; 30 % `SET`, 15 % `pksetexat` in seconds (SET EX), 5 % in
//! milliseconds (PSETEX), 5 % with time 0 (INCR/APPEND), 10 % each of `HSET`, `LPUSH`,
//! `SADD`, `ZADD`, 5 % `expireat`), then puts them through what the link does to each, in
//! batches of 100 (a BinlogSync response): `BinlogItem::decode`, `payload`, `rewrite`, and
//! the command encoded as RESP; for 5 s on one thread, it prints items per second.
//! `dump` writes N keys (70% strings of 16 bytes, 10% hashes, 10% sets, 5% zsets, 5% lists,
//! of 10 items each; 10% of each type with an expiry a year away) with the testkit's Pika
//! writer as a 4.x dump of 3 instances, flushed to SST files; `read` times
//! `dump::read_dump` over it (every command encoded as RESP, as the link then does), 3
//! times; `serve` prints the mock master's port and serves until its standard input closes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use replicant_pika::dump::{read_dump, DumpFormat, DumpLayout};
use replicant_pika::{rewrite, BinlogItem, BinlogPos, RewriteOptions, Rewritten};
use replicant_repl::CommandBuf;
use replicant_testkit::pika_dump::{Expiry, Generation, PikaDump};
use replicant_testkit::MockPika;

const PASSWORD: &str = "benchpass";
/// Binlog items `decode` encodes.
const ITEMS: usize = 1_000_000;
/// Items per BinlogSync response (Pika's `kBinlogSendBatchNum`): the link reads the clock
/// once per batch.
const BATCH: usize = 100;
/// Keys of the dump when no directory is given.
const KEYS: usize = 1_000_000;
/// The binlog position the dump is consistent with (its `info` file), where the mock's
/// binlog starts.
const INFO_POS: BinlogPos = BinlogPos::new(3, 70_000);
const INFO_LOGIC_ID: u64 = 4321;
/// The dump's directory under DIR.
const DB_DIR: &str = "db0";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["decode"] => decode(),
        [] => {
            decode();
            let dir = tempfile::tempdir().unwrap();
            dump(dir.path(), KEYS);
            read(dir.path());
        }
        ["dump", dir, n] => dump(Path::new(dir), n.parse().expect("N")),
        ["read", dir] => read(Path::new(dir)),
        ["serve", dir] => serve(Path::new(dir)),
        other => panic!("unknown arguments {other:?}; see the file's documentation"),
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A command as the RESP array Pika writes in a binlog item (`Cmd::ToRedisProtocol`).
fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `n` binlog items of the benchmark's mix, back to back, and where each ends.
fn binlog_items(n: usize) -> (Vec<u8>, Vec<usize>) {
    let now_secs = now_ms() / 1000;
    let (day_secs, day_ms) = (now_secs + 86_400, (now_secs + 86_400) * 1000);
    let (mut binlog, mut ends) = (Vec::new(), Vec::with_capacity(n));
    for i in 0..n {
        let key = format!("key:{i:08}");
        let value = format!("value-{i:010}");
        let (field, member) = (format!("field-{:02}", i % 10), format!("member-{:04}", i % 1000));
        let secs = (day_secs + i as u64 % 3600).to_string();
        let millis = (day_ms + i as u64 % 3_600_000).to_string();
        let score = format!("{}.5", i % 1000);
        let (key, value) = (key.as_bytes(), value.as_bytes());
        let content = match i % 20 {
            0..6 => resp(&[b"SET", key, value]),
            6..9 => resp(&[b"pksetexat", key, secs.as_bytes(), value]),
            9 => resp(&[b"pksetexat", key, b"0", value]),
            10 | 11 => resp(&[b"HSET", key, field.as_bytes(), value]),
            12 | 13 => resp(&[b"LPUSH", key, value]),
            14 | 15 => resp(&[b"SADD", key, member.as_bytes()]),
            16 | 17 => resp(&[b"ZADD", key, score.as_bytes(), member.as_bytes()]),
            18 => resp(&[b"expireat", key, secs.as_bytes()]),
            _ => resp(&[b"pksetexat", key, millis.as_bytes(), value]),
        };
        let item = BinlogItem {
            exec_time: now_secs as u32,
            term_id: 0,
            logic_id: i as u64 + 1,
            filenum: 0,
            offset: binlog.len() as u64,
            content: &content,
        };
        item.encode(&mut binlog).unwrap();
        ends.push(binlog.len());
    }
    (binlog, ends)
}

/// Binlog items per second through decode, rewrite and RESP encoding, on one core.
fn decode() {
    let (binlog, ends) = binlog_items(ITEMS);
    let options = RewriteOptions::default();
    let (mut items, mut passes, mut in_bytes, mut out_bytes) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = CommandBuf::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let mut from = 0;
        for batch in ends.chunks(BATCH) {
            let now = now_ms();
            for &end in batch {
                let item = BinlogItem::decode(&binlog[from..end]).unwrap();
                let payload = item.payload().unwrap();
                match rewrite(&payload, now, &options).unwrap() {
                    Rewritten::Command(args) => {
                        buf.set(&args);
                        out_bytes += buf.command(end as u64, 0).raw().len() as u64;
                    }
                    Rewritten::Skip(why) => panic!("item {} skipped: {why:?}", item.logic_id),
                }
                from = end;
            }
        }
        items += ends.len() as u64;
        in_bytes += binlog.len() as u64;
        passes += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decode+rewrite: {passes} passes over {} items ({:.1} MB), {items} items in {secs:.2} s: {:.0} items/s, \
         {:.1} MB/s of binlog items, {:.1} MB/s of RESP",
        ends.len(),
        binlog.len() as f64 / 1e6,
        items as f64 / secs,
        in_bytes as f64 / secs / 1e6,
        out_bytes as f64 / secs / 1e6
    );
}

/// Writes a 4.x dump of `n` keys of the benchmark's mix in `dir/db0` (its key count in
/// `dir/meta.txt`, written last).
fn dump(dir: &Path, n: usize) {
    let start = Instant::now();
    let mut dump = PikaDump::create(dir.join(DB_DIR), Generation::V4 { instances: 3 }).unwrap();
    let items: Vec<String> = (0..10).map(|i| format!("item-{i:04}")).collect();
    let items: Vec<&[u8]> = items.iter().map(|i| i.as_bytes()).collect();
    let fields: Vec<(&[u8], &[u8])> = items.iter().map(|f| (*f, &b"v"[..])).collect();
    let members: Vec<(f64, &[u8])> = items.iter().zip(0..).map(|(m, s)| (f64::from(s), *m)).collect();
    let far = now_ms() + 365 * 86_400_000;
    for i in 0..n {
        let key = format!("key:{i:08}");
        let key = key.as_bytes();
        // A tenth of the keys of every type.
        let expiry = if (i / 20) % 10 == 0 { Expiry::At(far + i as u64) } else { Expiry::None };
        match i % 20 {
            0..14 => dump.string(key, format!("value-{i:010}").as_bytes(), expiry),
            14 | 15 => dump.hash(key, &fields, expiry),
            16 | 17 => dump.set(key, &items, expiry),
            18 => dump.zset(key, &members, expiry),
            _ => dump.list(key, &items, expiry),
        }
    }
    dump.info(INFO_POS.filenum, INFO_POS.offset).unwrap();
    let path = dump.finish().unwrap();
    std::fs::write(dir.join("meta.txt"), format!("{n}\n")).unwrap();
    println!("dump of {n} keys in {} ({:.1} s)", path.display(), start.elapsed().as_secs_f64());
}

/// Reads `dir`'s dump with `read_dump` (each command encoded as RESP) 3 times: keys per
/// second on one thread.
fn read(dir: &Path) {
    let path = dir.join(DB_DIR);
    let want: u64 = std::fs::read_to_string(dir.join("meta.txt")).unwrap().trim().parse().unwrap();
    let layout = DumpLayout::new(0, DumpFormat::detect(&path).unwrap());
    for _ in 0..3 {
        let (mut commands, mut pieces, mut bytes) = (0u64, 0u64, 0u64);
        let mut buf = CommandBuf::new();
        let start = Instant::now();
        let summary = read_dump(&path, &layout, now_ms(), |piece| {
            for args in &piece.commands {
                buf.set(args);
                bytes += buf.command(0, piece.db).raw().len() as u64;
            }
            commands += piece.commands.len() as u64;
            pieces += 1;
            true
        })
        .unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(summary.keys, want, "keys read: {summary:?}");
        println!(
            "read_dump: {} keys, {commands} commands, {pieces} pieces in {secs:.2} s: {:.0} keys/s, \
             {:.0} commands/s, {:.1} MB/s of RESP",
            summary.keys,
            summary.keys as f64 / secs,
            commands as f64 / secs,
            bytes as f64 / secs / 1e6
        );
    }
}

/// Serves `dir`'s dump from a mock master until standard input closes.
fn serve(dir: &Path) {
    let master = MockPika::builder()
        .requirepass(PASSWORD)
        .dump_dir(dir.join(DB_DIR))
        .binlog_start("db0", INFO_POS, INFO_LOGIC_ID)
        .start();
    println!("{}", master.port());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
