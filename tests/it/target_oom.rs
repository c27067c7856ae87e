//! A target that runs out of memory (`maxmemory` with `noeviction`): during the full sync
//! the job stops naming the command, the key and the `OOM` reply, and a restart refuses to
//! write over its own partial snapshot unless told to replace it; while streaming it stops
//! the same way, and once the limit is raised a restart continues from the checkpoint with
//! a partial resync, losing nothing and applying nothing twice.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use replicant_testkit::{assert_same, fill, free_port, snapshot, RedisServer};

use crate::cli::{replicant, replicant_ok};
use crate::load::additive_load;
use crate::process::{
    admin, caught_up, field, info, offset_before_a_last_write, wait_for, wait_same_but_markers, Daemon,
};

fn checkpoint(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("checkpoint.json")).unwrap()).unwrap()
}

/// Whether `error` names a rejected command with a key (not `on key ""`) and the OOM reply.
fn names_command_key_and_oom(error: &str, key: Option<&str>) -> bool {
    let named = match key {
        Some(key) => error.contains(&format!("on key \"{key}\"")),
        None => error.contains(" on key \"") && !error.contains("on key \"\""),
    };
    error.contains("rejected ") && named && error.contains("OOM command not allowed")
}

#[test]
fn a_target_full_during_the_full_sync_stops_and_only_replace_writes_over_the_partial_copy() {
    let source = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
    fill::fill_mixed(&mut source.conn(), 2_000);
    fill::fill_strings(&mut source.conn(), 5_000, 1_000);
    let expected = snapshot(&mut source.conn());
    // An empty server takes about 1 MB; the data does not fit in the 3 MB left.
    let target = RedisServer::builder().arg("--maxmemory", "4mb").arg("--maxmemory-policy", "noeviction").start();
    let state = tempfile::tempdir().unwrap();
    let (src, dst) = (source.url(), target.url());
    let args = ["sync", "--source", &src, "--target", &dst, "--state-dir", state.path().to_str().unwrap()];
    let args = [&args[..], &["--progress", "never"]].concat();

    let out = replicant(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a full target did not fail the job:\n{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(names_command_key_and_oom(last, None), "the error does not name command, key and reply: {last}\n{err}");
    assert_eq!(checkpoint(state.path())["state"], "full_sync", "{err}");
    let partial: u64 = target.cli(&["DBSIZE"]).trim().parse().unwrap();
    assert!(partial > 0, "nothing was written before the OOM");

    target.cli(&["CONFIG", "SET", "maxmemory", "0"]);
    let out = replicant(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the partial snapshot was written over without replace:\n{err}");
    assert!(err.contains("an earlier run stopped during its full sync") && err.contains("replace"), "{err}");
    assert_eq!(target.cli(&["DBSIZE"]).trim(), partial.to_string(), "the refused run wrote");

    replicant_ok(&[&args[..], &["--existing-data", "replace", "--once"]].concat());
    assert_same(&expected, &snapshot(&mut target.conn()));
}

/// A daemon with an admin port and a state directory.
fn daemon(source: &RedisServer, target: &RedisServer, state: &Path) -> (Daemon, redis::Connection) {
    let admin_port = free_port();
    let (src, dst, admin_addr) = (source.url(), target.url(), format!("127.0.0.1:{admin_port}"));
    let daemon = Daemon::start(&[
        "sync",
        "--source",
        &src,
        "--target",
        &dst,
        "--state-dir",
        state.to_str().unwrap(),
        "--admin",
        &admin_addr,
        "--progress",
        "never",
        "--shards",
        "4",
    ]);
    (daemon, admin(admin_port))
}

fn phase(conn: &mut redis::Connection) -> Option<String> {
    field(&info(conn, "replication"), "phase")
}

#[test]
fn a_target_full_while_streaming_stops_naming_the_key_and_a_restart_continues_exactly_once() {
    let source =
        RedisServer::builder().arg("--repl-backlog-size", "256mb").arg("--repl-diskless-sync-delay", "0").start();
    fill::fill_mixed(&mut source.conn(), 2_000);
    let target = RedisServer::builder().arg("--maxmemory-policy", "noeviction").start();
    let state = tempfile::tempdir().unwrap();
    let (mut first, mut conn) = daemon(&source, &target, state.path());
    wait_for("the snapshot applied", Duration::from_secs(60), || caught_up(&info(&mut conn, "replication")));
    wait_same_but_markers(&source, &target);
    // The refused batch is a transaction that opens with the stream's SELECT, which the
    // target refuses first: the error still names the write.

    let used: u64 = target.info_field("memory", "used_memory").unwrap().parse().unwrap();
    target.cli(&["CONFIG", "SET", "maxmemory", &(used / 2).to_string()]);
    source.cli(&["SET", "refused", "by the target"]);
    wait_for("phase:failed", Duration::from_secs(60), || phase(&mut conn).as_deref() == Some("failed"));
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(names_command_key_and_oom(&error, Some("refused")), "{error}\n{}", first.log());
    assert!(error.contains("rejected SET"), "{error}");
    let at_stop = checkpoint(state.path());
    assert_eq!(at_stop["state"], "streaming", "{at_stop}");
    let _: redis::RedisResult<String> = redis::cmd("SHUTDOWN").query(&mut conn);
    first.wait_exit(Duration::from_secs(30));

    // Writes go on while the daemon is down and after it is back: additive ones, which a
    // lost or doubled write would show.
    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let load = additive_load(source.conn(), stop.clone(), done.clone());
    wait_for("writes while the daemon is down", Duration::from_secs(30), || done.load(Ordering::Relaxed) > 200);
    target.cli(&["CONFIG", "SET", "maxmemory", "0"]);
    let (mut second, mut conn) = daemon(&source, &target, state.path());
    let at_restart = done.load(Ordering::Relaxed);
    wait_for("writes after the restart", Duration::from_secs(30), || done.load(Ordering::Relaxed) > at_restart + 200);
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();

    wait_same_but_markers(&source, &target);
    assert_eq!(phase(&mut conn).as_deref(), Some("streaming"));
    assert!(second.log().contains("Resuming from the checkpoint"), "{}", second.log());
    assert_eq!(source.info_field("stats", "sync_full").as_deref(), Some("1"), "a second full sync happened");
    let before = offset_before_a_last_write(&source);
    let expected = snapshot(&mut source.conn());
    wait_for("the last write applied", Duration::from_secs(60), || {
        field(&info(&mut conn, "replication"), "applied_offset").and_then(|o| o.parse::<u64>().ok()) > Some(before)
    });
    second.signal("-TERM");
    assert!(second.wait_exit(Duration::from_secs(30)), "SIGTERM did not end the process cleanly");
    // The markers are gone after the clean stop: the target is the source exactly.
    assert_same(&expected, &snapshot(&mut target.conn()));
}
