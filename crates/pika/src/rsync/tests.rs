//! A scripted master: meta, chunks, and the ways replies go wrong.

use bytes::Bytes;

use super::*;
use crate::proto::rsync::MetaResponse;

const UUID: &str = "3e79fe1a60f452d73a5d84d43680878d";
const INFO: &[u8] = b"0s\n127.0.0.1\n19421\n0\n5462\n";

fn meta(files: &[&str]) -> RsyncResponse {
    RsyncResponse {
        r#type: Type::RsyncMeta as i32,
        reader_index: 0,
        snapshot_uuid: UUID.into(),
        db_name: "db0".into(),
        slot_id: 0,
        code: StatusCode::Ok as i32,
        meta_resp: Some(MetaResponse { filenames: files.iter().map(|f| (*f).to_owned()).collect() }),
        file_resp: None,
    }
}

fn chunk(reader: i32, file: &str, offset: u64, data: &[u8], eof: bool) -> RsyncResponse {
    let file_resp = FileResponse {
        eof: i32::from(eof),
        count: data.len() as u64,
        offset,
        data: Bytes::copy_from_slice(data),
        checksum: String::new(),
        filename: file.into(),
    };
    RsyncResponse {
        r#type: Type::RsyncFile as i32,
        reader_index: reader,
        file_resp: Some(file_resp),
        meta_resp: None,
        ..meta(&[])
    }
}

fn asked(t: &mut Transfer) -> Vec<(i32, String, u64, u64)> {
    std::iter::from_fn(|| t.poll_request())
        .map(|r| {
            let f = r.file_req.unwrap_or_default();
            (r.reader_index, f.filename, f.offset, f.count)
        })
        .collect()
}

#[test]
fn files_are_dealt_round_robin_and_fetched_in_chunks() {
    let mut t = Transfer::new(TransferConfig { readers: 2, chunk: 4, ..TransferConfig::new("db0") });
    let first = t.poll_request().unwrap();
    assert_eq!((first.r#type, first.db_name.as_str(), first.file_req), (Type::RsyncMeta as i32, "db0", None));
    let progress = t.handle_response(meta(&["info", "0/b", "0/a"])).unwrap();
    let files = vec!["0/a".to_owned(), "0/b".to_owned(), "info".to_owned()];
    assert_eq!(progress, Progress::Meta { snapshot_uuid: UUID.into(), files });
    assert_eq!(asked(&mut t), [(0, "0/a".into(), 0, 4), (1, "0/b".into(), 0, 4)]);
    // A short chunk without eof: ask again from where it ended.
    let got = t.handle_response(chunk(0, "0/a", 0, b"abc", false)).unwrap();
    assert_eq!(
        got,
        Progress::Chunk(Chunk { file: "0/a".into(), offset: 0, data: Bytes::from_static(b"abc"), eof: false })
    );
    assert_eq!(asked(&mut t), [(0, "0/a".into(), 3, 4)]);
    t.handle_response(chunk(1, "0/b", 0, b"", true)).unwrap();
    assert_eq!(asked(&mut t), []);
    t.handle_response(chunk(0, "0/a", 3, b"d", true)).unwrap();
    assert_eq!(asked(&mut t), [(0, "info".into(), 0, 4)]);
    t.handle_response(chunk(0, "info", 0, &INFO[..4], false)).unwrap();
    let _ = asked(&mut t);
    assert!(!t.is_done());
    t.handle_response(chunk(0, "info", 4, &INFO[4..], true)).unwrap();
    assert!(t.is_done());
    assert_eq!(t.dump_info().map(|i| i.pos), Some(crate::BinlogPos::new(0, 5462)));
}

#[test]
fn a_chunk_of_another_snapshot_is_rejected() {
    let mut t = Transfer::new(TransferConfig::new("db0"));
    t.handle_response(meta(&["0/a"])).unwrap();
    let mut stale = chunk(0, "0/a", 0, b"x", true);
    stale.snapshot_uuid = "0123456789abcdef0123456789abcdef".into();
    let err = t.handle_response(stale).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("snapshot changed during the transfer: 0123456789abcdef0123456789abcdef after {UUID}")
    );
}

#[test]
fn chunks_must_answer_a_request() {
    let mut t = Transfer::new(TransferConfig::new("db0"));
    t.handle_response(meta(&["0/a", "0/b"])).unwrap();
    let err = t.handle_response(chunk(0, "0/a", 8, b"x", true)).unwrap_err();
    assert_eq!(err.to_string(), "reader 0: unexpected chunk 0/a@8, expected 0/a@0");
    let err = t.handle_response(chunk(3, "0/a", 0, b"x", true)).unwrap_err();
    assert_eq!(err.to_string(), "reader 3: unexpected chunk 0/a@0, expected nothing");
    let mut lying = chunk(0, "0/a", 0, b"xy", false);
    lying.file_resp.as_mut().unwrap().count = 5;
    let err = t.handle_response(lying).unwrap_err();
    assert_eq!(err.to_string(), "chunk 0/a@0: count is not the data length (count 5, 2 data bytes)");
    let err = t.handle_response(chunk(0, "0/a", 0, b"", false)).unwrap_err();
    assert!(err.to_string().contains("empty chunk before the end of the file"), "{err}");
}

#[test]
fn not_ready_then_retry() {
    let mut t = Transfer::new(TransferConfig::new("db0"));
    let _ = t.poll_request();
    let busy = RsyncResponse { code: StatusCode::Err as i32, snapshot_uuid: String::new(), ..meta(&[]) };
    assert_eq!(t.handle_response(busy).unwrap(), Progress::NotReady);
    assert!(!t.is_done());
    t.retry_meta();
    assert_eq!(t.poll_request().map(|r| r.r#type), Some(Type::RsyncMeta as i32));
    t.handle_response(meta(&[])).unwrap();
    assert!(t.is_done());
}

#[test]
fn refused_chunks_and_bad_info() {
    let mut t = Transfer::new(TransferConfig::new("db0"));
    t.handle_response(meta(&["info"])).unwrap();
    let refused = RsyncResponse { code: StatusCode::Err as i32, ..chunk(0, "info", 0, b"", false) };
    assert_eq!(t.handle_response(refused).unwrap_err().to_string(), "rsync master refused info@0 (code 2)");
    let err = t.handle_response(chunk(0, "info", 0, b"0s\nx\n1\n2\n3\n", true)).unwrap_err();
    assert!(matches!(err, PikaError::InfoChecksum { .. }), "{err}");
}

#[test]
fn unsafe_file_names_are_refused() {
    for name in ["/etc/passwd", "../x", "0/../../x", "a//b", "", "a/./b", "a\\b"] {
        assert!(check_file_name(name).is_err(), "{name:?}");
        let mut t = Transfer::new(TransferConfig::new("db0"));
        let err = t.handle_response(meta(&["info", name])).unwrap_err();
        assert_eq!(err.to_string(), format!("unsafe file name from the master: {name:?}"));
    }
    for name in ["info", "0/000012.sst", "2/MANIFEST-000005"] {
        check_file_name(name).unwrap();
    }
}
