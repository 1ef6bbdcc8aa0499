//! The tune's chart: p99 latency and queue wait against `pm.max_children`, the measured
//! points over the model's curve, with the objective line and the memory ceiling, so the
//! model's error and the knee read at a glance.

use plotters::prelude::*;

use super::{css, decades, log_ms_axis, ms_label, placeholder, svg_with, GRID, TEXT, WIDE};
use crate::results::tune::TuneResult;

pub const LATENCY_COLOR: RGBColor = RGBColor(59, 91, 146);
pub const QUEUE_COLOR: RGBColor = RGBColor(42, 157, 143);
pub const OBJECTIVE_COLOR: RGBColor = RGBColor(200, 40, 40);
pub const CEILING_COLOR: RGBColor = RGBColor(141, 110, 99);

fn font() -> TextStyle<'static> {
    ("sans-serif", 15).into_font().color(&TEXT)
}

/// The chart, or a placeholder when the tune has neither points nor a curve.
pub fn chart(t: &TuneResult) -> anyhow::Result<String> {
    let title = "p99 latency and queue wait against max_children";
    // Points stopped early measured only part of their run: drawn hollow.
    let points: Vec<(u32, f64, f64, bool)> = (t.points.iter())
        .filter(|p| p.role != "headroom")
        .map(|p| {
            let m = &p.measured;
            (
                p.max_children,
                m.latency_p99_ms,
                m.queue_wait_p99_ms,
                p.stopped_early.is_none(),
            )
        })
        .collect();
    if points.is_empty() && t.curve.is_empty() {
        return placeholder(WIDE, title, "the tune measured nothing");
    }
    let objective = t.settings.p99_ms;
    let values = (points.iter().flat_map(|p| [p.1, p.2]))
        .chain(
            t.curve
                .iter()
                .flat_map(|c| [c.latency_p99_ms, c.queue_wait_p99_ms]),
        )
        .chain([objective]);
    let y = decades(values);
    // Zero queue wait has no place on a log axis: drawn on its floor.
    let floor = |v: f64| v.max(y.0);
    let x_top = (t.curve.iter().map(|c| c.max_children))
        .chain(points.iter().map(|p| p.0))
        .max()
        .unwrap_or(1);
    let x_range = 0.5..(f64::from(x_top) + 0.5);
    let ceiling = t.memory_ceiling.filter(|&c| c <= x_top);
    let rec = t.recommendation.as_ref().map(|r| r.max_children);
    svg_with(WIDE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20).into_font().color(&TEXT))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(66)
            .build_cartesian_2d(x_range.clone(), log_ms_axis(y))?;
        chart
            .configure_mesh()
            .x_labels(x_top.min(32) as usize)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&ms_label)
            .x_desc("pm.max_children (pm = static)")
            .label_style(font())
            .axis_desc_style(font())
            .bold_line_style(GRID)
            .light_line_style(GRID.mix(0.5))
            .draw()?;
        let (lo, hi) = (y.0, y.1);
        if let Some(c) = ceiling {
            let x = f64::from(c) + 0.5;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    CEILING_COLOR.stroke_width(2),
                )))?
                .label(format!("memory ceiling: {c} workers"))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], CEILING_COLOR.stroke_width(2))
                });
        }
        chart
            .draw_series(DashedLineSeries::new(
                [(x_range.start, objective), (x_range.end, objective)],
                10,
                6,
                OBJECTIVE_COLOR.stroke_width(2),
            ))?
            .label(format!("objective: p99 ≤ {}", ms_label(&objective)))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], OBJECTIVE_COLOR.stroke_width(2))
            });
        let curve = |f: fn(&crate::results::tune::CurvePoint) -> f64| {
            t.curve
                .iter()
                .map(move |c| (f64::from(c.max_children), floor(f(c))))
        };
        chart
            .draw_series(LineSeries::new(
                curve(|c| c.latency_p99_ms),
                LATENCY_COLOR.stroke_width(2),
            ))?
            .label("model: p99 latency")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], LATENCY_COLOR.stroke_width(2))
            });
        chart
            .draw_series(DashedLineSeries::new(
                curve(|c| c.queue_wait_p99_ms),
                6,
                4,
                QUEUE_COLOR.stroke_width(2),
            ))?
            .label("model: p99 queue wait")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 8, y)], QUEUE_COLOR.stroke_width(2))
            });
        let dot = |color: RGBColor, full: bool| {
            if full {
                color.filled()
            } else {
                color.stroke_width(2)
            }
        };
        chart
            .draw_series(
                points
                    .iter()
                    .map(|p| Circle::new((f64::from(p.0), floor(p.1)), 6, dot(LATENCY_COLOR, p.3))),
            )?
            .label("measured: p99 latency")
            .legend(|(x, y)| Circle::new((x + 8, y), 5, LATENCY_COLOR.filled()));
        chart
            .draw_series(points.iter().map(|p| {
                TriangleMarker::new((f64::from(p.0), floor(p.2)), 7, dot(QUEUE_COLOR, p.3))
            }))?
            .label("measured: p99 queue wait")
            .legend(|(x, y)| TriangleMarker::new((x + 8, y), 6, QUEUE_COLOR.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(font())
            .draw()?;
        // The recommendation ringed, and every point's figures on hover.
        let mut marks = String::from("<g class=\"overlay\">");
        if let Some(r) = rec {
            let at = points.iter().filter(|p| p.0 == r).map(|p| p.1).next_back();
            if let Some(v) = at {
                let (px, py) = chart.backend_coord(&(f64::from(r), floor(v)));
                marks += &format!("<circle cx=\"{px}\" cy=\"{py}\" r=\"11\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"><title>recommended: {r}</title></circle>", css(OBJECTIVE_COLOR));
            }
        }
        for p in t.points.iter().filter(|p| p.role != "headroom") {
            let (px, py) =
                chart.backend_coord(&(f64::from(p.max_children), floor(p.measured.latency_p99_ms)));
            let model = p
                .predicted
                .as_ref()
                .map_or("-".into(), |m| ms_label(&m.latency_p99_ms));
            let error = p
                .p99_error_pct
                .map_or(String::new(), |e| format!(", error {e:+.0} %"));
            let stopped = if p.stopped_early.is_some() {
                ", stopped early"
            } else {
                ""
            };
            marks += &format!(
                "<circle class=\"hover\" cx=\"{px}\" cy=\"{py}\" r=\"8\" fill=\"transparent\"><title>max_children {} ({}): p99 {} (model {model}{error}), queue wait p99 {}{stopped}</title></circle>",
                p.max_children,
                p.role,
                ms_label(&p.measured.latency_p99_ms),
                ms_label(&p.measured.queue_wait_p99_ms)
            );
        }
        marks.push_str("</g>");
        Ok(marks)
    })
}
