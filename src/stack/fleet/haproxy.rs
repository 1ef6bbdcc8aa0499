//! HAProxy's configuration, rendered from the scenario's `[fleet.balancer]` to behave like an
//! AWS ALB (docs/fleet.md says which behaviour each line reproduces and which it cannot).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::scenario::{Algorithm, Balancer};

/// The backend's name in the config, the log and the runtime API.
pub const BACKEND: &str = "instances";
/// Suffix of each instance's fail-open twin (see [`render`]).
pub const FAIL_OPEN_SUFFIX: &str = "-failopen";
/// The first word of every request log line, so the parser skips HAProxy's own messages.
pub const LOG_TAG: &str = "fpmlab";

/// One server line: the instance's name and its nginx address, `host:port` (`None`: not
/// started yet, a placeholder the runtime API replaces when it joins).
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub name: String,
    pub addr: Option<String>,
    /// In rotation from the start; else declared disabled until its `add`.
    pub enabled: bool,
}

/// Where HAProxy listens and where its stats socket is, as HAProxy sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The frontend's `bind`: `127.0.0.1:<port>` natively, `0.0.0.0:80` in a container
    /// (whose port is published on 127.0.0.1 only).
    pub bind: String,
    /// The stats socket's path.
    pub socket: PathBuf,
    /// Owner of the socket when fpmlab runs as another user than HAProxy (a container's
    /// root), so that fpmlab can still open it (`mode 600`).
    pub socket_uid: Option<u32>,
}

/// The whole `haproxy.cfg`.
///
/// - No retries, no redispatch and no server `maxconn` (so no queue): an ALB neither retries
///   nor queues; a request goes to one target and lives or dies there.
/// - Fail-open: every instance is declared twice, the second time as a `backup` without
///   checks; `option allbackups` sends to all of those once every checked server is down,
///   as an ALB routes to every registered target when none is healthy. Drain and remove
///   act on both lines, so a deregistered instance gets nothing even then.
/// - One log line per request to stdout (HAProxy runs in the foreground and fpmlab keeps its
///   stdout in `logs/haproxy.log`): accept time, request id, server, status, timers,
///   termination state and php-fpm's timing headers.
pub fn render(b: &Balancer, place: &Place, servers: &[Server]) -> String {
    let idle = b.idle_timeout_ms;
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# HAProxy as an AWS ALB, rendered by fpmlab (src/stack/fleet/haproxy.rs)."
    );
    let _ = writeln!(c, "global");
    let _ = writeln!(c, "    log stdout format raw local0");
    let uid = place
        .socket_uid
        .map_or(String::new(), |u| format!(" uid {u}"));
    let _ = writeln!(
        c,
        "    stats socket {} mode 600{uid} level admin",
        place.socket.display()
    );
    let _ = writeln!(c, "    maxconn 4000");
    let _ = writeln!(c, "    hard-stop-after 2s");
    let _ = writeln!(c, "defaults");
    let _ = writeln!(c, "    mode http");
    let _ = writeln!(c, "    log global");
    // ALB: 10 s to connect to a target, then 504.
    let _ = writeln!(c, "    timeout connect 10s");
    // ALB's idle timeout, on both sides and between keep-alive requests.
    for t in ["client", "server", "http-keep-alive", "http-request"] {
        let _ = writeln!(c, "    timeout {t} {idle}ms");
    }
    let _ = writeln!(c, "    timeout queue 1ms");
    let _ = writeln!(c, "    retries 0");
    let _ = writeln!(c, "    no option redispatch");
    // ALB: a client that closes its connection before the answer ends the request (460),
    // and the target's connection with it. Without this HAProxy takes a client's close
    // (FIN) as a half-close, waits for the target and logs its status: a client that gave
    // up would show as served (200), and its request would keep the target busy.
    let _ = writeln!(c, "    option abortonclose");
    let _ = writeln!(c, "frontend fleet");
    let _ = writeln!(c, "    bind {}", place.bind);
    let _ = writeln!(c, "    maxconn 4000");
    let _ = writeln!(c, "    capture request header X-Fpmlab-Id len 40");
    for h in [
        "X-Fpm-Request-Time-Float",
        "X-Fpm-Script-Start",
        "X-Fpm-Script-End",
    ] {
        let _ = writeln!(c, "    capture response header {h} len 24");
    }
    let _ = writeln!(
        c,
        "    log-format \"{LOG_TAG} t=%Ts.%ms th=%Th ti=%Ti id=%[capture.req.hdr(0)] srv=%s st=%ST tw=%Tw tc=%Tc tr=%Tr ta=%Ta ts=%tsc rt=%[capture.res.hdr(0)] ss=%[capture.res.hdr(1)] se=%[capture.res.hdr(2)]\""
    );
    let _ = writeln!(c, "    default_backend {BACKEND}");
    let _ = writeln!(c, "backend {BACKEND}");
    let balance = match b.algorithm {
        Algorithm::RoundRobin => "roundrobin",
        Algorithm::LeastOutstanding => "leastconn",
    };
    let _ = writeln!(c, "    balance {balance}");
    let _ = writeln!(c, "    option httpchk GET {}", b.health_path);
    let _ = writeln!(c, "    http-check expect status 200");
    let _ = writeln!(c, "    timeout check {}ms", b.timeout_ms);
    let _ = writeln!(c, "    option log-health-checks");
    let _ = writeln!(c, "    option allbackups");
    // Weight 100, not HAProxy's 1: slow start's ramp shows in `show stat` as the weight
    // climbing, where a weight of 1 could only jump from 0 to 1.
    let mut defaults = format!(
        "    default-server weight 100 inter {0}ms fastinter {0}ms downinter {0}ms rise {1} fall {2}",
        b.interval_ms, b.healthy_threshold, b.unhealthy_threshold
    );
    if b.slow_start_ms > 0 {
        let _ = write!(defaults, " slowstart {}ms", b.slow_start_ms);
    }
    let _ = writeln!(c, "{defaults}");
    // Port 1 is never ours: a placeholder until the instance joins.
    fn line(s: &Server) -> (&str, &str) {
        let addr = s.addr.as_deref().unwrap_or("127.0.0.1:1");
        let disabled = if s.enabled { "" } else { " disabled" };
        (addr, disabled)
    }
    for s in servers {
        let (addr, disabled) = line(s);
        let _ = writeln!(c, "    server {} {addr} check{disabled}", s.name);
    }
    for s in servers {
        let (addr, disabled) = line(s);
        let _ = writeln!(
            c,
            "    server {}{FAIL_OPEN_SUFFIX} {addr} backup{disabled}",
            s.name
        );
    }
    c
}

/// HAProxy: `FPMLAB_HAPROXY`, else `haproxy` in PATH, `/usr/sbin` or `/usr/local/sbin`.
pub fn haproxy_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FPMLAB_HAPROXY").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file())
        .context("haproxy not found: apt-get install haproxy (scripts/setup.sh does), or set FPMLAB_HAPROXY")
}

pub(super) fn haproxy_version(bin: &Path) -> Option<String> {
    let out = std::process::Command::new(bin).arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(2).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balancer() -> Balancer {
        Balancer {
            algorithm: Algorithm::RoundRobin,
            health_check: "deep".into(),
            health_path: "/fpmlab-health".into(),
            interval_ms: 30_000,
            timeout_ms: 5_000,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            idle_timeout_ms: 60_000,
            slow_start_ms: 0,
        }
    }

    fn place(port: u16) -> Place {
        Place {
            bind: format!("127.0.0.1:{port}"),
            socket: "/tmp/s.sock".into(),
            socket_uid: None,
        }
    }

    #[test]
    fn alb_defaults_become_haproxy_lines() {
        let servers = [
            Server {
                name: "i1".into(),
                addr: Some("127.0.0.1:4001".into()),
                enabled: true,
            },
            Server {
                name: "i2".into(),
                addr: None,
                enabled: false,
            },
        ];
        let c = render(&balancer(), &place(4000), &servers);
        for line in [
            "balance roundrobin",
            "option httpchk GET /fpmlab-health",
            "default-server weight 100 inter 30000ms fastinter 30000ms downinter 30000ms rise 5 fall 2",
            "timeout check 5000ms",
            "timeout server 60000ms",
            "retries 0",
            "option abortonclose",
            "server i1 127.0.0.1:4001 check\n",
            "server i2 127.0.0.1:1 check disabled",
            "server i1-failopen 127.0.0.1:4001 backup\n",
            "option allbackups",
            "bind 127.0.0.1:4000",
        ] {
            assert!(c.contains(line), "missing {line:?} in\n{c}");
        }
        assert!(!c.contains("slowstart"));
        assert!(c.contains("stats socket /tmp/s.sock mode 600 level admin"));
    }

    #[test]
    fn in_a_container_servers_are_reached_by_name_and_the_socket_is_fpmlabs() {
        let servers = [Server {
            name: "i3".into(),
            addr: Some("i3:80".into()),
            enabled: false,
        }];
        let place = Place {
            bind: "0.0.0.0:80".into(),
            socket: "/run/fpmlab/haproxy.sock".into(),
            socket_uid: Some(1000),
        };
        let c = render(&balancer(), &place, &servers);
        for line in [
            "bind 0.0.0.0:80",
            "stats socket /run/fpmlab/haproxy.sock mode 600 uid 1000 level admin",
            "server i3 i3:80 check disabled",
            "server i3-failopen i3:80 backup disabled",
        ] {
            assert!(c.contains(line), "missing {line:?} in\n{c}");
        }
    }

    #[test]
    fn least_outstanding_is_leastconn_and_slow_start_is_slowstart() {
        let mut b = balancer();
        b.algorithm = Algorithm::LeastOutstanding;
        assert!(render(&b, &place(1), &[]).contains("balance leastconn"));
        b.algorithm = Algorithm::RoundRobin;
        b.slow_start_ms = 30_000;
        assert!(render(&b, &place(1), &[]).contains("slowstart 30000ms"));
    }
}
