//! `replicant rdb restore` runs on the daemon's writer: the file is a source like a master.
//! Every key is compared on a standalone target and on a cluster; the prechecks, the
//! sharded senders, standard input and the writer's skip list apply as they do for `sync`.

use std::io::Write;
use std::process::{Command, Stdio};

use replicant_testkit::{assert_same, fill, snapshot, RedisCluster, RedisServer, Snapshot};

use crate::cli::{replicant, replicant_ok};

/// A saved server with mixed keys (database 0 only, so that a cluster can hold them).
struct Saved {
    _server: RedisServer,
    rdb: std::path::PathBuf,
    image: Snapshot,
}

fn mixed(keys: usize) -> Saved {
    let server = RedisServer::start();
    fill::fill_mixed(&mut server.conn(), keys);
    let image = snapshot(&mut server.conn());
    let rdb = server.save();
    Saved { _server: server, rdb, image }
}

fn restore_args<'a>(saved: &'a Saved, target: &'a str) -> Vec<&'a str> {
    vec!["rdb", "restore", saved.rdb.to_str().unwrap(), "--target", target, "--progress", "never"]
}

#[test]
fn a_cluster_target_gets_every_key() {
    let saved = mixed(3_000);
    let cluster = RedisCluster::start(3);
    let url = cluster.url();
    let mut args = restore_args(&saved, &url);
    args.extend(["--shards", "6"]);
    let out = replicant_ok(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Restored {} keys", saved.image.len())), "{err}");
    assert_same(&saved.image, &cluster.snapshot());
}

#[test]
fn every_sender_has_its_own_connection() {
    let saved = mixed(600);
    let target = RedisServer::start();
    let before: u64 = target.info_field("stats", "total_connections_received").unwrap().parse().unwrap();
    let url = target.url();
    let mut args = restore_args(&saved, &url);
    args.extend(["--shards", "5"]);
    replicant_ok(&args);
    assert_same(&saved.image, &snapshot(&mut target.conn()));
    let after: u64 = target.info_field("stats", "total_connections_received").unwrap().parse().unwrap();
    // Five senders, plus the writer's probe and the prechecks' connection.
    assert!(after - before >= 7, "{} connections: not the sharded writer", after - before);
}

#[test]
fn a_target_with_keys_is_refused_unless_merge_or_replace_is_asked() {
    let saved = mixed(300);
    let target = RedisServer::start();
    target.cli(&["SET", "already", "here"]);
    let url = target.url();
    let out = replicant(&restore_args(&saved, &url));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the target already holds 1 keys"), "{err}");
    assert_eq!(target.cli(&["DBSIZE"]).trim(), "1", "nothing may be written before the refusal");

    let mut merge = restore_args(&saved, &url);
    merge.extend(["--existing-data", "merge"]);
    replicant_ok(&merge);
    assert_eq!(target.cli(&["GET", "already"]).trim(), "here");
    assert_eq!(target.cli(&["DBSIZE"]).trim(), (saved.image.len() + 1).to_string());

    let mut replace = restore_args(&saved, &url);
    replace.extend(["--existing-data", "replace"]);
    replicant_ok(&replace);
    assert_same(&saved.image, &snapshot(&mut target.conn()));
}

#[test]
fn standard_input_is_a_file_too() {
    let saved = mixed(500);
    let target = RedisServer::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_replicant"))
        .args(["rdb", "restore", "-", "--target", &target.url(), "--progress", "never"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(&saved.rdb).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_same(&saved.image, &snapshot(&mut target.conn()));
}

#[test]
fn skip_errors_lets_the_other_keys_through() {
    let saved = mixed(600);
    let target = RedisServer::start();
    // Writes to the list keys are refused; every other key (and the precheck's probe) is allowed.
    target.cli(&["ACL", "SETUSER", "default", "resetkeys", "~replicant:*", "~mixed:string:*", "~mixed:hash:*"]);
    let url = target.url();
    let out = replicant(&restore_args(&saved, &url));
    assert!(!out.status.success(), "a refused key must stop the run");

    let target = RedisServer::start();
    target.cli(&["ACL", "SETUSER", "default", "resetkeys", "~replicant:*", "~mixed:string:*", "~mixed:hash:*"]);
    let url = target.url();
    let mut args = restore_args(&saved, &url);
    args.extend(["--skip-errors", "NOPERM"]);
    replicant_ok(&args);
    let mut allowed = saved.image.clone();
    allowed.retain(|_, key| key.starts_with(b"mixed:string:") || key.starts_with(b"mixed:hash:"));
    assert!(allowed.len() > 150, "{} keys allowed", allowed.len());
    target.cli(&["ACL", "SETUSER", "default", "allkeys"]);
    assert_same(&allowed, &snapshot(&mut target.conn()));
}

#[test]
fn a_file_that_stops_short_says_so() {
    let saved = mixed(300);
    let bytes = std::fs::read(&saved.rdb).unwrap();
    let cut = saved.rdb.with_file_name("cut.rdb");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let target = RedisServer::start();
    let out = replicant(&["rdb", "restore", cut.to_str().unwrap(), "--target", &target.url(), "--progress", "never"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.rdb") && err.contains("not a valid RDB") && err.contains("offset"), "{err}");
}
