//! Parsing: defaults, a full file, and every kind of value refused while reading
//! (unknown keys, wrong types, unknown choices, bad addresses), with line numbers.

use std::net::SocketAddr;
use std::path::PathBuf;

use replicant_config::{Config, ConfigError, ExistingData, FullResync, Location, LogFormat, Mode, Progress};

use crate::parse_error;

#[test]
fn an_empty_file_is_the_defaults() {
    let c = Config::from_toml_str("", "t.toml").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!((c.source.url.as_deref(), c.target.url.as_deref()), (None, None));
    assert!(!c.source.tls.is_set() && !c.target.tls.is_set());
    assert_eq!(c.target.existing_data, ExistingData::Refuse);
    assert_eq!(
        (c.sync.once, c.sync.full_resync, c.sync.mode, c.sync.forward_publish),
        (false, FullResync::Stop, Mode::Auto, false)
    );
    let w = &c.writer;
    assert_eq!((w.shards, w.window, w.batch_commands), (8, 1024, 256));
    assert_eq!((w.max_ops, w.max_bytes, w.max_ops(), w.max_bytes()), (0, 0, None, None));
    assert!(w.skip_errors.is_empty() && !w.strict_key_order);
    let p = &c.parser;
    assert_eq!((p.batch_items, p.batch_bytes, p.raw_value_max, p.max_buffered), (512, 1_048_576, 524_288, 536_870_912));
    assert_eq!((c.admin.listen, c.admin.password.as_deref(), c.metrics.listen), (None, None, None));
    assert_eq!((c.state.dir.as_deref(), c.state.checkpoint_interval_ms), (None, 1000));
    assert_eq!(c.state.checkpoint_interval().as_millis(), 1000);
    assert_eq!((c.log.format, c.log.level.as_str(), c.log.progress), (LogFormat::Text, "info", Progress::Auto));
}

const FULL: &str = r#"
[source]
url = "rediss://app:pw@10.0.0.1:6379"
[source.tls]
ca_file = "/etc/ca.pem"
cert_file = "/etc/client.pem"
key_file = "/etc/client.key"
server_name = "redis.internal"

[target]
url = "rediss://10.0.0.2:6380/2"
existing_data = "replace"
[target.tls]
ca_file = "/etc/target-ca.pem"
server_name = "target.internal"

[sync]
once = true
full_resync = "accept"
mode = "commands"
forward_publish = true

[writer]
shards = 16
window = 4096
batch_commands = 128
max_ops = 50000
max_bytes = 10485760
skip_errors = ["BUSYKEY", "NOSCRIPT"]
strict_key_order = true

[parser]
batch_items = 64
batch_bytes = 65536
raw_value_max = 1024
max_buffered = 2097152

[admin]
listen = "0.0.0.0:6390"
password = "secret"

[metrics]
listen = "[::1]:9121"

[state]
dir = "/var/lib/replicant"
checkpoint_interval_ms = 250
exactly_once = false

[log]
format = "json"
level = "info,replicant_link=debug"
progress = "never"
"#;

#[test]
fn a_full_file_sets_every_field() {
    let c = Config::from_toml_str(FULL, "full.toml").unwrap();
    c.validate().unwrap();
    let mut want = Config::default();
    want.source.url = Some("rediss://app:pw@10.0.0.1:6379".into());
    want.source.tls.ca_file = Some(PathBuf::from("/etc/ca.pem"));
    want.source.tls.cert_file = Some(PathBuf::from("/etc/client.pem"));
    want.source.tls.key_file = Some(PathBuf::from("/etc/client.key"));
    want.source.tls.server_name = Some("redis.internal".into());
    want.target.url = Some("rediss://10.0.0.2:6380/2".into());
    want.target.existing_data = ExistingData::Replace;
    want.target.tls.ca_file = Some(PathBuf::from("/etc/target-ca.pem"));
    want.target.tls.server_name = Some("target.internal".into());
    want.sync.once = true;
    want.sync.full_resync = FullResync::Accept;
    want.sync.mode = Mode::Commands;
    want.sync.forward_publish = true;
    want.writer.shards = 16;
    want.writer.window = 4096;
    want.writer.batch_commands = 128;
    want.writer.max_ops = 50_000;
    want.writer.max_bytes = 10 << 20;
    want.writer.skip_errors = vec!["BUSYKEY".into(), "NOSCRIPT".into()];
    want.writer.strict_key_order = true;
    want.parser.batch_items = 64;
    want.parser.batch_bytes = 65_536;
    want.parser.raw_value_max = 1024;
    want.parser.max_buffered = 2 << 20;
    want.admin.listen = Some("0.0.0.0:6390".parse::<SocketAddr>().unwrap());
    want.admin.password = Some("secret".into());
    want.metrics.listen = Some("[::1]:9121".parse::<SocketAddr>().unwrap());
    want.state.dir = Some(PathBuf::from("/var/lib/replicant"));
    want.state.checkpoint_interval_ms = 250;
    want.state.exactly_once = false;
    want.log.format = LogFormat::Json;
    want.log.level = "info,replicant_link=debug".into();
    want.log.progress = Progress::Never;
    assert_eq!(c, want);
    assert_eq!((c.writer.max_ops(), c.writer.max_bytes()), (Some(50_000), Some(10 << 20)));
    assert_eq!(c.state.checkpoint_interval().as_millis(), 250);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn endpoints_carry_their_tls_settings() {
    let c = Config::from_toml_str(FULL, "full.toml").unwrap();
    let source = c.source.endpoint().unwrap().unwrap();
    let tls = source.tls.unwrap();
    assert_eq!(tls.server_name.as_deref(), Some("redis.internal"));
    assert_eq!(tls.key_file, Some(PathBuf::from("/etc/client.key")));
    let target = c.target.endpoint().unwrap();
    assert_eq!((target.addr().as_str(), target.db), ("10.0.0.2:6380", Some(2)));
    assert_eq!(target.tls.unwrap().ca_file, Some(PathBuf::from("/etc/target-ca.pem")));
    let empty = Config::default();
    assert_eq!(empty.source.endpoint().unwrap(), None);
    assert!(empty.target.endpoint().unwrap_err().to_string().contains("target.url: required"));
}

/// Every section, nested table and the top level refuse a key they do not know.
#[test]
fn unknown_keys_are_refused_with_their_line() {
    let rows = [
        ("bogus = 1\n", ""),
        ("[source]\nbogus = 1\n", "source: "),
        ("[source.tls]\nbogus = 1\n", "source.tls: "),
        ("[target]\nbogus = 1\n", "target: "),
        ("[target.tls]\nbogus = 1\n", "target.tls: "),
        ("[sync]\nbogus = 1\n", "sync: "),
        ("[writer]\nbogus = 1\n", "writer: "),
        ("[parser]\nbogus = 1\n", "parser: "),
        ("[admin]\nbogus = 1\n", "admin: "),
        ("[metrics]\nbogus = 1\n", "metrics: "),
        ("[state]\nbogus = 1\n", "state: "),
        ("[log]\nbogus = 1\n", "log: "),
    ];
    for (text, path) in rows {
        let line = text.lines().count();
        let text = format!("# leading comment\n\n{text}");
        let msg = parse_error(&text);
        let want = format!("t.toml:{}:1: {path}unknown field `bogus`, expected", line + 2);
        assert!(msg.starts_with(&want), "{text:?}: {msg:?} does not start with {want:?}");
    }
    let header = parse_error("[source]\n[bogus]\n");
    assert!(header.starts_with("t.toml:2:2: unknown field `bogus`, expected one of `source`"), "{header}");
}

#[test]
fn a_misspelt_key_is_named_with_the_valid_ones() {
    let msg = parse_error("[writer]\nshards = 4\n\nshardz = 8\n");
    assert!(msg.starts_with("t.toml:4:1: writer: unknown field `shardz`, expected one of"), "{msg}");
    assert!(msg.contains("`shards`"), "{msg}");
}

/// One row per key (and per section): a value of the wrong type.
#[test]
fn wrong_types_are_refused_with_the_key_and_line() {
    let rows = [
        ("source = 1", "source"),
        ("target = \"x\"", "target"),
        ("sync = []", "sync"),
        ("writer = [4, 512]", "writer"),
        ("[source]\ntls = [\"ca.pem\"]", "source.tls"),
        ("writer = true", "writer"),
        ("parser = 1.5", "parser"),
        ("admin = 1", "admin"),
        ("metrics = 1", "metrics"),
        ("state = 1", "state"),
        ("log = \"debug\"", "log"),
        ("[source]\nurl = 6379", "source.url"),
        ("[source]\ntls = \"yes\"", "source.tls"),
        ("[source.tls]\nca_file = 1", "source.tls.ca_file"),
        ("[source.tls]\ncert_file = true", "source.tls.cert_file"),
        ("[source.tls]\nkey_file = []", "source.tls.key_file"),
        ("[source.tls]\nserver_name = 1", "source.tls.server_name"),
        ("[target]\nurl = 6380", "target.url"),
        ("[target]\nexisting_data = 1", "target.existing_data"),
        ("[target]\ntls = 1", "target.tls"),
        ("[target.tls]\nca_file = 1", "target.tls.ca_file"),
        ("[target.tls]\ncert_file = 1", "target.tls.cert_file"),
        ("[target.tls]\nkey_file = 1", "target.tls.key_file"),
        ("[target.tls]\nserver_name = false", "target.tls.server_name"),
        ("[sync]\nonce = \"yes\"", "sync.once"),
        ("[sync]\nfull_resync = true", "sync.full_resync"),
        ("[sync]\nmode = 1", "sync.mode"),
        ("[sync]\nforward_publish = 1", "sync.forward_publish"),
        ("[writer]\nshards = \"8\"", "writer.shards"),
        ("[writer]\nshards = -1", "writer.shards"),
        ("[writer]\nwindow = 1.5", "writer.window"),
        ("[writer]\nbatch_commands = true", "writer.batch_commands"),
        ("[writer]\nmax_ops = \"0\"", "writer.max_ops"),
        ("[writer]\nmax_ops = -1", "writer.max_ops"),
        ("[writer]\nmax_bytes = -5", "writer.max_bytes"),
        ("[writer]\nskip_errors = \"BUSYKEY\"", "writer.skip_errors"),
        ("[writer]\nskip_errors = [1]", "writer.skip_errors"),
        ("[writer]\nstrict_key_order = \"no\"", "writer.strict_key_order"),
        ("[parser]\nbatch_items = \"512\"", "parser.batch_items"),
        ("[parser]\nbatch_bytes = -1", "parser.batch_bytes"),
        ("[parser]\nraw_value_max = 1e3", "parser.raw_value_max"),
        ("[parser]\nmax_buffered = true", "parser.max_buffered"),
        ("[admin]\nlisten = 6390", "admin.listen"),
        ("[admin]\npassword = 1", "admin.password"),
        ("[metrics]\nlisten = true", "metrics.listen"),
        ("[state]\ndir = 1", "state.dir"),
        ("[state]\ncheckpoint_interval_ms = \"1s\"", "state.checkpoint_interval_ms"),
        ("[state]\ncheckpoint_interval_ms = -10", "state.checkpoint_interval_ms"),
        ("[log]\nformat = 1", "log.format"),
        ("[log]\nlevel = 1", "log.level"),
        ("[log]\nprogress = false", "log.progress"),
    ];
    for (text, path) in rows {
        let line = text.lines().count();
        let msg = parse_error(text);
        let want = format!("t.toml:{line}:");
        assert!(msg.starts_with(&want), "{text:?}: {msg:?} does not start with {want:?}");
        assert!(msg.contains(&format!(": {path}: invalid ")), "{text:?}: {msg:?} lacks {path}");
    }
}

#[test]
fn unknown_choices_are_refused_with_the_valid_ones() {
    let rows = [
        ("[target]\nexisting_data = \"keep\"", "target.existing_data", "`refuse`, `merge`, `replace`"),
        ("[target]\nexisting_data = \"Refuse\"", "target.existing_data", "`refuse`"),
        ("[sync]\nfull_resync = \"never\"", "sync.full_resync", "expected `stop` or `accept`"),
        ("[sync]\nmode = \"fast\"", "sync.mode", "`auto`, `restore`, `commands`"),
        ("[log]\nformat = \"yaml\"", "log.format", "expected `text` or `json`"),
        ("[log]\nprogress = \"sometimes\"", "log.progress", "`auto`, `always`, `never`"),
    ];
    for (text, path, valid) in rows {
        let msg = parse_error(text);
        assert!(msg.starts_with("t.toml:2:"), "{text:?}: {msg}");
        assert!(msg.contains(&format!("{path}: unknown variant")), "{text:?}: {msg}");
        assert!(msg.contains(valid), "{text:?}: {msg}");
    }
    let msg = parse_error("[sync]\nmode = 1");
    assert!(
        msg.ends_with("sync.mode: invalid type: integer `1`, expected one of `auto`, `restore`, `commands`"),
        "{msg}"
    );
    let msg = parse_error("[target]\nexisting_data = { refuse = true }");
    assert!(msg.contains("target.existing_data: invalid type: map, expected one of `refuse`"), "{msg}");
}

#[test]
fn choices_print_as_they_are_written() {
    assert_eq!(ExistingData::NAMES, ["refuse", "merge", "replace"]);
    assert_eq!(FullResync::Accept.to_string(), "accept");
    assert_eq!(Mode::Restore.as_str(), "restore");
    assert_eq!((LogFormat::Json.as_str(), Progress::Always.as_str()), ("json", "always"));
}

#[test]
fn listen_addresses_must_be_ip_and_port() {
    let rows = [
        ("[admin]\nlisten = \"localhost:6390\"", "admin.listen"),
        ("[admin]\nlisten = \"127.0.0.1\"", "admin.listen"),
        ("[admin]\nlisten = \"\"", "admin.listen"),
        ("[metrics]\nlisten = \"127.0.0.1:99999\"", "metrics.listen"),
        ("[metrics]\nlisten = \"::1:9121\"", "metrics.listen"),
    ];
    for (text, path) in rows {
        let msg = parse_error(text);
        assert!(msg.starts_with("t.toml:2:"), "{text:?}: {msg}");
        assert!(msg.contains(&format!("{path}: not a socket address (IP:PORT")), "{text:?}: {msg}");
    }
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let err = Config::from_toml_str("[writer]\nshards = 8\nwindow = = 2\n", "bad.toml").unwrap_err();
    let ConfigError::Parse { ref origin, location, .. } = err else { panic!("{err:?}") };
    assert_eq!(origin, "bad.toml");
    assert_eq!(location.map(|l| l.line), Some(3));
    assert!(err.to_string().starts_with("bad.toml:3:"), "{err}");
    let dup = parse_error("[writer]\nshards = 8\nshards = 9\n");
    assert!(dup.starts_with("t.toml:3:1: "), "{dup}");
    let err = Config::from_toml_str("[log]\n  level = 1", "x").unwrap_err();
    let ConfigError::Parse { location, .. } = err else { panic!("{err:?}") };
    assert_eq!(location, Some(Location { line: 2, column: 11 }));
}
