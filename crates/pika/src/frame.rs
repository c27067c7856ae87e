//! Framing on both replication ports: a big-endian `u32` length, then that many bytes of
//! protobuf (Pika's `net/src/pb_conn.cc`). [`FrameDecoder`] splits a byte stream into
//! frames without copying and without trusting the length before checking it;
//! [`encode_frame`] writes one.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;

use crate::error::{PikaError, Result};

/// Bytes of the length prefix.
pub const LEN_PREFIX: usize = 4;

/// The decoder's default bound on a frame: 64 MiB. Pika itself accepts up to 512 MiB
/// (`kProtoMaxMessage`); a binlog batch of up to 100 items or a 4 MiB file chunk fits
/// well within this, a master with huge values may need [`FrameDecoder::with_max_len`].
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 << 20;

/// Splits a stream into frames, counting frames and bytes so errors can say where.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_len: usize,
    consumed: u64,
    frames: u64,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder bounded by [`DEFAULT_MAX_FRAME_LEN`].
    pub fn new() -> Self {
        Self::with_max_len(DEFAULT_MAX_FRAME_LEN)
    }

    /// A decoder that refuses frames over `max_len` bytes (prefix not counted).
    pub fn with_max_len(max_len: usize) -> Self {
        Self { max_len, consumed: 0, frames: 0 }
    }

    /// Stream bytes consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Frames decoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The next frame's payload, split off `buf` without copying; `None` until `buf` holds
    /// a whole frame. An announced length over the bound is an error at once.
    pub fn decode_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>> {
        let Some(prefix) = buf.get(..LEN_PREFIX) else { return Ok(None) };
        let mut prefix = prefix;
        let len = prefix.get_u32();
        let len = usize::try_from(len).ok().filter(|len| *len <= self.max_len).ok_or(PikaError::FrameTooLarge {
            len: u64::from(len),
            max: self.max_len,
            at: self.consumed,
            message: self.frames,
        })?;
        let total = LEN_PREFIX + len;
        if buf.len() < total {
            // Room for the rest of this (bounded) frame, so the driver reads it in one go.
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(LEN_PREFIX);
        let payload = buf.split_to(len).freeze();
        self.consumed += total as u64;
        self.frames += 1;
        Ok(Some(payload))
    }

    /// The next frame decoded as `M`; `None` until `buf` holds a whole frame.
    pub fn decode<M: Message + Default>(&mut self, buf: &mut BytesMut) -> Result<Option<M>> {
        let at = self.consumed;
        let message = self.frames;
        let Some(payload) = self.decode_frame(buf)? else { return Ok(None) };
        let kind = short_type_name::<M>();
        M::decode(payload).map(Some).map_err(|source| PikaError::Protobuf { kind, at, message, source })
    }

    /// At the end of the stream: an error if `buf` still holds part of a frame.
    pub fn decode_eof(&self, buf: &BytesMut) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let needed =
            buf.get(..LEN_PREFIX).map_or(LEN_PREFIX as u64, |mut p| LEN_PREFIX as u64 + u64::from(p.get_u32()));
        Err(PikaError::Truncated { at: self.consumed, message: self.frames, needed, available: buf.len() as u64 })
    }
}

/// Appends `msg` to `dst` as one frame.
pub fn encode_frame<M: Message>(msg: &M, dst: &mut BytesMut) -> Result<()> {
    let len = msg.encoded_len();
    let prefix = u32::try_from(len).map_err(|_| PikaError::Unframable { len })?;
    dst.reserve(LEN_PREFIX + len);
    dst.put_u32(prefix);
    // INVARIANT: `reserve` above made room, so encoding cannot run out of capacity.
    msg.encode(dst).map_err(|_| PikaError::Unframable { len })
}

/// `M`'s name without its module path (`InnerResponse`, not `replicant_pika::proto::…`).
fn short_type_name<M>() -> &'static str {
    let full = std::any::type_name::<M>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::inner::{InnerResponse, StatusCode, Type};

    fn keepalive() -> InnerResponse {
        InnerResponse { r#type: Type::BinlogSync as i32, code: StatusCode::Ok as i32, ..Default::default() }
    }

    #[test]
    fn round_trip_and_partial_input() {
        let mut wire = BytesMut::new();
        encode_frame(&keepalive(), &mut wire).unwrap();
        encode_frame(&keepalive(), &mut wire).unwrap();
        assert_eq!(&wire[..LEN_PREFIX], &[0, 0, 0, 4]);
        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire.iter() {
            buf.put_u8(*byte);
            if let Some(msg) = dec.decode::<InnerResponse>(&mut buf).unwrap() {
                got.push(msg);
            }
        }
        assert_eq!(got, vec![keepalive(), keepalive()]);
        assert_eq!((dec.frames(), dec.consumed()), (2, 16));
        dec.decode_eof(&buf).unwrap();
    }

    #[test]
    fn oversized_length_is_an_error_before_any_allocation() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 1][..]);
        let err = FrameDecoder::with_max_len(1024).decode_frame(&mut buf).unwrap_err();
        assert_eq!(err.to_string(), "frame 0 at byte 0 announces 4294967295 bytes, over the 1024-byte limit");
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn truncated_stream_says_where() {
        let mut buf = BytesMut::from(&[0, 0, 0, 2, 8, 4, 0, 0, 0, 9, 1][..]);
        let mut dec = FrameDecoder::new();
        assert!(dec.decode_frame(&mut buf).unwrap().is_some());
        assert!(dec.decode_frame(&mut buf).unwrap().is_none());
        let err = dec.decode_eof(&buf).unwrap_err();
        assert_eq!(err.to_string(), "stream ended inside frame 1 at byte 6: 5 of 13 bytes");
    }

    #[test]
    fn undecodable_protobuf_names_the_message() {
        // Field 1 as a length-delimited field of 5 bytes, only 1 present.
        let mut buf = BytesMut::from(&[0, 0, 0, 3, 0x0a, 5, 1][..]);
        let err = FrameDecoder::new().decode::<InnerResponse>(&mut buf).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("frame 0 at byte 0 is not a valid InnerResponse:"), "{text}");
    }
}
