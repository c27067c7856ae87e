//! Following the master through failovers with [`SwitchWatcher`] against real sentinels:
//! `SENTINEL FAILOVER` is reported, a stale address is corrected on connecting, a killed
//! sentinel is replaced by another one, and stopping closes the subscription.
//!
//! Needs `redis-server` and `redis-sentinel` (or `REPLICANT_REDIS_SERVER` and
//! `REPLICANT_REDIS_SENTINEL`); missing either fails the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use replicant_sentinel::{master_addr, verify_master, SwitchWatcher};
use replicant_testkit::RedisSentinel;
use support::{addr_of, fast, no_credentials, wait_until, within, Group};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_is_reported() {
    let group = Group::start("alpha", 1);
    let mut watcher = SwitchWatcher::start(group.endpoints(), "alpha", addr_of(&group.master), fast()).unwrap();
    wait_until("subscription", || watcher.sentinel().is_some()).await;
    assert_eq!(watcher.sentinel(), Some(group.sentinels[0].addr()));

    group.sentinels[0].failover();
    let new_master = within("+switch-master", watcher.next()).await.expect("the watcher stopped");
    assert_eq!(new_master, addr_of(&group.replica));
    assert_eq!(watcher.master(), new_master);
    assert_eq!(master_addr(&group.endpoints(), "alpha").await.unwrap(), new_master);
    verify_master(&no_credentials(), &new_master).await.unwrap();
    within("stop", watcher.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_address_is_corrected_on_connecting() {
    let group = Group::start("alpha", 1);
    // Started with the replica's address, as if a switch had been missed.
    let mut watcher = SwitchWatcher::start(group.endpoints(), "alpha", addr_of(&group.replica), fast()).unwrap();
    let current = within("the address asked on connecting", watcher.next()).await;
    assert_eq!(current, Some(addr_of(&group.master)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_moves_to_another_sentinel() {
    let mut group = Group::start("alpha", 3);
    // The first sentinel is watched first; the dead one after it is skipped later.
    let mut watcher = SwitchWatcher::start(group.endpoints(), "alpha", addr_of(&group.master), fast()).unwrap();
    wait_until("subscription", || watcher.sentinel().is_some()).await;
    assert_eq!(watcher.sentinel(), Some(group.sentinels[0].addr()));

    let killed = group.sentinels[0].addr();
    group.sentinels[0].kill();
    wait_until("a new sentinel", || watcher.sentinel().is_some_and(|s| s != killed)).await;
    let watched = watcher.sentinel().unwrap();
    let survivor = group.sentinels.iter().find(|s| s.addr() == watched).expect("a known sentinel");

    survivor.failover();
    let new_master = within("+switch-master after the move", watcher.next()).await.expect("the watcher stopped");
    assert_eq!(new_master, addr_of(&group.replica));
    assert_eq!(master_addr(&group.endpoints(), "alpha").await.unwrap(), new_master, "the dead sentinel is skipped");
    verify_master(&no_credentials(), &new_master).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_sentinel_is_given_up() {
    let group = Group::start("alpha", 2);
    let mut watcher = SwitchWatcher::start(group.endpoints(), "alpha", addr_of(&group.master), fast()).unwrap();
    wait_until("subscription", || watcher.sentinel().is_some()).await;
    let frozen = &group.sentinels[0];
    assert_eq!(watcher.sentinel(), Some(frozen.addr()));

    // A stopped process keeps its connections open but answers nothing, like a host gone
    // silent: only the missing PING replies can tell.
    signal(frozen.pid(), "STOP");
    wait_until("a live sentinel", || watcher.sentinel().is_some_and(|s| s != frozen.addr())).await;
    signal(frozen.pid(), "CONT");
    group.sentinels[1].failover();
    let new_master = within("+switch-master after the move", watcher.next()).await;
    assert_eq!(new_master, Some(addr_of(&group.replica)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_or_dropping_closes_the_subscription() {
    let group = Group::start("alpha", 1);
    let sentinel = &group.sentinels[0];
    let start = || SwitchWatcher::start(group.endpoints(), "alpha", addr_of(&group.master), fast()).unwrap();

    let watcher = start();
    // One connection stays subscribed while pings (every 200 ms) are answered.
    wait_until("a subscription 2 s old", || matches!(subscriber_ages(sentinel)[..], [age] if age >= 2)).await;
    within("stop", watcher.stop()).await;
    wait_until("no subscriber after stop", || subscribers(sentinel) == 0).await;

    let watcher = start();
    wait_until("subscription", || subscribers(sentinel) == 1).await;
    drop(watcher);
    wait_until("no subscriber after drop", || subscribers(sentinel) == 0).await;
}

/// Sends a signal to a process this test started.
fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -{name} {pid}: {status}");
}

/// Clients of the sentinel with a subscription.
fn subscribers(sentinel: &RedisSentinel) -> usize {
    subscriber_ages(sentinel).len()
}

/// The age in seconds of each client of the sentinel with a subscription.
fn subscriber_ages(sentinel: &RedisSentinel) -> Vec<u64> {
    let list = sentinel.cli(&["CLIENT", "LIST"]);
    let subscribed = list.lines().filter(|line| line.split(' ').any(|field| field == "sub=1"));
    subscribed.filter_map(|line| line.split(' ').find_map(|field| field.strip_prefix("age=")?.parse().ok())).collect()
}
