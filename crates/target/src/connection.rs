//! One pipelined connection to the target. Batches are written whole; replies are read
//! as they come, in order, and matched to the commands that caused them. At most
//! `window` commands are unanswered at any time, so a slow target slows the sender.
//! Connecting is bounded by [`Timeouts::connect`], and a target that stops answering
//! while commands are in flight by [`Timeouts::reply`] (see `io`).

use std::collections::VecDeque;

use bytes::BytesMut;
use replicant_convert::Commands;
use tokio::time::Instant;

use bytes::Buf;

use crate::io::{read_some, within, write_reading, Wrote};
use crate::reply::{simple_run, take_reply, Reply};
use replicant_net::{Endpoint, Stream};

use crate::policy::KeysInFlight;
use crate::redirect;
use crate::{Marker, Policy, Redirect, TargetError, Timeouts};

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
    /// What it connected to (for databases reached by password).
    endpoint: Endpoint,
    stream: Stream,
    read_buf: BytesMut,
    /// Sent batches whose replies are not all read: the batch and how many were read.
    inflight: VecDeque<InFlight>,
    unanswered: usize,
    window: usize,
    stats: ConnectionStats,
    policy: Policy,
    /// Keys of the commands in flight (only tracked under `strict_key_order`).
    keys: KeysInFlight,
    /// The database the connection is in once everything sent ran.
    db: u64,
    /// Commands a cluster redirected, in order (with `follow_redirects`).
    redirects: Vec<Redirect>,
    timeouts: Timeouts,
    /// When the target last showed it is alive while commands were in flight: a reply
    /// byte read, a byte it took, or the moment the first of them was sent.
    alive: Instant,
}

/// A batch sent whose replies are not all read.
struct InFlight {
    batch: Commands,
    /// Replies read.
    done: usize,
    /// For a transaction: how many commands the caller gave (counted as acknowledged at
    /// `EXEC`).
    atomic: Option<usize>,
}

impl Connection {
    /// Connects, authenticates if the URL has credentials, and checks with PING, with the
    /// default [`Timeouts`].
    pub async fn connect(url: &Endpoint, window: usize) -> Result<Self, TargetError> {
        Self::connect_with(url, window, Timeouts::default()).await
    }

    /// Like [`Connection::connect`], within `timeouts.connect` (TCP, TLS, `AUTH` and
    /// `PING` together), and with `timeouts.reply` for the connection's life.
    pub async fn connect_with(url: &Endpoint, window: usize, timeouts: Timeouts) -> Result<Self, TargetError> {
        match within(timeouts.connect_deadline(), Self::open(url, window, timeouts)).await {
            Some(result) => result,
            None => Err(TargetError::ConnectTimeout { addr: url.addr(), secs: timeouts.connect.as_secs() }),
        }
    }

    async fn open(url: &Endpoint, window: usize, timeouts: Timeouts) -> Result<Self, TargetError> {
        let addr = url.addr();
        let stream = replicant_net::connect(url).await?;
        let mut conn = Connection {
            addr,
            endpoint: url.clone(),
            stream,
            read_buf: BytesMut::with_capacity(64 << 10),
            inflight: VecDeque::new(),
            unanswered: 0,
            window: window.max(1),
            stats: ConnectionStats::default(),
            policy: Policy::default(),
            keys: KeysInFlight::default(),
            db: 0,
            redirects: Vec::new(),
            timeouts,
            alive: Instant::now(),
        };
        if let Some(password) = crate::db_auth::first_password(url) {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = url.user.as_ref().filter(|_| url.db_passwords.is_none()) {
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
    /// A `SELECT` goes as `AUTH` to a target whose databases are reached by password.
    pub async fn query(&mut self, args: &[&[u8]]) -> Result<Reply, TargetError> {
        self.drain().await?;
        let endpoint = self.endpoint.clone();
        let args = crate::db_auth::translate_query(&endpoint, &self.addr, args)?;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            bytes.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            bytes.extend_from_slice(a);
            bytes.extend_from_slice(b"\r\n");
        }
        self.start_clock();
        // Counted while it is out, so that a timeout or a closed connection says so.
        self.unanswered += 1;
        self.write(&bytes).await?;
        let reply = self.read_reply().await?;
        self.unanswered -= 1;
        Ok(reply)
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
            let note = batch.note_of(info);
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
            segment.push_encoded(info, note, bytes);
        }
        self.send_segment(segment).await
    }

    /// Sends a batch as one transaction that also stores `marker`: the target applies all
    /// of it and the marker, or none. Errors are checked as for [`Connection::send`].
    pub async fn send_atomic(&mut self, batch: Commands, marker: &Marker) -> Result<(), TargetError> {
        if batch.is_empty() {
            return Ok(());
        }
        let given = batch.len();
        let wrapped = crate::atomic::wrap(&batch, marker, &mut self.db);
        self.transmit(wrapped, Some(given)).await
    }

    async fn send_segment(&mut self, batch: Commands) -> Result<(), TargetError> {
        if batch.is_empty() {
            return Ok(());
        }
        for info in batch.info().iter().filter(|i| i.name == "SELECT") {
            self.db = info.db;
        }
        self.transmit(batch, None).await
    }

    async fn transmit(&mut self, batch: Commands, atomic: Option<usize>) -> Result<(), TargetError> {
        let mut batch = crate::db_auth::translate(&self.endpoint, &self.addr, batch)?;
        if self.policy.strict_key_order {
            for info in batch.info() {
                if let Some(hash) = self.keys.hash_of(&batch, info) {
                    self.keys.add(hash);
                }
            }
        }
        self.start_clock();
        // Counted before the write, so that a timeout while writing says how many are out.
        self.unanswered += batch.len();
        self.write(batch.bytes()).await?;
        self.stats.bytes += batch.bytes().len() as u64;
        self.stats.sent += atomic.unwrap_or(batch.len()) as u64;
        if !self.policy.follow_redirects {
            batch.release_bytes();
        }
        self.inflight.push_back(InFlight { batch, done: 0, atomic });
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

    /// Writes all of `bytes`, reading replies while the target takes none (see
    /// [`write_reading`]); fails when it does neither for the reply timeout.
    async fn write(&mut self, mut bytes: &[u8]) -> Result<(), TargetError> {
        loop {
            let step = write_reading(&mut self.stream, &mut self.read_buf, bytes);
            let wrote = match within(self.timeouts.reply_deadline(self.alive), step).await {
                Some(Ok(wrote)) => wrote,
                Some(Err(source)) => return Err(TargetError::Io { addr: self.addr.clone(), source }),
                None => return Err(self.timed_out()),
            };
            match wrote {
                Wrote::All => return Ok(()),
                Wrote::Some(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Wrote::Read(0) => {
                    return Err(TargetError::Closed { addr: self.addr.clone(), pending: self.unanswered })
                }
                Wrote::Read(_) => {}
            }
            self.alive = Instant::now();
        }
    }

    /// Starts the reply clock when nothing was in flight (an idle connection is not a
    /// silent target).
    fn start_clock(&mut self) {
        if self.unanswered == 0 {
            self.alive = Instant::now();
        }
    }

    fn timed_out(&self) -> TargetError {
        TargetError::Timeout { addr: self.addr.clone(), secs: self.alive.elapsed().as_secs(), pending: self.unanswered }
    }

    /// Commands sent and not answered yet.
    pub fn unanswered(&self) -> usize {
        self.unanswered
    }

    /// Waits until at least one unanswered command is answered, then also takes every
    /// reply already received. Returns at once when nothing is unanswered. Cancel-safe: a
    /// reply leaves the read buffer only together with its matching, so this can race
    /// with other work in a `select!`.
    pub async fn answer_some(&mut self) -> Result<(), TargetError> {
        let mut answered = false;
        while self.unanswered > 0 {
            if self.answer_simple_run() > 0 {
                answered = true;
                continue;
            }
            match take_reply(&mut self.read_buf) {
                Ok(Some(reply)) => {
                    self.match_reply(reply)?;
                    answered = true;
                    continue;
                }
                Ok(None) if answered => return Ok(()),
                Ok(None) => {}
                Err(why) => return Err(TargetError::Protocol { addr: self.addr.clone(), why }),
            }
            self.fill().await?;
        }
        Ok(())
    }

    /// Reads at least one reply and matches it to the oldest unanswered command (and a
    /// run of simple replies already received to the commands after it).
    async fn answer_one(&mut self) -> Result<(), TargetError> {
        loop {
            if self.answer_simple_run() > 0 {
                return Ok(());
            }
            match take_reply(&mut self.read_buf) {
                Ok(Some(reply)) => return self.match_reply(reply),
                Ok(None) => {}
                Err(why) => return Err(TargetError::Protocol { addr: self.addr.clone(), why }),
            }
            self.fill().await?;
        }
    }

    /// Matches a run of `+OK` and integer replies at the front of the read buffer to the
    /// oldest batch in one go, where no reply needs looking at (not a transaction, keys
    /// not tracked); returns how many. Such a reply is never an error, so never stops.
    fn answer_simple_run(&mut self) -> usize {
        if self.policy.strict_key_order {
            return 0;
        }
        let Some(entry) = self.inflight.front_mut() else { return 0 };
        if entry.atomic.is_some() {
            return 0;
        }
        let (count, len) = simple_run(&self.read_buf, entry.batch.len().saturating_sub(entry.done));
        if count == 0 {
            return 0;
        }
        self.read_buf.advance(len);
        entry.done += count;
        if entry.done >= entry.batch.len() {
            self.inflight.pop_front();
        }
        self.unanswered = self.unanswered.saturating_sub(count);
        self.stats.acknowledged += count as u64;
        count
    }

    /// Matches a reply to the oldest unanswered command.
    fn match_reply(&mut self, reply: Reply) -> Result<(), TargetError> {
        let Some(mut entry) = self.inflight.pop_front() else {
            return Err(TargetError::Protocol { addr: self.addr.clone(), why: "a reply to no command".into() });
        };
        let result = self.answer(&mut entry, reply);
        if entry.done < entry.batch.len() {
            self.inflight.push_front(entry);
        }
        result
    }

    fn answer(&mut self, entry: &mut InFlight, reply: Reply) -> Result<(), TargetError> {
        let index = entry.done;
        entry.done += 1;
        self.unanswered -= 1;
        let Some(given) = entry.atomic else {
            self.check(&entry.batch, index, reply)?;
            self.release_key(&entry.batch, index);
            self.stats.acknowledged += 1;
            return Ok(());
        };
        if entry.done < entry.batch.len() {
            // `+OK` to MULTI, `+QUEUED` to the rest: an error here aborts the transaction.
            // A target out of memory may refuse every command queued, the batch's opening
            // `SELECT` first: then name the first command with a key instead.
            if let Reply::Error(text) = reply {
                let info = |i: usize| entry.batch.info().get(i);
                let named = match info(index) {
                    Some(c) if c.name == "SELECT" || c.name == "AUTH" => {
                        (0..entry.batch.len()).find(|&i| info(i).is_some_and(|c| c.keyed)).unwrap_or(index)
                    }
                    _ => index,
                };
                return Err(self.rejected(&entry.batch, named, text));
            }
            return Ok(());
        }
        let Reply::Array(Some(replies)) = reply else {
            return self.check(&entry.batch, index, reply);
        };
        for (i, r) in replies.into_iter().enumerate() {
            self.check(&entry.batch, i + 1, r)?;
        }
        for i in 0..entry.batch.len() {
            self.release_key(&entry.batch, i);
        }
        self.stats.acknowledged += given as u64;
        Ok(())
    }

    /// Takes the commands a cluster redirected so far, in the order they were sent.
    pub fn take_redirects(&mut self) -> Vec<Redirect> {
        std::mem::take(&mut self.redirects)
    }

    /// Whether commands were redirected and not taken yet.
    pub fn has_redirects(&self) -> bool {
        !self.redirects.is_empty()
    }

    /// An error reply stops everything unless the policy tolerates it (or, for a cluster
    /// redirection, keeps the command for the caller).
    fn check(&mut self, batch: &Commands, index: usize, reply: Reply) -> Result<(), TargetError> {
        let Reply::Error(text) = reply else { return Ok(()) };
        if self.policy.follow_redirects {
            if let (Some((kind, addr)), Some(command)) = (redirect::parse(&text), redirect::single(batch, index)) {
                self.redirects.push(Redirect { kind, addr, command });
                return Ok(());
            }
        }
        if !self.policy.tolerates(&text) {
            return Err(self.rejected(batch, index, text));
        }
        let info = batch.info().get(index);
        let (command, keys) = (info.map_or("?", |i| i.name), info.map(|i| batch.keys_text(i)));
        tracing::warn!(target = %self.addr, command, keys, reply = %text, "Target error tolerated by skip_errors.");
        self.stats.skipped += 1;
        Ok(())
    }

    fn rejected(&self, batch: &Commands, index: usize, reply: String) -> TargetError {
        let (command, db, key) = match batch.info().get(index) {
            Some(i) => (i.name, i.db, batch.keys_text(i)),
            None => ("?", 0, String::new()),
        };
        TargetError::Rejected { addr: self.addr.clone(), command, key, db, reply }
    }

    fn release_key(&mut self, batch: &Commands, index: usize) {
        if self.policy.strict_key_order {
            if let Some(hash) = batch.info().get(index).and_then(|i| self.keys.hash_of(batch, i)) {
                self.keys.remove(hash);
            }
        }
    }

    async fn read_reply(&mut self) -> Result<Reply, TargetError> {
        loop {
            match take_reply(&mut self.read_buf) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(why) => return Err(TargetError::Protocol { addr: self.addr.clone(), why }),
            }
            self.fill().await?;
        }
    }

    /// Reads what the target sent into the read buffer (cancel-safe), failing when
    /// nothing came for the reply timeout.
    async fn fill(&mut self) -> Result<(), TargetError> {
        let deadline = self.timeouts.reply_deadline(self.alive);
        let n = match within(deadline, read_some(&mut self.stream, &mut self.read_buf)).await {
            Some(read) => read.map_err(|source| TargetError::Io { addr: self.addr.clone(), source })?,
            None => return Err(self.timed_out()),
        };
        if n == 0 {
            return Err(TargetError::Closed { addr: self.addr.clone(), pending: self.unanswered });
        }
        self.alive = Instant::now();
        Ok(())
    }
}
