//! The HTTP/1.1 wire format as the load path needs it, and nothing more: requests rendered
//! once per kind (only the id and the data row's values change per request), response heads parsed in place with
//! `httparse`, and bodies skipped without being kept. Pure code: no sockets here.

use std::sync::Arc;

use crate::record::FpmTiming;
use crate::scenario::traffic::{parse_template, Part};
use crate::scenario::RequestKind;

/// Most headers a response head may carry; a head with more is refused as invalid.
const MAX_HEADERS: usize = 64;

/// One piece of a rendered request.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    /// Bytes sent as they are.
    Lit(Vec<u8>),
    /// The request's id (`X-Fpmlab-Id`).
    Id,
    /// The picked row's value of this column.
    Col(usize),
    /// The body's length, when placeholders make it vary per request.
    ContentLength,
}

/// One request kind, rendered once into pieces: everything that never changes is one
/// literal, and per request only the id and the picked row's values are written. A kind
/// with no placeholders is a literal, the id and a literal.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    /// The request line and headers, then (with a body) the body itself.
    segs: Vec<Seg>,
    /// The same after the method and path (from ` HTTP/1.1`): a replayed request writes
    /// its logged method and path, then these.
    after_line: Vec<Seg>,
    /// The body's literal bytes, for `Content-Length` when it varies.
    body_fixed_len: usize,
    /// The columns the body uses, once per occurrence.
    body_cols: Vec<usize>,
    /// The data file's rows (empty without one).
    rows: Arc<Vec<Vec<String>>>,
    /// False for HEAD: its response has no body whatever its headers say.
    expects_body: bool,
}

impl RequestTemplate {
    /// A plain request: `authority` is the `Host` header (`host:port`); `path` includes the
    /// query.
    pub fn new(method: &str, path: &str, authority: &str) -> Self {
        let kind = RequestKind {
            name: String::new(),
            method: method.into(),
            path: path.into(),
            weight: 1,
            headers: Default::default(),
            body: None,
            data: None,
            replay_match: None,
        };
        Self::for_kind(&kind, authority).expect("a plain request has no placeholder")
    }

    /// Renders a validated request kind; an error only if a placeholder names no column
    /// (which validation refuses).
    pub fn for_kind(kind: &RequestKind, authority: &str) -> Result<Self, String> {
        let columns = kind
            .data
            .as_ref()
            .map(|d| d.columns.as_slice())
            .unwrap_or(&[]);
        // Everything after the path first; the whole request is the method and path, then
        // that.
        let mut segs = Vec::new();
        let push = |segs: &mut Vec<Seg>, parts: Vec<Part>| {
            for part in parts {
                match part {
                    Part::Lit(b) => lit(segs, &b),
                    Part::Col(c) => segs.push(Seg::Col(c)),
                }
            }
        };
        lit(
            &mut segs,
            format!(" HTTP/1.1\r\nHost: {authority}\r\n").as_bytes(),
        );
        let own_agent = kind
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("user-agent"));
        if !own_agent {
            let agent = format!("User-Agent: fpmlab/{}\r\n", env!("CARGO_PKG_VERSION"));
            lit(&mut segs, agent.as_bytes());
        }
        for (name, value) in &kind.headers {
            lit(&mut segs, format!("{name}: ").as_bytes());
            push(&mut segs, parse_template(value.as_bytes(), columns)?);
            lit(&mut segs, b"\r\n");
        }
        lit(&mut segs, b"X-Fpmlab-Id: ");
        segs.push(Seg::Id);
        let (mut body_fixed_len, mut body_cols) = (0, Vec::new());
        match &kind.body {
            None => lit(&mut segs, b"\r\n\r\n"),
            Some(body) => {
                let parts = parse_template(&body.content, columns)?;
                for p in &parts {
                    match p {
                        Part::Lit(b) => body_fixed_len += b.len(),
                        Part::Col(c) => body_cols.push(*c),
                    }
                }
                let head = format!(
                    "\r\nContent-Type: {}\r\nContent-Length: ",
                    body.content_type
                );
                lit(&mut segs, head.as_bytes());
                if body_cols.is_empty() {
                    lit(&mut segs, body_fixed_len.to_string().as_bytes());
                } else {
                    segs.push(Seg::ContentLength);
                }
                lit(&mut segs, b"\r\n\r\n");
                push(&mut segs, parts);
            }
        }
        let after_line = segs;
        let mut segs = Vec::new();
        lit(&mut segs, format!("{} ", kind.method).as_bytes());
        push(&mut segs, parse_template(kind.path.as_bytes(), columns)?);
        for seg in &after_line {
            match seg {
                Seg::Lit(b) => lit(&mut segs, b),
                other => segs.push(other.clone()),
            }
        }
        Ok(RequestTemplate {
            segs,
            after_line,
            body_fixed_len,
            body_cols,
            rows: kind
                .data
                .as_ref()
                .map(|d| d.table.clone())
                .unwrap_or_default(),
            expects_body: !kind.method.eq_ignore_ascii_case("HEAD"),
        })
    }

    /// False for HEAD requests.
    pub fn expects_body(&self) -> bool {
        self.expects_body
    }

    /// Rows of the kind's data file (0 without one).
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Writes the request with id `id`, its placeholders filled from data row `row`, into
    /// `out` (cleared first; its capacity is reused). `row` is ignored without a data file.
    pub fn render(&self, id: u64, row: usize, out: &mut Vec<u8>) {
        out.clear();
        self.render_segs(&self.segs, id, row, out);
    }

    /// Writes a replayed request: `line` (`METHOD /path?query`, from the log), then this
    /// kind's headers and body, filled as [`Self::render`] fills them.
    pub fn render_line(&self, line: &[u8], id: u64, row: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(line);
        self.render_segs(&self.after_line, id, row, out);
    }

    fn render_segs(&self, segs: &[Seg], id: u64, row: usize, out: &mut Vec<u8>) {
        let values: &[String] = self.rows.get(row).map_or(&[], |r| r.as_slice());
        for seg in segs {
            match seg {
                Seg::Lit(b) => out.extend_from_slice(b),
                Seg::Id => out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes()),
                Seg::Col(c) => out.extend_from_slice(values[*c].as_bytes()),
                Seg::ContentLength => {
                    let len = self.body_fixed_len
                        + self
                            .body_cols
                            .iter()
                            .map(|&c| values[c].len())
                            .sum::<usize>();
                    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
                }
            }
        }
    }
}

/// Appends literal bytes, merged into the previous literal so fixed text is one copy.
fn lit(segs: &mut Vec<Seg>, bytes: &[u8]) {
    if let Some(Seg::Lit(last)) = segs.last_mut() {
        last.extend_from_slice(bytes);
    } else {
        segs.push(Seg::Lit(bytes.to_vec()));
    }
}

/// How the body of a response is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the buffer the head took (body bytes follow).
    pub len: usize,
    pub framing: Framing,
    /// The connection cannot carry another request after this response.
    pub close: bool,
    /// The app's timing headers, when all of them were present and valid.
    pub fpm: Option<FpmTiming>,
}

/// What parsing a buffer's start as a response head gave.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// More bytes are needed.
    Partial,
    /// A final (non-1xx) response head.
    Head(Head),
    /// An interim 1xx response of this many bytes, to skip.
    Interim(usize),
}

/// Parses a response head at the start of `buf`. `expects_body` is false for HEAD requests.
pub fn parse_head(buf: &[u8], expects_body: bool) -> Result<Parsed, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(e) => return Err(format!("invalid response head: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    if (100..200).contains(&status) && status != 101 {
        return Ok(Parsed::Interim(len));
    }
    let http10 = resp.version == Some(0);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = http10;
    let (mut req_time, mut start, mut end, mut pid) = (None, None, None, None);
    let (mut agent, mut mem) = (None, None);
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        let value = h.value;
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| "invalid Content-Length".to_string())?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length headers".into());
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Chunked must be the last coding; anything else is read until close.
            chunked = last_token(value).eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case(b"x-fpmlab-agent") {
            agent = std::str::from_utf8(value).ok().and_then(agent_timing);
        } else if name.len() > 6 && name[..6].eq_ignore_ascii_case(b"x-fpm-") {
            let rest = &name[6..];
            let text = std::str::from_utf8(value).ok();
            if rest.eq_ignore_ascii_case(b"request-time-float") {
                req_time = text.and_then(epoch_us);
            } else if rest.eq_ignore_ascii_case(b"script-start") {
                start = text.and_then(epoch_us);
            } else if rest.eq_ignore_ascii_case(b"script-end") {
                end = text.and_then(epoch_us);
            } else if rest.eq_ignore_ascii_case(b"pid") {
                pid = text.and_then(|t| t.trim().parse().ok());
            } else if rest.eq_ignore_ascii_case(b"peak-memory-bytes") {
                mem = text.and_then(|t| t.trim().parse().ok());
            }
        }
    }
    let framing = if !expects_body || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    if framing == Framing::UntilClose {
        close = true;
    }
    // fpmlab's agent measures every application the same way; the built-in scripts' own
    // headers stand in where it is off.
    let fpm = agent.or(match (req_time, start, end, pid) {
        (Some(request_time_us), Some(script_start_us), Some(script_end_us), Some(pid)) => {
            Some(FpmTiming {
                request_time_us,
                script_start_us,
                script_end_us,
                pid,
                peak_memory_bytes: mem,
            })
        }
        _ => None,
    });
    Ok(Parsed::Head(Head {
        status,
        len,
        framing,
        close,
        fpm,
    }))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn last_token(value: &[u8]) -> &[u8] {
    trim(value.rsplit(|&b| b == b',').next().unwrap_or(value))
}

/// Parses `1795342330.123456` into epoch µs exactly (no float rounding).
pub fn epoch_us(text: &str) -> Option<i64> {
    let text = text.trim();
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut micros: i64 = 0;
    for i in 0..6 {
        let digit = frac.as_bytes().get(i).map_or(0, |d| i64::from(d - b'0'));
        micros = micros * 10 + digit;
    }
    Some(secs * 1_000_000 + micros)
}

/// The agent's `X-Fpmlab-Agent: rt=… start=… end=… pid=… mem=…` (see
/// `docker/agent/fpmlab-agent.php`); `None` unless every timing field is there and valid.
pub fn agent_timing(value: &str) -> Option<FpmTiming> {
    let (mut rt, mut start, mut end, mut pid, mut mem) = (None, None, None, None, None);
    for field in value.split_ascii_whitespace() {
        let (k, v) = field.split_once('=')?;
        match k {
            "rt" => rt = epoch_us(v),
            "start" => start = epoch_us(v),
            "end" => end = epoch_us(v),
            "pid" => pid = v.parse().ok(),
            "mem" => mem = v.parse().ok(),
            _ => {}
        }
    }
    Some(FpmTiming {
        request_time_us: rt?,
        script_start_us: start?,
        script_end_us: end?,
        pid: pid?,
        peak_memory_bytes: mem,
    })
}

/// Skips a body as its bytes arrive, keeping none of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySkipper {
    /// This many bytes still to come.
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
}

/// Where a chunked decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Reading the hex size; `seen` is whether any digit came yet.
    Size { size: u64, seen: bool },
    /// After the size: an extension, up to LF.
    Extension { size: u64 },
    /// This many data bytes left in the chunk.
    Data(u64),
    /// The CRLF after a chunk's data (`lf`: CR seen, LF next).
    DataEnd { lf: bool },
    /// Trailer lines after the last chunk; `empty_line` is whether the current line is
    /// still empty (an empty line ends the body).
    Trailer { empty_line: bool },
}

impl BodySkipper {
    pub fn new(framing: Framing) -> Self {
        match framing {
            Framing::Empty | Framing::Length(0) => BodySkipper::Done,
            Framing::Length(n) => BodySkipper::Length(n),
            Framing::Chunked => BodySkipper::Chunked(Chunk::Size {
                size: 0,
                seen: false,
            }),
            Framing::UntilClose => BodySkipper::UntilClose,
        }
    }

    pub fn is_done(&self) -> bool {
        *self == BodySkipper::Done
    }

    /// Consumes body bytes; returns how many belonged to the body (the rest, if the body
    /// ended, are the start of something the server should not have sent yet).
    pub fn feed(&mut self, buf: &[u8]) -> Result<usize, String> {
        match self {
            BodySkipper::Done => Ok(0),
            BodySkipper::UntilClose => Ok(buf.len()),
            BodySkipper::Length(left) => {
                let take = (*left).min(buf.len() as u64);
                *left -= take;
                if *left == 0 {
                    *self = BodySkipper::Done;
                }
                Ok(take as usize)
            }
            BodySkipper::Chunked(state) => {
                let mut i = 0;
                while i < buf.len() {
                    let b = buf[i];
                    *state = match *state {
                        Chunk::Size { size, seen } => match b {
                            b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                                let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                                let size = size
                                    .checked_mul(16)
                                    .and_then(|s| s.checked_add(digit))
                                    .ok_or("chunk size overflows")?;
                                Chunk::Size { size, seen: true }
                            }
                            b';' | b' ' | b'\t' | b'\r' if seen => Chunk::Extension { size },
                            b'\n' if seen => end_of_size(size),
                            _ => return Err(format!("invalid chunk size byte {b:#04x}")),
                        },
                        Chunk::Extension { size } => match b {
                            b'\n' => end_of_size(size),
                            _ => Chunk::Extension { size },
                        },
                        Chunk::Data(left) => {
                            let take = left.min((buf.len() - i) as u64);
                            i += take as usize;
                            let left = left - take;
                            *state = if left == 0 {
                                Chunk::DataEnd { lf: false }
                            } else {
                                Chunk::Data(left)
                            };
                            continue;
                        }
                        Chunk::DataEnd { lf } => match (b, lf) {
                            (b'\r', false) => Chunk::DataEnd { lf: true },
                            (b'\n', _) => Chunk::Size {
                                size: 0,
                                seen: false,
                            },
                            _ => return Err("missing CRLF after chunk data".into()),
                        },
                        Chunk::Trailer { empty_line } => match b {
                            b'\n' if empty_line => {
                                *self = BodySkipper::Done;
                                return Ok(i + 1);
                            }
                            b'\n' => Chunk::Trailer { empty_line: true },
                            b'\r' => Chunk::Trailer { empty_line },
                            _ => Chunk::Trailer { empty_line: false },
                        },
                    };
                    i += 1;
                }
                Ok(i)
            }
        }
    }
}

fn end_of_size(size: u64) -> Chunk {
    if size == 0 {
        Chunk::Trailer { empty_line: true }
    } else {
        Chunk::Data(size)
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
