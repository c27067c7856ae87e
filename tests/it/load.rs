//! Write loads run on a source while a test disturbs the migration.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Writes that change their key by adding to it (INCR, LPUSH, APPEND, XADD, in two
/// databases): applying any of them twice shows in the data.
pub(crate) fn additive_load(
    conn: redis::Connection,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    let mut conn = conn;
    std::thread::spawn(move || {
        let mut round = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let k = round % 100;
            let mut pipe = redis::pipe();
            pipe.cmd("INCR").arg(format!("n:{k}")).ignore();
            pipe.cmd("LPUSH").arg(format!("l:{}", k % 10)).arg(round).ignore();
            pipe.cmd("APPEND").arg(format!("a:{}", k % 10)).arg(".").ignore();
            pipe.cmd("XADD").arg("events").arg("*").arg("round").arg(round).ignore();
            pipe.cmd("SELECT").arg(2).ignore().cmd("INCRBY").arg("db2:n").arg(3).ignore();
            pipe.cmd("SELECT").arg(0).ignore();
            pipe.cmd("MULTI").ignore().cmd("INCR").arg("tx:{a}").ignore().cmd("INCR").arg("tx:{a}2").ignore();
            pipe.cmd("EXEC").ignore();
            let _: () = pipe.query(&mut conn).unwrap();
            round += 1;
            done.store(round, Ordering::Relaxed);
        }
    })
}

/// Writes SET, HSET, SADD, SREM and DEL with ever new values until stopped. Every one of
/// them gives the same result when the tail of the stream is applied again, which is
/// what a resume after SIGKILL does with the commands in flight at the kill.
pub(crate) fn idempotent_load(
    conn: redis::Connection,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    let mut conn = conn;
    std::thread::spawn(move || {
        let mut round = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let k = round % 500;
            let mut pipe = redis::pipe();
            pipe.cmd("SET").arg(format!("s:{k}")).arg(round).ignore();
            pipe.cmd("HSET").arg(format!("h:{}", k % 50)).arg(k).arg(round).ignore();
            pipe.cmd("SADD").arg(format!("set:{}", k % 20)).arg(round % 1000).ignore();
            pipe.cmd("SREM").arg(format!("set:{}", k % 20)).arg((round + 500) % 1000).ignore();
            if round.is_multiple_of(7) {
                pipe.cmd("DEL").arg(format!("s:{}", (k + 3) % 500)).ignore();
            }
            pipe.cmd("SELECT").arg(1).ignore().cmd("SET").arg(format!("db1:{}", k % 10)).arg(round).ignore();
            pipe.cmd("SELECT").arg(0).ignore();
            let _: () = pipe.query(&mut conn).unwrap();
            round += 1;
            done.store(round, Ordering::Relaxed);
        }
    })
}
