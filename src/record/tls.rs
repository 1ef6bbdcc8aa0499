//! The generator's TLS handshakes, counted apart from the requests that paid for them: with
//! keep-alive there is one per connection, far fewer than requests, and their time (which
//! the first request on a connection includes in its latency) is shown on its own.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::histograms::{self, new_histogram, Percentiles};

/// How one handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// Completed after this many µs; `resumed`: an abbreviated handshake (session ticket).
    Done { us: u64, resumed: bool },
    /// Failed (the request is also recorded as a client failure, with the cause).
    Failed,
}

/// Handshakes of one config so far.
#[derive(Debug, Clone)]
pub struct TlsTally {
    handshakes: u64,
    resumed: u64,
    failures: u64,
    time: Histogram<u64>,
}

impl Default for TlsTally {
    fn default() -> Self {
        TlsTally {
            handshakes: 0,
            resumed: 0,
            failures: 0,
            time: new_histogram(),
        }
    }
}

impl TlsTally {
    pub fn add(&mut self, h: Handshake) {
        match h {
            Handshake::Done { us, resumed } => {
                self.handshakes += 1;
                self.resumed += u64::from(resumed);
                histograms::record(&mut self.time, us);
            }
            Handshake::Failed => self.failures += 1,
        }
    }

    /// The figures, `None` when no handshake was attempted (an `http://` target).
    pub fn figures(&self) -> Option<TlsFigures> {
        (self.handshakes + self.failures > 0).then(|| TlsFigures {
            handshakes: self.handshakes,
            resumed: self.resumed,
            failures: self.failures,
            handshake_us: Percentiles::of(&self.time),
        })
    }
}

/// The generator's TLS handshakes over one config (`https://` targets only), in run.json as
/// `configs[].tls`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TlsFigures {
    /// Handshakes completed: one per connection the generator opened (keep-alive reuses a
    /// connection for many requests, so far fewer than requests).
    pub handshakes: u64,
    /// Of them, resumed sessions (an abbreviated handshake with a session ticket from an
    /// earlier connection).
    pub resumed: u64,
    /// Handshakes that failed; each one's request is also a client failure (`other`), its
    /// cause in `error_examples`.
    pub failures: u64,
    /// Handshake time, µs, from the TCP connection to the TLS session being ready
    /// (completed handshakes only). The first request on each connection includes it in
    /// its latency.
    pub handshake_us: Percentiles,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_handshakes_apart() {
        let mut t = TlsTally::default();
        assert_eq!(t.figures(), None);
        t.add(Handshake::Done {
            us: 2000,
            resumed: false,
        });
        t.add(Handshake::Done {
            us: 500,
            resumed: true,
        });
        t.add(Handshake::Failed);
        let f = t.figures().unwrap();
        assert_eq!((f.handshakes, f.resumed, f.failures), (2, 1, 1));
        assert_eq!(f.handshake_us.count, 2);
        assert!(f.handshake_us.max_us >= 1990 && f.handshake_us.max_us <= 2010);
    }
}
