//! One framed connection to a Pika master's replication ports (InnerMessage on port + 2000,
//! RsyncService on port + 10001): plain TCP (Pika serves no TLS there), a `u32` big-endian
//! length then a protobuf message each way. Reads are cancel-safe, so a driver can wait on
//! a frame and a timer in one `select!`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use prost::Message;
use replicant_link::LinkError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::source_error;
use crate::frame::{encode_frame, FrameDecoder};

/// Read size, and what the buffer grows by.
const READ_CHUNK: usize = 64 * 1024;

/// A framed connection.
pub(crate) struct Framed {
    stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
    out: BytesMut,
    addr: String,
}

impl Framed {
    /// Connects to `host:port` within `timeout`.
    pub(crate) async fn connect(host: &str, port: u16, timeout: Duration) -> Result<Framed, LinkError> {
        let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| timed_out(&addr, timeout, "connecting"))??;
        stream.set_nodelay(true)?;
        let (buf, out) = (BytesMut::with_capacity(READ_CHUNK), BytesMut::new());
        Ok(Framed { stream, buf, decoder: FrameDecoder::new(), out, addr })
    }

    /// Our end of the connection (the address a Pika master knows this replica by).
    pub(crate) fn local_addr(&self) -> Result<SocketAddr, LinkError> {
        Ok(self.stream.local_addr()?)
    }

    /// The master's `host:port` of this connection.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one message.
    pub(crate) async fn send<M: Message>(&mut self, message: &M) -> Result<(), LinkError> {
        self.out.clear();
        encode_frame(message, &mut self.out).map_err(|e| source_error(format!("{}: {e}", self.addr)))?;
        self.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// The next message; an error when the master closed, or sent a frame that is too long
    /// or does not decode (naming the byte offset and message number). Cancel-safe.
    pub(crate) async fn next<M: Message + Default>(&mut self) -> Result<M, LinkError> {
        loop {
            let decoded = self.decoder.decode::<M>(&mut self.buf);
            if let Some(message) = decoded.map_err(|e| source_error(format!("{} sent {e}", self.addr)))? {
                return Ok(message);
            }
            self.buf.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(LinkError::Closed);
            }
        }
    }

    /// [`Framed::next`] within `timeout`.
    pub(crate) async fn next_within<M: Message + Default>(&mut self, timeout: Duration) -> Result<M, LinkError> {
        let addr = self.addr.clone();
        tokio::time::timeout(timeout, self.next())
            .await
            .map_err(|_| timed_out(&addr, timeout, "waiting for a reply"))?
    }
}

/// The error for a master silent for longer than `after`.
pub(crate) fn timed_out(addr: &str, after: Duration, what: &str) -> LinkError {
    LinkError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{addr}: nothing for {} s while {what} (timeout)", after.as_secs()),
    ))
}
