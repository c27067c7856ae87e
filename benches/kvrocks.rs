//! The Kvrocks source's benchmark pieces (`make bench-kvrocks`, run by
//! `scripts/bench-kvrocks.sh`; figures in `docs/performance.md`).
//!
//! ```text
//! cargo bench --bench kvrocks -- decode                  # WriteBatch decode + convert, one core
//! cargo bench --bench kvrocks -- checkpoint DIR N        # a Kvrocks checkpoint of N mixed keys in DIR
//! cargo bench --bench kvrocks -- serve DIR               # a mock Kvrocks master serving DIR's checkpoint
//! ```
//!
//! `decode` replays every WriteBatch of both real Kvrocks 2.10.1 captures, plus the batches
//! of a synthetic 10,000-command workload (strings, hashes, sets, zsets, lists written as
//! Kvrocks writes them), through what the link does to each: `Update::decode`, the
//! conversion, and each command encoded as RESP; it prints commands per second on one core.
//! `checkpoint` writes N keys (70% strings of 16 bytes, 10% hashes, 10% sets, 5% zsets, 5%
//! lists, of 10 items each) with the testkit's Kvrocks writer and checkpoints it;
//! `serve` prints the mock master's port and serves until its standard input closes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use replicant_kvrocks::convert::{convert_with, Options};
use replicant_kvrocks::{KeyLayout, Update};
use replicant_repl::CommandBuf;
use replicant_testkit::kvrocks_checkpoint::{Encoding, Expiry, KvrocksCheckpoint, Layout};
use replicant_testkit::kvrocks_master::capture::stream_batches;
use replicant_testkit::kvrocks_master::kvrocks_capture;
use replicant_testkit::MockKvrocks;

const NS: &str = "__namespace";
const PASSWORD: &str = "benchpass";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["decode"] | [] => decode(),
        ["checkpoint", dir, n] => checkpoint(Path::new(dir), n.parse().expect("N")),
        ["serve", dir] => serve(Path::new(dir)),
        other => panic!("unknown arguments {other:?}; see the file's documentation"),
    }
}

/// Commands per second through decode, conversion and RESP encoding, on one core.
fn decode() {
    let mut reps = Vec::new();
    for case in ["v2.10.1-types", "v2.10.1-sst"] {
        reps.extend(stream_batches(&kvrocks_capture(case)));
    }
    reps.extend(synthetic_batches(10_000));
    let (mut commands, mut batches, mut bytes) = (0u64, 0u64, 0u64);
    let mut buf = CommandBuf::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        for rep in &reps {
            let update = Update::decode(rep, KeyLayout::STANDALONE).unwrap();
            let converted = convert_with(&update, Options::default().with_publish(true));
            assert!(converted.skipped.is_empty(), "a record was not converted");
            for cmd in &converted.commands {
                buf.set(&cmd.args);
                bytes += buf.command(0, 0).raw().len() as u64;
                commands += 1;
            }
            batches += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decode+convert: {} batches, {} commands in {secs:.2} s: {:.0} commands/s, {:.0} batches/s, {:.1} MB/s of RESP",
        batches,
        commands,
        commands as f64 / secs,
        batches as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

/// The WriteBatches a Kvrocks master writes for `n` mixed commands.
fn synthetic_batches(n: usize) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    let from = cp.latest_sequence() + 1;
    write_keys(&mut cp, n);
    cp.updates_since(from).unwrap()
}

/// Writes `n` keys of the benchmark's mix.
fn write_keys(cp: &mut KvrocksCheckpoint, n: usize) {
    let items: Vec<String> = (0..10).map(|i| format!("item-{i:04}")).collect();
    for i in 0..n {
        let key = format!("key:{i:08}");
        let (none, enc) = (Expiry::None, Encoding::New);
        match i % 20 {
            0..14 => cp.string(NS, &key, format!("value-{i:010}"), none, enc),
            14 | 15 => {
                let fields: Vec<(&str, &str)> = items.iter().map(|f| (f.as_str(), "v")).collect();
                cp.hash(NS, &key, &fields, none, enc);
            }
            16 | 17 => cp.set(NS, &key, &items, none, enc),
            18 => {
                let members: Vec<(&str, f64)> =
                    items.iter().zip(0..).map(|(m, s)| (m.as_str(), f64::from(s))).collect();
                cp.zset(NS, &key, &members, none, enc);
            }
            _ => cp.list(NS, &key, &items, none, enc),
        }
    }
}

/// Writes a checkpoint of `n` keys in `dir` (its files and sequence in `dir/meta.txt`).
fn checkpoint(dir: &Path, n: usize) {
    let start = Instant::now();
    let mut cp = KvrocksCheckpoint::create(dir, Layout::default()).unwrap();
    write_keys(&mut cp, n);
    let (files, sequence) = cp.finish().unwrap();
    std::fs::write(dir.join("meta.txt"), format!("{sequence}\n{}\n", files.join(","))).unwrap();
    println!("checkpoint of {n} keys in {} ({:.1} s)", cp.checkpoint_dir().display(), start.elapsed().as_secs_f64());
}

/// Serves `dir`'s checkpoint from a mock master until standard input closes.
fn serve(dir: &Path) {
    let meta = std::fs::read_to_string(dir.join("meta.txt")).unwrap();
    let mut lines = meta.lines();
    let sequence: u64 = lines.next().unwrap().parse().unwrap();
    let files: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    let master = MockKvrocks::builder()
        .password(PASSWORD)
        .checkpoint_dir(dir.join("checkpoint"))
        .checkpoint_files(files)
        .sequence(sequence)
        .start();
    println!("{}", master.port());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
