//! The shared RDB corpus: real RDB files from the public test suites of other projects
//! (Valkey, redis-rdb-tools, librdb). They are not ours to carry, so the repository holds
//! no copy: tests read them in place, from the folder this module finds.
//!
//! The folder is `$REPLICANT_RDB_CORPUS` when that is set (a relative path is taken from
//! the workspace root), else `../shared/rdb-corpus` beside the checkout, where CI has it
//! too. A missing corpus fails the test that asked for it, naming the variable and the
//! path tried; it never skips.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable that points at the corpus folder.
pub const CORPUS_ENV: &str = "REPLICANT_RDB_CORPUS";

/// The corpus's sub-folders, one per project it comes from.
pub const CORPUS_DIRS: [&str; 3] = ["librdb-dumps", "redis-rdb-tools-dumps", "valkey-tests-assets"];

/// The workspace root: testkit lives in `crates/testkit`, two levels below it.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest).to_path_buf()
}

/// Where the corpus should be, given the value of [`CORPUS_ENV`] (unset or empty means
/// the default) and the workspace root; `Err` explains what is missing.
pub fn resolve_corpus_dir(env: Option<OsString>, root: &Path) -> Result<PathBuf, String> {
    let (path, origin) = match env.filter(|v| !v.is_empty()) {
        Some(dir) => (root.join(dir), format!("{CORPUS_ENV} is set to this path")),
        None => {
            let beside = root.parent().map_or_else(|| root.join(".."), Path::to_path_buf);
            (beside.join("shared/rdb-corpus"), format!("{CORPUS_ENV} is not set; this is the default"))
        }
    };
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!(
            "RDB corpus not found at {} ({origin}): set {CORPUS_ENV} to the folder that holds {}",
            path.display(),
            CORPUS_DIRS.join(", ")
        ))
    }
}

/// The corpus folder. Panics, naming [`CORPUS_ENV`] and the path tried, when it is missing.
pub fn rdb_corpus_dir() -> PathBuf {
    resolve_corpus_dir(std::env::var_os(CORPUS_ENV), &workspace_root()).unwrap_or_else(|e| panic!("{e}"))
}

/// One corpus file, named `dir/file.rdb`. Panics when the corpus or the file is missing.
pub fn corpus_file(rel: &str) -> PathBuf {
    let path = rdb_corpus_dir().join(rel);
    assert!(path.is_file(), "corpus file {rel} not found at {} (corpus from {CORPUS_ENV})", path.display());
    path
}

/// Every `.rdb` file of the corpus's [`CORPUS_DIRS`], named `dir/file.rdb`, sorted.
pub fn corpus_rdb_files() -> Vec<String> {
    let root = rdb_corpus_dir();
    let mut out = Vec::new();
    for dir in CORPUS_DIRS {
        let path = root.join(dir);
        let entries = std::fs::read_dir(&path).unwrap_or_else(|e| panic!("listing {}: {e}", path.display()));
        for entry in entries {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".rdb") {
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_overrides_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let found = resolve_corpus_dir(Some(dir.path().as_os_str().to_owned()), Path::new("/nowhere")).unwrap();
        assert_eq!(found, dir.path());
        // A relative value is taken from the workspace root.
        std::fs::create_dir(dir.path().join("corpus")).unwrap();
        assert_eq!(resolve_corpus_dir(Some("corpus".into()), dir.path()).unwrap(), dir.path().join("corpus"));
    }

    #[test]
    fn the_default_is_beside_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("main");
        std::fs::create_dir_all(dir.path().join("shared/rdb-corpus")).unwrap();
        std::fs::create_dir(&root).unwrap();
        assert_eq!(resolve_corpus_dir(None, &root).unwrap(), dir.path().join("shared/rdb-corpus"));
        assert_eq!(resolve_corpus_dir(Some(OsString::new()), &root).unwrap(), dir.path().join("shared/rdb-corpus"));
    }

    #[test]
    fn a_missing_corpus_names_the_variable_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-corpus");
        let err = resolve_corpus_dir(Some(missing.as_os_str().to_owned()), dir.path()).unwrap_err();
        assert!(err.contains("REPLICANT_RDB_CORPUS"), "{err}");
        assert!(err.contains(&missing.display().to_string()), "{err}");

        let root = dir.path().join("main");
        let err = resolve_corpus_dir(None, &root).unwrap_err();
        assert!(err.contains("REPLICANT_RDB_CORPUS is not set"), "{err}");
        assert!(err.contains(&dir.path().join("shared/rdb-corpus").display().to_string()), "{err}");
    }

    #[test]
    fn the_corpus_is_found_and_listed() {
        let files = corpus_rdb_files();
        assert!(files.len() > 70, "only {} files in {}", files.len(), rdb_corpus_dir().display());
        assert!(corpus_file("librdb-dumps/empty.rdb").is_file());
    }
}
