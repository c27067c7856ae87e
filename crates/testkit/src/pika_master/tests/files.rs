//! RsyncService: the capture's dump and a dump directory fetched by [`Transfer`], and the
//! faults.

use std::net::TcpStream;
use std::time::Duration;

use replicant_pika::{BinlogPos, Event, Progress, Transfer, TransferConfig};

use crate::pika_dump::{Expiry, Generation, PikaDump};

use super::super::capture::{dump_files, pika_capture};
use super::super::md5;
use super::super::rsync::{V35_LISTED, WRONG_UUID};
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
    // The mock closes with requests of the other readers unread: the client sees the end of
    // the stream, or a reset when the kernel answered those bytes with RST.
    assert!(err.starts_with("connection closed with") || err.contains("reset by peer"), "{err}");
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

/// `INFO server` on the client port: the bulk reply's text.
fn info_server(master: &MockPika) -> String {
    use std::io::{Read, Write};
    let mut conn = TcpStream::connect(master.addr()).unwrap();
    conn.set_read_timeout(Some(super::WAIT)).unwrap();
    conn.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&reply).into_owned();
        if let Some((head, body)) = text.split_once("\r\n") {
            if body.len() >= head[1..].parse::<usize>().unwrap() + 2 {
                return body.to_owned();
            }
        }
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "closed after {text:?}");
        reply.extend_from_slice(&chunk[..n]);
    }
}

/// The files under `dir` a Pika 3.5.x master lists: those of its five type directories
/// (not `streams/`), then `info`; sorted, as the transfer keeps them.
fn v35_listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = V35_LISTED
        .iter()
        .flat_map(|sub| {
            let entries = std::fs::read_dir(dir.join(sub)).unwrap();
            entries.map(move |e| format!("{sub}/{}", e.unwrap().file_name().to_str().unwrap()))
        })
        .collect();
    names.push("info".to_owned());
    names.sort();
    names
}

/// A 3.5.x master lists its dump's type directories (`streams/` left out, as 3.5.5's
/// `DB::GetBgSaveMetaData` does), serves them and `info`, and announces no
/// `db_instance_num`; a 3.5 dump makes the mock a 3.5.x master without a version too.
#[test]
fn a_pika_3_5_dump_is_listed_and_served_as_a_3_5_master_does() {
    let root = tempfile::tempdir().unwrap();
    let mut dump = PikaDump::create(root.path().join("db0"), Generation::V35).unwrap();
    dump.string(b"s", b"v", Expiry::None);
    dump.hash(b"h", &[(b"f", b"v")], Expiry::None);
    dump.list(b"l", &[b"a", b"b"], Expiry::None);
    dump.zset(b"z", &[(1.5, b"m")], Expiry::None);
    dump.set(b"set", &[b"m"], Expiry::None);
    dump.stream(b"st", vec![((1, 0), vec![(b"f".to_vec(), b"v".to_vec())])], (1, 0), 1, (0, 0));
    dump.info(2, 1234).unwrap();
    let dir = dump.finish().unwrap();
    assert!(dir.join("streams").is_dir());
    let info = std::fs::read(dir.join("info")).unwrap();
    assert_eq!(std::str::from_utf8(&info).unwrap().lines().count(), 5);
    let listing = v35_listing(&dir);
    assert!(V35_LISTED.iter().all(|sub| listing.iter().any(|f| f.starts_with(&format!("{sub}/CURRENT")))));

    for (master, version) in [
        (MockPika::builder().version("3.5.4").dump_dir(&dir).start(), "3.5.4"),
        (MockPika::builder().dump_dir(&dir).start(), super::super::V35_VERSION),
    ] {
        let out = tempfile::tempdir().unwrap();
        let fetched = fetch(&master, out.path()).unwrap();
        assert_eq!(fetched.transfer.files(), listing, "{}", master.log());
        assert_eq!(fetched.transfer.snapshot_uuid(), Some(md5::hex(&info).as_str()));
        assert_eq!(fetched.transfer.dump_info().map(|i| i.pos), Some(BinlogPos::new(2, 1234)));
        for name in &listing {
            let path = out.path().join(name);
            assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(dir.join(name)).unwrap(), "{name}");
        }
        assert!(!out.path().join("streams").exists());
        assert!(info_server(&master).contains(&format!("\r\npika_version:{version}\r\n")));

        let mut replica = Replica::connect(&master);
        replica.meta_synced(&master);
        let Some(Event::MetaSynced(meta)) = replica.events.first() else { panic!("{:?}", replica.events) };
        assert_eq!(meta.dbs.iter().map(|db| db.instances).collect::<Vec<_>>(), [None]);
    }

    // A 4.x master (the default) lists instance directories only: of this dump, `info`.
    let master = MockPika::builder().version("4.0.1").dump_dir(&dir).start();
    let out = tempfile::tempdir().unwrap();
    assert_eq!(fetch(&master, out.path()).unwrap().transfer.files(), ["info"]);
    let mut replica = Replica::connect(&master);
    replica.meta_synced(&master);
    let Some(Event::MetaSynced(meta)) = replica.events.first() else { panic!("{:?}", replica.events) };
    assert_eq!(meta.dbs.iter().map(|db| db.instances).collect::<Vec<_>>(), [Some(3)]);
}
