//! Request-head parsing, fed whole, a byte at a time and cut at every offset; routing and encoding.

use super::*;

/// Feeds `input` cut at `cuts`; the first non-`Ok(None)` result, as a string for comparison.
fn feed(input: &[u8], cuts: &[usize]) -> Result<Option<Request>, String> {
    let mut reader = HeadReader::default();
    let mut from = 0;
    for &to in cuts.iter().chain([&input.len()]) {
        match reader.feed(&input[from..to]) {
            Ok(None) => from = to,
            done => return done.map_err(|e| e.to_string()),
        }
    }
    Ok(None)
}

fn every_way(input: &str) -> Result<Option<Request>, String> {
    let input = input.as_bytes();
    let whole = feed(input, &[]);
    let bytes: Vec<usize> = (1..input.len()).collect();
    assert_eq!(feed(input, &bytes), whole, "byte at a time");
    for cut in 1..input.len() {
        assert_eq!(feed(input, &[cut]), whole, "cut at {cut}");
    }
    whole
}

fn request(method: Method, path: &str) -> Result<Option<Request>, String> {
    Ok(Some(Request { method, path: path.to_owned() }))
}

#[test]
fn request_lines() {
    assert_eq!(every_way("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"), request(Method::Get, "/metrics"));
    assert_eq!(every_way("HEAD /metrics?name[]=a HTTP/1.0\r\n\r\nbody"), request(Method::Head, "/metrics"));
    assert_eq!(every_way("POST / HTTP/1.1\n\n"), request(Method::Other, "/"));
    assert_eq!(every_way("get /x HTTP/1.1\r\n\r\n"), request(Method::Other, "/x"));
}

#[test]
fn incomplete_heads_wait() {
    assert_eq!(every_way("GET /metrics HTTP/1.1\r\nHost: x\r\n"), Ok(None));
    assert_eq!(every_way(""), Ok(None));
}

#[test]
fn malformed_request_lines() {
    for line in [
        "GET /metrics\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/2\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",
        "GET http://h/metrics HTTP/1.1\r\n\r\n",
        "G(T /metrics HTTP/1.1\r\n\r\n",
        "GET /a\tb HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1 x\r\n\r\n",
        "\r\n\r\n",
    ] {
        assert_eq!(every_way(line), Err("malformed HTTP request line".to_owned()), "{line:?}");
    }
}

#[test]
fn oversized_heads() {
    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
    assert_eq!(feed(big.as_bytes(), &[]), Err("HTTP request head longer than 8192 bytes".to_owned()));
    assert_eq!(feed(big.as_bytes(), &[100, 5000]), Err("HTTP request head longer than 8192 bytes".to_owned()));
    let fits = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD - 23));
    assert_eq!(fits.len(), MAX_HEAD);
    assert_eq!(feed(fits.as_bytes(), &[]), request(Method::Get, "/"));
}

fn get(method: Method, path: &str) -> String {
    let response = respond(&Request { method, path: path.to_owned() }, || "m 1\n".to_owned());
    String::from_utf8(response.encode()).unwrap()
}

#[test]
fn routes() {
    assert_eq!(
        get(Method::Get, "/metrics"),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 4\r\n\
         Connection: close\r\n\r\nm 1\n"
    );
    assert_eq!(
        get(Method::Head, "/metrics"),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 4\r\n\
         Connection: close\r\n\r\n"
    );
    assert!(get(Method::Get, "/").starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(get(Method::Get, "/").ends_with("\r\n\r\nreplicant metrics exporter: see /metrics\n"));
    assert!(get(Method::Get, "/nope").starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert!(get(Method::Other, "/nope").starts_with("HTTP/1.1 404 Not Found\r\n"));
    let not_allowed = get(Method::Other, "/metrics");
    assert!(not_allowed.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{not_allowed}");
    assert!(not_allowed.contains("\r\nAllow: GET, HEAD\r\n"));
}

#[test]
fn metrics_are_gathered_only_for_metrics() {
    let request = Request { method: Method::Get, path: "/".to_owned() };
    let response = respond(&request, || unreachable!("not asked for"));
    assert_eq!(response.status, 200);
}
