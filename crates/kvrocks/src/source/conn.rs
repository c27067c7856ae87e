//! One connection to a Kvrocks master, as its replicas open them: TCP or TLS, `AUTH` first
//! when a password is set, requests sent as RESP arrays, and replies read into a buffer
//! under a silence timeout. Each step of the full sync and the PSYNC stream opens its own.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use replicant_link::LinkError;
use replicant_net::{Endpoint, Stream};
use replicant_repl::CommandBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::source_error;

/// Read size, and what the buffer grows by.
const READ_CHUNK: usize = 64 * 1024;

/// A connection with its read buffer.
pub(crate) struct Conn {
    stream: Stream,
    pub(crate) buf: BytesMut,
    timeout: Duration,
    addr: String,
}

impl Conn {
    /// Connects (within `timeout`) and authenticates with the endpoint's credentials.
    pub(crate) async fn open(master: &Endpoint, timeout: Duration) -> Result<Conn, LinkError> {
        let addr = master.addr();
        let stream = tokio::time::timeout(timeout, replicant_net::connect(master))
            .await
            .map_err(|_| timed_out(&addr, timeout, "connecting"))??;
        let mut conn = Conn { stream, buf: BytesMut::with_capacity(READ_CHUNK), timeout, addr };
        if let Some(password) = &master.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &master.user {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            conn.send(&args).await?;
            let reply = conn.line().await?;
            if reply != b"+OK" {
                let text = String::from_utf8_lossy(&reply).into_owned();
                return Err(source_error(format!("{} refused AUTH: {text}", conn.addr)));
            }
        }
        Ok(conn)
    }

    /// The master's `host:port`.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one request.
    pub(crate) async fn send(&mut self, args: &[&[u8]]) -> Result<(), LinkError> {
        let mut request = CommandBuf::new();
        request.set(args);
        self.stream.write_all(request.command(0, 0).raw()).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads more bytes into the buffer; an error when the master closed or was silent for
    /// the timeout.
    pub(crate) async fn fill(&mut self) -> Result<(), LinkError> {
        self.buf.reserve(READ_CHUNK);
        let read = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf))
            .await
            .map_err(|_| timed_out(&self.addr, self.timeout, "waiting for data"))??;
        if read == 0 {
            return Err(LinkError::Closed);
        }
        Ok(())
    }

    /// Reads more bytes into the buffer, however long that takes (the caller watches for
    /// silence); an error when the master closed. Cancel-safe.
    pub(crate) async fn read_more(&mut self) -> Result<(), LinkError> {
        self.buf.reserve(READ_CHUNK);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(LinkError::Closed);
        }
        Ok(())
    }

    /// The error for a master silent for longer than the timeout.
    pub(crate) fn silent(&self) -> LinkError {
        timed_out(&self.addr, self.timeout, "streaming (not even a heartbeat)")
    }

    /// The silence timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Reads one line (without its CRLF), of at most 4 KiB.
    pub(crate) async fn line(&mut self) -> Result<Vec<u8>, LinkError> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(pos).to_vec();
                self.buf.advance(2);
                return Ok(line);
            }
            if self.buf.len() > 4096 {
                return Err(source_error(format!("{} sent a line longer than 4 KiB", self.addr)));
            }
            self.fill().await?;
        }
    }
}

/// The most a setup reply (`INFO`) may take.
const SETUP_REPLY_MAX: usize = 1 << 20;

impl Conn {
    /// Reads a bulk reply of at most 1 MiB (`INFO`); `None` for nil or an error reply.
    pub(crate) async fn bulk(&mut self) -> Result<Option<Vec<u8>>, LinkError> {
        let head = self.line().await?;
        let Some(len) = head.strip_prefix(b"$").and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok()) else {
            return Ok(None);
        };
        if len > SETUP_REPLY_MAX {
            return Err(source_error(format!("{} sent a {len}-byte reply to a setup request", self.addr)));
        }
        while self.buf.len() < len + 2 {
            self.fill().await?;
        }
        let body = self.buf.split_to(len).to_vec();
        self.buf.advance(2);
        Ok(Some(body))
    }

    /// `CONFIG GET <name>`'s value; `None` when refused or unknown.
    pub(crate) async fn config(&mut self, name: &str) -> Result<Option<String>, LinkError> {
        self.send(&[b"CONFIG", b"GET", name.as_bytes()]).await?;
        if self.line().await? != b"*2" {
            return Ok(None);
        }
        self.bulk().await?;
        Ok(self.bulk().await?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}

/// Whether the master runs with `cluster-enabled yes` (its keys then carry slot ids), from
/// `CONFIG GET cluster-enabled`; `None` when it cannot tell (no answer, or refused).
pub(crate) async fn cluster_enabled(master: &Endpoint, timeout: Duration) -> Option<bool> {
    let mut conn = Conn::open(master, timeout).await.ok()?;
    conn.send(&[b"CONFIG", b"GET", b"cluster-enabled"]).await.ok()?;
    if conn.line().await.ok()? != b"*2" {
        return None;
    }
    let mut values = Vec::new();
    for _ in 0..2 {
        conn.line().await.ok()?; // $<len>
        values.push(conn.line().await.ok()?);
    }
    let enabled = values.get(1).is_some_and(|v| v.eq_ignore_ascii_case(b"yes"));
    if enabled {
        tracing::info!("The Kvrocks master runs with cluster-enabled: its keys carry slot ids.");
    }
    Some(enabled)
}

fn timed_out(addr: &str, after: Duration, what: &str) -> LinkError {
    LinkError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{addr}: nothing for {} s while {what} (timeout)", after.as_secs()),
    ))
}
