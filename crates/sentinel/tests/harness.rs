//! The testkit's `RedisSentinel` helper, as these tests rely on it: a missing binary fails
//! loudly, sentinels of one group find each other, a password is configured and used.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::panic::catch_unwind;

use replicant_testkit::{RedisSentinel, RedisServer};
use support::{Group, WAIT};

#[test]
fn a_missing_binary_fails_with_a_clear_message() {
    let master = RedisServer::start();
    let payload =
        catch_unwind(|| RedisSentinel::builder("alpha", master.port()).binary("/nonexistent/sentinel").start())
            .expect_err("starting a missing binary must panic");
    let message = payload.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("cannot run the sentinel binary `/nonexistent/sentinel`"), "{message}");
    assert!(message.contains("REPLICANT_REDIS_SENTINEL"), "{message}");
}

#[test]
fn a_group_of_sentinels_finds_each_other() {
    let group = Group::start("alpha", 3);
    for sentinel in &group.sentinels {
        sentinel.wait_for_sentinels(2, WAIT);
        assert_eq!(sentinel.master_addr(), Some(group.master.addr()));
        assert_eq!(sentinel.replicas().len(), 1);
    }
}

#[test]
fn a_password_is_required() {
    let group = Group::start_with("alpha", 1, |s| s.password("sentinel-secret"));
    let sentinel = &group.sentinels[0];
    assert!(sentinel.url().contains(":sentinel-secret@"), "{}", sentinel.url());
    assert_eq!(sentinel.cli(&["PING"]), "PONG");
    assert!(std::fs::read_to_string(sentinel.dir().join("sentinel.conf")).unwrap().contains("requirepass"));
}
