//! What is checked on a Pika master before its dump is fetched, over its client port: its
//! version (logged), how long it keeps its binlog (`expire-logs-nums` files,
//! `expire-logs-days`) against how long the copy may take (a warning naming the setting: a
//! copy that outlasts the binlog ends with a purged position), and its size (`db_size`),
//! which `replicant_link::check_free_space` holds against the free space before the
//! transfer.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use replicant_link::LinkError;
use replicant_net::Endpoint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::source_error;

/// A pace the copy is assumed to keep at the least, for the warning: 20 MB/s.
const SLOW_COPY_BYTES_PER_SEC: u64 = 20_000_000;
/// The largest reply read here (`INFO` is a few KiB).
const REPLY_MAX: usize = 1 << 20;

/// What the master says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MasterFacts {
    /// `pika_version`.
    pub(crate) version: Option<String>,
    /// `db_size`: the bytes of its data.
    pub(crate) db_size: Option<u64>,
    /// `expire-logs-nums`: binlog files kept.
    pub(crate) log_files: Option<u64>,
    /// `expire-logs-days`.
    pub(crate) log_days: Option<u64>,
    /// `instance-mode` (Pika 3.x: `classic` or `sharding`; gone in 4.x).
    pub(crate) instance_mode: Option<String>,
}

impl MasterFacts {
    /// Reads `INFO` and the binlog settings; what cannot be read stays `None`.
    pub(crate) async fn read(master: &Endpoint, timeout: Duration) -> Result<MasterFacts, LinkError> {
        let mut conn = Resp::connect(master, timeout).await?;
        let info = conn.query(&["INFO"]).await?.join("\n");
        let field = |name: &str| info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim);
        let number = |v: Vec<String>| v.get(1).and_then(|n| n.trim().parse().ok());
        Ok(MasterFacts {
            version: field("pika_version").map(str::to_string),
            db_size: field("db_size").and_then(|v| v.parse().ok()),
            log_files: number(conn.query(&["CONFIG", "GET", "expire-logs-nums"]).await?),
            log_days: number(conn.query(&["CONFIG", "GET", "expire-logs-days"]).await?),
            instance_mode: conn.query(&["CONFIG", "GET", "instance-mode"]).await?.get(1).map(|m| m.trim().to_string()),
        })
    }

    /// A master this link cannot follow: Pika 3.x in sharding mode, whose tables are
    /// split in slots that sync one by one.
    pub(crate) fn refusal(&self) -> Option<String> {
        let mode = self.instance_mode.as_deref()?;
        (!mode.eq_ignore_ascii_case("classic")).then(|| {
            format!(
                "the Pika master runs with instance-mode {mode}; replicant follows classic mode (Pika 4.x, or 3.x \
                 with instance-mode classic)"
            )
        })
    }

    /// Logs the master and warns when its binlog may not outlast the copy.
    pub(crate) fn report(&self) {
        tracing::info!(
            version = self.version.as_deref().unwrap_or("unknown"),
            db_bytes = self.db_size,
            expire_logs_nums = self.log_files,
            expire_logs_days = self.log_days,
            instance_mode = self.instance_mode.as_deref().unwrap_or("classic"),
            "The Pika master."
        );
        if let Some(warning) = self.retention_warning() {
            tracing::warn!("{warning}");
        }
    }

    /// A warning when the master may purge the binlog the stream needs before the copy
    /// ends: it keeps `expire-logs-nums` files (of 100 MB by default) and purges older
    /// ones once writes fill them, so a copy that takes long under heavy writes loses.
    pub(crate) fn retention_warning(&self) -> Option<String> {
        let (files, days) = (self.log_files?, self.log_days.unwrap_or(7));
        let copy_secs = self.db_size.unwrap_or(0) / SLOW_COPY_BYTES_PER_SEC;
        let fix = "raise expire-logs-nums (and expire-logs-days) on the master with CONFIG SET before the copy, \
                   or the stream may find its position purged and need a new full copy (sync.full_resync)";
        if files < 10 || copy_secs >= days * 86_400 / 2 {
            return Some(format!(
                "The Pika master keeps {files} binlog files for {days} days (expire-logs-nums, expire-logs-days) \
                 and copying its {} bytes may take {copy_secs} s or more; {fix}",
                self.db_size.unwrap_or(0)
            ));
        }
        None
    }
}

/// A minimal RESP client for the few setup queries made here.
struct Resp {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl Resp {
    async fn connect(master: &Endpoint, timeout: Duration) -> Result<Resp, LinkError> {
        let connect = TcpStream::connect((master.host.as_str(), master.port));
        let stream = tokio::time::timeout(timeout, connect).await.map_err(|_| LinkError::Closed)??;
        let mut conn = Resp { stream, buf: BytesMut::new(), timeout };
        if let Some(password) = &master.password {
            conn.query(&["AUTH", password]).await?;
        }
        Ok(conn)
    }

    /// Sends a command; its reply as strings (a bulk: one; an array: each; an error: none).
    async fn query(&mut self, args: &[&str]) -> Result<Vec<String>, LinkError> {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.stream.write_all(out.as_bytes()).await?;
        let head = self.line().await?;
        match head.split_at_checked(1) {
            Some(("$", n)) => Ok(self.bulk(n).await?.into_iter().collect()),
            Some(("*", n)) => {
                let mut items = Vec::new();
                for _ in 0..n.parse::<i64>().unwrap_or(0).clamp(0, 64) {
                    let head = self.line().await?;
                    items.extend(self.bulk(head.get(1..).unwrap_or_default()).await?);
                }
                Ok(items)
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn bulk(&mut self, len: &str) -> Result<Option<String>, LinkError> {
        let Ok(len) = usize::try_from(len.parse::<i64>().unwrap_or(-1)) else { return Ok(None) };
        if len > REPLY_MAX {
            return Err(source_error(format!("a {len}-byte reply to a setup query")));
        }
        while self.buf.len() < len + 2 {
            self.fill().await?;
        }
        let text = String::from_utf8_lossy(self.buf.get(..len).unwrap_or_default()).into_owned();
        self.buf.advance(len + 2);
        Ok(Some(text))
    }

    async fn line(&mut self) -> Result<String, LinkError> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(self.buf.get(..at).unwrap_or_default()).into_owned();
                self.buf.advance(at + 2);
                return Ok(line);
            }
            if self.buf.len() > REPLY_MAX {
                return Err(source_error("a setup reply line longer than 1 MiB".into()));
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), LinkError> {
        let read = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf));
        match read.await.map_err(|_| LinkError::Closed)?? {
            0 => Err(LinkError::Closed),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_binlog_retention_is_warned_about_by_name() {
        let facts = |size: u64, files: u64| MasterFacts {
            version: None,
            db_size: Some(size),
            log_files: Some(files),
            log_days: Some(7),
            instance_mode: None,
        };
        assert_eq!(facts(1 << 30, 10).retention_warning(), None, "Pika's defaults, 1 GiB");
        let few = facts(1 << 30, 3).retention_warning().unwrap();
        assert!(few.contains("expire-logs-nums") && few.contains("3 binlog files"), "{few}");
        assert!(facts(10 << 40, 10).retention_warning().is_some(), "10 TiB takes longer than 3.5 days");
    }

    #[test]
    fn a_sharding_mode_master_is_refused_by_name() {
        let mode = |m: Option<&str>| MasterFacts { instance_mode: m.map(str::to_string), ..MasterFacts::default() };
        assert_eq!(mode(None).refusal(), None, "4.x has no instance-mode");
        assert_eq!(mode(Some("classic")).refusal(), None);
        let refused = mode(Some("sharding")).refusal().unwrap();
        assert!(refused.contains("instance-mode sharding"), "{refused}");
    }
}
