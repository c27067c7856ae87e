//! Commands built from their arguments, for sources whose stream is not RESP (Kvrocks
//! WriteBatches, Pika binlogs): encoded once as RESP, so that the writer forwards them
//! exactly like commands read off a Redis master's stream.

use crate::Command;

/// One command's RESP bytes and argument spans, reused from command to command.
#[derive(Debug, Default, Clone)]
pub struct CommandBuf {
    bytes: Vec<u8>,
    args: Vec<(usize, usize)>,
}

impl CommandBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        CommandBuf::default()
    }

    /// Encodes `args` (the name first) as the buffer's command, replacing the last one.
    pub fn set<A: AsRef<[u8]>>(&mut self, args: &[A]) -> &mut Self {
        self.bytes.clear();
        self.args.clear();
        let mut number = itoa::Buffer::new();
        self.line(b'*', number.format(args.len()));
        for arg in args {
            let arg = arg.as_ref();
            self.line(b'$', number.format(arg.len()));
            self.args.push((self.bytes.len(), arg.len()));
            self.bytes.extend_from_slice(arg);
            self.bytes.extend_from_slice(b"\r\n");
        }
        self
    }

    fn line(&mut self, kind: u8, number: &str) {
        self.bytes.push(kind);
        self.bytes.extend_from_slice(number.as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
    }

    /// The command, at source position `offset` in database `db`.
    pub fn command(&self, offset: u64, db: u64) -> Command<'_> {
        Command::new(&self.bytes, &self.args, offset, db, self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_built_command_reads_back_like_a_parsed_one() {
        let mut buf = CommandBuf::new();
        buf.set(&[&b"HSET"[..], b"k", b"f\r\n", b""]);
        let cmd = buf.command(99, 3);
        assert_eq!(cmd.raw(), b"*4\r\n$4\r\nHSET\r\n$1\r\nk\r\n$3\r\nf\r\n\r\n$0\r\n\r\n");
        let args: Vec<&[u8]> = cmd.args().collect();
        assert_eq!(args, [&b"HSET"[..], b"k", b"f\r\n", b""]);
        assert!(cmd.is("hset"));
        assert_eq!((cmd.offset, cmd.db, cmd.size), (99, 3, cmd.raw().len()));
        buf.set(&["DEL", "a"]);
        assert_eq!(buf.command(100, 0).raw(), b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n");
    }
}
