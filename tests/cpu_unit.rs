//! The exact CPU unit on the real native stack: `cpu.php?ms=N` costs the worker N ms of CPU
//! time as the kernel counts it, on a quiet CPU and on a contended one (where only its wall
//! time grows), and run.json's `cpu_per_request` reports that figure next to the asked one.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fpmlab::scenario::{Driver, ListenKind, LoadSettings, Plan, PoolConfig, StackSettings};
use fpmlab::stack;

/// The CPU the stack and the contending threads share.
const CPU: usize = 0;

fn plan() -> Plan {
    Plan {
        name: "cpu-unit".into(),
        description: "integration test".into(),
        seed: 1,
        driver: Driver::Native,
        stack: StackSettings {
            cpuset: Some(vec![CPU]),
            listen: ListenKind::Tcp,
            ..StackSettings::default()
        },
        load: LoadSettings::default(),
        configs: vec![],
        phases: vec![],
        requests: vec![],
        thresholds: vec![],
        fleet: None,
    }
}

fn one_worker() -> PoolConfig {
    PoolConfig::static_pool("static-1", 1)
}

/// Busy threads pinned to [`CPU`] until dropped: the worker then gets a fraction of its core.
struct Contention {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Contention {
    fn start(threads: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    fpmlab::affinity::set(0, &[CPU]).unwrap();
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(x.wrapping_mul(6364136223846793005) + 1);
                        }
                    }
                })
            })
            .collect();
        Contention { stop, threads }
    }
}

impl Drop for Contention {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().ok();
        }
    }
}

/// The worker's CPU time so far as the kernel counts it, ns (`/proc/PID/schedstat`).
fn kernel_cpu_ns(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

fn header_f64(resp: &reqwest::Response, name: &str) -> f64 {
    let value = resp
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"));
    value.to_str().unwrap().parse().unwrap()
}

/// One request as both sides saw it.
#[derive(Debug)]
struct Measured {
    /// The script's own report (`cpu_ms=` in the body: getrusage over the script).
    script_ms: f64,
    /// The worker's CPU over the whole request, from /proc: php-fpm's own per-request work
    /// included.
    kernel_ms: f64,
    /// Script end − start.
    wall_ms: f64,
}

async fn measure(http: &reqwest::Client, base: &str, worker: u32, ms: u32) -> Measured {
    let before = kernel_cpu_ns(worker);
    let resp = http
        .get(format!("{base}/cpu.php?ms={ms}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header_f64(&resp, "X-Fpm-Pid") as u32, worker);
    let wall_ms =
        (header_f64(&resp, "X-Fpm-Script-End") - header_f64(&resp, "X-Fpm-Script-Start")) * 1e3;
    let body = resp.text().await.unwrap();
    // The worker's accounting is final once the response is read: php-fpm writes its access
    // log line after the body, so allow it that moment.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let kernel_ms = (kernel_cpu_ns(worker) - before) as f64 / 1e6;
    assert!(body.starts_with(&format!("cpu ms={ms} ")), "{body}");
    let script_ms = body
        .split_whitespace()
        .find_map(|w| w.strip_prefix("cpu_ms="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no cpu_ms in {body}"));
    Measured {
        script_ms,
        kernel_ms,
        wall_ms,
    }
}

#[tokio::test]
async fn ms_is_exact_in_the_workers_cpu_time_even_under_contention() {
    if std::env::var_os("FPMLAB_SKIP_NATIVE").is_some() {
        eprintln!("FPMLAB_SKIP_NATIVE is set: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut stack = stack::create(
        &Driver::Native,
        &plan().stack,
        &one_worker(),
        &dir.path().join("c"),
    )
    .unwrap();
    let ep = stack.up().await.unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let hello = http
        .get(format!("{}/hello.php", ep.base_url))
        .send()
        .await
        .unwrap();
    let worker = header_f64(&hello, "X-Fpm-Pid") as u32;
    drop(hello);

    for contended in [false, true] {
        // Two busy threads on the worker's only CPU: it runs about a third of the time.
        let _contention = contended.then(|| Contention::start(2));
        for ms in [20u32, 100] {
            let mut runs = Vec::new();
            for _ in 0..3 {
                runs.push(measure(&http, &ep.base_url, worker, ms).await);
            }
            let asked = f64::from(ms);
            let context = format!("ms={ms} contended={contended}: {runs:?}");
            let median = |f: fn(&Measured) -> f64| {
                let mut v: Vec<f64> = runs.iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            // Never less than asked, in either count.
            for m in &runs {
                assert!(m.script_ms >= asked, "script's own CPU: {context}");
                assert!(
                    m.kernel_ms >= asked * 0.99,
                    "worker CPU from /proc: {context}"
                );
            }
            // The script stops at the first clock read past N: one chunk of work (tens of µs)
            // late at most, in CPU time, however long it was kept off the CPU. The median of
            // three: on a virtual machine a vCPU descheduled by the host mid-chunk is still
            // charged to the running process, which can inflate one run by milliseconds.
            let script = median(|m| m.script_ms);
            assert!(script <= asked + 0.5, "script's own CPU: {context}");
            // The kernel's count adds php-fpm's own handling of the request (accept, the
            // FastCGI exchange, request startup and shutdown): a fraction of a ms. Sharing the
            // core adds the cost of being switched out and back in (cold caches, the switch
            // itself, charged to whoever runs): CI measured 105 ms of /proc CPU for 100 ms
            // asked while the script's own count stayed at 100.1 ms.
            let kernel = median(|m| m.kernel_ms);
            let slack = if contended { 1.10 } else { 1.03 };
            assert!(
                kernel <= asked * slack + 1.0,
                "worker CPU from /proc: {context}"
            );
            let mut walls: Vec<f64> = runs.iter().map(|m| m.wall_ms).collect();
            walls.sort_by(f64::total_cmp);
            let wall = walls[walls.len() / 2];
            eprintln!(
                "ms={ms} contended={contended}: script {:.3} ms, kernel {:.3} ms, wall {wall:.1} ms (median)",
                runs[1].script_ms, runs[1].kernel_ms
            );
            if contended {
                // Sharing its core three ways, the same CPU time takes far longer to get: the
                // request stretches in wall time instead of doing less.
                assert!(
                    wall >= 1.5 * asked,
                    "contention did not show in wall time: {runs:?}"
                );
            }
        }
    }
    drop(http);
    stack.down().await.unwrap();
}

#[test]
fn run_json_reports_the_cpu_per_request_asked_and_measured() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Three 20 ms requests for one of 60 ms: 30 ms asked on average.
    let scenario = common::scenario(
        dir.path(),
        "cpu-per-request",
        r#"
[[config]]
name = "static-2"
pm = "static"
max_children = 2

[[phase]]
duration = "6s"
pattern = "constant"
rate = 10

[[request]]
path = "/cpu.php?ms=20"
weight = 3

[[request]]
path = "/cpu.php?ms=60"
weight = 1
"#,
    );
    let o = common::run_native(&scenario, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    let run = common::load(&out);
    let c = &run.configs[0];
    let cpu = c.cpu_per_request.as_ref().expect("cpu_per_request");
    let s = &c.recorded.summary;
    assert_eq!(s.responses, s.scheduled, "{s:?}");
    assert_eq!(cpu.requests, s.responses, "{cpu:?}");
    let asked = cpu.asked_ms.expect("asked");
    assert!((24.0..=40.0).contains(&asked), "{cpu:?}");
    let measured = cpu.measured_ms.expect("measured");
    assert!(
        (measured - asked).abs() <= 0.1 * asked,
        "measured {measured:.2} ms against {asked:.2} ms asked: {cpu:?}"
    );
    assert_eq!(cpu.warning, None);
    assert!(
        table.contains("static-2: CPU per request in the php-fpm workers"),
        "{table}"
    );
    assert!(!table.contains("Warning"), "{table}");
    common::assert_torn_down(&out, &run);
}

#[test]
fn a_demand_the_pool_does_not_give_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // max_execution_time ends every request after 1 s of CPU: the 1.5 s asked never happen.
    let scenario = common::scenario(
        dir.path(),
        "cut-short",
        r#"
[stack]
max_execution_time = "1s"

[[config]]
name = "static-2"
pm = "static"
max_children = 2

[[phase]]
duration = "2s"
pattern = "constant"
rate = 1

[[request]]
path = "/cpu.php?ms=1500"
"#,
    );
    let o = common::run_native(&scenario, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = common::load(&out);
    let c = &run.configs[0];
    assert_eq!(
        c.recorded.summary.status_counts.get("500"),
        Some(&2),
        "{:?}",
        c.recorded.summary
    );
    let cpu = c.cpu_per_request.as_ref().expect("cpu_per_request");
    assert_eq!(cpu.asked_ms, Some(1500.0), "{cpu:?}");
    // About 1 s each, plus what the cut costs (the error page, the worker's own start): on a
    // contended CPU that rose to 1.26 s in CI. What matters is well under the 1.5 s asked.
    let measured = cpu.measured_ms.unwrap();
    assert!((900.0..=1400.0).contains(&measured), "{cpu:?}");
    let warning = cpu.warning.as_deref().expect("a warning");
    assert!(warning.contains("less than the 1500.0 ms"), "{warning}");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("Warning: the php-fpm workers spent"),
        "{table}"
    );
    // The report's warnings list carries it too, as the generator's own warnings.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("static-2: the php-fpm workers spent"),
        "no warning in report.html"
    );
    common::assert_torn_down(&out, &run);
}
