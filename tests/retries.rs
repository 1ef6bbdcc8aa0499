//! Client retries on the real stack: every attempt accounted for (open loop, closed-loop
//! users with a think-time distribution, a budget that refuses retries); and a short
//! slowdown of one instance behind HAProxy that turns into an outage outlasting it when
//! clients retry without a budget, and recovers soon after with one (the shipped
//! retry-storm scenarios).

mod common;

use fpmlab::record::clients::ClientsPhase;

fn ready() -> bool {
    let haproxy = fpmlab::stack::fleet::haproxy_binary()
        .err()
        .map(|e| format!("{e:#}"));
    common::native_stack() && common::available("retries (HAProxy)", haproxy)
}

/// The scenarios' rate, requests per second.
const RATE: f64 = 80.0;
/// The slowdown ends this many seconds after the load's start (throttle at 2 s for 2 s).
const SLOWDOWN_END_S: usize = 4;

fn clients(ran: &common::Ran) -> &ClientsPhase {
    &ran.config(0).recorded.clients[0]
}

/// Mean goodput (requests that ended with a 2xx) per second over seconds `from..to`.
fn goodput(c: &ClientsPhase, from: usize, to: usize) -> f64 {
    let sum: u64 = (from..to)
        .map(|s| c.goodput_by_second.get(s).copied().unwrap_or(0))
        .sum();
    sum as f64 / (to - from) as f64
}

#[test]
fn every_attempt_is_accounted_for_in_open_and_closed_phases_and_the_budget_refuses_the_rest() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // io.php answers 400 to a non-numeric ms: a status retried on purpose, every time.
    let retry = "on_status = [400], on_failure = [], base = \"5ms\", cap = \"10ms\"";
    let text = format!(
        "[[config]]\nname = \"s2\"\npm = \"static\"\nmax_children = 2\n\
         [[phase]]\nname = \"open\"\nduration = \"2s\"\npattern = \"constant\"\nrate = 20\n\
         retry = {{ {retry}, attempts = 3 }}\n\
         [[phase]]\nname = \"budget\"\nduration = \"2s\"\npattern = \"constant\"\nrate = 20\n\
         retry = {{ {retry}, attempts = 3, budget = {{ ratio = 0, min_per_s = 2, window = \"1s\" }} }}\n\
         [[phase]]\nname = \"closed\"\nduration = \"2s\"\npattern = \"closed\"\nusers = 2\n\
         think_time = \"20ms\"\nthink_dist = \"exponential\"\nretry = {{ {retry}, attempts = 2 }}\n\
         [[request]]\npath = \"/io.php?ms=x\"\n"
    );
    let ran = common::run_text_end_to_end(dir.path(), "accounting", &text);
    let c = &ran.config(0).recorded.clients;
    let (open, budget, closed) = (&c[0], &c[1], &c[2]);
    assert_eq!(
        (open.intended, open.attempted, open.retries),
        (40, 120, 80),
        "{open:?}"
    );
    assert_eq!(
        (open.retries_exhausted, open.succeeded),
        (40, 0),
        "{open:?}"
    );
    assert!((open.amplification - 3.0).abs() < 1e-9, "{open:?}");
    // 2 retries a second at most: the budget refuses nearly all of them.
    assert_eq!(budget.intended, 40, "{budget:?}");
    assert!(budget.retries <= 8, "{budget:?}");
    assert_eq!(
        budget.retries_suppressed + budget.retries_exhausted,
        budget.intended,
        "every request ends refused or out of attempts: {budget:?}"
    );
    // Closed-loop users retry once per request; all of it reaches the stack.
    assert!(closed.intended >= 10, "{closed:?}");
    assert_eq!(closed.attempted, closed.intended * 2, "{closed:?}");
    let sent: u64 = ran
        .config(0)
        .recorded
        .phases
        .iter()
        .map(|p| p.summary.sent)
        .sum();
    assert_eq!(sent, open.attempted + budget.attempted + closed.attempted);
    // Each phase's goodput runs to its end, zeros included: nothing ever succeeded here.
    for (p, end_s) in [(open, 2), (budget, 4), (closed, 6)] {
        assert!(p.goodput_by_second.len() >= end_s, "{p:?}");
        assert!(p.goodput_by_second.iter().all(|g| *g == 0), "{p:?}");
    }
    report_shows_the_clients(&ran, dir.path());
    // The Markdown export: the table, and each phase's goodput per second to its end.
    let o = std::process::Command::new(common::bin())
        .arg("report")
        .arg(ran.out.join("run.json"))
        .args(["--no-html", "--export-markdown", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("### What the clients did"), "{md}");
    assert!(
        md.contains("s2 / budget: client timeout 60000 ms; goodput per second from 2 s: 0, 0"),
        "{md}"
    );
}

/// Reads the page's clients section once Chromium has laid it out: its table rows, the
/// goodput chart's width and its hover seconds, and any script error.
const PROBE: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
window.addEventListener('load', () => {
  const count = q => document.querySelectorAll(q).length;
  const drawn = [...document.querySelectorAll('#clients-goodput svg')].map(s => s.getBoundingClientRect().width);
  document.body.setAttribute('data-probe', JSON.stringify({errors: window.__errors,
    rows: count('#clients table.clients tbody tr'), sentences: count('#clients ul.readings li'),
    nav: count("nav a[href='#clients']"), seconds: count('#clients-goodput svg rect.hover'),
    drawn: drawn}));
});
</script>"#;

/// The run's report.html, opened in headless Chromium (Debian's `chromium`): one row and
/// one sentence per phase with retries, and the goodput chart drawn with a hover column per
/// second of those phases.
fn report_shows_the_clients(ran: &common::Ran, dir: &std::path::Path) {
    let html = std::fs::read_to_string(ran.out.join("report.html")).expect("run wrote report.html");
    assert!(html.contains("id=\"clients\""), "no clients section");
    let Some(p) = common::probe_page(&html, PROBE, dir) else {
        return;
    };
    let n = |k: &str| p[k].as_u64().unwrap_or(0);
    let phases = ran.config(0).recorded.clients.len() as u64;
    assert_eq!(p["errors"].as_array().unwrap().len(), 0, "{p:#}");
    assert_eq!(
        (n("rows"), n("sentences"), n("nav")),
        (phases, phases, 1),
        "{p:#}"
    );
    // Three 2 s phases: six seconds at least.
    assert!(n("seconds") >= 6, "{p:#}");
    let drawn = p["drawn"].as_array().unwrap();
    assert!(
        drawn.len() == 1 && drawn[0].as_f64().unwrap() > 100.0,
        "{p:#}"
    );
}

#[test]
fn a_short_slowdown_becomes_a_long_outage_without_a_retry_budget_and_not_with_one() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let storm = common::run_end_to_end(&common::shipped("retry-storm"), &dir.path().join("storm"));
    let budget = common::run_end_to_end(
        &common::shipped("retry-storm-budget"),
        &dir.path().join("budget"),
    );
    let (s, b) = (clients(&storm), clients(&budget));
    let by_s = |c: &ClientsPhase| format!("{:?}", c.goodput_by_second);
    // Before the slowdown both serve the whole rate.
    for c in [s, b] {
        assert!(goodput(c, 0, 2) >= RATE * 0.8, "before: {}", by_s(c));
    }
    // Without a budget: retries keep the queue full long after the slowdown ended.
    let late = goodput(s, SLOWDOWN_END_S + 4, 14);
    assert!(
        late <= RATE * 0.3,
        "no budget, 4 s after: {late}/s {}",
        by_s(s)
    );
    assert!(s.amplification >= 2.0, "{s:?}");
    assert_eq!(s.retries_suppressed, 0, "{s:?}");
    // With one: back to the whole rate within 3 s of the slowdown's end, and it stays.
    for second in SLOWDOWN_END_S + 3..14 {
        let g = goodput(b, second, second + 1);
        assert!(
            g >= RATE * 0.7,
            "budget, second {second}: {g}/s {}",
            by_s(b)
        );
    }
    assert!(b.amplification <= 1.3, "{b:?}");
    assert!(b.retries_suppressed > 0, "{b:?}");
    assert!(
        b.succeeded as f64 >= s.succeeded as f64 * 1.5,
        "{b:?} vs {s:?}"
    );
    // What the clients did is told under the table.
    assert!(
        storm.table.contains("clients of phase steady: meant"),
        "{}",
        storm.table
    );
    assert!(
        budget.table.contains("refused by the retry budget"),
        "{}",
        budget.table
    );
}
