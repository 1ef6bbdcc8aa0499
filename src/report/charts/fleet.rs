//! The fleet's charts over time, one per config: a lane per instance with its health state
//! as the balancer saw it (shaded spans) beside what its php-fpm was doing (busy workers
//! against `max_children`, requests waiting for a worker), and the requests each instance
//! got per second. The fleet's events are markers on both, as on every chart over time.

use std::fmt::Write;

use plotters::prelude::*;

use super::overlay::{self, Column};
use super::time::{linear_time_chart, Frame};
use super::{config_color, draw_line, placeholder, svg_with};
use crate::fleet_view::{FleetView, InstanceSecond, InstanceView, SampledSecond};

pub const BUSY_COLOR: RGBColor = RGBColor(253, 141, 60);
pub const WAITING_COLOR: RGBColor = RGBColor(203, 24, 29);
pub const LIMIT_COLOR: RGBColor = RGBColor(120, 120, 120);
/// Busy workers as the instance's own status page said (sampled, not from the log).
pub const SAMPLED_BUSY_COLOR: RGBColor = RGBColor(117, 107, 177);

/// The fill of a health state class (see `fleet_view::HealthSpan::state`).
pub fn state_color(state: &str) -> &'static str {
    match state {
        "in_rotation" => "#2ca25f",
        "out" => "#d7301f",
        "draining" => "#f2a900",
        _ => "#9e9e9e",
    }
}

/// Share of a lane's height the busy and waiting lines may use (the rest keeps lanes
/// apart).
const LANE_USE: f64 = 0.8;

/// Busy workers and waiting requests of an instance on its lane share one scale: from 0 to
/// the larger of `max_children` and the deepest wait, so the line at `max_children` marks a
/// full pool.
fn lane_scale(i: &InstanceView) -> f64 {
    let (busy, waiting) = (i.peak_busy_workers(), i.peak_waiting());
    let sampled = sampled_seconds(i).filter_map(|s| s.fpm_active_max).max();
    let busy = busy.max(sampled.map_or(0, u64::from));
    (i.max_children.map_or(busy, u64::from).max(waiting).max(1)) as f64
}

/// The instance's own samples, second by second (none for a run without them).
fn sampled_seconds(i: &InstanceView) -> impl Iterator<Item = &SampledSecond> {
    i.sampled.iter().flat_map(|s| &s.seconds)
}

/// Health vs capacity: one lane per instance (the first on top).
pub fn lanes(frame: &Frame, f: &FleetView) -> anyhow::Result<String> {
    if f.instances.is_empty() {
        return placeholder(frame.size, frame.title, "no instance in the fleet view");
    }
    let n = f.instances.len();
    let size = (frame.size.0, frame.size.1.max(60 * n as u32 + 80));
    svg_with(size, |root| {
        let mut chart = linear_time_chart(root, frame, n as f64, &|_| String::new())?;
        let lane_y = |k: usize, v: u64, scale: f64| {
            (n - 1 - k) as f64 + 0.05 + LANE_USE * (v as f64 / scale).min(1.0)
        };
        for (k, i) in f.instances.iter().enumerate() {
            let scale = lane_scale(i);
            if let Some(m) = i.max_children {
                let yl = lane_y(k, u64::from(m), scale);
                chart.draw_series(DashedLineSeries::new(
                    [(0.0, yl), (frame.x_max, yl)],
                    5,
                    4,
                    LIMIT_COLOR.stroke_width(1),
                ))?;
            }
            let line = |read: fn(&InstanceSecond) -> u64| {
                (i.seconds.iter())
                    .map(move |s| Some((s.t_s as f64 + 0.5, lane_y(k, read(s), scale))))
            };
            draw_line(
                &mut chart,
                line(|s| s.busy_workers_max),
                BUSY_COLOR.stroke_width(2),
            )?;
            draw_line(
                &mut chart,
                line(|s| s.waiting_max),
                WAITING_COLOR.stroke_width(2),
            )?;
            // A second without a status page is a gap, not a zero.
            let sampled = sampled_seconds(i).map(|s| {
                let y = s.fpm_active_max.map(|v| lane_y(k, u64::from(v), scale));
                y.map(|y| (s.t_s as f64 + 0.5, y))
            });
            draw_line(&mut chart, sampled, SAMPLED_BUSY_COLOR.stroke_width(1))?;
        }
        let (xs, _) = chart.plotting_area().get_pixel_range();
        let px = |x: f64, y: f64| {
            let (a, b) = chart.backend_coord(&(x.clamp(0.0, frame.x_max), y));
            (a.clamp(xs.start, xs.end), b)
        };
        let (mut extra, mut texts) = (String::new(), String::new());
        for (k, i) in f.instances.iter().enumerate() {
            let base = (n - 1 - k) as f64;
            for s in &i.health_spans {
                let (a, top) = px(s.from_ms as f64 / 1e3, base + 1.0);
                let (b, bottom) = px(s.to_ms as f64 / 1e3, base);
                let what = format!(
                    "{} {} {:.1}–{:.1} s ({})",
                    i.name,
                    s.state.replace('_', " "),
                    s.from_ms as f64 / 1e3,
                    s.to_ms as f64 / 1e3,
                    s.status
                );
                let _ = write!(
                    extra,
                    "<rect class=\"fleet-health fleet-{}\" x=\"{a}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"0.18\" pointer-events=\"none\"><title>{}</title></rect>",
                    s.state,
                    (b - a).max(1),
                    bottom - top,
                    state_color(&s.state),
                    esc(&what)
                );
            }
            let (lx, ly) = px(0.0, base + 1.0);
            let limit = i.max_children.map_or("?".into(), |m| m.to_string());
            let _ = write!(
                texts,
                "<text x=\"{}\" y=\"{}\" font-size=\"12\" font-family=\"sans-serif\" font-weight=\"bold\" fill=\"#333\">{} <tspan font-weight=\"normal\" fill=\"#666\">max_children {limit}, scale 0–{:.0}</tspan></text>",
                lx + 4,
                ly + 13,
                esc(&i.name),
                lane_scale(i)
            );
            for s in &i.seconds {
                let (a, top) = px(s.t_s as f64, base + 1.0);
                let (b, bottom) = px(s.t_s as f64 + 1.0, base);
                if b <= a {
                    continue;
                }
                let _ = write!(
                    texts,
                    "<rect class=\"hover\" x=\"{a}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"transparent\"><title>{}</title></rect>",
                    b - a,
                    bottom - top,
                    esc(&second_text(i, s, &limit))
                );
            }
        }
        // Spans under the lines' hover targets, markers from the shared overlay on top.
        let marks = overlay::svg(&chart, 0.0, frame.overlay, &[]);
        Ok(format!(
            "<g class=\"fleet-lanes\">{extra}</g>{marks}{texts}"
        ))
    })
}

/// The tooltip of one second of one instance's lane.
fn second_text(i: &InstanceView, s: &InstanceSecond, limit: &str) -> String {
    let p99 = s
        .latency_p99_ms
        .map_or("-".into(), |v| format!("{v:.0} ms"));
    let state = if s.state.is_empty() {
        "not reported"
    } else {
        &s.state
    };
    let own = (i.sampled.as_ref().and_then(|o| o.second(s.t_s))).map_or(String::new(), |o| {
        format!(" · its status page: {}", sampled_text(o))
    });
    format!(
        "{} {} s: {state} · {} requests, {} failed · busy {}/{limit} · waiting {} · outstanding {} · p99 {p99}{own}",
        i.name, s.t_s, s.requests, s.failed, s.busy_workers_max, s.waiting_max, s.in_flight_max
    )
}

/// One second of an instance's own samples in words.
pub fn sampled_text(o: &SampledSecond) -> String {
    let opt = |v: Option<u32>| v.map_or("-".into(), |v| v.to_string());
    let mut out = format!(
        "busy {}, listen queue {}, CPU {}, memory {}",
        opt(o.fpm_active_max),
        opt(o.listen_queue_max),
        o.cpu_pct_max.map_or("-".into(), |v| format!("{v:.0} %")),
        o.memory_mib_max
            .map_or("-".into(), |v| format!("{v:.0} MiB")),
    );
    if o.status_unanswered > 0 {
        let _ = write!(out, ", {} unanswered", o.status_unanswered);
    }
    if o.master_alive == Some(false) {
        out.push_str(", php-fpm master dead");
    }
    out
}

/// What a line of [`sampled`] draws: the reading of a second (`None` is a gap), the
/// instance's limit for it (a dashed line), and the axis' unit.
pub struct Reading {
    pub read: fn(&SampledSecond) -> Option<f64>,
    pub limit: fn(&InstanceView) -> Option<f64>,
    pub unit: &'static str,
}

/// One of an instance's own readings over time, a line per instance, each with its limit.
pub fn sampled(frame: &Frame, f: &FleetView, r: &Reading) -> anyhow::Result<String> {
    let (read, unit) = (r.read, r.unit);
    let top = (f.instances.iter())
        .flat_map(sampled_seconds)
        .filter_map(read)
        .fold(0.0_f64, f64::max);
    if top <= 0.0 {
        return placeholder(frame.size, frame.title, "no instance was sampled");
    }
    let limits: Vec<Option<f64>> = f.instances.iter().map(r.limit).collect();
    let top = (limits.iter().flatten()).fold(top, |t, l| t.max(*l));
    svg_with(frame.size, |root| {
        let fmt = move |v: &f64| format!("{v:.0} {unit}");
        let mut chart = linear_time_chart(root, frame, top * 1.12, &fmt)?;
        for (k, limit) in limits.iter().enumerate() {
            if let Some(l) = limit {
                let style = instance_color(k).stroke_width(1);
                let line = [(0.0, *l), (frame.x_max, *l)];
                chart.draw_series(DashedLineSeries::new(line, 5, 4, style))?;
            }
        }
        for (k, i) in f.instances.iter().enumerate() {
            let points = sampled_seconds(i).map(|s| read(s).map(|v| (s.t_s as f64 + 0.5, v)));
            draw_line(&mut chart, points, instance_color(k).stroke_width(2))?;
        }
        let seconds = (f.instances.iter())
            .flat_map(sampled_seconds)
            .map(|s| s.t_s + 1)
            .max()
            .unwrap_or(0);
        let columns = second_columns(f, seconds, |i, t| {
            let o = i.sampled.as_ref()?.second(t)?;
            Some(format!("{}: {}", i.name, sampled_text(o)))
        });
        Ok(overlay::svg(&chart, 0.0, frame.overlay, &columns))
    })
}

/// Requests per second of each instance (by when they ended), one line each.
pub fn requests(frame: &Frame, f: &FleetView, y_max: u64) -> anyhow::Result<String> {
    if f.instances.iter().all(|i| i.seconds.is_empty()) {
        return placeholder(frame.size, frame.title, "no request reached an instance");
    }
    let y_top = (y_max.max(1) as f64 * 1.12).ceil();
    svg_with(frame.size, |root| {
        let mut chart = linear_time_chart(root, frame, y_top, &|v| format!("{v:.0}/s"))?;
        for (k, i) in f.instances.iter().enumerate() {
            let style = instance_color(k).stroke_width(2);
            let points = i
                .seconds
                .iter()
                .map(|s| Some((s.t_s as f64 + 0.5, s.requests as f64)));
            draw_line(&mut chart, points, style)?;
        }
        let seconds = f
            .instances
            .iter()
            .map(|i| i.seconds.len())
            .max()
            .unwrap_or(0);
        let columns = second_columns(f, seconds as u64, |i, t| {
            let s = i.seconds.get(t as usize);
            let (r, x) = s.map_or((0, 0), |s| (s.requests, s.failed));
            Some(format!("{} {r} ({x} failed)", i.name))
        });
        Ok(overlay::svg(&chart, 0.0, frame.overlay, &columns))
    })
}

/// One hover column per second `0..seconds`: each instance's words for it (`part`; `None`
/// leaves the instance out of that second), joined.
fn second_columns(
    f: &FleetView,
    seconds: u64,
    part: impl Fn(&InstanceView, u64) -> Option<String>,
) -> Vec<Column> {
    (0..seconds)
        .map(|t| {
            let parts: Vec<String> = f.instances.iter().filter_map(|i| part(i, t)).collect();
            let text = format!("{t} s: {}", parts.join(" · "));
            (t as f64, t as f64 + 1.0, text)
        })
        .collect()
}

/// The color of instance number `k` (the configs' palette, which has no red or green).
pub fn instance_color(k: usize) -> RGBColor {
    config_color(k)
}

/// The most requests any instance got in a second, over every config's fleet.
pub fn requests_max<'a>(fleets: impl Iterator<Item = &'a FleetView>) -> u64 {
    fleets
        .flat_map(|f| &f.instances)
        .flat_map(|i| i.seconds.iter().map(|s| s.requests))
        .max()
        .unwrap_or(0)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet_view::HealthSpan;
    use crate::report::charts::overlay::Overlay;

    #[test]
    fn lanes_draw_spans_lines_and_hover_per_second() {
        let second = |t_s, busy, waiting| InstanceSecond {
            t_s,
            requests: 3,
            busy_workers_max: busy,
            waiting_max: waiting,
            state: "UP".into(),
            ..InstanceSecond::default()
        };
        let inst = |name: &str| InstanceView {
            name: name.into(),
            max_children: Some(2),
            health_spans: vec![
                HealthSpan {
                    from_ms: 0,
                    to_ms: 1500,
                    state: "in_rotation".into(),
                    status: "UP".into(),
                },
                HealthSpan {
                    from_ms: 1500,
                    to_ms: 3000,
                    state: "out".into(),
                    status: "DOWN".into(),
                },
            ],
            seconds: vec![second(0, 1, 0), second(1, 2, 5), second(2, 0, 0)],
            ..InstanceView::default()
        };
        let f = FleetView {
            instances: vec![inst("i1"), inst("i2")],
            ..FleetView::default()
        };
        let frame = Frame {
            title: "s2",
            color: config_color(0),
            phases: &[],
            x_max: 3.0,
            size: (620, 280),
            overlay: &Overlay::default(),
        };
        let svg = lanes(&frame, &f).unwrap();
        assert_eq!(svg.matches("class=\"fleet-health").count(), 4);
        assert_eq!(svg.matches("class=\"hover\"").count(), 6);
        assert!(svg.contains("i2 1 s: UP · 3 requests, 0 failed · busy 2/2 · waiting 5"));
        let rps = requests(&frame, &f, 3).unwrap();
        assert!(
            rps.contains("1 s: i1 3 (0 failed) · i2 3 (0 failed)"),
            "{rps}"
        );
    }
}
