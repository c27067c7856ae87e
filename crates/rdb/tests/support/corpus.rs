//! The shared RDB corpus, as the parser tests use it: every `.rdb` file with its bytes,
//! and which of them are built to fail. The files are read in place through
//! `replicant_testkit::corpus` (`$REPLICANT_RDB_CORPUS`, else `../shared/rdb-corpus`); the
//! repository holds no copy.

use replicant_testkit::{corpus_file, corpus_rdb_files};

/// The corpus files built to fail, with the directory they live in.
pub(crate) const BUILT_TO_FAIL: [&str; 4] = [
    "librdb-dumps/future_v19.rdb",
    "librdb-dumps/invalid_chksum_v8.rdb",
    "librdb-dumps/redis_ent_opcode_ram_lru.rdb",
    "valkey-tests-assets/corrupt_ziplist.rdb",
];

/// One corpus file: its name as `dir/file.rdb` and its bytes.
pub(crate) struct Fixture {
    pub(crate) name: String,
    pub(crate) data: Vec<u8>,
}

/// The bytes of one corpus file, named `dir/file.rdb`.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = corpus_file(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every `.rdb` file of the corpus, sorted by name.
pub(crate) fn all_fixtures() -> Vec<Fixture> {
    let out: Vec<Fixture> = corpus_rdb_files().into_iter().map(|name| Fixture { data: fixture(&name), name }).collect();
    assert!(out.len() > 70, "fixture corpus not found (only {} files)", out.len());
    out
}

/// Every corpus file that is expected to parse.
pub(crate) fn good_fixtures() -> Vec<Fixture> {
    all_fixtures().into_iter().filter(|f| !BUILT_TO_FAIL.contains(&f.name.as_str())).collect()
}

/// Good corpus files no bigger than `max` bytes.
pub(crate) fn small_fixtures(max: usize) -> Vec<Fixture> {
    good_fixtures().into_iter().filter(|f| f.data.len() <= max).collect()
}
