//! The load path's HTTP/1.1 client: keep-alive connections in a small pool, one request in,
//! instants and an [`Ending`] out. Built on hyper's connection API rather than a pooled
//! client so "sent" can be taken when a ready connection takes the request, not before the
//! pool found one.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::record::{Ending, FailureKind, FpmTiming};

type Body = Empty<Bytes>;

/// A keep-alive connection. Its connection future is driven by whichever request task holds
/// it, inline, instead of by a task of its own: one task switch per request fewer, and an
/// idle connection costs nothing.
struct Conn {
    tx: SendRequest<Body>,
    io: Pin<Box<http1::Connection<TokioIo<TcpStream>, Body>>>,
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

/// A keep-alive HTTP/1.1 client for one target.
pub struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    user_agent: HeaderValue,
    idle: Mutex<Vec<Conn>>,
}

/// A failure before any response, with whether it happened on a reused connection (where
/// the server may simply have closed it while idle, so one retry is honest).
struct Early {
    kind: FailureKind,
    message: String,
    retryable: bool,
}

impl Client {
    /// `base_url` is `http://host:port`; the host is resolved once, here.
    pub async fn new(base_url: &str) -> anyhow::Result<Self> {
        let rest = base_url.strip_prefix("http://").ok_or_else(|| {
            anyhow::anyhow!("{base_url}: only http:// targets are supported (put TLS in front of fpmlab's target, not between)")
        })?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let with_port = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = tokio::net::lookup_host(&with_port)
            .await
            .map_err(|e| anyhow::anyhow!("cannot resolve {with_port}: {e}"))?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{with_port} resolves to no address"))?;
        Ok(Client {
            addr,
            host: HeaderValue::from_str(authority)?,
            user_agent: HeaderValue::from_static(concat!("fpmlab/", env!("CARGO_PKG_VERSION"))),
            idle: Mutex::new(Vec::new()),
        })
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle.lock().expect("pool lock").pop()
    }

    async fn connect(&self) -> Result<Conn, Early> {
        let stream = TcpStream::connect(self.addr).await.map_err(|e| Early {
            kind: match e.kind() {
                std::io::ErrorKind::ConnectionRefused => FailureKind::Refused,
                std::io::ErrorKind::ConnectionReset => FailureKind::Reset,
                _ => FailureKind::Other,
            },
            message: format!("connect {}: {e}", self.addr),
            retryable: false,
        })?;
        let _ = stream.set_nodelay(true);
        let (tx, io) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Early {
                kind: FailureKind::Other,
                message: format!("handshake: {e}"),
                retryable: false,
            })?;
        Ok(Conn {
            tx,
            io: Box::pin(io),
        })
    }

    /// Sends one request and reads the whole response. The caller bounds it with the
    /// client timeout.
    pub async fn exchange(&self, method: &Method, uri: &Uri, id: u64) -> Exchange {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_exchange(method, uri, id).await {
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
        method: &Method,
        uri: &Uri,
        id: u64,
    ) -> Result<Exchange, (Early, Option<Instant>)> {
        let (mut c, reused) = match self.take_idle() {
            Some(c) => (c, true),
            None => (self.connect().await.map_err(|e| (e, None))?, false),
        };
        let mut req = Request::new(Empty::<Bytes>::new());
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri.clone();
        let h = req.headers_mut();
        h.insert(header::HOST, self.host.clone());
        h.insert(header::USER_AGENT, self.user_agent.clone());
        h.insert("x-fpmlab-id", HeaderValue::from(id));
        let sent = Instant::now();
        let send = c.tx.send_request(req);
        tokio::pin!(send);
        let mut io_open = true;
        let resp = tokio::select! {
            biased;
            r = &mut send => r,
            _ = &mut c.io => {
                // One poll of the connection can both deliver the response and end the
                // connection (`Connection: close`): the response decides, not the close.
                io_open = false;
                send.await
            }
        };
        let resp = resp.map_err(|e| {
            let closed = e.is_incomplete_message() || e.is_canceled() || e.is_closed();
            let kind = if closed || io_kind(&e) == Some(std::io::ErrorKind::ConnectionReset) {
                FailureKind::Reset
            } else {
                FailureKind::Other
            };
            (
                Early {
                    kind,
                    message: e.to_string(),
                    retryable: reused && closed,
                },
                Some(sent),
            )
        })?;
        let first_byte = Instant::now();
        let status = resp.status().as_u16();
        let fpm = fpm_timing(resp.headers());
        let mut body = resp.into_body();
        // The body's bytes are not needed: frames are dropped as they come, never collected.
        let body_result = loop {
            tokio::select! {
                biased;
                frame = body.frame() => match frame {
                    None => break Ok(()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Err(e),
                },
                _ = &mut c.io, if io_open => io_open = false,
            }
        };
        let done = Instant::now();
        let ending = match body_result {
            Ok(()) => {
                if io_open {
                    self.release(c).await;
                }
                Ending::Response { status }
            }
            Err(e) => Ending::Failed {
                kind: FailureKind::Incomplete,
                message: format!("body: {e}"),
            },
        };
        Ok(Exchange {
            sent: Some(sent),
            first_byte: Some(first_byte),
            done,
            ending,
            fpm,
        })
    }

    /// Returns a connection to the pool once it is ready for the next request (the
    /// connection must be polled past the end of the response for that).
    async fn release(&self, mut c: Conn) {
        let ready = tokio::select! {
            biased;
            r = c.tx.ready() => r.is_ok(),
            _ = &mut c.io => false,
        };
        if ready {
            self.idle.lock().expect("pool lock").push(c);
        }
    }
}

fn io_kind(e: &hyper::Error) -> Option<std::io::ErrorKind> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        src = s.source();
    }
    None
}

/// Reads the app's timing headers (see `docker/app/lib.php`).
fn fpm_timing(h: &hyper::HeaderMap) -> Option<FpmTiming> {
    let get = |name: &str| h.get(name)?.to_str().ok();
    Some(FpmTiming {
        request_time_us: epoch_us(get("x-fpm-request-time-float")?)?,
        script_start_us: epoch_us(get("x-fpm-script-start")?)?,
        script_end_us: epoch_us(get("x-fpm-script-end")?)?,
        pid: get("x-fpm-pid")?.parse().ok()?,
    })
}

/// Parses `1795342330.123456` into epoch µs exactly (no float rounding).
pub fn epoch_us(text: &str) -> Option<i64> {
    let (secs, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let secs: i64 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(6).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 6 {
        digits.push('0');
    }
    Some(secs * 1_000_000 + digits.parse::<i64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_php_times_exactly() {
        assert_eq!(epoch_us("1795342330.123456"), Some(1_795_342_330_123_456));
        assert_eq!(epoch_us("1795342330.1"), Some(1_795_342_330_100_000));
        assert_eq!(epoch_us("1795342330"), Some(1_795_342_330_000_000));
        assert_eq!(epoch_us("17953x"), None);
        assert_eq!(epoch_us("1.2e3"), None);
    }
}
