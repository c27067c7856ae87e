//! [`SwitchWatcher`]: follows the master of one group through failovers.
//!
//! A task holds a subscription to `+switch-master` on one sentinel at a time. Each
//! session: connect and `AUTH`, `SUBSCRIBE +switch-master` (confirmed), then ask
//! `SENTINEL get-master-addr-by-name` on a second connection (a switch may have happened
//! while no sentinel was watched; asking after subscribing leaves no gap), then read
//! messages, pinging every `ping_interval` so a silent, dead sentinel is noticed. When the
//! session fails the task moves to the next sentinel in the list, waiting with backoff.
//! The task owns no state the handle needs back: dropping the handle aborts it.

use std::convert::Infallible;

use redis_protocol::resp2::types::OwnedFrame;
use replicant_net::Endpoint;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tracing::{info, warn};

use crate::connection::Connection;
use crate::discover::ask;
use crate::error::server_text;
use crate::protocol::{push_of, switch_master, Push, SWITCH_MASTER};
use crate::{MasterAddr, SentinelConfig, SentinelError};

/// Reports every new address of a master, as announced by the sentinels.
///
/// Created with [`SwitchWatcher::start`]; the watching runs in a Tokio task until
/// [`stop`](SwitchWatcher::stop) is called or the watcher is dropped (which aborts the
/// task and closes its connections). Switches in quick succession may be reported as one:
/// the watcher always holds the latest address, not a queue of them.
#[derive(Debug)]
pub struct SwitchWatcher {
    master: watch::Receiver<MasterAddr>,
    sentinel: watch::Receiver<Option<String>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SwitchWatcher {
    /// Starts watching master `name`, whose address is believed to be `current` (from
    /// [`master_addr`](crate::master_addr)); a different address found on connecting is
    /// reported as a switch. Must be called within a Tokio runtime.
    pub fn start(
        sentinels: Vec<Endpoint>,
        name: &str,
        current: MasterAddr,
        config: SentinelConfig,
    ) -> Result<Self, SentinelError> {
        if sentinels.is_empty() {
            return Err(SentinelError::NoSentinels);
        }
        let (master_tx, master) = watch::channel(current);
        let (sentinel_tx, sentinel) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let task = Task { sentinels, name: name.to_string(), config, master: master_tx, sentinel: sentinel_tx };
        let task = tokio::spawn(task.run(stop_rx));
        Ok(SwitchWatcher { master, sentinel, stop, task: Some(task) })
    }

    /// The latest known address of the master.
    pub fn master(&self) -> MasterAddr {
        self.master.borrow().clone()
    }

    /// Waits for the next switch and returns the new address; `None` once the watcher has
    /// stopped.
    pub async fn next(&mut self) -> Option<MasterAddr> {
        self.master.changed().await.ok()?;
        Some(self.master.borrow_and_update().clone())
    }

    /// A receiver of the address, for `select!` loops and other tasks.
    pub fn subscribe(&self) -> watch::Receiver<MasterAddr> {
        self.master.clone()
    }

    /// `host:port` of the sentinel currently watched; `None` while (re)connecting.
    pub fn sentinel(&self) -> Option<String> {
        self.sentinel.borrow().clone()
    }

    /// Stops the task and waits until it has closed its connections.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            // The task only ends by returning or being aborted; neither is an error here.
            let _ = task.await;
        }
    }
}

impl Drop for SwitchWatcher {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the watching task owns.
struct Task {
    sentinels: Vec<Endpoint>,
    name: String,
    config: SentinelConfig,
    master: watch::Sender<MasterAddr>,
    sentinel: watch::Sender<Option<String>>,
}

impl Task {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut wait = self.config.backoff_min;
        for endpoint in self.sentinels.iter().cycle() {
            let result = tokio::select! {
                result = self.session(endpoint, &mut wait) => result,
                () = stopped(&mut stop) => return,
            };
            let Err(failed) = result;
            self.sentinel.send_replace(None);
            warn!(sentinel = %endpoint.addr(), master = %self.name, error = %failed.chain(), ?wait,
                "No subscription on this sentinel; trying the next one.");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stopped(&mut stop) => return,
            }
            wait = self.config.next_backoff(wait);
        }
    }

    /// One subscription to one sentinel; it only ends by failing. Resets `wait` once
    /// subscribed, so the next loss is retried quickly.
    async fn session(&self, endpoint: &Endpoint, wait: &mut std::time::Duration) -> Result<Infallible, SentinelError> {
        let mut sub = Connection::open(endpoint, &self.config).await?;
        subscribe(&mut sub).await?;
        let addr = sub.addr().to_string();
        self.publish(ask(endpoint, &self.name, &self.config).await?, &addr);
        self.sentinel.send_replace(Some(addr.clone()));
        info!(sentinel = %addr, master = %self.name, "Watching the sentinel for +switch-master.");
        *wait = self.config.backoff_min;

        let silence = self.config.ping_interval + self.config.reply_timeout;
        let mut last_heard = Instant::now();
        let mut ping = interval_at(Instant::now() + self.config.ping_interval, self.config.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                frame = sub.read_reply() => {
                    last_heard = Instant::now();
                    self.handle(&sub, frame?)?;
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > silence {
                        let waiting_for = "message or reply to PING".to_string();
                        return Err(SentinelError::Timeout { addr, waiting_for, after: silence });
                    }
                    sub.send(&[b"PING"]).await?;
                }
            }
        }
    }

    /// One frame pushed on the subscribed connection.
    fn handle(&self, sub: &Connection, frame: OwnedFrame) -> Result<(), SentinelError> {
        if let OwnedFrame::Error(reply) = &frame {
            let reply = server_text(reply.as_bytes());
            return Err(SentinelError::ErrorReply { addr: sub.addr().to_string(), command: "PING", reply });
        }
        match push_of(&frame).map_err(|why| sub.protocol(why))? {
            Push::Message { channel, payload } if channel == SWITCH_MASTER => {
                // A message that cannot be read ends the session: the next one asks again.
                if let Some(addr) = switch_master(&payload, &self.name).map_err(|why| sub.protocol(why))? {
                    self.publish(addr, sub.addr());
                }
                Ok(())
            }
            Push::Message { .. } | Push::Subscribed { .. } | Push::Pong => Ok(()),
        }
    }

    /// Records `addr` as the master's address and wakes the handle if it changed.
    fn publish(&self, addr: MasterAddr, sentinel: &str) {
        self.master.send_if_modified(|current| {
            let changed = *current != addr;
            if changed {
                info!(sentinel, master = %self.name, from = %current, to = %addr, "The master switched.");
                *current = addr;
            }
            changed
        });
    }
}

/// `SUBSCRIBE +switch-master`, until the server confirms it.
async fn subscribe(sub: &mut Connection) -> Result<(), SentinelError> {
    sub.send(&[b"SUBSCRIBE", SWITCH_MASTER]).await?;
    match sub.read_reply_within("SUBSCRIBE").await? {
        OwnedFrame::Error(reply) => Err(SentinelError::ErrorReply {
            addr: sub.addr().to_string(),
            command: "SUBSCRIBE",
            reply: server_text(reply.as_bytes()),
        }),
        frame => match push_of(&frame).map_err(|why| sub.protocol(why))? {
            Push::Subscribed { channel } if channel == SWITCH_MASTER => Ok(()),
            other => Err(sub.protocol(format!("expected the SUBSCRIBE confirmation, got {other:?}"))),
        },
    }
}

/// Resolves when the stop flag is set or the handle is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender (the handle) was dropped: stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}
