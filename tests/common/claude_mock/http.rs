//! The mock's HTTP/1.1: reading one request (request line, headers, a body by Content-Length
//! or chunked) from a keep-alive connection, and writing plain or chunked responses.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read, Write};

/// The most a request line, a header line or a body may be: the client's main requests are
/// about 90 KB; nothing it sends comes near this.
const MAX_LINE: u64 = 64 * 1024;
const MAX_BODY: usize = 32 * 1024 * 1024;
const MAX_HEADERS: usize = 200;

/// One request as read off the wire.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub method: String,
    /// The target as sent, with its query (`/v1/messages?beta=true`).
    pub target: String,
    /// Lower-case names; a repeated header keeps its last value.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Incoming {
    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The client asked to close the connection after this answer.
    pub fn wants_close(&self) -> bool {
        self.headers
            .get("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// One line without its CRLF; `None` at a clean end of the stream.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(bad("line too long or cut off"));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// The next request of the connection; `None` when the client closed it between requests.
pub fn read_request(r: &mut impl BufRead) -> io::Result<Option<Incoming>> {
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            // Stray CRLFs between requests are allowed (RFC 9112 §2.2).
            Some(l) if l.is_empty() => {}
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("bad request line"));
    };
    let mut headers = BTreeMap::new();
    loop {
        let Some(h) = read_line(r)? else {
            return Err(bad("headers cut off"));
        };
        if h.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let Some((name, value)) = h.split_once(':') else {
            return Err(bad("bad header line"));
        };
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(r)?
    } else {
        let n: usize = match headers.get("content-length") {
            Some(v) => v.parse().map_err(|_| bad("bad content-length"))?,
            None => 0,
        };
        if n > MAX_BODY {
            return Err(bad("body too large"));
        }
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        body
    };
    Ok(Some(Incoming {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body,
    }))
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| bad("chunk size cut off"))?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, if any, up to the empty line.
            while read_line(r)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(out);
        }
        if out.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        let start = out.len();
        out.resize(start + size, 0);
        r.read_exact(&mut out[start..])?;
        read_line(r)?;
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn head(code: u16, headers: &[(String, String)]) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut out = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    out.push_str("server: mock-anthropic/1\r\n");
    for (k, v) in headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A complete JSON answer; for `HEAD` the headers only.
pub fn write_json(
    w: &mut impl Write,
    code: u16,
    body: &serde_json::Value,
    extra: &[(String, String)],
    head_only: bool,
) -> io::Result<()> {
    let data = body.to_string().into_bytes();
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("content-length".to_string(), data.len().to_string()),
        ("request-id".to_string(), super::new_id("req_mock")),
    ];
    headers.extend(extra.iter().cloned());
    let mut out = head(code, &headers);
    if !head_only {
        out.extend_from_slice(&data);
    }
    w.write_all(&out)?;
    w.flush()
}

/// The head of a chunked `text/event-stream` answer.
pub fn write_stream_head(w: &mut impl Write) -> io::Result<()> {
    let headers = [
        ("content-type", "text/event-stream; charset=utf-8"),
        ("cache-control", "no-cache"),
        ("transfer-encoding", "chunked"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let mut headers = headers.to_vec();
    headers.push(("request-id".to_string(), super::new_id("req_mock")));
    w.write_all(&head(200, &headers))?;
    w.flush()
}

/// One chunk of a chunked body (never empty: an empty chunk ends the body).
pub fn write_chunk(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    w.write_all(&out)?;
    w.flush()
}

/// The last chunk.
pub fn end_chunks(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"0\r\n\r\n")?;
    w.flush()
}
