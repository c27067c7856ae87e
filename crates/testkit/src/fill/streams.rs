//! Streams for [`super::fill_everything`]:
//! * `stream:big`: 2000 entries with explicit IDs over ~20 listpack nodes,
//!   mostly with the master entry's fields (SAMEFIELDS) and every 5th with
//!   other fields; every 17th entry and the first one deleted; group `g1`
//!   (consumers alice and bob with pending entries, some acknowledged, some
//!   claimed with an explicit time and retry count, carol with none) and
//!   group `g2` starting mid-stream (consumer dave);
//! * `stream:emptied`: entries added then all deleted, with a group;
//! * `stream:mkstream`: created empty by `XGROUP CREATE .. MKSTREAM`;
//! * `stream:trimmed`: 300 entries trimmed to exactly 100 by `XTRIM`.

use redis::Connection;

use super::run;
use crate::reply::{into_array, into_text};

const BIG: &str = "stream:big";
const BASE_MS: u64 = 1_700_000_000_000;

pub(super) fn fill_streams(conn: &mut Connection) {
    fill_big_stream(conn);
    fill_big_groups(conn);
    run!(conn, "XADD", "stream:emptied", "5-1", "f", "v");
    run!(conn, "XADD", "stream:emptied", "5-2", "f", "v");
    run!(conn, "XDEL", "stream:emptied", "5-1", "5-2");
    run!(conn, "XGROUP", "CREATE", "stream:emptied", "g", "0");
    run!(conn, "XGROUP", "CREATE", "stream:mkstream", "g", "$", "MKSTREAM");
    for i in 1..=300u64 {
        run!(conn, "XADD", "stream:trimmed", format!("{i}-0"), "n", i);
    }
    run!(conn, "XTRIM", "stream:trimmed", "MAXLEN", "=", 100);
}

fn big_id(i: u64) -> String {
    format!("{}-{}", BASE_MS + i / 3, i % 3)
}

fn fill_big_stream(conn: &mut Connection) {
    let mut pipe = redis::pipe();
    for i in 0..2_000u64 {
        let cmd = pipe.cmd("XADD").arg(BIG).arg(big_id(i));
        if i % 5 == 4 {
            cmd.arg("other").arg(format!("value {i}")).arg("n").arg(i);
        } else {
            cmd.arg("f1").arg(i).arg("f2").arg(format!("payload-{}", i * 31));
        }
        cmd.ignore();
    }
    let _: () = pipe.query(conn).expect("XADD pipeline");
    let deleted: Vec<String> = (0..2_000u64).step_by(17).map(big_id).collect();
    run!(conn, "XDEL", BIG, &deleted);
}

fn fill_big_groups(conn: &mut Connection) {
    run!(conn, "XGROUP", "CREATE", BIG, "g1", "0");
    let alice = read_group(conn, "g1", "alice", 100);
    let bob = read_group(conn, "g1", "bob", 50);
    run!(conn, "XACK", BIG, "g1", &alice[..40]);
    run!(conn, "XCLAIM", BIG, "g1", "alice", 0, &bob[..5], "TIME", BASE_MS, "RETRYCOUNT", 3);
    run!(conn, "XGROUP", "CREATECONSUMER", BIG, "g1", "carol");
    run!(conn, "XGROUP", "CREATE", BIG, "g2", big_id(1000));
    read_group(conn, "g2", "dave", 10);
}

/// `XREADGROUP` of `count` new entries; returns the delivered IDs.
fn read_group(conn: &mut Connection, group: &str, consumer: &str, count: usize) -> Vec<String> {
    let reply = run!(conn, "XREADGROUP", "GROUP", group, consumer, "COUNT", count, "STREAMS", BIG, ">");
    let streams = into_array(reply);
    let entries = streams.into_iter().flat_map(|s| into_array(s).into_iter().nth(1));
    let entries = entries.flat_map(into_array);
    entries.map(|e| into_text(into_array(e).into_iter().next().expect("entry id"))).collect()
}
