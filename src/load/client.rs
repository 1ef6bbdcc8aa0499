//! The load path's HTTP/1.1 client: keep-alive connections in a pool owned by the load
//! thread, one request in, instants and an [`Ending`] out. Each exchange is one `write` of
//! pre-rendered bytes and, for a small response, one `read`: no header maps, no body
//! buffers, no allocation once a connection exists. An `https://` target gets the same
//! client over TLS (rustls): one handshake per connection, logged apart for the recorder.

use std::cell::RefCell;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::Instant;

use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::http::{parse_head, BodySkipper, Head, Parsed, RequestTemplate};
use super::stream::Stream;
use crate::record::{Ending, FailureKind, FpmTiming, Handshake, Recorder};
use crate::scenario::RequestKind;
use crate::tls::TlsVerify;

/// Initial read buffer of a connection: a typical response head and small body in one read,
/// small enough for thousands of connections in a burst.
const READ_BUF: usize = 4 * 1024;
/// The buffer grows (doubling on each read that fills it) up to this while skipping a large
/// body, so a big response takes few reads.
const MAX_BODY_READ: usize = 64 * 1024;
/// Largest response head accepted.
const MAX_HEAD: usize = 256 * 1024;

/// A keep-alive connection and its reusable buffers.
struct Conn {
    stream: Stream,
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
}

/// What one exchange produced.
#[derive(Debug)]
pub struct Exchange {
    pub sent: Option<Instant>,
    pub first_byte: Option<Instant>,
    pub done: Instant,
    pub ending: Ending,
    pub fpm: Option<FpmTiming>,
}

/// A keep-alive HTTP/1.1 client for one target, used from one thread.
pub struct Client {
    addr: SocketAddr,
    templates: Vec<RequestTemplate>,
    idle: RefCell<Vec<Conn>>,
    /// Set for an `https://` target.
    tls: Option<TlsTarget>,
    /// Handshakes since the recorder last took them (see [`Client::log_handshakes`]).
    handshakes: RefCell<Vec<Handshake>>,
}

/// What a TLS connection to the target needs, and what its errors name.
struct TlsTarget {
    connector: TlsConnector,
    /// The name sent (SNI) and verified: the URL's host.
    name: ServerName<'static>,
    host: String,
    port: u16,
    verify: TlsVerify,
}

/// A failure before any response byte, with whether it happened on a reused connection
/// (where the server may simply have closed it while idle, so one retry is honest).
struct Early {
    kind: FailureKind,
    message: String,
    retryable: bool,
}

impl Client {
    /// `base_url` is `http://host:port` or `https://host:port` (then verified as `verify`
    /// says); the host is resolved once, here. `kinds` are the plan's request kinds, in its
    /// order.
    pub async fn new(
        base_url: &str,
        kinds: &[RequestKind],
        verify: &TlsVerify,
    ) -> anyhow::Result<Self> {
        let https = crate::tls::is_https(base_url);
        let rest = match base_url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") || https => rest,
            _ => anyhow::bail!("{base_url}: give an http:// or https:// URL"),
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = split_authority(authority, if https { 443 } else { 80 })
            .ok_or_else(|| anyhow::anyhow!("{base_url}: the URL's port is not a number"))?;
        let with_port = format!("{host}:{port}");
        let tls = match https {
            false => None,
            true => Some(TlsTarget {
                connector: TlsConnector::from(
                    crate::tls::client_config(verify).map_err(anyhow::Error::msg)?,
                ),
                name: crate::tls::server_name(host).map_err(anyhow::Error::msg)?,
                host: host.to_string(),
                port,
                verify: verify.clone(),
            }),
        };
        let mut templates = Vec::with_capacity(kinds.len());
        for k in kinds {
            if !k.method.bytes().all(|b| b.is_ascii_alphabetic()) || !k.path.starts_with('/') {
                anyhow::bail!(
                    "request {} {}: the method must be a word and the path start with /",
                    k.method,
                    k.path
                );
            }
            templates.push(
                RequestTemplate::for_kind(k, authority)
                    .map_err(|e| anyhow::anyhow!("request \"{}\": {e}", k.name))?,
            );
        }
        let addr = tokio::net::lookup_host(&with_port)
            .await
            .map_err(|e| anyhow::anyhow!("cannot resolve {with_port}: {e}"))?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{with_port} resolves to no address"))?;
        Ok(Client {
            addr,
            templates,
            idle: RefCell::new(Vec::new()),
            tls,
            handshakes: RefCell::new(Vec::new()),
        })
    }

    /// Hands the handshakes since the last call to the recorder. Called after each request
    /// (and once at the end), so a handshake is counted even when its request timed out.
    pub fn log_handshakes(&self, recorder: &RefCell<Recorder>) {
        let mut done = self.handshakes.borrow_mut();
        if done.is_empty() {
            return;
        }
        let mut rec = recorder.borrow_mut();
        for h in done.drain(..) {
            rec.on_tls_handshake(h);
        }
    }

    async fn connect(&self) -> Result<Conn, Early> {
        let tcp = TcpStream::connect(self.addr).await.map_err(|e| Early {
            kind: match e.kind() {
                ErrorKind::ConnectionRefused => FailureKind::Refused,
                ErrorKind::ConnectionReset => FailureKind::Reset,
                _ => FailureKind::Other,
            },
            message: format!("connect {}: {e}", self.addr),
            retryable: false,
        })?;
        let _ = tcp.set_nodelay(true);
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            // Boxed: the handshake's state is kilobytes, and inline it would grow every
            // exchange's future, plain ones too, for what happens once per connection.
            Some(t) => Stream::Tls(Box::new(Box::pin(self.handshake(t, tcp)).await?)),
        };
        Ok(Conn {
            stream,
            read_buf: vec![0; READ_BUF],
            write_buf: Vec::with_capacity(256),
        })
    }

    async fn handshake(
        &self,
        t: &TlsTarget,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Early> {
        let started = Instant::now();
        let result = t.connector.connect(t.name.clone(), tcp).await;
        let logged = match &result {
            Ok(s) => Handshake::Done {
                us: started.elapsed().as_micros() as u64,
                resumed: s.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
            },
            Err(_) => Handshake::Failed,
        };
        self.handshakes.borrow_mut().push(logged);
        result.map_err(|e| Early {
            kind: FailureKind::Other,
            message: crate::tls::explain_io(&e, &t.host, t.port, &t.verify),
            retryable: false,
        })
    }

    /// Sends one request of kind `kind`, filled from data row `row`, and reads the whole
    /// response. `line` (`METHOD /path`, a replayed request's) replaces the kind's method
    /// and path. The caller bounds it with the client timeout.
    pub async fn exchange(
        &self,
        kind: usize,
        id: u64,
        row: usize,
        line: Option<&[u8]>,
    ) -> Exchange {
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The retry goes on a new connection: when the server closed one idle connection
            // it usually closed the others too (its keep-alive timeout, all at once after
            // the machine stalled), and a second stale one would fail the request for nothing.
            match self.try_exchange(kind, id, row, line, attempt > 1).await {
                Ok(x) => return x,
                Err((early, _)) if early.retryable && attempt == 1 => continue,
                Err((early, sent)) => {
                    return Exchange {
                        sent,
                        first_byte: None,
                        done: Instant::now(),
                        ending: Ending::Failed {
                            kind: early.kind,
                            message: early.message,
                        },
                        fpm: None,
                    }
                }
            }
        }
    }

    async fn try_exchange(
        &self,
        kind: usize,
        id: u64,
        row: usize,
        line: Option<&[u8]>,
        fresh: bool,
    ) -> Result<Exchange, (Early, Option<Instant>)> {
        let popped = if fresh {
            None
        } else {
            self.idle.borrow_mut().pop()
        };
        let (mut c, reused) = match popped {
            Some(c) => (c, true),
            None => (self.connect().await.map_err(|e| (e, None))?, false),
        };
        let template = &self.templates[kind];
        // A replayed HEAD gets no body back whatever the kind's method.
        let expects_body = match line {
            None => {
                template.render(id, row, &mut c.write_buf);
                template.expects_body()
            }
            Some(line) => {
                template.render_line(line, id, row, &mut c.write_buf);
                !line.starts_with(b"HEAD ")
            }
        };
        let sent = Instant::now();
        if let Err(e) = c.stream.send(&c.write_buf).await {
            let early = Early {
                kind: reset_or_other(&e),
                message: format!("send: {e}"),
                retryable: reused,
            };
            return Err((early, Some(sent)));
        }
        let (head, filled) = read_head(&mut c, expects_body, reused)
            .await
            .map_err(|e| (e, Some(sent)))?;
        let first_byte = Instant::now();
        let body = skip_body(&mut c, &head, filled).await;
        // A response that came whole in one read is done when its head arrived.
        let done = if body.read_more {
            Instant::now()
        } else {
            first_byte
        };
        let ending = match body.result {
            Ok(()) => {
                if body.reusable && !head.close {
                    self.idle.borrow_mut().push(c);
                }
                Ending::Response {
                    status: head.status,
                }
            }
            Err(message) => Ending::Failed {
                kind: FailureKind::Incomplete,
                message,
            },
        };
        Ok(Exchange {
            sent: Some(sent),
            first_byte: Some(first_byte),
            done,
            ending,
            fpm: head.fpm,
        })
    }
}

fn early(kind: FailureKind, message: String) -> Early {
    Early {
        kind,
        message,
        retryable: false,
    }
}

/// Reads until a final response head parses (interim 1xx heads are skipped). Returns the
/// head and how many bytes of the buffer are filled.
async fn read_head(c: &mut Conn, expects_body: bool, reused: bool) -> Result<(Head, usize), Early> {
    let mut filled = 0;
    loop {
        if filled > 0 {
            match parse_head(&c.read_buf[..filled], expects_body) {
                Ok(Parsed::Head(h)) => return Ok((h, filled)),
                Ok(Parsed::Interim(len)) => {
                    c.read_buf.copy_within(len..filled, 0);
                    filled -= len;
                    continue;
                }
                Ok(Parsed::Partial) if filled == MAX_HEAD => {
                    let message = format!("response head larger than {MAX_HEAD} bytes");
                    return Err(early(FailureKind::Other, message));
                }
                Ok(Parsed::Partial) => {}
                Err(message) => return Err(early(FailureKind::Other, message)),
            }
        }
        match read_some(c, filled).await {
            // Nothing came back: on a reused connection the server may have closed it
            // while idle, as HTTP/1.1 lets it.
            Ok(0) if filled == 0 => {
                return Err(Early {
                    kind: FailureKind::Reset,
                    message: "connection closed before a response".into(),
                    retryable: reused,
                })
            }
            Err(e) if filled == 0 => {
                let kind = reset_or_other(&e);
                return Err(Early {
                    kind,
                    message: format!("before a response: {e}"),
                    retryable: reused && kind == FailureKind::Reset,
                });
            }
            Ok(0) => {
                let message = "connection closed in the response head".to_string();
                return Err(early(FailureKind::Reset, message));
            }
            Err(e) => return Err(early(reset_or_other(&e), format!("response head: {e}"))),
            Ok(n) => filled += n,
        }
    }
}

/// How reading a body ended.
struct BodyEnd {
    /// Ok, or why the body was cut short.
    result: Result<(), String>,
    /// Whether reads beyond the one that brought the head were needed.
    read_more: bool,
    /// The connection can carry another request: the body ended where the bytes did (a
    /// byte beyond it, with no pipelining, means the framing cannot be trusted).
    reusable: bool,
}

/// Skips the body after `head`, whose bytes start at `head.len` of the `filled` buffer.
async fn skip_body(c: &mut Conn, head: &Head, filled: usize) -> BodyEnd {
    let mut body = BodySkipper::new(head.framing);
    let mut extra = false;
    let mut result = body
        .feed(&c.read_buf[head.len..filled])
        .map(|used| extra = head.len + used < filled);
    let mut last_read_short = filled < c.read_buf.len();
    let mut read_more = false;
    while result.is_ok() && !body.is_done() {
        read_more = true;
        match read_some(c, 0).await {
            Ok(0) if body == BodySkipper::UntilClose => body = BodySkipper::Done,
            Ok(0) => result = Err("connection closed in the body".into()),
            Ok(n) => {
                last_read_short = n < c.read_buf.len();
                result = body.feed(&c.read_buf[..n]).map(|used| extra = used < n);
                if !last_read_short && c.read_buf.len() < MAX_BODY_READ {
                    c.read_buf.resize(c.read_buf.len() * 2, 0);
                }
            }
            Err(e) => result = Err(format!("body: {e}")),
        }
    }
    let reusable = result.is_ok() && !extra;
    if reusable && last_read_short {
        c.stream.forget_read_readiness();
    }
    BodyEnd {
        result,
        read_more,
        reusable,
    }
}

fn reset_or_other(e: &io::Error) -> FailureKind {
    match e.kind() {
        // UnexpectedEof: a TLS peer that closed without saying so (close_notify).
        ErrorKind::ConnectionReset
        | ErrorKind::BrokenPipe
        | ErrorKind::ConnectionAborted
        | ErrorKind::UnexpectedEof => FailureKind::Reset,
        _ => FailureKind::Other,
    }
}

/// Reads into the connection's buffer from `at`, growing it (up to the head limit) when it
/// is full.
async fn read_some(c: &mut Conn, at: usize) -> io::Result<usize> {
    if at == c.read_buf.len() {
        let grown = (c.read_buf.len() * 2).min(MAX_HEAD);
        c.read_buf.resize(grown, 0);
    }
    c.stream.read(&mut c.read_buf[at..]).await
}

/// The host (IPv6 brackets kept, as in the URL) and port of `host[:port]`; `None` if the
/// port is not a number.
fn split_authority(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let port_at = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => Some(i),
        _ => None,
    };
    match port_at {
        Some(i) => Some((&authority[..i], authority[i + 1..].parse().ok()?)),
        None => Some((authority, default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::split_authority;

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(
            split_authority("127.0.0.1:8443", 443),
            Some(("127.0.0.1", 8443))
        );
        assert_eq!(split_authority("localhost", 443), Some(("localhost", 443)));
        assert_eq!(split_authority("[::1]", 80), Some(("[::1]", 80)));
        assert_eq!(split_authority("[::1]:8080", 80), Some(("[::1]", 8080)));
        assert_eq!(split_authority("u:p@h:81", 80), Some(("h", 81)));
        assert_eq!(split_authority("h:x", 80), None);
    }
}
