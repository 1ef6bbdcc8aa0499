//! A connection of the load client: plain TCP or TLS over TCP. An enum, not a trait object
//! or a type parameter: the plain path costs one predictable branch per read or write, and
//! the client's code is the same for both.

use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub enum Stream {
    Plain(TcpStream),
    /// Boxed: a TLS session's state is kilobytes, a TCP stream a few words.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Sends all of `buf`. Over TLS the encrypted bytes are flushed too: rustls may hold
    /// them when the socket would block, and a request must leave whole.
    pub async fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(buf).await,
            Stream::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await
            }
        }
    }

    /// A read that returned less than the buffer drained a plain socket: tell the runtime
    /// so, or the next exchange's first read is a wasted syscall that only learns "would
    /// block". The server sends nothing unasked on an HTTP/1.1 connection, and whatever it
    /// does send (a close) arrives as a fresh edge-triggered event that sets readiness
    /// again. Not over TLS: rustls reads whole records, so a short read of plaintext says
    /// nothing about what the socket still holds (and forgetting real readiness would hang).
    pub fn forget_read_readiness(&self) {
        if let Stream::Plain(s) = self {
            let _ = s.try_io(Interest::READABLE, || {
                Err::<(), _>(io::Error::from(ErrorKind::WouldBlock))
            });
        }
    }
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}
