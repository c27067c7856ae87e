//! The daemon (`replicant sync` with an admin port, a state directory, a config file):
//! attaching with `REPLICAOF` and watching `INFO`, metrics, `SHUTDOWN`, prechecks on a
//! non-empty target, resuming with a partial resync after SIGKILL, and a second full sync.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use replicant_testkit::{fill, free_port, snapshot, wait_until_same, RedisServer};

use crate::load::{additive_load, idempotent_load};
use crate::process::{admin, field, info, offset_before_a_last_write, wait_for, Daemon};

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut s, format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn attach_with_replicaof_and_watch_info_reach_streaming_with_no_lag() {
    let source = RedisServer::start();
    fill::fill_mixed(&mut source.conn(), 2_000);
    let target = RedisServer::start();
    let (admin_port, metrics_port) = (free_port(), free_port());
    let mut daemon = Daemon::start(&[
        "sync",
        "--target",
        &target.url(),
        "--admin",
        &format!("127.0.0.1:{admin_port}"),
        "--metrics",
        &format!("127.0.0.1:{metrics_port}"),
        "--progress",
        "never",
    ]);
    let mut conn = admin(admin_port);
    assert_eq!(field(&info(&mut conn, "replication"), "role").as_deref(), Some("master"));
    let reply: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(source.port()).query(&mut conn).unwrap();
    assert_eq!(reply, "OK");
    let streaming_with_no_lag = |conn: &mut redis::Connection| {
        let text = info(conn, "replication");
        field(&text, "phase").as_deref() == Some("streaming") && field(&text, "lag_bytes").as_deref() == Some("0")
    };
    wait_for("phase:streaming and lag_bytes:0", Duration::from_secs(60), || streaming_with_no_lag(&mut conn));
    let _: () = redis::cmd("SET").arg("live").arg("write").query(&mut source.conn()).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg("live:list").arg("a").arg("b").query(&mut source.conn()).unwrap();
    wait_until_same(&snapshot(&mut source.conn()), &mut target.conn(), Duration::from_secs(60));
    wait_for("lag_bytes:0 after live writes", Duration::from_secs(30), || streaming_with_no_lag(&mut conn));
    let text = info(&mut conn, "all");
    for name in [
        "role:slave",
        "master_host:127.0.0.1",
        &format!("master_port:{}", source.port()),
        "master_link_status:up",
        "master_replid:",
        "master_repl_offset:",
        "applied_offset:",
        "rdb_bytes:",
        "rdb_keys:2000",
        // The progress bar's total: the master's own count, asked before the snapshot.
        "rdb_keys_expected:2000",
        "commands_applied:",
        "errors:0",
    ] {
        assert!(text.contains(name), "INFO lacks {name}:\n{text}");
    }
    let offset = field(&text, "master_repl_offset").unwrap();
    assert_eq!(field(&text, "applied_offset").unwrap(), offset);
    let again: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(source.port()).query(&mut conn).unwrap();
    assert_eq!(again, "OK Already connected to specified master");
    let metrics = http_get(metrics_port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for line in
        ["replicant_lag_bytes 0", "replicant_phase{phase=\"streaming\"} 1", "replicant_shard_in_flight{shard=\"0\"}"]
    {
        assert!(metrics.contains(line), "metrics lack {line}:\n{metrics}");
    }
    let detached: String = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut conn).unwrap();
    assert_eq!(detached, "OK");
    let text = info(&mut conn, "replication");
    assert_eq!(field(&text, "role").as_deref(), Some("master"));
    assert_eq!(field(&text, "phase").as_deref(), Some("stopped"));
    let _: redis::RedisResult<String> = redis::cmd("SHUTDOWN").query(&mut conn);
    assert!(daemon.wait_exit(Duration::from_secs(30)), "SHUTDOWN did not end the process cleanly");
}

pub(crate) fn checkpoint_offset(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("checkpoint.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    (v["state"] == "streaming").then(|| v["offset"].as_u64()).flatten()
}

type Load = fn(redis::Connection, Arc<AtomicBool>, Arc<AtomicU64>) -> std::thread::JoinHandle<()>;

/// Runs replicant with `extra` flags and a state directory while `load` writes to the
/// source, kills it with SIGKILL once a checkpoint moved under load, lets the load go on,
/// starts it again, and stops the load: returns the second process, still running.
fn kill_and_restart(source: &RedisServer, target: &RedisServer, state: &Path, extra: &[&str], load: Load) -> Daemon {
    let (src, dst) = (source.url(), target.url());
    let mut args = vec!["sync", "--source", &src, "--target", &dst, "--progress", "never"];
    args.extend(["--state-dir", state.to_str().unwrap()]);
    args.extend(extra);
    let mut first = Daemon::start(&args);
    wait_for("a streaming checkpoint", Duration::from_secs(60), || checkpoint_offset(state).is_some());
    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let writer = load(source.conn(), stop.clone(), done.clone());
    let first_checkpoint = checkpoint_offset(state).unwrap();
    wait_for("the checkpoint to move under load", Duration::from_secs(60), || {
        checkpoint_offset(state).is_some_and(|o| o > first_checkpoint) && done.load(Ordering::Relaxed) > 300
    });
    first.kill();
    let writes_at_kill = done.load(Ordering::Relaxed);
    wait_for("more writes while replicant is down", Duration::from_secs(30), || {
        done.load(Ordering::Relaxed) > writes_at_kill + 100
    });
    let second = Daemon::start(&args);
    wait_for("more writes after the restart", Duration::from_secs(30), || {
        done.load(Ordering::Relaxed) > writes_at_kill + 300
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    second
}

/// A source whose backlog holds everything the load writes, however slow the machine (a
/// resume the backlog cannot serve is a clean stop, tested below).
fn source_with_big_backlog(keys: usize) -> RedisServer {
    let source = RedisServer::builder().arg("--repl-backlog-size", "256mb").start();
    fill::fill_mixed(&mut source.conn(), keys);
    source
}

/// At least once (no markers): the writes in flight at the kill are applied again, which
/// the idempotent load cannot tell.
#[test]
fn a_daemon_killed_with_sigkill_resumes_with_a_partial_resync() {
    let (source, target, state) = (source_with_big_backlog(5_000), RedisServer::start(), tempfile::tempdir().unwrap());
    let second = kill_and_restart(&source, &target, state.path(), &["--at-least-once"], idempotent_load);
    wait_until_same(&snapshot(&mut source.conn()), &mut target.conn(), Duration::from_secs(60));
    assert_eq!(source.info_field("stats", "sync_full").as_deref(), Some("1"), "a second full sync happened");
    let partial: u64 = source.info_field("stats", "sync_partial_ok").unwrap().parse().unwrap();
    assert!(partial >= 1, "no partial resync:\n{}", second.log());
    assert!(second.log().contains("Resuming from the checkpoint"), "{}", second.log());
}

#[test]
fn a_sigkilled_daemon_applies_nothing_twice() {
    let (source, target, state) = (source_with_big_backlog(2_000), RedisServer::start(), tempfile::tempdir().unwrap());
    let mut second = kill_and_restart(&source, &target, state.path(), &["--shards", "4"], additive_load);
    let before = offset_before_a_last_write(&source);
    let expected = snapshot(&mut source.conn());
    wait_for("the checkpoint to pass the last write", Duration::from_secs(60), || {
        checkpoint_offset(state.path()).is_some_and(|o| o > before)
    });
    second.signal("-TERM");
    assert!(second.wait_exit(Duration::from_secs(30)), "SIGTERM did not end the process cleanly");
    // The markers are gone after the clean stop, so the target is the source exactly.
    replicant_testkit::assert_same(&expected, &snapshot(&mut target.conn()));
    assert_eq!(source.info_field("stats", "sync_full").as_deref(), Some("1"), "a second full sync happened");
    let partial: u64 = source.info_field("stats", "sync_partial_ok").unwrap().parse().unwrap();
    assert!(partial >= 1, "no partial resync:\n{}", second.log());
    assert!(second.log().contains("Exactly once"), "{}", second.log());
}

#[test]
fn sigterm_drains_and_stores_a_final_checkpoint() {
    let source = RedisServer::start();
    fill::fill_mixed(&mut source.conn(), 1_000);
    let target = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let admin_port = free_port();
    let mut daemon = Daemon::start(&[
        "sync",
        "--source",
        &source.url(),
        "--target",
        &target.url(),
        "--state-dir",
        state.path().to_str().unwrap(),
        "--admin",
        &format!("127.0.0.1:{admin_port}"),
    ]);
    let mut conn = admin(admin_port);
    wait_for("streaming", Duration::from_secs(60), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("streaming")
    });
    let before = offset_before_a_last_write(&source);
    wait_for("the write applied", Duration::from_secs(60), || {
        let text = info(&mut conn, "replication");
        field(&text, "applied_offset").and_then(|o| o.parse::<u64>().ok()).is_some_and(|o| o > before)
    });
    daemon.signal("-TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)), "SIGTERM did not end the process cleanly");
    assert!(checkpoint_offset(state.path()).unwrap() > before);
    // The exactly-once markers are deleted at a clean stop: the target is the source.
    replicant_testkit::assert_same(&snapshot(&mut source.conn()), &snapshot(&mut target.conn()));
}

#[test]
fn a_target_with_keys_is_refused_unless_merge_or_replace_is_asked_for() {
    let source = RedisServer::start();
    fill::fill_mixed(&mut source.conn(), 500);
    let expected = snapshot(&mut source.conn());
    let target = RedisServer::start();
    let _: () = redis::cmd("SET").arg("planted").arg("x").query(&mut target.conn()).unwrap();
    let base = ["sync", "--source", &source.url(), "--target", &target.url(), "--once"];
    let out = crate::cli::replicant(&base);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("already holds 1 keys") && err.contains("existing_data"), "{err}");
    crate::cli::replicant_ok(&[&base[..], &["--existing-data", "merge"]].concat());
    let planted: Option<String> = redis::cmd("GET").arg("planted").query(&mut target.conn()).unwrap();
    assert_eq!(planted.as_deref(), Some("x"));
    crate::cli::replicant_ok(&[&base[..], &["--existing-data", "replace"]].concat());
    replicant_testkit::assert_same(&expected, &snapshot(&mut target.conn()));
}

#[test]
fn run_takes_a_config_file_and_rejects_a_bad_one_with_its_line() {
    let source = RedisServer::start();
    fill::fill_mixed(&mut source.conn(), 500);
    let target = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    let text = format!(
        "[source]\nurl = \"{}\"\n\n[target]\nurl = \"{}\"\n\n[sync]\nonce = true\n\n[writer]\nshards = 3\n",
        source.url(),
        target.url()
    );
    std::fs::write(&good, text).unwrap();
    crate::cli::replicant_ok(&["run", "-c", good.to_str().unwrap()]);
    replicant_testkit::assert_same(&snapshot(&mut source.conn()), &snapshot(&mut target.conn()));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[target]\nurl = \"redis://127.0.0.1:1\"\n\n[writer]\nshardz = 3\n").unwrap();
    let out = crate::cli::replicant(&["run", "-c", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("bad.toml:5:") && err.contains("shardz"), "{err}");
    std::fs::write(&bad, "[target]\nurl = \"redis://127.0.0.1:1\"\n\n[writer]\nshards = 0\n").unwrap();
    let out = crate::cli::replicant(&["run", "-c", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("writer.shards"), "{err}");
}

#[test]
fn a_checkpoint_the_backlog_no_longer_holds_stops_with_what_to_do() {
    let source = RedisServer::builder().arg("--repl-backlog-size", "16kb").start();
    let target = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap();
    let args = ["sync", "--source", &source.url(), "--target", &target.url(), "--state-dir", state_dir];
    let mut first = Daemon::start(&args);
    wait_for("a streaming checkpoint", Duration::from_secs(60), || checkpoint_offset(state.path()).is_some());
    first.kill();
    fill::fill_strings(&mut source.conn(), 2_000, 100);
    let out = crate::cli::replicant(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("cannot continue") && err.contains("checkpoint.json") && err.contains("replace"), "{err}");
    let keys: u64 = redis::cmd("DBSIZE").query(&mut target.conn()).unwrap();
    assert_eq!(keys, 0, "a second snapshot was written");
}

/// A set too big for one RESTORE (so it is rebuilt with commands on its node's first sender).
fn big_set(conn: &mut redis::Connection, key: &str, from: usize, n: usize) {
    for chunk in (from..from + n).collect::<Vec<_>>().chunks(5_000) {
        let members: Vec<String> = chunk.iter().map(|i| format!("member-{i:08}")).collect();
        let _: () = redis::cmd("SADD").arg(key).arg(&members).query(conn).unwrap();
    }
}

#[test]
fn a_second_full_sync_taken_with_accept_ends_equal() {
    let source = RedisServer::start();
    fill::fill_mixed(&mut source.conn(), 2_000);
    big_set(&mut source.conn(), "big", 0, 60_000);
    let target = RedisServer::start();
    let admin_port = free_port();
    let _daemon = Daemon::start(&[
        "sync",
        "--source",
        &source.url(),
        "--target",
        &target.url(),
        "--accept-full-resync",
        "--admin",
        &format!("127.0.0.1:{admin_port}"),
        "--progress",
        "never",
    ]);
    let mut conn = admin(admin_port);
    wait_for("phase:streaming", Duration::from_secs(60), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("streaming")
    });
    wait_until_same(&snapshot(&mut source.conn()), &mut target.conn(), Duration::from_secs(60));

    // A new replication ID makes the next PSYNC a full sync; the writes meanwhile grow the
    // big set and add keys, big and small.
    let mut src = source.conn();
    let _: () = redis::cmd("DEBUG").arg("CHANGE-REPL-ID").query(&mut src).unwrap();
    let _: () = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("replica").query(&mut src).unwrap();
    big_set(&mut src, "big", 60_000, 10_000);
    big_set(&mut src, "big-too", 0, 60_000);
    for i in 0..500 {
        let _: () = redis::cmd("SET").arg(format!("new:{i}")).arg(i).arg("PX").arg(3_600_000).query(&mut src).unwrap();
        let _: () = redis::cmd("HSET").arg("new-hash").arg(i).arg(i).query(&mut src).unwrap();
    }
    wait_for("a second full sync", Duration::from_secs(60), || {
        field(&info(&mut conn, "stats"), "full_syncs").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) >= 2
    });
    wait_until_same(&snapshot(&mut source.conn()), &mut target.conn(), Duration::from_secs(60));
}
