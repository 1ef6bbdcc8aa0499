//! The three generators, each run the same way: pinned to CPU 0, 64 connections, against
//! the same URL, for the same time.

use std::path::Path;

use crate::run::{pinned, Usage};

/// Connections (wrk, oha) or users (fpmlab closed loop).
pub const CONNECTIONS: u32 = 64;
/// The CPU every generator is pinned to.
const GENERATOR_CPU: usize = 0;

/// One generator run, reduced to what the tables show.
pub struct Measured {
    /// Responses (2xx) counted by the tool itself.
    pub responses: f64,
    /// The load's window: from its start to its last response.
    pub window_s: f64,
    pub usage: Usage,
    /// Client lag percentiles (sent − intended), µs: fpmlab only.
    pub lag_us: Option<[u64; 4]>,
    /// The run's own warnings that the generator set the pace (run.json
    /// `configs[].generator.warnings`): fpmlab only.
    pub warnings: Vec<String>,
    /// The floor sender's response latency p50 and p99 (µs): from the kernel's receive
    /// timestamp, then from the time it read the response.
    pub floor_latency_us: Option<[u64; 4]>,
}

impl Measured {
    pub fn rps(&self) -> f64 {
        self.responses / self.window_s
    }
    pub fn cpu_us_per_req(&self) -> f64 {
        self.usage.cpu_s * 1e6 / self.responses
    }
    pub fn peak_rss_mib(&self) -> f64 {
        self.usage.max_rss_kib as f64 / 1024.0
    }
}

pub fn wrk(url: &str, secs: u64) -> Measured {
    wrk_with(url, secs, None)
}

/// wrk with a Lua script (`-s`), e.g. [`wrk_post_script`]'s.
pub fn wrk_with(url: &str, secs: u64, script: Option<&Path>) -> Measured {
    let mut args = vec![
        "-t1".into(),
        format!("-c{CONNECTIONS}"),
        format!("-d{secs}s"),
    ];
    if let Some(s) = script {
        args.push("-s".into());
        args.push(s.display().to_string());
    }
    args.push(url.into());
    let usage = pinned(GENERATOR_CPU, "wrk", &args);
    let responses: f64 = usage
        .stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .and_then(|(n, _)| n.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("unexpected wrk output: {}", usage.stdout));
    Measured {
        responses,
        // wrk stops its clock at the duration; its exit adds a little wall time.
        window_s: usage.wall_s.clamp(secs as f64, secs as f64 + 0.5),
        usage,
        lag_us: None,
        warnings: Vec::new(),
        floor_latency_us: None,
    }
}

/// oha closed loop (`rate` None) or open loop at `rate` per second.
pub fn oha(url: &str, secs: u64, rate: Option<u64>) -> Measured {
    let mut args: Vec<String> = vec![
        "-z".into(),
        format!("{secs}s"),
        "-c".into(),
        CONNECTIONS.to_string(),
        "--no-tui".into(),
        "--output-format".into(),
        "json".into(),
    ];
    if let Some(r) = rate {
        args.extend(["-q".into(), r.to_string(), "--latency-correction".into()]);
    }
    args.push(url.into());
    let usage = pinned(GENERATOR_CPU, "oha", &args);
    let v: serde_json::Value = serde_json::from_str(&usage.stdout).expect("oha json");
    let responses: f64 = v["statusCodeDistribution"]
        .as_object()
        .map_or(0.0, |m| m.values().filter_map(|x| x.as_f64()).sum());
    Measured {
        responses,
        window_s: secs as f64,
        usage,
        lag_us: None,
        warnings: Vec::new(),
        floor_latency_us: None,
    }
}

/// The closed-loop phase the peers' `-c 64` corresponds to.
pub fn closed_phase(secs: u64) -> String {
    format!("[[phase]]\nduration = \"{secs}s\"\npattern = \"closed\"\nusers = {CONNECTIONS}\n")
}

/// An open-loop phase at a constant rate.
pub fn constant_phase(secs: u64, rate: u64) -> String {
    format!("[[phase]]\nduration = \"{secs}s\"\npattern = \"constant\"\nrate = {rate}\n")
}

/// fpmlab with full recording (histograms, timeline, status counts, run.json), against the
/// target as an external stack.
pub fn fpmlab(url: &str, dir: &Path, phase: &str) -> Measured {
    fpmlab_with(url, dir, phase, "path = \"/\"\n")
}

/// A POST of a 1 KiB JSON body with 5 headers, the bearer token filled per request from a
/// 1000-row CSV (written into `dir`): what real API traffic costs the generator.
pub fn post_request(dir: &Path) -> String {
    let mut csv = String::from("token\n");
    for i in 0..1000 {
        csv.push_str(&format!(
            "tok-{i:06}-{:016x}\n",
            (i as u64).wrapping_mul(0x9E37_79B9)
        ));
    }
    std::fs::write(dir.join("tokens.csv"), csv).unwrap();
    // 1024 bytes: a JSON object padded to size.
    let prefix = r#"{"items":[1,2,3],"pad":""#;
    let body = format!("{prefix}{}\"}}", "x".repeat(1024 - prefix.len() - 2));
    assert_eq!(body.len(), 1024);
    format!(
        "path = \"/api/cart\"\nmethod = \"POST\"\ncontent_type = \"application/json\"\n\
         body = '{body}'\ndata = \"tokens.csv\"\n\
         headers = {{ Authorization = \"Bearer {{{{token}}}}\", Cookie = \"session=abc123; cart=77\", \
         Accept = \"application/json\", X-Tenant = \"acme\", X-Request-Source = \"bench\" }}\n"
    )
}

/// The same POST as [`post_request`] for wrk (one fixed token: wrk's cheapest form), so the
/// target's own cost of reading the body shows in wrk's POST ÷ GET too.
pub fn wrk_post_script(dir: &Path) -> std::path::PathBuf {
    let prefix = r#"{"items":[1,2,3],"pad":""#;
    let body = format!("{prefix}{}\"}}", "x".repeat(1024 - prefix.len() - 2));
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.path = \"/api/cart\"\nwrk.body = '{body}'\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = \"Bearer tok-000001-000000009e3779b9\"\n\
         wrk.headers[\"Cookie\"] = \"session=abc123; cart=77\"\n\
         wrk.headers[\"Accept\"] = \"application/json\"\n\
         wrk.headers[\"X-Tenant\"] = \"acme\"\n\
         wrk.headers[\"X-Request-Source\"] = \"bench\"\n"
    );
    let path = dir.join("post.lua");
    std::fs::write(&path, lua).unwrap();
    path
}

/// [`fpmlab`] with the `[[request]]` body given (its keys, after the table header).
pub fn fpmlab_with(url: &str, dir: &Path, phase: &str, request: &str) -> Measured {
    fpmlab_bin(FPMLAB, url, dir, phase, request, "")
}

/// This build's binary.
pub const FPMLAB: &str = env!("CARGO_BIN_EXE_fpmlab");

/// fpmlab binary `bin` open loop with at most [`CONNECTIONS`] connections
/// (`load.max_connections`), as oha's `-c` pool; `load` adds keys to `[load]`.
pub fn fpmlab_pooled(bin: &str, url: &str, dir: &Path, phase: &str, load: &str) -> Measured {
    let pool = format!("max_connections = {CONNECTIONS}\n{load}");
    let get = "path = \"/\"\n";
    fpmlab_bin(bin, url, dir, phase, get, &pool)
}

/// [`fpmlab_with`] running the binary `bin`: another build of fpmlab (`BENCH_BASELINE`), to
/// compare two builds side by side in the same run. `load` adds keys to `[load]`.
pub fn fpmlab_bin(
    bin: &str,
    url: &str,
    dir: &Path,
    phase: &str,
    request: &str,
    load: &str,
) -> Measured {
    let scenario = dir.join("bench.toml");
    std::fs::write(
        &scenario,
        format!("# generator benchmark\n[load]\nclient_timeout = \"10s\"\nmax_in_flight = 100000\n{load}[[config]]\nname = \"bench\"\npm = \"static\"\nmax_children = 1\n{phase}\n[[request]]\n{request}"),
    )
    .unwrap();
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
        "--no-report",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let usage = pinned(GENERATOR_CPU, bin, &args);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let s = &run["configs"][0]["summary"];
    let lag = |k: &str| s["client_lag"][k].as_u64().unwrap_or(0);
    Measured {
        responses: s["status_counts"]["200"].as_f64().unwrap_or(0.0),
        window_s: s["window_ms"].as_f64().unwrap_or(1.0) / 1000.0,
        usage,
        lag_us: Some([lag("p50_us"), lag("p99_us"), lag("p999_us"), lag("max_us")]),
        warnings: run["configs"][0]["generator"]["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        floor_latency_us: None,
    }
}

/// The bare on-time sender of [`crate::floor`], `wake` or `deferred` (see there), at `rate`.
pub fn floor(url: &str, secs: u64, rate: u64, mode: &str) -> Measured {
    let me = std::env::current_exe().expect("the bench's own path");
    let args: Vec<String> = vec![
        "--floor".into(),
        url.into(),
        rate.to_string(),
        secs.to_string(),
        CONNECTIONS.to_string(),
        mode.into(),
    ];
    let usage = pinned(GENERATOR_CPU, me.to_str().unwrap(), &args);
    let f = crate::floor::FloorRun::parse(usage.stdout.trim())
        .unwrap_or_else(|| panic!("unexpected floor output: {}", usage.stdout));
    let [k50, k99] = f.kernel_latency_us;
    let [r50, r99] = f.read_latency_us;
    Measured {
        responses: f.responses as f64,
        window_s: secs as f64,
        usage,
        lag_us: Some(f.lag_us),
        warnings: Vec::new(),
        floor_latency_us: Some([k50, k99, r50, r99]),
    }
}
