//! The shared Pika captures: what a real Pika 4.0.1 master and replica exchanged (see the
//! captures' `README.md`). They are not ours to carry, so the repository holds no copy:
//! they are read in place, from `$REPLICANT_PIKA_CAPTURES` when that is set (a relative
//! path is taken from the workspace root), else `../shared/pika` beside the checkout. A
//! missing folder fails the test that asked for it, naming the variable and the path
//! tried; it never skips.
//!
//! A case folder (`v4.0.1`) holds `streams/N-server-PORT.bin` (master → replica bytes)
//! and `N-client-PORT.bin` (replica → master) per connection, `info-master.txt`,
//! `commands.jsonl` and `expected-final.json`. What the master served is taken from:
//!
//! * `0-server-21421.bin`: its MetaSync reply (databases, `db_instance_num`, run id,
//!   replication id) and every binlog item it streamed, with the `binlog_offset` (end) it
//!   sent for each; they follow one another from `0:5462` (the dump's position, logic id
//!   57) to `0:8030` (logic id 88), so the mock's binlog holds exactly those and anything
//!   before `0:5462` counts as purged;
//! * `1-server-29422.bin`: the RsyncService meta reply (file order, snapshot UUID) and the
//!   file chunks, reassembled by offset into the files the mock serves;
//! * `info-master.txt`: the `INFO` template.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use replicant_pika::proto::inner::{InnerResponse, Type};
use replicant_pika::proto::rsync::{RsyncResponse, Type as RsyncType};
use replicant_pika::{BinlogItem, LogOffset};

use super::wire::{decode_inner_response, decode_rsync_response, split_payloads};
use super::{MockPika, MockPikaBuilder};
use crate::corpus::workspace_root;

/// The environment variable that points at the captures folder.
pub const CAPTURES_ENV: &str = "REPLICANT_PIKA_CAPTURES";
/// The capture cases.
pub const CAPTURE_CASES: [&str; 1] = ["v4.0.1"];

/// Where the captures should be, given the value of [`CAPTURES_ENV`] (unset or empty
/// means the default) and the workspace root; `Err` explains what is missing.
pub fn resolve_captures_dir(env: Option<OsString>, root: &Path) -> Result<PathBuf, String> {
    let (path, origin) = match env.filter(|v| !v.is_empty()) {
        Some(dir) => (root.join(dir), format!("{CAPTURES_ENV} is set to this path")),
        None => {
            let beside = root.parent().map_or_else(|| root.join(".."), Path::to_path_buf);
            (beside.join("shared/pika"), format!("{CAPTURES_ENV} is not set; this is the default"))
        }
    };
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!(
            "Pika captures not found at {} ({origin}): set {CAPTURES_ENV} to the folder that holds {}",
            path.display(),
            CAPTURE_CASES.join(", ")
        ))
    }
}

/// The captures folder. Panics, naming [`CAPTURES_ENV`] and the path tried, when missing.
pub fn pika_captures_dir() -> PathBuf {
    resolve_captures_dir(std::env::var_os(CAPTURES_ENV), &workspace_root()).unwrap_or_else(|e| panic!("{e}"))
}

/// A case folder: `case` under [`pika_captures_dir`], or `case` itself when absolute.
/// Panics when it is missing.
pub fn pika_capture(case: impl AsRef<Path>) -> PathBuf {
    let case = case.as_ref();
    let dir = if case.is_absolute() { case.to_path_buf() } else { pika_captures_dir().join(case) };
    assert!(dir.is_dir(), "Pika capture case {} not found at {} ({CAPTURES_ENV})", case.display(), dir.display());
    dir
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The message payloads of `streams/<name>` (e.g. `0-server-21421.bin`), in order.
pub fn stream_payloads(case_dir: &Path, name: &str) -> Vec<Vec<u8>> {
    let bytes = read(case_dir, &format!("streams/{name}"));
    split_payloads(&bytes).unwrap_or_else(|e| panic!("streams/{name}: {e}"))
}

/// The InnerMessage responses of `streams/<name>`.
pub fn inner_responses(case_dir: &Path, name: &str) -> Vec<InnerResponse> {
    stream_payloads(case_dir, name).iter().map(|p| decode_inner_response(&framed(p)).unwrap()).collect()
}

/// The RsyncService responses of `streams/<name>`.
pub fn rsync_responses(case_dir: &Path, name: &str) -> Vec<RsyncResponse> {
    stream_payloads(case_dir, name).iter().map(|p| decode_rsync_response(&framed(p)).unwrap()).collect()
}

/// `payload` with its length prefix.
pub fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Every binlog item the master streamed on connection 0, with the `binlog_offset` it
/// sent for it (the item's end), keepalives left out.
pub fn binlog_items(case_dir: &Path) -> Vec<(Vec<u8>, LogOffset)> {
    let mut items = Vec::new();
    for response in inner_responses(case_dir, "0-server-21421.bin") {
        for item in response.binlog_sync.iter().filter(|i| !i.binlog.is_empty()) {
            items.push((item.binlog.to_vec(), LogOffset::from(&item.binlog_offset)));
        }
    }
    items
}

/// The dump the RsyncService served: its UUID and files in the meta reply's order, each
/// reassembled from its chunks (which must agree where they overlap and cover the file).
pub fn dump_files(case_dir: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let responses = rsync_responses(case_dir, "1-server-29422.bin");
    let meta = responses.iter().find(|r| r.r#type == RsyncType::RsyncMeta as i32).expect("a meta reply");
    let names = meta.meta_resp.clone().unwrap_or_default().filenames;
    let mut files: Vec<(String, Vec<u8>, Option<u64>)> = names.iter().map(|n| (n.clone(), Vec::new(), None)).collect();
    for chunk in responses.iter().filter_map(|r| r.file_resp.as_ref()) {
        let (_, data, size) = files.iter_mut().find(|(n, ..)| *n == chunk.filename).expect("a listed file");
        let (at, end) = (chunk.offset as usize, chunk.offset as usize + chunk.data.len());
        if data.len() < end {
            data.resize(end, 0);
        }
        let old = &data[at..end];
        assert!(old.iter().all(|b| *b == 0) || old == &chunk.data[..], "{}: chunks disagree at {at}", chunk.filename);
        data[at..end].copy_from_slice(&chunk.data);
        if chunk.eof != 0 {
            *size = Some(end as u64);
        }
    }
    let files = files
        .into_iter()
        .map(|(name, data, size)| {
            assert_eq!(size, Some(data.len() as u64), "{name}: the chunks do not end at an eof");
            (name, data)
        })
        .collect();
    (meta.snapshot_uuid.clone(), files)
}

/// The settings that replay a case: the MetaSync reply's databases, instances, run id and
/// replication id; the binlog items of connection 0 (from their first position, logic ids
/// kept); the RsyncService dump; `INFO` from `info-master.txt`.
pub fn builder(case: &Path) -> MockPikaBuilder {
    let dir = pika_capture(case);
    let replies = inner_responses(&dir, "0-server-21421.bin");
    let meta = replies
        .iter()
        .find(|r| r.r#type == Type::MetaSync as i32)
        .and_then(|r| r.meta_sync.clone())
        .expect("connection 0 starts with a MetaSync reply");
    let info = String::from_utf8(read(&dir, "info-master.txt")).expect("info-master.txt is UTF-8");
    let dbs: Vec<String> = meta.dbs_info.iter().map(|d| d.db_name.clone()).collect();
    assert_eq!(dbs, ["db0"], "the mock names databases db0, db1, …");
    let items = binlog_items(&dir);
    let (first, _) = items.first().expect("connection 0 streamed items");
    let first = BinlogItem::decode(first).expect("a binlog item");
    let (uuid, files) = dump_files(&dir);
    MockPika::builder()
        .databases(dbs.len())
        .db_instance_num(meta.dbs_info.first().and_then(|d| d.db_instance_num).unwrap_or(3))
        .run_id(meta.run_id.as_deref().unwrap_or_default())
        .replication_id(meta.replication_id.as_deref().unwrap_or_default())
        .binlog_start("db0", first.start(), first.logic_id - 1)
        .captured(items, uuid, files)
        .info_template(&info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_overrides_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let found = resolve_captures_dir(Some(dir.path().as_os_str().to_owned()), Path::new("/nowhere")).unwrap();
        assert_eq!(found, dir.path());
        let err = resolve_captures_dir(None, &dir.path().join("main")).unwrap_err();
        assert!(err.contains("REPLICANT_PIKA_CAPTURES is not set"), "{err}");
        assert!(err.contains(&dir.path().join("shared/pika").display().to_string()), "{err}");
    }

    #[test]
    fn the_capture_s_binlog_and_dump() {
        let dir = pika_capture("v4.0.1");
        let items = binlog_items(&dir);
        assert_eq!(items.len(), 32);
        assert_eq!(items.first().map(|(_, end)| (end.pos.offset, end.index)), Some((5533, 57)));
        assert_eq!(items.last().map(|(_, end)| (end.pos.offset, end.index)), Some((8030, 88)));
        let (uuid, files) = dump_files(&dir);
        assert_eq!(uuid, "3e79fe1a60f452d73a5d84d43680878d");
        assert_eq!(files.len(), 19);
        assert_eq!(
            files.last().map(|(n, d)| (n.as_str(), d.as_slice())),
            Some(("info", &b"0s\n127.0.0.1\n19421\n0\n5462\n"[..]))
        );
        assert_eq!(super::super::md5::hex(b"0s\n127.0.0.1\n19421\n0\n5462\n"), uuid);
    }
}
