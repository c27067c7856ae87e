//! Scan mode (`--source-mode scan`): a master copied with `SCAN`, `DUMP` and `PTTL`
//! instead of replication, through the same writer, compared key by key (values and
//! expiries); the payloads restored, or rebuilt as commands; a source without `DUMP`
//! refused naming the command and the key; a master that refuses `PSYNC` and `SYNC`
//! pointing at scan mode; a connection cut mid-scan opened again, the scan going on from
//! its cursor with nothing missing or read twice; the figures in INFO under a read-rate
//! cap; a cluster node refused rather than copied in part.

use std::time::Duration;

use replicant_testkit::{assert_same, fill, free_port, snapshot, wait_until_same, FaultProxy, RedisServer};

use crate::cli::{replicant, replicant_ok};
use crate::process::{admin, field, info, wait_for, Daemon};

/// A source holding every type, expiries, several databases and enough keys for many
/// `SCAN` pages.
fn source() -> RedisServer {
    let source = RedisServer::start();
    let mut conn = source.conn();
    fill::fill_everything(&mut conn);
    redis::cmd("SELECT").arg(5).exec(&mut conn).unwrap();
    fill::fill_mixed(&mut conn, 3000);
    source
}

fn scan(source: &RedisServer, target: &RedisServer, extra: &[&str]) -> String {
    let (src, dst) = (source.url(), target.url());
    let mut args = vec!["sync", "--source", &src, "--target", &dst, "--source-mode", "scan", "--scan-count", "50"];
    args.extend_from_slice(extra);
    String::from_utf8_lossy(&replicant_ok(&args).stderr).into_owned()
}

#[test]
fn scan_mode_copies_every_type_and_expiry_and_says_what_it_may_miss() {
    let source = source();
    let expected = snapshot(&mut source.conn());
    let target = RedisServer::start();
    let log = scan(&source, &target, &["--scan-pipeline", "7"]);
    assert_same(&expected, &snapshot(&mut target.conn()));
    assert!(log.contains(&format!("Copied {} keys", expected.len())), "{log}");
    assert!(log.contains("may be missing"), "{log}");
}

#[test]
fn scan_mode_rebuilds_the_payloads_as_commands_when_told() {
    let source = source();
    let expected = snapshot(&mut source.conn());
    let target = RedisServer::start();
    let log = scan(&source, &target, &["--mode", "commands"]);
    assert_same(&expected, &snapshot(&mut target.conn()));
    assert!(log.contains("0 with RESTORE"), "{log}");
}

#[test]
fn a_source_without_dump_is_refused_naming_the_command_and_the_key() {
    let source = RedisServer::builder().args(["--rename-command", "DUMP", ""]).start();
    source.cli(&["SET", "only", "1"]);
    let target = RedisServer::start();
    let out = replicant(&["sync", "--source", &source.url(), "--target", &target.url(), "--source-mode", "scan"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("refused DUMP of key \"only\"") && log.contains("unknown command"), "{log}");
}

#[test]
fn a_master_refusing_psync_and_sync_points_at_scan_mode() {
    let source = RedisServer::builder().args(["--rename-command", "PSYNC", "", "--rename-command", "SYNC", ""]).start();
    source.cli(&["SET", "k", "v"]);
    let target = RedisServer::start();
    let out = replicant(&["sync", "--source", &source.url(), "--target", &target.url(), "--once"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("--source-mode scan"), "{log}");
}

#[test]
fn a_connection_cut_mid_scan_is_opened_again_and_the_scan_goes_on_from_its_cursor() {
    let source = source();
    let expected = snapshot(&mut source.conn());
    let proxy = FaultProxy::start(source.port());
    proxy.throttle(100_000);
    let target = RedisServer::start();
    let src = format!("redis://{}", proxy.addr());
    #[rustfmt::skip]
    let mut daemon = Daemon::start(&[
        "sync", "--source", &src, "--target", &target.url(), "--source-mode", "scan",
        "--scan-count", "20", "--scan-pipeline", "10", "--progress", "never",
    ]);
    let mut conn = target.conn();
    wait_for("part of the copy on the target", Duration::from_secs(60), || {
        let keys: u64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
        keys >= 20
    });
    proxy.cut();
    proxy.throttle(0);
    assert!(daemon.wait_exit(Duration::from_secs(120)), "{}", daemon.log());
    assert!(daemon.log().contains("opening it again"), "{}", daemon.log());
    assert_same(&expected, &snapshot(&mut target.conn()));
}

#[test]
fn the_scan_figures_show_in_info_under_a_read_rate_cap() {
    let source = source();
    let expected = snapshot(&mut source.conn());
    let target = RedisServer::start();
    let (src, dst, port) = (source.url(), target.url(), free_port());
    let admin_addr = format!("127.0.0.1:{port}");
    #[rustfmt::skip]
    let daemon = Daemon::start(&[
        "sync", "--source", &src, "--target", &dst, "--source-mode", "scan", "--source-max-ops", "20000",
        "--admin", &admin_addr, "--progress", "never",
    ]);
    wait_until_same(&expected, &mut target.conn(), Duration::from_secs(60));
    let mut conn = admin(port);
    let all = expected.len().to_string();
    wait_for("the scan's figures", Duration::from_secs(30), || {
        field(&info(&mut conn, "stats"), "scan_keys_copied").as_deref() == Some(all.as_str())
    });
    let stats = info(&mut conn, "stats");
    assert_eq!(field(&stats, "scan_keys_scanned").as_deref(), Some(all.as_str()), "{stats}\n{}", daemon.log());
    assert_eq!(field(&stats, "scan_keys_gone").as_deref(), Some("0"), "{stats}");
    assert_eq!(field(&stats, "scan_reconnects").as_deref(), Some("0"), "{stats}");
}

#[test]
fn a_cluster_node_is_refused_rather_than_copied_in_part() {
    let source = RedisServer::builder().arg("--cluster-enabled", "yes").start();
    let target = RedisServer::start();
    let out = replicant(&["sync", "--source", &source.url(), "--target", &target.url(), "--source-mode", "scan"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("is a Redis Cluster node"), "{log}");
}
