use super::*;

const ALB: &str = r#"https 2024-05-01T10:00:00.250000Z app/prod/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.001000 0.200000 0.000500 200 200 34 366 "POST https://shop.example.com:443/V1/carts/mine?x=1 HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "shop.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678" 0 2024-05-01T10:00:00.048500Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" "TID_1234""#;

#[test]
fn alb_line_gives_method_relative_path_arrival_and_figures() {
    let e = alb::parse(7, ALB).unwrap();
    assert_eq!(e.line, 7);
    assert_eq!(e.method, "POST");
    assert_eq!(e.path, "/V1/carts/mine?x=1");
    // request_creation_time, when the ALB received it.
    assert_eq!(
        e.arrival_us,
        alb::epoch_us("2024-05-01T10:00:00.0485Z").unwrap()
    );
    let t = e.alb.unwrap();
    assert_eq!(t.request_us, Some(1000));
    assert_eq!(t.target_us, Some(200_000));
    assert_eq!(t.response_us, Some(500));
    assert_eq!((t.elb_status, t.target_status), (Some(200), Some(200)));
}

#[test]
fn alb_without_creation_time_is_time_minus_processing_and_minus_one_is_unmeasured() {
    // Cut after the trace id: no request_creation_time; the target never answered.
    let line = r#"http 2024-05-01T10:00:05.000000Z app/prod/x 1.2.3.4:5 - 0.000100 -1 -1 504 - 10 0 "GET http://h:80/slow HTTP/1.1" "ua" - - arn:x "Root=1""#;
    let e = alb::parse(1, line).unwrap();
    assert_eq!(
        e.arrival_us,
        alb::epoch_us("2024-05-01T10:00:05Z").unwrap() - 100
    );
    let t = e.alb.unwrap();
    assert_eq!((t.target_us, t.response_us), (None, None));
    assert_eq!((t.elb_status, t.target_status), (Some(504), None));
    assert_eq!(e.path, "/slow");
}

#[test]
fn alb_host_only_url_is_the_root_and_bad_lines_say_why() {
    let line = ALB.replace(
        "https://shop.example.com:443/V1/carts/mine?x=1",
        "https://shop.example.com:443",
    );
    assert_eq!(alb::parse(1, &line).unwrap().path, "/");
    let cut = &ALB[..120];
    assert!(
        alb::parse(1, cut).unwrap_err().contains("fields"),
        "{}",
        alb::parse(1, cut).unwrap_err()
    );
    let nginx_line = NGINX.lines().next().unwrap();
    assert!(alb::parse(1, nginx_line)
        .unwrap_err()
        .contains("not an ALB entry type"));
    let no_request = ALB.replace(
        "POST https://shop.example.com:443/V1/carts/mine?x=1 HTTP/1.1",
        "- http://h:80- -",
    );
    assert!(alb::parse(1, &no_request)
        .unwrap_err()
        .contains("no request"));
    let bad_time = ALB.replace("2024-05-01T10:00:00.250000Z", "yesterday");
    assert!(alb::parse(1, &bad_time).unwrap_err().contains("ISO 8601"));
}

const NGINX: &str = "\
10.0.0.1 - - [01/May/2024:10:00:00 +0000] \"GET /a?x=1 HTTP/1.1\" 200 12 \"-\" \"curl/8\"
10.0.0.2 - bob [01/May/2024:10:00:00 +0000] \"POST /b HTTP/1.1\" 201 0 \"https://r/\" \"Mozilla/5.0 (X11; Linux)\"
10.0.0.3 - - [01/May/2024:10:00:00 +0000] \"GET /c HTTP/1.1\" 200 1 \"-\" \"-\"
10.0.0.4 - - [01/May/2024:12:00:02 +0200] \"HEAD / HTTP/1.0\" 200 0 \"-\" \"-\"
";

#[test]
fn nginx_lines_parse_and_one_second_is_spread_evenly_in_log_order() {
    let log = parse_log(NGINX.as_bytes(), LogFormat::Nginx);
    assert_eq!((log.lines, log.bad), (4, 0));
    let t0 = nginx::epoch_us("01/May/2024:10:00:00 +0000").unwrap();
    let got: Vec<(i64, &str, &str)> = log
        .entries
        .iter()
        .map(|e| (e.arrival_us - t0, e.method.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (0, "GET", "/a?x=1"),
            (333_333, "POST", "/b"),
            (666_666, "GET", "/c"),
            // 12:00:02 +0200 is 10:00:02 UTC.
            (2_000_000, "HEAD", "/"),
        ]
    );
}

#[test]
fn nginx_bad_lines_are_counted_with_line_numbers_and_reasons() {
    let text = format!(
        "{}\n\n10.0.0.9 - - [01/May/2024:10:00:01 +0000] \"\\x16\\x03\\x01\" 400 150 \"-\" \"-\"\n10.0.0.9 - - [not a time] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"\n10.0.0.9 - - [01/May/2024:10:00:01 +0000] \"GET /cut",
        NGINX.trim_end()
    );
    let log = parse_log(text.as_bytes(), LogFormat::Nginx);
    assert_eq!(log.entries.len(), 4);
    assert_eq!(log.lines, 7, "blank lines are not counted");
    assert_eq!(log.bad, 3);
    let lines: Vec<u64> = log.bad_examples.iter().map(|b| b.line).collect();
    assert_eq!(lines, [6, 7, 8]);
    assert!(log.bad_examples[0].reason.contains("is not METHOD PATH"));
    assert!(log.bad_examples[1].reason.contains("$time_local"));
    assert!(log.bad_examples[2].reason.contains("never closed"));
}

#[test]
fn entries_come_out_in_arrival_order() {
    // ALB logs are written in response order: the slow request arrived first.
    let slow = ALB.replace("10:00:00.048500Z", "10:00:00.010000Z");
    let text = format!("{ALB}\n{slow}\n");
    let log = parse_log(text.as_bytes(), LogFormat::Alb);
    let lines: Vec<u64> = log.entries.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 1]);
}

#[test]
fn patterns_match_exact_paths_without_query_or_globs() {
    assert!(path_matches("/V1/carts/mine", "/V1/carts/mine?x=1"));
    assert!(!path_matches("/V1/carts/mine", "/V1/carts/mine/items"));
    assert!(path_matches("/V1/carts/*", "/V1/carts/mine/items"));
    assert!(path_matches("/V1/*/items", "/V1/carts/mine/items"));
    assert!(!path_matches("/V1/*/items", "/V1/carts/mine/items?x"));
    assert!(path_matches("*", "/anything?at=all"));
    assert!(path_matches("/a*b*c", "/a-b-b-c"));
    assert!(!path_matches("/a*b*c", "/a-c"));
    assert!(!path_matches("/ab*ba", "/aba"));
}

#[test]
fn alb_figures_per_second() {
    let t = |target: Option<u64>, elb: u16, tgt: Option<u16>| AlbTimes {
        request_us: Some(1),
        target_us: target,
        response_us: Some(2),
        elb_status: Some(elb),
        target_status: tgt,
    };
    let times = [
        t(Some(100), 200, Some(200)),
        t(Some(300), 200, Some(200)),
        t(Some(200), 500, Some(500)),
        t(None, 502, None),
    ];
    let f = AlbFigures::of(3, times.iter());
    assert_eq!(f.t_s, 3);
    assert_eq!(f.requests, 4);
    assert_eq!(f.target_processing_p50_us, Some(200));
    assert_eq!(f.target_processing_p99_us, Some(300));
    assert_eq!(f.target_unmeasured, 1);
    assert_eq!(f.elb_5xx(), 2);
    assert_eq!(f.target_status.get("-"), Some(&1));
    assert_eq!(f.elb_status.get("200"), Some(&2));
}
