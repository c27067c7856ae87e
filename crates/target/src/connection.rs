//! One pipelined connection to the target. Batches are written whole; replies are read
//! as they come, in order, and matched to the commands that caused them. At most
//! `window` commands are unanswered at any time, so a slow target slows the sender.

use std::collections::VecDeque;

use bytes::BytesMut;
use replicant_convert::Commands;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::reply::{take_reply, Reply};
use replicant_net::{Endpoint, Stream};

use crate::policy::KeysInFlight;
use crate::{Policy, TargetError};

/// Counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Commands sent.
    pub sent: u64,
    /// Commands answered without error.
    pub acknowledged: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Error replies tolerated by the policy (counted in `acknowledged` too).
    pub skipped: u64,
}

/// A pipelined connection to the target.
pub struct Connection {
    addr: String,
    stream: Stream,
    read_buf: BytesMut,
    /// Sent batches whose replies are not all read: the batch and how many were read.
    inflight: VecDeque<(Commands, usize)>,
    unanswered: usize,
    window: usize,
    stats: ConnectionStats,
    policy: Policy,
    /// Keys of the commands in flight (only tracked under `strict_key_order`).
    keys: KeysInFlight,
}

impl Connection {
    /// Connects, authenticates if the URL has credentials, and checks with PING.
    pub async fn connect(url: &Endpoint, window: usize) -> Result<Self, TargetError> {
        let addr = url.addr();
        let stream = replicant_net::connect(url).await?;
        let mut conn = Connection {
            addr,
            stream,
            read_buf: BytesMut::with_capacity(64 << 10),
            inflight: VecDeque::new(),
            unanswered: 0,
            window: window.max(1),
            stats: ConnectionStats::default(),
            policy: Policy::default(),
            keys: KeysInFlight::default(),
        };
        if let Some(password) = &url.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &url.user {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            conn.setup(&args).await?;
        }
        conn.setup(&[b"PING"]).await?;
        Ok(conn)
    }

    async fn setup(&mut self, args: &[&[u8]]) -> Result<Reply, TargetError> {
        match self.query(args).await? {
            Reply::Error(reply) => Err(TargetError::Setup { addr: self.addr.clone(), reply }),
            other => Ok(other),
        }
    }

    /// Sends one command and waits for its reply (for setup and inspection; not
    /// pipelined with batches).
    pub async fn query(&mut self, args: &[&[u8]]) -> Result<Reply, TargetError> {
        self.drain().await?;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            bytes.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            bytes.extend_from_slice(a);
            bytes.extend_from_slice(b"\r\n");
        }
        self.write(&bytes).await?;
        self.read_reply().await
    }

    /// Sets which errors are tolerated and whether writes to one key may overlap.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The target's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Counters so far.
    pub fn stats(&self) -> ConnectionStats {
        self.stats
    }

    /// Writes a batch, then reads replies until at most `window` commands are
    /// unanswered. An error reply ends the connection's use with [`TargetError::Rejected`].
    pub async fn send(&mut self, batch: Commands) -> Result<(), TargetError> {
        if self.policy.strict_key_order {
            return self.send_strict(batch).await;
        }
        self.send_segment(batch).await
    }

    /// Sends a batch in segments, so that a command waits until every earlier command on
    /// its key was answered.
    async fn send_strict(&mut self, batch: Commands) -> Result<(), TargetError> {
        let mut segment = Commands::new();
        let mut segment_keys = Vec::new();
        for (info, bytes) in batch.iter() {
            let key = batch.key_of(info);
            if let Some(hash) = self.keys.hash_of(&batch, info) {
                if self.keys.contains(hash) || segment_keys.contains(&hash) {
                    self.send_segment(segment.take()).await?;
                    segment_keys.clear();
                    while self.keys.contains(hash) {
                        self.answer_one().await?;
                    }
                }
                segment_keys.push(hash);
            }
            segment.push_encoded(info, key, bytes);
        }
        self.send_segment(segment).await
    }

    async fn send_segment(&mut self, mut batch: Commands) -> Result<(), TargetError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.policy.strict_key_order {
            for info in batch.info() {
                if let Some(hash) = self.keys.hash_of(&batch, info) {
                    self.keys.add(hash);
                }
            }
        }
        self.write(batch.bytes()).await?;
        self.stats.bytes += batch.bytes().len() as u64;
        self.stats.sent += batch.len() as u64;
        self.unanswered += batch.len();
        batch.release_bytes();
        self.inflight.push_back((batch, 0));
        while self.unanswered > self.window {
            self.answer_one().await?;
        }
        Ok(())
    }

    /// Waits until every command sent was answered.
    pub async fn drain(&mut self) -> Result<(), TargetError> {
        while self.unanswered > 0 {
            self.answer_one().await?;
        }
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        self.stream.write_all(bytes).await.map_err(|source| TargetError::Io { addr: self.addr.clone(), source })
    }

    /// Reads one reply and matches it to the oldest unanswered command.
    async fn answer_one(&mut self) -> Result<(), TargetError> {
        let reply = self.read_reply().await?;
        let Some((batch, done)) = self.inflight.front_mut() else {
            return Err(TargetError::Protocol { addr: self.addr.clone(), why: "a reply to no command".into() });
        };
        let info = batch.info().get(*done);
        if let Reply::Error(text) = reply {
            let (command, db, key) = match info {
                Some(i) => (i.name, i.db, format!("\"{}\"", batch.key_of(i).escape_ascii())),
                None => ("?", 0, String::new()),
            };
            if !self.policy.tolerates(&text) {
                return Err(TargetError::Rejected { addr: self.addr.clone(), command, key, db, reply: text });
            }
            tracing::warn!(target = %self.addr, command, key, db, reply = %text, "Target error tolerated by skip_errors.");
            self.stats.skipped += 1;
        }
        if self.policy.strict_key_order {
            if let Some(hash) = info.and_then(|i| self.keys.hash_of(batch, i)) {
                self.keys.remove(hash);
            }
        }
        *done += 1;
        self.unanswered -= 1;
        self.stats.acknowledged += 1;
        if *done >= batch.len() {
            self.inflight.pop_front();
        }
        Ok(())
    }

    async fn read_reply(&mut self) -> Result<Reply, TargetError> {
        loop {
            match take_reply(&mut self.read_buf) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(why) => return Err(TargetError::Protocol { addr: self.addr.clone(), why }),
            }
            let n = self
                .stream
                .read_buf(&mut self.read_buf)
                .await
                .map_err(|source| TargetError::Io { addr: self.addr.clone(), source })?;
            if n == 0 {
                return Err(TargetError::Closed { addr: self.addr.clone(), pending: self.unanswered });
            }
        }
    }
}
