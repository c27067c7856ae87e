//! RsyncService: the capture's dump and a dump directory fetched by [`Transfer`], and the
//! faults.

use std::net::TcpStream;
use std::time::Duration;

use replicant_pika::{BinlogPos, Progress, Transfer, TransferConfig};

use super::super::capture::{dump_files, pika_capture};
use super::super::md5;
use super::super::rsync::WRONG_UUID;
use super::super::wire::{decode_rsync_response, encode_rsync_request, read_some, split_frame, write_all};
use super::{fetch, MockPika, Replica};

#[test]
fn the_capture_s_dump_reassembles_with_its_sizes() {
    let (uuid, files) = dump_files(&pika_capture("v4.0.1"));
    let master = MockPika::from_capture("v4.0.1").start();
    let dir = tempfile::tempdir().unwrap();
    let fetched = fetch(&master, dir.path()).unwrap();
    assert_eq!(fetched.transfer.snapshot_uuid(), Some(uuid.as_str()));
    assert_eq!(fetched.transfer.dump_info().map(|i| i.pos), Some(BinlogPos::new(0, 5462)));
    assert_eq!(fetched.transfer.files().len(), 19);
    for (name, data) in &files {
        assert_eq!(fetched.written.get(name), Some(&(data.len() as u64)), "{name}");
        assert_eq!(&std::fs::read(dir.path().join(name)).unwrap(), data, "{name}");
    }
    assert_eq!(fetched.written.get("0/OPTIONS-000019"), Some(&35194));
    // Listed in the real master's order, not sorted.
    let requests = master.requests();
    assert_eq!(requests[0], "RsyncMeta db0 reader 0");
    assert!(
        requests.contains(&"RsyncFile db0 reader 0 0/000021.sst offset 0 count 4194304".to_owned()),
        "{requests:?}"
    );
    assert_eq!(master.rsync_bytes_served(), files.iter().map(|(_, d)| d.len() as u64).sum::<u64>());
}

/// A dump directory as Pika's bgsave leaves it: `info` and instance directories.
fn dump_dir(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        ("0/CURRENT".to_owned(), b"MANIFEST-000005\n".to_vec()),
        ("0/000012.sst".to_owned(), (0..5_000_000u32).map(|n| (n % 251) as u8).collect()),
        ("2/MANIFEST-000005".to_owned(), vec![7; 1000]),
        ("info".to_owned(), b"3s\n127.0.0.1\n9221\n2\n1234\n".to_vec()),
    ];
    for (name, data) in &files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    files
}

#[test]
fn a_dump_directory_is_served_in_chunks_with_the_info_s_md5() {
    let root = tempfile::tempdir().unwrap();
    let files = dump_dir(root.path());
    let master = MockPika::builder().dump_dir(root.path()).start();
    let dir = tempfile::tempdir().unwrap();
    let fetched = fetch(&master, dir.path()).unwrap();
    assert_eq!(fetched.transfer.snapshot_uuid(), Some(md5::hex(b"3s\n127.0.0.1\n9221\n2\n1234\n").as_str()));
    assert_eq!(fetched.transfer.dump_info().map(|i| i.pos), Some(BinlogPos::new(2, 1234)));
    for (name, data) in &files {
        assert_eq!(&std::fs::read(dir.path().join(name)).unwrap(), data, "{name}");
    }
    // 5 MB in a 4 MiB chunk then the rest.
    let requests = master.requests();
    assert!(requests.iter().any(|r| r.ends_with("0/000012.sst offset 4194304 count 4194304")), "{requests:?}");
}

#[test]
fn faults_not_ready_wrong_uuid_and_a_cut() {
    let root = tempfile::tempdir().unwrap();
    dump_dir(root.path());
    let master = MockPika::builder().dump_dir(root.path()).meta_not_ready(2).start();
    let dir = tempfile::tempdir().unwrap();
    let fetched = fetch(&master, dir.path()).unwrap();
    assert_eq!(fetched.not_ready, 2);

    master.corrupt_uuid_once();
    let err = fetch(&master, dir.path()).err().unwrap();
    assert!(err.starts_with("snapshot changed during the transfer") && err.contains(WRONG_UUID), "{err}");
    fetch(&master, dir.path()).unwrap();

    master.cut_transfer_after(master.rsync_bytes_served() + 100_000);
    let err = fetch(&master, dir.path()).err().unwrap();
    assert!(err.starts_with("connection closed with"), "{err}");
    assert!(master.log().contains("fault: cut after"), "{}", master.log());
    fetch(&master, dir.path()).unwrap();

    // No dump: meta is refused as while a bgsave runs, and DBSync is still answered.
    let bare = MockPika::builder().keepalive(Duration::from_secs(60)).start();
    let mut stream = TcpStream::connect(("127.0.0.1", bare.rsync_port())).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let mut transfer = Transfer::new(TransferConfig::new("db0"));
    write_all(&mut stream, &encode_rsync_request(&transfer.poll_request().unwrap()), || true).unwrap();
    let mut input = Vec::new();
    let frame = loop {
        assert!(read_some(&mut stream, &mut input).unwrap(), "{}", bare.log());
        if let Some(frame) = split_frame(&mut input).unwrap() {
            break frame;
        }
    };
    assert_eq!(transfer.handle_response(decode_rsync_response(&frame).unwrap()).unwrap(), Progress::NotReady);
    let mut replica = Replica::connect(&bare);
    replica.meta_synced(&bare);
    replica.session.db_sync("db0", BinlogPos::default(), std::time::Instant::now()).unwrap();
    replica.flush();
    replica.until(&bare, "DBSync answer", |r| r.frames.len() == 2);
    assert_eq!(bare.dbsync_count(), 1);
}
