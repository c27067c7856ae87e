//! One connection to a sentinel or a Redis server: opened and authenticated under the
//! configured timeouts, then used for request/reply commands or, once subscribed, for
//! reading pushed messages. Framing and reply checks live in `protocol`.

use std::time::Duration;

use bytes::BytesMut;
use redis_protocol::resp2::types::OwnedFrame;
use replicant_net::{Endpoint, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use crate::error::server_text;
use crate::protocol::{encode_command, take_reply};
use crate::{SentinelConfig, SentinelError};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 4096;

/// An open, authenticated connection.
pub(crate) struct Connection {
    addr: String,
    stream: Stream,
    buf: BytesMut,
    reply_timeout: Duration,
}

impl Connection {
    /// Connects (TCP, TLS for `rediss://`) within `connect_timeout`, then sends
    /// `AUTH [user] password` if the endpoint has a password.
    pub(crate) async fn open(endpoint: &Endpoint, config: &SentinelConfig) -> Result<Self, SentinelError> {
        let addr = endpoint.addr();
        let stream = match timeout(config.connect_timeout, replicant_net::connect(endpoint)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(SentinelError::Connect(error)),
            Err(_) => {
                let waiting_for = "connection".to_string();
                return Err(SentinelError::Timeout { addr, waiting_for, after: config.connect_timeout });
            }
        };
        let mut conn = Connection { addr, stream, buf: BytesMut::new(), reply_timeout: config.reply_timeout };
        if let Some(password) = &endpoint.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            args.extend(endpoint.user.as_deref().map(str::as_bytes));
            args.push(password.as_bytes());
            match conn.call("AUTH", &args).await {
                Err(SentinelError::ErrorReply { reply, .. }) => {
                    return Err(SentinelError::Auth { addr: conn.addr, reply });
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        Ok(conn)
    }

    /// `host:port` of the peer.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends a command and reads its reply within the reply timeout; an error reply
    /// becomes [`SentinelError::ErrorReply`] naming `command`.
    pub(crate) async fn call(&mut self, command: &'static str, args: &[&[u8]]) -> Result<OwnedFrame, SentinelError> {
        self.send(args).await?;
        match self.read_reply_within(command).await? {
            OwnedFrame::Error(reply) => Err(SentinelError::ErrorReply {
                addr: self.addr.clone(),
                command,
                reply: server_text(reply.as_bytes()),
            }),
            frame => Ok(frame),
        }
    }

    /// Writes a command (within the reply timeout) without waiting for its reply.
    pub(crate) async fn send(&mut self, args: &[&[u8]]) -> Result<(), SentinelError> {
        let mut out = BytesMut::new();
        encode_command(&mut out, args).map_err(|why| self.protocol(why))?;
        match timeout(self.reply_timeout, self.stream.write_all(&out)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(SentinelError::Io { addr: self.addr.clone(), source }),
            Err(_) => Err(self.timeout("write")),
        }
    }

    /// The next reply, waiting at most the reply timeout.
    pub(crate) async fn read_reply_within(&mut self, command: &str) -> Result<OwnedFrame, SentinelError> {
        match timeout(self.reply_timeout, self.read_reply()).await {
            Ok(reply) => reply,
            Err(_) => Err(self.timeout(&format!("reply to {command}"))),
        }
    }

    /// The next reply, however long it takes. Cancel-safe: bytes already read stay in the
    /// buffer for the next call.
    pub(crate) async fn read_reply(&mut self) -> Result<OwnedFrame, SentinelError> {
        loop {
            if let Some(frame) = take_reply(&mut self.buf).map_err(|why| self.protocol(why))? {
                return Ok(frame);
            }
            self.buf.reserve(READ_CHUNK);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return Err(SentinelError::Closed { addr: self.addr.clone() }),
                Ok(_) => {}
                Err(source) => return Err(SentinelError::Io { addr: self.addr.clone(), source }),
            }
        }
    }

    /// A protocol error about this peer.
    pub(crate) fn protocol(&self, why: String) -> SentinelError {
        SentinelError::Protocol { addr: self.addr.clone(), why }
    }

    fn timeout(&self, waiting_for: &str) -> SentinelError {
        SentinelError::Timeout {
            addr: self.addr.clone(),
            waiting_for: waiting_for.to_string(),
            after: self.reply_timeout,
        }
    }
}
