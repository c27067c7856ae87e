//! The request tokenizer of the mock master, as Kvrocks 2.10.1 splits its input
//! (`src/server/redis_request.cc` `Request::Tokenize`): RESP2 arrays of bulks, and inline
//! commands (one line, LF or CRLF, split on spaces and tabs). A malformed request is a
//! protocol error, which Kvrocks answers with `-ERR Protocol error: ...` and then closes.

/// `PROTO_INLINE_MAX_SIZE` (`src/server/redis_request.h`).
const INLINE_MAX: usize = 16 * 1024;
/// `PROTO_MULTI_MAX_SIZE`.
const MULTI_MAX: i64 = 1024 * 1024;
/// `proto-max-bulk-len` default (512 MB).
const BULK_MAX: u64 = 512 * 1024 * 1024;

const BAD_MULTIBULK: &str = "Protocol error: invalid multibulk length";
const BAD_BULK: &str = "Protocol error: invalid bulk length";
const EXPECTED_DOLLAR: &str = "Protocol error: expected '$'";

/// One command: its arguments, the name first.
pub(super) type Command = Vec<Vec<u8>>;

#[derive(Debug, Clone, Copy)]
enum State {
    ArrayLen,
    BulkLen,
    BulkData,
}

/// Splits a byte stream into commands; keeps its place across reads.
#[derive(Debug)]
pub(super) struct Tokenizer {
    state: State,
    multi_bulk_len: i64,
    bulk_len: usize,
    tokens: Command,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer { state: State::ArrayLen, multi_bulk_len: 0, bulk_len: 0, tokens: Vec::new() }
    }
}

impl Tokenizer {
    /// The next whole command in `buf` (consumed from it), `Ok(None)` when more bytes are
    /// needed, or the protocol error text.
    pub(super) fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<Command>, &'static str> {
        loop {
            match self.state {
                State::ArrayLen => {
                    let Some(line) = take_line(buf) else { return Ok(None) };
                    let only_lf = line.last() != Some(&b'\r');
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    if line.is_empty() {
                        continue;
                    }
                    if let Some(len) = line.strip_prefix(b"*") {
                        let len = parse_i64(len).ok_or(BAD_MULTIBULK)?;
                        if only_lf || len > MULTI_MAX {
                            return Err(BAD_MULTIBULK);
                        }
                        if len > 0 {
                            self.multi_bulk_len = len;
                            self.state = State::BulkLen;
                        }
                    } else {
                        if line.len() > INLINE_MAX {
                            return Err(BAD_BULK);
                        }
                        let words: Command = line
                            .split(|b| *b == b' ' || *b == b'\t')
                            .filter(|w| !w.is_empty())
                            .map(<[u8]>::to_vec)
                            .collect();
                        if !words.is_empty() {
                            return Ok(Some(words));
                        }
                    }
                }
                State::BulkLen => {
                    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
                    let line: Vec<u8> = buf.drain(..end + 2).take(end).collect();
                    let Some(len) = line.strip_prefix(b"$") else {
                        if line.is_empty() {
                            continue;
                        }
                        return Err(EXPECTED_DOLLAR);
                    };
                    let len = parse_u64(len).filter(|l| *l <= BULK_MAX).ok_or(BAD_BULK)?;
                    self.bulk_len = usize::try_from(len).map_err(|_| BAD_BULK)?;
                    self.state = State::BulkData;
                }
                State::BulkData => {
                    if buf.len() < self.bulk_len + 2 {
                        return Ok(None);
                    }
                    let arg: Vec<u8> = buf.drain(..self.bulk_len + 2).take(self.bulk_len).collect();
                    self.tokens.push(arg);
                    self.multi_bulk_len -= 1;
                    if self.multi_bulk_len == 0 {
                        self.state = State::ArrayLen;
                        return Ok(Some(std::mem::take(&mut self.tokens)));
                    }
                    self.state = State::BulkLen;
                }
            }
        }
    }
}

/// The bytes before the next LF, consumed with it.
fn take_line(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = buf.iter().position(|b| *b == b'\n')?;
    let mut line: Vec<u8> = buf.drain(..=end).collect();
    line.pop();
    Some(line)
}

fn parse_i64(digits: &[u8]) -> Option<i64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `ParseInt<uint64_t>(s, 10)` as Kvrocks does it with `strtoull`: leading white space and
/// a sign are accepted, and a negative number wraps (`"-1"` is `u64::MAX`); the whole
/// string must be the number, and it must fit.
pub(super) fn parse_u64_like_strtoull(s: &[u8]) -> Option<u64> {
    let start = s.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))?;
    let (negative, digits) = match s.get(start..)? {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(if negative { value.wrapping_neg() } else { value })
}

/// `ParseInt<int>(s, 10)` (`strtol`): white space and a sign first, the whole string.
pub(super) fn parse_i64_like_strtol(s: &[u8]) -> Option<i64> {
    let start = s.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))?;
    let text = std::str::from_utf8(s.get(start..)?).ok()?;
    text.strip_prefix('+').unwrap_or(text).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Result<Vec<Command>, &'static str> {
        let mut t = Tokenizer::default();
        let mut buf = input.to_vec();
        let mut out = Vec::new();
        while let Some(c) = t.next(&mut buf)? {
            out.push(c);
        }
        Ok(out)
    }

    fn words(ws: &[&str]) -> Command {
        ws.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn arrays_and_inline_commands() {
        let got = all(b"*2\r\n$4\r\nPSYNC\r\n$2\r\n99\r\nPING\r\n\r\nauth  x\tY\n*0\r\n").unwrap_err();
        assert_eq!(got, EXPECTED_DOLLAR, "a bulk longer than announced leaves junk");
        let got = all(b"*2\r\n$5\r\nPSYNC\r\n$2\r\n99\r\nPING\r\n\r\nauth  x\tY\n*0\r\n").unwrap();
        assert_eq!(got, vec![words(&["PSYNC", "99"]), words(&["PING"]), words(&["auth", "x", "Y"])]);
    }

    #[test]
    fn a_command_split_anywhere_comes_out_whole() {
        let input = b"*3\r\n$8\r\nreplconf\r\n$14\r\nlistening-port\r\n$4\r\n6380\r\n";
        for cut in 0..input.len() {
            let mut t = Tokenizer::default();
            let mut buf = input[..cut].to_vec();
            let first = t.next(&mut buf).unwrap();
            buf.extend_from_slice(&input[cut..]);
            let got = first.or_else(|| t.next(&mut buf).unwrap()).unwrap();
            assert_eq!(got, words(&["replconf", "listening-port", "6380"]), "cut at {cut}");
        }
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(all(b"*x\r\n").unwrap_err(), BAD_MULTIBULK);
        assert_eq!(all(b"*1\n").unwrap_err(), BAD_MULTIBULK);
        assert_eq!(all(b"*1\r\n$-1\r\n").unwrap_err(), BAD_BULK);
    }

    #[test]
    fn integers_parse_as_strtoull_does() {
        assert_eq!(parse_u64_like_strtoull(b"99"), Some(99));
        assert_eq!(parse_u64_like_strtoull(b" +7"), Some(7));
        assert_eq!(parse_u64_like_strtoull(b"-1"), Some(u64::MAX));
        assert_eq!(parse_u64_like_strtoull(b"7 "), None);
        assert_eq!(parse_u64_like_strtoull(b"abc"), None);
        assert_eq!(parse_u64_like_strtoull(b""), None);
        assert_eq!(parse_u64_like_strtoull(b"18446744073709551616"), None);
        assert_eq!(parse_i64_like_strtol(b"6380"), Some(6380));
        assert_eq!(parse_i64_like_strtol(b"x"), None);
    }
}
