//! The terminal's line on the generator's TLS handshakes, under the table (only when the
//! target was https).

use crate::results::ConfigResult;
use crate::units::fmt_us;

/// `prod: TLS: 8 handshakes (2 resumed) for 2000 requests, one per 250; handshake p50 1.2 ms,
/// p99 3.4 ms.` (`None` for an http target).
pub fn tls_line(c: &ConfigResult) -> Option<String> {
    let t = c.recorded.tls.as_ref()?;
    let requests = c.recorded.summary.sent;
    let mut line = format!(
        "{}: TLS: {} handshakes ({} resumed) for {requests} requests",
        c.name, t.handshakes, t.resumed
    );
    if t.handshakes > 0 {
        line.push_str(&format!(
            ", one per {:.0}; handshake p50 {}, p99 {}",
            requests as f64 / t.handshakes as f64,
            fmt_us(t.handshake_us.p50_us),
            fmt_us(t.handshake_us.p99_us)
        ));
    }
    if t.failures > 0 {
        line.push_str(&format!(
            "; {} handshakes failed (run.json: error_examples)",
            t.failures
        ));
    }
    line.push('.');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Percentiles, TlsFigures};
    use crate::scenario::PoolConfig;

    #[test]
    fn a_line_only_for_tls_targets() {
        let mut c = ConfigResult::pending(&PoolConfig::static_pool("prod", 4));
        assert_eq!(tls_line(&c), None);
        c.recorded.summary.sent = 2000;
        c.recorded.tls = Some(TlsFigures {
            handshakes: 8,
            resumed: 2,
            failures: 1,
            handshake_us: Percentiles {
                count: 8,
                p50_us: 1200,
                p99_us: 3400,
                ..Default::default()
            },
        });
        assert_eq!(
            tls_line(&c).unwrap(),
            "prod: TLS: 8 handshakes (2 resumed) for 2000 requests, one per 250; handshake \
             p50 1.2 ms, p99 3.4 ms; 1 handshakes failed (run.json: error_examples)."
        );
    }
}
