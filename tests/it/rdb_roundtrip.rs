//! Full round trips: fill a real server with every type and encoding, SAVE, then load
//! the RDB into a second server with `rdb restore` (each mode, and tiny batches) and with
//! `rdb dump | redis-cli --pipe`, and compare every key, value, TTL and stream group.

use replicant_testkit::{assert_same, fill, snapshot, RedisServer, Snapshot};

use crate::cli::{dump_into, replicant, replicant_ok};

struct Source {
    _server: RedisServer,
    rdb: std::path::PathBuf,
    image: Snapshot,
    functions: Vec<String>,
}

fn everything() -> Source {
    let server = RedisServer::start();
    let mut conn = server.conn();
    fill::fill_everything(&mut conn);
    let image = snapshot(&mut conn);
    let rdb = server.save();
    let functions = function_list(&server);
    Source { _server: server, rdb, image, functions }
}

/// The function libraries, as sorted lines (Redis lists a library's functions in hash
/// order).
fn function_list(server: &RedisServer) -> Vec<String> {
    let mut lines: Vec<String> = server.cli(&["FUNCTION", "LIST", "WITHCODE"]).lines().map(String::from).collect();
    lines.sort();
    lines
}

fn restore(source: &Source, extra: &[&str]) -> RedisServer {
    let target = RedisServer::start();
    let url = target.url();
    let mut args = vec!["rdb", "restore", source.rdb.to_str().unwrap(), "--target", url.as_str()];
    args.extend_from_slice(extra);
    replicant_ok(&args);
    target
}

fn assert_copied(source: &Source, target: &RedisServer) {
    assert!(source.image.len() > 50, "the fill must produce a real dataset");
    assert_same(&source.image, &snapshot(&mut target.conn()));
    assert_eq!(source.functions, function_list(target), "function libraries differ");
}

#[test]
fn restore_auto_copies_everything() {
    let source = everything();
    let target = restore(&source, &[]);
    assert_copied(&source, &target);
}

#[test]
fn restore_with_commands_copies_everything() {
    let source = everything();
    let target = restore(&source, &["--mode", "commands"]);
    assert_copied(&source, &target);
}

#[test]
fn restore_with_payloads_copies_everything() {
    let source = everything();
    let target = restore(&source, &["--mode", "restore"]);
    assert_copied(&source, &target);
}

#[test]
fn tiny_batches_and_no_raw_values_copy_everything() {
    let source = everything();
    let target = restore(&source, &["--batch-items", "3", "--raw-value-max", "0"]);
    assert_copied(&source, &target);
}

#[test]
fn dump_piped_to_redis_cli_rebuilds_everything() {
    let source = everything();
    let target = RedisServer::start();
    dump_into(&source.rdb, target.port(), &[]);
    assert_copied(&source, &target);
}

#[test]
fn dump_as_restore_payloads_rebuilds_everything() {
    let source = everything();
    let target = RedisServer::start();
    dump_into(&source.rdb, target.port(), &["--mode", "restore", "--target-version", "7.0"]);
    assert_copied(&source, &target);
}

#[test]
fn json_dump_has_one_valid_object_per_key() {
    let source = everything();
    let out = replicant_ok(&["rdb", "dump", "--format", "json", source.rdb.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    let keys = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .filter(|v| v.get("key").is_some())
        .count();
    assert_eq!(keys, source.image.len());
}

#[test]
fn check_summarises_and_rejects_corruption() {
    let source = everything();
    let out = replicant_ok(&["rdb", "check", source.rdb.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("keys: {} in 4 databases", source.image.len())), "{text}");
    assert!(text.contains("checksum: verified"), "{text}");

    let mut bytes = std::fs::read(&source.rdb).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let bad = source.rdb.with_file_name("flipped.rdb");
    std::fs::write(&bad, &bytes).unwrap();
    let out = replicant(&["rdb", "check", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("offset") || err.contains("checksum"), "{err}");
}

#[test]
fn a_target_that_takes_no_writes_is_refused_before_any() {
    let source = everything();
    let target = RedisServer::start();
    target.cli(&["ACL", "SETUSER", "default", "-@write"]);
    let url = target.url();
    let out = replicant(&["rdb", "restore", source.rdb.to_str().unwrap(), "--target", &url]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not take writes") && err.contains("NOPERM"), "{err}");
}

#[test]
fn a_target_error_stops_the_restore_with_the_key_named() {
    let source = everything();
    let target = RedisServer::start();
    // Only the prechecks' probe key may be written: every copied key is refused.
    target.cli(&["ACL", "SETUSER", "default", "resetkeys", "~replicant:*"]);
    let url = target.url();
    let out = replicant(&["rdb", "restore", source.rdb.to_str().unwrap(), "--target", &url]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rejected") && err.contains("key"), "{err}");
}
