//! Replay of an incident window: a crafted nginx `combined` log and a crafted AWS ALB log,
//! each replayed at 1× and 2× by the real binary through the real native stack to
//! `docker/app/echo.php`, which logs every request's method, path, headers and
//! `REQUEST_TIME_FLOAT`. Checked: the schedule's intended times equal the log's arrivals
//! (shifted, divided by the speed) to the microsecond; each request reached php close to
//! its intended time (a wide margin: the machine is noisy); the mix of methods and paths is
//! exactly the log's; templates matched by `replay_match` gave their headers and body;
//! malformed lines are counted; the ALB's figures sit beside the reproduction's in run.json
//! and the table. Also: bad replay settings refused with file, field and fix.

mod common;
#[path = "replay/logs.rs"]
mod logs;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use fpmlab::load::schedule::Schedule;
use fpmlab::scenario::{phase_starts_us, Arrival, Driver};
use logs::{expected, write_logs};
use serde_json::Value;

const SCENARIO: &str = r#"# Replays a crafted nginx log and a crafted ALB log at 1x and 2x.
seed = 3
[[config]]
name = "static-4"
pm = "static"
max_children = 4
[[phase]]
name = "nginx-1x"
replay = { log = "logs/access.log", format = "nginx" }
[[phase]]
name = "nginx-2x"
replay = { log = "logs/access.log", format = "nginx", speed = 2.0 }
[[phase]]
name = "alb-1x"
replay = { log = "logs/alb.log", format = "alb", speed = 1 }
[[phase]]
name = "alb-2x"
replay = { log = "logs/alb.log", format = "alb", speed = 2, from = "2024-05-01T10:00:01Z", to = "2024-05-01T10:00:03Z" }
[[request]]
name = "cart"
method = "POST"
path = "/echo.php"
replay_match = "/echo.php?page=cart*"
headers = { X-Replayed = "cart" }
body = "{}"
content_type = "application/json"
"#;

/// echo.php's lines from php-fpm's log: (uri, method, REQUEST_TIME_FLOAT epoch µs, line).
fn echoed(log: &Path) -> Vec<(String, String, i64, Value)> {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .filter_map(|line| {
            let at = line.find("fpmlab-echo ")?;
            let json = line[at + "fpmlab-echo ".len()..].trim_end_matches('"');
            let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"));
            let rtf =
                fpmlab::load::http::epoch_us(v["request_time_float"].as_str().unwrap()).unwrap();
            Some((
                v["uri"].as_str().unwrap().to_string(),
                v["method"].as_str().unwrap().to_string(),
                rtf,
                v,
            ))
        })
        .collect()
}

#[test]
fn nginx_and_alb_logs_replay_their_arrivals_mix_and_figures() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_logs(dir.path());
    let path = common::scenario(dir.path(), "replay", SCENARIO);
    let want = expected();

    // The schedule's intended times, exactly (µs), and its kinds: the plan as `run` loads it.
    let (plan, warnings) = fpmlab::scenario::load(&path, Driver::Native).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("2 of the 9 lines")),
        "{warnings:?}"
    );
    let starts = phase_starts_us(&plan.phases);
    assert_eq!(
        plan.phases
            .iter()
            .map(|p| p.duration_ms)
            .collect::<Vec<_>>(),
        [3000, 1500, 3000, 1000],
        "the window divided by the speed"
    );
    let names: Vec<&str> = plan.requests.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["cart", "replay-unmatched"]);
    let mut got: Vec<Vec<(u64, String, String)>> = vec![Vec::new(); 4];
    for s in Schedule::new(&plan.phases, &plan.requests, plan.seed) {
        let Arrival::Replay(r) = &plan.phases[s.phase].arrival else {
            panic!("only replay phases here")
        };
        let e = &r.entries[s.replay.unwrap() as usize];
        let is_cart = e.method() == "POST" && e.path().contains("page=cart");
        assert_eq!(s.kind, if is_cart { 0 } else { 1 }, "{}", e.line);
        got[s.phase].push((
            s.at_us - starts[s.phase],
            e.method().into(),
            e.path().into(),
        ));
    }
    assert_eq!(got, want, "intended times to the microsecond");
    for (i, bad) in [(0, 2), (1, 2), (2, 2), (3, 2)] {
        let Arrival::Replay(r) = &plan.phases[i].arrival else {
            unreachable!()
        };
        assert_eq!(r.bad_lines, bad, "phase {i}");
    }

    // The real run.
    let out = dir.path().join("out");
    let ran = common::run_end_to_end(&path, &out);
    let c = ran.config(0);
    let total: usize = want.iter().map(Vec::len).sum();
    assert_eq!(c.recorded.summary.sent as usize, total);
    assert_eq!(
        c.recorded.summary.status_counts.get("200").copied(),
        Some(total as u64),
        "{:?}",
        c.recorded.summary.status_counts
    );
    let load_start = c.load_start_epoch_us.unwrap();
    let run_starts: Vec<u64> = ran
        .run
        .plan
        .phases
        .iter()
        .scan(0, |t, p| {
            let s = *t;
            *t += p.duration_ms * 1000;
            Some(s)
        })
        .collect();

    // Each logged request reached php once per phase that replays it, close to its
    // intended time, with the right method; the k-th arrival of a path belongs to the
    // k-th phase replaying it.
    let mut by_path: BTreeMap<String, Vec<(i64, String, Value)>> = BTreeMap::new();
    for (uri, method, rtf, v) in echoed(&ran.config_dir(0).join("logs/php-fpm.log")) {
        by_path.entry(uri).or_default().push((rtf, method, v));
    }
    let mut lags = Vec::new();
    let mut expected_paths: BTreeMap<String, Vec<(usize, u64, String)>> = BTreeMap::new();
    for (phase, reqs) in want.iter().enumerate() {
        for (at, method, path) in reqs {
            expected_paths
                .entry(path.clone())
                .or_default()
                .push((phase, *at, method.clone()));
        }
    }
    assert_eq!(
        by_path.keys().collect::<Vec<_>>(),
        expected_paths.keys().collect::<Vec<_>>(),
        "the mix of paths"
    );
    for (path, mut seen) in by_path {
        seen.sort_by_key(|s| s.0);
        let exp = &expected_paths[&path];
        assert_eq!(seen.len(), exp.len(), "{path}: times replayed");
        for ((rtf, method, v), (phase, at, want_method)) in seen.iter().zip(exp) {
            assert_eq!(method, want_method, "{path}");
            let intended = load_start + (run_starts[*phase] + at) as i64;
            let lag = rtf - intended;
            lags.push(lag);
            assert!(
                (-5_000..250_000).contains(&lag),
                "{path} in phase {phase}: reached php {lag} µs after its intended time"
            );
            // The template matched by replay_match gave its header and body.
            let cart = method == "POST" && path.contains("page=cart");
            assert_eq!(
                v["headers"]["X-Replayed"].as_str(),
                cart.then_some("cart"),
                "{path}"
            );
            assert_eq!(
                v["body_bytes"].as_u64(),
                Some(if cart { 2 } else { 0 }),
                "{path}"
            );
        }
    }
    lags.sort_unstable();
    eprintln!(
        "replay: {} requests reached php {}..{} µs after their intended times (median {})",
        lags.len(),
        lags[0],
        lags[lags.len() - 1],
        lags[lags.len() / 2]
    );

    // Per-kind figures of the replayed traffic.
    let nginx_1x = &c.recorded.phases[0];
    let sent: Vec<(String, u64)> = nginx_1x
        .kinds
        .iter()
        .map(|k| (k.name.clone(), k.summary.sent))
        .collect();
    assert_eq!(sent, [("cart".into(), 2), ("replay-unmatched".into(), 5)]);

    // The ALB's figures beside the reproduction's, in run.json.
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let replay = json["configs"][0]["replay"].as_array().unwrap();
    assert_eq!(replay.len(), 4);
    assert!(
        replay[0]["total"]["production"].is_null(),
        "nginx logs carry no timings"
    );
    let alb = &replay[2];
    assert_eq!(alb["phase"], "alb-1x");
    let prod = &alb["total"]["production"];
    assert_eq!(prod["requests"], 7);
    assert_eq!(
        prod["elb_status"],
        serde_json::json!({"200": 5, "502": 1, "504": 1})
    );
    assert_eq!(prod["target_status"], serde_json::json!({"200": 5, "-": 2}));
    assert_eq!(prod["target_unmeasured"], 2);
    assert_eq!(prod["target_processing_p99_us"], 300_000);
    assert_eq!(alb["total"]["reproduction"]["requests"], 7);
    assert_eq!(
        alb["total"]["reproduction"]["status"],
        serde_json::json!({"200": 7})
    );
    let per_second = |side: &str| -> Vec<u64> {
        alb["seconds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[side]["requests"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(per_second("production"), [3, 3, 1]);
    assert_eq!(per_second("reproduction"), [3, 3, 1]);
    assert_eq!(replay[3]["seconds"].as_array().unwrap().len(), 2);
    assert_eq!(replay[3]["total"]["production"]["requests"], 4);
    // The plan keeps what the log held: bad lines with their numbers, the window.
    let plan_alb = &json["plan"]["phases"][3]["arrival"];
    assert_eq!(plan_alb["pattern"], "replay");
    assert_eq!(plan_alb["bad_lines"], 2);
    assert_eq!(plan_alb["bad_examples"][0]["line"], 8);
    assert_eq!(plan_alb["outside_window"], 3);

    // And in the terminal: the log line with its bad lines, and the side-by-side block.
    for want in [
        "2 bad lines of 9",
        "line 8:",
        "production (ALB log)",
        "reproduction",
        "replay \"alb-2x\"",
    ] {
        assert!(ran.table.contains(want), "{want} not in:\n{}", ran.table);
    }
}

#[test]
fn bad_replay_settings_are_refused_with_their_fix() {
    let dir = tempfile::tempdir().unwrap();
    write_logs(dir.path());
    std::fs::write(
        dir.path().join("logs/garbage.log"),
        "this is not a log\nnor this\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("logs/empty.log"), "\n\n").unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("log = \"logs/missing.log\", format = \"nginx\"", ".replay.log", "relative to the scenario file"),
        ("log = \"logs/access.log\"", ".replay.format", "format is missing"),
        ("log = \"logs/access.log\", format = \"apache\"", ".replay.format", "use \"alb\""),
        ("log = \"logs/access.log\", format = \"nginx\", speed = 0", ".replay.speed", "is not a speed factor"),
        ("log = \"logs/access.log\", format = \"alb\"", ".replay.log", "none of the 9 lines"),
        ("log = \"logs/garbage.log\", format = \"nginx\"", ".replay.log", "this is not a log"),
        ("log = \"logs/empty.log\", format = \"nginx\"", ".replay.log", "has no lines"),
        ("log = \"logs/alb.log\", format = \"alb\", from = \"2024-05-01T09:00:00Z\"", ".replay.from", "reaches outside the log, which covers 2024-05-01T10:00:00Z to 2024-05-01T10:00:03Z"),
        ("log = \"logs/alb.log\", format = \"alb\", from = \"10:00\"", ".replay.from", "not an RFC 3339 time"),
        ("log = \"logs/alb.log\", format = \"alb\", from = \"2024-05-01T10:00:02Z\", to = \"2024-05-01T10:00:01Z\"", ".replay.to", "before it starts"),
        ("log = \"logs/alb.log\", format = \"alb\", from = \"2024-05-01T10:00:02.6Z\", to = \"2024-05-01T10:00:02.9Z\"", ".replay.from", "widen the window"),
        ("log = \"logs/alb.log\", format = \"alb\", lg = 1", "", "unknown field `lg`"),
    ];
    for (i, (replay, field, fix)) in cases.iter().enumerate() {
        let path = common::scenario(
            dir.path(),
            &format!("bad-{i}"),
            &format!("[[config]]\npm = \"static\"\nmax_children = 1\n[[phase]]\nname = \"incident\"\nreplay = {{ {replay} }}\n"),
        );
        let o = Command::new(common::bin())
            .args(["validate", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{replay}: {err}");
        assert!(
            err.contains(&format!("bad-{i}.toml"))
                && (field.is_empty() || err.contains(&format!("phase[0] \"incident\"{field}")))
                && err.contains(fix),
            "{replay}: expected {field} and {fix} in:\n{err}"
        );
    }
    // Keys of other patterns, and a bad replay_match.
    let others: &[(&str, &str)] = &[
        ("duration = \"5s\"\n", "remove duration"),
        ("rate = 5\n", "rate does not apply to a replay phase"),
        ("pattern = \"constant\"\n", "remove pattern"),
    ];
    for (i, (extra, fix)) in others.iter().enumerate() {
        let path = common::scenario(
            dir.path(),
            &format!("other-{i}"),
            &format!("[[config]]\npm = \"static\"\nmax_children = 1\n[[phase]]\n{extra}replay = {{ log = \"logs/access.log\", format = \"nginx\" }}\n"),
        );
        let o = Command::new(common::bin())
            .args(["validate", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra}: {err}");
        assert!(err.contains(fix), "{extra}: expected {fix} in:\n{err}");
    }
    // A gzipped log (as ALB logs arrive from S3) is read as it is.
    let gz = std::fs::File::create(dir.path().join("logs/alb.log.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::default());
    std::io::Write::write_all(&mut enc, logs::alb_log().as_bytes()).unwrap();
    enc.finish().unwrap();
    let path = common::scenario(
        dir.path(),
        "gz",
        "[[config]]\npm = \"static\"\nmax_children = 1\n[[phase]]\nreplay = { log = \"logs/alb.log.gz\", format = \"alb\" }\n",
    );
    let o = Command::new(common::bin())
        .args(["validate", path.to_str().unwrap()])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{said}");
    assert!(said.contains("2 of the 9 lines"), "{said}");
    let path = common::scenario(
        dir.path(),
        "bad-match",
        "[[config]]\npm = \"static\"\nmax_children = 1\n[[phase]]\nreplay = { log = \"logs/access.log\", format = \"nginx\" }\n[[request]]\npath = \"/echo.php\"\nreplay_match = \"echo.php*\"\n",
    );
    let o = Command::new(common::bin())
        .args(["validate", path.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(".replay_match") && err.contains("is not a path pattern"),
        "{err}"
    );
}
