//! `replicant sync`: a live master copied to a target through the link and the sharded
//! writer, compared key by key.

use replicant_testkit::{assert_same, fill, snapshot, RedisServer};

use crate::cli::replicant_ok;

#[test]
fn sync_once_copies_every_type_and_exits() {
    let source = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
    fill::fill_everything(&mut source.conn());
    let expected = snapshot(&mut source.conn());
    let target = RedisServer::start();
    let out = replicant_ok(&["sync", "--source", &source.url(), "--target", &target.url(), "--once", "--shards", "4"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{} keys in the snapshot", expected.len())), "{err}");
    assert_same(&expected, &snapshot(&mut target.conn()));
}

#[test]
fn sync_once_with_forced_restore_payloads() {
    let source = RedisServer::builder().arg("--repl-diskless-sync", "no").start();
    fill::fill_everything(&mut source.conn());
    let expected = snapshot(&mut source.conn());
    let target = RedisServer::start();
    replicant_ok(&["sync", "--source", &source.url(), "--target", &target.url(), "--once", "--mode", "restore"]);
    assert_same(&expected, &snapshot(&mut target.conn()));
}
