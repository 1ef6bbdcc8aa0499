use super::*;

fn head(text: &str) -> Head {
    match parse_head(text.as_bytes(), true).unwrap() {
        Parsed::Head(h) => h,
        other => panic!("{other:?}"),
    }
}

/// Feeds `body` one split at a time and returns the bytes consumed and whether it ended.
fn skip(framing: Framing, parts: &[&[u8]]) -> (usize, bool) {
    let mut s = BodySkipper::new(framing);
    let mut used = 0;
    for p in parts {
        used += s.feed(p).unwrap();
    }
    (used, s.is_done())
}

#[test]
fn renders_the_request_with_its_id() {
    let t = RequestTemplate::new("GET", "/cpu.php?units=5", "127.0.0.1:8080");
    let mut out = Vec::new();
    t.render(42, 0, &mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("GET /cpu.php?units=5 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
    assert!(text.ends_with("X-Fpmlab-Id: 42\r\n\r\n"), "{text}");
    t.render(7, 0, &mut out);
    assert!(String::from_utf8(out).unwrap().ends_with("Id: 7\r\n\r\n"));
}

/// A POST kind with headers, a body and a data file of two rows.
fn post_kind(body: &str) -> RequestKind {
    let content = body.as_bytes().to_vec();
    RequestKind {
        name: "post".into(),
        method: "POST".into(),
        path: "/cart/{{cart}}?x=1".into(),
        weight: 1,
        headers: [
            ("Authorization".to_string(), "Bearer {{token}}".to_string()),
            ("Cookie".to_string(), "sid=s-{{ cart }}".to_string()),
            ("X-Static".to_string(), "yes".to_string()),
        ]
        .into_iter()
        .collect(),
        body: Some(crate::scenario::Body {
            content_type: "application/json".into(),
            inline: Some(body.into()),
            file: None,
            size_bytes: content.len() as u64,
            sha256: String::new(),
            content: Arc::new(content),
        }),
        data: Some(crate::scenario::DataSource {
            file: "d.csv".into(),
            format: "csv".into(),
            pick: crate::scenario::DataPick::Sequential,
            columns: vec!["token".into(), "cart".into()],
            rows: 2,
            sha256: String::new(),
            table: Arc::new(vec![
                vec!["tok-a".into(), "1".into()],
                vec!["tok-bbbb".into(), "22".into()],
            ]),
        }),
        replay_match: None,
    }
}

#[test]
fn renders_headers_body_and_row_values() {
    let t = RequestTemplate::for_kind(&post_kind(r#"{"cart":"{{cart}}"}"#), "h:1").unwrap();
    assert_eq!(t.rows(), 2);
    let mut out = Vec::new();
    t.render(5, 1, &mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(
        text,
        format!(
            "POST /cart/22?x=1 HTTP/1.1\r\nHost: h:1\r\nUser-Agent: fpmlab/{}\r\nAuthorization: Bearer tok-bbbb\r\nCookie: sid=s-22\r\nX-Static: yes\r\nX-Fpmlab-Id: 5\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{{\"cart\":\"22\"}}",
            env!("CARGO_PKG_VERSION")
        )
    );
    // Row 0: shorter values, a shorter Content-Length.
    t.render(6, 0, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("Content-Length: 12\r\n\r\n{\"cart\":\"1\"}"),
        "{text}"
    );
    assert!(text.contains("Bearer tok-a\r\n"), "{text}");
}

#[test]
fn a_replayed_request_keeps_the_logged_line_and_the_kinds_headers_and_body() {
    let t = RequestTemplate::for_kind(&post_kind(r#"{"cart":"{{cart}}"}"#), "h:1").unwrap();
    let (mut full, mut replayed) = (Vec::new(), Vec::new());
    t.render(5, 1, &mut full);
    t.render_line(b"PUT /logged/path?q=%20", 5, 1, &mut replayed);
    let full = String::from_utf8(full).unwrap();
    let replayed = String::from_utf8(replayed).unwrap();
    assert_eq!(
        replayed,
        full.replacen("POST /cart/22?x=1", "PUT /logged/path?q=%20", 1)
    );
}

#[test]
fn a_fixed_body_is_one_literal_after_the_id() {
    let t = RequestTemplate::for_kind(&post_kind("0123456789"), "h:1").unwrap();
    // The body has no placeholder: its length is part of the literal after the id.
    assert!(!t.segs.contains(&Seg::ContentLength));
    let after_id = t.segs.iter().skip_while(|s| **s != Seg::Id).skip(1).count();
    assert_eq!(after_id, 1, "{:?}", t.segs);
    let mut out = Vec::new();
    t.render(1, 0, &mut out);
    assert!(out.ends_with(b"Content-Length: 10\r\n\r\n0123456789"));
}

#[test]
fn a_plain_request_is_a_literal_the_id_and_a_literal() {
    let t = RequestTemplate::new("GET", "/hello.php", "h:1");
    assert_eq!(t.segs.len(), 3);
    assert_eq!(t.segs[1], Seg::Id);
}

#[test]
fn parses_status_framing_and_timing() {
    let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Fpm-Request-Time-Float: 1795342330.5\r\nx-fpm-script-start: 1795342330.500100\r\nX-FPM-Script-End: 1795342330.600100\r\nX-Fpm-Pid: 77\r\n\r\nhello");
    assert_eq!(h.status, 200);
    assert_eq!(h.framing, Framing::Length(12));
    assert!(!h.close);
    assert_eq!(h.len, h.len.min(200));
    let fpm = h.fpm.unwrap();
    assert_eq!(fpm.request_time_us, 1_795_342_330_500_000);
    assert_eq!(fpm.script_end_us - fpm.script_start_us, 100_000);
    assert_eq!(fpm.pid, 77);
}

#[test]
fn a_partial_timing_set_is_no_timing() {
    let h = head("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Fpm-Pid: 77\r\n\r\n");
    assert_eq!(h.fpm, None);
    assert_eq!(h.framing, Framing::Empty);
}

#[test]
fn connection_rules() {
    assert!(head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n").close);
    assert!(head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").close);
    assert!(!head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n").close);
    // No length and not chunked: the body runs to the close.
    let h = head("HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(h.framing, Framing::UntilClose);
    assert!(h.close);
    let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(h.framing, Framing::Chunked);
}

#[test]
fn bodiless_responses() {
    assert_eq!(
        head("HTTP/1.1 204 No Content\r\n\r\n").framing,
        Framing::Empty
    );
    assert_eq!(
        head("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").framing,
        Framing::Empty
    );
    match parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", false).unwrap() {
        Parsed::Head(h) => assert_eq!(h.framing, Framing::Empty),
        other => panic!("{other:?}"),
    }
}

#[test]
fn interim_partial_and_invalid_heads() {
    assert_eq!(
        parse_head(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", true).unwrap(),
        Parsed::Interim(25)
    );
    assert_eq!(
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", true).unwrap(),
        Parsed::Partial
    );
    assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n", true).is_err());
    assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", true).is_err());
    assert!(parse_head(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        true
    )
    .is_err());
}

#[test]
fn length_bodies_split_anywhere() {
    assert_eq!(skip(Framing::Length(5), &[b"he", b"llo"]), (5, true));
    assert_eq!(skip(Framing::Length(5), &[b"hel"]), (3, false));
    // Bytes past the body are not consumed.
    assert_eq!(skip(Framing::Length(2), &[b"okEXTRA"]), (2, true));
    assert_eq!(skip(Framing::UntilClose, &[b"abc", b"de"]), (5, false));
}

#[test]
fn chunked_bodies_split_at_every_byte() {
    let body = b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: y\r\n\r\n";
    assert_eq!(skip(Framing::Chunked, &[body]), (body.len(), true));
    for cut in 0..body.len() {
        let (a, b) = body.split_at(cut);
        assert_eq!(
            skip(Framing::Chunked, &[a, b]),
            (body.len(), true),
            "cut {cut}"
        );
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(skip(Framing::Chunked, &bytes), (body.len(), true));
    // The last chunk without trailers, then bytes beyond the body.
    assert_eq!(skip(Framing::Chunked, &[b"0\r\n\r\nNEXT"]), (5, true));
    assert_eq!(skip(Framing::Chunked, &[b"2\r\nok\r\n"]), (7, false));
}

#[test]
fn chunked_errors() {
    let mut s = BodySkipper::new(Framing::Chunked);
    assert!(s.feed(b"zz\r\n").is_err());
    let mut s = BodySkipper::new(Framing::Chunked);
    assert!(s.feed(b"2\r\nokXX").is_err());
    let mut s = BodySkipper::new(Framing::Chunked);
    assert!(s.feed(b"fffffffffffffffffffff\r\n").is_err());
}

#[test]
fn parses_php_times_exactly() {
    assert_eq!(epoch_us("1795342330.123456"), Some(1_795_342_330_123_456));
    assert_eq!(epoch_us("1795342330.1"), Some(1_795_342_330_100_000));
    assert_eq!(epoch_us("1795342330.1234567"), Some(1_795_342_330_123_456));
    assert_eq!(epoch_us("1795342330"), Some(1_795_342_330_000_000));
    assert_eq!(epoch_us("17953x"), None);
    assert_eq!(epoch_us("1.2e3"), None);
}
