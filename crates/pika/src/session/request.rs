//! Builds the `InnerRequest`s a Pika replica sends, field for field as
//! `PikaReplClient::Send*` (`src/pika_repl_client.cc`) sets them.

use crate::position::{BinlogPos, LogOffset};
use crate::proto::inner::{inner_request, InnerRequest, Node, Slot, Type};

/// Pika 4 sends `slot_id = 0` everywhere ("not used", kept for compatibility).
const SLOT_ID: u32 = 0;

fn slot(db: &str) -> Slot {
    Slot { db_name: db.to_owned(), slot_id: SLOT_ID }
}

fn request(kind: Type) -> InnerRequest {
    InnerRequest { r#type: kind as i32, ..InnerRequest::default() }
}

/// MetaSync, with `auth` only when a masterauth is set.
pub(crate) fn meta_sync(node: &Node, auth: Option<&str>) -> InnerRequest {
    let meta = inner_request::MetaSync { node: node.clone(), auth: auth.map(str::to_owned) };
    InnerRequest { meta_sync: Some(meta), ..request(Type::MetaSync) }
}

/// TrySync from `from` (filenum and offset only, as Pika sends it).
pub(crate) fn try_sync(node: &Node, db: &str, from: BinlogPos) -> InnerRequest {
    let body = inner_request::TrySync { node: node.clone(), slot: slot(db), binlog_offset: from.to_proto() };
    InnerRequest { try_sync: Some(body), ..request(Type::TrySync) }
}

/// DBSync; `from` is the replica's own binlog position (Pika sends it, the master only logs it).
pub(crate) fn db_sync(node: &Node, db: &str, from: BinlogPos) -> InnerRequest {
    let body = inner_request::DbSync { node: node.clone(), slot: slot(db), binlog_offset: from.to_proto() };
    InnerRequest { db_sync: Some(body), ..request(Type::DbSync) }
}

/// BinlogSync: an ack of `[start, end]`, a ping (both zero) or, with `first_send`, the
/// start of streaming (both the TrySync position).
pub(crate) fn binlog_sync(
    node: &Node,
    db: &str,
    (start, end): (LogOffset, LogOffset),
    session_id: i32,
    first_send: bool,
) -> InnerRequest {
    let body = inner_request::BinlogSync {
        node: node.clone(),
        db_name: db.to_owned(),
        slot_id: SLOT_ID,
        ack_range_start: start.to_proto(),
        ack_range_end: end.to_proto(),
        session_id,
        first_send,
    };
    InnerRequest { binlog_sync: Some(body), ..request(Type::BinlogSync) }
}

/// RemoveSlaveNode for one database (the master reads only the first entry).
pub(crate) fn remove_slave_node(node: &Node, db: &str) -> InnerRequest {
    let body = inner_request::RemoveSlaveNode { node: node.clone(), slot: slot(db) };
    InnerRequest { remove_slave_node: vec![body], ..request(Type::RemoveSlaveNode) }
}
