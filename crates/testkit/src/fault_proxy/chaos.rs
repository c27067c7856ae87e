//! Chaos mode: faults chosen at random from a seed, for soak tests.
//!
//! A [`ChaosPlan`] is a deterministic sequence of [`ChaosStep`]s: wait a while (uniform in
//! ½–1½ × the mean interval), then inject one fault, chosen evenly among a cut, a stall, a
//! delay of 5–100 ms per chunk and a throttle of 4–256 KiB/s; all but the cut last ¼–1 ×
//! the mean interval, then are lifted. The same seed gives the same plan; only the wall
//! clock around it differs between runs. [`super::FaultProxy::chaos`] runs a plan on a
//! thread of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Fault, Shared, POLL};

/// One step of a chaos plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaosStep {
    /// How long to wait before injecting.
    pub after: Duration,
    /// What to inject (with how long it lasts).
    pub fault: Fault,
}

/// The faults chaos mode injects, from a seed: an endless iterator of [`ChaosStep`]s.
#[derive(Debug, Clone)]
pub struct ChaosPlan {
    state: u64,
    mean: Duration,
}

impl ChaosPlan {
    /// The plan of `seed`, with faults `mean_interval` apart on average.
    pub fn new(seed: u64, mean_interval: Duration) -> ChaosPlan {
        ChaosPlan { state: seed, mean: mean_interval }
    }

    /// SplitMix64: small, fast, and the same everywhere.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

impl Iterator for ChaosPlan {
    type Item = ChaosStep;

    fn next(&mut self) -> Option<ChaosStep> {
        let after = self.mean.mul_f64(0.5 + self.unit());
        let lasting = Some(self.mean.mul_f64(0.25 + 0.75 * self.unit()));
        let fault = match self.next_u64() % 4 {
            0 => Fault::Cut,
            1 => Fault::Stall { lasting },
            2 => Fault::Delay { per_chunk: Duration::from_millis(self.between(5, 100)), lasting },
            _ => Fault::Throttle { bytes_per_sec: self.between(4, 256) << 10, lasting },
        };
        Some(ChaosStep { after, fault })
    }
}

/// A chaos thread and its stop flag.
pub(super) struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Running {
    pub(super) fn start(shared: Arc<Shared>, plan: ChaosPlan) -> Running {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || run(&shared, plan, &flag));
        Running { stop, thread }
    }

    /// Stops the thread (within about [`POLL`]) and waits for it.
    pub(super) fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// Sleeps `pause` in steps; `false` if told to stop meanwhile.
fn wait(shared: &Shared, stop: &AtomicBool, pause: Duration) -> bool {
    let until = Instant::now() + pause;
    loop {
        if stop.load(Ordering::SeqCst) || shared.stopped() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(POLL));
    }
}

/// Lifts a fault chaos injected.
type Lift = fn(&mut super::Faults);

fn run(shared: &Shared, plan: ChaosPlan, stop: &AtomicBool) {
    for step in plan {
        if !wait(shared, stop, step.after) {
            return;
        }
        // Inject, then after a while lift it, logging both.
        let (lasting, end): (_, (Fault, Lift)) = match step.fault {
            Fault::Stall { lasting } => {
                shared.inject(step.fault, true, |f| f.stalled = true);
                (lasting, (Fault::Resume, |f| f.stalled = false))
            }
            Fault::Delay { per_chunk, lasting } => {
                shared.inject(step.fault, true, |f| f.delay = per_chunk);
                let lifted = Fault::Delay { per_chunk: Duration::ZERO, lasting: None };
                (lasting, (lifted, |f| f.delay = Duration::ZERO))
            }
            Fault::Throttle { bytes_per_sec, lasting } => {
                shared.inject(step.fault, true, |f| f.throttle = Some(bytes_per_sec));
                let lifted = Fault::Throttle { bytes_per_sec: 0, lasting: None };
                (lasting, (lifted, |f| f.throttle = None))
            }
            Fault::Cut => {
                shared.cut(true);
                continue;
            }
            Fault::Resume | Fault::Refuse(_) | Fault::Heal => continue,
        };
        let finished = wait(shared, stop, lasting.unwrap_or_default());
        shared.inject(end.0, true, end.1);
        if !finished {
            return;
        }
    }
}
