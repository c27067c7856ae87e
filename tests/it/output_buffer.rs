//! The master's `client-output-buffer-limit` for replicas during a full sync: a master with a
//! tiny limit, a snapshot slowed by `--max-bytes` and writes meanwhile make the daemon warn,
//! with the figures and the remedy, before the master drops it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use replicant_testkit::{fill, free_port, RedisServer};

use crate::process::{admin, field, info, wait_for, Daemon};

#[test]
fn a_buffer_heading_past_the_masters_limit_is_warned_about() {
    let source = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
    source.cli(&["CONFIG", "SET", "client-output-buffer-limit", "replica 1mb 512kb 10"]);
    // 30 MB that cannot be compressed: far more than the sockets between master and daemon
    // hold, so the master delivers it at the daemon's pace, 1 MB/s.
    fill::fill_strings(&mut source.conn(), 3_000, 10_000);
    let target = RedisServer::start();
    let admin_port = free_port();
    let (src, dst, admin_addr) = (source.url(), target.url(), format!("127.0.0.1:{admin_port}"));
    let daemon = Daemon::start(&[
        "sync",
        "--source",
        &src,
        "--target",
        &dst,
        "--admin",
        &admin_addr,
        "--progress",
        "never",
        "--max-bytes",
        "1000000",
    ]);
    let mut conn = admin(admin_port);
    wait_for("the full sync", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("full_sync")
    });
    // About 100 kB/s of writes, which the master buffers for the daemon until the snapshot
    // is delivered.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (mut writes, stop) = (source.conn(), stop.clone());
        std::thread::spawn(move || {
            let value = "x".repeat(1_000);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _: () = redis::cmd("SET").arg(format!("load:{}", i % 100)).arg(&value).query(&mut writes).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    wait_for("the output buffer warning", Duration::from_secs(20), || {
        daemon.log().contains("client-output-buffer-limit for replicas")
    });
    let text = info(&mut conn, "replication");
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let log = plain(&daemon.log());
    let line = log.lines().find(|l| l.contains("client-output-buffer-limit for replicas")).unwrap();
    for part in [
        "WARN",
        "buffered_bytes=",
        "buffer_growth_bytes_per_sec=",
        "snapshot_remaining_secs=",
        "hard_limit_bytes=1048576",
        "CONFIG SET client-output-buffer-limit \"replica 0 0 0\"",
    ] {
        assert!(line.contains(part), "the warning lacks {part}: {line}");
    }
    assert_eq!(log.matches("client-output-buffer-limit for replicas").count(), 1, "one warning per full sync:\n{log}");
    assert_eq!(field(&text, "output_buffer_limit").as_deref(), Some("1048576"), "{text}");
    if field(&text, "phase").as_deref() == Some("full_sync") {
        let buffered: u64 = field(&text, "output_buffer_bytes").unwrap().parse().unwrap();
        assert!(buffered > 0, "{text}");
    }
}

/// The log without its terminal colours.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut rest = log;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        rest = after.find('m').map_or("", |end| &after[end + 1..]);
    }
    out.push_str(rest);
    out
}
