//! A hand-rolled HTTP/1.1 keep-alive client, lean like wrk's: the load generator shares the
//! machine with the server it measures, so every microsecond it spends is taken from the server.
//!
//! Each worker owns one [`Conn`] and does its own I/O on its own task (no connection task, no
//! channel hop): one `write_all` per request, then reads into a buffer that is reused and grows
//! to the largest response. Requests that never change (the load's pages) are serialized once
//! with [`post_json_request`] and sent as is. Only what our server speaks is supported: bodies
//! delimited by `Content-Length`; chunked encoding and bodies ended by closing the connection are
//! errors. After `Connection: close`, or any error, the next request opens a new connection.

use anyhow::{bail, Context, Result};
use memchr::memmem;
use std::io::Write;
use std::net::SocketAddr;
use std::ops::Range;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer to start with; it grows to fit the largest response.
const INITIAL_BUF: usize = 16 * 1024;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest body accepted (guards the buffer against a corrupt `Content-Length`).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One HTTP/1.1 keep-alive connection to the server.
pub struct Conn {
    addr: SocketAddr,
    host: String,
    /// Serialized request of `get` and `post_json`, reused.
    req: Vec<u8>,
    io: Io,
}

/// The socket and the read buffer; the body returned by [`Io::exchange`] points into `buf`.
struct Io {
    /// `None` after the server closed the connection or a request failed.
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    /// Opens a connection to `addr`.
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = open(addr).await?;
        let io = Io { stream: Some(stream), buf: vec![0; INITIAL_BUF] };
        Ok(Self { addr, host: addr.to_string(), req: Vec::with_capacity(1024), io })
    }

    /// GET `path`; returns the status and the body.
    pub async fn get(&mut self, path: &str) -> Result<(u16, &[u8])> {
        self.req.clear();
        encode(&mut self.req, "GET", &self.host, path, None, None);
        self.io.exchange(self.addr, &self.req).await
    }

    /// POST a JSON body to `path`, with an `Authorization` header when `bearer` is given
    /// (`Bearer ...`); returns the status and the body.
    pub async fn post_json(&mut self, path: &str, bearer: Option<&str>, body: &[u8]) -> Result<(u16, &[u8])> {
        self.req.clear();
        encode(&mut self.req, "POST", &self.host, path, bearer, Some(body));
        self.io.exchange(self.addr, &self.req).await
    }

    /// Sends a request built by [`post_json_request`] for this server; returns the status and the body.
    pub async fn send(&mut self, request: &[u8]) -> Result<(u16, &[u8])> {
        self.io.exchange(self.addr, request).await
    }
}

/// A POST of a JSON body to `path` on `addr`, serialized once so it can be sent many times.
pub fn post_json_request(addr: SocketAddr, path: &str, bearer: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    encode(&mut out, "POST", &addr.to_string(), path, bearer, Some(body));
    out
}

async fn open(addr: SocketAddr) -> Result<TcpStream> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    // Nagle off: each request goes out in one write and waits for its answer.
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    Ok(stream)
}

fn encode(out: &mut Vec<u8>, method: &str, host: &str, path: &str, bearer: Option<&str>, body: Option<&[u8]>) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    if let Some(b) = bearer {
        let _ = write!(out, "Authorization: {b}\r\n");
    }
    if let Some(body) = body {
        let _ = write!(out, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.unwrap_or_default());
}

impl Io {
    /// Writes `request` and reads its response, on a new connection when the last one is gone.
    async fn exchange(&mut self, addr: SocketAddr, request: &[u8]) -> Result<(u16, &[u8])> {
        if self.stream.is_none() {
            self.stream = Some(open(addr).await?);
        }
        let stream = self.stream.as_mut().expect("opened above");
        match roundtrip(stream, &mut self.buf, request).await {
            Ok(resp) => {
                if resp.close {
                    self.stream = None;
                }
                Ok((resp.status, &self.buf[resp.body]))
            }
            Err(e) => {
                // Whatever is left on the socket belongs to the failed response.
                self.stream = None;
                Err(e)
            }
        }
    }
}

/// A response read into the buffer.
struct Response {
    status: u16,
    /// Where the body is in the buffer.
    body: Range<usize>,
    /// The server closes the connection after this response.
    close: bool,
}

async fn roundtrip(stream: &mut TcpStream, buf: &mut Vec<u8>, request: &[u8]) -> Result<Response> {
    stream.write_all(request).await.with_context(|| format!("writing a {}-byte request", request.len()))?;
    let mut filled = 0;
    let head = loop {
        if let Some(head) = parse_head(&buf[..filled])? {
            break head;
        }
        if filled == buf.len() {
            if filled >= MAX_HEAD {
                bail!("the response head is larger than {MAX_HEAD} bytes");
            }
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream
            .read(&mut buf[filled..])
            .await
            .with_context(|| format!("reading the response head ({filled} bytes so far)"))?;
        if n == 0 {
            bail!("the server closed the connection after {filled} bytes of the response head");
        }
        filled += n;
    };
    let end = head.len + head.content_length;
    if buf.len() < end {
        buf.resize(end.max(buf.len() * 2), 0);
    }
    while filled < end {
        let n = stream.read(&mut buf[filled..]).await.with_context(|| {
            format!("reading the response body ({} of {} bytes so far)", filled - head.len, head.content_length)
        })?;
        if n == 0 {
            bail!(
                "the server closed the connection after {} of {} body bytes (HTTP {})",
                filled - head.len,
                head.content_length,
                head.status
            );
        }
        filled += n;
    }
    if filled > end {
        // No request was pipelined, so nothing may follow the body.
        bail!("{} bytes arrived after the {}-byte body of HTTP {}", filled - end, head.content_length, head.status);
    }
    Ok(Response { status: head.status, body: head.len..end, close: head.close })
}

/// A parsed response head.
#[derive(Debug, PartialEq)]
struct Head {
    /// Bytes of the head, the blank line included.
    len: usize,
    status: u16,
    content_length: usize,
    close: bool,
}

/// Parses the head at the start of `buf`; `None` while it is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>> {
    let Some(blank) = memmem::find(buf, b"\r\n\r\n") else { return Ok(None) };
    let mut lines = buf[..blank].split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().unwrap_or_default();
    let (status, http10) = status_line(line)
        .with_context(|| format!("bad status line {:?}", String::from_utf8_lossy(&line[..line.len().min(80)])))?;
    let (mut content_length, mut close) = (None, http10);
    for line in lines {
        let Some(colon) = memchr::memchr(b':', line) else {
            bail!("bad header line {:?}", String::from_utf8_lossy(line));
        };
        // RFC 9110 §5.1: field names are case-insensitive.
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .with_context(|| format!("bad Content-Length {:?}", String::from_utf8_lossy(value)))?;
            // RFC 9112 §6.3: differing lengths make the message unreadable.
            if content_length.is_some_and(|m| m != n) {
                bail!("conflicting Content-Length headers ({} and {n})", content_length.unwrap_or_default());
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            bail!(
                "HTTP {status} came with Transfer-Encoding: {}; chunked encoding is not supported, only Content-Length",
                String::from_utf8_lossy(value)
            );
        } else if name.eq_ignore_ascii_case(b"connection") {
            // RFC 9112 §9.6: `close` means this is the last response on the connection.
            close |= value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
    }
    // RFC 9112 §6.3: 204 and 304 responses have no body, whatever their headers say.
    let content_length = if matches!(status, 204 | 304) {
        0
    } else {
        content_length.with_context(|| {
            format!("HTTP {status} has no Content-Length (bodies ended by closing the connection are not supported)")
        })?
    };
    if content_length > MAX_BODY {
        bail!("Content-Length {content_length} is over the {MAX_BODY}-byte limit");
    }
    Ok(Some(Head { len: blank + 4, status, content_length, close }))
}

/// `HTTP/1.x NNN reason` (RFC 9112 §4): the status code and whether the server speaks HTTP/1.0
/// (which closes after each response unless told otherwise; we reconnect instead).
fn status_line(line: &[u8]) -> Option<(u16, bool)> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    let code = rest.strip_prefix(b" ")?.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(4).is_some_and(|&b| b != b' ') {
        return None;
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    match minor {
        b'1' => Some((status, false)),
        b'0' => Some((status, true)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    /// A server that accepts one connection per entry of `conns`, in turn, and answers each
    /// request on it with the next reply, written `chunk` bytes at a time (1 ms apart, so the
    /// client sees them in separate reads); it closes each connection after its last reply.
    /// Yields the requests it received.
    async fn serve(conns: Vec<Vec<Vec<u8>>>, chunk: usize) -> (SocketAddr, JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut received = Vec::new();
            for replies in conns {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                for reply in replies {
                    received.push(read_request(&mut s).await);
                    for piece in reply.chunks(chunk) {
                        s.write_all(piece).await.unwrap();
                        if chunk < reply.len() {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
            }
            received
        });
        (addr, task)
    }

    /// Reads one request: its head, then as many body bytes as its Content-Length says.
    async fn read_request(s: &mut TcpStream) -> Vec<u8> {
        let mut req = Vec::new();
        let mut byte = [0u8; 1];
        while !req.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).await.unwrap(), 1, "client closed mid-request");
            req.push(byte[0]);
        }
        let head = String::from_utf8(req.clone()).unwrap();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
        let mut body = vec![0; len];
        s.read_exact(&mut body).await.unwrap();
        req.extend_from_slice(&body);
        req
    }

    fn reply(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut r = format!("HTTP/1.1 {status}\r\n{headers}\r\n").into_bytes();
        r.extend_from_slice(body);
        r
    }

    fn ok(body: &[u8]) -> Vec<u8> {
        reply("200 OK", &format!("Content-Type: text/plain\r\nContent-Length: {}\r\n", body.len()), body)
    }

    #[tokio::test]
    async fn a_response_split_into_many_small_writes_is_read_whole() {
        // Larger than the initial buffer, so the buffer grows while the body trickles in.
        let body: Vec<u8> = (0..3 * INITIAL_BUF).map(|i| b'a' + (i % 26) as u8).collect();
        let (addr, server) = serve(vec![vec![ok(&body)]], 997).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let (status, got) = conn.get("/metrics").await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(got, &body[..]);
        let received = server.await.unwrap();
        assert!(received[0].starts_with(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:"), "{received:?}");
    }

    #[tokio::test]
    async fn a_head_split_byte_by_byte_is_read_whole() {
        let (addr, _server) = serve(vec![vec![ok(b"ready")]], 1).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        assert_eq!(conn.get("/readyz").await.unwrap(), (200, &b"ready"[..]));
    }

    #[tokio::test]
    async fn two_keep_alive_responses_arrive_on_one_connection() {
        // One connection only: a client that reconnected would be refused.
        let (addr, server) =
            serve(vec![vec![ok(b"first"), reply("404 Not Found", "Content-Length: 6\r\n", b"second")]], 4096).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        assert_eq!(conn.post_json("/graphql", Some("Bearer t0k"), b"{\"a\":1}").await.unwrap(), (200, &b"first"[..]));
        assert_eq!(conn.get("/x").await.unwrap(), (404, &b"second"[..]));
        let received = server.await.unwrap();
        let post = String::from_utf8(received[0].clone()).unwrap();
        assert!(post.starts_with("POST /graphql HTTP/1.1\r\n"), "{post}");
        assert!(post.contains("\r\nAuthorization: Bearer t0k\r\n"), "{post}");
        assert!(post.contains("\r\nContent-Type: application/json\r\n"), "{post}");
        assert!(post.ends_with("\r\nContent-Length: 7\r\n\r\n{\"a\":1}"), "{post}");
        assert!(received[1].starts_with(b"GET /x HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn a_prebuilt_request_is_sent_as_is() {
        let (addr, server) = serve(vec![vec![ok(b"one"), ok(b"two")]], 4096).await;
        let request = post_json_request(addr, "/graphql", None, b"{}");
        let mut conn = Conn::connect(addr).await.unwrap();
        assert_eq!(conn.send(&request).await.unwrap(), (200, &b"one"[..]));
        assert_eq!(conn.send(&request).await.unwrap(), (200, &b"two"[..]));
        assert_eq!(server.await.unwrap(), vec![request.clone(), request]);
    }

    #[tokio::test]
    async fn a_chunked_response_is_rejected() {
        let chunked = reply("200 OK", "Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n");
        let (addr, _server) = serve(vec![vec![chunked]], 4096).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let err = format!("{:#}", conn.get("/").await.unwrap_err());
        assert!(err.contains("chunked encoding is not supported"), "{err}");
    }

    #[tokio::test]
    async fn a_response_without_content_length_is_rejected() {
        let (addr, _server) = serve(vec![vec![reply("200 OK", "Connection: close\r\n", b"until close")]], 4096).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let err = format!("{:#}", conn.get("/").await.unwrap_err());
        assert!(err.contains("no Content-Length"), "{err}");
    }

    #[tokio::test]
    async fn header_names_are_case_insensitive() {
        let odd = reply("200 OK", "content-length: 5\r\nCONNECTION: Close\r\n", b"hello");
        let (addr, _server) = serve(vec![vec![odd], vec![ok(b"again")]], 4096).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        assert_eq!(conn.get("/").await.unwrap(), (200, &b"hello"[..]));
        // `CONNECTION: Close` was honoured: the second request went out on a new connection.
        assert_eq!(conn.get("/").await.unwrap(), (200, &b"again"[..]));
    }

    #[tokio::test]
    async fn connection_close_makes_the_next_request_reconnect() {
        let closing = reply("200 OK", "Content-Length: 3\r\nConnection: close\r\n", b"bye");
        let (addr, server) = serve(vec![vec![closing], vec![ok(b"hi")]], 4096).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        assert_eq!(conn.get("/a").await.unwrap(), (200, &b"bye"[..]));
        assert_eq!(conn.get("/b").await.unwrap(), (200, &b"hi"[..]));
        assert_eq!(server.await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_truncated_body_is_an_error() {
        let short = reply("200 OK", "Content-Length: 100\r\n", &[b'x'; 40]);
        let (addr, _server) = serve(vec![vec![short]], 4096).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let err = format!("{:#}", conn.get("/").await.unwrap_err());
        assert!(err.contains("after 40 of 100 body bytes"), "{err}");
    }

    #[tokio::test]
    async fn bytes_past_the_content_length_are_an_error() {
        let long = reply("200 OK", "Content-Length: 2\r\n", b"okEXTRA");
        let (addr, _server) = serve(vec![vec![long]], 4096).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let err = format!("{:#}", conn.get("/").await.unwrap_err());
        assert!(err.contains("5 bytes arrived after the 2-byte body"), "{err}");
    }

    #[test]
    fn heads_parse_or_fail_with_a_reason() {
        let head = |s: &str| parse_head(s.as_bytes());
        assert_eq!(head("HTTP/1.1 200 OK\r\nContent-Len").unwrap(), None);
        assert_eq!(
            head("HTTP/1.1 201 Created\r\ncontent-length: 12\r\n\r\n").unwrap(),
            Some(Head { len: 44, status: 201, content_length: 12, close: false })
        );
        assert!(head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap().unwrap().close);
        assert_eq!(head("HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap().content_length, 0);
        assert!(format!("{:#}", head("HTTP/2 200\r\n\r\n").unwrap_err()).contains("bad status line"));
        assert!(format!("{:#}", head("HTTP/1.1 2000 OK\r\n\r\n").unwrap_err()).contains("bad status line"));
        let err = head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").unwrap_err();
        assert!(format!("{err:#}").contains("conflicting"));
        assert!(format!("{:#}", head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").unwrap_err()).contains("bad"));
    }
}
