//! Every message of the six streams decodes as its type and re-encodes to the same bytes.

use bytes::{Bytes, BytesMut};
use prost::Message;
use replicant_pika::encode_frame;
use replicant_pika::proto::inner::{InnerRequest, InnerResponse};
use replicant_pika::proto::rsync::{RsyncRequest, RsyncResponse};

use crate::{frames, stream};

/// Decodes each frame of `name` as `M`, re-encodes it, and compares with the capture.
fn round_trip<M: Message + Default>(name: &str) -> Vec<M> {
    let bytes = stream(name);
    let payloads = frames(&bytes);
    let messages: Vec<M> = payloads.iter().map(|p| M::decode(p.clone()).unwrap()).collect();
    for (n, (message, payload)) in messages.iter().zip(&payloads).enumerate() {
        assert_eq!(Bytes::from(message.encode_to_vec()), *payload, "{name}: message {n} re-encodes differently");
    }
    let mut wire = BytesMut::new();
    messages.iter().for_each(|m| encode_frame(m, &mut wire).unwrap());
    assert_eq!(wire, bytes, "{name}: the stream re-encodes differently");
    messages
}

#[test]
fn every_message_round_trips() {
    assert_eq!(round_trip::<InnerRequest>("0-client-21421.bin").len(), 40);
    assert_eq!(round_trip::<InnerResponse>("0-server-21421.bin").len(), 40);
    assert_eq!(round_trip::<RsyncRequest>("1-client-29422.bin").len(), 40);
    assert_eq!(round_trip::<RsyncResponse>("1-server-29422.bin").len(), 40);
    assert_eq!(round_trip::<InnerRequest>("2-client-21421.bin").len(), 6);
    assert_eq!(round_trip::<InnerResponse>("2-server-21421.bin").len(), 5);
}

#[test]
fn the_meta_sync_reply_is_pika_4_s() {
    let replies = round_trip::<InnerResponse>("0-server-21421.bin");
    let meta = replies[0].meta_sync.as_ref().unwrap();
    assert!(meta.classic_mode);
    assert_eq!(meta.dbs_info.len(), 1);
    assert_eq!((meta.dbs_info[0].db_name.as_str(), meta.dbs_info[0].db_instance_num), ("db0", Some(3)));
    assert_eq!(meta.run_id.as_deref(), Some("b26cadd3055d2029e390af76b5ecb76b0c3141c2"));
    assert_eq!(meta.replication_id.as_deref(), Some("44270674dabc5485695db5d65755d5adf3cb654a23e1959d15"));
}

#[test]
fn a_cut_stream_is_a_clear_error() {
    use replicant_pika::FrameDecoder;
    let bytes = stream("0-server-21421.bin");
    // Cut inside frame 4 (it starts at byte 201 and is 4 + 93 bytes long).
    let mut buf = BytesMut::from(&bytes[..250]);
    let mut decoder = FrameDecoder::new();
    let whole: Vec<InnerResponse> = std::iter::from_fn(|| decoder.decode(&mut buf).unwrap()).collect();
    assert_eq!(whole.len(), 4);
    let err = decoder.decode_eof(&buf).unwrap_err();
    assert_eq!(err.to_string(), "stream ended inside frame 4 at byte 201: 49 of 97 bytes");
    // Frame 4's first 50 bytes framed as a whole message: its binlog item runs past the end.
    let mut buf = BytesMut::from(&[0, 0, 0, 50][..]);
    buf.extend_from_slice(&bytes[205..255]);
    let err = FrameDecoder::new().decode::<InnerResponse>(&mut buf).unwrap_err();
    assert!(err.to_string().starts_with("frame 0 at byte 0 is not a valid InnerResponse: "), "{err}");
}

#[test]
fn any_split_of_the_stream_gives_the_same_frames() {
    use replicant_pika::FrameDecoder;
    for name in ["0-server-21421.bin", "1-server-29422.bin"] {
        let bytes = stream(name);
        let whole = frames(&bytes);
        for step in [1, 3, 7, 4096] {
            let (mut buf, mut decoder, mut got) = (BytesMut::new(), FrameDecoder::new(), Vec::new());
            for piece in bytes.chunks(step) {
                buf.extend_from_slice(piece);
                got.extend(std::iter::from_fn(|| decoder.decode_frame(&mut buf).unwrap()));
            }
            decoder.decode_eof(&buf).unwrap();
            assert_eq!(got, whole, "{name} fed {step} bytes at a time");
        }
    }
}
