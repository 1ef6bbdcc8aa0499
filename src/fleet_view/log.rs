//! HAProxy's request log lines (the `log-format` the fleet renders) and the AWS ALB status
//! each outcome would have been.

/// One request as the balancer logged it.
#[derive(Debug, Clone, PartialEq)]
pub struct BalancerLine {
    /// When the request began, epoch milliseconds: HAProxy's accept date (for a request on
    /// a kept-alive connection, the end of the one before) plus the handshake and idle time.
    pub start_epoch_ms: i64,
    /// fpmlab's request id (`X-Fpmlab-Id`), when the request carried one.
    pub id: Option<u64>,
    /// The server that got it (`<NOSRV>`: none).
    pub server: String,
    /// The status HAProxy sent the client.
    pub status: u16,
    /// Time spent connecting to the server, ms (-1: never connected).
    pub connect_ms: i64,
    /// Time the server took to send its headers, ms (-1: it never did).
    pub response_ms: i64,
    /// Active time of the request, ms.
    pub total_ms: i64,
    /// HAProxy's two-letter termination state (`--`: normal).
    pub termination: String,
    /// php-fpm's `X-Fpm-Request-Time-Float`, `X-Fpm-Script-Start`, `X-Fpm-Script-End`
    /// (epoch seconds), when the response carried them.
    pub fpm: Option<(f64, f64, f64)>,
}

impl BalancerLine {
    /// The instance it went to, and whether through its fail-open twin.
    pub fn instance(&self, fail_open_suffix: &str) -> Option<(&str, bool)> {
        if self.server.starts_with('<') {
            return None;
        }
        Some(match self.server.strip_suffix(fail_open_suffix) {
            Some(base) => (base, true),
            None => (self.server.as_str(), false),
        })
    }
}

/// Parses one line; `None` for anything else HAProxy wrote (health-check messages, start-up
/// notices).
pub fn parse(line: &str, tag: &str) -> Option<BalancerLine> {
    let rest = line.strip_prefix(tag)?.strip_prefix(' ')?;
    let mut f = std::collections::HashMap::new();
    for kv in rest.split(' ') {
        if let Some((k, v)) = kv.split_once('=') {
            f.insert(k, v);
        }
    }
    let num = |k: &str| f.get(k).and_then(|v| v.parse::<i64>().ok());
    let (secs, ms) = f.get("t")?.split_once('.')?;
    let fpm = || {
        let g = |k: &str| f.get(k).and_then(|v| v.parse::<f64>().ok());
        Some((g("rt")?, g("ss")?, g("se")?))
    };
    Some(BalancerLine {
        start_epoch_ms: secs.parse::<i64>().ok()? * 1000
            + ms.parse::<i64>().ok()?
            + num("th").unwrap_or(0).max(0)
            + num("ti").unwrap_or(0).max(0),
        id: f.get("id").and_then(|v| v.parse().ok()),
        server: f.get("srv")?.to_string(),
        status: num("st").and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
        connect_ms: num("tc").unwrap_or(-1),
        response_ms: num("tr").unwrap_or(-1),
        total_ms: num("ta").unwrap_or(-1),
        termination: f
            .get("ts")
            .map_or("--", |t| t.get(..2).unwrap_or(t))
            .to_string(),
        fpm: fpm(),
    })
}

/// The status an AWS ALB would have returned for this outcome: its own verdicts where
/// HAProxy gave one (no target 503, target reset or refused or a bad response 502, target
/// timeout 504, client closed first 460, client idle 408), else the target's status.
pub fn alb_code(l: &BalancerLine) -> u16 {
    let first = l.termination.chars().next().unwrap_or('-');
    match first {
        'C' => 460,
        'c' => 408,
        _ if l.server.starts_with('<') => 503,
        's' => 504,
        'S' | 'P' | 'I' | 'R' | 'D' | 'L' | 'U' | 'K' => 502,
        _ => l.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(srv: &str, st: u16, ts: &str) -> BalancerLine {
        let text = format!("fpmlab t=1700000000.042 id=7 srv={srv} st={st} tw=0 tc=0 tr=5 ta=6 ts={ts}-- rt=1.5 ss=1.6 se=1.9");
        parse(&text, "fpmlab").unwrap()
    }

    #[test]
    fn parses_a_line() {
        let l = line("i2-failopen", 200, "--");
        assert_eq!(l.start_epoch_ms, 1_700_000_000_042);
        let kept_alive = "fpmlab t=10.500 th=0 ti=1200 id=1 srv=i1 st=200 ta=3 ts=----";
        assert_eq!(
            parse(kept_alive, "fpmlab").unwrap().start_epoch_ms,
            11_700,
            "idle time is not the request's"
        );
        assert_eq!(l.id, Some(7));
        assert_eq!(l.instance("-failopen"), Some(("i2", true)));
        assert_eq!(l.fpm, Some((1.5, 1.6, 1.9)));
        assert_eq!(l.termination, "--");
        assert!(parse("[WARNING] Server instances/i1 is DOWN", "fpmlab").is_none());
        let bare = parse(
            "fpmlab t=1.000 id=- srv=<NOSRV> st=503 tw=-1 tc=-1 tr=-1 ta=0 ts=SC-- rt=- ss=- se=-",
            "fpmlab",
        )
        .unwrap();
        assert_eq!((bare.id, bare.fpm), (None, None));
    }

    #[test]
    fn maps_every_outcome_to_the_albs_code() {
        assert_eq!(alb_code(&line("<NOSRV>", 503, "SC")), 503);
        assert_eq!(
            alb_code(&line("i1", 503, "SC")),
            502,
            "connection refused by a dead target"
        );
        assert_eq!(
            alb_code(&line("i1", 502, "SH")),
            502,
            "target reset mid-response"
        );
        assert_eq!(alb_code(&line("i1", 504, "sH")), 504, "idle timeout");
        assert_eq!(alb_code(&line("i1", 200, "CD")), 460);
        assert_eq!(alb_code(&line("i1", 408, "cR")), 408);
        assert_eq!(alb_code(&line("i1", 502, "PH")), 502, "bad response");
        assert_eq!(
            alb_code(&line("i1", 401, "--")),
            401,
            "the target's own answer"
        );
    }
}
