//! A target that goes away during a live migration: killed and started again with its AOF
//! (the daemon waits in `phase:backoff`, then goes on from what the target holds, applying
//! nothing twice), started again empty (a clear stop, no streaming over a hole), or gone
//! for longer than the retries allow (a clear stop), or failed over to a replica that
//! lacks some of its writes (the markers say which: the stream is asked for again from
//! there; without markers, a clear stop).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use replicant_testkit::{fill, free_port, FaultProxy, RedisServer};

use crate::load::additive_load;
use crate::process::{admin, caught_up, field, info, wait_for, wait_same_but_markers, Daemon};

/// A source whose backlog holds every write of the test, with some data.
fn source() -> RedisServer {
    let source =
        RedisServer::builder().arg("--repl-backlog-size", "256mb").arg("--repl-diskless-sync-delay", "0").start();
    fill::fill_mixed(&mut source.conn(), 2_000);
    source
}

/// A daemon from `source` to `target` with an admin port, quick to retry.
fn daemon(
    source: &RedisServer,
    target: &RedisServer,
    state: Option<&std::path::Path>,
    extra: &[&str],
) -> (Daemon, u16) {
    let admin_port = free_port();
    let (src, dst, admin_addr) = (source.url(), target.url(), format!("127.0.0.1:{admin_port}"));
    let mut args = vec!["sync", "--source", &src, "--target", &dst, "--admin", &admin_addr, "--progress", "never"];
    args.extend(["--target-retry-max-delay-ms", "500"]);
    if let Some(state) = state {
        args.extend(["--state-dir", state.to_str().unwrap()]);
    }
    args.extend(extra);
    (Daemon::start(&args), admin_port)
}

fn phase(conn: &mut redis::Connection) -> Option<String> {
    field(&info(conn, "replication"), "phase")
}

#[test]
fn a_target_restarted_with_its_aof_continues_exactly_once() {
    let source = source();
    let mut target = RedisServer::builder().arg("--appendonly", "yes").start();
    let state = tempfile::tempdir().unwrap();
    let (daemon, admin_port) = daemon(&source, &target, Some(state.path()), &["--shards", "4"]);
    let mut conn = admin(admin_port);
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&info(&mut conn, "replication")));

    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let load = additive_load(source.conn(), stop.clone(), done.clone());
    wait_for("writes under way", Duration::from_secs(30), || done.load(Ordering::Relaxed) > 300);
    target.restart();
    let at_restart = done.load(Ordering::Relaxed);
    wait_for("more writes after the restart", Duration::from_secs(30), || {
        done.load(Ordering::Relaxed) > at_restart + 300
    });
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();

    // Additive writes (INCR, LPUSH, APPEND, XADD) applied twice or lost would show here.
    wait_same_but_markers(&source, &target);
    let text = info(&mut conn, "all");
    let retries: u64 = field(&text, "target_retries").unwrap().parse().unwrap();
    assert!(retries >= 1, "the lost target was not counted:\n{text}\n{}", daemon.log());
    assert!(field(&text, "last_target_error").is_some(), "{text}");
    assert_eq!(phase(&mut conn).as_deref(), Some("streaming"), "{text}");
    assert_eq!(source.info_field("stats", "sync_full").as_deref(), Some("1"), "a second full sync happened");
}

#[test]
fn a_target_that_comes_back_empty_stops_the_job() {
    let source = source();
    let mut target = RedisServer::start();
    let (daemon, admin_port) = daemon(&source, &target, None, &[]);
    let mut conn = admin(admin_port);
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&info(&mut conn, "replication")));
    wait_same_but_markers(&source, &target);
    // Without persistence, the restarted target holds nothing.
    target.restart();
    source.cli(&["SET", "after", "restart"]);
    wait_for("phase:failed", Duration::from_secs(60), || phase(&mut conn).as_deref() == Some("failed"));
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains("came back empty"), "{error}\n{}", daemon.log());
    assert_eq!(target.cli(&["DBSIZE"]).trim(), "0", "nothing may be streamed over the hole");
}

#[test]
fn a_target_gone_for_longer_than_the_retries_stops_the_job() {
    let source = source();
    let mut target = RedisServer::start();
    let (daemon, admin_port) = daemon(&source, &target, None, &["--target-retry-attempts", "3"]);
    let mut conn = admin(admin_port);
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&info(&mut conn, "replication")));
    target.kill();
    source.cli(&["SET", "after", "kill"]);
    wait_for("phase:failed", Duration::from_secs(60), || phase(&mut conn).as_deref() == Some("failed"));
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains("gave up after 3 attempts to reach the target"), "{error}\n{}", daemon.log());
}

/// A target much slower than the master: replicant reads the master only as fast as the
/// target takes writes (the master buffers the rest), so its memory stays bounded, and the
/// copy catches up once the target is fast again.
#[test]
fn a_slow_target_keeps_memory_bounded() {
    let source = source();
    let target = RedisServer::start();
    let proxy = FaultProxy::start(target.port());
    let admin_port = free_port();
    let (src, dst) = (source.url(), format!("redis://127.0.0.1:{}", proxy.port()));
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let daemon =
        Daemon::start(&["sync", "--source", &src, "--target", &dst, "--admin", &admin_addr, "--progress", "never"]);
    let mut conn = admin(admin_port);
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&info(&mut conn, "replication")));

    proxy.throttle(128 << 10);
    // 64 MB of writes arrive far faster than the target takes them.
    let value = "x".repeat(16 << 10);
    for round in 0..8 {
        let mut pipe = redis::pipe();
        for i in 0..512 {
            pipe.cmd("SET").arg(format!("big:{round}:{i}")).arg(&value).ignore();
        }
        let _: () = pipe.query(&mut source.conn()).unwrap();
    }
    wait_for("a backlog of unapplied writes", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "lag_bytes").is_some_and(|l| l.parse::<u64>().unwrap() > 16 << 20)
    });
    let peak = daemon.peak_rss();
    assert!(peak < 64 << 20, "replicant's peak RSS reached {} MiB behind a slow target", peak >> 20);

    proxy.heal();
    wait_same_but_markers(&source, &target);
    let peak = daemon.peak_rss();
    assert!(peak < 64 << 20, "replicant's peak RSS reached {} MiB catching up", peak >> 20);
    eprintln!("peak RSS behind a slow target and catching up: {:.1} MiB", peak as f64 / f64::from(1 << 20));
}

/// A target behind a virtual IP fails over to its replica, which had stopped receiving the
/// old target's writes a while before: it lacks writes the old target acknowledged. Its
/// exactly-once markers say which, so the job asks the master for the stream from the oldest
/// of them and ends identical, nothing lost and nothing applied twice, with no full sync.
#[test]
fn a_target_failed_over_to_a_lagging_replica_continues_exactly_once() {
    let source = source();
    let target = RedisServer::start();
    let target_replica = RedisServer::start();
    let replica_link = FaultProxy::start(target.port());
    target_replica.cli(&["REPLICAOF", "127.0.0.1", &replica_link.port().to_string()]);
    let vip = FaultProxy::start(target.port());
    let state = tempfile::tempdir().unwrap();
    let admin_port = free_port();
    let (src, dst) = (source.url(), format!("redis://127.0.0.1:{}", vip.port()));
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let args = ["sync", "--source", &src, "--target", &dst, "--admin", &admin_addr, "--progress", "never"];
    let more = ["--target-retry-max-delay-ms", "500", "--shards", "4", "--state-dir", state.path().to_str().unwrap()];
    let daemon = Daemon::start(&[&args[..], &more[..]].concat());
    let mut conn = admin(admin_port);
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&info(&mut conn, "replication")));

    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let load = additive_load(source.conn(), stop.clone(), done.clone());
    wait_for("writes under way", Duration::from_secs(30), || done.load(Ordering::Relaxed) > 300);
    wait_for("the target's replica in sync", Duration::from_secs(30), || {
        target_replica.info_field("replication", "master_link_status").as_deref() == Some("up")
    });
    // The replica stops hearing from the target; the target goes on acknowledging writes.
    replica_link.stall();
    let at_stall = target.info_field("replication", "master_repl_offset").unwrap();
    wait_for("writes the replica lacks", Duration::from_secs(30), || {
        target.info_field("replication", "master_repl_offset").unwrap().parse::<u64>().unwrap()
            > at_stall.parse::<u64>().unwrap() + 20_000
    });
    target_replica.cli(&["REPLICAOF", "NO", "ONE"]);
    vip.retarget(target_replica.port());
    vip.cut();
    let at_failover = done.load(Ordering::Relaxed);
    wait_for("more writes after the failover", Duration::from_secs(30), || {
        done.load(Ordering::Relaxed) > at_failover + 300
    });
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();

    wait_same_but_markers(&source, &target_replica);
    let text = info(&mut conn, "all");
    assert_eq!(phase(&mut conn).as_deref(), Some("streaming"), "{text}\n{}", daemon.log());
    assert!(daemon.log().contains("lacks writes it had acknowledged"), "{}", daemon.log());
    assert_eq!(source.info_field("stats", "sync_full").as_deref(), Some("1"), "a second full sync happened");
}

/// The same failover without exactly-once markers (no state directory): the replica may
/// lack writes the old target acknowledged, and nothing can say which, so the job stops and
/// says so instead of streaming over a possible hole.
#[test]
fn a_target_failed_over_to_its_replica_without_markers_stops_the_job() {
    let source = source();
    let target = RedisServer::start();
    let target_replica = RedisServer::start();
    target_replica.cli(&["REPLICAOF", "127.0.0.1", &target.port().to_string()]);
    let vip = FaultProxy::start(target.port());
    let admin_port = free_port();
    let (src, dst) = (source.url(), format!("redis://127.0.0.1:{}", vip.port()));
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let args = ["sync", "--source", &src, "--target", &dst, "--admin", &admin_addr, "--progress", "never"];
    let daemon = Daemon::start(&[&args[..], &["--target-retry-max-delay-ms", "500"]].concat());
    let mut conn = admin(admin_port);
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&info(&mut conn, "replication")));
    wait_for("the target's replica in sync", Duration::from_secs(30), || {
        target_replica.info_field("replication", "master_link_status").as_deref() == Some("up")
            && target_replica.info_field("replication", "master_repl_offset")
                == target.info_field("replication", "master_repl_offset")
    });

    target_replica.cli(&["REPLICAOF", "NO", "ONE"]);
    vip.retarget(target_replica.port());
    vip.cut();
    source.cli(&["SET", "after", "failover"]);
    wait_for("phase:failed", Duration::from_secs(60), || phase(&mut conn).as_deref() == Some("failed"));
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains("replica promoted in a failover"), "{error}\n{}", daemon.log());
    assert_eq!(target_replica.cli(&["EXISTS", "after"]).trim(), "0", "nothing may be streamed over the hole");
}
