//! The recommendation: the pool snippet, the timeout chain, why, headroom; and the text
//! `fpmlab tune` prints.

use super::measure::Outcome;
use super::objective::Settings;
use super::search::{self, Fit};
use super::TuneResult;
use crate::model::{Bound, Pool, Spawn, Traffic};
use crate::results::ConfigResult;
use crate::scenario::Plan;

pub use crate::results::tune::Recommendation;

/// Worker growth per request above which a `pm.max_requests` recycles workers, KiB.
const GROWTH_KIB: f64 = 0.5;

/// Builds the recommendation for `c` workers.
#[allow(clippy::too_many_arguments)]
pub fn recommendation(
    fit: &Fit,
    plan: &Plan,
    s: &Settings,
    c: u32,
    ceiling: u32,
    met: bool,
    recheck: Option<Outcome>,
    first: &ConfigResult,
) -> Recommendation {
    let i = &fit.inputs;
    let mut why = Vec::new();
    let pred = fit.at(c);
    let cpu_cap = i.cores / (i.cpu_per_request_ms / 1000.0).max(1e-9);
    let worker_cap = f64::from(c) / (i.service_mean_ms / 1000.0).max(1e-9);
    why.push(format!("CPU: {:.1} cores ÷ {:.1} ms CPU per request = {cpu_cap:.0} req/s at most; {c} workers ÷ {:.1} ms = {worker_cap:.0} req/s", i.cores, i.cpu_per_request_ms, i.service_mean_ms));
    if let Some(p) = &pred {
        if p.bound == Bound::Cpu && f64::from(c) > i.cores {
            why.push(format!("CPU bound: workers beyond the {:.1} cores only move the delay from the queue into service time (model service {:.0} ms vs {:.0} ms alone)", i.cores, p.service_ms, i.service_mean_ms));
        }
    }
    why.push(format!(
        "memory: {:.0} MiB ÷ {:.1} MiB (p95 worker PSS) = {ceiling} workers at most ({})",
        s.memory_budget_mib, i.worker_pss_p95_mib, s.memory_source
    ));
    if c == ceiling && !met {
        why.push(
            "memory decided: the budget holds no larger pool, and this one misses the objective"
                .into(),
        );
    }
    if c > 1 {
        if let Some(below) = fit.at(c - 1) {
            why.push(format!("queueing: at {} workers the model predicts p99 {:.0} ms and queue wait p99 {:.0} ms against the objective {:.0} ms; at {c}: {}", c - 1, below.latency_p99_ms, below.queue_wait_p99_ms, s.p99_ms, pred.as_ref().map_or("-".into(), |p| format!("{:.0} ms, queue wait {:.0} ms", p.latency_p99_ms, p.queue_wait_p99_ms))));
        }
    }
    let stock = Pool {
        max_children: c,
        spawn: Spawn::Dynamic {
            start: 2.min(c),
            min_spare: 1,
            max_spare: 3.min(c),
            max_spawn_rate: 32,
        },
        backlog: fit.backlog,
    };
    if let (Some(d), Some(secs)) = (
        fit.predict(&stock),
        crate::model::spawn::seconds_to_reach(2.min(c), c, c, 1, 32),
    ) {
        if secs > 0
            && fit
                .traffic
                .iter()
                .any(|t| matches!(t, Traffic::Burst { .. }))
        {
            why.push(format!("spawn ramp: pm = dynamic with stock spares (start 2, min_spare 1) grows one worker a second, {secs} s to reach {c}; the model predicts p99 {:.0} ms for it, so pm = static", d.latency_p99_ms));
        }
    }
    let (decided_by, line) = decided_by(fit, s, c, ceiling, met);
    why.insert(0, line);
    let max_requests = if i.pss_growth_kib_per_request > GROWTH_KIB {
        ((0.2 * i.worker_pss_p95_mib * 1024.0 / i.pss_growth_kib_per_request) as u32)
            .clamp(100, 10_000)
    } else {
        0
    };
    // The deepest queue a burst builds beyond the workers, twice over; never below php-fpm's
    // 511 (PR #731: deeper only serves clients that gave up).
    let deepest = fit
        .traffic
        .iter()
        .map(|t| match *t {
            Traffic::Burst { size, .. } => size.saturating_sub(c),
            Traffic::Rate { .. } => 0,
        })
        .max()
        .unwrap_or(0);
    let listen_backlog = (deepest * 2).max(511);
    let lb = (plan.load.client_timeout_ms / 1000).max(4) as u32;
    let service_max_s = first.recorded.summary.service.max_us as f64 / 1e6;
    let rtt = ((10.0 * s.p99_ms / 1000.0).max(3.0 * service_max_s).ceil() as u32).clamp(2, lb - 2);
    Recommendation {
        pm: "static".into(),
        max_children: c,
        max_requests,
        listen_backlog,
        max_execution_time_s: (rtt - 1).max(1),
        request_terminate_timeout_s: rtt,
        fastcgi_read_timeout_s: (rtt + 1).min(lb - 1),
        lb_idle_timeout_s: lb,
        meets_objective: recheck.as_ref().map_or(met, |r| search::measured_ok(r, s)),
        decided_by: decided_by.into(),
        why,
        headroom_factor: search::headroom(fit, s, c),
        recheck,
        headroom_check: None,
    }
}

/// The bound that decided `c`, and a line saying so with the figures.
fn decided_by(fit: &Fit, s: &Settings, c: u32, ceiling: u32, met: bool) -> (&'static str, String) {
    let at = fit.at(c);
    let p99 =
        |p: &Option<crate::model::Prediction>| p.as_ref().map_or(f64::NAN, |p| p.latency_p99_ms);
    let larger_helps = p99(&fit.at(c + 1)) < p99(&at) * 0.99;
    if c == ceiling && (!met || larger_helps) {
        return ("memory", format!("decided by memory: {c} workers is all the budget holds, and a larger pool would {}", if met { "still lower the p99" } else { "be needed to meet the objective" }));
    }
    if let Some(p) = at
        .as_ref()
        .filter(|p| p.bound == Bound::Cpu && f64::from(c) >= fit.inputs.cores)
    {
        return ("cpu", format!("decided by CPU: the cores serve at most {:.0} req/s; a larger pool only shares them (model p99 {:.0} ms at {c}, {:.0} ms at {})", p.capacity_rps, p.latency_p99_ms, p99(&fit.at(c + 1)), c + 1));
    }
    ("queueing", format!("decided by queueing: {c} is the smallest pool whose measured p99 {} the objective of {:.0} ms under this traffic", if met { "meets" } else { "comes nearest" }, s.p99_ms))
}

/// `pool.conf`: ready to paste into the pool's section.
pub fn snippet(t: &TuneResult, r: &Recommendation) -> String {
    let s = &t.settings;
    let mut o = format!(
        "; fpmlab tune {}: p99 <= {:.0} ms, errors <= {:.2} %, memory {:.0} MiB\n",
        t.scenario_file,
        s.p99_ms,
        s.max_error_share * 100.0,
        s.memory_budget_mib
    );
    o += &format!("pm = {}\npm.max_children = {}\n", r.pm, r.max_children);
    if r.max_requests > 0 {
        o += &format!("pm.max_requests = {}\n", r.max_requests);
    } else {
        o += "; pm.max_requests: not needed, worker memory does not grow\n";
    }
    o += &format!(
        "listen.backlog = {}\nrequest_terminate_timeout = {}s\n",
        r.listen_backlog, r.request_terminate_timeout_s
    );
    o += &format!("; if pm = dynamic is a must: pm.start_servers = pm.min_spare_servers = pm.max_spare_servers = {} (bursts cannot wait for the spawn ramp)\n", r.max_children);
    o += "\n; timeouts, innermost first, all under the load balancer's idle timeout\n";
    o += &format!(
        "; php.ini:  max_execution_time = {}\n",
        r.max_execution_time_s
    );
    o += &format!(
        "; pool:     request_terminate_timeout = {}s\n",
        r.request_terminate_timeout_s
    );
    o += &format!(
        "; nginx:    fastcgi_read_timeout {}s;\n",
        r.fastcgi_read_timeout_s
    );
    o += &format!("; LB idle timeout: {} s\n", r.lb_idle_timeout_s);
    o
}

/// The text `fpmlab tune` prints: the inputs, the points, then the report's reasoning.
pub fn render(t: &TuneResult) -> String {
    use crate::report::tune::{headline, lines, rows, HEADERS};
    let mut o = String::new();
    if let Some(i) = &t.inputs {
        o += &format!("measured: {:.1} ms per request ({:.1} ms CPU, I/O {:.0} %, cv {:.2}); worker PSS p50 {:.1} / p95 {:.1} / max {:.1} MiB; {:.1} cores\n", i.service_mean_ms, i.cpu_per_request_ms, i.io_share * 100.0, i.service_cv, i.worker_pss_p50_mib, i.worker_pss_p95_mib, i.worker_pss_max_mib, i.cores);
    }
    let widths = [12, 11, 12, 10, 13, 14, 7, 7, 5];
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::from(" ");
        for (c, w) in cells.zip(widths) {
            l += &format!(" {c:>w$}");
        }
        l + "\n"
    };
    o += "\npoints (pm = static):\n";
    o += &line(&mut HEADERS.iter().copied());
    for r in rows(t) {
        o += &line(&mut r.iter().map(String::as_str));
    }
    o += &format!("\n{}\n", headline(t));
    for l in lines(t) {
        o += &format!("  - {l}\n");
    }
    o
}
