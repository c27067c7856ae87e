//! Unit tests of the sans-IO protocol functions, on bytes as sentinels and servers send
//! them.

use super::*;

/// Every reply in `bytes`, decoded whole and then fed one byte at a time (both must
/// agree).
fn replies(bytes: &[u8]) -> Result<Vec<OwnedFrame>, String> {
    let mut whole = BytesMut::from(bytes);
    let mut all = Vec::new();
    while let Some(frame) = take_reply(&mut whole)? {
        all.push(frame);
    }
    let mut trickled = Vec::new();
    let mut buf = BytesMut::new();
    for byte in bytes {
        buf.extend_from_slice(&[*byte]);
        while let Some(frame) = take_reply(&mut buf)? {
            trickled.push(frame);
        }
    }
    assert_eq!(all, trickled, "whole and byte-by-byte decoding differ");
    Ok(all)
}

fn one(bytes: &[u8]) -> OwnedFrame {
    let mut all = replies(bytes).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[test]
fn encodes_commands_as_arrays_of_bulk_strings() {
    let mut out = BytesMut::new();
    encode_command(&mut out, &[b"SENTINEL", b"get-master-addr-by-name", b"my master"]).unwrap();
    assert_eq!(&out[..], b"*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$9\r\nmy master\r\n");
}

#[test]
fn reads_master_addresses_and_nil() {
    let addr = master_addr_reply(&one(b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n")).unwrap();
    assert_eq!(addr, Some(MasterAddr::new("127.0.0.1", 6380)));
    let addr = master_addr_reply(&one(b"*2\r\n$7\r\nfe80::1\r\n$5\r\n65535\r\n")).unwrap();
    assert_eq!(addr, Some(MasterAddr::new("fe80::1", 65535)));
    assert_eq!(master_addr_reply(&one(b"*-1\r\n")).unwrap(), None, "RESP2 nil array");
    assert_eq!(master_addr_reply(&one(b"$-1\r\n")).unwrap(), None, "nil bulk");
}

#[test]
fn rejects_malformed_addresses() {
    let cases: [(&[u8], &str); 8] = [
        (b"*1\r\n$9\r\n127.0.0.1\r\n", "1 items"),
        (b"*3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n2\r\n", "3 items"),
        (b"*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n", "not a port"),
        (b"*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n", "not a port"),
        (b"*2\r\n$9\r\n127.0.0.1\r\n:6379\r\n", "an integer"),
        (b"*2\r\n$0\r\n\r\n$4\r\n6379\r\n", "not a host"),
        (b"*2\r\n$5\r\na\r\nb \r\n$4\r\n6379\r\n", "not a host"),
        (b":1\r\n", "an integer"),
    ];
    for (bytes, why) in cases {
        let err = master_addr_reply(&one(bytes)).unwrap_err();
        assert!(err.contains(why), "{:?}: {err}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn reads_pubsub_messages() {
    let subscribed = one(b"*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n");
    assert_eq!(push_of(&subscribed).unwrap(), Push::Subscribed { channel: SWITCH_MASTER.to_vec() });
    let payload = b"mymaster 127.0.0.1 6379 127.0.0.1 6380";
    let message =
        one(b"*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$38\r\nmymaster 127.0.0.1 6379 127.0.0.1 6380\r\n");
    assert_eq!(
        push_of(&message).unwrap(),
        Push::Message { channel: SWITCH_MASTER.to_vec(), payload: payload.to_vec() }
    );
    assert_eq!(push_of(&one(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")).unwrap(), Push::Pong);
    assert!(push_of(&one(b"+PONG\r\n")).unwrap_err().contains("must be an array"));
    assert!(push_of(&one(b"*0\r\n")).unwrap_err().contains("0 items"));
    assert!(push_of(&one(b"*2\r\n$7\r\nmessage\r\n$1\r\nx\r\n")).unwrap_err().contains("2 items"));
}

#[test]
fn reads_switch_master_payloads() {
    let payload = b"mymaster 127.0.0.1 6379 10.0.0.2 6380";
    assert_eq!(switch_master(payload, "mymaster").unwrap(), Some(MasterAddr::new("10.0.0.2", 6380)));
    assert_eq!(switch_master(payload, "other").unwrap(), None, "another master");
    assert_eq!(switch_master(payload, "mymaste").unwrap(), None, "a prefix is another name");
    let spaced = b"my master ::1 6379 ::2 6380";
    assert_eq!(switch_master(spaced, "my master").unwrap(), Some(MasterAddr::new("::2", 6380)));
    for bad in [&b""[..], b"mymaster", b"127.0.0.1 6379 10.0.0.2 6380", b"mymaster a 1 b 99999", b"mymaster a 1 b x"] {
        assert!(switch_master(bad, "mymaster").is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn reads_roles() {
    let master =
        one(b"*3\r\n$6\r\nmaster\r\n:3129659\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n$7\r\n3129242\r\n");
    assert_eq!(role_reply(&master).unwrap(), "master");
    let replica = one(b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:9000\r\n$9\r\nconnected\r\n:3167038\r\n");
    assert_eq!(role_reply(&replica).unwrap(), "slave");
    assert!(role_reply(&one(b"*0\r\n")).is_err());
    assert!(role_reply(&one(b"$6\r\nmaster\r\n")).is_err());
    let info = one(b"$42\r\n# Replication\r\nrole:slave\r\nmaster_port:1\r\n\r\n");
    assert_eq!(info_role(&info).unwrap(), "slave");
    assert!(info_role(&one(b"$13\r\n# Replication\r\n")).is_err());
}

#[test]
fn waits_for_more_bytes_and_keeps_what_follows() {
    let mut buf = BytesMut::from(&b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n63"[..]);
    assert_eq!(take_reply(&mut buf).unwrap(), None);
    buf.extend_from_slice(b"80\r\n+OK\r\n");
    assert!(matches!(take_reply(&mut buf).unwrap(), Some(OwnedFrame::Array(_))));
    assert_eq!(&buf[..], b"+OK\r\n");
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [&b"?\r\n"[..], b"$-2\r\n", b"*-5\r\n", b":12x\r\n", b"$abc\r\n", b"*1\r\n!x\r\n"] {
        assert!(replies(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn huge_declared_lengths_wait_within_the_limit() {
    // A declared length is not allocated: the reply waits for bytes, then the limit ends it.
    let mut buf = BytesMut::from(&b"$999999999999\r\n"[..]);
    assert_eq!(take_reply(&mut buf).unwrap(), None);
    let mut buf = BytesMut::from(&b"*999999999999\r\n"[..]);
    assert_eq!(take_reply(&mut buf).unwrap(), None);
    buf.extend_from_slice(&vec![b'x'; MAX_REPLY]);
    assert!(take_reply(&mut buf).unwrap_err().contains("bad RESP"));
    let mut buf = BytesMut::from(&b"$2000000\r\n"[..]);
    buf.extend_from_slice(&vec![b'x'; MAX_REPLY]);
    assert!(take_reply(&mut buf).unwrap_err().contains("longer than"));
}

#[test]
fn deep_nesting_is_refused_without_recursing() {
    // Decoding this whole would overflow the stack; the array limit stops it first.
    let mut deep = b"*1\r\n".repeat(200_000);
    deep.extend_from_slice(b":1\r\n");
    let err = take_reply(&mut BytesMut::from(&deep[..])).unwrap_err();
    assert!(err.contains("more than 256 arrays"), "{err}");
    // Many small replies in one buffer are fine: only the first is decoded.
    let many = b"*1\r\n:1\r\n".repeat(5_000);
    let mut buf = BytesMut::from(&many[..]);
    for _ in 0..5_000 {
        assert!(take_reply(&mut buf).unwrap().is_some());
    }
    assert!(buf.is_empty());
}
