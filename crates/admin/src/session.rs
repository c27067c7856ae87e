//! [`Session`]: the sans-IO state machine of one admin connection. It owns the input buffer, framing,
//! authentication state and pending output; the driver (`admin`) owns the socket and calls the daemon.
//!
//! The driver loop: [`Session::feed`] what the socket gives, then [`Session::poll`] until `None`,
//! acting on each [`Step`]; write [`Session::take_output`] before reading again (and on
//! [`Step::Flush`]). A [`Step::Ask`] must be answered with [`Session::answer`] before polling again,
//! which keeps replies in request order.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};

use crate::auth::Auth;
use crate::command::{self, Outcome, Query};
use crate::reply::{Reply, OK};
use crate::request::Parser;

/// Pending output beyond which [`Session::poll`] asks for a flush before going on.
const FLUSH_AT: usize = 64 * 1024;

/// What the driver must do next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Write the pending output, then poll again.
    Flush,
    /// Run the query against the daemon and pass the reply to [`Session::answer`].
    Ask(Query),
    /// Write the pending output and close the connection.
    Close,
    /// Write the pending output, close the connection, then call `Control::shutdown`.
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ready,
    /// A [`Step::Ask`] awaits its answer.
    Asking,
    Closed,
}

/// One admin connection's protocol state.
#[derive(Debug)]
pub(crate) struct Session {
    input: BytesMut,
    parser: Parser,
    auth: Auth,
    output: BytesMut,
    phase: Phase,
}

impl Session {
    /// A new connection; `password` is the one `AUTH` must give, if any.
    pub(crate) fn new(password: Option<Arc<[u8]>>) -> Self {
        Session {
            input: BytesMut::new(),
            parser: Parser::default(),
            auth: Auth::new(password),
            output: BytesMut::new(),
            phase: Phase::Ready,
        }
    }

    /// Takes bytes read from the client. Call [`Session::poll`] until `None` before feeding more, so the
    /// buffer holds at most one incomplete request plus this read.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if self.phase != Phase::Closed {
            self.input.extend_from_slice(bytes);
        }
    }

    /// Runs buffered requests until one needs the driver. `None`: write the output, then read more.
    pub(crate) fn poll(&mut self) -> Option<Step> {
        while self.phase == Phase::Ready {
            if self.output.len() >= FLUSH_AT {
                return Some(Step::Flush);
            }
            let outcome = match self.parser.parse(&self.input) {
                Ok(None) => return None,
                Ok(Some(consumed)) => self.run(consumed),
                Err(e) => {
                    self.reply(&Reply::error(format!("ERR Protocol error: {e}")));
                    self.phase = Phase::Closed;
                    return Some(Step::Close);
                }
            };
            if let Some(step) = outcome.and_then(|o| self.act(o)) {
                return Some(step);
            }
        }
        None
    }

    /// The daemon's reply to the last [`Step::Ask`].
    pub(crate) fn answer(&mut self, reply: Reply) {
        debug_assert_eq!(self.phase, Phase::Asking, "answer without a question");
        if self.phase == Phase::Asking {
            self.reply(&reply);
            self.phase = Phase::Ready;
        }
    }

    /// The output to write to the client, emptied.
    pub(crate) fn take_output(&mut self) -> Bytes {
        self.output.split().freeze()
    }

    /// Interprets the framed request of `consumed` bytes and drops it from the buffer.
    fn run(&mut self, consumed: usize) -> Option<Outcome> {
        let args = self.parser.args(&self.input);
        let outcome = args.split_first().map(|(name, rest)| command::execute(name, rest, &mut self.auth));
        self.parser.reset();
        self.input.advance(consumed);
        outcome
    }

    fn act(&mut self, outcome: Outcome) -> Option<Step> {
        match outcome {
            Outcome::Reply(reply) => {
                self.reply(&reply);
                None
            }
            Outcome::Ask(query) => {
                self.phase = Phase::Asking;
                Some(Step::Ask(query))
            }
            Outcome::Quit => Some(self.close(Step::Close)),
            Outcome::Shutdown => Some(self.close(Step::Shutdown)),
        }
    }

    /// Replies `+OK` and ignores anything after.
    fn close(&mut self, step: Step) -> Step {
        self.reply(&OK);
        self.phase = Phase::Closed;
        step
    }

    fn reply(&mut self, reply: &Reply) {
        reply.encode(&mut self.output);
    }
}

#[cfg(test)]
mod tests;
