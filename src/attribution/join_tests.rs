//! The join on a log directory written from real lines (harness runs on nginx 1.22.1 and
//! php-fpm 8.2; reference §3 for the unix-socket, refused and SIGKILL lines), one failed
//! request per cause, some sharing a keep-alive connection.

use super::*;
use crate::record::FailedList;

const ACCESS: &str = r#"127.0.0.1 [2026-11-22T11:41:10+00:00] msec=1795347670.266 "GET /nginx-health HTTP/1.1" 200 rt=0.000 uct=- uht=- urt=- us=- ua="-" conn=1 req=1 id=-
127.0.0.1 [2026-11-22T11:41:10+00:00] msec=1795347670.605 "GET /orm.php?rows=1000000 HTTP/1.1" 500 rt=0.031 uct=0.000 uht=0.032 urt=0.032 us=500 ua="127.0.0.1:33015" conn=8 req=1 id=1
127.0.0.1 [2026-11-22T11:41:12+00:00] msec=1795347672.087 "GET /loop.php HTTP/1.1" 500 rt=1.126 uct=0.000 uht=1.127 urt=1.127 us=500 ua="127.0.0.1:41865" conn=8 req=2 id=2
127.0.0.1 [2026-11-22T11:41:14+00:00] msec=1795347674.172 "GET /io.php?ms=4000 HTTP/1.1" 502 rt=2.599 uct=0.001 uht=- urt=2.600 us=502 ua="127.0.0.1:33015" conn=8 req=3 id=3
127.0.0.1 [2026-11-22T11:41:21+00:00] msec=1795347681.462 "GET /cpu.php?units=700 HTTP/1.1" 504 rt=0.500 uct=- uht=- urt=0.501 us=504 ua="127.0.0.1:41865" conn=15 req=1 id=4
127.0.0.1 [2026-11-22T11:41:22+00:00] msec=1795347682.963 "GET /cpu.php?units=700 HTTP/1.1" 504 rt=2.001 uct=0.000 uht=- urt=2.002 us=504 ua="127.0.0.1:41865" conn=16 req=1 id=5
127.0.0.1 [2026-11-22T11:41:30+00:00] msec=1795347690.100 "GET /cpu.php?units=100 HTTP/1.1" 502 rt=0.000 uct=- uht=- urt=0.000 us=502 ua="unix:/run/php-fpm.sock" conn=20 req=1 id=6
127.0.0.1 [2026-11-22T11:41:31+00:00] msec=1795347691.100 "GET /hello.php HTTP/1.1" 502 rt=0.000 uct=- uht=- urt=0.000 us=502 ua="127.0.0.1:28482" conn=21 req=1 id=7
127.0.0.1 [2026-11-22T11:41:40+00:00] msec=1795347700.500 "GET /io.php?ms=9000 HTTP/1.1" 502 rt=3.500 uct=0.000 uht=- urt=3.500 us=502 ua="127.0.0.1:33015" conn=22 req=1 id=8
127.0.0.1 [2026-11-22T11:41:45+00:00] msec=1795347705.000 "GET /io.php?ms=9000 HTTP/1.1" 499 rt=2.000 uct=0.000 uht=- urt=2.000 us=- ua="127.0.0.1:33015" conn=23 req=1 id=9
127.0.0.1 [2026-11-22T11:41:46+00:00] msec=1795347706.000 "GET /unready.php HTTP/1.1" 401 rt=0.002 uct=0.000 uht=0.002 urt=0.002 us=401 ua="127.0.0.1:33015" conn=24 req=1 id=10
127.0.0.1 [2026-11-22T11:41:47+00:00] msec=1795347707.000 "GET /loop.php HTTP/1.1" 500 rt=1.100 uct=0.000 uht=1.100 urt=1.100 us=500 ua="127.0.0.1:33015" conn=25 req=1 id=11
"#;

const ERROR: &str = r#"2026/11/22 11:41:10 [notice] 30049#30049: start worker processes
2026/11/22 11:41:10 [error] 30052#30052: *8 FastCGI sent in stderr: "PHP message: PHP Fatal error:  Allowed memory size of 33554432 bytes exhausted (tried to allocate 2097152 bytes) in /app/orm.php on line 18" while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /orm.php?rows=1000000 HTTP/1.1", upstream: "fastcgi://127.0.0.1:33015", host: "127.0.0.1:39777"
2026/11/22 11:41:12 [error] 413#413: *8 FastCGI sent in stderr: "PHP message: PHP Fatal error:  Maximum execution time of 1 second exceeded in /app/lib.php on line 48" while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /loop.php HTTP/1.1", upstream: "fastcgi://127.0.0.1:41865", host: "127.0.0.1:36603"
2026/11/22 11:41:14 [error] 30052#30052: *8 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /io.php?ms=4000 HTTP/1.1", upstream: "fastcgi://127.0.0.1:33015", host: "127.0.0.1:39777"
2026/11/22 11:41:21 [error] 412#412: *15 upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /cpu.php?units=700 HTTP/1.1", upstream: "fastcgi://127.0.0.1:41865", host: "127.0.0.1:36603"
2026/11/22 11:41:22 [error] 412#412: *16 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /cpu.php?units=700 HTTP/1.1", upstream: "fastcgi://127.0.0.1:41865", host: "127.0.0.1:36603"
2026/11/22 11:41:30 [error] 412#412: *20 connect() to unix:/run/php-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /cpu.php?units=100 HTTP/1.1", upstream: "fastcgi://unix:/run/php-fpm.sock:", host: "127.0.0.1:36603"
2026/11/22 11:41:31 [error] 412#412: *21 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /hello.php HTTP/1.1", upstream: "fastcgi://127.0.0.1:28482", host: "127.0.0.1:36603"
2026/11/22 11:41:40 [error] 412#412: *22 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /io.php?ms=9000 HTTP/1.1", upstream: "fastcgi://127.0.0.1:33015", host: "127.0.0.1:36603"
"#;

const FPM_ACCESS: &str = r#"2026-11-22T11:41:10+0000 id=1 "GET /orm.php?rows=1000000" 500 pid=30054 dur_ms=31.121 mem_kb=32772 cpu=32.13%
2026-11-22T11:41:11+0000 id=2 "GET /loop.php" 500 pid=414 dur_ms=1126.389 mem_kb=2048 cpu=81.68%
2026-11-22T11:41:46+0000 id=10 "GET /unready.php" 401 pid=414 dur_ms=1.0 mem_kb=2048 cpu=0.00%
2026-11-22T11:41:46+0000 id=11 "GET /loop.php" 500 pid=500 dur_ms=1100.0 mem_kb=2048 cpu=90.00%
"#;

const FPM_LOG: &str = r#"[22-Nov-2026 11:41:10] NOTICE: ready to handle connections
[22-Nov-2026 11:41:14] WARNING: [pool www] child 30054, script '/app/io.php' (request: "GET /io.php?ms=4000") execution timed out (2.596390 sec), terminating
[22-Nov-2026 11:41:14] WARNING: [pool www] child 30054 exited on signal 15 (SIGTERM) after 4.003831 seconds from start
[22-Nov-2026 11:41:40] WARNING: [pool www] child 23100 exited on signal 9 (SIGKILL) after 21.129818 seconds from start
[22-Nov-2026 11:41:47] WARNING: [pool www] child 500 said into stderr: "NOTICE: PHP message: PHP Fatal error:  Maximum execution time of 1 second exceeded in /app/lib.php on line 48"
"#;

fn failed(id: u64, ending: FailedEnding, reported: bool) -> FailedRequest {
    FailedRequest {
        id,
        phase: 0,
        kind: 0,
        ending,
        t_ms: id * 1000,
        reported_by_app: reported,
    }
}

#[test]
fn one_request_per_cause() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("nginx-access.log", ACCESS),
        ("nginx-error.log", ERROR),
        ("php-fpm-access.log", FPM_ACCESS),
        ("php-fpm.log", FPM_LOG),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let s = FailedEnding::Status;
    let list = FailedList {
        kept: vec![
            failed(1, s(500), false),
            failed(2, s(500), false),
            failed(3, s(502), false),
            failed(4, s(504), false),
            failed(5, s(504), false),
            failed(6, s(502), false),
            failed(7, s(502), false),
            failed(8, s(502), false),
            failed(9, FailedEnding::Client(FailureKind::Timeout), false),
            failed(10, s(401), true),
            failed(11, s(500), false),
            failed(12, FailedEnding::Client(FailureKind::Refused), false),
            failed(13, s(502), false),
        ],
        over_cap: 2,
    };
    let (a, verdicts) = super::super::attribute(dir.path(), &list, 1_795_347_660_000, 0);
    let got: Vec<(u64, Cause)> = verdicts.iter().map(|v| (v.id, v.cause)).collect();
    assert_eq!(
        got,
        vec![
            (1, Cause::MemoryLimit),
            (2, Cause::MaxExecutionTime),
            (3, Cause::FpmTerminateTimeout),
            (4, Cause::NginxConnectTimeout),
            (5, Cause::NginxReadTimeout),
            (6, Cause::UnixBacklogFull),
            (7, Cause::UpstreamDown),
            (8, Cause::WorkerKilled),
            (9, Cause::ClientTimeout),
            (10, Cause::AppStatus),
            // nginx did not log the worker's stderr: php-fpm's log, by pid, names it.
            (11, Cause::MaxExecutionTime),
            (12, Cause::NginxDown),
            // No access line at all.
            (13, Cause::Unexplained),
        ]
    );
    // The terminated worker's own SIGTERM exit is not taken for a second death.
    assert!(verdicts[2]
        .lines
        .iter()
        .any(|l| l.contains("execution timed out")));
    assert!(verdicts[7].lines.iter().any(|l| l.contains("signal 9")));
    assert_eq!(a.failed, 13);
    assert_eq!(a.over_cap, 2);
    assert_eq!(a.count(Cause::MaxExecutionTime), 2);
    let mx = a
        .causes
        .iter()
        .find(|c| c.cause == Cause::MaxExecutionTime)
        .unwrap();
    assert_eq!(mx.outcomes.get("500"), Some(&2));
    assert!(mx.examples[0]
        .lines
        .iter()
        .any(|l| l.contains("Maximum execution time")));
    assert!(a.notes.iter().any(|n| n.contains("not attributed")));
    // Chain order: client first.
    assert_eq!(a.causes[0].cause, Cause::ClientTimeout);
}

#[test]
fn missing_logs_are_noted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let list = FailedList {
        kept: vec![failed(1, FailedEnding::Status(502), false)],
        over_cap: 0,
    };
    let (a, v) = super::super::attribute(dir.path(), &list, 0, 0);
    assert_eq!(v[0].cause, Cause::Unexplained);
    assert_eq!(a.notes.len(), 4, "{:?}", a.notes);
}

#[test]
fn request_line_of_an_error() {
    assert_eq!(
        request_of(r#"… request: "GET /io.php?ms=4000 HTTP/1.1", upstream: …"#),
        Some("GET /io.php?ms=4000")
    );
}
