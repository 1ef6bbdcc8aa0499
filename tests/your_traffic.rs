//! Requests that look like real traffic: headers, cookies, bodies and per-request data
//! from a CSV or JSON file, sent by the real binary through the real native stack to
//! `docker/app/echo.php`, which writes what it received into php-fpm's log. Each logged
//! request is compared with what the scenario and its data file say for that request id.
//! Also: bad request definitions and data files refused with the file, field and fix.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use fpmlab::load::rows::RowPicker;
use serde_json::Value;
use sha2::{Digest, Sha256};

const USERS_CSV: &str = "token,cart_id,user\n\
    tok-alice,101,alice\n\
    tok-bob,202,bob\n\
    \"tok,carol\",303,carol\n\
    tok-dave,404,dave\n\
    tok-erin,505,erin\n";

const USERS_JSON: &str = r#"[
  {"token": "j-1", "tier": "gold"},
  {"token": "j-2", "tier": "silver"},
  {"token": "j-3", "tier": 3}
]"#;

const CHECKOUT_BODY: &str = r#"{"cart": {{cart_id}}, "user": "{{user}}", "note": "fixed"}"#;

/// Three kinds: a POST filled from a CSV in file order, a PUT of a 1 KiB body file with a
/// header filled from a JSON file at random, and a plain GET.
fn scenario_text() -> String {
    format!(
        r#"# echo: every request's headers, cookies and body, checked against the data.
seed = 11
[[config]]
name = "static-2"
pm = "static"
max_children = 2
[[phase]]
duration = "3s"
pattern = "constant"
rate = 20
[[request]]
name = "checkout"
method = "POST"
path = "/echo.php?cart={{{{cart_id}}}}"
weight = 3
headers = {{ Authorization = "Bearer {{{{token}}}}", Cookie = "session={{{{user}}}}; cart={{{{cart_id}}}}", X-Tenant = "acme" }}
body = '{CHECKOUT_BODY}'
content_type = "application/json"
data = "data/users.csv"
[[request]]
name = "upload"
method = "PUT"
path = "/echo.php"
weight = 2
headers = {{ X-Token = "{{{{token}}}}", X-Tier = "{{{{tier}}}}" }}
body_file = "data/payload.bin"
content_type = "application/octet-stream"
data = "data/users.json"
data_pick = "random"
[[request]]
name = "plain"
path = "/echo.php"
"#
    )
}

fn payload() -> Vec<u8> {
    (0..1024u32).map(|i| (i % 251) as u8).collect()
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_data(dir: &Path) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/users.csv"), USERS_CSV).unwrap();
    std::fs::write(dir.join("data/users.json"), USERS_JSON).unwrap();
    std::fs::write(dir.join("data/payload.bin"), payload()).unwrap();
}

/// The JSON lines echo.php wrote into php-fpm's log, by request id.
fn echoed(log: &Path) -> BTreeMap<u64, Value> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut by_id = BTreeMap::new();
    for line in text.lines() {
        let Some(at) = line.find("fpmlab-echo ") else {
            continue;
        };
        // php-fpm quotes the worker's line: `said into stderr: "fpmlab-echo {...}"`.
        let json = line[at + "fpmlab-echo ".len()..].trim_end_matches('"');
        let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"));
        let id: u64 = v["id"].as_str().unwrap().parse().unwrap();
        assert!(by_id.insert(id, v).is_none(), "request {id} logged twice");
    }
    by_id
}

fn rows(csv: &str) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn headers_cookies_bodies_and_data_reach_the_app_request_by_request() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let path = common::scenario(dir.path(), "echo", &scenario_text());
    let out = dir.path().join("echo");
    let o = Command::new(common::bin())
        .args([
            "run",
            path.to_str().unwrap(),
            "--stack",
            "native",
            "--quiet",
        ])
        .args(["--per-kind", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let ran = common::finish(o, &out, Some(0));
    let c = ran.config(0);
    let sent = c.recorded.summary.sent;
    assert!(sent >= 50, "only {sent} requests");
    assert_eq!(
        c.recorded.summary.status_counts.get("200").copied(),
        Some(sent),
        "every request answered 200: {:?}",
        c.recorded.summary.status_counts
    );
    let log = ran.config_dir(0).join("logs/php-fpm.log");
    let got = echoed(&log);
    assert_eq!(got.len() as u64, sent, "one echo line per request");

    // run.json keeps the data file's path, rows and hash, never the rows.
    let plan = &ran.run.plan;
    let data = plan.requests[0].data.as_ref().unwrap();
    assert_eq!(data.rows, 5);
    assert_eq!(data.sha256, sha(USERS_CSV.as_bytes()));
    let json = std::fs::read_to_string(ran.out.join("run.json")).unwrap();
    assert!(!json.contains("tok-alice"), "run.json holds the rows");

    // Rows follow the send order, which is the id order: recompute each kind's picks.
    let csv_rows = rows(USERS_CSV);
    let json_rows: Vec<Value> = serde_json::from_str::<Vec<Value>>(USERS_JSON).unwrap();
    let mut pickers = RowPicker::for_kinds(&plan.requests, plan.seed);
    let mut seen = [0usize; 3];
    for (id, v) in &got {
        let h = &v["headers"];
        let kind = match (v["method"].as_str().unwrap(), v["uri"].as_str().unwrap()) {
            ("POST", _) => 0,
            ("PUT", _) => 1,
            ("GET", "/echo.php") => 2,
            other => panic!("request {id}: unexpected {other:?}"),
        };
        seen[kind] += 1;
        let row = pickers[kind].pick();
        assert_eq!(
            h["User-Agent"].as_str().unwrap().split('/').next(),
            Some("fpmlab")
        );
        match kind {
            0 => {
                let r = &csv_rows[row];
                let (token, cart, user) = (&r[0], &r[1], &r[2]);
                assert_eq!(v["uri"], format!("/echo.php?cart={cart}"), "request {id}");
                assert_eq!(
                    h["Authorization"],
                    format!("Bearer {token}"),
                    "request {id}"
                );
                assert_eq!(h["X-Tenant"], "acme");
                assert_eq!(v["cookies"]["session"], user.as_str(), "request {id}");
                assert_eq!(v["cookies"]["cart"], cart.as_str());
                assert_eq!(h["Content-Type"], "application/json");
                let body = CHECKOUT_BODY
                    .replace("{{cart_id}}", cart)
                    .replace("{{user}}", user);
                assert_eq!(v["body_bytes"], body.len(), "request {id}");
                assert_eq!(v["body_sha256"], sha(body.as_bytes()), "request {id}");
                assert_eq!(h["Content-Length"], body.len().to_string());
            }
            1 => {
                let r = &json_rows[row];
                assert_eq!(h["X-Token"], r["token"], "request {id}");
                let tier = match &r["tier"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(h["X-Tier"], tier.as_str(), "request {id}");
                assert_eq!(h["Content-Type"], "application/octet-stream");
                assert_eq!(v["body_bytes"], 1024);
                assert_eq!(v["body_sha256"], sha(&payload()));
            }
            _ => {
                assert_eq!(v["body_bytes"], 0);
                // nginx passes CONTENT_TYPE and CONTENT_LENGTH to php-fpm even when empty.
                let empty = |name: &str| h.get(name).is_none_or(|v| v == "");
                assert!(
                    empty("Content-Type") && empty("Authorization"),
                    "request {id}: {v}"
                );
            }
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "every kind was sent: {seen:?}");
    // The random kind drew more than one row (3 rows, over a dozen requests).
    let tokens: std::collections::BTreeSet<&str> = got
        .values()
        .filter(|v| v["method"] == "PUT")
        .map(|v| v["headers"]["X-Token"].as_str().unwrap())
        .collect();
    assert!(tokens.len() > 1, "random pick drew {tokens:?}");
    // Per-kind figures are in run.json; --per-kind shows them under the table.
    let kinds = &c.recorded.phases[0].kinds;
    assert_eq!(
        kinds.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["checkout", "upload", "plain"]
    );
    let (_, per_kind) = ran.table.split_once("per request kind:").expect(&ran.table);
    for (k, n) in kinds.iter().zip(seen) {
        assert_eq!(k.summary.sent, n as u64, "{}", k.name);
        let line = per_kind
            .lines()
            .find(|l| l.contains(&format!(" {} ", k.name)))
            .unwrap_or_else(|| panic!("no row for {} in:\n{per_kind}", k.name));
        assert!(line.contains(&format!(" {n} ")), "{line}");
    }
    // `report --per-kind` prints the same rows from run.json.
    let o = Command::new(common::bin())
        .args(["report", out.to_str().unwrap(), "--per-kind", "--no-html"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{printed}");
    let table_of = |text: &str| text.trim().split("\n\n").next().unwrap_or("").to_string();
    assert_eq!(
        printed
            .split_once("per request kind:")
            .map(|(_, t)| table_of(t)),
        Some(table_of(per_kind))
    );
}

#[test]
fn bad_request_definitions_and_data_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    std::fs::write(dir.path().join("data/ragged.csv"), "a,b\n1,2\n3\n").unwrap();
    std::fs::write(dir.path().join("data/empty.csv"), "").unwrap();
    std::fs::write(dir.path().join("data/header-only.csv"), "a,b\n").unwrap();
    std::fs::write(dir.path().join("data/bad.json"), "[{\"a\": [1]}]").unwrap();
    std::fs::write(dir.path().join("data/crlf.csv"), "v\n\"x\r\ny\"\n").unwrap();
    std::fs::write(dir.path().join("data/spaces.csv"), "v\nok\na b\n").unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "headers = { Host = \"x\" }",
            "headers.Host",
            "set by fpmlab",
        ),
        (
            "headers = { X-Fpmlab-Id = \"1\" }",
            "headers.X-Fpmlab-Id",
            "remove it",
        ),
        (
            "headers = { \"Bad Name\" = \"1\" }",
            "headers.Bad Name",
            "not a header name",
        ),
        (
            "headers = { X-A = \"a\\r\\nX-B: b\" }",
            "headers.X-A",
            "no CR or LF",
        ),
        (
            "headers = { Authorization = \"Bearer {{token}}\" }",
            "headers.Authorization",
            "add data =",
        ),
        (
            "data = \"data/users.csv\"\nheaders = { Authorization = \"Bearer {{tokn}}\" }",
            "headers.Authorization",
            "use one of token, cart_id, user",
        ),
        (
            "data = \"data/missing.csv\"",
            ".data",
            "relative to the scenario file",
        ),
        ("data = \"data/ragged.csv\"", ".data", "line 3"),
        ("data = \"data/empty.csv\"", ".data", "no columns"),
        ("data = \"data/header-only.csv\"", ".data", "no rows"),
        ("data = \"data/bad.json\"", ".data", "only strings"),
        ("data = \"data/payload.bin\"", ".data", "name a .csv file"),
        (
            "data = \"data/crlf.csv\"\nheaders = { X-V = \"{{v}}\" }",
            "headers.X-V",
            "row 1 of the data file, column \"v\"",
        ),
        (
            "path = \"/echo.php?u={{v}}\"\ndata = \"data/spaces.csv\"",
            ".path",
            "row 2 of the data file, column \"v\", contains 0x20",
        ),
        (
            "data = \"data/users.csv\"\ndata_pick = \"shuffled\"",
            ".data_pick",
            "\"random\"",
        ),
        ("data_pick = \"random\"", ".data_pick", "without a data file"),
        (
            "method = \"POST\"\nbody = \"x\"",
            ".content_type",
            "content_type, e.g.",
        ),
        (
            "method = \"POST\"\nbody = \"x\"\nbody_file = \"data/payload.bin\"\ncontent_type = \"a/b\"",
            ".body_file",
            "keep one",
        ),
        (
            "method = \"POST\"\nbody_file = \"data/nope.bin\"\ncontent_type = \"a/b\"",
            ".body_file",
            "cannot read",
        ),
        (
            "content_type = \"a/b\"",
            ".content_type",
            "without a body",
        ),
        (
            "method = \"POST\"\nbody = \"{{x}}\"\ncontent_type = \"a/b\"",
            ".body",
            "no data file",
        ),
        (
            "method = \"POST\"\nbody = \"x\"\ncontent_type = \"a/b\"\nheaders = { Content-Type = \"a/b\" }",
            "headers.Content-Type",
            "move it there",
        ),
    ];
    for (i, (req, field, fix)) in cases.iter().enumerate() {
        let path_line = if req.starts_with("path =") {
            ""
        } else {
            "path = \"/echo.php\"\n"
        };
        let path = common::scenario(
            dir.path(),
            &format!("bad-{i}"),
            &format!(
                "[[config]]\npm = \"static\"\nmax_children = 1\n\
                 [[phase]]\nduration = \"1s\"\npattern = \"constant\"\nrate = 1\n\
                 [[request]]\n{path_line}{req}\n"
            ),
        );
        let o = Command::new(common::bin())
            .args(["validate", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{req}: {err}");
        assert!(
            err.contains(&format!("bad-{i}.toml"))
                && err.contains(&format!(
                    "request[0] \"request-1\".{}",
                    field.trim_start_matches('.')
                ))
                && err.contains(fix),
            "{req}: expected {field} and {fix} in:\n{err}"
        );
    }
}

#[test]
fn a_get_with_a_body_is_valid_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::scenario(
        dir.path(),
        "get-body",
        "[[config]]\npm = \"static\"\nmax_children = 1\n\
         [[phase]]\nduration = \"1s\"\npattern = \"constant\"\nrate = 1\n\
         [[request]]\npath = \"/echo.php\"\nbody = \"q=1\"\ncontent_type = \"text/plain\"\n",
    );
    let o = Command::new(common::bin())
        .args(["validate", path.to_str().unwrap()])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("a GET request with a body"), "{all}");
}

/// A target outside 127.0.0.0/8 is refused before anything starts, from the URL's text:
/// no DNS look-up (an `.invalid` name would fail to resolve with another message), no
/// connection (192.0.2.1 is a documentation address that nothing answers; a connect
/// attempt would hang or time out, not return at once), no run directory.
#[test]
fn a_remote_target_is_refused_unless_its_host_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::scenario(
        dir.path(),
        "remote",
        "[[config]]\npm = \"static\"\nmax_children = 1\n\
         [[phase]]\nduration = \"1s\"\npattern = \"constant\"\nrate = 1\n\
         [[request]]\npath = \"/hello.php\"\n",
    );
    for (target, allow, says) in [
        (
            "http://192.0.2.1:8080",
            None,
            "add --allow-remote 192.0.2.1",
        ),
        (
            "http://shop.example.invalid/",
            None,
            "add --allow-remote shop.example.invalid",
        ),
        (
            "http://192.0.2.1:8080",
            Some("192.0.2.2"),
            "name the target's host, --allow-remote 192.0.2.1",
        ),
    ] {
        let out = dir.path().join("out");
        let mut cmd = Command::new(common::bin());
        cmd.args(["run", path.to_str().unwrap(), "--stack", "external"])
            .args(["--target", target, "--quiet", "--out"])
            .arg(&out);
        if let Some(host) = allow {
            cmd.args(["--allow-remote", host]);
        }
        let started = std::time::Instant::now();
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{target}: {err}");
        assert!(
            err.contains(says) && !err.contains("resolve"),
            "{target}: {err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(!out.exists(), "{target}: a run directory was made");
    }
}
