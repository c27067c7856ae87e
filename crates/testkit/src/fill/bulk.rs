//! Bulk generators for larger data sets, written with pipelines.
//!
//! * [`fill_strings`]: `n` string keys `string:<i>` of random bytes.
//! * [`fill_mixed`]: `n` keys `mixed:<type>:<i>` cycling through string,
//!   list, set, sorted set, hash and stream, small values, every 10th key
//!   with an expiry one hour ahead.

use redis::{Connection, Pipeline};

use super::{in_one_hour, Rng};

/// Keys per pipeline round trip.
const BATCH: usize = 500;

/// Writes `n` keys `string:<i>` (zero-padded) with `value_len` random bytes
/// each, on the connection's current database.
pub fn fill_strings(conn: &mut Connection, n: usize, value_len: usize) {
    let mut rng = Rng::new(0x5eed_0002);
    for start in (0..n).step_by(BATCH) {
        let mut pipe = redis::pipe();
        for i in start..n.min(start + BATCH) {
            pipe.cmd("SET").arg(format!("string:{i:08}")).arg(rng.bytes(value_len)).ignore();
        }
        execute(conn, &pipe);
    }
}

/// Writes `n_keys` keys of mixed types (see module docs) on the
/// connection's current database.
pub fn fill_mixed(conn: &mut Connection, n_keys: usize) {
    let mut rng = Rng::new(0x5eed_0003);
    let expire_base = in_one_hour(0);
    for start in (0..n_keys).step_by(BATCH) {
        let mut pipe = redis::pipe();
        for i in start..n_keys.min(start + BATCH) {
            let key = add_mixed_key(&mut pipe, &mut rng, i);
            if i % 10 == 0 {
                pipe.cmd("PEXPIREAT").arg(&key).arg(expire_base + i as i64).ignore();
            }
        }
        execute(conn, &pipe);
    }
}

/// Queues the commands creating key number `i`; returns its name.
fn add_mixed_key(pipe: &mut Pipeline, rng: &mut Rng, i: usize) -> String {
    let kinds = ["string", "list", "set", "zset", "hash", "stream"];
    let kind = kinds[i % kinds.len()];
    let key = format!("mixed:{kind}:{i}");
    let len = 1 + rng.below(20);
    let cmd = match kind {
        "string" => pipe.cmd("SET").arg(&key).arg(rng.alnum(8 + (i % 64))),
        "list" => pipe.cmd("RPUSH").arg(&key).arg(words(rng, len)),
        "set" => pipe.cmd("SADD").arg(&key).arg(words(rng, len)),
        "zset" => {
            let cmd = pipe.cmd("ZADD").arg(&key);
            for (n, word) in words(rng, len).into_iter().enumerate() {
                cmd.arg(n as f64 * 1.5 - 3.0).arg(word);
            }
            cmd
        }
        "hash" => {
            let cmd = pipe.cmd("HSET").arg(&key);
            for (n, word) in words(rng, len).into_iter().enumerate() {
                cmd.arg(format!("field{n}")).arg(word);
            }
            cmd
        }
        _ => {
            let cmd = pipe.cmd("XADD").arg(&key).arg("1-1");
            cmd.arg("n").arg(i).arg("payload").arg(rng.alnum(16))
        }
    };
    cmd.ignore();
    key
}

fn words(rng: &mut Rng, count: u64) -> Vec<Vec<u8>> {
    (0..count)
        .map(|_| {
            let len = 1 + rng.below(12) as usize;
            rng.alnum(len)
        })
        .collect()
}

fn execute(conn: &mut Connection, pipe: &Pipeline) {
    pipe.query::<()>(conn).unwrap_or_else(|err| panic!("fill pipeline failed: {err}"));
}
