//! Generator benchmark: fpmlab against wrk and oha on the same target in the same run.
//!
//! `cargo bench --bench generator` starts nginx serving a tiny response on 127.0.0.1, pinned
//! to the last CPU, and runs each load generator pinned to CPU 0, alternating wrk, oha,
//! fpmlab, wrk, … so drift hits all alike. It prints ratios (fpmlab ÷ peer) for closed-loop
//! throughput, CPU per request and peak RSS; fpmlab's open-loop accuracy at fixed rates
//! beside oha at the same rates; and (BENCH_LONG=1) fpmlab's resident size through 10
//! million requests. The report is also written to benches/results/latest.md.
//!
//! Environment: BENCH_SECS (default 10), BENCH_ROUNDS (3), BENCH_RATES ("10000,30000"),
//! BENCH_LONG=1 (BENCH_LONG_SECS, default 90: enough for 10 million requests here),
//! BENCH_ONLY=open|closed (one half only), BENCH_BASELINE=path (another fpmlab binary, e.g.
//! main's, run beside this one in the open-loop rounds), BENCH_WINDOW (`load.send_window` of
//! the batched fpmlab row, default "1ms": oha's own send precision). Needs nginx and wrk (Debian's
//! packages); oha is used when `oha` is on PATH (`cargo install oha --locked`).

mod floor;
mod peers;
mod run;
mod target;

use std::path::PathBuf;
use std::process::Command;

use peers::Measured;

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn med(m: &[Measured], f: impl Fn(&Measured) -> f64) -> f64 {
    median(m.iter().map(f).collect())
}

/// The report, printed as it is written.
#[derive(Default)]
struct Report(String);

impl Report {
    fn line(&mut self, s: impl AsRef<str>) {
        println!("{}", s.as_ref());
        self.0.push_str(s.as_ref());
        self.0.push('\n');
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes harness=false benches; nothing to list.
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "--floor") {
        return floor::main(&args[2..]);
    }
    let secs: u64 = env_or("BENCH_SECS", 10);
    let rounds: usize = env_or("BENCH_ROUNDS", 3).max(1);
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "10000,30000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let have_oha = Command::new("oha").arg("--version").output().is_ok();
    let dir = tempfile::tempdir().unwrap();
    let nginx = target::Nginx::start(dir.path());
    let url = nginx.url();
    eprintln!(
        "target: nginx on CPU {}, {url}; generators on CPU 0; {rounds} rounds of {secs} s",
        nginx.cpu
    );

    // BENCH_ONLY=open skips the closed-loop tables (BENCH_ONLY=closed the open-loop one).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    // Another fpmlab build to run beside this one (e.g. main's), alternating like the peers.
    let baseline = std::env::var("BENCH_BASELINE").ok();
    let closed = peers::closed_phase(secs);
    let (mut wrk, mut oha, mut fpm) = (Vec::new(), Vec::new(), Vec::new());
    let (mut fpm_post, mut wrk_post) = (Vec::new(), Vec::new());
    let post = peers::post_request(dir.path());
    let wrk_script = peers::wrk_post_script(dir.path());
    for round in (1..=rounds).filter(|_| only != "open") {
        eprintln!("closed loop, round {round}: wrk GET, wrk POST, oha, fpmlab GET, fpmlab POST");
        wrk.push(peers::wrk(&url, secs));
        wrk_post.push(peers::wrk_with(&url, secs, Some(&wrk_script)));
        if have_oha {
            oha.push(peers::oha(&url, secs, None));
        }
        fpm.push(peers::fpmlab(&url, dir.path(), &closed));
        fpm_post.push(peers::fpmlab_with(&url, dir.path(), &closed, &post));
    }
    // fpmlab with its sends batched as coarsely as oha's: what precision costs, apart.
    let window = std::env::var("BENCH_WINDOW").unwrap_or_else(|_| "1ms".into());
    let batched = format!("send_window = \"{window}\"\n");
    let mut open: Vec<OpenRuns> = rates
        .iter()
        .map(|&r| OpenRuns {
            rate: r,
            ..OpenRuns::default()
        })
        .collect();
    for round in (1..=rounds).filter(|_| only != "closed") {
        for OpenRuns {
            rate,
            fpm: fp,
            oha: oh,
            base,
            batched: bat,
            floor_deferred,
            floor_wake,
        } in &mut open
        {
            eprintln!("open loop at {rate}/s, round {round}: oha, fpmlab, fpmlab batched, floors");
            let phase = peers::constant_phase(secs, *rate);
            if have_oha {
                oh.push(peers::oha(&url, secs, Some(*rate)));
            }
            let fpmlab =
                |load: &str| peers::fpmlab_pooled(peers::FPMLAB, &url, dir.path(), &phase, load);
            fp.push(fpmlab(""));
            bat.push(fpmlab(&batched));
            if let Some(bin) = &baseline {
                // The same pool as this build's: a baseline without it is not the same load.
                base.push(peers::fpmlab_pooled(bin, &url, dir.path(), &phase, ""));
            }
            floor_deferred.push(peers::floor(&url, secs, *rate, "deferred"));
            floor_wake.push(peers::floor(&url, secs, *rate, "wake"));
        }
    }

    let mut r = Report::default();
    r.line("# Generator benchmark\n");
    r.line(format!(
        "Machine: {}. Target: nginx `return 200`, 1 worker on CPU {}; each generator on CPU 0; {} keep-alive connections; {rounds} alternating rounds of {secs} s; medians. CPU is user + sys of the whole generator process (for fpmlab: startup, the load, run.json).\n",
        target::machine(),
        nginx.cpu,
        peers::CONNECTIONS
    ));
    if only != "open" {
        closed_table(&mut r, &[("wrk", &wrk), ("oha", &oha), ("fpmlab", &fpm)]);
        post_table(&mut r, (&fpm, &fpm_post), (&wrk, &wrk_post));
    }
    if only != "closed" {
        open_table(&mut r, secs, &open, &window);
        floor_latency(&mut r, &open);
    }
    if std::env::var("BENCH_LONG").is_ok() {
        memory_run(&mut r, &url, dir.path());
    }
    drop(nginx);
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/results/latest.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, r.0).unwrap();
    eprintln!("written to {}", out.display());
}

fn closed_table(r: &mut Report, runs: &[(&str, &Vec<Measured>)]) {
    r.line("## Closed loop, maximum throughput (fpmlab records everything: histograms, timeline, status counts)\n");
    r.line("| generator | requests/s | CPU µs/request | peak RSS MiB | fpmlab ÷ it: throughput | fpmlab ÷ it: CPU/request |");
    r.line("| --- | ---: | ---: | ---: | ---: | ---: |");
    let fpm = runs.iter().find(|(n, _)| *n == "fpmlab").unwrap().1;
    let (fp_rps, fp_cpu) = (med(fpm, Measured::rps), med(fpm, Measured::cpu_us_per_req));
    for (name, m) in runs.iter().filter(|(_, m)| !m.is_empty()) {
        let (rps, cpu) = (med(m, Measured::rps), med(m, Measured::cpu_us_per_req));
        r.line(format!(
            "| {name} | {rps:.0} | {cpu:.2} | {:.1} | {:.2}× | {:.2}× |",
            med(m, Measured::peak_rss_mib),
            fp_rps / rps,
            fp_cpu / cpu
        ));
    }
}

/// fpmlab's POST path (1 KiB body, 5 headers, a token per request from a CSV) against its
/// plain GET, with wrk's same POST ÷ GET beside it: the target pays for reading the body
/// too, and what is left between the two ratios is the generator's own cost.
fn post_table(r: &mut Report, fpm: (&[Measured], &[Measured]), wrk: (&[Measured], &[Measured])) {
    r.line("\n## POST with a 1 KiB body and 5 headers against plain GET, closed loop (fpmlab: token from a CSV per request; wrk: one fixed token)\n");
    r.line("| generator | GET requests/s | POST requests/s | POST ÷ GET: throughput | POST ÷ GET: CPU/request |");
    r.line("| --- | ---: | ---: | ---: | ---: |");
    for (name, (get, post)) in [("fpmlab", fpm), ("wrk", wrk)] {
        if get.is_empty() || post.is_empty() {
            continue;
        }
        let (g_rps, g_cpu) = (med(get, Measured::rps), med(get, Measured::cpu_us_per_req));
        let (p_rps, p_cpu) = (
            med(post, Measured::rps),
            med(post, Measured::cpu_us_per_req),
        );
        r.line(format!(
            "| {name} | {g_rps:.0} | {p_rps:.0} | {:.2}× | {:.2}× |",
            p_rps / g_rps,
            p_cpu / g_cpu
        ));
    }
}

/// One rate's open-loop runs.
#[derive(Default)]
struct OpenRuns {
    rate: u64,
    fpm: Vec<Measured>,
    oha: Vec<Measured>,
    /// The baseline build's (`BENCH_BASELINE`).
    base: Vec<Measured>,
    /// This build's with `load.send_window` (`BENCH_WINDOW`).
    batched: Vec<Measured>,
    /// The bare on-time sender ([`floor`]) reading responses on the next send's wake-up.
    floor_deferred: Vec<Measured>,
    /// The same, waking for each response as it comes.
    floor_wake: Vec<Measured>,
}

fn open_table(r: &mut Report, secs: u64, open: &[OpenRuns], window: &str) {
    r.line(format!("\n## Open loop at fixed rates (client lag = sent − intended send time; oha `-q RATE --latency-correction` over its {c} connections, each fpmlab build with `load.max_connections = {c}`)\n", c = peers::CONNECTIONS));
    r.line("| target rate | generator | achieved rate | achieved ÷ target | client lag p50 / p99 / p99.9 / max µs | CPU µs/request | it ÷ oha: CPU/request | peak RSS MiB | its own warnings |");
    r.line("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for OpenRuns {
        rate,
        fpm,
        oha,
        base,
        batched,
        floor_deferred,
        floor_wake,
    } in open
    {
        let oha_cpu = (!oha.is_empty()).then(|| med(oha, Measured::cpu_us_per_req));
        let batched_name = format!("fpmlab, send_window {window}");
        for (name, m) in [
            ("oha", oha),
            ("fpmlab", fpm),
            (batched_name.as_str(), batched),
            ("fpmlab (baseline)", base),
            (FLOOR_DEFERRED, floor_deferred),
            (FLOOR_WAKE, floor_wake),
        ] {
            if m.is_empty() {
                continue;
            }
            // Over the planned duration: fpmlab sends every scheduled request even when late
            // (the lag columns show how late); oha sends fewer when it falls behind.
            let achieved = med(m, |x| x.responses / secs as f64);
            let lag = match m.iter().filter_map(|x| x.lag_us).collect::<Vec<_>>() {
                l if l.is_empty() => "not reported".to_string(),
                l => {
                    let p = |i: usize| median(l.iter().map(|x| x[i] as f64).collect());
                    format!("{:.0} / {:.0} / {:.0} / {:.0}", p(0), p(1), p(2), p(3))
                }
            };
            let cpu = med(m, Measured::cpu_us_per_req);
            // The median of the per-round ratios: each round's runs ran back to back, so
            // the machine's drift between rounds cancels out.
            let ratio = match oha_cpu {
                Some(_) if m.len() == oha.len() => {
                    let per_round = m.iter().zip(oha.iter());
                    let v = per_round.map(|(a, b)| a.cpu_us_per_req() / b.cpu_us_per_req());
                    format!("{:.2}×", median(v.collect()))
                }
                _ => "n/a".into(),
            };
            r.line(format!(
                "| {rate} | {name} | {achieved:.0} | {:.4} | {lag} | {cpu:.2} | {ratio} | {:.1} | {} |",
                achieved / *rate as f64,
                med(m, Measured::peak_rss_mib),
                warned(name, m),
            ));
        }
    }
}

const FLOOR_DEFERRED: &str = "floor: bare on-time sender, reads at the next send";
const FLOOR_WAKE: &str = "floor: bare on-time sender, wakes for each response";

/// The floors' response latency both ways: the deferred reads are timed by the kernel's
/// receive timestamp, which must agree with the waking sender's read time.
fn floor_latency(r: &mut Report, open: &[OpenRuns]) {
    let rows: Vec<_> = (open.iter())
        .flat_map(|o| {
            [
                (o.rate, FLOOR_DEFERRED, &o.floor_deferred),
                (o.rate, FLOOR_WAKE, &o.floor_wake),
            ]
        })
        .filter(|(_, _, m)| !m.is_empty())
        .collect();
    if rows.is_empty() {
        return;
    }
    r.line("\nThe floors: no runtime, no recording, an absolute `clock_nanosleep` to each intended time and a write; `benches/generator/floor.rs`. Their response latency, from the kernel's receive timestamp (`SO_TIMESTAMPNS`) and from the time the sender read it:\n");
    r.line("| target rate | floor | kernel-timed latency p50 / p99 µs | read-timed latency p50 / p99 µs |");
    r.line("| ---: | --- | ---: | ---: |");
    for (rate, name, m) in rows {
        let p = |i: usize| {
            median(
                m.iter()
                    .filter_map(|x| x.floor_latency_us)
                    .map(|l| l[i] as f64)
                    .collect(),
            )
        };
        r.line(format!(
            "| {rate} | {name} | {:.0} / {:.0} | {:.0} / {:.0} |",
            p(0),
            p(1),
            p(2),
            p(3)
        ));
    }
}

/// How many rounds the generator itself warned that it set the pace, and about what (the
/// warning's words up to its first colon): the "no warnings at a rate it can hold" figure
/// that depends on the machine, measured here rather than asserted by a test.
fn warned(name: &str, m: &[Measured]) -> String {
    if !name.starts_with("fpmlab") {
        return "not reported".into();
    }
    let rounds = m.iter().filter(|x| !x.warnings.is_empty()).count();
    if rounds == 0 {
        return format!("none in {} round(s)", m.len());
    }
    let mut kinds: Vec<&str> = m
        .iter()
        .flat_map(|x| &x.warnings)
        .map(|w| w.split(':').next().unwrap_or(w))
        .collect();
    kinds.sort();
    kinds.dedup();
    format!("{rounds} of {} round(s): {}", m.len(), kinds.join("; "))
}

/// Over 10 million requests at full speed (closed loop); resident size sampled through the
/// run.
fn memory_run(r: &mut Report, url: &str, dir: &std::path::Path) {
    let secs = env_or("BENCH_LONG_SECS", 90);
    eprintln!("memory: closed loop for {secs} s");
    let m = peers::fpmlab(url, dir, &peers::closed_phase(secs));
    let samples = &m.usage.rss_kib;
    let at = |frac: f64| {
        let t = m.usage.wall_s * frac;
        samples
            .iter()
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
            .map_or(0.0, |s| s.1 as f64 / 1024.0)
    };
    r.line(format!(
        "\n## Memory through a long run\n\nfpmlab, closed loop with {} users for {secs} s: {:.0} responses ({:.0}/s), resident size sampled every 250 ms:\n",
        peers::CONNECTIONS,
        m.responses,
        m.rps()
    ));
    r.line("| at 10% | 25% | 50% | 75% | end | peak (kernel) |");
    r.line("| ---: | ---: | ---: | ---: | ---: | ---: |");
    r.line(format!(
        "| {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
        at(0.1),
        at(0.25),
        at(0.5),
        at(0.75),
        at(0.99),
        m.peak_rss_mib()
    ));
    r.line(format!(
        "\nCPU {:.2} µs/request over the whole run.",
        m.cpu_us_per_req()
    ));
}
