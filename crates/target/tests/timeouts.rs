//! The connection's time limits against scripted fake targets on loopback: a target that
//! accepts and never answers the setup fails the connect; one that goes silent with
//! commands in flight, or stops taking the bytes written to it, fails with a timeout
//! naming them; a slow target that keeps answering (or keeps reading a write far bigger
//! than the socket buffers), and an idle connection, never trip it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use replicant_convert::Commands;
use replicant_net::Endpoint;
use replicant_target::{Connection, TargetError, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the fake target behaves.
#[derive(Clone, Copy)]
enum Fake {
    /// Accepts and says nothing.
    Mute,
    /// Answers `+PONG` to the setup, then nothing.
    SilentAfterPing,
    /// Answers every command with `+OK` (the setup's `PING` too), each after `pause`.
    Slow { pause: Duration },
    /// Answers the setup, then never reads again.
    Deaf,
    /// Answers the setup, then reads at most `chunk` bytes every `every` and answers
    /// each complete command (all `command_len` bytes long) with `+OK`.
    SlowReader { command_len: usize, chunk: usize, every: Duration },
}

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// Serves one connection as `fake`; returns the port.
async fn fake_target(fake: Fake) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        match fake {
            Fake::Deaf | Fake::SlowReader { .. } => {
                let mut ping = [0u8; PING.len()];
                conn.read_exact(&mut ping).await.unwrap();
                conn.write_all(b"+PONG\r\n").await.unwrap();
            }
            _ => {}
        }
        if let Fake::SlowReader { command_len, chunk, every } = fake {
            let (mut read, mut answered, mut buf) = (0usize, 0usize, vec![0u8; chunk]);
            loop {
                tokio::time::sleep(every).await;
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read += n,
                }
                while answered < read / command_len {
                    if conn.write_all(b"+OK\r\n").await.is_err() {
                        return;
                    }
                    answered += 1;
                }
            }
        }
        if let Fake::Deaf = fake {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        let mut buf = vec![0u8; 64 << 10];
        let mut answered = false;
        loop {
            let n = match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            // Commands are `*`-prefixed arrays; count them in what arrived.
            let commands = buf[..n].iter().filter(|b| **b == b'*').count();
            for _ in 0..commands {
                match fake {
                    Fake::Mute | Fake::Deaf | Fake::SlowReader { .. } => {}
                    Fake::SilentAfterPing if answered => {}
                    Fake::SilentAfterPing => {
                        conn.write_all(b"+PONG\r\n").await.unwrap();
                        answered = true;
                    }
                    Fake::Slow { pause } => {
                        tokio::time::sleep(pause).await;
                        if conn.write_all(b"+OK\r\n").await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    port
}

fn batch(n: usize) -> Commands {
    sized_batch(n, 1)
}

/// `n` commands `SET k<8 digits> <value_len bytes>`, all of one length.
fn sized_batch(n: usize, value_len: usize) -> Commands {
    let mut batch = Commands::new();
    let value = vec![b'v'; value_len];
    for i in 0..n {
        let key = format!("k{i:08}");
        batch.command("SET", 0, Some(key.as_bytes()), &[key.as_bytes(), &value]);
    }
    batch
}

fn limits(connect_ms: u64, reply_ms: u64) -> Timeouts {
    Timeouts::new(Duration::from_millis(connect_ms), Duration::from_millis(reply_ms))
}

#[tokio::test]
async fn a_target_that_never_answers_the_setup_fails_the_connect() {
    let port = fake_target(Fake::Mute).await;
    let started = Instant::now();
    let err = Connection::connect_with(&Endpoint::tcp("127.0.0.1", port), 16, limits(500, 60_000)).await.err();
    let err = err.expect("the connect must fail");
    assert!(matches!(err, TargetError::ConnectTimeout { .. }), "{err}");
    assert!(err.is_connection());
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_target_silent_with_commands_in_flight_times_out_naming_them() {
    let port = fake_target(Fake::SilentAfterPing).await;
    let mut conn = Connection::connect_with(&Endpoint::tcp("127.0.0.1", port), 1024, limits(5_000, 500)).await.unwrap();
    conn.send(batch(10)).await.unwrap();
    let started = Instant::now();
    let err = conn.drain().await.expect_err("a silent target must time out");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    let TargetError::Timeout { pending, .. } = &err else { panic!("{err}") };
    assert_eq!(*pending, 10);
    assert!(err.is_connection());
    assert!(err.to_string().contains("with 10 commands in flight"), "{err}");
}

#[tokio::test]
async fn a_slow_target_that_keeps_answering_never_times_out() {
    // Each reply takes 150 ms: 12 of them take 1.8 s, three times the 600 ms limit.
    let port = fake_target(Fake::Slow { pause: Duration::from_millis(150) }).await;
    let mut conn = Connection::connect_with(&Endpoint::tcp("127.0.0.1", port), 1024, limits(5_000, 600)).await.unwrap();
    conn.send(batch(12)).await.unwrap();
    conn.drain().await.unwrap();
    assert_eq!(conn.stats().acknowledged, 12);
}

#[tokio::test]
async fn an_idle_connection_does_not_time_out() {
    let port = fake_target(Fake::Slow { pause: Duration::ZERO }).await;
    let mut conn = Connection::connect_with(&Endpoint::tcp("127.0.0.1", port), 1024, limits(5_000, 300)).await.unwrap();
    // Idle for longer than the limit: the clock runs only with commands in flight.
    tokio::time::sleep(Duration::from_millis(600)).await;
    conn.send(batch(3)).await.unwrap();
    conn.drain().await.unwrap();
    assert_eq!(conn.stats().acknowledged, 3);
}

/// Far more than loopback socket buffers hold (a few MB each way), so the write blocks.
const BIG: (usize, usize) = (8_000, 4_096);

#[tokio::test]
async fn a_target_that_takes_nothing_fails_a_blocked_write() {
    let port = fake_target(Fake::Deaf).await;
    let mut conn = Connection::connect_with(&Endpoint::tcp("127.0.0.1", port), 1024, limits(5_000, 500)).await.unwrap();
    let started = Instant::now();
    let err = conn.send(sized_batch(BIG.0, BIG.1)).await.expect_err("a deaf target must time out");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    let TargetError::Timeout { pending, .. } = &err else { panic!("{err}") };
    assert_eq!(*pending, BIG.0, "the commands being written are in flight");
    assert!(err.is_connection());
}

#[tokio::test]
async fn a_target_that_keeps_reading_a_big_write_slowly_never_times_out() {
    let command_len = sized_batch(1, BIG.1).bytes().len();
    // 256 kB every 20 ms: 32 MB take about 2.5 s, five times the limit, and the write
    // waits on the target most of that time.
    let fake = Fake::SlowReader { command_len, chunk: 256 << 10, every: Duration::from_millis(20) };
    let port = fake_target(fake).await;
    let mut conn = Connection::connect_with(&Endpoint::tcp("127.0.0.1", port), 1024, limits(5_000, 500)).await.unwrap();
    conn.send(sized_batch(BIG.0, BIG.1)).await.unwrap();
    conn.drain().await.unwrap();
    assert_eq!(conn.stats().acknowledged, BIG.0 as u64);
}
