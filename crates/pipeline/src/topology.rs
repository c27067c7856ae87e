//! Which connections the writer opens and which one each hash slot goes to: `shards`
//! connections to a standalone target, or, for a Redis Cluster target, `shards / masters`
//! (at least one) to each master, each slot bound to its owner (from `CLUSTER SLOTS`).

use replicant_convert::SLOTS;
use replicant_net::Endpoint;
use replicant_target::{Connection, Reply};

use crate::WriterError;

/// The senders' layout.
pub(crate) struct Topology {
    /// Each sender's endpoint.
    endpoints: Vec<Endpoint>,
    /// For a cluster: each slot's sender group (node) and the group's first sender.
    slot_node: Option<Vec<u16>>,
    node_first: Vec<usize>,
    per_node: usize,
}

impl Topology {
    /// Asks the target whether it is a cluster, and lays out `shards` senders.
    pub(crate) async fn discover(seed: &Endpoint, probe: &mut Connection, shards: usize) -> Result<Self, WriterError> {
        let reply = probe.query(&[b"CLUSTER", b"SLOTS"]).await?;
        let ranges = match reply {
            Reply::Array(Some(items)) if !items.is_empty() => parse_slots(&items, seed)?,
            // Not a cluster ("ERR This instance has cluster support disabled").
            _ => {
                let endpoints = vec![seed.clone(); shards.max(1)];
                return Ok(Topology { endpoints, slot_node: None, node_first: vec![0], per_node: shards.max(1) });
            }
        };
        let mut nodes: Vec<Endpoint> = Vec::new();
        let mut slot_node = vec![u16::MAX; usize::from(SLOTS)];
        for (start, end, node) in ranges {
            let idx = match nodes.iter().position(|n| n.host == node.host && n.port == node.port) {
                Some(i) => i,
                None => {
                    nodes.push(node);
                    nodes.len() - 1
                }
            };
            for slot in slot_node.iter_mut().take(usize::from(end) + 1).skip(usize::from(start)) {
                *slot = idx as u16;
            }
        }
        if let Some(missing) = slot_node.iter().position(|n| *n == u16::MAX) {
            return Err(WriterError::SlotMap(format!("slot {missing} has no master (cluster_state not ok?)")));
        }
        let per_node = (shards / nodes.len()).max(1);
        let endpoints: Vec<Endpoint> = nodes.iter().flat_map(|n| std::iter::repeat_n(n.clone(), per_node)).collect();
        let node_first = (0..nodes.len()).map(|i| i * per_node).collect();
        Ok(Topology { endpoints, slot_node: Some(slot_node), node_first, per_node })
    }

    pub(crate) fn is_cluster(&self) -> bool {
        self.slot_node.is_some()
    }

    /// The endpoints of the senders, in order.
    pub(crate) fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The sender a slot's commands go to.
    pub(crate) fn sender_for(&self, slot: u16) -> usize {
        let spread = usize::from(slot) % self.per_node;
        match &self.slot_node {
            Some(map) => {
                let node = map.get(usize::from(slot)).copied().unwrap_or(0);
                self.node_first.get(usize::from(node)).copied().unwrap_or(0) + spread
            }
            None => spread,
        }
    }

    /// The first sender of the node that owns `slot`.
    pub(crate) fn head_for(&self, slot: u16) -> usize {
        match &self.slot_node {
            Some(map) => {
                let node = map.get(usize::from(slot)).copied().unwrap_or(0);
                self.node_first.get(usize::from(node)).copied().unwrap_or(0)
            }
            None => 0,
        }
    }

    /// One sender per node: where commands for every node go.
    pub(crate) fn node_heads(&self) -> &[usize] {
        &self.node_first
    }
}

/// `CLUSTER SLOTS`: `[[start, end, [host, port, id, …], replicas…], …]`.
fn parse_slots(items: &[Reply], seed: &Endpoint) -> Result<Vec<(u16, u16, Endpoint)>, WriterError> {
    let bad = || WriterError::SlotMap("unexpected CLUSTER SLOTS reply".into());
    let mut out = Vec::new();
    for item in items {
        let Reply::Array(Some(parts)) = item else { return Err(bad()) };
        let (Some(Reply::Integer(start)), Some(Reply::Integer(end)), Some(Reply::Array(Some(master)))) =
            (parts.first(), parts.get(1), parts.get(2))
        else {
            return Err(bad());
        };
        let host = match master.first() {
            Some(Reply::Bulk(Some(h))) if !h.is_empty() && h.as_slice() != b"?" => {
                String::from_utf8_lossy(h).into_owned()
            }
            _ => seed.host.clone(),
        };
        let Some(Reply::Integer(port)) = master.get(1) else { return Err(bad()) };
        let mut node = seed.clone();
        node.host = host;
        node.port = u16::try_from(*port).map_err(|_| bad())?;
        node.db = None;
        let (start, end) = (u16::try_from(*start).map_err(|_| bad())?, u16::try_from(*end).map_err(|_| bad())?);
        out.push((start, end, node));
    }
    Ok(out)
}
