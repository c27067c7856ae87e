//! The protobuf messages, generated at build time from `proto/*.proto` (prost, compiled by
//! protox). [`inner`]: the InnerMessage exchange on master port + 2000; [`rsync`]: the
//! RsyncService file transfer on master port + 10001. `bytes` fields are [`bytes::Bytes`].

/// InnerMessage (Pika 3.1 to 4.x): MetaSync, TrySync, DBSync, BinlogSync, RemoveSlaveNode.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod inner {
    include!(concat!(env!("OUT_DIR"), "/pika.inner.rs"));
}

/// RsyncService (Pika 3.5+): the dump's file list and its files in chunks.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod rsync {
    include!(concat!(env!("OUT_DIR"), "/pika.rsync.rs"));
}
