//! The example shipped as `config/replicant.toml` parses, validates, and differs from
//! the defaults only in what it sets; the complete example of docs/configuration.md
//! validates and sets every key.

use std::path::PathBuf;

use replicant_config::Config;

const EXAMPLE: &str = include_str!("../../../../config/replicant.toml");
const GUIDE: &str = include_str!("../../../../docs/configuration.md");

#[test]
fn the_example_validates_and_sets_only_the_two_urls() {
    let config = Config::from_toml_str(EXAMPLE, "config/replicant.toml").unwrap();
    config.validate().unwrap();
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    let mut want = Config::default();
    want.source.url = Some("redis://127.0.0.1:6379".into());
    want.target.url = Some("redis://127.0.0.1:6380".into());
    assert_eq!(config, want);
}

/// Uncommenting every `# key = value` and `# [table]` line of the example gives a file
/// in which each key with a default keeps it; the others take the example values.
#[test]
fn the_commented_out_values_are_the_defaults() {
    let uncommented: String = EXAMPLE
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if is_setting(rest) || rest.starts_with('[') => rest,
            _ => l,
        })
        .flat_map(|l| [l, "\n"])
        .collect();
    let config = Config::from_toml_str(&uncommented, "uncommented.toml").unwrap();
    let mut want = Config::default();
    want.source.url = Some("redis://127.0.0.1:6379".into());
    want.target.url = Some("redis://127.0.0.1:6380".into());
    for (tls, name) in [(&mut want.source.tls, "redis.internal"), (&mut want.target.tls, "redis-target.internal")] {
        tls.ca_file = Some(PathBuf::from("/etc/replicant/ca.pem"));
        tls.cert_file = Some(PathBuf::from("/etc/replicant/client.pem"));
        tls.key_file = Some(PathBuf::from("/etc/replicant/client.key"));
        tls.server_name = Some(name.into());
    }
    want.admin.listen = Some("127.0.0.1:6390".parse().unwrap());
    want.admin.password = Some("change-me".into());
    want.metrics.listen = Some("127.0.0.1:9121".parse().unwrap());
    want.state.dir = Some(PathBuf::from("/var/lib/replicant"));
    assert_eq!(config, want);
}

/// `key = value` with a lower-case key, as opposed to prose.
fn is_setting(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

/// The last TOML block of docs/configuration.md, "A complete example", validates and
/// leaves no section at its default.
#[test]
fn the_guide_s_complete_example_validates() {
    let block = GUIDE.rsplit("```toml\n").next().unwrap().split("```").next().unwrap();
    let config = Config::from_toml_str(block, "docs/configuration.md").unwrap();
    config.validate().unwrap();
    let d = Config::default();
    assert_ne!(config.source, d.source);
    assert_ne!(config.target, d.target);
    assert_ne!(config.sync, d.sync);
    assert_ne!(config.writer, d.writer);
    assert_ne!(config.parser, d.parser);
    assert_ne!(config.admin, d.admin);
    assert_ne!(config.metrics, d.metrics);
    assert_ne!(config.state, d.state);
    assert_ne!(config.log, d.log);
    assert_ne!(config.target.retry, d.target.retry);
    // Every key but source.rdb_file, source.sentinel and source.master_name, which replace
    // source.url.
    assert_eq!(block.lines().filter(|l| l.contains(" = ")).count(), 38, "one line per key of the schema");
}
