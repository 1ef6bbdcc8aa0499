use super::*;

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn placeholders_become_columns_and_the_rest_stays_literal() {
    let parts = parse_template(
        b"/c/{{cart}}?t={{ token }}&x={{}}{y}",
        &cols(&["token", "cart"]),
    )
    .unwrap();
    assert_eq!(
        parts,
        vec![
            Part::Lit(b"/c/".to_vec()),
            Part::Col(1),
            Part::Lit(b"?t=".to_vec()),
            Part::Col(0),
            Part::Lit(b"&x={{}}{y}".to_vec()),
        ]
    );
    assert_eq!(columns_used(&parts), vec![1, 0]);
}

#[test]
fn a_placeholder_naming_no_column_says_which_there_are() {
    let e = parse_template(b"Bearer {{tokn}}", &cols(&["token", "cart"])).unwrap_err();
    assert!(
        e.contains("{{tokn}} names no column") && e.contains("token, cart"),
        "{e}"
    );
    let e = parse_template(b"{{token}}", &[]).unwrap_err();
    assert!(
        e.contains("no data file") && e.contains("add data ="),
        "{e}"
    );
}

#[test]
fn header_names_and_values_are_checked() {
    assert!(check_header_name("Authorization").is_ok());
    assert!(check_header_name("Cookie").is_ok());
    for reserved in [
        "Host",
        "content-length",
        "Transfer-Encoding",
        "Connection",
        "X-Fpmlab-Id",
    ] {
        let e = check_header_name(reserved).unwrap_err();
        assert!(e.contains("set by fpmlab"), "{e}");
    }
    assert!(check_header_name("X Bad")
        .unwrap_err()
        .contains("not a header name"));
    assert!(check_header_name("").is_err());
    assert!(check_header_value(b"a\tb c").is_ok());
    assert!(check_header_value(b"a\r\nX-Evil: 1")
        .unwrap_err()
        .contains("CR or LF"));
    assert!(check_path_value(b"/a%20b").is_ok());
    assert!(check_path_value(b"/a b").unwrap_err().contains("%20"));
}

#[test]
fn csv_with_a_header_row() {
    let t = parse_table(b"token,cart_id\na,1\n\"b,c\",2\n", "csv").unwrap();
    assert_eq!(t.columns, cols(&["token", "cart_id"]));
    assert_eq!(t.rows, vec![cols(&["a", "1"]), cols(&["b,c", "2"])]);
}

#[test]
fn bad_csv_is_refused_with_where() {
    let e = parse_table(b"token,cart\na,1\nb\n", "csv").unwrap_err();
    assert!(
        e.contains("line 3") && e.contains("1 values where the header has 2"),
        "{e}"
    );
    assert!(parse_table(b"", "csv").unwrap_err().contains("no columns"));
    assert!(parse_table(b"token,cart\n", "csv")
        .unwrap_err()
        .contains("no rows"));
    let e = parse_table(b"a,a\n1,2\n", "csv").unwrap_err();
    assert!(e.contains("appears twice"), "{e}");
    let e = parse_table(b"a b\n1\n", "csv").unwrap_err();
    assert!(e.contains("cannot be a placeholder"), "{e}");
}

#[test]
fn json_arrays_of_flat_objects() {
    let t = parse_table(
        br#"[{"token":"a","n":1,"ok":true},{"token":"b","n":2.5,"ok":false}]"#,
        "json",
    )
    .unwrap();
    assert_eq!(t.columns, cols(&["n", "ok", "token"]));
    assert_eq!(
        t.rows,
        vec![cols(&["1", "true", "a"]), cols(&["2.5", "false", "b"])]
    );
}

#[test]
fn bad_json_is_refused_with_where() {
    assert!(parse_table(b"{}", "json")
        .unwrap_err()
        .contains("not a JSON array"));
    assert!(parse_table(b"[", "json")
        .unwrap_err()
        .contains("not valid JSON"));
    assert!(parse_table(b"[]", "json")
        .unwrap_err()
        .contains("no columns"));
    let e = parse_table(br#"[{"a":"1"},{"b":"2"}]"#, "json").unwrap_err();
    assert!(e.contains("item 1") && e.contains("same keys"), "{e}");
    let e = parse_table(br#"[{"a":{"x":1}}]"#, "json").unwrap_err();
    assert!(e.contains("only strings, numbers and booleans"), "{e}");
    assert!(parse_table(br#"[1]"#, "json")
        .unwrap_err()
        .contains("item 0 is not an object"));
}

#[test]
fn data_format_from_the_extension() {
    assert_eq!(data_format(Path::new("a/users.CSV")).unwrap(), "csv");
    assert_eq!(data_format(Path::new("users.json")).unwrap(), "json");
    assert!(data_format(Path::new("users.txt"))
        .unwrap_err()
        .contains(".csv"));
}
