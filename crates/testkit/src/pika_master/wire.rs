//! Framing on the two replication ports: a big-endian `u32` length, then a protobuf
//! message (Pika's `net/src/pb_conn.cc`), through replicant-pika's codec.
//!
//! testkit depends on replicant-pika only, not on `prost`/`bytes`: the `BytesMut` buffers
//! its codec takes are made by type inference (`slice.into()`, `Default::default()`), and
//! one encoder or decoder per message type stands in for a function generic over
//! `prost::Message`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use replicant_pika::proto::inner::{InnerRequest, InnerResponse};
use replicant_pika::proto::rsync::{RsyncRequest, RsyncResponse};
use replicant_pika::{encode_frame, FrameDecoder, LEN_PREFIX};

/// Pika's bound on a message (`kProtoMaxMessage`, 512 MiB): a longer one closes the link.
pub(crate) const MAX_FRAME: usize = 512 << 20;

macro_rules! decoder {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        /// Decodes one whole frame (length prefix included).
        pub(crate) fn $name(frame: &[u8]) -> Result<$ty, String> {
            let mut decoder = FrameDecoder::with_max_len(MAX_FRAME);
            match decoder.decode::<$ty>(&mut frame.into()) {
                Ok(Some(message)) => Ok(message),
                Ok(None) => Err(format!("a partial frame of {} bytes", frame.len())),
                Err(e) => Err(e.to_string()),
            }
        }
    };
}

macro_rules! encoder {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        /// Encodes one frame, length prefix included.
        pub(crate) fn $name(message: &$ty) -> Vec<u8> {
            let mut out = Default::default();
            // Only a message over 4 GiB fails to frame; none is built here.
            let _ = encode_frame(message, &mut out);
            out.to_vec()
        }
    };
}

decoder!(
    /// A replica's InnerMessage request.
    decode_inner_request,
    InnerRequest
);
decoder!(
    /// A master's InnerMessage response.
    decode_inner_response,
    InnerResponse
);
decoder!(
    /// A replica's RsyncService request.
    decode_rsync_request,
    RsyncRequest
);
decoder!(
    /// A master's RsyncService response.
    decode_rsync_response,
    RsyncResponse
);
encoder!(
    /// A master's InnerMessage response.
    encode_inner_response,
    InnerResponse
);
encoder!(
    /// A master's RsyncService response.
    encode_rsync_response,
    RsyncResponse
);
#[cfg(test)]
encoder!(
    /// A replica's InnerMessage request (tests drive the mock with them).
    encode_inner_request,
    InnerRequest
);
#[cfg(test)]
encoder!(
    /// A replica's RsyncService request.
    encode_rsync_request,
    RsyncRequest
);

/// Splits the next whole frame (prefix included) off the front of `buf`; `Ok(None)` until
/// one is there, `Err` when the announced length is over [`MAX_FRAME`].
pub(crate) fn split_frame(buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>, String> {
    let Some(prefix) = buf.first_chunk::<LEN_PREFIX>() else { return Ok(None) };
    let len = u32::from_be_bytes(*prefix) as usize;
    if len > MAX_FRAME {
        return Err(format!("a frame of {len} bytes, over Pika's {MAX_FRAME}"));
    }
    if buf.len() < LEN_PREFIX + len {
        return Ok(None);
    }
    let rest = buf.split_off(LEN_PREFIX + len);
    Ok(Some(std::mem::replace(buf, rest)))
}

/// The payloads of a stream of frames (a capture), which must split exactly.
pub(crate) fn split_payloads(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Some((prefix, rest)) = bytes.split_first_chunk::<LEN_PREFIX>() else {
            return Err(format!("{} bytes left after {} frames", bytes.len(), out.len()));
        };
        let len = u32::from_be_bytes(*prefix) as usize;
        let Some((payload, rest)) = rest.split_at_checked(len) else {
            return Err(format!("frame {} announces {len} bytes, {} left", out.len(), rest.len()));
        };
        out.push(payload.to_vec());
        bytes = rest;
    }
    Ok(out)
}

/// Reads what is there within the stream's read timeout into `buf`: `Ok(false)` at the
/// end of the stream, `Ok(true)` otherwise (also when nothing came).
pub(crate) fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 64 << 10];
    match stream.read(&mut chunk) {
        Ok(0) => Ok(false),
        Ok(n) => {
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            Ok(true)
        }
        Err(e) if is_timeout(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Writes all of `data`, waiting out write timeouts while `alive` says so.
pub(crate) fn write_all(stream: &mut TcpStream, mut data: &[u8], alive: impl Fn() -> bool) -> io::Result<()> {
    while !data.is_empty() {
        if !alive() {
            return Err(ErrorKind::ConnectionAborted.into());
        }
        match stream.write(data) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if is_timeout(&e) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A read or write that timed out (or was interrupted): try again.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use replicant_pika::proto::inner::{StatusCode, Type};

    #[test]
    fn frames_round_trip_and_split() {
        let keepalive =
            InnerResponse { r#type: Type::BinlogSync as i32, code: StatusCode::Ok as i32, ..Default::default() };
        let frame = encode_inner_response(&keepalive);
        assert_eq!(frame, [0, 0, 0, 4, 8, 4, 16, 1]);
        assert_eq!(decode_inner_response(&frame).unwrap(), keepalive);
        let mut buf = frame.repeat(2);
        buf.pop();
        assert_eq!(split_frame(&mut buf).unwrap(), Some(frame.clone()));
        assert_eq!(split_frame(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), 7);
        assert_eq!(split_payloads(&frame.repeat(3)).unwrap().len(), 3);
        assert!(split_payloads(&frame[..6]).is_err());
        let mut huge = vec![0x7f, 0xff, 0xff, 0xff];
        assert!(split_frame(&mut huge).is_err());
    }
}
