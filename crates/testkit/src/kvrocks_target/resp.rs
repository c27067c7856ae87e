//! The wire format of the mock target: client requests read as Kvrocks 2.10.1 reads them
//! (`src/server/redis_request.cc` `Request::Tokenize`: RESP arrays of bulk strings, or an
//! inline command split on spaces and tabs), backend replies read as whole raw RESP frames
//! (so they are passed on byte for byte), and the encoders of the mock's own replies.

use std::io::{self, BufRead};

/// One command: its arguments, the name first.
pub(super) type Command = Vec<Vec<u8>>;

/// `PROTO_INLINE_MAX_SIZE` (`src/server/redis_request.h`).
const INLINE_MAX: usize = 16 * 1024;
/// `PROTO_MULTI_MAX_SIZE`.
const MULTI_MAX: i64 = 1024 * 1024;
/// `proto-max-bulk-len` default (512 MB).
const BULK_MAX: usize = 512 * 1024 * 1024;

const BAD_MULTIBULK: &str = "Protocol error: invalid multibulk length";
const BAD_BULK: &str = "Protocol error: invalid bulk length";
const EXPECTED_DOLLAR: &str = "Protocol error: expected '$'";

/// Why no command could be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The peer closed the connection, or the socket failed.
    Closed,
    /// Malformed input: Kvrocks answers `-ERR <text>` and closes.
    Protocol(&'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Closed
    }
}

/// Reads the next whole command, skipping empty lines and empty arrays as Kvrocks does.
pub(super) fn read_command(r: &mut impl BufRead) -> Result<Command, ReadError> {
    loop {
        let line = read_line(r)?;
        let only_lf = line.last() != Some(&b'\r');
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if let Some(len) = line.strip_prefix(b"*") {
            let len: i64 = parse(len).ok_or(ReadError::Protocol(BAD_MULTIBULK))?;
            if only_lf || len > MULTI_MAX {
                return Err(ReadError::Protocol(BAD_MULTIBULK));
            }
            if len > 0 {
                return read_bulks(r, len);
            }
        } else if line.len() > INLINE_MAX {
            return Err(ReadError::Protocol(BAD_BULK));
        } else {
            let words: Command =
                line.split(|b| *b == b' ' || *b == b'\t').filter(|w| !w.is_empty()).map(<[u8]>::to_vec).collect();
            if !words.is_empty() {
                return Ok(words);
            }
        }
    }
}

/// The `count` bulk strings of a request array.
fn read_bulks(r: &mut impl BufRead, count: i64) -> Result<Command, ReadError> {
    let mut args = Vec::new();
    while i64::try_from(args.len()).unwrap_or(i64::MAX) < count {
        let line = read_line(r)?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.is_empty() {
            continue;
        }
        let len = line.strip_prefix(b"$").ok_or(ReadError::Protocol(EXPECTED_DOLLAR))?;
        let len: usize = parse(len).filter(|l| *l <= BULK_MAX).ok_or(ReadError::Protocol(BAD_BULK))?;
        let mut arg = vec![0u8; len + 2];
        r.read_exact(&mut arg)?;
        arg.truncate(len);
        args.push(arg);
    }
    Ok(args)
}

/// The bytes before the next LF (the LF consumed, a CR kept); `Closed` at end of input.
fn read_line(r: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 || line.pop() != Some(b'\n') {
        return Err(ReadError::Closed);
    }
    Ok(line)
}

fn parse<T: std::str::FromStr>(digits: &[u8]) -> Option<T> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reads one whole reply (RESP2 or RESP3, nested aggregates included) and appends its
/// raw bytes to `out`.
pub(super) fn read_reply(r: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    if r.read_until(b'\n', out)? == 0 || !out.ends_with(b"\r\n") {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let line = out.get(start..out.len() - 2).unwrap_or_default();
    let (&kind, body) = line.split_first().ok_or(io::ErrorKind::InvalidData)?;
    let n: i64 = parse(body).unwrap_or(-1);
    match kind {
        b'$' | b'=' | b'!' if n >= 0 => {
            let len = usize::try_from(n).map_err(|_| io::ErrorKind::InvalidData)?;
            let at = out.len();
            out.resize(at + len + 2, 0);
            r.read_exact(out.get_mut(at..).unwrap_or_default())
        }
        b'*' | b'~' | b'>' => (0..n).try_for_each(|_| read_reply(r, out)),
        b'%' | b'|' => (0..n * 2).try_for_each(|_| read_reply(r, out)),
        _ => Ok(()),
    }
}

/// A command as a RESP array of bulk strings.
pub(super) fn encode(cmd: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", cmd.len()).into_bytes();
    for arg in cmd {
        out.extend(bulk(arg));
    }
    out
}

pub(super) fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// An array of bulk strings.
pub(super) fn array<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        out.extend(bulk(item.as_ref()));
    }
    out
}

pub(super) fn simple(text: &str) -> Vec<u8> {
    format!("+{text}\r\n").into_bytes()
}

pub(super) fn int(n: u64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

/// `-ERR <msg>`, as `redis::Error` renders a status with the default prefix.
pub(super) fn err(msg: &str) -> Vec<u8> {
    format!("-ERR {msg}\r\n").into_bytes()
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// At most 80 bytes of `bytes`, escaped, for the log.
pub(super) fn preview(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(80).flat_map(|b| std::ascii::escape_default(*b)).map(char::from).collect();
    if bytes.len() > 80 {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(input: &[u8]) -> (Vec<Command>, ReadError) {
        let mut r = input;
        let mut out = Vec::new();
        loop {
            match read_command(&mut r) {
                Ok(c) => out.push(c),
                Err(e) => return (out, e),
            }
        }
    }

    fn words(ws: &[&str]) -> Command {
        ws.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn arrays_and_inline_commands() {
        let (got, end) = commands(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\nauth  x\tY\n*0\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(got, vec![words(&["GET", "k"]), words(&["PING"]), words(&["auth", "x", "Y"]), words(&["PING"])]);
        assert_eq!(end, ReadError::Closed);
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(commands(b"*x\r\n").1, ReadError::Protocol(BAD_MULTIBULK));
        assert_eq!(commands(b"*1\n").1, ReadError::Protocol(BAD_MULTIBULK));
        assert_eq!(commands(b"*1\r\n$-1\r\n").1, ReadError::Protocol(BAD_BULK));
        assert_eq!(commands(b"*1\r\n+x\r\n").1, ReadError::Protocol(EXPECTED_DOLLAR));
    }

    #[test]
    fn replies_are_read_whole_and_raw() {
        let input: &[u8] = b"+OK\r\n$-1\r\n*2\r\n$3\r\na\r\n\r\n*1\r\n:5\r\n%1\r\n+k\r\n_\r\n-ERR x\r\n";
        let mut r = input;
        let mut frames = Vec::new();
        while !r.is_empty() {
            let mut out = Vec::new();
            read_reply(&mut r, &mut out).unwrap();
            frames.push(out);
        }
        let expected: Vec<&[u8]> =
            vec![b"+OK\r\n", b"$-1\r\n", b"*2\r\n$3\r\na\r\n\r\n*1\r\n:5\r\n", b"%1\r\n+k\r\n_\r\n", b"-ERR x\r\n"];
        assert_eq!(frames, expected);
        let mut cut: &[u8] = b"$5\r\nab";
        assert!(read_reply(&mut cut, &mut Vec::new()).is_err());
    }
}
