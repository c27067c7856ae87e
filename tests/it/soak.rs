//! A soak: a live migration under injected network faults on both of its links, with
//! writes going on, ends with a target identical to the source.
//!
//! The daemon reaches the source and the target through a [`FaultProxy`] each. Once it
//! streams (a fault during the full sync is a documented stop, not a ride-out), both
//! proxies run seeded chaos: cuts, stalls (half-open links, some longer than the 3 s
//! timeouts), delays and throttles, a few seconds apart, while `redis-benchmark` rounds
//! and the order-sensitive [`additive_load`] (INCR, LPUSH, APPEND, XADD, MULTI) write to
//! the source. Exactly once is on (a state directory, a standalone target), so a write
//! lost or applied twice shows in the comparison. Then the faults are healed, the load
//! stops, and the daemon must catch up (`phase:streaming`, `lag_bytes:0`) without ever
//! having been `phase:failed`, with one full sync only, and leave the target equal to the
//! source after a clean stop.
//!
//! `REPLICANT_SOAK_SECONDS` sets how long the chaos lasts (default 45),
//! `REPLICANT_SOAK_SEED` the seed (default below; the target link uses seed + 1), and
//! `REPLICANT_SOAK_LOG_DIR` a folder to keep the daemon's log and each link's fault
//! timeline in. `make soak MINUTES=30` runs it longer with the summary printed. See
//! docs/reliability.md.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use replicant_testkit::{assert_same, fill, free_port, snapshot, Fault, FaultEvent, FaultProxy, RedisServer};

use crate::load::additive_load;
use crate::process::{admin, caught_up, field, info, wait_for, wait_same_but_markers, Daemon};

/// Seconds of chaos when `REPLICANT_SOAK_SECONDS` is not set: the whole test stays well
/// under two minutes on a 2-core machine.
const DEFAULT_SECONDS: u64 = 45;
/// Seed when `REPLICANT_SOAK_SEED` is not set; chosen so that the default run injects
/// every kind of fault on both links, and on each a stall that outlasts the timeouts and
/// one that does not.
const DEFAULT_SEED: u64 = 42;
/// Mean time between two faults on one link. Stalls last ¼–1 × this, so some outlast the
/// daemon's 3 s timeouts (the link is dropped and resumed) and some do not (it waits).
const MEAN_INTERVAL: Duration = Duration::from_secs(4);
/// The daemon's timeouts on both links, in milliseconds.
const TIMEOUT_MS: &str = "3000";
/// `redis-benchmark` tests run each round: strings, counters, a list pushed and popped
/// back to empty, a set filled and popped (SPOP reaches the stream as SREM), a hash.
const BENCH_TESTS: &str = "set,incr,lpush,rpop,sadd,hset,spop";
const BENCH_TEST_COUNT: u64 = 7;
/// Requests per test and round: a multiple of clients × pipeline (4 × 16), which
/// `redis-benchmark` rounds up to.
const BENCH_REQUESTS: u64 = 2_048;
/// One `redis-benchmark` round starts every period: about 14k writes per second.
const BENCH_PERIOD: Duration = Duration::from_secs(1);
/// The additive load goes through a proxy that delays every chunk this long, which paces
/// it to a few hundred rounds per second instead of as fast as the source answers.
const ADDITIVE_PACE: Duration = Duration::from_millis(1);
/// Writes per round of [`additive_load`]: INCR, LPUSH, APPEND, XADD, INCRBY, and two
/// INCRs in a MULTI.
const ADDITIVE_WRITES: u64 = 7;
/// How long the daemon may take to catch up once the faults are healed.
const CATCH_UP: Duration = Duration::from_secs(90);

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Runs `redis-benchmark` rounds against `port`, one every [`BENCH_PERIOD`], until
/// stopped; counts the rounds done.
fn benchmark_rounds(port: u16, stop: Arc<AtomicBool>, rounds: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let out = Command::new("redis-benchmark")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "-t", BENCH_TESTS])
                .args(["-r", "100000", "-n", &BENCH_REQUESTS.to_string(), "-P", "16", "-c", "4"])
                .stdin(Stdio::null())
                .output()
                .expect("run redis-benchmark (redis-tools)");
            assert!(out.status.success(), "redis-benchmark failed: {}", String::from_utf8_lossy(&out.stderr));
            rounds.fetch_add(1, Ordering::Relaxed);
            // A round that overran its period starts the next one now: no burst to catch up.
            next = (next + BENCH_PERIOD).max(Instant::now());
            // Let the rest of the period pass, looking at the stop flag now and then.
            while !stop.load(Ordering::Relaxed) && Instant::now() < next {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    })
}

/// The faults chaos injected on one link, by kind (the lifting of a fault not counted).
fn faults_by_kind(events: &[FaultEvent]) -> BTreeMap<&'static str, usize> {
    let mut kinds = BTreeMap::new();
    for e in events.iter().filter(|e| e.chaos) {
        let kind = match e.fault {
            Fault::Cut => "cut",
            Fault::Stall { .. } => "stall",
            Fault::Delay { per_chunk, .. } if !per_chunk.is_zero() => "delay",
            Fault::Throttle { bytes_per_sec, .. } if bytes_per_sec > 0 => "throttle",
            _ => continue,
        };
        *kinds.entry(kind).or_insert(0) += 1;
    }
    kinds
}

fn describe(kinds: &BTreeMap<&'static str, usize>) -> String {
    let total: usize = kinds.values().sum();
    let each: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("{total} ({})", each.join(", "))
}

/// Prints every fault injected if the test fails, to replay it with the same seed.
struct FaultLogOnPanic<'a>(&'a [(&'static str, &'a FaultProxy)]);

impl Drop for FaultLogOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (name, proxy) in self.0 {
                let events: Vec<String> = proxy.events().iter().map(ToString::to_string).collect();
                eprintln!("--- faults on the {name} link ---\n{}", events.join("\n"));
            }
        }
    }
}

/// The daemon's figures seen while polling, and the phases it went through.
#[derive(Default)]
struct Watch {
    phases: BTreeMap<String, u64>,
    max_lag: u64,
    /// `phase`, `applied_offset` and `master_repl_offset` when `max_lag` was seen.
    at_max_lag: String,
}

impl Watch {
    /// Reads `INFO all` once; panics if the job failed.
    fn poll(&mut self, conn: &mut redis::Connection, daemon: &Daemon) -> String {
        let text = info(conn, "all");
        let phase = field(&text, "phase").unwrap_or_default();
        *self.phases.entry(phase.clone()).or_insert(0) += 1;
        if let Some(lag) = field(&text, "lag_bytes").and_then(|l| l.parse().ok()) {
            if lag > self.max_lag {
                self.max_lag = lag;
                let f = |name| field(&text, name).unwrap_or_default();
                self.at_max_lag = format!(
                    "{phase}, applied_offset {}, master_repl_offset {}",
                    f("applied_offset"),
                    f("master_repl_offset")
                );
            }
        }
        assert_ne!(phase, "failed", "the job failed under faults:\n{text}\n--- replicant log ---\n{}", daemon.log());
        text
    }
}

/// Writes the daemon's log and each link's fault timeline into `dir`.
fn keep_logs(dir: &std::path::Path, daemon: &Daemon, links: &[(&'static str, &FaultProxy)]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("replicant.log"), daemon.log()).unwrap();
    for (name, proxy) in links {
        let events: Vec<String> = proxy.events().iter().map(ToString::to_string).collect();
        std::fs::write(dir.join(format!("faults-{name}.txt")), events.join("\n") + "\n").unwrap();
    }
}

/// How the daemon saw the faults, from its warnings: each link lost, by cause.
fn losses_in_log(log: &str) -> String {
    let count = |what: &str, causes: &[(&str, &str)]| {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(what)).collect();
        let mut parts = Vec::new();
        let mut known = 0;
        for (name, needle) in causes {
            let n = lines.iter().filter(|l| l.contains(needle)).count();
            known += n;
            parts.push(format!("{name} {n}"));
        }
        parts.push(format!("other {}", lines.len().saturating_sub(known)));
        format!("{} ({})", lines.len(), parts.join(", "))
    };
    let master = count(
        "Replication link lost",
        &[("closed", "the master closed the connection"), ("silent", "no data from the master for")],
    );
    let target = count(
        "The target was lost",
        &[
            ("closed", "closed the connection with"),
            ("broken", "connection lost"),
            ("silent", "answered nothing for"),
            ("setup timed out", "did not complete the connection setup"),
        ],
    );
    format!("master link {master}; target {target}")
}

fn figure(text: &str, name: &str) -> u64 {
    field(text, name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {name} in INFO:\n{text}"))
}

#[test]
fn a_live_migration_under_faults_ends_identical() {
    let seconds = env_u64("REPLICANT_SOAK_SECONDS", DEFAULT_SECONDS);
    let seed = env_u64("REPLICANT_SOAK_SEED", DEFAULT_SEED);
    let started = Instant::now();

    // The backlog holds every write of a long soak, so every drop resumes with PSYNC; the
    // master pings every second, so a silent link is told from an idle one within the 3 s.
    let source = RedisServer::builder()
        .arg("--repl-backlog-size", "256mb")
        .arg("--repl-ping-replica-period", "1")
        .arg("--repl-diskless-sync-delay", "0")
        .start();
    fill::fill_mixed(&mut source.conn(), 5_000);
    let target = RedisServer::start();
    let source_link = FaultProxy::start(source.port());
    let target_link = FaultProxy::start(target.port());
    let pace = FaultProxy::start(source.port());
    pace.delay(ADDITIVE_PACE);
    let links = [("source", &source_link), ("target", &target_link)];
    let _fault_log = FaultLogOnPanic(&links);

    let state = tempfile::tempdir().unwrap();
    let admin_port = free_port();
    let (src, dst) = (format!("redis://{}", source_link.addr()), format!("redis://{}", target_link.addr()));
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let mut daemon = Daemon::start(&[
        "sync",
        "--source",
        &src,
        "--target",
        &dst,
        "--state-dir",
        state.path().to_str().unwrap(),
        "--admin",
        &admin_addr,
        "--progress",
        "never",
        "--source-timeout-ms",
        TIMEOUT_MS,
        "--target-timeout-ms",
        TIMEOUT_MS,
        "--target-retry-max-delay-ms",
        "1000",
    ]);
    let mut conn = admin(admin_port);
    let mut watch = Watch::default();
    // Faults start once the snapshot is applied: a target lost before holds part of one.
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&watch.poll(&mut conn, &daemon)));

    // The load, then the chaos on both links.
    let stop = Arc::new(AtomicBool::new(false));
    let (bench_rounds, additive_rounds) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let bench = benchmark_rounds(source.port(), stop.clone(), bench_rounds.clone());
    let paced = redis::Client::open(format!("redis://{}", pace.addr())).unwrap().get_connection().unwrap();
    let additive = additive_load(paced, stop.clone(), additive_rounds.clone());
    eprintln!(
        "soak: {seconds} s of chaos, seed {seed} (source link {seed}, target link {}), a fault every ~{MEAN_INTERVAL:?} on each",
        seed.wrapping_add(1)
    );
    source_link.chaos(seed, MEAN_INTERVAL);
    target_link.chaos(seed.wrapping_add(1), MEAN_INTERVAL);
    let chaos_started = Instant::now();
    let mut last_report = Instant::now();
    while chaos_started.elapsed() < Duration::from_secs(seconds) {
        // A load that died (its panic is printed) fails the test below, at its join.
        if bench.is_finished() || additive.is_finished() {
            break;
        }
        let text = watch.poll(&mut conn, &daemon);
        if last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            eprintln!(
                "soak: {:>5} s, phase {}, lag_bytes {}, target_retries {}, connections {}",
                chaos_started.elapsed().as_secs(),
                field(&text, "phase").unwrap_or_default(),
                field(&text, "lag_bytes").unwrap_or_default(),
                field(&text, "target_retries").unwrap_or_default(),
                field(&text, "connections").unwrap_or_default(),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Heal, stop writing, and let the daemon catch up.
    source_link.stop_chaos();
    target_link.stop_chaos();
    source_link.heal();
    target_link.heal();
    let chaos_lasted = chaos_started.elapsed();
    stop.store(true, Ordering::Relaxed);
    additive.join().unwrap();
    bench.join().unwrap();
    let healed = Instant::now();
    wait_for("the daemon streaming with lag_bytes:0 after the faults", CATCH_UP, || {
        let text = watch.poll(&mut conn, &daemon);
        field(&text, "phase").as_deref() == Some("streaming") && field(&text, "lag_bytes").as_deref() == Some("0")
    });
    let lag_zero = healed.elapsed();
    wait_same_but_markers(&source, &target);
    let caught_up = healed.elapsed();
    let text = watch.poll(&mut conn, &daemon);
    let expected = snapshot(&mut source.conn());
    let peak_rss = daemon.peak_rss();

    daemon.signal("-TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)), "SIGTERM did not end the process cleanly");
    let log = daemon.log();
    if let Ok(dir) = std::env::var("REPLICANT_SOAK_LOG_DIR") {
        keep_logs(std::path::Path::new(&dir), &daemon, &links);
    }
    // The exactly-once markers are deleted at a clean stop: the target is the source.
    assert_same(&expected, &snapshot(&mut target.conn()));

    let full_syncs = figure(&text, "full_syncs");
    let bench_writes = bench_rounds.load(Ordering::Relaxed) * BENCH_TEST_COUNT * BENCH_REQUESTS;
    let additive_writes = additive_rounds.load(Ordering::Relaxed) * ADDITIVE_WRITES;
    let phases: Vec<String> = watch.phases.iter().map(|(p, n)| format!("{p} ×{n}")).collect();
    eprintln!(
        "\n=== soak summary ===\n\
         seed                 {seed} (source link), {} (target link)\n\
         chaos                {:.1} s, a fault every ~{:?} per link; whole test {:.1} s\n\
         faults, source link  {}\n\
         faults, target link  {}\n\
         writes               {} ({} redis-benchmark in {} rounds, {} additive in {} rounds); stream {:.1} MiB\n\
         keys at the end      {}\n\
         daemon               target_retries {}, connections {}, partial_syncs {}, full_syncs {}\n\
         \x20                    commands_received {}, commands_applied {}, peak RSS {:.1} MiB\n\
         \x20                    max lag_bytes seen {} ({})\n\
         links lost (log)     {}\n\
         phases polled        {}\n\
         caught up            lag_bytes:0 {:.1} s after the heal, target equal {:.1} s after it\n\
         result               target identical to the source",
        seed.wrapping_add(1),
        chaos_lasted.as_secs_f64(),
        MEAN_INTERVAL,
        started.elapsed().as_secs_f64(),
        describe(&faults_by_kind(&source_link.events())),
        describe(&faults_by_kind(&target_link.events())),
        bench_writes + additive_writes,
        bench_writes,
        bench_rounds.load(Ordering::Relaxed),
        additive_writes,
        additive_rounds.load(Ordering::Relaxed),
        figure(&text, "master_repl_offset") as f64 / f64::from(1 << 20),
        expected.len(),
        figure(&text, "target_retries"),
        figure(&text, "connections"),
        figure(&text, "partial_syncs"),
        full_syncs,
        figure(&text, "commands_received"),
        figure(&text, "commands_applied"),
        peak_rss as f64 / f64::from(1 << 20),
        watch.max_lag,
        watch.at_max_lag,
        losses_in_log(&log),
        phases.join(", "),
        lag_zero.as_secs_f64(),
        caught_up.as_secs_f64(),
    );
    // Not a vacuous soak: cuts were injected, and the daemon lost links and came back.
    let cuts: usize = links.iter().map(|(_, p)| faults_by_kind(&p.events()).get("cut").copied().unwrap_or(0)).sum();
    if cuts >= 2 {
        let lost = figure(&text, "connections").saturating_sub(1) + figure(&text, "target_retries");
        assert!(lost >= 1, "cuts were injected but the daemon lost no link:\n{text}");
    }
    assert_eq!(full_syncs, 1, "a second full sync under faults:\n{text}");
    assert_eq!(source.info_field("stats", "sync_full").as_deref(), Some("1"), "the master served another full sync");
}
