//! [`fill_everything`]: one of each type and encoding Redis 7.0 produces.
//!
//! Coverage (db 0 unless noted):
//! * strings: short (embstr), raw, int-encoded (`0`, `12345`, negative, 8/16/32
//!   bit and i64 bounds), non-integer numerics (`007`, `+1`, u64 max, float),
//!   empty, binary (`\r\n`, `\0`, `0xff`), a binary key name, a compressible
//!   100 KB value (LZF) and an incompressible random 100 KB value;
//! * lists: small, integers of every listpack width, 20k elements (many
//!   quicklist nodes), a single 10 KB element, an LZF-compressed quicklist
//!   (`list-compress-depth 1`) and, when `DEBUG` is enabled, plain nodes;
//! * sets: intsets of 16/32/64-bit range, small strings (listpack on 7.2+),
//!   5k strings and 1k integers (hashtable);
//! * sorted sets: small (listpack) and 5k members (skiplist), both with
//!   +inf, -inf, 0, -0, 1e-300, f64::MAX, 0.1 and integer scores;
//! * hashes: small (listpack), binary fields/values, 1k fields and one
//!   long value (hashtable);
//! * expiries at now + 1 h, some with sub-second precision, on every type;
//! * keys in dbs 1, 5 and 15 (including a name also used in db 0);
//! * streams (see `streams.rs`), and the function library `mylib`.

use redis::Connection;

use super::streams::fill_streams;
use super::{in_one_hour, run, Rng};
use crate::info::supports_command;
use crate::reply::{into_array, into_text, try_query};

/// Arguments per command when adding many elements.
const CHUNK: usize = 1000;

/// Populates the server with every type and encoding (see module docs).
/// Writes to dbs 0, 1, 5 and 15; leaves the connection on db 0.
pub fn fill_everything(conn: &mut Connection) {
    let mut rng = Rng::new(0x5eed_0001);
    run!(conn, "SELECT", 0);
    fill_strings(conn, &mut rng);
    fill_lists(conn, &mut rng);
    fill_sets(conn);
    fill_zsets(conn, &mut rng);
    fill_hashes(conn, &mut rng);
    fill_streams(conn);
    fill_expiries(conn);
    fill_other_dbs(conn);
    load_function(conn);
}

/// Adds hashes whose fields expire (`HPEXPIREAT`), a small one (listpack)
/// and a large one (hashtable). Returns false, writing nothing, when the
/// server has no `HPEXPIREAT` (Redis < 7.4).
pub fn fill_hash_field_ttls(conn: &mut Connection) -> bool {
    if !supports_command(conn, "HPEXPIREAT") {
        return false;
    }
    for (key, count) in [("hfe:small", 6), ("hfe:large", 300)] {
        let pairs = (0..count).flat_map(|i| [format!("field:{i}"), format!("value:{i}")]);
        add_chunked(conn, "HSET", key, pairs.map(String::into_bytes).collect());
        for i in (0..count).step_by(3) {
            let at = in_one_hour(i64::from(i) * 7);
            run!(conn, "HPEXPIREAT", key, at, "FIELDS", 1, format!("field:{i}"));
        }
    }
    true
}

/// Sends `name key args...` in chunks of [`CHUNK`] arguments.
pub(crate) fn add_chunked(conn: &mut Connection, name: &str, key: &str, args: Vec<Vec<u8>>) {
    for chunk in args.chunks(CHUNK) {
        run!(conn, name, key, chunk);
    }
}

fn fill_strings(conn: &mut Connection, rng: &mut Rng) {
    let plain: &[(&str, &[u8])] = &[
        ("str:short", b"hello"),
        ("str:embstr", b"a short string stored as embstr"),
        ("str:int", b"12345"),
        ("str:int:neg", b"-12345"),
        ("str:zero", b"0"),
        ("str:int8", b"-128"),
        ("str:int16", b"32767"),
        ("str:int32", b"-2147483648"),
        ("str:int:large", b"1099511627776"),
        ("str:i64max", b"9223372036854775807"),
        ("str:i64min", b"-9223372036854775808"),
        ("str:u64max", b"18446744073709551615"),
        ("str:leading-zero", b"007"),
        ("str:plus", b"+1"),
        ("str:float", b"3.14159"),
        ("str:empty", b""),
        ("str:binary", b"a\r\nb\0c\xff\xfe\x80\r\n\0"),
        ("str:lzf-min", b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ];
    for (key, value) in plain {
        run!(conn, "SET", *key, *value);
    }
    run!(conn, "SET", &b"key:\0\r\n\xff binary name"[..], "binary key");
    run!(conn, "INCRBY", "str:counter", 41);
    let pattern = b"compressible pattern 0123456789 ".repeat(3200);
    run!(conn, "SET", "str:compressible", pattern);
    run!(conn, "SET", "str:random", rng.bytes(100_000));
}

fn fill_lists(conn: &mut Connection, rng: &mut Rng) {
    run!(conn, "RPUSH", "list:small", "a", "b", "", &b"\0\xff"[..], "c");
    let ints = [0i64, 1, -1, 127, -128, 4095, -4096, 32767, -32768, 8_388_607, -8_388_608];
    let more = [2_147_483_647i64, -2_147_483_648, 1 << 40, i64::MAX, i64::MIN];
    let all: Vec<String> = ints.iter().chain(&more).map(i64::to_string).collect();
    run!(conn, "RPUSH", "list:ints", &all);
    let large = (0..20_000).map(|i| match i % 4 {
        0 => i.to_string().into_bytes(),
        1 => format!("element:{i}").into_bytes(),
        2 => rng.alnum(1 + (i % 40)),
        _ => rng.bytes(8),
    });
    add_chunked(conn, "RPUSH", "list:large", large.collect());
    run!(conn, "RPUSH", "list:big-element", "before", vec![b'L'; 10_000], "after");
    fill_compressed_list(conn);
    fill_plain_node_list(conn);
}

/// A list whose inner quicklist nodes are LZF-compressed.
fn fill_compressed_list(conn: &mut Connection) {
    let reply = run!(conn, "CONFIG", "GET", "list-compress-depth");
    let old = into_array(reply).into_iter().nth(1).map(into_text);
    run!(conn, "CONFIG", "SET", "list-compress-depth", 1);
    let items = (0..5_000).map(|i| format!("compressed list element number {i}").into_bytes());
    add_chunked(conn, "RPUSH", "list:compressed", items.collect());
    run!(conn, "CONFIG", "SET", "list-compress-depth", old.unwrap_or_else(|| "0".into()));
}

/// A list with PLAIN quicklist nodes. Redis only makes them for elements
/// of 1 GB unless `DEBUG QUICKLIST-PACKED-THRESHOLD` lowers the limit, which
/// needs `enable-debug-command` (RedisServer enables it); skipped otherwise.
fn fill_plain_node_list(conn: &mut Connection) {
    let lowered = redis::cmd("DEBUG").arg("QUICKLIST-PACKED-THRESHOLD").arg(1000).clone();
    if try_query(conn, &lowered).is_none() {
        return;
    }
    run!(conn, "RPUSH", "list:plain", "small", vec![b'P'; 2000], "tail", vec![b'Q'; 1500]);
    run!(conn, "DEBUG", "QUICKLIST-PACKED-THRESHOLD", 1u64 << 30);
}

fn fill_sets(conn: &mut Connection) {
    run!(conn, "SADD", "set:int16", &(1..=100).collect::<Vec<i64>>());
    run!(conn, "SADD", "set:int32", 1, -70_000, 100_000, 2_000_000_000);
    run!(conn, "SADD", "set:int64", 1, 5_000_000_000i64, i64::MAX, i64::MIN);
    run!(conn, "SADD", "set:small-strings", "a", "b", "c", &b"\0\r\n\xff"[..]);
    let large = (0..5_000).map(|i| format!("member:{i}").into_bytes());
    add_chunked(conn, "SADD", "set:large", large.collect());
    let ints = (0..1_000i64).map(|i| (i * 7919 - 3_000_000).to_string().into_bytes());
    add_chunked(conn, "SADD", "set:large-ints", ints.collect());
}

const SPECIAL_SCORES: [&str; 12] = [
    "+inf",
    "-inf",
    "0",
    "-0",
    "1e-300",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "0.1",
    "42",
    "-42",
    "3.141592653589793",
    "5e-324",
];

fn fill_zsets(conn: &mut Connection, rng: &mut Rng) {
    let small = SPECIAL_SCORES.iter().enumerate().flat_map(|(i, s)| [s.to_string(), format!("m{i}")]);
    let small: Vec<Vec<u8>> = small.map(String::into_bytes).collect();
    add_chunked(conn, "ZADD", "zset:small", small.clone());
    run!(conn, "ZADD", "zset:binary", 1, &b"\0\xff\r\n"[..], 2, "");
    let mut large = small;
    for i in 0..5_000u64 {
        let score = match i % 3 {
            0 => i.to_string(),
            1 => format!("{}.{}", rng.below(1_000_000), rng.below(1000)),
            _ => format!("-{}e{}", rng.below(1000), rng.below(20)),
        };
        large.push(score.into_bytes());
        large.push(format!("member:{i}").into_bytes());
    }
    add_chunked(conn, "ZADD", "zset:large", large);
}

fn fill_hashes(conn: &mut Connection, rng: &mut Rng) {
    run!(conn, "HSET", "hash:small", "name", "replicant", "count", 12, "neg", -5, "empty", "");
    run!(conn, "HSET", "hash:binary", &b"f\0\r\n"[..], &b"v\xff\0"[..], &b"\xff"[..], "x");
    let large = (0..1_000).flat_map(|i| match i % 2 {
        0 => [format!("field:{i}").into_bytes(), rng.bytes(16)],
        _ => [rng.bytes(12), i.to_string().into_bytes()],
    });
    add_chunked(conn, "HSET", "hash:large", large.collect());
    run!(conn, "HSET", "hash:long-value", "short", "v", "long", vec![b'h'; 200]);
}

fn fill_expiries(conn: &mut Connection) {
    run!(conn, "SET", "ttl:str", "expires in an hour");
    run!(conn, "SET", "ttl:ms", "expires with ms precision");
    run!(conn, "RPUSH", "ttl:list", "a", "b");
    run!(conn, "SADD", "ttl:set", "a", "b");
    run!(conn, "ZADD", "ttl:zset", 1, "a");
    run!(conn, "HSET", "ttl:hash", "f", "v");
    run!(conn, "XADD", "ttl:stream", "1-1", "f", "v");
    let second = in_one_hour(0) / 1000 * 1000;
    for (i, key) in ["ttl:str", "ttl:list", "ttl:set", "ttl:zset", "ttl:hash", "ttl:stream"].iter().enumerate() {
        run!(conn, "PEXPIREAT", *key, second + 1000 * i as i64);
    }
    run!(conn, "PEXPIREAT", "ttl:ms", in_one_hour(123));
}

fn fill_other_dbs(conn: &mut Connection) {
    run!(conn, "SELECT", 1);
    run!(conn, "SET", "shared", "value in db 1");
    run!(conn, "RPUSH", "db1:list", 1, 2, 3);
    run!(conn, "SELECT", 5);
    run!(conn, "SET", "shared", "value in db 5");
    run!(conn, "HSET", "db5:hash", "a", 1);
    run!(conn, "SET", "db5:ttl", "x");
    run!(conn, "PEXPIREAT", "db5:ttl", in_one_hour(555));
    run!(conn, "SELECT", 15);
    run!(conn, "ZADD", "db15:zset", "-inf", "low", "+inf", "high");
    run!(conn, "SADD", "db15:set", 3, 1, 2);
    run!(conn, "SELECT", 0);
    run!(conn, "SET", "shared", "value in db 0");
}

const LIBRARY: &str = "#!lua name=mylib\n\
redis.register_function('myfunc', function(keys, args) return args[1] end)\n\
redis.register_function{function_name='myfunc_ro', callback=function(keys, args) return #keys end, flags={'no-writes'}}\n";

fn load_function(conn: &mut Connection) {
    run!(conn, "FUNCTION", "LOAD", "REPLACE", LIBRARY);
}
