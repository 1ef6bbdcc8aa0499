//! The HTML report as a person sees it: rendered by `fpmlab report` from a fixed run.json,
//! opened in headless Chromium (Debian's `chromium`), with no console error, every chart
//! present and drawn (non-empty bounding box, lines or bars inside), nothing loaded from
//! outside the file. A screenshot is kept in target/test-artifacts/report.png. Chromium
//! comes from `scripts/setup.sh --tests`; the test never installs anything.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use fpmlab::results::{RunResult, Status};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/bursts/run.json"
);
/// Five charts per config (latency, queue/service, throughput, listen queue, workers) and
/// two that hold every config (distribution, LB vs APM).
const CHARTS_PER_CONFIG: usize = 5;
const WIDE_CHARTS: usize = 2;

/// Runs headless Chromium with the flags the issue names, plus `extra`; returns (stdout, stderr).
fn headless(chromium: &Path, profile: &Path, extra: &[&str], page: &Path) -> (String, String) {
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("start chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A probe run inside the page: records errors from the first moment, and once loaded
/// writes what it found into `<body data-probe>` for --dump-dom to show.
const PROBE: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
const origError = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); origError(...a); };
window.addEventListener('load', () => {
  const charts = [...document.querySelectorAll('figure.chart')].map(f => {
    const svg = f.querySelector('svg');
    if (!svg) return {ok: false, why: 'no svg'};
    const box = svg.getBoundingClientRect();
    const marks = svg.querySelectorAll('polyline, path, rect, circle, polygon').length;
    const texts = svg.querySelectorAll('text').length;
    return {ok: box.width > 100 && box.height > 50 && marks > 5 && texts > 2, w: box.width, h: box.height, marks, texts,
            title: (svg.querySelector('text') || {}).textContent};
  });
  const external = [...document.querySelectorAll('[src], link[href]')].map(e => e.src || e.href);
  document.body.setAttribute('data-probe', JSON.stringify({charts, external, errors: window.__errors}));
});
</script>"#;

fn probe_result(dom: &str) -> serde_json::Value {
    let start = dom
        .find("data-probe=\"")
        .expect("the probe ran and wrote its result")
        + "data-probe=\"".len();
    let end = start + dom[start..].find('"').unwrap();
    let raw = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("probe output {raw}: {e}"))
}

fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn report_renders_in_chromium_with_every_chart() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::copy(FIXTURE, run_dir.join("run.json")).unwrap();
    let out = Command::new(common::bin())
        .args(["report", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = run_dir.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();

    // Self-contained: no script, no external reference of any kind.
    assert!(!html.contains("<script"), "the report needs no script");
    for needle in [
        "src=\"http",
        "href=\"http",
        "@import",
        "url(http",
        "//cdn",
        "fonts.googleapis",
    ] {
        assert!(!html.contains(needle), "external reference {needle}");
    }
    let run = RunResult::load(&run_dir).unwrap();
    let expected = run.configs.len() * CHARTS_PER_CONFIG + WIDE_CHARTS;
    assert_eq!(html.matches("<figure class=\"chart").count(), expected);

    // Debian's chromium, installed by scripts/setup.sh --tests; without it the report is
    // not checked in a browser (said loudly; a failure under CI=true).
    let Some(chromium) = common::tool(&["chromium", "chromium-browser"]) else {
        return;
    };
    let profile = dir.path().join("profile");

    // The page as is: a screenshot, and Chromium's own log for console errors.
    let shot = artifacts_dir().join("report.png");
    let _ = std::fs::remove_file(&shot);
    let (_, log) = headless(
        &chromium,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,3000",
        ],
        &report,
    );
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console.is_empty(),
        "console output from the page: {console:#?}"
    );
    let png = std::fs::metadata(&shot).expect("screenshot written").len();
    assert!(png > 50_000, "screenshot of {png} bytes looks blank");

    // The page with the probe: every chart laid out and drawn, no error, nothing external.
    let probed = dir.path().join("probed.html");
    std::fs::write(
        &probed,
        html.replacen("<head>", &format!("<head>{PROBE}"), 1),
    )
    .unwrap();
    let (dom, _) = headless(
        &chromium,
        &profile,
        &["--dump-dom", "--virtual-time-budget=5000"],
        &probed,
    );
    let result = probe_result(&dom);
    let charts = result["charts"].as_array().unwrap();
    assert_eq!(charts.len(), expected, "{result:#}");
    for c in charts {
        assert!(c["ok"].as_bool().unwrap(), "chart not drawn: {c}");
    }
    assert_eq!(result["errors"].as_array().unwrap().len(), 0, "{result:#}");
    assert_eq!(
        result["external"].as_array().unwrap().len(),
        0,
        "{result:#}"
    );
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn configs_without_data_get_placeholders_not_errors() {
    let mut run = RunResult::load(Path::new(FIXTURE)).unwrap();
    let failed = &mut run.configs[1];
    failed.status = Status::Failed;
    failed.error = Some("the stack did not start".into());
    failed.recorded = Default::default();
    failed.samples.clear();
    let html = fpmlab::report::html::render(&run).unwrap();
    assert_eq!(
        html.matches("<figure class=\"chart").count(),
        2 * CHARTS_PER_CONFIG + WIDE_CHARTS
    );
    assert!(html.contains("no request completed") && html.contains("no server-side samples"));
    assert!(html.contains("static-4: failed: the stack did not start"));
}
