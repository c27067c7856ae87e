//! Following an OpenAtomFoundation Pika 3.5/4.x master as a replica. The core is sans-IO:
//! pure codecs and state machines over bytes, no sockets, no clocks, no tokio; [`link`] is
//! the tokio driver that owns the connections, feeds them, and delivers to a
//! [`replicant_link::Sink`] like the other sources.
//!
//! # Brief overview
//!
//! A Pika replica talks to two ports of its master, both framed as a big-endian `u32`
//! length then a protobuf message ([`FrameDecoder`], [`encode_frame`]):
//!
//! - **InnerMessage**, master port + 2000 ([`proto::inner`]). [`Session`] is the replica:
//!   MetaSync (auth) → per database TrySync from a [`BinlogPos`] or DBSync for a full copy
//!   → BinlogSync streaming, yielding [`Event::Binlog`] batches and queuing the acks, pings
//!   and keepalive answers a real replica sends; RemoveSlaveNode to stop.
//! - **RsyncService**, master port + 10001 ([`proto::rsync`]), Pika 3.5+ full sync.
//!   [`Transfer`] fetches a dump's files chunk by chunk, checks the snapshot UUID on every
//!   reply and yields [`Chunk`]s to write, plus the dump's [`DumpInfo`] (the TrySync start).
//!
//! Each binlog entry is a [`BinlogItem`] (34-byte header + RESP command, decoded without
//! copying); [`BinlogItem::payload`] gives the arguments or says it is a `padding`/`dummy`
//! filler, and [`rewrite`] turns it into the Redis command to replay (`pksetexat` → `SET`,
//! `SET … PXAT` or `DEL`; Codis slot keys dropped; PFMERGE registers refused).
//!
//! ```
//! use std::time::Instant;
//! use bytes::BytesMut;
//! use replicant_pika::{encode_frame, Session, SessionConfig};
//!
//! let now = Instant::now();
//! let mut session = Session::new(SessionConfig::new("127.0.0.1", 19521), now);
//! let mut wire = BytesMut::new();
//! while let Some(request) = session.poll_transmit() {
//!     encode_frame(&request, &mut wire)?;
//! }
//! // MetaSync{node{ip: "127.0.0.1", port: 19521}}, as a real Pika 4.0.1 replica sends it.
//! assert_eq!(&wire[..], b"\0\0\0\x15\x08\x01\x12\x11\x0a\x0f\x0a\x09127.0.0.1\x10\xc1\x98\x01");
//! # Ok::<(), replicant_pika::PikaError>(())
//! ```
//!
//! # Versions
//!
//! Checked byte for byte against captures of a real Pika **v4.0.1** master and replica
//! (`shared/pika/v4.0.1`); the text follows Pika's source at v4.0.1, unchanged on
//! `unstable` up to 2024-10. Part by part:
//!
//! - Framing: every version with InnerMessage (3.1–4.x, `net/src/pb_conn.cc`).
//! - InnerMessage messages: 4.0.1's fields. 3.5.x decodes too (its MetaSync reply lacks
//!   `replication_id`/`db_instance_num`, optional here); 3.1–3.4 share the field numbers.
//! - [`Session`]: the 4.0.1 replica (`pika_repl_client*.cc`, `pika_repl_bgworker.cc`,
//!   `pika_rm.cc`); the ack and keepalive logic is identical in 3.5.5.
//! - RsyncService / [`Transfer`]: 3.5.0–4.0.1 (`rsync_client.cc`, `rsync_server.cc`;
//!   the proto did not change). Pika 3.1–3.4 pushed dumps with an rsync daemon instead
//!   (not supported); ≤ 3.0 used another protocol altogether.
//! - [`BinlogItem`]: the 34-byte header of 3.x and 4.x (`pika_binlog_transverter.cc`).
//! - [`rewrite`]: 4.0.1's binlog forms (`pksetexat` in seconds *or* milliseconds,
//!   `pika_kv.cc`); 3.x writes seconds only, which the same rule covers.
//!
//! # Layout
//!
//! - `proto`: the generated protobuf types (`proto/*.proto`, compiled by protox in
//!   `build.rs`). `frame`: length-prefixed framing. `position`: [`BinlogPos`],
//!   [`LogOffset`].
//! - `binlog`: the item header and payload. `resp`: the item's RESP command (internal).
//!   `rewrite`: binlog command → Redis command.
//! - `session`: the InnerMessage replica state machine (`handlers`: MetaSync, TrySync,
//!   DBSync, RemoveSlaveNode; `stream`: BinlogSync and acks; `request`: the requests).
//! - `rsync`: the RsyncService transfer; `rsync::info`: the dump's `info` file.
//! - `dump`: a fetched dump's RocksDB directories (4.x instances, 3.5 per-type databases)
//!   read into Redis commands ([`dump::read_dump`]).
//! - `link`: the I/O driver (`conn`: framed TCP; `session`: the InnerMessage connection
//!   and the stream; `fetch`: the dump over RsyncService; `copy`: the dump to the sink).
//! - `error`: [`PikaError`].
//!
//! Malformed input is a [`PikaError`] saying what and where; nothing panics, and no
//! allocation is sized from a length read off the wire before it is checked.
//!
//! # Not here yet
//!
//! Masters with several databases (refused by name), prechecks of binlog retention, and
//! Pika ≤ 3.4's rsync-daemon full sync. See `docs/pika.md`.

#![deny(missing_docs)]

mod binlog;
pub mod dump;
mod error;
mod frame;
pub mod link;
mod position;
pub mod proto;
mod resp;
mod rewrite;
pub mod rsync;
mod session;

pub use binlog::{BinlogItem, Filler, Payload, ITEM_HEADER_LEN, TYPE_FIRST};
pub use error::{PikaError, Result};
pub use frame::{encode_frame, FrameDecoder, DEFAULT_MAX_FRAME_LEN, LEN_PREFIX};
pub use position::{db_index, BinlogPos, LogOffset};
pub use rewrite::{
    expiry_ms, rewrite, RedisCommand, RewriteOptions, Rewritten, Skip, MS_THRESHOLD, PIKA_HLL_LEN, SLOT_KEY_PREFIXES,
};
pub use rsync::{Chunk, DumpInfo, Progress, Transfer, TransferConfig};
pub use session::{
    Batch, DbState, Entry, Event, MasterDb, MasterMeta, Phase, Session, SessionConfig, TrySyncOutcome,
    DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_MASTER_TIMEOUT,
};
