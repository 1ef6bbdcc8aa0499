//! Generator benchmark: fpmlab against wrk and oha on the same target in the same run.
//!
//! `cargo bench --bench generator` starts nginx serving a tiny response on 127.0.0.1, pinned
//! to the last CPU, and runs each load generator pinned to CPU 0, alternating A B C A B C so
//! drift hits all alike. It prints ratios (fpmlab ÷ peer) for closed-loop throughput, CPU per
//! request and peak RSS, then fpmlab's open-loop accuracy at fixed rates.
//!
//! Environment: BENCH_SECS (default 10), BENCH_ROUNDS (3), BENCH_RATES ("10000,30000"),
//! BENCH_LONG=1 adds a 10-million-request memory run. Needs nginx and wrk (Debian's
//! packages); oha is used when `oha` is on PATH (`cargo install oha`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Measured {
    requests: f64,
    wall_s: f64,
    cpu_s: f64,
    max_rss_kib: i64,
    lag_p50_us: Option<u64>,
    lag_p99_us: Option<u64>,
}

impl Measured {
    fn rps(&self) -> f64 {
        self.requests / self.wall_s
    }
    fn cpu_us_per_req(&self) -> f64 {
        self.cpu_s * 1e6 / self.requests
    }
}

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs a command pinned to `cpu`; returns (stdout, wall s, user+sys s, max RSS KiB).
/// The child is reaped with wait4, which also returns its own rusage.
#[allow(clippy::zombie_processes)]
fn run_pinned(cpu: usize, program: &str, args: &[String]) -> (String, f64, f64, i64) {
    let mut cmd = Command::new("taskset");
    cmd.arg("-c")
        .arg(cpu.to_string())
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 gives this child's own rusage (taskset execs the program, so it is the tool's).
    let stdout = child.stdout.map(|mut s| {
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut s, &mut buf).ok();
        buf
    });
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed().as_secs_f64();
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (
        stdout.unwrap_or_default(),
        wall,
        t(ru.ru_utime) + t(ru.ru_stime),
        ru.ru_maxrss,
    )
}

fn start_nginx(dir: &Path, cpu: usize) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off; worker_processes 1; pid {d}/tmp/nginx.pid; error_log {d}/error.log; {user}
         events {{ worker_connections 4096; }}
         http {{ access_log off; keepalive_requests 100000000; keepalive_timeout 300s;
           client_body_temp_path {d}/tmp/b; fastcgi_temp_path {d}/tmp/f; proxy_temp_path {d}/tmp/p;
           scgi_temp_path {d}/tmp/s; uwsgi_temp_path {d}/tmp/u;
           server {{ listen 127.0.0.1:{port} backlog=4096; location / {{ return 200 \"ok\\n\"; }} }} }}",
        user = if unsafe { libc::geteuid() } == 0 { "user root;" } else { "" }
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new("taskset")
        .args([
            "-c",
            &cpu.to_string(),
            "nginx",
            "-p",
            &format!("{d}/tmp"),
            "-e",
            &format!("{d}/error.log"),
            "-c",
            &format!("{d}/nginx.conf"),
        ])
        .spawn()
        .expect("nginx not found: apt-get install nginx-light");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("nginx did not start; see {d}/error.log");
}

fn wrk(url: &str, secs: u64) -> Measured {
    let args = vec![
        "-t1".into(),
        "-c64".into(),
        format!("-d{secs}s"),
        url.into(),
    ];
    let (out, wall, cpu, rss) = run_pinned(0, "wrk", &args);
    let total: f64 = out
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .map(|(n, _)| n.trim().parse().unwrap())
        })
        .expect("wrk output");
    Measured {
        requests: total,
        wall_s: wall.min(secs as f64 + 0.5).max(secs as f64),
        cpu_s: cpu,
        max_rss_kib: rss,
        lag_p50_us: None,
        lag_p99_us: None,
    }
}

fn oha(url: &str, secs: u64, rate: Option<u64>) -> Measured {
    let mut args: Vec<String> = vec![
        "-z".into(),
        format!("{secs}s"),
        "-c".into(),
        "64".into(),
        "--no-tui".into(),
        "--output-format".into(),
        "json".into(),
    ];
    if let Some(r) = rate {
        args.extend(["-q".into(), r.to_string(), "--latency-correction".into()]);
    }
    args.push(url.into());
    let (out, _wall, cpu, rss) = run_pinned(0, "oha", &args);
    let v: serde_json::Value = serde_json::from_str(&out).expect("oha json");
    let ok: f64 = v["statusCodeDistribution"]
        .as_object()
        .map_or(0.0, |m| m.values().filter_map(|x| x.as_f64()).sum());
    Measured {
        requests: ok,
        wall_s: secs as f64,
        cpu_s: cpu,
        max_rss_kib: rss,
        lag_p50_us: None,
        lag_p99_us: None,
    }
}

fn fpmlab(url: &str, dir: &Path, phase: &str) -> Measured {
    let scenario = dir.join("bench.toml");
    std::fs::write(&scenario, format!("# generator benchmark\n[load]\nclient_timeout = \"10s\"\nmax_in_flight = 100000\n[[config]]\nname = \"bench\"\npm = \"static\"\nmax_children = 1\n{phase}\n[[request]]\npath = \"/\"\n")).unwrap();
    let out = dir.join("run");
    let _ = std::fs::remove_dir_all(&out);
    let args: Vec<String> = [
        "run",
        scenario.to_str().unwrap(),
        "--stack",
        "external",
        "--target",
        url,
        "--quiet",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let (_, _, cpu, rss) = run_pinned(0, env!("CARGO_BIN_EXE_fpmlab"), &args);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let s = &run["configs"][0]["summary"];
    let ok = s["status_counts"]["200"].as_f64().unwrap_or(0.0);
    let window_s = s["window_ms"].as_f64().unwrap_or(1.0) / 1000.0;
    Measured {
        requests: ok,
        wall_s: window_s,
        cpu_s: cpu,
        max_rss_kib: rss,
        lag_p50_us: s["client_lag"]["p50_us"].as_u64(),
        lag_p99_us: s["client_lag"]["p99_us"].as_u64(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes harness=false benches; nothing to list.
    }
    let secs: u64 = env_or("BENCH_SECS", 10);
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "10000,30000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let have_oha = Command::new("oha").arg("--version").output().is_ok();
    let target_cpu = cpus() - 1;
    let dir = tempfile::tempdir().unwrap();
    let (mut nginx, port) = start_nginx(dir.path(), target_cpu);
    let url = format!("http://127.0.0.1:{port}/");
    eprintln!("target: nginx on CPU {target_cpu}, {url}; generators on CPU 0; {rounds} rounds of {secs} s");

    let closed = format!("[[phase]]\nduration = \"{secs}s\"\npattern = \"closed\"\nusers = 64\n");
    let mut results: Vec<(&str, Vec<Measured>)> =
        vec![("wrk", vec![]), ("oha", vec![]), ("fpmlab", vec![])];
    for round in 0..rounds {
        eprintln!("round {}: wrk", round + 1);
        results[0].1.push(wrk(&url, secs));
        if have_oha {
            eprintln!("round {}: oha", round + 1);
            results[1].1.push(oha(&url, secs, None));
        }
        eprintln!("round {}: fpmlab", round + 1);
        results[2].1.push(fpmlab(&url, dir.path(), &closed));
    }
    let mut report = String::new();
    let mut line = |s: String| {
        println!("{s}");
        report.push_str(&s);
        report.push('\n');
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    line(format!("# Generator benchmark\n\nMachine: {} CPUs ({cpu_model}), kernel {}. Target: nginx `return 200`, 1 worker on CPU {target_cpu}; each generator on CPU 0; 64 keep-alive connections; {rounds} alternating rounds of {secs} s; medians.\n", cpus(), std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()));
    line("## Closed loop, maximum throughput (fpmlab records everything: histograms, timeline, status counts)\n".into());
    line("| generator | requests/s | CPU µs/request | peak RSS MiB | fpmlab ÷ it: throughput | fpmlab ÷ it: CPU/request |".into());
    line("| --- | ---: | ---: | ---: | ---: | ---: |".into());
    let med = |m: &[Measured], f: fn(&Measured) -> f64| median(m.iter().map(f).collect());
    let fp = &results[2].1;
    let (fp_rps, fp_cpu) = (med(fp, Measured::rps), med(fp, Measured::cpu_us_per_req));
    for (name, m) in &results {
        if m.is_empty() {
            continue;
        }
        let (rps, cpu) = (med(m, Measured::rps), med(m, Measured::cpu_us_per_req));
        let rss = med(m, |x| x.max_rss_kib as f64) / 1024.0;
        line(format!(
            "| {name} | {rps:.0} | {cpu:.2} | {rss:.1} | {:.2}× | {:.2}× |",
            fp_rps / rps,
            fp_cpu / cpu
        ));
    }

    line(
        "\n## Open loop at fixed rates (fpmlab; latency measured from the intended send time)\n"
            .into(),
    );
    line("| target rate | achieved rate | achieved ÷ target | client lag p50 | client lag p99 | CPU µs/request |".into());
    line("| ---: | ---: | ---: | ---: | ---: | ---: |".into());
    for rate in &rates {
        let phase =
            format!("[[phase]]\nduration = \"{secs}s\"\npattern = \"constant\"\nrate = {rate}\n");
        let m = fpmlab(&url, dir.path(), &phase);
        let achieved = m.requests / secs as f64;
        line(format!(
            "| {rate} | {achieved:.0} | {:.4} | {} µs | {} µs | {:.2} |",
            achieved / *rate as f64,
            m.lag_p50_us.unwrap_or(0),
            m.lag_p99_us.unwrap_or(0),
            m.cpu_us_per_req()
        ));
    }
    if std::env::var("BENCH_LONG").is_ok() {
        let n = 10_000_000u64;
        let rate = 50_000;
        let phase = format!(
            "[[phase]]\nduration = \"{}s\"\npattern = \"constant\"\nrate = {rate}\n",
            n / rate
        );
        let m = fpmlab(&url, dir.path(), &phase);
        line(format!(
            "\n## Memory\n\n{} requests at {rate}/s: peak RSS {:.1} MiB\n",
            m.requests,
            m.max_rss_kib as f64 / 1024.0
        ));
    }
    let _ = Command::new("kill").arg(nginx.id().to_string()).status();
    let _ = nginx.wait();
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/results/latest.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, report).unwrap();
    eprintln!("written to {}", out.display());
}
