//! The shared Kvrocks captures: what a real Kvrocks 2.10.1 sent to a replica (see the
//! captures' `README.md`). They are not ours to carry, so the repository holds no copy:
//! tests read them in place, from the folder this module finds.
//!
//! The folder is `$REPLICANT_KVROCKS_CAPTURES` when that is set (a relative path is taken
//! from the workspace root), else `../shared/kvrocks` beside the checkout. A missing
//! folder fails the test that asked for it, naming the variable and the path tried; it
//! never skips.
//!
//! A case folder (`v2.10.1-types`, `v2.10.1-sst`) holds `checkpoint/<file>`,
//! `fetch_meta.bin` (the order `_fetch_meta` listed them), `capture-meta.json` (the
//! checkpoint's sequence), `stream.jsonl` (what the PSYNC socket received after each
//! write, hex) and the raw `.bin` replies the mock must reproduce.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{MockKvrocks, MockKvrocksBuilder};
use crate::corpus::workspace_root;

/// The environment variable that points at the captures folder.
pub const CAPTURES_ENV: &str = "REPLICANT_KVROCKS_CAPTURES";
/// The capture cases.
pub const CAPTURE_CASES: [&str; 2] = ["v2.10.1-types", "v2.10.1-sst"];
/// The password the captured server ran with (`--requirepass`).
pub const CAPTURE_PASSWORD: &str = "adminpass";
/// The namespace the captured server had, and its token.
pub const CAPTURE_NAMESPACE: (&str, &str) = ("ns1", "token1");
/// A heartbeat on the PSYNC stream, as Kvrocks sends it.
pub const HEARTBEAT: &[u8] = b"$4\r\nping\r\n";

/// Where the captures should be, given the value of [`CAPTURES_ENV`] (unset or empty
/// means the default) and the workspace root; `Err` explains what is missing.
pub fn resolve_captures_dir(env: Option<OsString>, root: &Path) -> Result<PathBuf, String> {
    let (path, origin) = match env.filter(|v| !v.is_empty()) {
        Some(dir) => (root.join(dir), format!("{CAPTURES_ENV} is set to this path")),
        None => {
            let beside = root.parent().map_or_else(|| root.join(".."), Path::to_path_buf);
            (beside.join("shared/kvrocks"), format!("{CAPTURES_ENV} is not set; this is the default"))
        }
    };
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!(
            "Kvrocks captures not found at {} ({origin}): set {CAPTURES_ENV} to the folder that holds {}",
            path.display(),
            CAPTURE_CASES.join(", ")
        ))
    }
}

/// The captures folder. Panics, naming [`CAPTURES_ENV`] and the path tried, when missing.
pub fn kvrocks_captures_dir() -> PathBuf {
    resolve_captures_dir(std::env::var_os(CAPTURES_ENV), &workspace_root()).unwrap_or_else(|e| panic!("{e}"))
}

/// A case folder: `case` under [`kvrocks_captures_dir`], or `case` itself when it is an
/// absolute path. Panics when it is missing.
pub fn kvrocks_capture(case: impl AsRef<Path>) -> PathBuf {
    let case = case.as_ref();
    let dir = if case.is_absolute() { case.to_path_buf() } else { kvrocks_captures_dir().join(case) };
    assert!(dir.is_dir(), "Kvrocks capture case {} not found at {} ({CAPTURES_ENV})", case.display(), dir.display());
    dir
}

/// The settings that replay a case: password [`CAPTURE_PASSWORD`], namespace
/// [`CAPTURE_NAMESPACE`], the checkpoint files of `<case>/checkpoint/` in the order of
/// `fetch_meta.bin`, the sequence `sequence_at_checkpoint` of `capture-meta.json`, the
/// batches of `stream.jsonl` and the `INFO` text of `info.txt`.
pub fn builder(case: &Path) -> MockKvrocksBuilder {
    let dir = kvrocks_capture(case);
    let info =
        std::fs::read_to_string(dir.join("info.txt")).unwrap_or_else(|e| panic!("{}/info.txt: {e}", dir.display()));
    MockKvrocks::builder()
        .password(CAPTURE_PASSWORD)
        .namespace_token(CAPTURE_NAMESPACE.0, CAPTURE_NAMESPACE.1)
        .checkpoint_dir(dir.join("checkpoint"))
        .checkpoint_files(checkpoint_order(&dir))
        .sequence(checkpoint_sequence(&dir))
        .batches(stream_batches(&dir))
        .info_template(&info)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The checkpoint's file names, in the order the server listed them (`fetch_meta.bin`).
pub fn checkpoint_order(case_dir: &Path) -> Vec<String> {
    let meta = String::from_utf8(read(case_dir, "fetch_meta.bin")).unwrap();
    let line = meta.strip_suffix("\r\n").unwrap_or_else(|| panic!("fetch_meta.bin ends in CRLF: {meta:?}"));
    line.split(',').map(str::to_owned).collect()
}

/// The checkpoint's sequence (`capture-meta.json` `sequence_at_checkpoint`).
pub fn checkpoint_sequence(case_dir: &Path) -> u64 {
    let meta: serde_json::Value = serde_json::from_slice(&read(case_dir, "capture-meta.json")).unwrap();
    meta["sequence_at_checkpoint"].as_u64().unwrap_or_else(|| panic!("no sequence_at_checkpoint in {meta}"))
}

/// The WriteBatch reps the PSYNC stream carried, in order: every bulk of every
/// `received_hex` of `stream.jsonl`, heartbeats left out.
pub fn stream_batches(case_dir: &Path) -> Vec<Vec<u8>> {
    let text = String::from_utf8(read(case_dir, "stream.jsonl")).unwrap();
    let mut reps = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let hex = entry["received_hex"].as_str().unwrap_or_else(|| panic!("no received_hex in {line}"));
        reps.extend(split_bulks(&from_hex(hex)).into_iter().filter(|b| b != b"ping"));
    }
    reps
}

/// The payloads of a run of bulks `$<len>\r\n<payload>\r\n`. Panics on anything else.
pub fn split_bulks(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let end = bytes.windows(2).position(|w| w == b"\r\n").expect("a bulk header ends in CRLF");
        assert_eq!(bytes[0], b'$', "a bulk starts with '$': {:?}", String::from_utf8_lossy(&bytes[..end]));
        let len: usize = std::str::from_utf8(&bytes[1..end]).unwrap().parse().unwrap();
        let body = &bytes[end + 2..];
        assert_eq!(&body[len..len + 2], b"\r\n", "a bulk ends in CRLF");
        out.push(body[..len].to_vec());
        bytes = &body[len + 2..];
    }
    out
}

/// Decodes lower- or upper-case hex. Panics on anything else.
pub fn from_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or_else(|| panic!("not hex: {:?}", c as char)) as u8;
    hex.as_bytes().chunks(2).map(|p| digit(p[0]) << 4 | digit(p[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_overrides_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let found = resolve_captures_dir(Some(dir.path().as_os_str().to_owned()), Path::new("/nowhere")).unwrap();
        assert_eq!(found, dir.path());
        std::fs::create_dir(dir.path().join("caps")).unwrap();
        assert_eq!(resolve_captures_dir(Some("caps".into()), dir.path()).unwrap(), dir.path().join("caps"));
    }

    #[test]
    fn a_missing_folder_names_the_variable_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("main");
        let err = resolve_captures_dir(None, &root).unwrap_err();
        assert!(err.contains("REPLICANT_KVROCKS_CAPTURES is not set"), "{err}");
        assert!(err.contains(&dir.path().join("shared/kvrocks").display().to_string()), "{err}");
        std::fs::create_dir_all(dir.path().join("shared/kvrocks")).unwrap();
        assert_eq!(resolve_captures_dir(None, &root).unwrap(), dir.path().join("shared/kvrocks"));
    }

    #[test]
    fn bulks_and_hex() {
        assert_eq!(from_hex("2434"), b"$4");
        assert_eq!(split_bulks(b"$4\r\nping\r\n$0\r\n\r\n"), vec![b"ping".to_vec(), Vec::new()]);
    }
}
