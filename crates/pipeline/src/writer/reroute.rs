//! Following a resharding: commands a cluster answered with `MOVED`, `ASK` or `TRYAGAIN`
//! are collected by their senders (which then hold their acknowledged offset back), and
//! run again here, in order, before anything else is dispatched: after `MOVED` the slot
//! map is read again and the senders reconnected to the new owners; an `ASK` command
//! runs once on the importing node after `ASKING`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use replicant_convert::Commands;
use replicant_target::{Connection, Redirect, RedirectKind};

use super::{spawn_senders, Writer};
use crate::topology::Topology;
use crate::WriterError;

/// Rounds of redirections in a row before giving up (a slot bouncing between nodes).
const MAX_ROUNDS: u32 = 32;

impl Writer {
    /// Runs every redirected command where the cluster says, until none is left.
    pub(super) async fn follow_redirects(&mut self) -> Result<(), WriterError> {
        for round in 0..MAX_ROUNDS {
            self.drain_senders().await?;
            let redirected: Vec<Redirect> = self.shards.iter().flat_map(|s| s.progress.take_redirects()).collect();
            if redirected.is_empty() {
                return Ok(());
            }
            tracing::info!(commands = redirected.len(), round, "The target cluster redirected commands; following.");
            if redirected.iter().any(|r| r.kind == RedirectKind::TryAgain) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if redirected.iter().any(|r| r.kind != RedirectKind::Ask) {
                self.refresh_topology().await?;
            }
            for r in redirected {
                match r.kind {
                    RedirectKind::Ask => self.ask(&r).await?,
                    RedirectKind::Moved | RedirectKind::TryAgain => self.restage(&r.command).await?,
                }
            }
        }
        Err(WriterError::Cluster {
            what: "redirected commands".into(),
            why: "the cluster kept redirecting them (a slot moving back and forth?)",
        })
    }

    async fn restage(&mut self, command: &Commands) -> Result<(), WriterError> {
        for (info, bytes) in command.iter() {
            let i = self.topology.sender_for(info.slot);
            self.stage(i, info, command.note_of(info), bytes, info.offset).await?;
        }
        Ok(())
    }

    /// Runs a command once on the node importing its slot, after `ASKING`.
    async fn ask(&mut self, r: &Redirect) -> Result<(), WriterError> {
        let Some((host, port)) = r.addr.rsplit_once(':') else {
            return Err(WriterError::SlotMap(format!("cannot read the node of an ASK reply: {:?}", r.addr)));
        };
        let mut node = self.target_endpoint.clone();
        node.host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        node.port =
            port.parse().map_err(|_| WriterError::SlotMap(format!("bad port in an ASK reply: {:?}", r.addr)))?;
        node.db = None;
        let mut conn = Connection::connect_with(&node, 16, self.cfg.timeouts()).await?;
        let mut batch = Commands::new();
        batch.command("ASKING", 0, None, &[]);
        for (info, bytes) in r.command.iter() {
            batch.push_encoded(info, r.command.note_of(info), bytes);
        }
        conn.send(batch).await?;
        conn.drain().await?;
        Ok(())
    }

    /// Reads the slot map again and reconnects the senders (all drained) to its masters.
    async fn refresh_topology(&mut self) -> Result<(), WriterError> {
        let mut probe = Connection::connect_with(&self.target_endpoint, 16, self.cfg.timeouts()).await?;
        let topology = Topology::discover(&self.target_endpoint, &mut probe, self.cfg.shards).await?;
        let (shards, tasks) = spawn_senders(&topology, &self.cfg, &self.policy, &self.failure).await?;
        for shard in &shards {
            shard.progress.acked.store(self.dispatched, Ordering::Relaxed);
        }
        self.shards = shards;
        for task in std::mem::replace(&mut self.tasks, tasks) {
            let _ = task.await;
        }
        self.topology = topology;
        if let Ok(mut figures) = self.progress.shards.lock() {
            *figures = self.shards.iter().map(|s| s.progress.clone()).collect();
        }
        Ok(())
    }
}
