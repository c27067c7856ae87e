//! One InnerMessage connection (master port + 2000): requests in, Pika's answers out, as
//! `PikaReplServerConn::Handle*Request` (`src/pika_repl_server_conn.cc`) gives them.
//!
//! The thread reads frames, handles each under the replication lock and sends what is
//! queued for its connection (answers, and the batches and keepalives the cron thread or
//! [`MockPika::push_items`](super::MockPika::push_items) queued). What Pika ignores is
//! ignored (a BinlogSync of an unknown node or session); what makes Pika close the
//! connection closes it (an undecodable frame, a bad `first_send`, an ACK outside the
//! window).

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use replicant_pika::proto::inner::{
    inner_request, inner_response, BinlogOffset, InnerRequest, InnerResponse, Node as PbNode, StatusCode, Type,
};
use replicant_pika::{BinlogPos, LogOffset};

use super::binlog::Check;
use super::repl::{response, slot, AckRange, Node, Repl, SlaveState};
use super::wire::{decode_inner_request, encode_inner_response, read_some, split_frame, write_all};
use super::{lock, Conn, Generation, Shared, POLL};

/// Serves one connection until it closes or the mock stops.
pub(super) fn serve(shared: &Arc<Shared>, conn: &Arc<Conn>, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(POLL));
    let mut input = Vec::new();
    let alive = || !shared.stopped() && !conn.is_closed();
    'conn: while alive() {
        for frame in conn.take_output() {
            if write_all(&mut stream, &frame, alive).is_err() {
                break 'conn;
            }
        }
        match read_some(&mut stream, &mut input) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        loop {
            let frame = match split_frame(&mut input) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    shared.note(format!("inner {}: {e}, closing", conn.id));
                    break 'conn;
                }
            };
            let request = match decode_inner_request(&frame) {
                Ok(request) => request,
                Err(e) => {
                    shared.note(format!("inner {}: undecodable request ({e}), closing", conn.id));
                    break 'conn;
                }
            };
            if let Err(why) = handle(shared, conn, request) {
                shared.note(format!("inner {}: {why}: closing the connection, as Pika does", conn.id));
                // What was answered before goes out first.
                for frame in conn.take_output() {
                    let _ = write_all(&mut stream, &frame, alive);
                }
                break 'conn;
            }
        }
    }
    conn.close();
    let mut repl = lock(&shared.repl);
    repl.lost_connection(conn.id);
    shared.dispatch(&mut repl);
}

/// Handles one request; `Err` says why Pika would close the connection.
fn handle(shared: &Shared, conn: &Conn, request: InnerRequest) -> Result<(), String> {
    let now = Instant::now();
    shared.request(describe(&request));
    let mut repl = lock(&shared.repl);
    let result = match Type::try_from(request.r#type) {
        Ok(Type::MetaSync) => {
            meta_sync(shared, &mut repl, conn, request.meta_sync.unwrap_or_default());
            Ok(())
        }
        Ok(Type::TrySync) => {
            try_sync(&mut repl, conn, request.try_sync.unwrap_or_default(), now);
            Ok(())
        }
        Ok(Type::DbSync) => {
            db_sync(&mut repl, conn, request.db_sync.unwrap_or_default(), now);
            Ok(())
        }
        Ok(Type::BinlogSync) => match request.binlog_sync {
            Some(body) => binlog_sync(shared, &mut repl, body, now),
            None => Ok(()), // "Pb parse error": ignored
        },
        Ok(Type::RemoveSlaveNode) => remove_slave_node(shared, &mut repl, conn, &request.remove_slave_node),
        _ => Ok(()),
    };
    shared.dispatch(&mut repl);
    result
}

fn answer(repl: &mut Repl, conn: &Conn, response: &InnerResponse) {
    repl.outbox.push((conn.id, encode_inner_response(response)));
}

/// `HandleMetaSyncRequest`: the password, then `TryAddSlave`.
fn meta_sync(shared: &Shared, repl: &mut Repl, conn: &Conn, body: inner_request::MetaSync) {
    let settings = &shared.settings;
    let mut reply = response(Type::MetaSync);
    let ip_port = format!("{}:{}", body.node.ip, body.node.port);
    if settings.requirepass.as_deref().is_some_and(|pass| body.auth.as_deref() != Some(pass)) {
        reply.code = StatusCode::Error as i32;
        reply.reply = Some("Auth with master error, Invalid masterauth".into());
    } else {
        repl.conn_of.insert(ip_port.clone(), conn.id);
        if repl.slaves.iter().any(|(s, _)| *s == ip_port) {
            reply.code = StatusCode::Other as i32;
            reply.reply = Some("Slave AlreadyExist".into());
        } else {
            repl.slaves.push((ip_port.clone(), conn.id));
            let dbs_info = repl
                .dbs
                .iter()
                .map(|db| inner_response::meta_sync::DbInfo {
                    db_name: db.name.clone(),
                    slot_num: 1,
                    // 3.5.x's DBInfo has no `db_instance_num`.
                    db_instance_num: (settings.generation == Generation::V4).then_some(settings.db_instance_num),
                })
                .collect();
            reply.meta_sync = Some(inner_response::MetaSync {
                classic_mode: true,
                dbs_info,
                run_id: Some(settings.run_id.clone()),
                replication_id: Some(settings.replication_id.clone()),
            });
        }
    }
    repl.notes.push(format!("inner {}: MetaSync from {ip_port} -> {}", conn.id, code_name(reply.code)));
    answer(repl, conn, &reply);
}

/// `HandleTrySyncRequest`: `TrySyncOffsetCheck`, then `TrySyncUpdateSlaveNode`.
fn try_sync(repl: &mut Repl, conn: &Conn, body: inner_request::TrySync, now: Instant) {
    use inner_response::try_sync::ReplyCode;
    let db_name = body.slot.db_name.clone();
    let mut reply = response(Type::TrySync);
    let mut outcome =
        inner_response::TrySync { reply_code: ReplyCode::Error as i32, slot: slot(&db_name), ..Default::default() };
    let (ip, port) = (body.node.ip.as_str(), body.node.port);
    let from = BinlogPos::from(&body.binlog_offset);
    let what = match repl.db_mut(&db_name) {
        None => {
            reply.code = StatusCode::Error as i32;
            reply.reply = Some("DB not found".into());
            "DB not found".to_owned()
        }
        Some(db) => {
            let end = db.binlog.end().pos;
            outcome.binlog_offset = Some(end.to_proto());
            let check = db.binlog.check(from);
            outcome.reply_code = match check {
                Check::Ok => ReplyCode::Ok as i32,
                Check::Larger => ReplyCode::SyncPointLarger as i32,
                Check::Purged => ReplyCode::SyncPointBePurged as i32,
                Check::NotBoundary => ReplyCode::Error as i32,
            };
            if check == Check::Ok {
                let session = match db.node_mut(ip, port) {
                    Some(node) => node.session_id,
                    None => {
                        let session = db.next_session;
                        db.next_session += 1;
                        db.nodes.push(Node::new(ip, port, session, now));
                        session
                    }
                };
                outcome.session_id = Some(session);
                repl.conn_of.insert(format!("{ip}:{port}"), conn.id);
                format!("kOk, session {session}")
            } else {
                format!("{check:?} (binlog {end})")
            }
        }
    };
    repl.notes.push(format!("inner {}: TrySync {db_name} from {from} for {ip}:{port} -> {what}", conn.id));
    reply.try_sync = Some(outcome);
    answer(repl, conn, &reply);
}

/// `HandleDBSyncRequest`: a node in `kSlaveDbSync`; the dump is served by RsyncService.
fn db_sync(repl: &mut Repl, conn: &Conn, body: inner_request::DbSync, now: Instant) {
    let db_name = body.slot.db_name.clone();
    let (ip, port) = (body.node.ip.as_str(), body.node.port);
    let mut reply = response(Type::DbSync);
    let mut session_id = -1;
    match repl.db_mut(&db_name) {
        None => reply.code = StatusCode::Error as i32,
        Some(db) => {
            let node = match db.nodes.iter().position(|n| n.ip == ip && n.port == port) {
                Some(at) => &mut db.nodes[at],
                None => {
                    let session = db.next_session;
                    db.next_session += 1;
                    db.nodes.push(Node::new(ip, port, session, now));
                    let at = db.nodes.len() - 1;
                    &mut db.nodes[at]
                }
            };
            node.state = SlaveState::DbSync;
            session_id = node.session_id;
            repl.conn_of.insert(format!("{ip}:{port}"), conn.id);
            repl.records.dbsync += 1;
        }
    }
    repl.notes.push(format!("inner {}: DBSync {db_name} for {ip}:{port} -> session {session_id}", conn.id));
    reply.db_sync = Some(inner_response::DbSync { slot: slot(&db_name), session_id });
    answer(repl, conn, &reply);
}

/// `HandleBinlogSyncRequest`: session check, then first send, ping or ACK.
fn binlog_sync(shared: &Shared, repl: &mut Repl, body: inner_request::BinlogSync, now: Instant) -> Result<(), String> {
    let pace = shared.settings.pace;
    let (ip, port) = (body.node.ip.as_str(), body.node.port);
    let Some(db) = repl.dbs.iter().position(|d| d.name == body.db_name) else {
        repl.notes.push(format!("BinlogSync for unknown {}: ignored", body.db_name));
        return Ok(());
    };
    let session = repl.dbs[db].node_mut(ip, port).map(|n| n.session_id);
    if session != Some(body.session_id) {
        let why = session.map_or_else(|| "no such slave node".to_owned(), |s| format!("session is {s}"));
        repl.notes.push(format!(
            "BinlogSync {} from {ip}:{port} with session {}: {why}, ignored",
            body.db_name, body.session_id
        ));
        return Ok(());
    }
    repl.heard_from(db, (ip, port), now);
    let (start, end) = (LogOffset::from(&body.ack_range_start), LogOffset::from(&body.ack_range_end));
    if body.first_send {
        if start.pos != end.pos {
            return Err(format!("first BinlogSync with range {start} .. {end}"));
        }
        repl.activate(db, (ip, port), start, pace, now)?;
        repl.notes.push(format!("{ip}:{port} {}: streaming from {}", body.db_name, start.pos));
        return Ok(());
    }
    if start.pos == BinlogPos::default() && end.pos == BinlogPos::default() {
        repl.ping(db, (ip, port), now);
        return Ok(());
    }
    let ack =
        AckRange { db: body.db_name.clone(), replica: format!("{ip}:{port}"), session_id: body.session_id, start, end };
    repl.ack(db, ack, (ip, port), pace, now)
}

/// `HandleRemoveSlaveNodeRequest`: the first entry only; the answer names the master.
fn remove_slave_node(
    shared: &Shared,
    repl: &mut Repl,
    conn: &Conn,
    entries: &[inner_request::RemoveSlaveNode],
) -> Result<(), String> {
    let Some(first) = entries.first() else { return Err("RemoveSlaveNode without an entry".into()) };
    let db_name = first.slot.db_name.clone();
    let (ip, port) = (first.node.ip.as_str(), first.node.port);
    if let Some(db) = repl.db_mut(&db_name) {
        db.nodes.retain(|n| n.ip != ip || n.port != port);
    }
    repl.notes.push(format!("inner {}: RemoveSlaveNode {db_name} {ip}:{port}", conn.id));
    let master = PbNode { ip: shared.settings.host.clone(), port: i32::from(shared.port) };
    let removed = inner_response::RemoveSlaveNode { node: master, slot: slot(&db_name) };
    let reply = InnerResponse { remove_slave_node: vec![removed], ..response(Type::RemoveSlaveNode) };
    answer(repl, conn, &reply);
    Ok(())
}

fn code_name(code: i32) -> &'static str {
    match StatusCode::try_from(code) {
        Ok(StatusCode::Ok) => "kOk",
        Ok(StatusCode::Error) => "kError",
        Ok(StatusCode::Other) => "kOther",
        Err(_) => "?",
    }
}

fn pos(offset: &BinlogOffset) -> String {
    let mut text = format!("{}:{}", offset.filenum, offset.offset);
    if let (Some(term), Some(index)) = (offset.term, offset.index) {
        text.push_str(&format!(" (term {term}, index {index})"));
    }
    text
}

/// A request as one line of text, for [`MockPika::requests`](super::MockPika::requests).
pub(super) fn describe(request: &InnerRequest) -> String {
    let node = |n: &PbNode| format!("{}:{}", n.ip, n.port);
    match Type::try_from(request.r#type) {
        Ok(Type::MetaSync) => match &request.meta_sync {
            Some(m) => {
                format!("MetaSync {}{}", node(&m.node), m.auth.as_ref().map_or(String::new(), |a| format!(" auth {a}")))
            }
            None => "MetaSync (empty)".into(),
        },
        Ok(Type::TrySync) => match &request.try_sync {
            Some(t) => format!("TrySync {} {} from {}", t.slot.db_name, pos(&t.binlog_offset), node(&t.node)),
            None => "TrySync (empty)".into(),
        },
        Ok(Type::DbSync) => match &request.db_sync {
            Some(d) => format!("DBSync {} {} from {}", d.slot.db_name, pos(&d.binlog_offset), node(&d.node)),
            None => "DBSync (empty)".into(),
        },
        Ok(Type::BinlogSync) => match &request.binlog_sync {
            Some(b) => {
                let (s, e) = (&b.ack_range_start, &b.ack_range_end);
                let what = if b.first_send {
                    format!("first_send {}", pos(s))
                } else if (s.filenum, s.offset, e.filenum, e.offset) == (0, 0, 0, 0) {
                    "ping".to_owned()
                } else {
                    format!("ack {} .. {}", pos(s), pos(e))
                };
                format!("BinlogSync {} {what} session {} from {}", b.db_name, b.session_id, node(&b.node))
            }
            None => "BinlogSync (empty)".into(),
        },
        Ok(Type::RemoveSlaveNode) => {
            let dbs: Vec<String> =
                request.remove_slave_node.iter().map(|r| format!("{} {}", r.slot.db_name, node(&r.node))).collect();
            format!("RemoveSlaveNode {}", dbs.join(", "))
        }
        _ => format!("InnerRequest type {}", request.r#type),
    }
}
