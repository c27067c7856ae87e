//! Running the `replicant` binary from tests.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `replicant` with these arguments and returns its output.
pub(crate) fn replicant(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replicant")).args(args).output().expect("run replicant")
}

/// Runs `replicant`, failing the test with its stderr if it does not succeed.
pub(crate) fn replicant_ok(args: &[&str]) -> Output {
    let out = replicant(args);
    assert!(
        out.status.success(),
        "replicant {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `replicant rdb dump FILE | redis-cli -p PORT --pipe`.
pub(crate) fn dump_into(file: &Path, port: u16, extra: &[&str]) {
    let mut args = vec!["rdb", "dump", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let dump = replicant_ok(&args);
    let mut cli = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli must be installed (apt-get install redis-tools)");
    {
        use std::io::Write;
        let mut stdin = cli.stdin.take().unwrap();
        stdin.write_all(&dump.stdout).unwrap();
    }
    let out = cli.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("errors: 0"), "redis-cli --pipe reported: {text}");
}
