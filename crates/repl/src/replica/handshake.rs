//! The handshake: each reply the master sends to `PING`, `AUTH`, `REPLCONF` and `PSYNC`,
//! what it means, and which request comes next (`syncWithMaster` and
//! `slaveTryPartialResynchronization` in Redis's `replication.c`).

use super::{Event, Input, Phase, Replica, Step};
use crate::{ReplError, ReplId};

impl Replica {
    /// One reply line of the handshake.
    pub(super) fn reply<'a>(&mut self, step: Step, input: &'a [u8]) -> Result<Input<'a>, ReplError> {
        if input.first() == Some(&b'\n') {
            return Ok(self.consumed(1)); // keepalive while the master prepares
        }
        let Some((line, used)) = self.line(input)? else { return Ok(Input::NeedMore) };
        let line = String::from_utf8_lossy(line).into_owned();
        self.read += used as u64;
        if let Some(err) = line.strip_prefix('-') {
            return self.handshake_error(step, err, used);
        }
        let next = match step {
            Step::Ping => self.after_ping(),
            Step::Auth => Step::Port,
            Step::Port => Step::Capa,
            Step::Capa => Step::Psync,
            Step::Psync => return self.psync_reply(&line, used),
        };
        self.request(next);
        Ok(Input::Consumed(used))
    }

    pub(super) fn after_ping(&self) -> Step {
        if self.cfg.password.is_some() {
            Step::Auth
        } else {
            Step::Port
        }
    }

    pub(super) fn handshake_error<'a>(&mut self, step: Step, err: &str, used: usize) -> Result<Input<'a>, ReplError> {
        let code = err.split(' ').next().unwrap_or_default();
        let reply = err.to_string();
        // Pika and some proxies answer `-ERR NOAUTH …` where Redis says `-NOAUTH …`.
        let auth_needed =
            code == "NOAUTH" || err.starts_with("ERR NOAUTH") || err.starts_with("ERR operation not permitted");
        match step {
            Step::Ping if auth_needed || code == "NOPERM" => {
                if self.cfg.password.is_none() {
                    return Err(ReplError::AuthRequired { reply });
                }
                self.request(Step::Auth);
                return Ok(Input::Consumed(used));
            }
            _ if auth_needed => return Err(ReplError::AuthRequired { reply }),
            Step::Port | Step::Capa if code != "NOPERM" => {
                // Older masters do not know every REPLCONF option; Redis ignores this too.
                let next = if step == Step::Port { Step::Capa } else { Step::Psync };
                self.request(next);
                return Ok(Input::Consumed(used));
            }
            _ => {}
        }
        if matches!(code, "LOADING" | "NOMASTERLINK" | "MASTERDOWN" | "BUSY" | "TRYAGAIN") {
            return Err(ReplError::NotReady { reply });
        }
        if step == Step::Psync && code == "ERR" && self.cfg.sync_fallback {
            // A master before 2.8: SYNC answers with the payload directly.
            self.send(&[b"SYNC"]);
            self.snapshot_started = true;
            self.phase = Phase::Preamble;
            self.replid = None;
            self.offset = 0;
            let event = Event::FullResync { replid: None, offset: 0, partial_requested: self.partial_requested };
            return Ok(Input::Event { event, consumed: used });
        }
        Err(ReplError::Refused { step: step.name(), reply })
    }

    pub(super) fn psync_reply<'a>(&mut self, line: &str, used: usize) -> Result<Input<'a>, ReplError> {
        let mut words = line.split(' ');
        let head = words.next().unwrap_or_default();
        let bad = |what: &str, at: u64| ReplError::Protocol { what: format!("{what}: {line:?}"), at };
        match head {
            "+FULLRESYNC" => {
                let replid = words.next().and_then(|w| ReplId::parse(w.as_bytes()));
                let offset = words.next().and_then(|w| w.parse::<u64>().ok());
                let (Some(replid), Some(offset)) = (replid, offset) else {
                    return Err(bad("bad FULLRESYNC reply", self.read));
                };
                self.replid = Some(replid);
                self.offset = offset;
                self.committed = None;
                self.snapshot_started = true;
                self.phase = Phase::Preamble;
                let event =
                    Event::FullResync { replid: Some(replid), offset, partial_requested: self.partial_requested };
                Ok(Input::Event { event, consumed: used })
            }
            "+CONTINUE" => {
                let old = self.replid.ok_or_else(|| bad("CONTINUE without a resume point", self.read))?;
                let replid = match words.next().filter(|w| !w.is_empty()) {
                    Some(w) => ReplId::parse(w.as_bytes()).ok_or_else(|| bad("bad CONTINUE reply", self.read))?,
                    None => old,
                };
                self.replid = Some(replid);
                self.phase = Phase::Stream;
                self.streamed = true;
                self.next_ack = None;
                let event = Event::Continue { replid, offset: self.offset, replid_changed: replid != old };
                Ok(Input::Event { event, consumed: used })
            }
            _ => Err(bad("unexpected PSYNC reply", self.read)),
        }
    }

    pub(super) fn request(&mut self, step: Step) {
        match step {
            Step::Ping => self.send(&[b"PING"]),
            Step::Auth => {
                let user = self.cfg.user.clone();
                let password = self.cfg.password.clone().unwrap_or_default();
                match user {
                    Some(u) => self.send(&[b"AUTH", u.as_bytes(), password.as_bytes()]),
                    None => self.send(&[b"AUTH", password.as_bytes()]),
                }
            }
            Step::Port => {
                let mut buf = itoa::Buffer::new();
                let port = buf.format(self.cfg.listening_port).as_bytes().to_vec();
                self.send(&[b"REPLCONF", b"listening-port", &port]);
            }
            // No rdb-channel / dual-channel capability: the classic single connection.
            Step::Capa => self.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]),
            Step::Psync => self.send_psync(),
        }
        self.phase = Phase::Reply(step);
    }

    pub(super) fn send_psync(&mut self) {
        match self.cfg.resume {
            Some(at) => {
                self.partial_requested = true;
                let mut buf = itoa::Buffer::new();
                let next = buf.format(at.offset + 1).as_bytes().to_vec();
                self.send(&[b"PSYNC", at.replid.as_bytes(), &next]);
            }
            None => {
                self.partial_requested = false;
                self.send(&[b"PSYNC", b"?", b"-1"]);
            }
        }
    }
}
