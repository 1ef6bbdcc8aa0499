//! The page's fleet section (configs with `[fleet]`): per config the per-instance table the
//! terminal shows, the ALB-code/cause breakdown with the balancer's own line per cause, and
//! the events; then over time each instance's health state as the balancer saw it beside
//! what its php-fpm was doing, and the requests per instance per second. The fleet's
//! events also become markers on every chart over time ([`markers`]).

use std::fmt::Write;

use super::esc;
use super::layout::{grid, html_table, legend};
use crate::report::charts::fleet::{
    self as charts, BUSY_COLOR, LIMIT_COLOR, SAMPLED_BUSY_COLOR, WAITING_COLOR,
};
use crate::report::charts::overlay::{Marker, Overlay, EVENT_STROKE};
use crate::report::charts::time::Frame;
use crate::report::charts::{config_color, css, PhaseSpan};
use crate::report::fleet as rows;
use crate::results::{ConfigResult, RunResult};

/// CPU against the container's quota (docker), in percent of one core.
const CPU: charts::Reading = charts::Reading {
    read: |s| s.cpu_pct_max,
    limit: |i| Some(i.container.as_ref()?.cpu_quota_cores? * 100.0),
    unit: "%",
};

/// Memory against the container's limit (docker).
const MEMORY: charts::Reading = charts::Reading {
    read: |s| s.memory_mib_max,
    limit: |i| i.container.as_ref()?.memory_limit_mib,
    unit: "MiB",
};

/// The nav link, when a config ran a fleet.
pub fn nav(run: &RunResult) -> &'static str {
    if run.configs.iter().any(|c| c.fleet.is_some()) {
        "<a href=\"#fleet\">Fleet</a>"
    } else {
        ""
    }
}

/// Adds the fleet's events (kill, add, cold end, drain, remove, throttle) to a config's
/// markers.
pub fn markers(c: &ConfigResult, out: &mut Overlay) {
    for e in c.fleet.iter().flat_map(|f| &f.events) {
        let what = e
            .error
            .as_ref()
            .map_or(e.detail.clone(), |err| format!("FAILED: {err}"));
        out.markers.push(Marker {
            t_s: e.t_ms as f64 / 1e3,
            label: format!("{} {}", e.action, e.instance),
            detail: format!(
                "{:.1} s {} {}: {what}",
                e.t_ms as f64 / 1e3,
                e.action,
                e.instance
            ),
        });
    }
}

/// The cut-by line of a fleet config, whose failures are attributed from the balancer's
/// log rather than the stack's.
pub fn cut_by_note() -> String {
    "<p class=\"note\">cut by: attributed from the balancer's log, see <a href=\"#fleet\">Fleet</a>.</p>".into()
}

/// The section; empty when no config ran a fleet.
pub fn section(
    run: &RunResult,
    phases: &[PhaseSpan],
    x_max: f64,
    size: (u32, u32),
    overlays: &[Overlay],
) -> anyhow::Result<String> {
    let fleets: Vec<(usize, &ConfigResult)> = (run.configs.iter().enumerate())
        .filter(|(_, c)| c.fleet.is_some())
        .collect();
    if fleets.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::from(
        "<section id=\"fleet\"><h2>Fleet</h2><p class=\"about\">Per config, each instance as the \
         load balancer (HAProxy configured as an ALB) saw it: the requests it was sent, their \
         codes as an ALB would have answered, the balancer's latency, php-fpm's queue wait, and \
         when the balancer first took it out of rotation. Then why requests failed, in the \
         ALB's codes, with the balancer's own log line for the first request of each cause, \
         and the events as they were carried out.</p>",
    );
    for (_, c) in &fleets {
        let f = c.fleet.as_ref().expect("filtered");
        let _ = write!(out, "<h3>{}</h3>", esc(&c.name));
        out.push_str(&html_table(&rows::HEADERS, 2, &rows::rows(f)).replacen(
            "<table>",
            "<table class=\"fleet-instances\">",
            1,
        ));
        let _ = write!(
            out,
            "<p class=\"note\">as an ALB would answer: {}</p>",
            esc(&rows::join(&f.alb_codes))
        );
        if !f.causes.is_empty() {
            out.push_str(
                &html_table(&rows::CAUSE_HEADERS, 5, &rows::cause_rows(f)).replacen(
                    "<table>",
                    "<table class=\"fleet-causes\">",
                    1,
                ),
            );
        }
        if f.failed_not_in_balancer_log > 0 {
            let _ = write!(out, "<p class=\"note\">{} requests failed at the client without a line in the balancer's log (most often the keep-alive race at the balancer's idle timeout).</p>", f.failed_not_in_balancer_log);
        }
        if !f.events.is_empty() {
            out.push_str(
                &html_table(
                    &["at", "event", "instance", "what was done"],
                    4,
                    &rows::event_rows(f),
                )
                .replacen("<table>", "<table class=\"fleet-events\">", 1),
            );
        }
        for i in f.instances.iter().filter(|i| !i.not_enforced.is_empty()) {
            let _ = write!(
                out,
                "<p class=\"note\">{}: not enforced by the native driver: {}</p>",
                esc(&i.name),
                esc(&i.not_enforced.join("; "))
            );
        }
    }
    out.push_str("</section>");
    let mut lanes = Vec::new();
    let mut reqs = Vec::new();
    let (mut cpu, mut memory) = (Vec::new(), Vec::new());
    let y_max = charts::requests_max(fleets.iter().filter_map(|(_, c)| c.fleet.as_ref()));
    for (k, c) in &fleets {
        let f = c.fleet.as_ref().expect("filtered");
        let frame = Frame {
            title: &c.name,
            color: config_color(*k),
            phases,
            x_max,
            size,
            overlay: &overlays[*k],
        };
        lanes.push(charts::lanes(&frame, f)?);
        reqs.push(charts::requests(&frame, f, y_max)?);
        cpu.push(charts::sampled(&frame, f, &CPU)?);
        memory.push(charts::sampled(&frame, f, &MEMORY)?);
    }
    let mut items: Vec<(String, String, bool)> = ["in_rotation", "out", "draining", "deregistered"]
        .iter()
        .map(|s| {
            (
                format!("health: {}", s.replace('_', " ")),
                format!("{}55", charts::state_color(s)),
                false,
            )
        })
        .collect();
    items.extend([
        ("busy workers".into(), css(BUSY_COLOR), true),
        ("waiting for a worker".into(), css(WAITING_COLOR), true),
        (
            "busy workers (its own status page)".into(),
            css(SAMPLED_BUSY_COLOR),
            true,
        ),
        ("max_children".into(), css(LIMIT_COLOR), true),
        ("event (hover for what)".into(), EVENT_STROKE.into(), true),
    ]);
    out.push_str(&grid("fleet-health", "Fleet: health as the balancer saw it vs what php-fpm could do", "One lane per instance. Shaded: its state in the balancer (<code>show stat</code>): in rotation, out (health checks failed), draining, deregistered (not added yet, or removed). Lines, per second, on the lane's own scale: the most php-fpm scripts running at once against <code>max_children</code> (dashed), and the most requests sent to it that no worker had picked up. Both come from the <code>X-Fpm-*</code> times in the balancer's log; a request the balancer cut before an answer counts as waiting, its worker is not seen. The thin line is the same busy count as the instance's own php-fpm status page said it, sampled twice a second from the instance directly (not through the balancer): it sees the workers of cut requests too, and has a gap where the instance could not answer. An instance in rotation whose pool is full and whose queue grows is the fleet-level lying health check. Hover a second for its figures.", &legend(&items), &lanes));
    // The plan's instances are the same in every config: the largest fleet names them all.
    let widest =
        (fleets.iter().filter_map(|(_, c)| c.fleet.as_ref())).max_by_key(|f| f.instances.len());
    let inst_items: Vec<(String, String, bool)> = (widest.iter().flat_map(|f| &f.instances))
        .enumerate()
        .map(|(k, i)| (i.name.clone(), css(charts::instance_color(k)), true))
        .collect();
    out.push_str(&grid("fleet-requests", "Fleet: requests per instance per second", "Requests each instance got from the balancer, by the second they ended, one line per instance; hover for the failed ones. Dashed markers are the fleet's events.", &legend(&inst_items), &reqs));
    let sampled_about = "sampled twice a second from each instance directly (its php-fpm container's cgroup with the docker driver; the sum over its php-fpm workers from /proc natively), the highest reading in each second; hover for every reading of a second. A line stops where the instance could not be read (killed, or not started yet).";
    out.push_str(&grid(
        "fleet-cpu",
        "Fleet: CPU of each instance",
        &format!("CPU of each instance's php-fpm, percent of one core, against its container's CPU quota (dashed, docker), {sampled_about}"),
        &legend(&inst_items),
        &cpu,
    ));
    out.push_str(&grid("fleet-memory", "Fleet: memory of each instance", &format!("Memory of each instance's php-fpm, MiB: what its container is charged against its limit (dashed, docker) or its workers' PSS (native), {sampled_about}"), &legend(&inst_items), &memory));
    Ok(out)
}
