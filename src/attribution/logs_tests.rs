//! Real lines: from nginx 1.22.1 / php-fpm 8.2 runs of the harness and from
//! shared/reference/php-fpm-nginx.md §3 (paths shortened).

use super::*;

#[test]
fn nginx_access_line() {
    let a = nginx_access(r#"127.0.0.1 [2026-11-22T11:41:14+00:00] msec=1795347674.171 "GET /io.php?ms=4000 HTTP/1.1" 502 rt=2.098 uct=0.000 uht=- urt=2.098 us=502 ua="127.0.0.1:33015" conn=18 req=1 id=4"#).unwrap();
    assert_eq!(
        a,
        NginxAccess {
            id: Some(4),
            conn: 18,
            status: 502,
            end_ms: 1_795_347_674_171,
            request_ms: 2098,
            utc_offset_s: Some(0),
            request: "GET /io.php?ms=4000".into(),
        }
    );
    let probe = nginx_access(r#"127.0.0.1 [2026-11-22T12:41:10+01:00] msec=1795347670.266 "GET /nginx-health HTTP/1.1" 200 rt=0.000 uct=- uht=- urt=- us=- ua="-" conn=1 req=1 id=-"#).unwrap();
    assert_eq!(probe.id, None);
    assert_eq!(probe.utc_offset_s, Some(3600));
    assert_eq!(nginx_access("garbage"), None);
}

#[test]
fn nginx_error_line() {
    let e = nginx_error(r#"2026/11/22 11:42:01 [error] 412#412: *15 upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /cpu.php?units=700 HTTP/1.1", upstream: "fastcgi://127.0.0.1:41865", host: "127.0.0.1:36603""#).unwrap();
    assert_eq!(e.conn, 15);
    assert_eq!(e.local.to_string(), "2026-11-22 11:42:01");
    // Lines about the daemon itself have no connection.
    assert_eq!(
        nginx_error("2026/11/22 11:41:10 [notice] 30049#30049: start worker processes"),
        None
    );
}

#[test]
fn fpm_access_line() {
    let a = fpm_access(r#"2026-11-22T11:42:00+0000 id=2 "GET /loop.php" 500 pid=414 dur_ms=1126.389 mem_kb=2048 cpu=81.68%"#).unwrap();
    assert_eq!(
        a,
        FpmAccess {
            id: Some(2),
            status: 500,
            pid: 414,
            utc_offset_s: Some(0)
        }
    );
    let probe = fpm_access(r#"2026-11-22T11:41:59+0200 id=- "GET /health.php" 200 pid=414 dur_ms=1.108 mem_kb=2048 cpu=0.00%"#).unwrap();
    assert_eq!((probe.id, probe.utc_offset_s), (None, Some(7200)));
}

#[test]
fn fpm_events() {
    let t = fpm_event(r#"[22-Nov-2026 11:41:14] WARNING: [pool www] child 30055, script '/app/io.php' (request: "GET /io.php?ms=4000") execution timed out (2.096107 sec), terminating"#).unwrap();
    assert_eq!(t.pid, 30055);
    assert_eq!(
        t.kind,
        FpmEventKind::Terminated {
            request: "GET /io.php?ms=4000".into()
        }
    );
    let k = fpm_event("[22-Nov-2026 10:20:01] WARNING: [pool www] child 23100 exited on signal 9 (SIGKILL) after 21.129818 seconds from start").unwrap();
    assert_eq!(
        (k.pid, k.kind),
        (23100, FpmEventKind::Signalled { signal: 9 })
    );
    let s = fpm_event(r#"[22-Nov-2026 11:42:02] WARNING: [pool www] child 414 said into stderr: "NOTICE: PHP message: PHP Fatal error:  Maximum execution time of 1 second exceeded in /app/lib.php on line 48""#).unwrap();
    match s.kind {
        FpmEventKind::Stderr { message } => {
            assert!(message.contains("Maximum execution time"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // log_level = debug stamps microseconds.
    let d = fpm_event("[22-Nov-2026 10:14:30.627472] WARNING: [pool www] child 19017 exited on signal 15 (SIGTERM) after 14.680068 seconds from start").unwrap();
    assert_eq!(d.kind, FpmEventKind::Signalled { signal: 15 });
    for other in [
        "[22-Nov-2026 11:41:14] NOTICE: [pool www] child 30286 started",
        "[22-Nov-2026 11:41:10] NOTICE: ready to handle connections",
        "NOTICE: PHP message: PHP Fatal error:  Allowed memory size of 33554432 bytes exhausted",
    ] {
        assert_eq!(fpm_event(other), None, "{other}");
    }
}

#[test]
fn local_times_use_the_writers_offset() {
    let local = NaiveDateTime::parse_from_str("2026-11-22 12:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
    let utc = local_to_epoch_s(local, 0);
    assert_eq!(local_to_epoch_s(local, 3600), utc - 3600);
}
