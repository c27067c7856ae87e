//! Source to target through the link and the sharded writer, on real servers: a full
//! sync of every type plus live writes ends with both sides equal; per-key order holds
//! with 8 senders under a mixed workload (INCR, LPUSH, DEL, RENAME, MSET, MULTI/EXEC);
//! a target error stops the run with the command, key and reply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, unreachable_pub)]

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use replicant_link::{LinkConfig, LinkError, LinkState, LinkStatus};
use replicant_net::Endpoint;
use replicant_pipeline::{Writer, WriterConfig};
use replicant_rdb::ParserConfig;
use replicant_testkit::{fill, snapshot, wait_until_same, RedisServer};

struct Sync {
    status: Arc<LinkStatus>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Sync {
    fn start(source: &RedisServer, target: &RedisServer, shards: usize) -> Sync {
        sync_into(source, Endpoint::tcp("127.0.0.1", target.port()), shards)
    }

    fn wait_streaming(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.status.state() != LinkState::Streaming {
            assert!(std::time::Instant::now() < deadline, "never reached streaming");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn join(mut self) -> Result<(), String> {
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Sync {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The error with its causes.
fn describe(e: &LinkError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[test]
fn full_sync_and_live_writes_end_equal() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    fill::fill_everything(&mut source.conn());
    let sync = Sync::start(&source, &target, 8);
    sync.wait_streaming();
    // Live writes of every type after the snapshot.
    let mut conn = source.conn();
    for i in 0..200 {
        let _: () = redis::pipe()
            .cmd("SET")
            .arg(format!("live:s:{i}"))
            .arg(i)
            .ignore()
            .cmd("RPUSH")
            .arg("live:list")
            .arg(i)
            .ignore()
            .cmd("SADD")
            .arg("live:set")
            .arg(i)
            .ignore()
            .cmd("ZADD")
            .arg("live:z")
            .arg(i as f64 / 3.0)
            .arg(i)
            .ignore()
            .cmd("HSET")
            .arg("live:h")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore()
            .cmd("XADD")
            .arg("live:stream")
            .arg("*")
            .arg("n")
            .arg(i)
            .ignore()
            .cmd("PEXPIRE")
            .arg(format!("live:s:{i}"))
            .arg(3_600_000 + i)
            .ignore()
            .query(&mut conn)
            .unwrap();
    }
    let _: () = redis::cmd("DEL").arg("live:s:0").arg("live:s:1").query(&mut conn).unwrap();
    let expected = snapshot(&mut source.conn());
    wait_until_same(&expected, &mut target.conn(), Duration::from_secs(60));
}

/// No value small enough for RESTORE: every key is rebuilt with commands, several per
/// key (collections on their node's first sender, strings on their slot's), in four
/// databases, with 8 senders on a standalone target and 6 on a 3-master cluster.
#[test]
fn keys_rebuilt_with_commands_end_equal_on_both_kinds_of_target() {
    let parser = || ParserConfig::default().raw_value_max(0).batch_items(7).batch_bytes(4096);
    let source = RedisServer::start();
    let target = RedisServer::start();
    fill::fill_everything(&mut source.conn());
    let mut cfg = WriterConfig::default();
    cfg.shards = 8;
    let sync = sync_parsing(&source, Endpoint::tcp("127.0.0.1", target.port()), cfg, parser());
    sync.wait_streaming();
    wait_until_same(&snapshot(&mut source.conn()), &mut target.conn(), Duration::from_secs(60));
    drop(sync);

    let source = RedisServer::start();
    fill::fill_mixed(&mut source.conn(), 3_000);
    let cluster = replicant_testkit::RedisCluster::start(3);
    let mut cfg = WriterConfig::default();
    cfg.shards = 6;
    let seed = Endpoint::tcp("127.0.0.1", cluster.nodes[0].port());
    let sync = sync_parsing(&source, seed, cfg, parser());
    sync.wait_streaming();
    wait_cluster_equal(&cluster, &snapshot(&mut source.conn()));
}

/// A mixed workload on a few hot keys; every command's effect depends on order.
fn mixed_workload(conn: &mut redis::Connection, rounds: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for r in 0..rounds {
        let k = |rng: &mut rand::rngs::StdRng| format!("k{}", rng.random_range(0..20));
        let a = k(&mut rng);
        let b = k(&mut rng);
        match rng.random_range(0..7) {
            0 => drop(redis::cmd("INCR").arg(format!("n{}", rng.random_range(0..5))).query::<i64>(conn)),
            1 => drop(redis::cmd("LPUSH").arg(format!("l{}", rng.random_range(0..5))).arg(r).query::<i64>(conn)),
            2 => drop(redis::cmd("DEL").arg(&a).arg(&b).arg(format!("l{}", rng.random_range(0..5))).query::<i64>(conn)),
            3 => drop(redis::cmd("RENAME").arg(&a).arg(&b).query::<String>(conn)),
            4 => drop(redis::cmd("MSET").arg(&a).arg(r).arg(&b).arg(r + 1).query::<String>(conn)),
            5 => {
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("INCRBY")
                    .arg(&a)
                    .arg(3)
                    .ignore()
                    .cmd("LPUSH")
                    .arg("l0")
                    .arg(r)
                    .ignore()
                    .cmd("SET")
                    .arg(&b)
                    .arg(r)
                    .ignore()
                    .query(conn)
                    .unwrap_or(());
            }
            _ => drop(redis::cmd("SET").arg(&a).arg(r).query::<String>(conn)),
        }
    }
}

#[test]
fn per_key_order_holds_with_eight_senders() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    mixed_workload(&mut source.conn(), 2_000, 1);
    let sync = Sync::start(&source, &target, 8);
    sync.wait_streaming();
    mixed_workload(&mut source.conn(), 10_000, 2);
    let expected = snapshot(&mut source.conn());
    assert!(expected.len() > 10);
    wait_until_same(&expected, &mut target.conn(), Duration::from_secs(60));
}

#[test]
fn a_target_error_stops_the_run_with_the_key_named() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let _: () = redis::cmd("SET").arg("planted").arg("a string").query(&mut target.conn()).unwrap();
    let sync = Sync::start(&source, &target, 4);
    sync.wait_streaming();
    let _: i64 = redis::cmd("LPUSH").arg("planted").arg("x").query(&mut source.conn()).unwrap();
    let err = sync.join().unwrap_err();
    assert!(err.contains("LPUSH") && err.contains("planted") && err.contains("WRONGTYPE"), "{err}");
    let kept: String = redis::cmd("GET").arg("planted").query(&mut target.conn()).unwrap();
    assert_eq!(kept, "a string");
}

#[test]
fn under_strict_key_order_nothing_after_a_failed_command_reaches_its_key() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let _: () = redis::cmd("SET").arg("planted").arg("a string").query(&mut target.conn()).unwrap();
    let mut cfg = WriterConfig::default();
    cfg.shards = 2;
    cfg.strict_key_order = true;
    let sync = sync_with(&source, Endpoint::tcp("127.0.0.1", target.port()), cfg);
    sync.wait_streaming();
    // One pipeline, so the master propagates both writes in one go: without strict order
    // they would be in flight together.
    let mut pipe = redis::pipe();
    pipe.cmd("LPUSH").arg("planted").arg("x").ignore().cmd("SET").arg("planted").arg("after").ignore();
    let _: () = pipe.query(&mut source.conn()).unwrap_or(());
    let err = sync.join().unwrap_err();
    assert!(err.contains("LPUSH") && err.contains("planted") && err.contains("WRONGTYPE"), "{err}");
    let kept: String = redis::cmd("GET").arg("planted").query(&mut target.conn()).unwrap();
    assert_eq!(kept, "a string", "a write after the failed one reached the key");
}

#[test]
fn errors_on_the_skip_list_are_counted_and_the_run_goes_on() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let _: () = redis::cmd("SET").arg("planted").arg("a string").query(&mut target.conn()).unwrap();
    let mut cfg = WriterConfig::default();
    cfg.shards = 2;
    cfg.skip_errors = vec!["WRONGTYPE".into()];
    let sync = sync_with(&source, Endpoint::tcp("127.0.0.1", target.port()), cfg);
    sync.wait_streaming();
    let _: i64 = redis::cmd("LPUSH").arg("planted").arg("x").query(&mut source.conn()).unwrap();
    let _: () = redis::cmd("SET").arg("after").arg("1").query(&mut source.conn()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let after: Option<String> = redis::cmd("GET").arg("after").query(&mut target.conn()).unwrap();
        if after.is_some() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the run stopped at the tolerated error");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sync.status.state(), LinkState::Streaming);
    let kept: String = redis::cmd("GET").arg("planted").query(&mut target.conn()).unwrap();
    assert_eq!(kept, "a string");
}

/// Runs the link and the writer from `source` into `target` (a server, or one node of
/// a cluster) on their own thread.
fn sync_into(source: &RedisServer, target: Endpoint, shards: usize) -> Sync {
    let mut cfg = WriterConfig::default();
    cfg.shards = shards;
    sync_with(source, target, cfg)
}

/// Runs the link and a writer with settings `cfg` on their own thread.
fn sync_with(source: &RedisServer, target: Endpoint, cfg: WriterConfig) -> Sync {
    sync_parsing(source, target, cfg, ParserConfig::default().inline_strings(true))
}

/// Like [`sync_with`], with the snapshot parsed under `parser`.
fn sync_parsing(source: &RedisServer, target: Endpoint, cfg: WriterConfig, parser: ParserConfig) -> Sync {
    let status = Arc::new(LinkStatus::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (src, st) = (source.port(), status.clone());
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let mut writer = Writer::connect(&target, cfg).await.map_err(|e| format!("{e:#}"))?;
            let mut link = LinkConfig::new(Endpoint::tcp("127.0.0.1", src));
            link.max_attempts = Some(3);
            link.parser = parser;
            let result = replicant_link::run(link, &mut writer, st, async {
                let _ = rx.await;
            })
            .await;
            match result {
                Ok(()) => writer.close().await.map_err(|e| format!("{e:#}")),
                Err(e) => Err(describe(&e)),
            }
        })
    });
    Sync { status, stop: Some(tx), thread: Some(thread) }
}

/// Waits until the union of the cluster's masters equals `expected`.
fn wait_cluster_equal(cluster: &replicant_testkit::RedisCluster, expected: &replicant_testkit::Snapshot) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let taken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cluster.snapshot()));
        if let Ok(image) = taken {
            match replicant_testkit::diff_report(expected, &image) {
                None => break,
                Some(report) => assert!(std::time::Instant::now() < deadline, "{report}"),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_cluster_resharded_during_the_sync_ends_equal_to_the_source() {
    let source = RedisServer::start();
    let cluster = replicant_testkit::RedisCluster::start(3);
    // No TTLs: MIGRATE itself moves a key's expiry by a millisecond or so (it sends the
    // time left), which is the cluster's doing, not the copy's.
    fill::fill_strings(&mut source.conn(), 3_000, 32);
    let sync = sync_into(&source, Endpoint::tcp("127.0.0.1", cluster.nodes[0].port()), 6);
    sync.wait_streaming();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (mut conn, flag) = (source.conn(), stop.clone());
    let load = std::thread::spawn(move || {
        let mut round = 0u64;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let k = round % 3_000;
            let mut pipe = redis::pipe();
            pipe.cmd("INCR").arg(format!("n:{k}")).ignore();
            pipe.cmd("RPUSH").arg(format!("l:{}", k % 300)).arg(round).ignore();
            pipe.cmd("SET").arg(format!("s:{k}")).arg(round).ignore();
            pipe.cmd("HSET").arg(format!("h:{}", k % 500)).arg(k).arg(round).ignore();
            let _: () = pipe.query(&mut conn).unwrap();
            round += 1;
        }
        round
    });
    let (from, to) = (cluster.nodes[0].cli(&["CLUSTER", "MYID"]), cluster.nodes[1].cli(&["CLUSTER", "MYID"]));
    let out = std::process::Command::new("redis-cli")
        .args(["--cluster", "reshard", &cluster.nodes[0].addr()])
        .args(["--cluster-from", from.trim(), "--cluster-to", to.trim(), "--cluster-slots", "3000", "--cluster-yes"])
        .output()
        .expect("redis-cli must be installed");
    assert!(out.status.success(), "reshard failed: {}", String::from_utf8_lossy(&out.stdout));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = load.join().unwrap();
    assert!(rounds > 100, "the load hardly ran during the resharding ({rounds} rounds)");
    wait_cluster_equal(&cluster, &snapshot(&mut source.conn()));
    let owned = cluster.nodes[1].cli(&["CLUSTER", "COUNTKEYSINSLOT", "0"]);
    assert!(!owned.trim().is_empty());
    assert_eq!(sync.status.state(), LinkState::Streaming, "the sync stopped");
}

#[test]
fn a_cluster_target_ends_equal_to_the_source() {
    let source = RedisServer::start();
    let cluster = replicant_testkit::RedisCluster::start(3);
    let mut conn = source.conn();
    fill::fill_mixed(&mut conn, 3_000);
    let _: () = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=clib\nredis.register_function('cf', function() return 1 end)")
        .query(&mut conn)
        .unwrap();
    let seed = Endpoint::tcp("127.0.0.1", cluster.nodes[0].port());
    let sync = sync_into(&source, seed, 6);
    sync.wait_streaming();
    mixed_workload_one_db(&mut conn, 3_000, 9);
    wait_cluster_equal(&cluster, &snapshot(&mut source.conn()));
    // Every master got the function library.
    for node in &cluster.nodes {
        assert!(node.cli(&["FUNCTION", "LIST"]).contains("clib"), "function missing on {}", node.addr());
    }
}

#[test]
fn a_cross_slot_transaction_stops_a_cluster_sync_clearly() {
    let source = RedisServer::start();
    let cluster = replicant_testkit::RedisCluster::start(3);
    let sync = sync_into(&source, Endpoint::tcp("127.0.0.1", cluster.nodes[0].port()), 3);
    sync.wait_streaming();
    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("a")
        .arg(1)
        .ignore()
        .cmd("SET")
        .arg("b")
        .arg(2)
        .ignore()
        .query(&mut source.conn())
        .unwrap();
    let err = sync.join().unwrap_err();
    assert!(err.contains("MULTI/EXEC") && err.contains("several hash slots"), "{err}");
}

/// The mixed workload with transactions confined to one hash slot (as a cluster needs).
fn mixed_workload_one_db(conn: &mut redis::Connection, rounds: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for r in 0..rounds {
        let a = format!("{{t}}k{}", rng.random_range(0..20));
        let b = format!("k{}", rng.random_range(0..20));
        match rng.random_range(0..6) {
            0 => drop(redis::cmd("INCR").arg(format!("n{}", rng.random_range(0..5))).query::<i64>(conn)),
            1 => drop(redis::cmd("LPUSH").arg(format!("l{}", rng.random_range(0..5))).arg(r).query::<i64>(conn)),
            2 => drop(redis::cmd("DEL").arg(&a).arg(&b).query::<i64>(conn)),
            3 => drop(redis::cmd("MSET").arg(&a).arg(r).arg(&b).arg(r + 1).query::<String>(conn)),
            4 => {
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("INCRBY")
                    .arg(&a)
                    .arg(3)
                    .ignore()
                    .cmd("SET")
                    .arg("{t}other")
                    .arg(r)
                    .ignore()
                    .query(conn)
                    .unwrap_or(());
            }
            _ => drop(redis::cmd("SET").arg(&b).arg(r).query::<String>(conn)),
        }
    }
}
