//! The sans-IO half of the metrics endpoint: [`HeadReader`] frames and parses an HTTP/1.x request head
//! (request line only; headers are ignored), [`respond`] routes it, and [`Response`] encodes the answer.

use crate::AdminError;

/// The longest request head, in bytes.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// The Prometheus text format's content type.
pub(crate) const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT_TYPE: &str = "text/plain; charset=utf-8";
const INDEX: &str = "replicant metrics exporter: see /metrics\n";

/// The request methods this endpoint tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    /// Any other well-formed method: 405.
    Other,
}

/// A parsed request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The target without its query string.
    pub(crate) path: String,
}

/// Buffers bytes until the empty line that ends a request head, at most [`MAX_HEAD`] of them.
#[derive(Debug, Default)]
pub(crate) struct HeadReader {
    buf: Vec<u8>,
}

impl HeadReader {
    /// Takes bytes read from the client: `Ok(None)` until the head is complete, then its request line.
    /// Bytes after the head (a body, a pipelined request) are ignored.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Option<Request>, AdminError> {
        let from = self.buf.len().saturating_sub(3);
        let room = MAX_HEAD - self.buf.len().min(MAX_HEAD);
        self.buf.extend_from_slice(bytes.get(..room).unwrap_or(bytes));
        if !has_head_end(self.buf.get(from..).unwrap_or_default()) {
            return if self.buf.len() >= MAX_HEAD { Err(AdminError::HeadTooLarge { max: MAX_HEAD }) } else { Ok(None) };
        }
        let line = self.buf.split(|&b| b == b'\n').next().unwrap_or_default();
        request_line(line.strip_suffix(b"\r").unwrap_or(line)).map(Some)
    }
}

/// Whether `bytes` hold an empty line: `\n\n` or `\n\r\n`.
fn has_head_end(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// `METHOD SP target SP HTTP/1.x`, with an origin-form target.
fn request_line(line: &[u8]) -> Result<Request, AdminError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AdminError::BadRequestLine);
    };
    let token =
        !method.is_empty() && method.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let origin = target.first() == Some(&b'/') && target.iter().all(|&b| b.is_ascii_graphic());
    if !token || !origin || !matches!(version, b"HTTP/1.0" | b"HTTP/1.1") {
        return Err(AdminError::BadRequestLine);
    }
    let path = target.split(|&b| b == b'?' || b == b'#').next().unwrap_or_default();
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        _ => Method::Other,
    };
    Ok(Request { method, path: String::from_utf8_lossy(path).into_owned() })
}

/// An HTTP response; always `Connection: close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    content_type: &'static str,
    body: String,
    /// A HEAD request: headers only, with the body's length.
    head_only: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Self {
        Response { status, content_type: TEXT_TYPE, body: body.to_owned(), head_only: false }
    }

    /// The answer to a malformed or oversized request head.
    pub(crate) fn bad_request() -> Self {
        Response::text(400, "bad request\n")
    }

    /// The answer to a client over the connection limit.
    pub(crate) fn unavailable() -> Self {
        Response::text(503, "too many connections\n")
    }

    /// The status line, headers and (unless HEAD) body.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let allow = if self.status == 405 { "Allow: GET, HEAD\r\n" } else { "" };
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{allow}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !self.head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Routes a request: `/metrics` and `/` answer GET and HEAD; `metrics` is called only for `/metrics`.
pub(crate) fn respond(request: &Request, metrics: impl FnOnce() -> String) -> Response {
    let mut response = match (request.path.as_str(), request.method) {
        ("/metrics" | "/", Method::Other) => Response::text(405, "method not allowed\n"),
        ("/metrics", _) => Response { status: 200, content_type: METRICS_TYPE, body: metrics(), head_only: false },
        ("/", _) => Response::text(200, INDEX),
        _ => Response::text(404, "not found\n"),
    };
    response.head_only = request.method == Method::Head;
    response
}

#[cfg(test)]
mod tests;
