//! A Kvrocks target: a Redis master that uses databases 0, 1 and 9 is copied and streamed
//! into a mock Kvrocks 2.10.1 (each namespace kept in a real `redis-server`), each database
//! into the namespace its token reaches, with the exactly-once transactions; a source
//! database without a namespace stops the run before anything of it is written, at the
//! start or when the stream first selects it. Also, for every target: a rejected
//! multi-key command names all its keys.

use std::time::Duration;

use replicant_testkit::{diff_report, fill, snapshot, MockKvrocksTarget, RedisServer, Snapshot};

use crate::cli::replicant;
use crate::process::{admin, caught_up, field, info, wait_for, Daemon};

const PASSWORD: &str = "adminpass";

fn kvrocks_target() -> MockKvrocksTarget {
    MockKvrocksTarget::builder().password(PASSWORD).namespace("ns1", "tok1").namespace("ns9", "tok9").start()
}

fn target_url(target: &MockKvrocksTarget) -> String {
    format!("redis://:{PASSWORD}@{}", target.addr())
}

/// What namespace `ns` holds, without the exactly-once markers.
fn namespace(target: &MockKvrocksTarget, ns: &str) -> Snapshot {
    let mut image = snapshot(&mut target.backend(ns).conn());
    image.retain(|_, key| !key.starts_with(b"replicant:applied:"));
    image
}

/// Polls until each source database equals its namespace.
fn wait_namespaces_equal(source: &RedisServer, target: &MockKvrocksTarget, map: &[(u32, &str)]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let expected = snapshot(&mut source.conn());
        let report = map.iter().find_map(|(db, ns)| {
            diff_report(&expected.db_as(*db, 0), &namespace(target, ns)).map(|r| format!("db {db} → {ns}: {r}"))
        });
        let Some(report) = report else { return };
        assert!(std::time::Instant::now() < deadline, "a namespace differs: {report}\n{}", target.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the job stopped; the error it stopped with.
fn stopped_with(admin_port: u16) -> String {
    let mut conn = admin(admin_port);
    wait_for("phase:failed", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    field(&info(&mut conn, "replication"), "last_error").unwrap_or_default()
}

fn write_in(source: &RedisServer, db: u32, words: &[&str]) {
    let mut conn = source.conn();
    redis::cmd("SELECT").arg(db).exec(&mut conn).unwrap();
    redis::cmd(words[0]).arg(&words[1..]).exec(&mut conn).unwrap();
}

#[test]
fn databases_0_1_and_9_go_to_their_namespaces_through_the_full_sync_and_the_stream() {
    let source = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
    for db in [0u32, 1, 9] {
        let mut conn = source.conn();
        redis::cmd("SELECT").arg(db).exec(&mut conn).unwrap();
        fill::fill_mixed(&mut conn, 300);
        redis::cmd("SET").arg("same-name").arg(format!("db{db}")).arg("EX").arg(1000).exec(&mut conn).unwrap();
    }
    let target = kvrocks_target();
    let (state, admin_port) = (tempfile::tempdir().unwrap(), replicant_testkit::free_port());
    let (src, dst, admin_addr) = (source.url(), target_url(&target), format!("127.0.0.1:{admin_port}"));
    #[rustfmt::skip]
    let daemon = Daemon::start(&[
        "sync", "--source", &src, "--target", &dst,
        "--target-kvrocks-namespace", "1=tok1", "--target-kvrocks-namespace", "9=tok9",
        "--state-dir", state.path().to_str().unwrap(), "--admin", &admin_addr, "--progress", "never",
    ]);
    let map = [(0, "__namespace"), (1, "ns1"), (9, "ns9")];
    wait_for("the full sync", Duration::from_secs(60), || caught_up(&info(&mut admin(admin_port), "replication")));
    wait_namespaces_equal(&source, &target, &map);
    assert!(daemon.log().contains("The target is an Apache Kvrocks"), "{}", daemon.log());
    assert!(!daemon.log().contains("maxmemory-policy"), "a Redis precheck ran on Kvrocks:\n{}", daemon.log());

    // The stream, over every database, with multi-key commands and a transaction.
    write_in(&source, 9, &["RENAME", "same-name", "renamed"]);
    write_in(&source, 1, &["RPUSH", "list:a", "x", "y"]);
    write_in(&source, 1, &["LMOVE", "list:a", "list:b", "LEFT", "RIGHT"]);
    write_in(&source, 0, &["PEXPIRE", "same-name", "5000000"]);
    let mut conn = source.conn();
    redis::cmd("SELECT").arg(9).exec(&mut conn).unwrap();
    redis::pipe().atomic().set("tx:1", "a").incr("tx:n", 2).del("renamed").exec(&mut conn).unwrap();
    redis::cmd("SELECT").arg(0).exec(&mut conn).unwrap();
    redis::cmd("MSET").arg("m:1").arg("1").arg("m:2").arg("2").exec(&mut conn).unwrap();
    wait_namespaces_equal(&source, &target, &map);
    let sent = target.requests();
    assert!(sent.iter().any(|r| r.starts_with("AUTH tok9")), "no AUTH reached ns9: {sent:?}");
    assert!(!sent.iter().any(|r| r.starts_with("FLUSHALL")), "FLUSHALL sent to a Kvrocks: {sent:?}");

    // A database the stream selects later with no namespace: nothing of it is written.
    write_in(&source, 3, &["SET", "in-db-3", "x"]);
    let error = stopped_with(admin_port);
    assert!(error.contains("none is set for database 3") && error.contains("nothing of it was written"), "{error}");
    for (_, ns) in map {
        assert!(namespace(&target, ns).get(0, b"in-db-3").is_none(), "database 3's key landed in {ns}");
    }
}

#[test]
fn a_source_database_without_a_namespace_is_refused_before_anything_is_written() {
    let source = RedisServer::start();
    source.cli(&["SET", "k0", "v"]);
    write_in(&source, 5, &["SET", "k5", "v"]);
    let target = kvrocks_target();
    let dst = target_url(&target);
    let out = replicant(&["sync", "--source", &source.url(), "--target", &dst, "--progress", "never"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("database 5") && err.contains("[target.kvrocks.namespaces]"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    for ns in ["__namespace", "ns1", "ns9"] {
        assert!(namespace(&target, ns).is_empty(), "{ns} was written to");
    }
}

#[test]
fn a_rejected_multi_key_command_names_all_its_keys() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let admin_port = replicant_testkit::free_port();
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let (src, dst) = (source.url(), target.url());
    #[rustfmt::skip]
    let _daemon = Daemon::start(&[
        "sync", "--source", &src, "--target", &dst, "--admin", &admin_addr, "--progress", "never",
    ]);
    wait_for("streaming", Duration::from_secs(60), || caught_up(&info(&mut admin(admin_port), "replication")));
    // A key the source does not have, of another type: the target refuses the move.
    target.cli(&["SET", "dst:list", "a string"]);
    source.cli(&["RPUSH", "src:list", "x"]);
    source.cli(&["RPOPLPUSH", "src:list", "dst:list"]);
    let error = stopped_with(admin_port);
    assert!(error.contains(r#"rejected RPOPLPUSH on keys "src:list", "dst:list" (db 0): WRONGTYPE"#), "{error}");
}
