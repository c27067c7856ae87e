//! Validation: each range just outside both ends (and just inside), each rule between
//! values, all refusals reported together, warnings, and `Config::load`.

use std::path::PathBuf;

use replicant_config::{Config, ConfigError};

use crate::{minimal_with, refusals, MINIMAL};

type Edit = fn(&mut Config);

/// Asserts that each edit of the minimal configuration is refused with `want` among
/// the message lines.
fn assert_refused(rows: &[(Edit, &str)]) {
    for (edit, want) in rows {
        let config = minimal_with(edit);
        let lines = refusals(&config);
        assert!(lines.iter().any(|l| l.starts_with(want)), "want {want:?}, got {lines:?}");
    }
}

fn assert_accepted(rows: &[Edit]) {
    for edit in rows {
        let config = minimal_with(edit);
        assert_eq!(config.validate().map_err(|e| e.to_string()), Ok(()), "{config:?}");
    }
}

#[test]
fn the_minimal_configuration_is_valid() {
    let config = Config::from_toml_str(MINIMAL, "t.toml").unwrap();
    config.validate().unwrap();
    assert!(config.warnings().is_empty());
}

#[test]
fn ranges_are_refused_just_outside_both_ends() {
    assert_refused(&[
        (|c| c.writer.shards = 0, "writer.shards: must be between 1 and 1024 (got 0)"),
        (|c| c.writer.shards = 1025, "writer.shards: must be between 1 and 1024 (got 1025)"),
        (|c| c.writer.window = 0, "writer.window: must be between 1 and 1000000 (got 0)"),
        (|c| c.writer.window = 1_000_001, "writer.window: must be between 1 and 1000000 (got 1000001)"),
        (|c| c.writer.batch_commands = 0, "writer.batch_commands: must be between 1 and 65536 (got 0)"),
        (|c| c.writer.batch_commands = 65_537, "writer.batch_commands: must be between 1 and 65536 (got 65537)"),
        (|c| c.parser.batch_items = 0, "parser.batch_items: must be at least 1 (got 0)"),
        (|c| c.parser.batch_bytes = 1023, "parser.batch_bytes: must be at least 1024 (got 1023)"),
        (|c| c.parser.max_buffered = (1 << 20) - 1, "parser.max_buffered: must be at least 1048576 (got 1048575)"),
        (
            |c| c.parser.raw_value_max = (512 << 20) + 1,
            "parser.raw_value_max: must be at most parser.max_buffered (536870912) (got 536870913)",
        ),
        (
            |c| c.state.checkpoint_interval_ms = 9,
            "state.checkpoint_interval_ms: must be between 10 and 3600000 (got 9)",
        ),
        (
            |c| c.state.checkpoint_interval_ms = 3_600_001,
            "state.checkpoint_interval_ms: must be between 10 and 3600000 (got 3600001)",
        ),
        (|c| c.source.timeout_ms = 999, "source.timeout_ms: must be between 1000 and 3600000 (got 999)"),
        (|c| c.target.timeout_ms = 3_600_001, "target.timeout_ms: must be between 1000 and 3600000 (got 3600001)"),
        (|c| c.target.retry.max_delay_ms = 99, "target.retry.max_delay_ms: must be between 100 and 600000 (got 99)"),
        (
            |c| c.target.retry.max_delay_ms = 600_001,
            "target.retry.max_delay_ms: must be between 100 and 600000 (got 600001)",
        ),
    ]);
}

#[test]
fn ranges_accept_both_ends() {
    assert_accepted(&[
        |c| c.writer.shards = 1,
        |c| c.writer.shards = 1024,
        |c| c.writer.window = 1,
        |c| c.writer.window = 1_000_000,
        |c| c.writer.batch_commands = 1,
        |c| c.writer.batch_commands = 65_536,
        |c| c.writer.max_ops = u64::MAX,
        |c| c.writer.max_bytes = 1,
        |c| c.parser.batch_items = 1,
        |c| c.parser.batch_bytes = 1024,
        |c| {
            c.parser.max_buffered = 1 << 20;
            c.parser.raw_value_max = 1 << 20;
        },
        |c| c.parser.raw_value_max = 0,
        |c| c.state.checkpoint_interval_ms = 10,
        |c| c.state.checkpoint_interval_ms = 3_600_000,
        |c| c.source.timeout_ms = 1_000,
        |c| c.target.timeout_ms = 3_600_000,
        |c| c.target.retry.max_delay_ms = 100,
        |c| c.target.retry.max_delay_ms = 600_000,
        |c| c.target.retry.attempts = u32::MAX,
    ]);
}

#[test]
fn sentinels_name_the_master_instead_of_a_url() {
    assert_accepted(&[
        |c| {
            c.source.url = None;
            c.source.sentinel = vec!["127.0.0.1:26379".into(), "rediss://:pw@sentinel.internal:26380".into()];
            c.source.master_name = Some("mymaster".into());
        },
        // The URL then gives the master's credentials.
        |c| {
            c.source.url = Some("redis://:master-pw@ignored:6379".into());
            c.source.sentinel = vec!["127.0.0.1:26379".into()];
            c.source.master_name = Some("mymaster".into());
        },
    ]);
    assert_refused(&[
        (
            |c| {
                c.source.url = None;
                c.source.sentinel = vec!["127.0.0.1:26379".into()];
            },
            "source.master_name: required with source.sentinel",
        ),
        (|c| c.source.master_name = Some("mymaster".into()), "source.sentinel: required with source.master_name"),
        (
            |c| {
                c.source.url = None;
                c.source.sentinel = vec!["127.0.0.1:26379".into(), "http://x".into()];
                c.source.master_name = Some("mymaster".into());
            },
            "source.sentinel[1]: not host:port or a redis:// or rediss:// URL",
        ),
    ]);
}

#[test]
fn a_target_named_by_sentinels_needs_both_settings() {
    assert_accepted(&[|c| {
        c.target.sentinel = vec!["127.0.0.1:26379".into()];
        c.target.master_name = Some("target".into());
    }]);
    assert_refused(&[
        (|c| c.target.sentinel = vec!["127.0.0.1:26379".into()], "target.master_name: required with target.sentinel"),
        (|c| c.target.master_name = Some("target".into()), "target.sentinel: required with target.master_name"),
        (
            |c| {
                c.target.sentinel = vec!["ftp://x".into()];
                c.target.master_name = Some("target".into());
            },
            "target.sentinel[0]: not host:port or a redis:// or rediss:// URL",
        ),
    ]);
}

#[test]
fn urls_are_required_and_must_parse() {
    assert_refused(&[
        (|c| c.target.url = None, "target.url: required"),
        (|c| c.source.url = Some("http://x:6379".into()), "source.url: not a redis:// or rediss:// URL: the scheme"),
        (|c| c.source.url = Some("redis://h/abc".into()), "source.url: not a redis:// or rediss:// URL: the path"),
        (|c| c.source.url = Some(String::new()), "source.url: not a redis:// or rediss:// URL"),
        (|c| c.target.url = Some("127.0.0.1:6380".into()), "target.url: not a redis:// or rediss:// URL"),
        (|c| c.target.url = Some("redis://".into()), "target.url: not a redis:// or rediss:// URL"),
        (|c| c.target.url = Some("redis://h:99999".into()), "target.url: not a redis:// or rediss:// URL"),
        (
            |c| c.source.url = None,
            "source.url: required when admin.listen, source.sentinel and source.rdb_file are not set (nothing could send REPLICAOF)",
        ),
    ]);
}

#[test]
fn an_rdb_file_is_a_source_of_its_own() {
    assert_accepted(&[|c| {
        c.source.url = None;
        c.source.rdb_file = Some("dump.rdb".into());
    }]);
    assert_refused(&[
        (|c| c.source.rdb_file = Some("dump.rdb".into()), "source.rdb_file: set together with source.url"),
        (
            |c| {
                c.source.url = None;
                c.source.rdb_file = Some("".into());
            },
            "source.rdb_file: must not be empty",
        ),
        (
            |c| {
                c.source.url = None;
                c.source.rdb_file = Some("dump.rdb".into());
                c.state.dir = Some("/var/lib/replicant".into());
            },
            "state.dir: set with source.rdb_file",
        ),
    ]);
}

#[test]
fn url_errors_hide_the_password() {
    let config = minimal_with(|c| c.source.url = Some("http://u:topsecret@x".into()));
    let lines = refusals(&config);
    assert!(lines.iter().all(|l| !l.contains("topsecret")), "{lines:?}");
}

#[test]
fn the_source_may_be_left_to_replicaof_when_there_is_an_admin_port() {
    assert_accepted(&[|c| {
        c.source.url = None;
        c.admin.listen = Some("127.0.0.1:6390".parse().unwrap());
    }]);
}

#[test]
fn the_target_must_not_be_the_source() {
    assert_refused(&[
        (|c| c.target.url = Some("redis://127.0.0.1:6379".into()), "target.url: is the source itself (127.0.0.1:6379)"),
        (
            |c| {
                c.source.url = Some("redis://Cache.Local".into());
                c.target.url = Some("rediss://user:pw@cache.local:6379".into());
            },
            "target.url: is the source itself",
        ),
        (
            |c| {
                c.source.url = Some("redis://h:7000/1".into());
                c.target.url = Some("redis://h:7000/1".into());
            },
            "target.url: is the source itself (h:7000)",
        ),
    ]);
    assert_accepted(&[
        |c| c.target.url = Some("redis://127.0.0.1:6379/3".into()),
        |c| c.target.url = Some("redis://127.0.0.2:6379".into()),
    ]);
}

#[test]
fn tls_settings_must_fit_the_url() {
    assert_refused(&[
        (
            |c| {
                c.source.url = Some("rediss://h:6379".into());
                c.source.tls.cert_file = Some("c.pem".into());
            },
            "source.tls.cert_file: needs key_file",
        ),
        (
            |c| {
                c.source.url = Some("rediss://h:6379".into());
                c.source.tls.key_file = Some("c.key".into());
            },
            "source.tls.key_file: needs cert_file",
        ),
        (
            |c| {
                c.target.url = Some("rediss://h:6380".into());
                c.target.tls.cert_file = Some("c.pem".into());
            },
            "target.tls.cert_file: needs key_file",
        ),
        (
            |c| {
                c.target.url = Some("rediss://h:6380".into());
                c.target.tls.key_file = Some("c.key".into());
            },
            "target.tls.key_file: needs cert_file",
        ),
        (|c| c.source.tls.ca_file = Some("ca.pem".into()), "source.tls: set, but source.url is not rediss://"),
        (|c| c.target.tls.server_name = Some("t".into()), "target.tls: set, but target.url is not rediss://"),
    ]);
    assert_accepted(&[
        |c| {
            c.source.url = Some("rediss://h:6379".into());
            c.source.tls.cert_file = Some("c.pem".into());
            c.source.tls.key_file = Some("c.key".into());
            c.target.url = Some("rediss://h:6380".into());
            c.target.tls.ca_file = Some("ca.pem".into());
        },
        // For the masters REPLICAOF attaches.
        |c| {
            c.source.url = None;
            c.admin.listen = Some("127.0.0.1:6390".parse().unwrap());
            c.source.tls.ca_file = Some("ca.pem".into());
        },
    ]);
    let config = minimal_with(|c| {
        c.target.url = None;
        c.target.tls.ca_file = Some("ca.pem".into());
    });
    assert_eq!(refusals(&config), ["target.url: required"]);
}

#[test]
fn empty_strings_are_refused() {
    assert_refused(&[
        (
            |c| {
                c.source.url = Some("rediss://h".into());
                c.source.tls.ca_file = Some(PathBuf::new());
            },
            "source.tls.ca_file: must not be empty",
        ),
        (
            |c| {
                c.source.url = Some("rediss://h".into());
                c.source.tls.server_name = Some(String::new());
            },
            "source.tls.server_name: must not be empty",
        ),
        (
            |c| {
                c.target.url = Some("rediss://h:1".into());
                c.target.tls.cert_file = Some(PathBuf::new());
                c.target.tls.key_file = Some("k".into());
            },
            "target.tls.cert_file: must not be empty",
        ),
        (
            |c| {
                c.target.url = Some("rediss://h:1".into());
                c.target.tls.cert_file = Some("c".into());
                c.target.tls.key_file = Some(PathBuf::new());
            },
            "target.tls.key_file: must not be empty",
        ),
        (|c| c.admin.password = Some(String::new()), "admin.password: must not be empty"),
        (|c| c.state.dir = Some(PathBuf::new()), "state.dir: must not be empty"),
        (|c| c.log.level = String::new(), "log.level: must not be empty"),
        (|c| c.log.level = "  ".into(), "log.level: must not be empty"),
    ]);
}

#[test]
fn skip_errors_must_be_error_codes_the_writer_may_skip() {
    let words = ["busykey", "", "BUSY KEY", "ERR1", "NOSCRIPT", "MOVED", "ASK", "OOM", "É"];
    let config = minimal_with(|c| c.writer.skip_errors = words.iter().map(|w| w.to_string()).collect());
    let lines = refusals(&config);
    let want = [
        "writer.skip_errors[0]: must be an error code of letters A-Z, e.g. \"BUSYKEY\" (got \"busykey\")",
        "writer.skip_errors[1]: must be an error code of letters A-Z, e.g. \"BUSYKEY\" (got \"\")",
        "writer.skip_errors[2]: must be an error code of letters A-Z, e.g. \"BUSYKEY\" (got \"BUSY KEY\")",
        "writer.skip_errors[3]: must be an error code of letters A-Z, e.g. \"BUSYKEY\" (got \"ERR1\")",
        "writer.skip_errors[5]: \"MOVED\" is handled by the writer (cluster redirection) and cannot be skipped",
        "writer.skip_errors[6]: \"ASK\" is handled by the writer (cluster redirection) and cannot be skipped",
        "writer.skip_errors[7]: \"OOM\" cannot be skipped: a target out of memory would drop writes silently",
        "writer.skip_errors[8]: must be an error code of letters A-Z, e.g. \"BUSYKEY\" (got \"É\")",
    ];
    assert_eq!(lines, want);
}

#[test]
fn every_refusal_is_reported_each_on_its_own_line() {
    let config = minimal_with(|c| {
        c.target.url = None;
        c.writer.shards = 0;
        c.parser.batch_items = 0;
        c.log.level = String::new();
    });
    assert_eq!(
        refusals(&config),
        [
            "target.url: required",
            "writer.shards: must be between 1 and 1024 (got 0)",
            "parser.batch_items: must be at least 1 (got 0)",
            "log.level: must not be empty",
        ]
    );
}

#[test]
fn warnings_name_risky_but_allowed_settings() {
    let open = minimal_with(|c| c.admin.listen = Some("0.0.0.0:6390".parse().unwrap()));
    open.validate().unwrap();
    assert_eq!(
        open.warnings(),
        ["admin.listen: 0.0.0.0:6390 is not a loopback address and admin.password is not set: \
          anyone who can reach it can control replicant"]
    );
    let guarded = minimal_with(|c| {
        c.admin.listen = Some("0.0.0.0:6390".parse().unwrap());
        c.admin.password = Some("pw".into());
    });
    assert!(guarded.warnings().is_empty());
    let local = minimal_with(|c| c.admin.listen = Some("[::1]:6390".parse().unwrap()));
    assert!(local.warnings().is_empty());
    let skip_all = minimal_with(|c| c.writer.skip_errors = vec!["ERR".into()]);
    skip_all.validate().unwrap();
    let warnings = skip_all.warnings();
    assert!(warnings.len() == 1 && warnings[0].starts_with("writer.skip_errors: \"ERR\""), "{warnings:?}");
}

#[test]
fn load_reads_parses_and_validates() {
    let dir = std::env::temp_dir().join(format!("replicant-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, MINIMAL).unwrap();
    assert_eq!(Config::load(&good).unwrap().target.url.as_deref(), Some("redis://127.0.0.1:6380"));

    let unknown = dir.join("unknown.toml");
    std::fs::write(&unknown, format!("{MINIMAL}[writer]\nshardz = 8\n")).unwrap();
    let msg = Config::load(&unknown).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("{}:6:1: writer: unknown field", unknown.display())), "{msg}");

    let invalid = dir.join("invalid.toml");
    std::fs::write(&invalid, format!("{MINIMAL}[writer]\nshards = 0\n")).unwrap();
    let err = Config::load(&invalid).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid(ref v) if v.len() == 1 && v[0].field == "writer.shards"), "{err}");

    let missing = dir.join("missing.toml");
    let err = Config::load(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { ref path, .. } if *path == missing), "{err:?}");
    assert_eq!(err.to_string(), format!("cannot read {}", missing.display()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exactly_once_is_on_with_a_state_dir_unless_strict_key_order_is_set() {
    let mut config = minimal_with(|_| {});
    assert!(config.state.exactly_once && !config.exactly_once(), "no state dir, no markers");
    config.state.dir = Some("/tmp/state".into());
    assert!(config.exactly_once());
    config.writer.strict_key_order = true;
    assert!(!config.exactly_once());
    config.validate().unwrap();
    assert!(config.warnings().iter().any(|w| w.starts_with("state.exactly_once: off")), "{:?}", config.warnings());
    config.state.exactly_once = false;
    assert!(config.warnings().is_empty());
}
