//! [`FaultProxy`]: a loopback TCP proxy that injects network faults between a test's
//! client and a real server, while traffic flows.
//!
//! The proxy listens on `127.0.0.1:<free port>` and carries every connection it accepts
//! to `127.0.0.1:<upstream>`, one thread per direction. A test thread can, at any time:
//!
//! * [`FaultProxy::cut`]: end every carried connection at once, both ways, as a crash
//!   would (new connections are still accepted);
//! * [`FaultProxy::stall`] / [`FaultProxy::resume`]: stop forwarding in both directions
//!   without closing anything, a half-open link; bytes wait in the socket buffers, and
//!   connections accepted meanwhile are stalled too;
//! * [`FaultProxy::delay`]: add latency to every chunk forwarded;
//! * [`FaultProxy::throttle`]: forward at most so many bytes per second, per connection
//!   and direction;
//! * [`FaultProxy::refuse`]: accept new connections and close them at once, like a
//!   server that is down;
//! * [`FaultProxy::chaos`]: inject cuts, stalls, delays and throttles at random, from a
//!   seed, for soak tests (see [`chaos`]).
//!
//! Every fault injected is logged with its time ([`FaultProxy::events`]), so a failing
//! soak can print what was done to it. Dropping the proxy stops every thread it started
//! and closes every connection: socket calls wait at most [`POLL`] before a thread looks
//! at its flags again, so nothing stays blocked.
//!
//! ```no_run
//! use std::time::Duration;
//! use replicant_testkit::{FaultProxy, RedisServer};
//!
//! let server = RedisServer::start();
//! let proxy = FaultProxy::start(server.port());
//! // ... point the code under test at 127.0.0.1:proxy.port() ...
//! proxy.stall();
//! // ... check that it notices the silent link ...
//! proxy.resume();
//! proxy.chaos(7, Duration::from_millis(500));
//! for event in proxy.events() {
//!     eprintln!("{event}");
//! }
//! ```

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod chaos;

pub use chaos::{ChaosPlan, ChaosStep};

/// The longest a proxy thread waits in a socket call or a pause before it looks at its
/// flags (stop, cut, stall) again.
pub const POLL: Duration = Duration::from_millis(20);
/// Bytes forwarded at a time.
const CHUNK: usize = 16 << 10;
/// How long connecting to the upstream may take.
const UPSTREAM_CONNECT: Duration = Duration::from_secs(2);

/// A fault, as injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Every carried connection was closed.
    Cut,
    /// Forwarding stopped, until [`Fault::Resume`] or for `lasting`.
    Stall {
        /// How long (chaos), or `None`: until resumed.
        lasting: Option<Duration>,
    },
    /// Forwarding went on.
    Resume,
    /// Every chunk waits `per_chunk` before it is forwarded (zero: no delay).
    Delay {
        /// The added latency.
        per_chunk: Duration,
        /// How long (chaos), or `None`: until changed.
        lasting: Option<Duration>,
    },
    /// At most `bytes_per_sec` per connection and direction (zero: no limit).
    Throttle {
        /// The rate.
        bytes_per_sec: u64,
        /// How long (chaos), or `None`: until changed.
        lasting: Option<Duration>,
    },
    /// New connections are (`true`) or are no longer (`false`) closed at once.
    Refuse(bool),
    /// Every fault was lifted.
    Heal,
}

/// One fault injected, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultEvent {
    /// Time since the proxy started.
    pub at: Duration,
    /// What was injected.
    pub fault: Fault,
    /// Whether chaos mode injected it (rather than the test).
    pub chaos: bool,
}

impl fmt::Display for FaultEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{:.3}s {}", self.at.as_secs_f64(), if self.chaos { "chaos " } else { "" })?;
        let lasting = |l: Option<Duration>| l.map(|d| format!(" for {d:?}")).unwrap_or_default();
        match self.fault {
            Fault::Cut => write!(f, "cut"),
            Fault::Stall { lasting: l } => write!(f, "stall{}", lasting(l)),
            Fault::Resume => write!(f, "resume"),
            Fault::Delay { per_chunk, lasting: l } => write!(f, "delay {per_chunk:?} per chunk{}", lasting(l)),
            Fault::Throttle { bytes_per_sec, lasting: l } => write!(f, "throttle {bytes_per_sec} B/s{}", lasting(l)),
            Fault::Refuse(on) => write!(f, "refuse {on}"),
            Fault::Heal => write!(f, "heal"),
        }
    }
}

/// The faults in force.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    stalled: bool,
    delay: Duration,
    throttle: Option<u64>,
    refuse: bool,
}

/// A carried connection: the client's socket and the upstream's.
struct Carried {
    client: TcpStream,
    server: TcpStream,
    closed: AtomicBool,
    /// Directions still forwarding.
    pumps: AtomicUsize,
}

impl Carried {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// State shared by the proxy's threads.
struct Shared {
    upstream: Mutex<SocketAddr>,
    started: Instant,
    faults: Mutex<Faults>,
    /// Notified whenever the faults change or the proxy stops.
    changed: Condvar,
    stop: AtomicBool,
    conns: Mutex<Vec<Arc<Carried>>>,
    pumps: Mutex<Vec<JoinHandle<()>>>,
    events: Mutex<Vec<FaultEvent>>,
    accepted: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Changes the faults in force and logs the change.
    fn inject(&self, fault: Fault, chaos: bool, change: impl FnOnce(&mut Faults)) {
        change(&mut lock(&self.faults));
        self.changed.notify_all();
        lock(&self.events).push(FaultEvent { at: self.started.elapsed(), fault, chaos });
    }

    fn cut(&self, chaos: bool) {
        let conns: Vec<Arc<Carried>> = lock(&self.conns).drain(..).collect();
        for c in &conns {
            c.close();
        }
        self.inject(Fault::Cut, chaos, |_| {});
    }

    /// Waits while forwarding is stalled; the faults in force, or `None` once the
    /// connection is closed or the proxy stops.
    fn flowing(&self, conn: &Carried) -> Option<Faults> {
        let mut faults = lock(&self.faults);
        loop {
            if self.stopped() || conn.is_closed() {
                return None;
            }
            if !faults.stalled {
                return Some(*faults);
            }
            faults = self.changed.wait_timeout(faults, POLL).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Sleeps `pause` in steps of at most [`POLL`]; `false` if the connection closed or
    /// the proxy stopped meanwhile.
    fn pause(&self, conn: &Carried, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        loop {
            if self.stopped() || conn.is_closed() {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(POLL));
        }
    }

    /// Takes an accepted client: closes it at once when refusing, otherwise connects to
    /// the upstream and starts forwarding both ways.
    fn carry(self: &Arc<Self>, client: TcpStream) {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        if lock(&self.faults).refuse {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        let upstream = *lock(&self.upstream);
        let Ok(server) = TcpStream::connect_timeout(&upstream, UPSTREAM_CONNECT) else {
            let _ = client.shutdown(Shutdown::Both);
            return;
        };
        for s in [&client, &server] {
            let _ = s.set_nonblocking(false);
            let _ = s.set_nodelay(true);
            let _ = s.set_read_timeout(Some(POLL));
            let _ = s.set_write_timeout(Some(POLL));
        }
        let clones = (client.try_clone(), client.try_clone(), server.try_clone(), server.try_clone());
        let (Ok(c1), Ok(c2), Ok(s1), Ok(s2)) = clones else { return };
        let conn = Arc::new(Carried { client, server, closed: AtomicBool::new(false), pumps: AtomicUsize::new(2) });
        lock(&self.conns).push(conn.clone());
        let mut pumps = lock(&self.pumps);
        pumps.retain(|t| !t.is_finished());
        for (from, to) in [(c1, s1), (s2, c2)] {
            let (shared, conn) = (self.clone(), conn.clone());
            pumps.push(std::thread::spawn(move || pump(&shared, &conn, from, to)));
        }
    }

    /// A pump is done: the last one of a connection closes it and forgets it.
    fn pump_done(&self, conn: &Arc<Carried>) {
        if conn.pumps.fetch_sub(1, Ordering::SeqCst) == 1 {
            conn.close();
            lock(&self.conns).retain(|c| !Arc::ptr_eq(c, conn));
        }
    }
}

/// Forwards one direction of a connection until it ends.
fn pump(shared: &Shared, conn: &Arc<Carried>, mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; CHUNK];
    while let Some(faults) = shared.flowing(conn) {
        // Under a throttle, small chunks keep the flow smooth (20 per second).
        let want = faults.throttle.map_or(CHUNK, |rate| usize::try_from(rate / 20).unwrap_or(CHUNK).clamp(1, CHUNK));
        match from.read(&mut buf[..want]) {
            Ok(0) => {
                // End of stream: pass the half-close on.
                let _ = to.shutdown(Shutdown::Write);
                break;
            }
            Ok(n) => {
                if !forward(shared, conn, &mut to, &buf[..n]) {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(_) => {
                conn.close();
                break;
            }
        }
    }
    shared.pump_done(conn);
}

/// Writes one chunk on, under the faults in force; `false` when the connection ended.
fn forward(shared: &Shared, conn: &Carried, to: &mut TcpStream, mut data: &[u8]) -> bool {
    let Some(faults) = shared.flowing(conn) else { return false };
    if !faults.delay.is_zero() && !shared.pause(conn, faults.delay) {
        return false;
    }
    let len = data.len();
    while !data.is_empty() {
        // A stall injected mid-chunk holds the rest of it.
        if shared.flowing(conn).is_none() {
            return false;
        }
        match to.write(data) {
            Ok(0) => return false,
            Ok(n) => data = &data[n..],
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(_) => {
                conn.close();
                return false;
            }
        }
    }
    match faults.throttle {
        Some(rate) => shared.pause(conn, Duration::from_secs_f64(len as f64 / rate as f64)),
        None => true,
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    while !shared.stopped() {
        match listener.accept() {
            Ok((client, _)) => shared.carry(client),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A loopback TCP proxy that injects faults; see the [module documentation](self).
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    chaos: Mutex<Option<chaos::Running>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy on loopback");
        let port = listener.local_addr().expect("the fault proxy's address").port();
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(SocketAddr::from(([127, 0, 0, 1], upstream))),
            started: Instant::now(),
            faults: Mutex::new(Faults::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            pumps: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
        });
        let s = shared.clone();
        let acceptor = std::thread::spawn(move || accept_loop(&s, &listener));
        FaultProxy { port, shared, acceptor: Some(acceptor), chaos: Mutex::new(None) }
    }

    /// Forwards new connections to `127.0.0.1:upstream` from now on, as a virtual IP moved
    /// to another server does; the connections carried now stay where they are (`cut`
    /// them to move everyone).
    pub fn retarget(&self, upstream: u16) {
        *lock(&self.shared.upstream) = SocketAddr::from(([127, 0, 0, 1], upstream));
    }

    /// The port to connect to instead of the upstream's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Closes every carried connection, both ways. New connections are still accepted.
    pub fn cut(&self) {
        self.shared.cut(false);
    }

    /// Stops forwarding in both directions without closing anything (a half-open link),
    /// until [`FaultProxy::resume`]. Connections accepted meanwhile are stalled too.
    pub fn stall(&self) {
        self.shared.inject(Fault::Stall { lasting: None }, false, |f| f.stalled = true);
    }

    /// Forwards again what [`FaultProxy::stall`] held.
    pub fn resume(&self) {
        self.shared.inject(Fault::Resume, false, |f| f.stalled = false);
    }

    /// Every chunk waits `per_chunk` before it is forwarded (zero: no delay).
    pub fn delay(&self, per_chunk: Duration) {
        self.shared.inject(Fault::Delay { per_chunk, lasting: None }, false, |f| f.delay = per_chunk);
    }

    /// Forwards at most `bytes_per_sec` per connection and direction (zero: no limit).
    pub fn throttle(&self, bytes_per_sec: u64) {
        let fault = Fault::Throttle { bytes_per_sec, lasting: None };
        self.shared.inject(fault, false, |f| f.throttle = Some(bytes_per_sec).filter(|r| *r > 0));
    }

    /// With `true`, new connections are accepted and closed at once, like a server that
    /// is down; carried connections go on.
    pub fn refuse(&self, on: bool) {
        self.shared.inject(Fault::Refuse(on), false, |f| f.refuse = on);
    }

    /// Lifts every fault: forwards again, no delay, no throttle, accepts connections.
    pub fn heal(&self) {
        self.shared.inject(Fault::Heal, false, |f| *f = Faults::default());
    }

    /// Starts chaos mode (stopping any running one): at random intervals averaging
    /// `mean_interval`, a cut, or a stall, delay or throttle lasting a while, chosen from
    /// `seed` as [`ChaosPlan`] says. Every fault is logged in [`FaultProxy::events`].
    pub fn chaos(&self, seed: u64, mean_interval: Duration) {
        let mut running = lock(&self.chaos);
        if let Some(old) = running.take() {
            old.stop();
        }
        *running = Some(chaos::Running::start(self.shared.clone(), ChaosPlan::new(seed, mean_interval)));
    }

    /// Stops chaos mode and lifts the faults it had in force.
    pub fn stop_chaos(&self) {
        if let Some(old) = lock(&self.chaos).take() {
            old.stop();
        }
    }

    /// Every fault injected so far, oldest first.
    pub fn events(&self) -> Vec<FaultEvent> {
        lock(&self.shared.events).clone()
    }

    /// Connections carried now.
    pub fn connections(&self) -> usize {
        lock(&self.shared.conns).len()
    }

    /// Connections accepted so far (refused ones included).
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(chaos) = lock(&self.chaos).take() {
            chaos.stop();
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        for c in lock(&self.shared.conns).drain(..) {
            c.close();
        }
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        let pumps: Vec<JoinHandle<()>> = lock(&self.shared.pumps).drain(..).collect();
        for t in pumps {
            let _ = t.join();
        }
    }
}
