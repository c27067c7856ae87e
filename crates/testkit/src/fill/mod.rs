//! Deterministic data generators that populate a source server.
//!
//! * [`fill_everything`] writes every type and encoding Redis 7.0 can
//!   produce (see [`everything`] for the list), to exercise an RDB parser
//!   and the replay path end to end.
//! * [`fill_hash_field_ttls`] adds hashes with per-field expiries where the
//!   server supports them (Redis >= 7.4).
//! * [`fill_strings`] and [`fill_mixed`] generate larger data sets quickly
//!   with pipelines.
//!
//! Content is derived from fixed seeds with a small xorshift generator, so
//! the same call writes the same data; only expiry times (now + 1 hour) and
//! stream delivery times depend on the clock.

mod bulk;
pub mod everything;
mod streams;

use std::time::{SystemTime, UNIX_EPOCH};

pub use bulk::{fill_mixed, fill_strings};
pub use everything::{fill_everything, fill_hash_field_ttls};

/// Runs one command on a connection, panicking on error:
/// `run!(conn, "SET", key, value)`.
macro_rules! run {
    ($conn:expr, $name:expr $(, $arg:expr)* $(,)?) => {
        $crate::reply::query($conn, ::redis::cmd($name)$(.arg($arg))*)
    };
}
pub(crate) use run;

/// xorshift64* — tiny, fast and good enough for test data.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `len` bytes over the full 0..=255 range (incompressible).
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64().to_le_bytes()[7]).collect()
    }

    /// `len` lowercase letters and digits.
    pub(crate) fn alnum(&mut self, len: usize) -> Vec<u8> {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| CHARS[self.below(CHARS.len() as u64) as usize]).collect()
    }
}

/// Now as Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("time fits i64")
}

/// An absolute expiry about one hour from now, `extra_ms` further.
pub(crate) fn in_one_hour(extra_ms: i64) -> i64 {
    now_ms() + 3_600_000 + extra_ms
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn rng_is_deterministic() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(a.bytes(64), b.bytes(64));
        assert_ne!(Rng::new(8).next_u64(), Rng::new(7).next_u64());
    }
}
