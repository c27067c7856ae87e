//! A Sentinel-managed source: the daemon asks the Sentinels for the master, and when they
//! fail it over during a live migration (`SENTINEL FAILOVER`, writes going on before and
//! after), it continues the same replication history on the promoted replica with a
//! partial resync and ends identical to it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use replicant_testkit::{fill, free_port, snapshot, wait_until_same, RedisSentinel, RedisServer};

use crate::load::additive_load;
use crate::process::{admin, caught_up, field, info, wait_for, wait_same_but_markers, Daemon};

#[test]
fn a_sentinel_failover_during_the_stream_continues_on_the_new_master() {
    let master = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
    fill::fill_mixed(&mut master.conn(), 1_000);
    let replica = RedisServer::builder()
        .arg("--repl-diskless-sync-delay", "0")
        .args(["--replicaof", "127.0.0.1", &master.port().to_string()])
        .start();
    let sentinels = RedisSentinel::builder("mymaster", master.port()).quorum(2).start_many(3);
    for s in &sentinels {
        s.wait_for_replicas(1, Duration::from_secs(60));
    }
    let target = RedisServer::start();
    let admin_port = free_port();
    let mut args = vec!["sync".to_string(), "--target".into(), target.url(), "--master-name".into(), "mymaster".into()];
    for s in &sentinels {
        args.extend(["--sentinel".to_string(), s.addr()]);
    }
    args.extend(["--admin".to_string(), format!("127.0.0.1:{admin_port}"), "--progress".into(), "never".into()]);
    let daemon = Daemon::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut conn = admin(admin_port);
    wait_for("streaming", Duration::from_secs(60), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("streaming")
    });
    assert_eq!(field(&info(&mut conn, "replication"), "master_port"), Some(master.port().to_string()));

    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let load = additive_load(master.conn(), stop.clone(), done.clone());
    wait_for("writes under way", Duration::from_secs(30), || done.load(Ordering::Relaxed) > 200);
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    // A forced failover promotes the replica at once: writes it has not received are lost
    // with the old master, and a copy that holds them cannot continue there (that is a
    // clear stop, tested in failover.rs). Let it catch up first, as a planned switch would.
    wait_for("the replica in sync", Duration::from_secs(30), || {
        replica.info_field("replication", "master_repl_offset")
            == master.info_field("replication", "master_repl_offset")
    });
    sentinels[0].failover();
    sentinels[0].wait_for_master(&replica.addr(), Duration::from_secs(60));

    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let load = additive_load(replica.conn(), stop.clone(), done.clone());
    wait_for("the daemon on the new master", Duration::from_secs(60), || {
        field(&info(&mut conn, "replication"), "master_port") == Some(replica.port().to_string())
    });
    wait_for("writes on the new master", Duration::from_secs(30), || done.load(Ordering::Relaxed) > 200);
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();

    // Additive writes (INCR, LPUSH, APPEND, XADD) lost or applied twice would show.
    wait_until_same(&snapshot(&mut replica.conn()), &mut target.conn(), Duration::from_secs(60));
    let text = info(&mut conn, "all");
    assert_eq!(field(&text, "phase").as_deref(), Some("streaming"), "{text}\n{}", daemon.log());
    assert_eq!(field(&text, "full_syncs").as_deref(), Some("1"), "a second full sync:\n{text}");
    let partial: u64 = field(&text, "partial_syncs").unwrap().parse().unwrap();
    assert!(partial >= 1, "no partial resync on the new master:\n{text}");
}

/// A Sentinel-managed *target*: the daemon writes to the master its Sentinels name, and
/// when they fail it over during a live migration (the old target is demoted and its
/// clients killed), it finds the new master through them and goes on there: the promoted
/// replica may lack the last writes the old one acknowledged, and the exactly-once markers
/// say which, so the copy ends identical to the source with no second full sync.
#[test]
fn a_sentinel_failover_of_the_target_continues_on_its_new_master() {
    let source = RedisServer::builder().arg("--repl-backlog-size", "256mb").start();
    fill::fill_mixed(&mut source.conn(), 1_000);
    let target = RedisServer::start();
    let target_replica = RedisServer::builder().args(["--replicaof", "127.0.0.1", &target.port().to_string()]).start();
    let sentinel = RedisSentinel::builder("target", target.port()).quorum(1).start();
    sentinel.wait_for_replicas(1, Duration::from_secs(60));
    let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
    let (src, dst, admin_addr) = (source.url(), target.url(), format!("127.0.0.1:{admin_port}"));
    let daemon = Daemon::start(&[
        "sync",
        "--source",
        &src,
        "--target",
        &dst,
        "--target-sentinel",
        &sentinel.addr(),
        "--target-master-name",
        "target",
        "--state-dir",
        state.path().to_str().unwrap(),
        "--target-retry-max-delay-ms",
        "500",
        "--admin",
        &admin_addr,
        "--progress",
        "never",
    ]);
    let mut conn = admin(admin_port);
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&info(&mut conn, "replication")));

    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let load = additive_load(source.conn(), stop.clone(), done.clone());
    wait_for("writes under way", Duration::from_secs(30), || done.load(Ordering::Relaxed) > 300);
    sentinel.failover();
    sentinel.wait_for_master(&target_replica.addr(), Duration::from_secs(60));
    let at_failover = done.load(Ordering::Relaxed);
    wait_for("more writes after the failover", Duration::from_secs(30), || {
        done.load(Ordering::Relaxed) > at_failover + 300
    });
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();

    wait_same_but_markers(&source, &target_replica);
    let text = info(&mut conn, "all");
    assert_eq!(field(&text, "phase").as_deref(), Some("streaming"), "{text}\n{}", daemon.log());
    let retries: u64 = field(&text, "target_retries").unwrap().parse().unwrap();
    assert!(retries >= 1, "the failover was not seen as a lost target:\n{text}\n{}", daemon.log());
    assert_eq!(source.info_field("stats", "sync_full").as_deref(), Some("1"), "a second full sync happened");
}
