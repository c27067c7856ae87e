//! A migration that outlives its master: the replica is promoted, and the daemon, pointed
//! at it (`REPLICAOF` on the admin port, or a restart with another `--source` and the same
//! state directory), continues the same replication history with a partial resync, as a
//! real replica does after a failover. A master that does not hold the history is refused
//! with a message naming both.

use std::time::Duration;

use replicant_testkit::{fill, free_port, snapshot, wait_until_same, RedisServer};

use crate::process::{admin, field, info, offset_before_a_last_write, wait_for, wait_same_but_markers, Daemon};

/// A master with data and a replica of it, in sync.
fn master_and_replica() -> (RedisServer, RedisServer) {
    let master = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
    fill::fill_mixed(&mut master.conn(), 1_000);
    let replica = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
    replica.cli(&["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    wait_for("the replica in sync", Duration::from_secs(30), || in_sync(&master, &replica));
    (master, replica)
}

fn in_sync(master: &RedisServer, replica: &RedisServer) -> bool {
    replica.info_field("replication", "master_link_status").as_deref() == Some("up")
        && replica.info_field("replication", "master_repl_offset")
            == master.info_field("replication", "master_repl_offset")
}

/// Writes a few keys of every kind, numbered from `from`.
fn writes(server: &RedisServer, from: usize) {
    for i in from..from + 50 {
        server.cli(&["SET", &format!("after:{i}"), &i.to_string()]);
        server.cli(&["RPUSH", "after:list", &i.to_string()]);
        server.cli(&["HSET", "after:hash", &format!("f{i}"), "v"]);
    }
}

/// Promotes the replica as a failover does: writes to the old master have stopped and
/// the replica holds them all.
fn promote(master: &mut RedisServer, replica: &RedisServer) {
    wait_for("the replica in sync before the failover", Duration::from_secs(30), || in_sync(master, replica));
    master.kill();
    replica.cli(&["REPLICAOF", "NO", "ONE"]);
}

/// A daemon with an admin port, attached to `master` with `REPLICAOF`, and its target
/// holding the master's data and some writes.
fn attached_copy(master: &RedisServer) -> (RedisServer, Daemon, redis::Connection) {
    let target = RedisServer::start();
    let admin_port = free_port();
    let daemon = Daemon::start(&[
        "sync",
        "--target",
        &target.url(),
        "--admin",
        &format!("127.0.0.1:{admin_port}"),
        "--progress",
        "never",
    ]);
    let mut conn = admin(admin_port);
    let _: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(master.port()).query(&mut conn).unwrap();
    writes(master, 0);
    wait_until_same(&snapshot(&mut master.conn()), &mut target.conn(), Duration::from_secs(60));
    (target, daemon, conn)
}

fn full_and_partial_syncs(server: &RedisServer) -> (String, String) {
    (server.info_field("stats", "sync_full").unwrap(), server.info_field("stats", "sync_partial_ok").unwrap())
}

#[test]
fn replicaof_a_promoted_replica_continues_with_a_partial_resync() {
    let (mut master, replica) = master_and_replica();
    let (target, _daemon, mut conn) = attached_copy(&master);

    promote(&mut master, &replica);
    writes(&replica, 50);
    let _: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(replica.port()).query(&mut conn).unwrap();
    wait_until_same(&snapshot(&mut replica.conn()), &mut target.conn(), Duration::from_secs(60));
    writes(&replica, 100);
    wait_until_same(&snapshot(&mut replica.conn()), &mut target.conn(), Duration::from_secs(60));

    assert_eq!(full_and_partial_syncs(&replica), ("0".into(), "1".into()), "the promoted replica saw a full sync");
    let text = info(&mut conn, "all");
    assert_eq!(field(&text, "phase").as_deref(), Some("streaming"), "{text}");
    assert_eq!(field(&text, "full_syncs").as_deref(), Some("0"), "{text}");
    assert_eq!(field(&text, "partial_syncs").as_deref(), Some("1"), "{text}");
}

/// The old master keeps sending after the replica was promoted (its `PING`s, a Sentinel's
/// hello `PUBLISH`es): replicant received more of the old history than the promoted replica
/// holds. None of it writes anything, so the history still continues there.
#[test]
fn publishes_after_the_promotion_do_not_prevent_the_partial_resync() {
    let (mut master, replica) = master_and_replica();
    let (target, _daemon, mut conn) = attached_copy(&master);
    wait_for("the replica in sync", Duration::from_secs(30), || in_sync(&master, &replica));
    replica.cli(&["REPLICAOF", "NO", "ONE"]);
    for i in 0..20 {
        master.cli(&["PUBLISH", "__sentinel__:hello", &i.to_string()]);
    }
    let old_offset: u64 = master.info_field("replication", "master_repl_offset").unwrap().parse().unwrap();
    wait_for("replicant past the promotion", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "master_repl_offset")
            .is_some_and(|o| o.parse::<u64>().unwrap() >= old_offset)
    });
    master.kill();
    writes(&replica, 50);
    let _: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(replica.port()).query(&mut conn).unwrap();
    wait_until_same(&snapshot(&mut replica.conn()), &mut target.conn(), Duration::from_secs(60));
    assert_eq!(full_and_partial_syncs(&replica), ("0".into(), "1".into()), "the promoted replica saw a full sync");
}

#[test]
fn a_restart_with_another_source_continues_the_checkpoint() {
    let (mut master, replica) = master_and_replica();
    let target = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap();
    let mut first = Daemon::start(&[
        "sync",
        "--source",
        &master.url(),
        "--target",
        &target.url(),
        "--state-dir",
        state_dir,
        "--progress",
        "never",
    ]);
    writes(&master, 0);
    wait_same_but_markers(&master, &target);
    // Applied is not yet checkpointed: wait for the checkpoint to pass the last write.
    let before = offset_before_a_last_write(&master);
    wait_for("the checkpoint past the last write", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(state.path().join("checkpoint.json")).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        json.get("offset").and_then(serde_json::Value::as_u64).is_some_and(|o| o > before)
    });
    first.signal("-TERM");
    assert!(first.wait_exit(Duration::from_secs(30)), "{}", first.log());

    promote(&mut master, &replica);
    writes(&replica, 50);
    let second = Daemon::start(&[
        "sync",
        "--source",
        &replica.url(),
        "--target",
        &target.url(),
        "--state-dir",
        state_dir,
        "--progress",
        "never",
    ]);
    wait_same_but_markers(&replica, &target);
    assert_eq!(full_and_partial_syncs(&replica), ("0".into(), "1".into()), "{}", second.log());
    assert!(second.log().contains("asking this one to continue it"), "{}", second.log());
}

#[test]
fn a_master_without_the_history_is_refused_naming_both() {
    let (master, _replica) = master_and_replica();
    let stranger = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
    stranger.cli(&["SET", "other", "history"]);
    let target = RedisServer::start();
    let admin_port = free_port();
    let daemon = Daemon::start(&[
        "sync",
        "--target",
        &target.url(),
        "--admin",
        &format!("127.0.0.1:{admin_port}"),
        "--progress",
        "never",
    ]);
    let mut conn = admin(admin_port);
    let _: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(master.port()).query(&mut conn).unwrap();
    wait_until_same(&snapshot(&mut master.conn()), &mut target.conn(), Duration::from_secs(60));
    wait_for("a stream position", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "applied_offset").is_some_and(|o| o != "0")
    });

    let _: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(stranger.port()).query(&mut conn).unwrap();
    wait_for("phase:failed", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains(&format!("followed on 127.0.0.1:{}", master.port())), "{error}\n{}", daemon.log());
    assert!(error.contains(&format!("127.0.0.1:{} does not hold it", stranger.port())), "{error}");
    // The stranger started a snapshot when it answered FULLRESYNC; none of it was written.
    assert_eq!(target.cli(&["EXISTS", "other"]).trim(), "0", "the stranger's data reached the target");
    replicant_testkit::assert_same(&snapshot(&mut master.conn()), &snapshot(&mut target.conn()));
}
