//! The real RDB files of the shared corpus (`replicant_testkit::corpus`, read in place
//! from `$REPLICANT_RDB_CORPUS` or `../shared/rdb-corpus`): those built to fail are
//! rejected with a clear error; every other one that Debian's Redis can load restores to
//! exactly what Redis itself loads from it; the newer ones restore without error.

use std::path::{Path, PathBuf};

use replicant_testkit::{assert_same, corpus_file, corpus_rdb_files, snapshot, RedisServer};

use crate::cli::{replicant, replicant_ok};

const BUILT_TO_FAIL: &[(&str, &str)] = &[
    ("librdb-dumps/future_v19.rdb", "unsupported RDB version 99"),
    ("librdb-dumps/invalid_chksum_v8.rdb", "checksum mismatch"),
    ("librdb-dumps/redis_ent_opcode_ram_lru.rdb", "unknown value type or opcode 107 at offset 280"),
    ("valkey-tests-assets/corrupt_ziplist.rdb", "corrupt RDB at offset 488"),
];

/// Files whose content a plain Redis 7.0 target cannot hold: module types it lacks,
/// hash field expiry (7.4+). Restoring them must fail with this message.
const NEEDS_MORE_THAN_7_0: &[(&str, &str)] = &[
    ("librdb-dumps/module.rdb", "module value"),
    ("librdb-dumps/module_aux_v12.rdb", "module value"),
    // RDB 8: Redis 7.0 reads the payload but has no such module.
    ("redis-rdb-tools-dumps/redis_40_with_module.rdb", "rejected RESTORE on key \"foo\" (db 0): ERR Bad data format"),
    ("librdb-dumps/hash_with_expire_v12.rdb", "hash field expiry"),
    ("librdb-dumps/hash_lp_with_hexpire_v12.rdb", "hash field expiry"),
];

fn all_fixtures() -> Vec<String> {
    let out = corpus_rdb_files();
    assert!(out.len() > 70, "fixtures missing");
    out
}

#[test]
fn files_built_to_fail_are_rejected_clearly() {
    for (file, message) in BUILT_TO_FAIL {
        let out = replicant(&["rdb", "check", corpus_file(file).to_str().unwrap()]);
        assert!(!out.status.success(), "{file} passed the check");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{file}: expected {message:?} in {err}");
    }
}

#[test]
fn every_other_file_passes_the_check() {
    for file in all_fixtures() {
        if BUILT_TO_FAIL.iter().any(|(f, _)| *f == file) {
            continue;
        }
        replicant_ok(&["rdb", "check", corpus_file(&file).to_str().unwrap()]);
    }
}

/// A server started on a copy of the file, if this Redis can load it.
fn redis_loading(file: &Path, target: &RedisServer) -> Option<RedisServer> {
    let magic = std::fs::read(file).ok()?.get(..9)?.to_vec();
    let version: u32 = std::str::from_utf8(magic.strip_prefix(b"REDIS")?).ok()?.parse().ok()?;
    let readable = match target.version() {
        (7, 0, _) => 10,
        (7, 2..=3, _) => 11,
        (7, _, _) | (8, 0..=5, _) => 12,
        _ => 13,
    };
    if version > readable {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(file, dir.path().join("dump.rdb")).unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let server =
        std::panic::catch_unwind(|| RedisServer::builder().arg("--dir", &path).arg("--dbfilename", "dump.rdb").start());
    let server = server.ok()?;
    std::mem::forget(dir); // the server owns the files until it exits
    Some(server)
}

#[test]
fn every_loadable_file_restores_to_what_redis_loads() {
    let mut compared = 0;
    for file in all_fixtures() {
        if BUILT_TO_FAIL.iter().any(|(f, _)| *f == file) {
            continue;
        }
        let path: PathBuf = corpus_file(&file);
        let target = RedisServer::start();
        let url = target.url();
        let out = replicant(&["rdb", "restore", path.to_str().unwrap(), "--target", &url]);
        if let Some((_, why)) = NEEDS_MORE_THAN_7_0.iter().find(|(f, _)| *f == file) {
            if target.version() < (7, 4, 0) {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(!out.status.success() && err.contains(why), "{file}: expected {why:?}, got {err}");
                continue;
            }
        }
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        if let Some(reference) = redis_loading(&path, &target) {
            assert_same(&snapshot(&mut reference.conn()), &snapshot(&mut target.conn()));
            compared += 1;
        }
    }
    assert!(compared > 40, "only {compared} files could be compared with Redis's own loading");
}
