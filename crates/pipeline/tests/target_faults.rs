//! The writer against a target behind the fault proxy: a stalled target (a half-open
//! connection) stops the run with a retryable timeout naming the commands in flight; a
//! hard-throttled target that keeps answering never trips the timeout and ends equal to
//! the source; a target that accepts and says nothing, or refuses connections, fails the
//! connect, retryably.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, unreachable_pub)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use replicant_link::{LinkConfig, LinkError, LinkState, LinkStatus};
use replicant_net::Endpoint;
use replicant_pipeline::{Writer, WriterConfig, WriterError};
use replicant_target::TargetError;
use replicant_testkit::{fill, snapshot, wait_until_same, FaultProxy, RedisServer};

const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// A generous bound on noticing a silent target with a 2 s timeout.
const DETECTED_WITHIN: Duration = Duration::from_secs(20);

/// What a run ended with: the link's error, and then the writer's `close`.
type Ended = (Result<(), LinkError>, Result<(), WriterError>);

/// The link from a source and the writer into a target, on their own thread.
struct Run {
    status: Arc<LinkStatus>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Ended>>,
}

impl Run {
    fn start(source: &RedisServer, target: Endpoint, cfg: WriterConfig) -> Run {
        let status = Arc::new(LinkStatus::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (src, st) = (source.port(), status.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let mut writer = Writer::connect(&target, cfg).await.unwrap();
                let mut link = LinkConfig::new(Endpoint::tcp("127.0.0.1", src));
                link.max_attempts = Some(3);
                let result = replicant_link::run(link, &mut writer, st, async {
                    let _ = rx.await;
                })
                .await;
                (result, writer.close().await)
            })
        });
        Run { status, stop: Some(tx), thread: Some(thread) }
    }

    fn wait_streaming(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.status.state() != LinkState::Streaming {
            assert!(Instant::now() < deadline, "never reached streaming");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn join(mut self) -> Ended {
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes `SET w:<n> <n>` on the source until stopped.
fn keep_writing(source: &RedisServer) -> (Arc<AtomicBool>, JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, mut conn) = (stop.clone(), source.conn());
    let thread = std::thread::spawn(move || {
        let mut n = 0u64;
        while !flag.load(Ordering::Relaxed) {
            let _: () = redis::cmd("SET").arg(format!("w:{n}")).arg(n).query(&mut conn).unwrap();
            n += 1;
        }
        n
    });
    (stop, thread)
}

fn config(shards: usize) -> WriterConfig {
    let mut cfg = WriterConfig::default();
    cfg.shards = shards;
    cfg.reply_timeout = REPLY_TIMEOUT;
    cfg
}

fn db_size(server: &RedisServer) -> u64 {
    redis::cmd("DBSIZE").query(&mut server.conn()).unwrap()
}

#[test]
fn a_stalled_target_stops_the_writer_with_a_retryable_timeout() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let proxy = FaultProxy::start(target.port());
    let run = Run::start(&source, Endpoint::tcp("127.0.0.1", proxy.port()), config(2));
    run.wait_streaming();
    let (stop, writes) = keep_writing(&source);
    let deadline = Instant::now() + Duration::from_secs(60);
    while db_size(&target) < 100 {
        assert!(Instant::now() < deadline, "writes never reached the target");
        std::thread::sleep(Duration::from_millis(20));
    }

    let stalled = Instant::now();
    proxy.stall();
    let (result, closed) = run.join();
    let took = stalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    writes.join().unwrap();
    assert!(took < DETECTED_WITHIN, "a {REPLY_TIMEOUT:?} reply timeout noticed after {took:?}");

    let err = result.expect_err("the run must stop");
    let LinkError::Sink(inner) = &err else { panic!("{err}") };
    let writer_err = inner.downcast_ref::<WriterError>().expect("a writer error");
    assert!(
        matches!(writer_err, WriterError::Target(TargetError::Timeout { pending, .. }) if *pending > 0),
        "{writer_err}"
    );
    assert!(writer_err.is_retryable(), "{writer_err}");
    assert!(writer_err.to_string().contains("answered nothing for"), "{writer_err}");
    // Closing afterwards still says why the senders are gone, and that a retry may help.
    let closed = closed.expect_err("the senders are gone");
    assert!(closed.is_retryable(), "{closed}");
    assert!(closed.to_string().contains("answered nothing for"), "{closed}");
}

#[test]
fn a_hard_throttled_target_that_keeps_answering_never_times_out() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    fill::fill_strings(&mut source.conn(), 3_000, 200);
    let proxy = FaultProxy::start(target.port());
    // 64 KiB/s per connection and direction: the 600 kB snapshot takes seconds on 4
    // connections, far longer than the 2 s timeout.
    proxy.throttle(64 << 10);
    let run = Run::start(&source, Endpoint::tcp("127.0.0.1", proxy.port()), config(4));
    run.wait_streaming();
    let mut conn = source.conn();
    for i in 0..2_000 {
        let _: () = redis::cmd("SET").arg(format!("live:{i}")).arg("x".repeat(100)).query(&mut conn).unwrap();
    }
    wait_until_same(&snapshot(&mut source.conn()), &mut target.conn(), Duration::from_secs(120));
    assert!(run.is_running(), "the run stopped: {:?}", run.join());
    assert_eq!(run.status.state(), LinkState::Streaming);
}

#[test]
fn a_target_that_says_nothing_or_refuses_fails_the_connect_retryably() {
    let target = RedisServer::start();
    let proxy = FaultProxy::start(target.port());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut cfg = config(2);
    cfg.connect_timeout = Duration::from_secs(1);
    let endpoint = Endpoint::tcp("127.0.0.1", proxy.port());

    proxy.stall();
    let started = Instant::now();
    let err = rt.block_on(Writer::connect(&endpoint, cfg.clone())).err().expect("a silent target");
    assert!(started.elapsed() < DETECTED_WITHIN, "{:?}", started.elapsed());
    assert!(matches!(err, WriterError::Target(TargetError::ConnectTimeout { .. })), "{err}");
    assert!(err.is_retryable(), "{err}");

    proxy.resume();
    proxy.refuse(true);
    let err = rt.block_on(Writer::connect(&endpoint, cfg.clone())).err().expect("a refused connection");
    assert!(err.is_retryable(), "{err}");

    proxy.refuse(false);
    let writer = rt.block_on(Writer::connect(&endpoint, cfg)).unwrap();
    rt.block_on(writer.close()).unwrap();
}
