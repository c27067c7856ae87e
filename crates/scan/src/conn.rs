//! A connection to the scanned server: TCP or TLS, `AUTH` with the endpoint's
//! credentials, requests written in pipelined groups and replies decoded with
//! `redis-protocol` straight off the read buffer (a `DUMP` payload is handed out as the
//! buffer's bytes, not copied).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;
use replicant_net::{Endpoint, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ScanError;

/// Read size, and what the buffer grows by.
const READ_CHUNK: usize = 64 * 1024;

/// An open connection.
pub(crate) struct Conn {
    stream: Stream,
    buf: BytesMut,
    out: Vec<u8>,
    timeout: Duration,
    addr: String,
}

impl Conn {
    /// Connects within `timeout` and authenticates.
    pub(crate) async fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Conn, ScanError> {
        let addr = endpoint.addr();
        let connect = tokio::time::timeout(timeout, replicant_net::connect(endpoint));
        let stream = match connect.await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(ScanError::Connect { addr, why: e.to_string() }),
            Err(_) => return Err(ScanError::Connect { addr, why: format!("no answer within {timeout:?}") }),
        };
        let mut conn = Conn { stream, buf: BytesMut::with_capacity(READ_CHUNK), out: Vec::new(), timeout, addr };
        if let Some(password) = &endpoint.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &endpoint.user {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            conn.push(&args);
            conn.flush().await?;
            if let BytesFrame::Error(e) = conn.reply().await? {
                return Err(ScanError::Connect { addr: conn.addr, why: format!("AUTH refused: {e}") });
            }
        }
        Ok(conn)
    }

    /// The server's `host:port`.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Queues a request (sent by [`Conn::flush`]).
    pub(crate) fn push(&mut self, args: &[&[u8]]) {
        self.out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            self.out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            self.out.extend_from_slice(arg);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// Sends the queued requests.
    pub(crate) async fn flush(&mut self) -> Result<(), ScanError> {
        let out = std::mem::take(&mut self.out);
        self.stream.write_all(&out).await.map_err(|e| self.io(e))?;
        self.stream.flush().await.map_err(|e| self.io(e))?;
        self.out = out;
        self.out.clear();
        Ok(())
    }

    /// One request and its reply.
    pub(crate) async fn query(&mut self, args: &[&[u8]]) -> Result<BytesFrame, ScanError> {
        self.push(args);
        self.flush().await?;
        self.reply().await
    }

    /// The next reply.
    pub(crate) async fn reply(&mut self) -> Result<BytesFrame, ScanError> {
        loop {
            match decode_bytes_mut(&mut self.buf) {
                Ok(Some((frame, _, _))) => return Ok(frame),
                Ok(None) => self.fill().await?,
                Err(e) => {
                    let why = format!("sent bytes that are not RESP: {e}");
                    return Err(ScanError::Connect { addr: self.addr.clone(), why });
                }
            }
        }
    }

    async fn fill(&mut self) -> Result<(), ScanError> {
        self.buf.reserve(READ_CHUNK);
        let read = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await;
        match read {
            Ok(Ok(0)) => Err(self.io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.io(e)),
            Err(_) => Err(self.io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no reply for {} s", self.timeout.as_secs()),
            ))),
        }
    }

    fn io(&self, source: std::io::Error) -> ScanError {
        ScanError::Io { addr: self.addr.clone(), source }
    }
}

/// A bulk string's bytes; `None` for nil.
pub(crate) fn bulk(frame: &BytesFrame) -> Option<&Bytes> {
    match frame {
        BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => Some(b),
        _ => None,
    }
}

/// A short description of a reply, for errors.
pub(crate) fn describe(frame: &BytesFrame) -> String {
    match frame {
        BytesFrame::Error(e) => format!("the error {e:?}"),
        BytesFrame::Integer(i) => format!("the integer {i}"),
        BytesFrame::Null => "nil".into(),
        BytesFrame::Array(items) => format!("an array of {}", items.len()),
        BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => format!("a {}-byte string", b.len()),
    }
}
