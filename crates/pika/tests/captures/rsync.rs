//! The RsyncService capture: the transfer asks what the real replica asked and writes the
//! master's chunks into files whose names are the meta reply's and whose bytes are the
//! chunks'; a chunk of another snapshot is refused.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use prost::Message;
use replicant_pika::proto::rsync::RsyncResponse;
use replicant_pika::{encode_frame, BinlogPos, PikaError, Progress, Transfer, TransferConfig};

use crate::{frames, stream};

/// Writes a chunk where the transfer says, as a driver would (no whole-file buffering).
fn write_chunk(dir: &Path, file: &str, offset: u64, data: &[u8]) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(data).unwrap();
}

struct Pass {
    requests: Vec<Bytes>,
    files: Vec<String>,
    written: BTreeMap<String, u64>,
    transfer: Transfer,
}

/// Runs one transfer over `responses` until it is done; returns it and what it consumed.
fn run_pass(responses: &mut impl Iterator<Item = RsyncResponse>, dir: &Path) -> Pass {
    let mut pass = Pass {
        requests: vec![],
        files: vec![],
        written: BTreeMap::new(),
        transfer: Transfer::new(TransferConfig::new("db0")),
    };
    loop {
        while let Some(request) = pass.transfer.poll_request() {
            let mut frame = BytesMut::new();
            encode_frame(&request, &mut frame).unwrap();
            pass.requests.push(frame.split_off(4).freeze());
        }
        if pass.transfer.is_done() {
            return pass;
        }
        match pass.transfer.handle_response(responses.next().expect("stream ended mid-transfer")).unwrap() {
            Progress::Meta { files, .. } => pass.files = files,
            Progress::Chunk(chunk) => {
                write_chunk(dir, &chunk.file, chunk.offset, &chunk.data);
                *pass.written.entry(chunk.file).or_default() += chunk.data.len() as u64;
            }
            Progress::NotReady => panic!("the capture has no busy reply"),
        }
    }
}

#[test]
fn the_dump_reassembles_twice_as_the_real_replica_fetched_it() {
    let client = frames(&stream("1-client-29422.bin"));
    let server = frames(&stream("1-server-29422.bin"));
    let mut responses = server.iter().map(|p| RsyncResponse::decode(p.clone()).unwrap());
    // The real replica fetched the whole dump twice on one connection (meta + 19 files, twice).
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let passes: Vec<Pass> = dirs.iter().map(|d| run_pass(&mut responses, d.path())).collect();
    assert!(responses.next().is_none());
    let mut ours: Vec<Bytes> = passes.iter().flat_map(|p| p.requests.clone()).collect();
    let mut theirs = client.clone();
    // Pika's four reader threads race, so the order differs; the requests are the same bytes.
    ours[1..20].sort();
    ours[21..].sort();
    theirs[1..20].sort();
    theirs[21..].sort();
    assert_eq!(ours, theirs);
    for (pass, dir) in passes.iter().zip(&dirs) {
        assert_eq!(pass.files.len(), 19);
        assert_eq!(pass.written.keys().cloned().collect::<Vec<_>>(), pass.files, "every listed file, nothing else");
        for (file, size) in &pass.written {
            assert_eq!(std::fs::metadata(dir.path().join(file)).unwrap().len(), *size, "{file}");
        }
        assert_eq!(pass.transfer.snapshot_uuid(), Some("3e79fe1a60f452d73a5d84d43680878d"));
        assert_eq!(pass.transfer.dump_info().unwrap().pos, BinlogPos::new(0, 5462));
        assert_eq!(std::fs::read(dir.path().join("0/CURRENT")).unwrap(), b"MANIFEST-000005\n");
    }
    assert_eq!(passes[0].written.get("0/OPTIONS-000019"), Some(&35194));
    for file in &passes[0].files {
        let a = std::fs::read(dirs[0].path().join(file)).unwrap();
        assert_eq!(a, std::fs::read(dirs[1].path().join(file)).unwrap(), "{file}");
    }
}

#[test]
fn a_chunk_with_a_wrong_uuid_is_rejected() {
    let server = frames(&stream("1-server-29422.bin"));
    let mut transfer = Transfer::new(TransferConfig::new("db0"));
    transfer.handle_response(RsyncResponse::decode(server[0].clone()).unwrap()).unwrap();
    let mut chunk = RsyncResponse::decode(server[1].clone()).unwrap();
    chunk.snapshot_uuid = "00000000000000000000000000000000".into();
    let err = transfer.handle_response(chunk).unwrap_err();
    assert!(matches!(err, PikaError::SnapshotChanged { .. }), "{err}");
}
