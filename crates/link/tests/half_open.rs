//! Half-open master links, made with the fault proxy: a master that goes silent without
//! closing anything is dropped after `ReplicaConfig::timeout` (2 s here, with the master
//! pinging every second), whether it falls silent mid-stream (then the link resumes with
//! PSYNC and nothing is lost), in the middle of a diskless snapshot, or during the
//! handshake.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, unreachable_pub)]

mod support;

use std::time::{Duration, Instant};

use replicant_link::{LinkConfig, LinkError, LinkState};
use replicant_net::Endpoint;
use replicant_repl::ReplError;
use replicant_testkit::RedisServer;
use support::{eventually, info_u64, FaultProxy, Running, Writer};

const TIMEOUT: Duration = Duration::from_secs(2);
/// A generous bound on noticing a silent link with a 2 s timeout.
const DETECTED_WITHIN: Duration = Duration::from_secs(20);
/// What the link says when the master is silent.
const SILENT: &str = "no data from the master";

/// A diskless master that pings its replicas every second, with a backlog that holds
/// everything the tests write while the link is stalled.
fn master(keys: u32) -> RedisServer {
    let master = RedisServer::builder()
        .arg("--repl-ping-replica-period", "1")
        .arg("--repl-diskless-sync", "yes")
        .arg("--repl-diskless-sync-delay", "0")
        .arg("--repl-backlog-size", "64mb")
        .start();
    master.cli(&["DEBUG", "POPULATE", &keys.to_string(), "bulk", "100"]);
    master
}

/// A link through `proxy` with a 2 s silence timeout that never gives up.
fn link_through(proxy: &FaultProxy) -> Running {
    let mut cfg = LinkConfig::new(Endpoint::tcp("127.0.0.1", proxy.port()));
    cfg.replica.timeout = TIMEOUT;
    cfg.max_attempts = None;
    Running::start_with(cfg)
}

/// Waits until the link reports a silent master, within the generous bound.
fn wait_silence_reported(link: &Running, since: Instant) {
    eventually("the link reports the silent master", || link.status.last_error().is_some_and(|e| e.contains(SILENT)));
    let took = since.elapsed();
    assert!(took < DETECTED_WITHIN, "a {TIMEOUT:?} timeout noticed after {took:?}");
}

#[test]
fn a_master_stalled_mid_stream_is_dropped_and_the_link_resumes_with_nothing_lost() {
    let master = master(1_000);
    let proxy = FaultProxy::start(master.port());
    let writer = Writer::start(&master, "seq");
    let link = link_through(&proxy);
    eventually("the link streams", || link.status.state() == LinkState::Streaming);
    let before = writer.count();
    eventually("writes flow", || writer.count() > before + 200);
    let offset = link.status.offset.load(std::sync::atomic::Ordering::Relaxed);
    eventually("the stream advances", || link.status.offset.load(std::sync::atomic::Ordering::Relaxed) > offset);

    let stalled = Instant::now();
    proxy.stall();
    wait_silence_reported(&link, stalled);
    proxy.resume();
    eventually("a partial resync", || info_u64(&master, "stats", "sync_partial_ok") >= 1);
    let after = writer.count();
    eventually("writes flow again", || writer.count() > after + 200);
    let written = writer.stop();
    link.wait_caught_up(&master);

    assert_eq!(info_u64(&master, "stats", "sync_full"), 1, "never a second full sync");
    let rec = link.record();
    assert!(!rec.resumed.is_empty());
    let seq = rec.sequence("seq");
    assert_eq!(seq.len() as u64, written, "every RPUSH arrives exactly once");
    assert!(seq.iter().enumerate().all(|(i, v)| *v == i as u64 + 1), "in order");
    rec.assert_offsets_add_up(info_u64(&master, "replication", "master_repl_offset"));
    eprintln!("injected: {:?}", proxy.events().iter().map(ToString::to_string).collect::<Vec<_>>());
}

#[test]
fn a_master_stalled_in_the_middle_of_a_diskless_snapshot_is_dropped() {
    let master = master(100_000);
    let proxy = FaultProxy::start(master.port());
    // Slow enough that the snapshot (about 12 MB) is still coming when the stall starts.
    proxy.throttle(512 << 10);
    let link = link_through(&proxy);
    eventually("the snapshot is under way", || {
        link.status.rdb_bytes.load(std::sync::atomic::Ordering::Relaxed) > 256 << 10
    });
    let stalled = Instant::now();
    proxy.stall();
    let err = link.join().unwrap_err();
    let took = stalled.elapsed();
    assert!(took < DETECTED_WITHIN, "a {TIMEOUT:?} timeout noticed after {took:?}");
    // A snapshot cannot be resumed, and the default policy refuses a second one.
    let LinkError::SnapshotInterrupted { cause } = &err else { panic!("{err}") };
    assert!(matches!(**cause, LinkError::Repl(ReplError::Timeout { .. })), "{cause}");
}

#[test]
fn a_master_silent_during_the_handshake_is_dropped_and_the_sync_goes_on_after() {
    let master = master(1_000);
    let proxy = FaultProxy::start(master.port());
    proxy.stall();
    let started = Instant::now();
    let link = link_through(&proxy);
    wait_silence_reported(&link, started);
    assert_ne!(link.status.state(), LinkState::Streaming);
    proxy.resume();
    eventually("the link streams", || link.status.state() == LinkState::Streaming);
    link.wait_caught_up(&master);
    assert_eq!(link.record().full_syncs.len(), 1);
    assert_eq!(link.record().rdb_keys, 1_000);
}

/// The TLS handshake happens before the replication handshake: a master that stalls in it
/// is dropped after the same timeout.
#[test]
fn a_master_silent_during_the_tls_handshake_is_dropped_too() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let tls_port = replicant_testkit::free_port();
    let master = RedisServer::builder()
        .arg("--tls-port", &tls_port.to_string())
        .arg("--tls-cert-file", cert_path.to_str().unwrap())
        .arg("--tls-key-file", key_path.to_str().unwrap())
        .arg("--tls-ca-cert-file", cert_path.to_str().unwrap())
        .arg("--tls-auth-clients", "no")
        .start();
    master.cli(&["SET", "over", "tls"]);
    let proxy = FaultProxy::start(tls_port);
    proxy.stall();
    let mut tls = replicant_net::TlsOptions::default();
    tls.ca_file = Some(cert_path.clone());
    let mut cfg = LinkConfig::new(Endpoint::tcp("localhost", proxy.port()).with_tls(tls));
    cfg.replica.timeout = TIMEOUT;
    cfg.max_attempts = None;
    let started = Instant::now();
    let link = Running::start_with(cfg);
    wait_silence_reported(&link, started);
    proxy.resume();
    eventually("the link streams over TLS", || link.status.state() == LinkState::Streaming);
    assert_eq!(link.record().rdb_keys, 1);
}
