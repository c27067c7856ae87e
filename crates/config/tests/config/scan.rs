//! Scan mode: `source.mode` and `[source.scan]`, their defaults, parsing and validation.

use replicant_config::{Config, Scan, SourceKind, SourceMode, SCAN_COUNT, SCAN_PIPELINE};

use crate::{minimal_with, parse_error, refusals};

type Edit = fn(&mut Config);

#[test]
fn the_default_is_a_replica_with_the_scan_s_defaults() {
    let c = Config::from_toml_str("", "t.toml").unwrap();
    assert_eq!(c.source.mode, SourceMode::Replica);
    assert_eq!(SourceMode::default(), SourceMode::Replica);
    assert_eq!((c.source.scan.count, c.source.scan.pipeline), (1000, 256));
    assert_eq!(c.source.scan, Scan::default());
    assert_eq!((SCAN_COUNT, SCAN_PIPELINE), ((1, 100_000), (1, 100_000)));
}

#[test]
fn mode_and_the_scan_table_are_read() {
    let text = "\
[source]
url = \"redis://127.0.0.1:6379\"
mode = \"scan\"
[source.scan]
count = 50
pipeline = 8
[target]
url = \"redis://127.0.0.1:6380\"
";
    let c = Config::from_toml_str(text, "t.toml").unwrap();
    c.validate().unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    assert_eq!(c.source.mode, SourceMode::Scan);
    assert_eq!((c.source.scan.count, c.source.scan.pipeline), (50, 8));
    let replica = Config::from_toml_str("[source]\nmode = \"replica\"\n", "t.toml").unwrap();
    assert_eq!(replica, Config::default());
}

#[test]
fn modes_print_as_they_are_written() {
    assert_eq!(SourceMode::NAMES, ["replica", "scan"]);
    assert_eq!(SourceMode::Scan.to_string(), "scan");
    assert_eq!(SourceMode::Replica.as_str(), "replica");
}

#[test]
fn unknown_modes_keys_and_wrong_types_are_refused_while_parsing() {
    let msg = parse_error("[source]\nmode = \"dump\"");
    assert!(msg.starts_with("t.toml:2:"), "{msg}");
    assert!(msg.contains("source.mode: unknown variant `dump`, expected `replica` or `scan`"), "{msg}");
    let msg = parse_error("[source]\nmode = 1");
    assert!(msg.contains("source.mode: invalid type: integer `1`, expected one of `replica`, `scan`"), "{msg}");
    let msg = parse_error("# leading comment\n\n[source.scan]\nbogus = 1\n");
    assert!(msg.starts_with("t.toml:4:1: source.scan: unknown field `bogus`, expected"), "{msg}");
    let rows = [
        ("[source]\nscan = 1", "source.scan"),
        ("[source]\nscan = [1000, 256]", "source.scan"),
        ("[source.scan]\ncount = \"1000\"", "source.scan.count"),
        ("[source.scan]\ncount = -1", "source.scan.count"),
        ("[source.scan]\npipeline = 1.5", "source.scan.pipeline"),
        ("[source.scan]\npipeline = 4294967296", "source.scan.pipeline"),
    ];
    for (text, path) in rows {
        let line = text.lines().count();
        let msg = parse_error(text);
        assert!(msg.starts_with(&format!("t.toml:{line}:")), "{text:?}: {msg}");
        assert!(msg.contains(&format!(": {path}: invalid ")), "{text:?}: {msg:?} lacks {path}");
    }
}

#[test]
fn the_scan_s_ranges_are_refused_just_outside_both_ends() {
    let rows: [(Edit, &str); 4] = [
        (|c| c.source.scan.count = 0, "source.scan.count: must be between 1 and 100000 (got 0)"),
        (|c| c.source.scan.count = 100_001, "source.scan.count: must be between 1 and 100000 (got 100001)"),
        (|c| c.source.scan.pipeline = 0, "source.scan.pipeline: must be between 1 and 100000 (got 0)"),
        (|c| c.source.scan.pipeline = 100_001, "source.scan.pipeline: must be between 1 and 100000 (got 100001)"),
    ];
    for (edit, want) in rows {
        // Checked whatever the mode: a value out of range is a typo either way.
        for mode in [SourceMode::Replica, SourceMode::Scan] {
            let config = minimal_with(|c| {
                c.source.mode = mode;
                edit(c);
            });
            assert_eq!(refusals(&config), [want]);
        }
    }
    for (count, pipeline) in [(1, 1), (100_000, 100_000)] {
        let config = minimal_with(|c| {
            c.source.mode = SourceMode::Scan;
            c.source.scan.count = count;
            c.source.scan.pipeline = pipeline;
        });
        config.validate().unwrap();
    }
}

#[test]
fn a_scan_needs_the_url_of_a_server() {
    let no_url = "source.url: required with source.mode = \"scan\": a scan reads the server at this address \
                  (source.rdb_file, source.sentinel and REPLICAOF cannot stand for it)";
    // Not from REPLICAOF on the admin port.
    let config = minimal_with(|c| {
        c.source.mode = SourceMode::Scan;
        c.source.url = None;
        c.admin.listen = Some("127.0.0.1:6390".parse().unwrap());
    });
    assert_eq!(refusals(&config), [no_url]);
    // Nor with no source at all: the scan's reason, not the REPLICAOF one.
    let config = minimal_with(|c| {
        c.source.mode = SourceMode::Scan;
        c.source.url = None;
    });
    assert_eq!(refusals(&config), [no_url]);
    // Nor from a file.
    let config = minimal_with(|c| {
        c.source.mode = SourceMode::Scan;
        c.source.url = None;
        c.source.rdb_file = Some("dump.rdb".into());
    });
    assert_eq!(refusals(&config), [no_url]);
    // Nor from Sentinels, even with a URL for the credentials.
    let sentinel = "source.sentinel: set with source.mode = \"scan\": a scan reads the server at source.url, \
                    not a master named by Sentinels";
    let config = minimal_with(|c| {
        c.source.mode = SourceMode::Scan;
        c.source.url = None;
        c.source.sentinel = vec!["127.0.0.1:26379".into()];
        c.source.master_name = Some("mymaster".into());
    });
    assert_eq!(refusals(&config), [no_url, sentinel]);
    let config = minimal_with(|c| {
        c.source.mode = SourceMode::Scan;
        c.source.sentinel = vec!["127.0.0.1:26379".into()];
        c.source.master_name = Some("mymaster".into());
    });
    assert_eq!(refusals(&config), [sentinel]);
    // The replica mode keeps its own rules.
    let config = minimal_with(|c| c.source.url = None);
    assert_eq!(
        refusals(&config),
        ["source.url: required when admin.listen, source.sentinel and source.rdb_file are not set \
          (nothing could send REPLICAOF)"]
    );
}

#[test]
fn any_kind_of_master_may_be_scanned() {
    for kind in [SourceKind::Auto, SourceKind::Redis, SourceKind::Kvrocks, SourceKind::Pika] {
        let config = minimal_with(|c| {
            c.source.mode = SourceMode::Scan;
            c.source.kind = kind;
        });
        assert_eq!(config.validate().map_err(|e| e.to_string()), Ok(()), "{kind}");
        assert!(config.warnings().is_empty(), "{kind}: {:?}", config.warnings());
    }
}
