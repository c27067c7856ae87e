#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The converter on small hand-built RDB streams: which commands each key becomes.

use replicant_convert::{Commands, ConvertConfig, Converter, Mode, TargetProfile};
use replicant_rdb::{Event, Parser, ParserConfig, Status};

/// An RDB 9 stream with a disabled checksum, around the given body.
fn rdb(body: &[u8]) -> Vec<u8> {
    let mut v = b"REDIS0009".to_vec();
    v.extend_from_slice(body);
    v.push(0xff);
    v.extend_from_slice(&[0; 8]);
    v
}

fn string_key(key: &str, value: &str, expire_ms: Option<i64>) -> Vec<u8> {
    let mut v = Vec::new();
    if let Some(ms) = expire_ms {
        v.push(0xfc);
        v.extend_from_slice(&ms.to_le_bytes());
    }
    v.push(0x00);
    v.push(key.len() as u8);
    v.extend_from_slice(key.as_bytes());
    v.push(value.len() as u8);
    v.extend_from_slice(value.as_bytes());
    v
}

/// Runs the converter over a stream and returns the commands as readable lines.
fn convert(data: &[u8], cfg: ConvertConfig) -> Vec<String> {
    convert_with(ParserConfig::default(), data, cfg)
}

fn convert_with(parser: ParserConfig, data: &[u8], cfg: ConvertConfig) -> Vec<String> {
    render(run(parser, data, cfg).1.bytes())
}

/// Runs the converter over a whole stream: the converter (for its stats) and its output.
fn run(parser: ParserConfig, data: &[u8], cfg: ConvertConfig) -> (Converter, Commands) {
    let mut parser = Parser::new(parser);
    let mut conv = Converter::new(cfg);
    let mut out = Commands::new();
    let mut input = data;
    loop {
        let Status::Event { event, consumed } = parser.parse(input).unwrap() else { panic!("whole input given") };
        conv.event(&event, &mut out).unwrap();
        let end = matches!(event, Event::End(_));
        input = &input[consumed..];
        if end {
            break;
        }
    }
    (conv, out)
}

/// Turns RESP arrays of bulk strings into space-separated lines.
fn render(mut resp: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let line = |r: &mut &[u8]| {
        let end = r.windows(2).position(|w| w == b"\r\n").unwrap();
        let l = String::from_utf8_lossy(&r[..end]).into_owned();
        *r = &r[end + 2..];
        l
    };
    while !resp.is_empty() {
        let n: usize = line(&mut resp)[1..].parse().unwrap();
        let mut args = Vec::new();
        for _ in 0..n {
            let len: usize = line(&mut resp)[1..].parse().unwrap();
            let arg = &resp[..len];
            args.push(if arg.iter().all(|b| b.is_ascii_graphic()) {
                String::from_utf8_lossy(arg).into_owned()
            } else {
                format!("<{len} bytes>")
            });
            resp = &resp[len + 2..];
        }
        lines.push(args.join(" "));
    }
    lines
}

#[test]
fn commands_mode_writes_set_then_absolute_expiry() {
    let data = rdb(&[&[0xfe, 0x00][..], &string_key("k", "v", Some(1_900_000_000_000))].concat());
    let cmds = convert(&data, ConvertConfig::default().mode(Mode::Commands));
    assert_eq!(cmds, ["SELECT 0", "SET k v PXAT 1900000000000"]);
    // Before Redis 6.2, SET has no PXAT.
    let cmds = convert(&data, ConvertConfig::default().mode(Mode::Commands).target(TargetProfile::redis(6, 0)));
    assert_eq!(cmds, ["SELECT 0", "SET k v", "PEXPIREAT k 1900000000000"]);
}

#[test]
fn a_string_in_pieces_gets_its_expiry_again_after_the_appends() {
    let data = rdb(&[&[0xfe, 0x00][..], &string_key("k", "abcdefghij", Some(1_900_000_000_000))].concat());
    let parser = ParserConfig::default().batch_bytes(4).raw_value_max(0);
    let cmds = convert_with(parser, &data, ConvertConfig::default().mode(Mode::Commands));
    assert_eq!(
        cmds,
        ["SELECT 0", "SET k abcd PXAT 1900000000000", "APPEND k efgh", "APPEND k ij", "PEXPIREAT k 1900000000000"]
    );
}

#[test]
fn restore_mode_writes_one_payload_with_absolute_ttl() {
    let data = rdb(&[&[0xfe, 0x00][..], &string_key("k", "v", Some(1_900_000_000_000))].concat());
    let cmds = convert(&data, ConvertConfig::default().mode(Mode::Restore));
    assert_eq!(cmds, ["SELECT 0", "RESTORE k 1900000000000 <13 bytes> REPLACE ABSTTL"]);
}

#[test]
fn expired_keys_are_skipped_and_counted() {
    let body = [&[0xfe, 0x00][..], &string_key("old", "v", Some(1_000)), &string_key("new", "v", None)].concat();
    let cfg = ConvertConfig::default().mode(Mode::Commands).now_ms(Some(2_000));
    let (conv, out) = run(ParserConfig::default(), &rdb(&body), cfg);
    assert_eq!(render(out.bytes()), ["SELECT 0", "SET new v"]);
    assert_eq!(conv.stats().expired_skipped, 1);
}

#[test]
fn databases_are_selected_once_each_or_remapped() {
    let body = [
        &[0xfe, 0x00][..],
        &string_key("a", "1", None),
        &string_key("b", "2", None),
        &[0xfe, 0x03],
        &string_key("c", "3", None),
    ]
    .concat();
    let cmds = convert(&rdb(&body), ConvertConfig::default().mode(Mode::Commands));
    assert_eq!(cmds, ["SELECT 0", "SET a 1", "SET b 2", "SELECT 3", "SET c 3"]);
    let cmds = convert(&rdb(&body), ConvertConfig::default().mode(Mode::Commands).db(Some(7)));
    assert_eq!(cmds, ["SELECT 7", "SET a 1", "SET b 2", "SET c 3"]);
}

/// A set of two members, `a` and `b`.
const SET_KEY: &[u8] = &[0x02, 0x01, b's', 0x02, 0x01, b'a', 0x01, b'b'];

#[test]
fn auto_mode_falls_back_to_commands_for_an_older_target() {
    // An RDB 9 payload cannot be loaded by Redis 4.0 (RDB 8).
    let data = rdb(&[&[0xfe, 0x00][..], SET_KEY].concat());
    let cmds = convert(&data, ConvertConfig::default().target(TargetProfile::redis(4, 0)));
    assert_eq!(cmds, ["SELECT 0", "DEL s", "SADD s a b"]);
    let cmds = convert(&data, ConvertConfig::default().target(TargetProfile::redis(7, 0)));
    assert_eq!(cmds[1].split(' ').next(), Some("RESTORE"));
}

#[test]
fn auto_mode_writes_strings_with_set_unless_they_carry_lru_data() {
    let plain = string_key("k", "v", Some(1_900_000_000_000));
    let cmds = convert(&rdb(&[&[0xfe, 0x00][..], &plain].concat()), ConvertConfig::default());
    assert_eq!(cmds, ["SELECT 0", "SET k v PXAT 1900000000000"]);
    // Idle time 5 s (RDB_OPCODE_IDLE) before the key: only RESTORE keeps it.
    let idle = rdb(&[&[0xfe, 0x00, 0xf8, 0x05][..], &string_key("k", "v", None)].concat());
    let cmds = convert(&idle, ConvertConfig::default());
    assert_eq!(cmds, ["SELECT 0", "RESTORE k 0 <13 bytes> REPLACE ABSTTL IDLETIME 5"]);
}

#[test]
fn sets_and_sorted_sets_become_batched_commands() {
    // type 2 set of 2 members, type 3 zset with text scores incl. -inf.
    let body = [
        &[0xfe, 0x00][..],
        &[0x02, 0x01, b's', 0x02, 0x01, b'a', 0x01, b'b'],
        &[0x03, 0x01, b'z', 0x02, 0x01, b'x', 0x03, b'1', b'.', b'5', 0x01, b'y', 0xff],
    ]
    .concat();
    let cmds = convert(&rdb(&body), ConvertConfig::default().mode(Mode::Commands));
    assert_eq!(cmds, ["SELECT 0", "DEL s", "SADD s a b", "DEL z", "ZADD z 1.5 x -inf y"]);
}

#[test]
fn commands_rebuilding_a_collection_are_marked_bulk_and_strings_are_not() {
    let body = [&[0xfe, 0x00][..], SET_KEY, &string_key("k", "v", Some(1_900_000_000_000))].concat();
    let cfg = ConvertConfig::default().mode(Mode::Commands).target(TargetProfile::redis(6, 0));
    let (_, out) = run(ParserConfig::default(), &rdb(&body), cfg);
    let marks: Vec<(&str, bool)> = out.info().iter().map(|i| (i.name, i.bulk)).collect();
    assert_eq!(marks, [("SELECT", false), ("DEL", true), ("SADD", true), ("SET", false), ("PEXPIREAT", false)]);
}

/// A parser handing small strings out with their key (`inline_strings`) gives the same
/// commands as one handing out the key, the value and its end: in every mode, with and
/// without expiry, for expired keys, LRU data, several databases and a pre-6.2 target.
#[test]
fn inline_strings_convert_like_strings_in_three_events() {
    let body = [
        &[0xfe, 0x00][..],
        &string_key("a", "1", Some(1_900_000_000_000)),
        &string_key("old", "v", Some(1_000)),
        &[0xf8, 0x05],
        &string_key("idle", "v", None),
        &[0xfe, 0x03],
        &string_key("c", "three", None),
        SET_KEY,
    ]
    .concat();
    let data = rdb(&body);
    let modes = [Mode::Auto, Mode::Commands, Mode::Restore];
    for (mode, target) in
        modes.into_iter().flat_map(|m| [(m, TargetProfile::latest()), (m, TargetProfile::redis(6, 0))])
    {
        let cfg = ConvertConfig::default().mode(mode).target(target).now_ms(Some(2_000));
        let three = convert_with(ParserConfig::default(), &data, cfg.clone());
        let inline = convert_with(ParserConfig::default().inline_strings(true), &data, cfg);
        assert_eq!(inline, three, "{mode:?} into {target:?}");
        assert!(three.iter().any(|c| c.starts_with("SET c three") || c.starts_with("RESTORE c")), "{three:?}");
    }
}
