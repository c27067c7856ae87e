//! Incremental framing of client requests on the admin port: RESP arrays of bulk strings (what
//! redis-cli sends) and inline commands (`PING\r\n` from telnet or nc). It owns the framing and its
//! limits, not what commands mean (`command` does).
//!
//! Framing follows redis-server (`networking.c: processMultibulkBuffer, processInlineBuffer`): an
//! empty inline line, `*0` and `*-1` are empty requests, inline arguments are split on blanks (no
//! quoting). Nothing is allocated from a length read off the wire: counts and lengths are checked
//! against [`MAX_ARGS`] and [`MAX_REQUEST`] first, and arguments are ranges into the caller's buffer.

use std::ops::Range;

use crate::AdminError;

/// The longest request, in bytes, from its first byte to its last.
pub(crate) const MAX_REQUEST: usize = 64 * 1024;
/// The most arguments in a request, command name included.
pub(crate) const MAX_ARGS: usize = 64;
/// The longest `*<count>` or `$<len>` header line, CRLF included.
const MAX_HEADER: usize = 32;

/// Frames one request at a time from the front of a buffer the caller keeps; see [`Parser::parse`].
#[derive(Debug)]
pub(crate) struct Parser {
    state: State,
    /// The current request's arguments, as ranges into the caller's buffer.
    args: Vec<Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing of the current request seen yet.
    Start,
    /// An inline command; its first `scanned` bytes hold no line feed.
    Inline { scanned: usize },
    /// An array with `left` bulk strings to go, the next starting at byte `at`.
    Array { left: usize, at: usize },
}

impl Default for Parser {
    fn default() -> Self {
        Parser { state: State::Start, args: Vec::with_capacity(MAX_ARGS) }
    }
}

impl Parser {
    /// Frames the request at the front of `buf`. `Ok(Some(n))`: the request is the first `n` bytes and
    /// [`Parser::args`] returns its arguments (none for an empty request); the caller then drops those
    /// bytes and calls [`Parser::reset`]. `Ok(None)`: more bytes are needed, and the caller must call
    /// again with the same bytes plus more. `Err`: the stream is unusable, the connection must close.
    pub(crate) fn parse(&mut self, buf: &[u8]) -> Result<Option<usize>, AdminError> {
        match self.state {
            State::Start => self.start(buf),
            State::Inline { scanned } => self.inline(buf, scanned),
            State::Array { left, at } => self.array(buf, left, at),
        }
    }

    /// The arguments of the request just framed, borrowed from the same buffer.
    pub(crate) fn args<'b>(&self, buf: &'b [u8]) -> Vec<&'b [u8]> {
        self.args.iter().map(|r| buf.get(r.clone()).unwrap_or_default()).collect()
    }

    /// Readies the parser for the next request.
    pub(crate) fn reset(&mut self) {
        self.state = State::Start;
        self.args.clear();
    }

    fn start(&mut self, buf: &[u8]) -> Result<Option<usize>, AdminError> {
        match buf.first() {
            None => Ok(None),
            Some(b'*') => match header(buf, 0, || AdminError::BadCount)? {
                None => Ok(None),
                Some((count, next)) if count <= 0 => Ok(Some(next)),
                Some((count, at)) => {
                    let too_many = AdminError::TooManyArguments { max: MAX_ARGS };
                    let left = usize::try_from(count).ok().filter(|&n| n <= MAX_ARGS).ok_or(too_many)?;
                    self.array(buf, left, at)
                }
            },
            Some(_) => self.inline(buf, 0),
        }
    }

    fn inline(&mut self, buf: &[u8], scanned: usize) -> Result<Option<usize>, AdminError> {
        let rest = buf.get(scanned..).unwrap_or_default();
        let Some(newline) = rest.iter().position(|&b| b == b'\n').map(|i| scanned + i) else {
            if buf.len() > MAX_REQUEST {
                return Err(AdminError::RequestTooLarge { max: MAX_REQUEST });
            }
            self.state = State::Inline { scanned: buf.len() };
            return Ok(None);
        };
        if newline >= MAX_REQUEST {
            return Err(AdminError::RequestTooLarge { max: MAX_REQUEST });
        }
        let line = buf.get(..newline).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        for word in words(line) {
            if self.args.len() == MAX_ARGS {
                return Err(AdminError::TooManyArguments { max: MAX_ARGS });
            }
            self.args.push(word);
        }
        Ok(Some(newline + 1))
    }

    fn array(&mut self, buf: &[u8], mut left: usize, mut at: usize) -> Result<Option<usize>, AdminError> {
        while left > 0 {
            let Some(next) = bulk(buf, at)? else {
                self.state = State::Array { left, at };
                return Ok(None);
            };
            self.args.push(next.clone());
            at = next.end + 2;
            left -= 1;
        }
        Ok(Some(at))
    }
}

/// The bulk string whose `$<len>\r\n` header starts at `at`: its content range once it is all in `buf`.
fn bulk(buf: &[u8], at: usize) -> Result<Option<Range<usize>>, AdminError> {
    match buf.get(at) {
        None => return Ok(None),
        Some(b'$') => {}
        Some(&got) => return Err(AdminError::ExpectedBulk { got }),
    }
    let Some((len, start)) = header(buf, at, || AdminError::BadBulkLength)? else { return Ok(None) };
    let len = usize::try_from(len).ok().filter(|&len| len <= MAX_REQUEST).ok_or(AdminError::BadBulkLength)?;
    let end = start + len;
    if end + 2 > MAX_REQUEST {
        return Err(AdminError::RequestTooLarge { max: MAX_REQUEST });
    }
    match buf.get(end..end + 2) {
        None => Ok(None),
        Some(b"\r\n") => Ok(Some(start..end)),
        Some(_) => Err(AdminError::MissingCrlf),
    }
}

/// Reads the `<sigil><integer>\r\n` line starting at `at`: the integer and where the next byte starts.
fn header(buf: &[u8], at: usize, bad: fn() -> AdminError) -> Result<Option<(i64, usize)>, AdminError> {
    let window = buf.get(at..).unwrap_or_default();
    let window = window.get(..MAX_HEADER).unwrap_or(window);
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        return if window.len() == MAX_HEADER { Err(bad()) } else { Ok(None) };
    };
    let digits = window.get(1..newline).and_then(|l| l.strip_suffix(b"\r")).ok_or_else(bad)?;
    let value = std::str::from_utf8(digits).ok().and_then(|s| s.parse::<i64>().ok()).ok_or_else(bad)?;
    Ok(Some((value, at + newline + 1)))
}

/// The ranges of the blank-separated words of `line`.
fn words(line: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = line.get(at..)?;
        let start = at + rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let len = line.get(start..)?.iter().position(u8::is_ascii_whitespace).unwrap_or(line.len() - start);
        at = start + len;
        Some(start..at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Requests = Vec<Vec<Vec<u8>>>;

    /// Feeds `input` cut at `cuts`, as the session does: the requests framed, then the error if any.
    fn frame(input: &[u8], cuts: &[usize]) -> (Requests, Option<String>) {
        let (mut parser, mut buf, mut out) = (Parser::default(), Vec::new(), Vec::new());
        let mut from = 0;
        for &to in cuts.iter().chain([&input.len()]) {
            buf.extend_from_slice(&input[from..to]);
            from = to;
            loop {
                match parser.parse(&buf) {
                    Ok(None) => break,
                    Ok(Some(n)) => {
                        out.push(parser.args(&buf).into_iter().map(<[u8]>::to_vec).collect());
                        buf.drain(..n);
                        parser.reset();
                    }
                    Err(e) => return (out, Some(e.to_string())),
                }
            }
        }
        (out, None)
    }

    /// Frames `input` whole, a byte at a time and cut once at every offset; all must agree.
    fn frame_every_way(input: &[u8]) -> (Requests, Option<String>) {
        let whole = frame(input, &[]);
        let bytes: Vec<usize> = (1..input.len()).collect();
        assert_eq!(frame(input, &bytes), whole, "byte at a time");
        for cut in 1..input.len() {
            assert_eq!(frame(input, &[cut]), whole, "cut at {cut}");
        }
        whole
    }

    fn args(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn arrays_and_inline_commands() {
        let input = b"*2\r\n$4\r\nECHO\r\n$5\r\nhi\r\nx\r\nPING  a\tb\r\nQUIT\n*1\r\n$0\r\n\r\n";
        let (requests, err) = frame_every_way(input);
        assert_eq!(err, None);
        assert_eq!(requests, vec![args(&["ECHO", "hi\r\nx"]), args(&["PING", "a", "b"]), args(&["QUIT"]), args(&[""])]);
    }

    #[test]
    fn empty_requests() {
        let (requests, err) = frame_every_way(b"\r\n*0\r\n*-1\r\n   \n");
        assert_eq!(err, None);
        assert_eq!(requests, vec![Vec::<Vec<u8>>::new(); 4]);
    }

    #[test]
    fn bad_lengths_close_the_stream() {
        for (input, want) in [
            (&b"*99999999999\r\n"[..], "too many arguments (max 64)"),
            (b"*65\r\n", "too many arguments (max 64)"),
            (b"*x\r\n", "invalid multibulk length"),
            (b"*1\n", "invalid multibulk length"),
            (b"*1\r\n$-5\r\n", "invalid bulk length"),
            (b"*1\r\n$-1\r\n", "invalid bulk length"),
            (b"*1\r\n$65537\r\n", "invalid bulk length"),
            (b"*1\r\n$65530\r\n", "request longer than 65536 bytes"),
            (b"*1\r\n$999999999999999999999\r\n", "invalid bulk length"),
            (b"*1\r\n$0000000000000000000000000000000000001\r\n", "invalid bulk length"),
            (b"*1\r\n:5\r\n", "expected '$', got ':'"),
            (b"*1\r\n$2\r\nabcd", "expected CRLF after a bulk string"),
        ] {
            let (requests, err) = frame_every_way(input);
            assert!(requests.is_empty());
            assert_eq!(err.as_deref(), Some(want), "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn oversized_requests() {
        let mut long = vec![b'a'; MAX_REQUEST];
        assert_eq!(frame(&long, &[]).1, None, "incomplete, at the limit");
        long.push(b'a');
        assert_eq!(frame(&long, &[]).1.as_deref(), Some("request longer than 65536 bytes"));

        let mut fits = vec![b'a'; MAX_REQUEST - 1];
        fits.push(b'\n');
        assert_eq!(frame(&fits, &[]).0.len(), 1);

        let bulk = |n: usize| format!("*2\r\n$1\r\na\r\n${n}\r\n{}\r\n", "b".repeat(n)).into_bytes();
        let room = MAX_REQUEST - b"*2\r\n$1\r\na\r\n$65500\r\n\r\n".len();
        assert_eq!(frame(&bulk(room), &[]).0.len(), 1);
        assert_eq!(frame(&bulk(room + 1), &[]).1.as_deref(), Some("request longer than 65536 bytes"));
    }

    #[test]
    fn argument_limits() {
        let inline = format!("{}\r\n", vec!["a"; MAX_ARGS].join(" "));
        assert_eq!(frame(inline.as_bytes(), &[]).0[0].len(), MAX_ARGS);
        let inline = format!("{}\r\n", vec!["a"; MAX_ARGS + 1].join(" "));
        assert_eq!(frame(inline.as_bytes(), &[]).1.as_deref(), Some("too many arguments (max 64)"));
        let array = format!("*{MAX_ARGS}\r\n{}", "$1\r\na\r\n".repeat(MAX_ARGS));
        assert_eq!(frame(array.as_bytes(), &[]).0[0].len(), MAX_ARGS);
    }
}
