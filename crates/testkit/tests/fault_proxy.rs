//! The fault proxy in front of an echo server: bytes flow; a cut ends the connection; a
//! stall holds bytes (new connections too) until resumed; delay and throttle slow the
//! flow without losing a byte; refused connections close at once; chaos follows its seed
//! and logs what it did; dropping the proxy ends everything promptly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use replicant_testkit::fault_proxy::{ChaosPlan, Fault, FaultProxy};

/// Echoes every connection back, each on its own thread; lives as long as the test.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

fn connect(proxy: &FaultProxy) -> TcpStream {
    let conn = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    conn
}

/// Sends `data` and reads as many bytes back.
fn round_trip(conn: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    let mut writer = conn.try_clone().unwrap();
    let owned = data.to_vec();
    let sending = std::thread::spawn(move || writer.write_all(&owned).unwrap());
    let mut back = vec![0u8; data.len()];
    conn.read_exact(&mut back).unwrap();
    sending.join().unwrap();
    back
}

/// Whether the connection ended (EOF or an error other than a read timeout).
fn ended(conn: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match conn.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

fn poll(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_cut_ends_every_carried_connection_and_new_ones_still_work() {
    let proxy = FaultProxy::start(echo_server());
    let (mut a, mut b) = (connect(&proxy), connect(&proxy));
    assert_eq!(round_trip(&mut a, b"hello"), b"hello");
    assert_eq!(round_trip(&mut b, b"world"), b"world");
    poll("both connections carried", || proxy.connections() == 2);
    proxy.cut();
    assert!(ended(&mut a), "the client must see the connection end");
    assert!(ended(&mut b));
    poll("nothing carried", || proxy.connections() == 0);
    let mut c = connect(&proxy);
    assert_eq!(round_trip(&mut c, b"again"), b"again");
    assert_eq!(proxy.events().iter().filter(|e| e.fault == Fault::Cut).count(), 1);
}

#[test]
fn a_stall_holds_bytes_both_ways_until_resumed() {
    let proxy = FaultProxy::start(echo_server());
    let mut conn = connect(&proxy);
    assert_eq!(round_trip(&mut conn, b"before"), b"before");
    proxy.stall();
    conn.write_all(b"held").unwrap();
    // A connection made during the stall is accepted and stalled too.
    let mut late = connect(&proxy);
    late.write_all(b"late").unwrap();
    for c in [&mut conn, &mut late] {
        c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let mut byte = [0u8; 1];
        let err = c.read(&mut byte).expect_err("no byte may pass a stall");
        assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err}");
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    }
    proxy.resume();
    let mut back = [0u8; 4];
    conn.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"held");
    late.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"late");
    let kinds: Vec<Fault> = proxy.events().iter().map(|e| e.fault).collect();
    assert_eq!(kinds, [Fault::Stall { lasting: None }, Fault::Resume]);
}

#[test]
fn throttle_and_delay_slow_the_flow_and_lose_nothing() {
    let proxy = FaultProxy::start(echo_server());
    let mut conn = connect(&proxy);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(round_trip(&mut conn, &data), data, "unthrottled");

    proxy.throttle(50_000);
    let started = Instant::now();
    assert_eq!(round_trip(&mut conn, &data), data, "throttled");
    let took = started.elapsed();
    // 100 kB at 50 kB/s takes 2 s each way (the two ways overlap).
    assert!(took >= Duration::from_millis(1500), "a 50 kB/s throttle moved 100 kB in {took:?}");
    proxy.throttle(0);

    proxy.delay(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(round_trip(&mut conn, b"ping"), b"ping");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "150 ms each way, round trip in {took:?}");
    proxy.heal();
    assert_eq!(round_trip(&mut conn, &data), data, "healed");
}

#[test]
fn refused_connections_close_at_once_and_carried_ones_go_on() {
    let proxy = FaultProxy::start(echo_server());
    let mut kept = connect(&proxy);
    assert_eq!(round_trip(&mut kept, b"one"), b"one");
    proxy.refuse(true);
    let mut refused = connect(&proxy);
    assert!(ended(&mut refused), "a refused connection must close");
    assert_eq!(round_trip(&mut kept, b"two"), b"two", "a carried connection goes on");
    proxy.refuse(false);
    let mut again = connect(&proxy);
    assert_eq!(round_trip(&mut again, b"three"), b"three");
    assert_eq!(proxy.accepted(), 3);
}

#[test]
fn a_chaos_plan_follows_its_seed_and_mixes_every_fault() {
    let mean = Duration::from_millis(400);
    let a: Vec<_> = ChaosPlan::new(42, mean).take(40).collect();
    let b: Vec<_> = ChaosPlan::new(42, mean).take(40).collect();
    let c: Vec<_> = ChaosPlan::new(43, mean).take(40).collect();
    assert_eq!(a, b, "the same seed gives the same plan");
    assert_ne!(a, c);
    let has = |pred: fn(&Fault) -> bool| a.iter().any(|s| pred(&s.fault));
    assert!(has(|f| matches!(f, Fault::Cut)));
    assert!(has(|f| matches!(f, Fault::Stall { .. })));
    assert!(has(|f| matches!(f, Fault::Delay { .. })));
    assert!(has(|f| matches!(f, Fault::Throttle { .. })));
    for step in &a {
        assert!(step.after >= mean / 2 && step.after < mean * 3 / 2, "{step:?}");
    }
}

#[test]
fn chaos_logs_what_it_injects_and_stops_cleanly() {
    let proxy = FaultProxy::start(echo_server());
    let mean = Duration::from_millis(30);
    proxy.chaos(7, mean);
    poll("chaos injects faults", || proxy.events().len() >= 8);
    proxy.stop_chaos();
    let events = proxy.events();
    assert!(events.iter().all(|e| e.chaos));
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at), "in order");
    // The faults logged are the plan's, in order (lifts in between).
    let planned: Vec<Fault> = ChaosPlan::new(7, mean).take(3).map(|s| s.fault).collect();
    let injected: Vec<Fault> = events
        .iter()
        .map(|e| e.fault)
        .filter(|f| {
            !matches!(f, Fault::Resume | Fault::Delay { lasting: None, .. } | Fault::Throttle { lasting: None, .. })
        })
        .take(3)
        .collect();
    assert_eq!(injected, planned);
    for e in &events {
        eprintln!("{e}");
    }
    // Chaos stopped: nothing is in force, bytes flow.
    let mut conn = connect(&proxy);
    assert_eq!(round_trip(&mut conn, b"calm"), b"calm");
}

#[test]
fn dropping_the_proxy_ends_stalled_connections_promptly() {
    let proxy = FaultProxy::start(echo_server());
    let mut conn = connect(&proxy);
    assert_eq!(round_trip(&mut conn, b"x"), b"x");
    proxy.stall();
    proxy.throttle(1);
    conn.write_all(&[7u8; 4096]).unwrap();
    let started = Instant::now();
    drop(proxy);
    assert!(started.elapsed() < Duration::from_secs(5), "drop took {:?}", started.elapsed());
    assert!(ended(&mut conn), "the client must see the connection end");
}
