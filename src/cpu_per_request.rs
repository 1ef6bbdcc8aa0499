//! CPU per request: what the php-fpm workers really spent against what the scenario asked.
//!
//! A scenario's meaning rests on its demand: "15 requests of 50 ms of CPU every 500 ms" is
//! 1.5 cores of work only if each request costs 50 ms. `cpu.php?ms=N` asks for exactly N ms
//! of the worker's CPU time; this module checks the claim against the kernel's accounting
//! (see [`crate::probe::worker_cpu`]): the workers' CPU over the load divided by the requests
//! php-fpm finished meanwhile (its access log), next to the mean `ms=` of those requests.
//! A gap means the load was not what the scenario says: requests cut by a limit before
//! they had their CPU (max_execution_time, request_terminate_timeout), a worker killed
//! mid-request, or other work in the pool.
//!
//! Pure: it takes the readings and returns a value; the runner reads /proc.

use serde::{Deserialize, Serialize};

use crate::probe::worker_cpu::PoolCpuWindow;
use crate::scenario::RequestKind;

/// How far measured may stray from asked before the run warns, in percent.
pub const WARN_ABOVE_PCT: f64 = 10.0;

/// Largest `ms=` cpu.php accepts (it answers 400 above).
const MAX_ASKED_MS: u32 = 30_000;

/// One config's CPU per request, in `run.json` as `cpu_per_request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CpuPerRequest {
    /// The mean CPU time per request the scenario asked for: `ms=` of `cpu.php?ms=N`, averaged
    /// over the requests php-fpm finished during the load. `None` unless every request kind
    /// of the scenario is the built-in app's `cpu.php?ms=` (other scripts, `units=`, or an
    /// `app_root` of one's own have no stated CPU demand).
    pub asked_ms: Option<f64>,
    /// CPU time (user + system) the pool's workers spent per request php-fpm finished during
    /// the load, from /proc: their CPU over the load divided by `requests`. Includes php-fpm's
    /// own per-request work (a fraction of a ms) and the load balancer's health probes
    /// (about one a second, each a fraction of a ms). `None` when it could not be measured
    /// (`note` says why) or no request finished.
    pub measured_ms: Option<f64>,
    /// (measured − asked) / asked × 100; `None` unless both are known and asked is above 0.
    pub deviation_pct: Option<f64>,
    /// Requests of the scenario php-fpm finished during the load (its access log lines that
    /// carry fpmlab's request id; health probes and status polls carry none).
    pub requests: u64,
    /// CPU time the pool's workers spent during the load, ms (the dividend of
    /// `measured_ms`).
    pub worker_cpu_ms: Option<f64>,
    /// Why `measured_ms` or `asked_ms` is missing, when that is not plain from the scenario.
    pub note: Option<String>,
    /// Set when measured and asked differ by more than [`WARN_ABOVE_PCT`] percent.
    pub warning: Option<String>,
}

/// `/cpu.php?ms=N` → N: the CPU time one request of the built-in app asks for. `None` for
/// any other path, for `units=` (a fixed computation whose CPU time depends on the
/// machine), and for a value cpu.php would refuse.
pub fn asked_ms_of(path: &str) -> Option<u32> {
    let (script, query) = path.split_once('?')?;
    if script != "/cpu.php" {
        return None;
    }
    let mut ms = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "ms" if ms.is_none() => ms = Some(value),
            // cpu.php refuses both units at once; php keeps only the last of a repeated key.
            "ms" | "units" => return None,
            _ => {}
        }
    }
    let ms = ms?;
    if ms.is_empty() || ms.len() > 9 || !ms.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    ms.parse().ok().filter(|&n| n <= MAX_ASKED_MS)
}

/// The request path (`/cpu.php?ms=50`) of a php-fpm access log line of a scenario request,
/// in the pool's format (`… id=17 "GET /cpu.php?ms=50" 200 pid=…`); `None` for lines
/// without fpmlab's id (health probes, status polls) and for anything else.
pub fn scenario_request_path(line: &str) -> Option<&str> {
    let id = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("id="))?;
    if id.is_empty() || id == "-" {
        return None;
    }
    let quoted = line.split_once('"')?.1.split_once('"')?.0;
    let (_method, path) = quoted.split_once(' ')?;
    Some(path)
}

impl CpuPerRequest {
    /// Weighs the pool's CPU over the load (`worker_cpu_ns`) against the requests php-fpm
    /// logged meanwhile (`access_log`: the lines written during the load) and what they
    /// asked for. `builtin_app`: the stack serves fpmlab's own app, whose `cpu.php?ms=` means
    /// what [`asked_ms_of`] says.
    pub fn assess(
        requests: &[RequestKind],
        builtin_app: bool,
        worker_cpu_ns: u64,
        access_log: &str,
    ) -> Self {
        let served: Vec<&str> = access_log
            .lines()
            .filter_map(scenario_request_path)
            .collect();
        let n = served.len() as u64;
        let worker_cpu_ms = worker_cpu_ns as f64 / 1e6;
        let every_kind_asks =
            builtin_app && requests.iter().all(|r| asked_ms_of(&r.path).is_some());
        let mut note = None;
        let asked_ms = if !every_kind_asks || n == 0 {
            None
        } else {
            let asked: Option<Vec<u32>> = served.iter().map(|p| asked_ms_of(p)).collect();
            match asked {
                Some(ms) => Some(ms.iter().map(|&m| f64::from(m)).sum::<f64>() / n as f64),
                None => {
                    note = Some(
                        "php-fpm logged requests that are not cpu.php?ms=: nothing to compare with"
                            .into(),
                    );
                    None
                }
            }
        };
        let measured_ms = (n > 0).then(|| worker_cpu_ms / n as f64);
        if n == 0 {
            note = Some("php-fpm finished no request of the scenario during the load".into());
        }
        let deviation_pct = match (asked_ms, measured_ms) {
            (Some(a), Some(m)) if a > 0.0 => Some((m - a) / a * 100.0),
            _ => None,
        };
        let warning = match (asked_ms, measured_ms, deviation_pct) {
            (Some(a), Some(m), Some(d)) if d.abs() > WARN_ABOVE_PCT => Some(format!(
                "the php-fpm workers spent {m:.1} ms of CPU per request, {:.0}% {} than the {a:.1} ms the scenario asked for: the load was not the one the scenario describes (requests cut by a limit before they had their CPU, workers killed mid-request, or other work in the pool)",
                d.abs(),
                if d > 0.0 { "more" } else { "less" },
            )),
            _ => None,
        };
        CpuPerRequest {
            asked_ms,
            measured_ms,
            deviation_pct,
            requests: n,
            worker_cpu_ms: Some(worker_cpu_ms),
            note,
            warning,
        }
    }

    /// [`Self::assess`] on a reading of the pool's CPU over the load, or what it is without
    /// one (`Err` says why the workers' CPU could not be read).
    pub fn of_window(
        requests: &[RequestKind],
        builtin_app: bool,
        window: Result<PoolCpuWindow, String>,
    ) -> Self {
        match window {
            Ok(w) => Self::assess(requests, builtin_app, w.cpu_ns, &w.access_log),
            Err(why) => Self::unmeasured(format!("cannot read the workers' CPU: {why}")),
        }
    }

    /// No measurement: `why` says what was missing.
    pub fn unmeasured(why: String) -> Self {
        CpuPerRequest {
            asked_ms: None,
            measured_ms: None,
            deviation_pct: None,
            requests: 0,
            worker_cpu_ms: None,
            note: Some(why),
            warning: None,
        }
    }

    /// The line under the table: `static-4: CPU per request in the php-fpm workers 50.3 ms,
    /// asked 50.0 ms (+0.6%), over 456 requests.`, with the warning when there is one.
    pub fn line(&self, config: &str) -> String {
        let Some(m) = self.measured_ms else {
            let why = self.note.as_deref().unwrap_or("not measured");
            return format!("{config}: CPU per request in the php-fpm workers: {why}.");
        };
        let mut text = format!("{config}: CPU per request in the php-fpm workers {m:.1} ms");
        match (self.asked_ms, self.deviation_pct) {
            (Some(a), Some(d)) => text.push_str(&format!(", asked {a:.1} ms ({d:+.1}%)")),
            (Some(a), None) => text.push_str(&format!(", asked {a:.1} ms")),
            _ => {}
        }
        text.push_str(&format!(", over {} requests", self.requests));
        match &self.warning {
            Some(w) => text.push_str(&format!(". Warning: {w}.")),
            None => text.push('.'),
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(path: &str, weight: u32) -> RequestKind {
        RequestKind {
            name: path.into(),
            method: "GET".into(),
            path: path.into(),
            weight,
            headers: Default::default(),
            body: None,
            data: None,
            replay_match: None,
        }
    }

    fn line(id: &str, path: &str) -> String {
        format!("2026-11-22T11:42:00+0000 id={id} \"GET {path}\" 200 pid=414 dur_ms=50.120 mem_kb=2048 cpu=99.80%\n")
    }

    #[test]
    fn reads_ms_of_cpu_php_only() {
        assert_eq!(asked_ms_of("/cpu.php?ms=50"), Some(50));
        assert_eq!(asked_ms_of("/cpu.php?tag=a&ms=0"), Some(0));
        assert_eq!(asked_ms_of("/cpu.php?ms=30000"), Some(30_000));
        for refused in [
            "/cpu.php?ms=30001",
            "/cpu.php?ms=-1",
            "/cpu.php?ms=1.5",
            "/cpu.php?ms=",
            "/cpu.php?ms",
            "/cpu.php?units=50",
            "/cpu.php?ms=5&units=5",
            "/cpu.php?ms=5&ms=6",
            "/cpu.php",
            "/io.php?ms=50",
            "/app/cpu.php?ms=50",
        ] {
            assert_eq!(asked_ms_of(refused), None, "{refused}");
        }
    }

    #[test]
    fn only_lines_with_an_id_are_scenario_requests() {
        assert_eq!(
            scenario_request_path(&line("17", "/cpu.php?ms=50")),
            Some("/cpu.php?ms=50")
        );
        assert_eq!(scenario_request_path(&line("-", "/health.php")), None);
        assert_eq!(scenario_request_path("garbage"), None);
        assert_eq!(scenario_request_path(""), None);
    }

    #[test]
    fn exact_demand_gives_no_warning() {
        let log: String = (0..100)
            .map(|i| line(&i.to_string(), "/cpu.php?ms=50"))
            .collect();
        // Health probes in between: not requests of the scenario.
        let log = format!("{log}{}", line("-", "/health.php"));
        let c = CpuPerRequest::assess(&[kind("/cpu.php?ms=50", 1)], true, 5_030_000_000, &log);
        assert_eq!(c.requests, 100);
        assert_eq!(c.asked_ms, Some(50.0));
        let m = c.measured_ms.unwrap();
        assert!((m - 50.3).abs() < 1e-9, "{m}");
        assert!((c.deviation_pct.unwrap() - 0.6).abs() < 1e-9);
        assert_eq!(c.warning, None);
        assert_eq!(
            c.line("static-4"),
            "static-4: CPU per request in the php-fpm workers 50.3 ms, asked 50.0 ms (+0.6%), over 100 requests."
        );
    }

    #[test]
    fn asked_is_weighted_by_the_requests_served() {
        // 3 of 20 ms and 1 of 100 ms: (60 + 100) / 4 = 40 ms, whatever the weights said.
        let log: String = [
            "/cpu.php?ms=20",
            "/cpu.php?ms=20",
            "/cpu.php?ms=100",
            "/cpu.php?ms=20",
        ]
        .iter()
        .enumerate()
        .map(|(i, p)| line(&i.to_string(), p))
        .collect();
        let kinds = [kind("/cpu.php?ms=20", 1), kind("/cpu.php?ms=100", 1)];
        let c = CpuPerRequest::assess(&kinds, true, 160_000_000, &log);
        assert_eq!(c.asked_ms, Some(40.0));
        assert_eq!(c.measured_ms, Some(40.0));
        assert_eq!(c.deviation_pct, Some(0.0));
    }

    #[test]
    fn warns_beyond_ten_percent_either_way() {
        let log: String = (0..10)
            .map(|i| line(&i.to_string(), "/cpu.php?ms=100"))
            .collect();
        let kinds = [kind("/cpu.php?ms=100", 1)];
        let within = CpuPerRequest::assess(&kinds, true, 1_090_000_000, &log);
        assert_eq!(within.warning, None);
        let over = CpuPerRequest::assess(&kinds, true, 1_250_000_000, &log);
        let w = over.warning.clone().unwrap();
        assert!(
            w.contains("125.0 ms") && w.contains("25% more") && w.contains("100.0 ms"),
            "{w}"
        );
        assert!(
            over.line("dynamic-1").contains("(+25.0%)")
                && over.line("dynamic-1").contains("Warning: ")
        );
        let under = CpuPerRequest::assess(&kinds, true, 800_000_000, &log);
        assert!(under.warning.unwrap().contains("20% less"));
    }

    #[test]
    fn no_asked_figure_without_a_stated_demand() {
        let log: String = (0..4)
            .map(|i| line(&i.to_string(), "/cpu.php?ms=10"))
            .collect();
        // A mix with another script: only the measured figure.
        let mixed = [kind("/cpu.php?ms=10", 24), kind("/loop.php", 1)];
        let c = CpuPerRequest::assess(&mixed, true, 40_000_000, &log);
        assert_eq!(c.asked_ms, None);
        assert_eq!(c.measured_ms, Some(10.0));
        assert_eq!((c.deviation_pct, c.warning.clone()), (None, None));
        assert_eq!(
            c.line("static-4"),
            "static-4: CPU per request in the php-fpm workers 10.0 ms, over 4 requests."
        );
        // The fixed-computation unit states no CPU time.
        let units = [kind("/cpu.php?units=10", 1)];
        assert_eq!(CpuPerRequest::assess(&units, true, 1, &log).asked_ms, None);
        // Someone else's cpu.php means whatever it means.
        let ms = [kind("/cpu.php?ms=10", 1)];
        assert_eq!(CpuPerRequest::assess(&ms, false, 1, &log).asked_ms, None);
        assert_eq!(
            CpuPerRequest::assess(&ms, true, 40_000_000, &log).asked_ms,
            Some(10.0)
        );
    }

    #[test]
    fn nothing_served_nothing_measured() {
        let c = CpuPerRequest::assess(
            &[kind("/cpu.php?ms=10", 1)],
            true,
            3_000_000,
            &line("-", "/health.php"),
        );
        assert_eq!((c.requests, c.measured_ms, c.asked_ms), (0, None, None));
        assert!(c.note.as_deref().unwrap().contains("no request"));
        assert_eq!(c.warning, None);
        let u = CpuPerRequest::unmeasured("no /proc".into());
        assert_eq!(
            u.line("x"),
            "x: CPU per request in the php-fpm workers: no /proc."
        );
    }

    #[test]
    fn zero_asked_has_no_deviation() {
        let log = line("1", "/cpu.php?ms=0");
        let c = CpuPerRequest::assess(&[kind("/cpu.php?ms=0", 1)], true, 200_000, &log);
        assert_eq!(c.asked_ms, Some(0.0));
        assert_eq!((c.deviation_pct, c.warning), (None, None));
    }

    #[test]
    fn round_trips_through_json_with_snake_case_keys() {
        let c = CpuPerRequest::unmeasured("why".into());
        let v = serde_json::to_value(&c).unwrap();
        for key in [
            "asked_ms",
            "measured_ms",
            "deviation_pct",
            "requests",
            "worker_cpu_ms",
            "note",
            "warning",
        ] {
            assert!(v.get(key).is_some(), "{key} in {v}");
        }
        assert_eq!(serde_json::from_value::<CpuPerRequest>(v).unwrap(), c);
    }
}
