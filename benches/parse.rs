//! Parse throughput of `replicant-rdb` over generated RDB files of 100+ MB, and the
//! parser's peak memory at two file sizes. See `docs/performance.md`.
//!
//! ```text
//! cargo bench --bench parse                 # generate missing files, bench, peak RSS
//! cargo bench --bench parse -- --generate   # only generate the missing files
//! cargo bench --bench parse -- --rss FILE   # peak RSS of a streamed parse of FILE
//! cargo bench --bench parse -- --parse FILE [whole|chunked] [N]   # N timed parses
//! cargo bench --bench parse -- --check-vs-redis   # `replicant rdb check` vs `redis-check-rdb`
//! ```
//!
//! The files live in `bench-data/` at the workspace root (or `$REPLICANT_BENCH_DATA`)
//! and are generated with a real `redis-server` when missing (see `parse/datagen.rs`).
//! `REPLICANT_BENCH_SKIP_RSS=1` skips the peak-memory runs. `REPLICANT_BENCH_CLOCK=cpu`
//! measures the bench thread's CPU time (from `/proc/thread-self/schedstat`) instead of
//! wall time, which is steadier on a machine busy with other work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "parse/datagen.rs"]
mod datagen;
#[path = "parse/drive.rs"]
mod drive;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

use drive::{Sink, CHUNK};

/// Files benchmarked for throughput.
const THROUGHPUT: &[&str] = &["strings", "strings-nolzf", "mixed"];
/// Files whose streamed parse's peak RSS is measured, as (smaller, four times larger).
const MEMORY: &[(&str, &str)] = &[("strings", "strings-x4"), ("mixed", "mixed-x4")];

fn data_dir() -> PathBuf {
    std::env::var_os("REPLICANT_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-data"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss") {
        let file = args.get(i + 1).expect("--rss FILE");
        rss_child(Path::new(file));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--parse") {
        let file = args.get(i + 1).expect("--parse FILE [whole|chunked] [N]");
        let mode = args.get(i + 2).map_or("whole", String::as_str);
        let n = args.get(i + 3).and_then(|n| n.parse().ok()).unwrap_or(1);
        parse_n(Path::new(file), mode, n);
        return;
    }
    let dir = data_dir();
    if args.iter().any(|a| a == "--generate") {
        datagen::ensure_all(&dir);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        bench_throughput(&[]);
        return;
    }
    if args.iter().any(|a| a == "--check-vs-redis") {
        datagen::ensure_all(&dir);
        check_vs_redis(&dir);
        return;
    }
    let missing =
        datagen::FILLS.iter().flat_map(|f| f.outputs.iter()).any(|(stem, _)| !datagen::rdb_path(&dir, stem).exists());
    // `cargo test --benches` runs this without `--bench`: never generate 1 GB there, and
    // skip the census and the memory runs.
    let bench_mode = args.iter().any(|a| a == "--bench");
    if !bench_mode && missing {
        eprintln!("bench-data is missing; skipping (run `cargo bench --bench parse` to generate it)");
        return;
    }
    datagen::ensure_all(&dir);
    let files: Vec<(String, Vec<u8>)> = THROUGHPUT
        .iter()
        .map(|stem| {
            let path = datagen::rdb_path(&dir, stem);
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            if bench_mode {
                describe(stem, &data);
            }
            (stem.to_string(), data)
        })
        .collect();
    bench_throughput(&files);
    drop(files);
    if std::env::var_os("REPLICANT_BENCH_SKIP_RSS").is_none() && bench_mode {
        peak_memory(&dir);
    }
}

/// Prints what a file holds: keys per encoding with their share of the file, and how
/// fast the parser got through each encoding (wall time of one whole-buffer parse, the
/// best of `REPLICANT_BENCH_CENSUS_RUNS`, default 3).
fn describe(stem: &str, data: &[u8]) {
    let runs = std::env::var("REPLICANT_BENCH_CENSUS_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let census = (0..runs.max(1))
        .map(|_| drive::census(data).unwrap_or_else(|e| panic!("{stem}: {e}")))
        .min_by_key(|c| c.nanos)
        .expect("one run");
    let total = data.len() as f64;
    println!(
        "{stem}.rdb: {:.1} MB, {} keys ({} with TTL), string value bytes {:.1} MB, {:.0} MB/s overall",
        total / 1e6,
        census.keys,
        census.with_ttl,
        census.string_bytes as f64 / 1e6,
        total * 1e3 / census.nanos as f64
    );
    println!(
        "  {:<16} {:>9} {:>9} {:>7} {:>10} {:>7} {:>9}",
        "encoding", "keys", "MB", "bytes", "elements", "time", "MB/s"
    );
    for (enc, s) in &census.by_encoding {
        println!(
            "  {:<16} {:>9} {:>9.1} {:>6.1}% {:>10} {:>6.1}% {:>9.0}",
            format!("{enc:?}"),
            s.keys,
            s.bytes as f64 / 1e6,
            100.0 * s.bytes as f64 / total,
            s.elements,
            100.0 * s.nanos as f64 / census.nanos as f64,
            s.bytes as f64 * 1e3 / s.nanos.max(1) as f64
        );
    }
}

fn bench_throughput(files: &[(String, Vec<u8>)]) {
    let c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    match std::env::var("REPLICANT_BENCH_CLOCK").as_deref() {
        Ok("cpu") => run_benches(c.with_measurement(CpuTime).configure_from_args(), "parse-cpu", files),
        _ => run_benches(c.configure_from_args(), "parse", files),
    }
}

/// Benchmarks each file whole and in 64 KiB chunks; CPU-time results go to their own
/// group so that criterion does not compare them with wall-time ones.
fn run_benches<M: Measurement>(mut c: Criterion<M>, group: &str, files: &[(String, Vec<u8>)]) {
    for (stem, data) in files {
        let mut group = c.benchmark_group(group);
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::BytesDecimal(data.len() as u64));
        group.bench_with_input(BenchmarkId::new("whole", stem), data, |b, data| {
            b.iter(|| {
                let mut sink = Sink::default();
                drive::whole(data, &mut sink).expect("parse");
                assert!(sink.verified, "checksum not verified");
                std::hint::black_box(sink)
            })
        });
        group.bench_with_input(BenchmarkId::new("chunked-64k", stem), data, |b, data| {
            b.iter(|| {
                let mut sink = Sink::default();
                drive::chunked(&data[..], &mut sink).expect("parse");
                assert!(sink.verified, "checksum not verified");
                std::hint::black_box(sink)
            })
        });
        group.finish();
    }
    c.final_summary();
}

/// CPU time of the calling thread, in nanoseconds.
struct CpuTime;

static WALL: WallTime = WallTime;

fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

/// Parses `file` `n` times (for profilers) and prints the throughput of each run.
fn parse_n(file: &Path, mode: &str, n: usize) {
    let data = std::fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    for _ in 0..n {
        let mut sink = Sink::default();
        let (t, cpu) = (Instant::now(), thread_cpu_ns());
        match mode {
            "chunked" => drive::chunked(&data[..], &mut sink).map(|_| ()),
            _ => drive::whole(&data, &mut sink),
        }
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let secs = t.elapsed().as_secs_f64();
        let cpu_secs = thread_cpu_ns().saturating_sub(cpu) as f64 / 1e9;
        let mb = data.len() as f64 / 1e6;
        println!(
            "{mode}: {mb:.1} MB in {secs:.3} s wall = {:.0} MB/s, {cpu_secs:.3} s CPU = {:.0} MB/s ({} keys, {} events)",
            mb / secs,
            mb / cpu_secs,
            sink.keys,
            sink.events
        );
    }
}

/// Files for the `rdb check` comparison.
const CHECKED: &[&str] = &["populate-2m", "mixed", "strings"];

/// Times `redis-check-rdb FILE` against `replicant rdb check FILE` (the binary cargo
/// built for this bench, same optimisation settings as `--release`) with hyperfine when
/// it is installed, else with a loop of 5 runs each.
fn check_vs_redis(dir: &Path) {
    let replicant = env!("CARGO_BIN_EXE_replicant");
    let hyperfine = Command::new("hyperfine").arg("--version").output().is_ok_and(|o| o.status.success());
    for stem in CHECKED {
        let file = datagen::rdb_path(dir, stem);
        let file = file.display();
        let theirs = format!("redis-check-rdb {file}");
        let ours = format!("{replicant} rdb check {file}");
        println!("== {stem}.rdb");
        if hyperfine {
            let status = Command::new("hyperfine")
                .args(["--warmup", "1", "--runs", "5", "--style", "basic", "-N"])
                .args(["--command-name", "redis-check-rdb", &theirs])
                .args(["--command-name", "replicant rdb check", &ours])
                .status()
                .expect("run hyperfine");
            assert!(status.success(), "hyperfine failed");
        } else {
            let path = datagen::rdb_path(dir, stem);
            let runs: [(&str, &str, Vec<&std::ffi::OsStr>); 2] = [
                ("redis-check-rdb", "redis-check-rdb", vec![path.as_os_str()]),
                ("replicant rdb check", replicant, vec!["rdb".as_ref(), "check".as_ref(), path.as_os_str()]),
            ];
            for (name, program, args) in runs {
                let mut times = Vec::new();
                for _ in 0..5 {
                    let t = Instant::now();
                    let out = Command::new(program).args(&args).output().expect("run checker");
                    assert!(out.status.success(), "{name} {file} failed");
                    times.push(t.elapsed().as_secs_f64());
                }
                times.sort_by(f64::total_cmp);
                let mean = times.iter().sum::<f64>() / times.len() as f64;
                println!("  {name:<22} min {:.3} s  mean {mean:.3} s", times[0]);
            }
        }
    }
}

/// Runs `--rss` in a fresh process for each file and prints a table.
fn peak_memory(dir: &Path) {
    let exe = std::env::current_exe().expect("current exe");
    println!();
    println!("peak memory of a streamed parse from disk ({} KiB reads, default ParserConfig):", CHUNK >> 10);
    println!(
        "  {:<18} {:>10} {:>14} {:>14} {:>12} {:>10}",
        "file", "MB", "VmHWM before", "VmHWM after", "max buffer", "MB/s"
    );
    for (small, large) in MEMORY {
        for stem in [small, large] {
            let path = datagen::rdb_path(dir, stem);
            // Warm the page cache so that the MB/s column measures the parser, not the disk.
            let mut file = File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
            std::io::copy(&mut file, &mut std::io::sink()).expect("read file");
            let out = Command::new(&exe).arg("--rss").arg(&path).output().expect("run --rss");
            let text = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                panic!("--rss {} failed: {}{}", path.display(), text, String::from_utf8_lossy(&out.stderr));
            }
            print!("{text}");
        }
    }
}

/// Parses `file` streamed from disk and prints one table row with peak RSS.
fn rss_child(file: &Path) {
    let before = vm_hwm_kib();
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or_default();
    let f = File::open(file).unwrap_or_else(|e| panic!("open {}: {e}", file.display()));
    let mut sink = Sink::default();
    let t = Instant::now();
    let max_buf = drive::chunked(f, &mut sink).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let secs = t.elapsed().as_secs_f64();
    let after = vm_hwm_kib();
    assert!(sink.verified, "checksum not verified");
    let stem = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    println!(
        "  {stem:<18} {:>10.1} {:>10} KiB {:>10} KiB {:>8} KiB {:>10.0}",
        size as f64 / 1e6,
        before,
        after,
        max_buf >> 10,
        size as f64 / 1e6 / secs
    );
}

/// Peak resident set size of this process so far.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
