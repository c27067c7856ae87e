//! A Pika master with several databases, each followed by its own replicant (the database
//! named in the source URL), into one Redis: both dumps copied, both binlogs followed
//! through a cut of every link and a SIGKILL of one daemon, each database with its own
//! position, nothing lost or doubled, and each job's checks and markers kept in its own
//! database. Also: a clean stop detaches from the master with RemoveSlaveNode, and a
//! sharding-mode 3.x master and a wrong password are refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use redis::Connection;
use replicant_pika::{BinlogPos, LogOffset};
use replicant_testkit::pika_dump::{Expiry, Generation, PikaDump};
use replicant_testkit::{free_port, MockPika, RedisServer};

use crate::daemon::checkpoint_offset;
use crate::pika_support::{differences, every_type, follow_url, Both, Item, Run, INFO_LOGIC_ID, INFO_POS};
use crate::process::{admin, caught_up, field, info, wait_for, Daemon};

/// 2100-01-01 in ms.
const FAR: u64 = 4_102_444_800_000;

/// A connection to `want` in database `db`.
fn conn_in(want: &RedisServer, db: u64) -> Connection {
    let mut conn = want.conn();
    redis::cmd("SELECT").arg(db).exec(&mut conn).unwrap();
    conn
}

/// The dump of database `db` in `dir`, written to `want` as well: every type in database
/// 0, a few keys in the others, one name in each holding the database's own value.
fn dump(dir: &Path, want: &RedisServer, db: u64) -> PathBuf {
    let dump = PikaDump::create(dir.join(format!("db{db}")), Generation::V4 { instances: 3 }).unwrap();
    let mut b = Both { dump, want: conn_in(want, db), v35: false };
    b.string(b"shared", format!("db{db}").as_bytes(), Expiry::None);
    if db == 0 {
        every_type(&mut b, FAR);
    } else {
        b.string(b"one:ttl", b"v", Expiry::At(FAR));
        b.hash(b"one:h", &[(b"f", b"1")], Expiry::None);
        b.list(b"one:l", &[b"a", b"b"], Expiry::None);
    }
    b.dump.info(INFO_POS.filenum, INFO_POS.offset).unwrap();
    b.dump.finish().unwrap()
}

/// A daemon following database `db` of `master` into `target`.
fn follow_db(master: &MockPika, db: u64, target: &RedisServer, state: &Path, admin_port: u16) -> Daemon {
    follow_url(&format!("redis://{}/{db}", master.addr()), target, state, admin_port)
}

/// Pushes the commands to database `db` of the master and of the reference; the last end.
fn push(master: &MockPika, want: &RedisServer, db: u64, commands: &[&[&str]]) -> LogOffset {
    let mut conn = conn_in(want, db);
    for cmd in commands {
        redis::cmd(cmd[0]).arg(&cmd[1..]).exec(&mut conn).unwrap();
    }
    let items: Vec<Item> = commands.iter().map(|c| crate::pika_support::same(c)).collect();
    let ends = master.push_resp(&format!("db{db}"), items.into_iter().map(|i| i.resp).collect());
    *ends.last().unwrap()
}

/// Waits until the daemon on `admin_port` applied everything up to `pos`.
fn wait_applied(admin_port: u16, daemon: &Daemon, pos: BinlogPos) {
    let packed = replicant_pika::link::pack(pos).unwrap().to_string();
    let mut conn = admin(admin_port);
    wait_for("the binlog applied", Duration::from_secs(120), || {
        let text = info(&mut conn, "replication");
        assert_ne!(field(&text, "phase").as_deref(), Some("failed"), "{text}\n{}", daemon.log());
        caught_up(&text) && field(&text, "applied_offset").as_deref() == Some(packed.as_str())
    });
}

/// One write of each kind that counts on being applied once.
fn counted(tag: &str) -> [[&str; 3]; 3] {
    [["incrby", "ctr", "7"], ["rpush", "rl", tag], ["append", "log", tag]]
}

#[test]
fn a_master_with_two_databases_is_followed_by_a_replicant_per_database_through_a_cut_and_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let want = RedisServer::start();
    let (db0, db1) = (dump(tmp.path(), &want, 0), dump(tmp.path(), &want, 1));
    let master = MockPika::builder()
        .databases(2)
        .dump_dir_for("db0", &db0)
        .dump_dir_for("db1", &db1)
        .binlog_start("db0", INFO_POS, INFO_LOGIC_ID)
        .binlog_start("db1", INFO_POS, INFO_LOGIC_ID)
        .keepalive(Duration::from_millis(500))
        .start();
    let target = RedisServer::start();
    let states = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let ports = [free_port(), free_port()];
    let mut daemons: Vec<Daemon> =
        (0..2).map(|db| follow_db(&master, db as u64, &target, states[db].path(), ports[db])).collect();

    let mut ends = [INFO_POS, INFO_POS];
    for (db, tag) in [(0, "a"), (1, "b"), (0, "c")] {
        let cmds = counted(tag);
        let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
        ends[db] = push(&master, &want, db as u64, &refs).pos;
    }
    for db in 0..2 {
        wait_applied(ports[db], &daemons[db], ends[db]);
    }
    assert_eq!(differences(&want, &target), None);
    assert_eq!(master.dbsync_count(), 2, "one full copy per database");

    // A cut of every link: each TrySyncs its own database from its own position.
    master.cut_replicas();
    for (db, tag) in [(1, "d"), (0, "e")] {
        let cmds = counted(tag);
        let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
        ends[db] = push(&master, &want, db as u64, &refs).pos;
    }
    for db in 0..2 {
        wait_applied(ports[db], &daemons[db], ends[db]);
    }

    // SIGKILL of database 1's daemon, once checkpointed, while database 0 goes on; its
    // restart continues from its checkpoint and the target's markers.
    let packed = replicant_pika::link::pack(ends[1]).unwrap();
    wait_for("the checkpoint", Duration::from_secs(30), || checkpoint_offset(states[1].path()) == Some(packed));
    daemons[1].kill();
    for (db, tag) in [(1, "f"), (0, "g"), (1, "h")] {
        let cmds = counted(tag);
        let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
        ends[db] = push(&master, &want, db as u64, &refs).pos;
    }
    daemons[1] = follow_db(&master, 1, &target, states[1].path(), ports[1]);
    for db in 0..2 {
        wait_applied(ports[db], &daemons[db], ends[db]);
    }
    assert_eq!(differences(&want, &target), None, "{}\n{}", daemons[0].log(), daemons[1].log());
    assert_eq!(master.dbsync_count(), 2, "a second full copy\n{}", daemons[1].log());
    assert!(master.ack_errors().is_empty(), "{:?}", master.ack_errors());
    let mut markers = conn_in(&target, 1);
    let in_db1: Vec<String> = redis::cmd("KEYS").arg("replicant:applied:*").query(&mut markers).unwrap();
    assert!(!in_db1.is_empty(), "database 1's job keeps its exactly-once markers in database 1");
}

#[test]
fn a_database_the_master_does_not_have_is_refused_naming_those_it_has() {
    let tmp = tempfile::tempdir().unwrap();
    let want = RedisServer::start();
    let db0 = dump(tmp.path(), &want, 0);
    let master = MockPika::builder().dump_dir_for("db0", &db0).start();
    let target = RedisServer::start();
    let (state, port) = (tempfile::tempdir().unwrap(), free_port());
    let daemon = follow_db(&master, 3, &target, state.path(), port);
    let mut conn = admin(port);
    wait_for("phase:failed", Duration::from_secs(60), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains("names database 3") && error.contains("(db0)"), "{error}\n{}", daemon.log());
}

#[test]
fn a_clean_stop_detaches_from_the_master_with_remove_slave_node() {
    let tmp = tempfile::tempdir().unwrap();
    let want = RedisServer::start();
    let db0 = dump(tmp.path(), &want, 0);
    let master = crate::pika_support::master(&db0);
    let mut run = Run::start(&master);
    run.wait_same(&want);
    let end = push(&master, &want, 0, &[&["set", "last", "1"]]);
    run.wait_applied(end.pos);
    run.daemon.signal("-TERM");
    assert!(run.daemon.wait_exit(Duration::from_secs(30)), "{}", run.daemon.log());
    let requests = master.requests();
    assert!(requests.iter().any(|r| r.starts_with("RemoveSlaveNode db0")), "{requests:?}");
    wait_for("the master forgot the replica", Duration::from_secs(10), || master.replicas() == 0);
}

#[test]
fn a_sharding_mode_master_is_refused_by_name() {
    let master = MockPika::builder().version("3.5.5").config("instance-mode", "sharding").start();
    let run = Run::start(&master);
    let error = run.wait_failed();
    assert!(error.contains("instance-mode sharding"), "{error}");
    assert!(!master.requests().iter().any(|r| r.starts_with("DBSync")), "{:?}", master.requests());
}

#[test]
fn a_wrong_password_is_refused_by_the_master_and_stops_the_job() {
    let master = MockPika::builder().requirepass("right").start();
    let target = RedisServer::start();
    let (state, port) = (tempfile::tempdir().unwrap(), free_port());
    let src = format!("redis://:wrong@{}", master.addr());
    let daemon = follow_url(&src, &target, state.path(), port);
    let mut conn = admin(port);
    wait_for("phase:failed", Duration::from_secs(60), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    // Unauthenticated, INFO cannot tell the kind; the replica handshake then authenticates
    // with the URL's password, which the master refuses.
    assert!(error.contains("refused AUTH") && error.contains("WRONGPASS"), "{error}\n{}", daemon.log());
}
