//! Generates the benchmark RDB files with a real `redis-server` (the one on `PATH`, or
//! `$REPLICANT_REDIS_SERVER`): a throwaway server on a free loopback port with its own
//! temp dir and `--save ""`, filled over one pipelined connection with deterministic
//! data, then `SAVE`d and the dump copied into the data dir.
//!
//! Data sets (one fill may be saved more than once, with different settings):
//!
//! * `strings`: ~140k string keys (x1), values 64 B–4 KiB (log-uniform), 70 % random
//!   bytes (incompressible), 30 % JSON-like text (LZF compresses it), 20 % with a TTL.
//!   Saved with `rdbcompression yes` (Redis's default) as `strings.rdb` and with
//!   `rdbcompression no` as `strings-nolzf.rdb`.
//! * `mixed`: strings, hashes, lists, sets, sorted sets and streams in every encoding
//!   Redis 7.0 writes (see [`fill_mixed`]), 10 % with a TTL, saved with
//!   `rdbcompression yes`.
//! * `strings-x4`, `mixed-x4`: the same generators at four times the size, for the
//!   peak-memory comparison.
//! * `populate-2m`: `DEBUG POPULATE 2000000` (keys `key:N`, values `value:N`), for the
//!   `replicant rdb check` vs `redis-check-rdb` comparison.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use replicant_testkit::RedisServer;

/// What to generate: one fill, saved once per output.
pub(crate) struct Fill {
    pub(crate) kind: Kind,
    pub(crate) scale: u64,
    /// (file stem, `rdbcompression`)
    pub(crate) outputs: &'static [(&'static str, bool)],
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Strings,
    Mixed,
    /// `DEBUG POPULATE <scale>`.
    Populate,
}

pub(crate) const FILLS: &[Fill] = &[
    Fill { kind: Kind::Strings, scale: 1, outputs: &[("strings", true), ("strings-nolzf", false)] },
    Fill { kind: Kind::Mixed, scale: 1, outputs: &[("mixed", true)] },
    Fill { kind: Kind::Strings, scale: 4, outputs: &[("strings-x4", true)] },
    Fill { kind: Kind::Mixed, scale: 4, outputs: &[("mixed-x4", true)] },
    Fill { kind: Kind::Populate, scale: 2_000_000, outputs: &[("populate-2m", true)] },
];

pub(crate) fn rdb_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.rdb"))
}

/// Generates every fill one of whose outputs is missing.
pub(crate) fn ensure_all(dir: &Path) {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    for fill in FILLS {
        if fill.outputs.iter().any(|(stem, _)| !rdb_path(dir, stem).exists()) {
            generate(fill.kind, fill.scale, fill.outputs, dir);
        }
    }
}

/// Runs one fill and saves it once per output.
pub(crate) fn generate(kind: Kind, scale: u64, outputs: &[(&str, bool)], dir: &Path) {
    let names: Vec<&str> = outputs.iter().map(|(s, _)| *s).collect();
    eprintln!("generating {kind:?} x{scale} -> {names:?} in {} ...", dir.display());
    let started = Instant::now();
    let server = RedisServer::builder().start();
    let mut pipe = Pipe::connect(&server.addr());
    let mut rng = Rng::new(match kind {
        Kind::Strings => 0x5eed_b001,
        Kind::Mixed => 0x5eed_b002,
        Kind::Populate => 1,
    });
    let keys = match kind {
        Kind::Strings => fill_strings(&mut pipe, &mut rng, scale),
        Kind::Mixed => fill_mixed(&mut pipe, &mut rng, scale),
        Kind::Populate => {
            pipe.cmd(&[b"DEBUG", b"POPULATE", scale.to_string().as_bytes()]);
            scale
        }
    };
    let sent = pipe.finish();
    let filled = started.elapsed();
    // Every connection of the test kit's client sends `CLIENT SETINFO`, which Redis 7.0
    // rejects: count the failures of the fill's own commands only.
    let stats = server.cli(&["INFO", "commandstats"]);
    let failed: Vec<&str> = stats
        .lines()
        .filter(|l| !l.starts_with("cmdstat_client"))
        .filter(|l| !l.contains("rejected_calls=0,failed_calls=0"))
        .filter(|l| l.starts_with("cmdstat_"))
        .collect();
    assert!(failed.is_empty(), "the fill got error replies: {failed:?}");
    let dbsize = server.cli(&["DBSIZE"]);
    assert_eq!(dbsize.trim(), keys.to_string(), "DBSIZE after the fill");
    let version = info_field(&server.cli(&["INFO", "server"]), "redis_version").unwrap_or_default();
    let memory = info_field(&server.cli(&["INFO", "memory"]), "used_memory_human").unwrap_or_default();
    let keyspace = server.cli(&["INFO", "keyspace"]);
    for (stem, compression) in outputs {
        let setting = if *compression { "yes" } else { "no" };
        server.cli(&["CONFIG", "SET", "rdbcompression", setting]);
        let t = Instant::now();
        let dump = server.save();
        let save_time = t.elapsed();
        let target = rdb_path(dir, stem);
        let tmp = target.with_extension("rdb.tmp");
        fs::copy(&dump, &tmp).unwrap_or_else(|e| panic!("copy {} -> {}: {e}", dump.display(), tmp.display()));
        fs::rename(&tmp, &target).unwrap_or_else(|e| panic!("rename to {}: {e}", target.display()));
        let size = fs::metadata(&target).map(|m| m.len()).unwrap_or_default();
        let mut info = String::new();
        let _ = writeln!(info, "file: {}", target.display());
        let _ = writeln!(info, "generator: {kind:?} x{scale} (benches/parse/datagen.rs)");
        let _ = writeln!(info, "redis_version: {version}");
        let _ = writeln!(info, "rdbcompression: {setting}");
        let _ = writeln!(info, "keys: {keys}");
        let _ = writeln!(info, "size_bytes: {size}");
        let _ = writeln!(info, "fill_wire_bytes: {sent}");
        let _ = writeln!(info, "used_memory: {memory}");
        let _ = writeln!(info, "fill_secs: {:.1}", filled.as_secs_f64());
        let _ = writeln!(info, "save_secs: {:.1}", save_time.as_secs_f64());
        let _ = writeln!(info, "keyspace: {}", keyspace.trim().replace('\n', " "));
        fs::write(target.with_extension("txt"), &info).unwrap_or_else(|e| panic!("write info: {e}"));
        eprint!("{info}");
    }
    eprintln!("generated in {:.1}s", started.elapsed().as_secs_f64());
}

fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().to_owned()))
}

/// One pipelined connection: commands are written as RESP without waiting; a thread
/// drains the replies until the reply to the final `ECHO` marker arrives.
struct Pipe {
    out: BufWriter<TcpStream>,
    drain: JoinHandle<std::io::Result<()>>,
    sent: u64,
    payload: u64,
}

const MARKER: &str = "replicant-bench-fill-done";

impl Pipe {
    fn connect(addr: &str) -> Pipe {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let mut rx = stream.try_clone().expect("clone socket");
        let drain = thread::spawn(move || {
            let want = format!("${}\r\n{MARKER}\r\n", MARKER.len()).into_bytes();
            let mut buf = vec![0u8; 1 << 16];
            let mut tail: Vec<u8> = Vec::new();
            loop {
                let n = rx.read(&mut buf)?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.ends_with(&want) {
                    return Ok(());
                }
                if tail.len() > 4096 {
                    tail.drain(..tail.len() - 4096);
                }
            }
        });
        Pipe { out: BufWriter::with_capacity(1 << 20, stream), drain, sent: 0, payload: 0 }
    }

    fn begin(&mut self, args: usize) {
        let head = format!("*{args}\r\n");
        self.write(head.as_bytes());
    }

    fn arg(&mut self, a: &[u8]) {
        let head = format!("${}\r\n", a.len());
        self.write(head.as_bytes());
        self.write(a);
        self.write(b"\r\n");
        self.payload += a.len() as u64;
    }

    fn int(&mut self, v: i64) {
        self.arg(v.to_string().as_bytes());
    }

    fn cmd(&mut self, args: &[&[u8]]) {
        self.begin(args.len());
        for a in args {
            self.arg(a);
        }
    }

    fn write(&mut self, b: &[u8]) {
        self.out.write_all(b).expect("write to redis-server");
        self.sent += b.len() as u64;
    }

    /// Sends the marker, waits for every reply; returns the bytes sent.
    fn finish(mut self) -> u64 {
        self.cmd(&[b"ECHO", MARKER.as_bytes()]);
        self.out.flush().expect("flush to redis-server");
        match self.drain.join() {
            Ok(Ok(())) => self.sent,
            Ok(Err(e)) => panic!("reading replies from redis-server: {e}"),
            Err(_) => panic!("reply drain thread panicked"),
        }
    }

    /// `cmd key items...`, split into commands of at most `per` items.
    fn chunked(&mut self, cmd: &[u8], key: &[u8], items: &[Vec<u8>], per: usize) {
        for part in items.chunks(per) {
            self.begin(2 + part.len());
            self.arg(cmd);
            self.arg(key);
            for item in part {
                self.arg(item);
            }
        }
    }
}

/// xorshift64*: deterministic and fast.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn percent(&mut self) -> u64 {
        self.below(100)
    }

    /// Log-uniform in `lo..hi`.
    fn log_uniform(&mut self, lo: u64, hi: u64) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (lo as f64 * (hi as f64 / lo as f64).powf(u)) as usize
    }

    /// Incompressible bytes.
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(len);
        v
    }

    fn bytes_in(&mut self, lo: u64, hi: u64) -> Vec<u8> {
        let len = self.range(lo, hi) as usize;
        self.bytes(len)
    }

    fn alnum_in(&mut self, lo: u64, hi: u64) -> Vec<u8> {
        let len = self.range(lo, hi) as usize;
        self.alnum(len)
    }

    fn alnum(&mut self, len: usize) -> Vec<u8> {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| CHARS[self.below(CHARS.len() as u64) as usize]).collect()
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "name",
    "email",
    "status",
    "active",
    "created_at",
    "updated_at",
    "country",
    "city",
    "plan",
    "score",
    "count",
    "lang",
    "tz",
    "flags",
    "avatar",
    "last_login",
    "user",
    "event",
    "amount",
    "currency",
    "device",
    "session",
    "region",
    "tier",
    "source",
    "campaign",
    "referrer",
    "version",
];

/// JSON-like text of exactly `len` bytes: compressible, like real cached objects.
fn json_like(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut s = String::with_capacity(len + 128);
    s.push('[');
    while s.len() < len {
        let _ = write!(
            s,
            "{{\"id\":{},\"{}\":\"{}\",\"{}\":{},\"active\":{},\"tags\":[\"{}\",\"{}\"],\"ratio\":0.{}}},",
            rng.below(10_000_000),
            rng.word(),
            String::from_utf8_lossy(&rng.alnum_in(6, 15)),
            rng.word(),
            rng.below(100_000),
            rng.below(2) == 0,
            rng.word(),
            rng.word(),
            rng.below(1000),
        );
    }
    let mut v = s.into_bytes();
    v.truncate(len);
    v
}

fn expiry_base() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    now.as_millis() as i64 + 30 * 24 * 3600 * 1000
}

/// The string-heavy set: returns the number of keys written.
fn fill_strings(p: &mut Pipe, rng: &mut Rng, scale: u64) -> u64 {
    let n = 140_000 * scale;
    let expire = expiry_base();
    for i in 0..n {
        let key = match i % 4 {
            0 => format!("user:{i:08}:session"),
            1 => format!("cache:page:{:016x}:{i}", rng.next()),
            2 => format!("sess:{}{i}", String::from_utf8_lossy(&rng.alnum(16))),
            _ => format!("obj:{}:{i}", i / 1000),
        };
        let len = rng.log_uniform(64, 4096);
        let value = if rng.percent() < 70 { rng.bytes(len) } else { json_like(rng, len) };
        if rng.percent() < 20 {
            let at = (expire + i as i64).to_string();
            p.cmd(&[b"SET", key.as_bytes(), &value, b"PXAT", at.as_bytes()]);
        } else {
            p.cmd(&[b"SET", key.as_bytes(), &value]);
        }
    }
    n
}

/// The mixed set, until about `scale` × 120 MB of payload was sent (about 110 MB of RDB
/// per unit of scale). Returns the number of keys written.
///
/// By key count: 70 % strings (40 % short text, 15 % integers, 30 % JSON, 15 % random
/// bytes), 15 % hashes (97 % listpack, 3 % hashtable), 5 % lists (95 % one quicklist
/// node, 5 % many), 4 % sets (40 % intset, 50 % small and 10 % large hashtable; Redis
/// 7.0 has no set listpack), 4 % sorted sets (90 % listpack, 10 % skiplist), 2 % streams
/// (20-300 entries of 2-5 fields, 90 % of them with the stream's usual fields; 30 % of
/// streams with a consumer group and pending entries). 10 % of keys have a TTL.
fn fill_mixed(p: &mut Pipe, rng: &mut Rng, scale: u64) -> u64 {
    let target = 120_000_000 * scale;
    let expire = expiry_base();
    let mut i: u64 = 0;
    while p.payload < target {
        let roll = rng.percent();
        let key = match roll {
            0..=69 => {
                let key = format!("str:{i}");
                let value = match rng.percent() {
                    0..=39 => rng.alnum_in(8, 64),
                    40..=54 => rng.below(1_000_000_000).to_string().into_bytes(),
                    55..=84 => {
                        let n = rng.range(100, 1500) as usize;
                        json_like(rng, n)
                    }
                    _ => rng.bytes_in(100, 2000),
                };
                p.cmd(&[b"SET", key.as_bytes(), &value]);
                key
            }
            70..=84 => {
                let key = format!("hash:user:{i}");
                let mut items = Vec::new();
                if rng.percent() < 97 {
                    for k in 0..rng.range(4, 40) {
                        items.push(format!("{}{k}", rng.word()).into_bytes());
                        items.push(if rng.percent() < 60 {
                            rng.alnum_in(4, 32)
                        } else {
                            rng.below(10_000_000).to_string().into_bytes()
                        });
                    }
                } else {
                    for k in 0..rng.range(150, 1000) {
                        items.push(format!("field:{k}").into_bytes());
                        items.push(rng.alnum_in(8, 48));
                    }
                }
                p.chunked(b"HSET", key.as_bytes(), &items, 1000);
                key
            }
            85..=89 => {
                let key = format!("list:{i}");
                let n = if rng.percent() < 95 { rng.range(2, 60) } else { rng.range(300, 3000) };
                let items: Vec<Vec<u8>> = (0..n)
                    .map(|_| {
                        if rng.percent() < 80 {
                            rng.alnum_in(8, 40)
                        } else {
                            rng.below(1_000_000).to_string().into_bytes()
                        }
                    })
                    .collect();
                p.chunked(b"RPUSH", key.as_bytes(), &items, 1000);
                key
            }
            90..=93 => {
                let key = format!("set:{i}");
                let items: Vec<Vec<u8>> = match rng.percent() {
                    0..=39 => {
                        (0..rng.range(10, 500)).map(|k| (k * 7919 + rng.below(7919)).to_string().into_bytes()).collect()
                    }
                    40..=89 => (0..rng.range(5, 100))
                        .map(|k| format!("{}{k}", String::from_utf8_lossy(&rng.alnum_in(6, 24))).into_bytes())
                        .collect(),
                    _ => (0..rng.range(300, 3000))
                        .map(|k| format!("m:{k}:{}", String::from_utf8_lossy(&rng.alnum(8))).into_bytes())
                        .collect(),
                };
                p.chunked(b"SADD", key.as_bytes(), &items, 1000);
                key
            }
            94..=97 => {
                let key = format!("zset:{i}");
                let (n, len) =
                    if rng.percent() < 90 { (rng.range(5, 120), (4, 20)) } else { (rng.range(200, 2000), (8, 32)) };
                let mut items = Vec::new();
                for k in 0..n {
                    items.push(format!("{}", rng.below(100_000_000) as f64 / 100.0).into_bytes());
                    items.push(format!("{}:{k}", String::from_utf8_lossy(&rng.alnum_in(len.0, len.1))).into_bytes());
                }
                p.chunked(b"ZADD", key.as_bytes(), &items, 1000);
                key
            }
            _ => {
                let key = format!("stream:{i}");
                let n = rng.range(20, 300);
                let base: u64 = 1_700_000_000_000 + rng.below(1_000_000_000);
                // A producer writes the same fields each time (Redis then stores the
                // entry as "same fields as the node's master entry"); now and then one
                // more.
                let usual = rng.range(2, 5);
                for j in 0..n {
                    let id = format!("{}-0", base + j * 10);
                    let fields = if rng.percent() < 10 { usual + 1 } else { usual };
                    p.begin(3 + 2 * fields as usize);
                    p.arg(b"XADD");
                    p.arg(key.as_bytes());
                    p.arg(id.as_bytes());
                    for f in 0..fields {
                        p.arg(WORDS[(f as usize * 7 + 3) % WORDS.len()].as_bytes());
                        if rng.percent() < 50 {
                            p.int(rng.below(1_000_000) as i64);
                        } else {
                            let v = rng.alnum_in(4, 20);
                            p.arg(&v);
                        }
                    }
                }
                if rng.percent() < 30 {
                    p.cmd(&[b"XGROUP", b"CREATE", key.as_bytes(), b"workers", b"0"]);
                    p.cmd(&[
                        b"XREADGROUP",
                        b"GROUP",
                        b"workers",
                        b"c1",
                        b"COUNT",
                        b"15",
                        b"STREAMS",
                        key.as_bytes(),
                        b">",
                    ]);
                    p.cmd(&[
                        b"XREADGROUP",
                        b"GROUP",
                        b"workers",
                        b"c2",
                        b"COUNT",
                        b"5",
                        b"STREAMS",
                        key.as_bytes(),
                        b">",
                    ]);
                }
                key
            }
        };
        if rng.percent() < 10 {
            p.begin(3);
            p.arg(b"PEXPIREAT");
            p.arg(key.as_bytes());
            p.int(expire + i as i64);
        }
        i += 1;
    }
    i
}
