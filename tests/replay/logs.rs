//! The crafted logs tests/replay.rs replays: an nginx `combined` log and an AWS ALB log,
//! each with two bad lines, and what the schedule must make of them.

use std::path::Path;

/// (second, method, path) in log order; same-second lines are spread evenly.
pub const NGINX_REQUESTS: [(u32, &str, &str); 7] = [
    (0, "GET", "/echo.php?page=home&n=1"),
    (0, "POST", "/echo.php?page=cart&n=2"),
    (0, "GET", "/echo.php?page=cart&n=3"),
    (0, "HEAD", "/echo.php?page=home&n=4"),
    (1, "POST", "/echo.php?page=cart&n=5"),
    (1, "GET", "/echo.php?page=home&n=6"),
    (2, "GET", "/echo.php?page=home&n=7"),
];

pub fn nginx_log() -> String {
    let mut out = String::new();
    for (s, method, path) in NGINX_REQUESTS {
        out.push_str(&format!(
            "10.1.2.3 - - [01/May/2024:10:00:0{s} +0000] \"{method} {path} HTTP/1.1\" 200 42 \"-\" \"Mozilla/5.0 (X11)\"\n"
        ));
        if s == 1 && method == "POST" {
            // Two bad lines in the middle: a cut-off one and TLS bytes on a plain port.
            out.push_str("10.1.2.3 - - [01/May/2024:10:00:01 +0000] \"GET /echo.php?page=cut\n");
            out.push_str("10.1.2.3 - - [01/May/2024:10:00:01 +0000] \"\\x16\\x03\\x01\" 400 157 \"-\" \"-\"\n");
        }
    }
    out
}

/// Arrival µs after 10:00:00, method, path, processing times (s; -1 = not measured),
/// ELB and target status.
pub type AlbRow = (i64, &'static str, &'static str, [f64; 3], u16, Option<u16>);
pub const ALB_REQUESTS: [AlbRow; 7] = [
    (
        123,
        "POST",
        "/echo.php?page=cart&n=101",
        [0.001, 0.05, 0.0],
        200,
        Some(200),
    ),
    (
        250_500,
        "GET",
        "/echo.php?page=home&n=102",
        [0.0, 0.02, 0.0],
        200,
        Some(200),
    ),
    (
        731_007,
        "GET",
        "/echo.php?page=home&n=103",
        [0.0001, -1.0, -1.0],
        502,
        None,
    ),
    (
        1_100_001,
        "POST",
        "/echo.php?page=cart&n=104",
        [0.0, 0.3, 0.0],
        200,
        Some(200),
    ),
    (
        1_100_002,
        "GET",
        "/echo.php?page=home&n=105",
        [0.0, 0.01, 0.0],
        200,
        Some(200),
    ),
    (
        1_999_999,
        "GET",
        "/echo.php?page=home&n=106",
        [0.0, -1.0, -1.0],
        504,
        None,
    ),
    (
        2_500_000,
        "GET",
        "/echo.php?page=home&n=107",
        [0.0, 0.002, 0.001],
        200,
        Some(200),
    ),
];
pub const T0_EPOCH_US: i64 = 1_714_557_600_000_000; // 2024-05-01T10:00:00Z

fn iso(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

pub fn alb_log() -> String {
    let mut out = String::new();
    // Written in response order, as an ALB does: sorted by `time`, not by arrival.
    let mut rows = ALB_REQUESTS.to_vec();
    rows.sort_by_key(|r| {
        let spent: f64 = r.3.iter().filter(|t| **t >= 0.0).sum();
        r.0 + (spent * 1e6).round() as i64
    });
    for (at, method, path, times, elb, target) in rows {
        let spent: f64 = times.iter().filter(|t| **t >= 0.0).sum();
        let time = iso(T0_EPOCH_US + at + (spent * 1e6).round() as i64);
        let created = iso(T0_EPOCH_US + at);
        let t = |v: f64| {
            if v < 0.0 {
                "-1".to_string()
            } else {
                format!("{v:.6}")
            }
        };
        let target_addr = if target.is_some() { "10.0.0.5:80" } else { "-" };
        let target_status = target.map_or("-".to_string(), |s| s.to_string());
        out.push_str(&format!(
            "https {time} app/prod/50dc6c495c0c9188 203.0.113.9:41000 {target_addr} {} {} {} {elb} {target_status} 120 300 \"{method} https://shop.example.com:443{path} HTTP/1.1\" \"okhttp/4.9\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe354\" \"shop.example.com\" \"arn:aws:acm:eu-west-1:123456789012:certificate/abc\" 0 {created} \"forward\" \"-\" \"-\" \"{target_addr}\" \"{target_status}\" \"-\" \"-\" \"TID_1\"\n",
            t(times[0]), t(times[1]), t(times[2])
        ));
    }
    // A line cut off in the request, and one the ALB could not read a request from.
    out.push_str("https 2024-05-01T10:00:01.500000Z app/prod/50dc6c495c0c9188 203.0.113.9:41000 10.0.0.5:80 0.000 0.001 0.000 200 200 1 2 \"GET https://shop.example.com:443/echo.php?page=cu\n");
    out.push_str("http 2024-05-01T10:00:02.000000Z app/prod/50dc6c495c0c9188 203.0.113.9:41001 - -1 -1 -1 400 - 0 0 \"- http://shop.example.com:80- -\" \"-\" - - - \"-\" \"-\" \"-\" - 2024-05-01T10:00:02.000000Z \"-\" \"-\" \"-\" \"-\" \"-\" \"-\" \"-\"\n");
    out
}

pub fn write_logs(dir: &Path) {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("logs/access.log"), nginx_log()).unwrap();
    std::fs::write(dir.join("logs/alb.log"), alb_log()).unwrap();
}

/// Per phase: (intended µs after the phase start, method, path), from the crafted logs by
/// this test's own arithmetic.
pub fn expected() -> Vec<Vec<(u64, String, String)>> {
    let nginx = |speed: u64| -> Vec<(u64, String, String)> {
        NGINX_REQUESTS
            .iter()
            .enumerate()
            .map(|(i, (s, m, p))| {
                let same: Vec<usize> = (0..NGINX_REQUESTS.len())
                    .filter(|j| NGINX_REQUESTS[*j].0 == *s)
                    .collect();
                let k = same.iter().position(|j| *j == i).unwrap() as u64;
                let at = u64::from(*s) * 1_000_000 + k * 1_000_000 / same.len() as u64;
                (at / speed, m.to_string(), p.to_string())
            })
            .collect()
    };
    let alb = |speed: i64, from: i64| -> Vec<(u64, String, String)> {
        ALB_REQUESTS
            .iter()
            .filter(|r| r.0 >= from)
            .map(|r| {
                (
                    ((r.0 - from) / speed) as u64,
                    r.1.to_string(),
                    r.2.to_string(),
                )
            })
            .collect()
    };
    vec![nginx(1), nginx(2), alb(1, 0), alb(2, 1_000_000)]
}
