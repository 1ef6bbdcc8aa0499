//! Charts over the run's time, one per config, from the per-second timeline: latency
//! percentiles, queue wait and service time, requests per second by outcome.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::overlay::{self, Column, Overlay};
use super::status::{self, Class};
use super::{
    draw_line, label_font, log_ms_axis, ms_label, placeholder, shade_phases, svg_with, title_font,
    Area, PhaseSpan, TimeChart, GRID,
};
use crate::record::timeline::Bucket;
use crate::units::fmt_us;

/// What every chart over time of one config shares.
pub struct Frame<'a> {
    /// The config's name (the chart's title).
    pub title: &'a str,
    /// The config's color (the title's).
    pub color: RGBColor,
    pub phases: &'a [PhaseSpan],
    /// End of the time axis, seconds (the same for every config).
    pub x_max: f64,
    /// Width and height, px: wider when the run has one config.
    pub size: (u32, u32),
    /// The config's error windows, health spans and events.
    pub overlay: &'a Overlay,
}

/// A named line: label for the legend, color, and how to read a bucket (µs; 0 = no data).
pub struct Line {
    pub label: &'static str,
    pub color: RGBColor,
    pub width: u32,
    pub read: fn(&Bucket) -> u64,
}

/// A chart over time with a linear y axis from 0 to `y_top`: the config's title, the phases
/// shaded, the grid drawn; the caller adds its series.
pub fn linear_time_chart<'a, 'b>(
    root: &'a Area<'b>,
    frame: &Frame<'_>,
    y_top: f64,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<TimeChart<'a, 'b, RangedCoordf64>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .caption(frame.title, title_font().color(&frame.color))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(62)
        .build_cartesian_2d(0f64..frame.x_max, 0f64..y_top)?;
    shade_phases(&mut chart, frame.phases, 0.0..y_top)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| format!("{v:.0} s"))
        .y_label_formatter(y_label)
        .label_style(label_font())
        .bold_line_style(GRID)
        .light_line_style(GRID.mix(0.5))
        .x_labels(8)
        .x_max_light_lines(1)
        .y_labels(6)
        .y_max_light_lines(1)
        .draw()?;
    Ok(chart)
}

/// Latency percentiles per second: three clearly different hues.
pub const LATENCY_LINES: [Line; 3] = [
    Line {
        label: "p50",
        color: RGBColor(27, 158, 119),
        width: 2,
        read: |b| b.latency_p50_us,
    },
    Line {
        label: "p90",
        color: RGBColor(217, 95, 2),
        width: 2,
        read: |b| b.latency_p90_us,
    },
    Line {
        label: "p99",
        color: RGBColor(117, 112, 179),
        width: 3,
        read: |b| b.latency_p99_us,
    },
];

/// Queue wait and service percentiles per second.
pub const QUEUE_SERVICE_LINES: [Line; 4] = [
    Line {
        label: "queue wait p50",
        color: RGBColor(230, 171, 2),
        width: 2,
        read: |b| b.queue_wait_p50_us,
    },
    Line {
        label: "queue wait p99",
        color: RGBColor(194, 24, 91),
        width: 3,
        read: |b| b.queue_wait_p99_us,
    },
    Line {
        label: "service p50",
        color: RGBColor(23, 190, 207),
        width: 2,
        read: |b| b.service_p50_us,
    },
    Line {
        label: "service p99",
        color: RGBColor(31, 63, 153),
        width: 3,
        read: |b| b.service_p99_us,
    },
];

/// The generator's own lateness per second.
pub const CLIENT_LAG_LINES: [Line; 1] = [Line {
    label: "client lag p99",
    color: RGBColor(102, 102, 102),
    width: 2,
    read: |b| b.client_lag_p99_us,
}];

/// Every non-zero value (ms) of `lines` in `timeline`: what a shared axis must cover.
pub fn extent<'a>(timeline: &'a [Bucket], lines: &[Line]) -> impl Iterator<Item = f64> + 'a {
    let reads: Vec<fn(&Bucket) -> u64> = lines.iter().map(|l| l.read).collect();
    timeline
        .iter()
        .flat_map(move |b| {
            reads
                .iter()
                .map(|r| r(b) as f64 / 1000.0)
                .collect::<Vec<_>>()
        })
        .filter(|v| *v > 0.0)
}

/// The tooltip of second `t_s`: its label, then `name value` pairs.
pub fn column(t_s: u64, parts: &[String]) -> Column {
    let text = format!("{}–{} s: {}", t_s, t_s + 1, parts.join(" · "));
    (t_s as f64, t_s as f64 + 1.0, text)
}

/// Percentile lines per second on a log axis (`y` in ms, decades).
pub fn percentiles(
    frame: &Frame,
    timeline: &[Bucket],
    lines: &[Line],
    y: (f64, f64),
    empty: &str,
) -> anyhow::Result<String> {
    if extent(timeline, lines).next().is_none() {
        return placeholder(frame.size, frame.title, empty);
    }
    svg_with(frame.size, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(frame.title, title_font().color(&frame.color))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(62)
            .build_cartesian_2d(0f64..frame.x_max, log_ms_axis(y))?;
        shade_phases(&mut chart, frame.phases, y.0..y.1)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| format!("{v:.0} s"))
            .y_label_formatter(&ms_label)
            .label_style(label_font())
            .bold_line_style(GRID)
            .light_line_style(GRID.mix(0.5))
            .x_labels(8)
            .x_max_light_lines(1)
            .draw()?;
        for line in lines {
            let style = line.color.stroke_width(line.width);
            let points = timeline.iter().map(|b| {
                let v = (line.read)(b);
                (v > 0).then(|| (b.t_s as f64 + 0.5, v as f64 / 1000.0))
            });
            draw_line(&mut chart, points, style)?;
        }
        let columns: Vec<Column> = (timeline.iter())
            .filter(|b| lines.iter().any(|l| (l.read)(b) > 0))
            .map(|b| {
                let parts: Vec<String> = (lines.iter())
                    .map(|l| match (l.read)(b) {
                        0 => format!("{} -", l.label),
                        v => format!("{} {}", l.label, fmt_us(v)),
                    })
                    .collect();
                column(b.t_s, &parts)
            })
            .collect();
        Ok(overlay::svg(&chart, y.0, frame.overlay, &columns))
    })
}

/// Color of the "sent" line drawn over the bars.
pub const SENT_COLOR: RGBColor = RGBColor(40, 40, 40);

/// The tallest second: most requests completed or sent.
pub fn rps_max(timeline: &[Bucket]) -> u64 {
    timeline
        .iter()
        .map(|b| b.completed.max(b.sent))
        .max()
        .unwrap_or(0)
}

/// Requests completed per second, stacked by outcome class (`classes`, from
/// [`status::classes`]), with the requests sent as a step line.
pub fn rps_by_outcome(
    frame: &Frame,
    timeline: &[Bucket],
    classes: &[Class],
    y_max: u64,
) -> anyhow::Result<String> {
    if timeline.is_empty() {
        return placeholder(frame.size, frame.title, "no request was sent");
    }
    let y_top = (y_max.max(1) as f64 * 1.12).ceil();
    svg_with(frame.size, |root| {
        let mut chart = linear_time_chart(root, frame, y_top, &|v| format!("{v:.0}/s"))?;
        let mut columns = Vec::new();
        for b in timeline {
            let x0 = b.t_s as f64 + 0.08;
            let x1 = b.t_s as f64 + 0.92;
            let mut base = 0.0;
            let mut parts = vec![format!("sent {}", b.sent)];
            for class in classes {
                let n = status::count(b, &class.key);
                if n > 0 {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x0, base), (x1, base + n as f64)],
                        class.color.filled(),
                    )))?;
                    base += n as f64;
                    parts.push(format!("{} {n}", class.label));
                }
            }
            columns.push(column(b.t_s, &parts));
        }
        let steps = timeline.iter().flat_map(|b| {
            let y = b.sent as f64;
            [(b.t_s as f64, y), (b.t_s as f64 + 1.0, y)]
        });
        chart.draw_series(LineSeries::new(steps, SENT_COLOR.stroke_width(2)))?;
        Ok(overlay::svg(&chart, 0.0, frame.overlay, &columns))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(t_s: u64, ok: u64, p50: u64) -> Bucket {
        Bucket {
            t_s,
            sent: ok,
            completed: ok,
            status_2xx: ok,
            latency_p50_us: p50,
            latency_p90_us: p50 * 2,
            latency_p99_us: p50 * 3,
            ..Bucket::default()
        }
    }

    #[test]
    fn draws_lines_bars_and_phases() {
        let phases = vec![PhaseSpan {
            name: "bursts".into(),
            start_s: 0.0,
            end_s: 3.0,
        }];
        let overlay = Overlay {
            spans: vec![overlay::Span {
                class: "error",
                from_s: 1.0,
                to_s: 2.0,
                label: "errors".into(),
            }],
            markers: vec![overlay::Marker {
                t_s: 1.5,
                label: "oom_kill".into(),
                detail: "killed".into(),
            }],
        };
        let frame = Frame {
            title: "static-4",
            color: RED,
            phases: &phases,
            x_max: 4.0,
            size: super::super::SMALL,
            overlay: &overlay,
        };
        let tl = vec![bucket(0, 5, 10_000), bucket(1, 0, 0), bucket(2, 7, 20_000)];
        let svg = percentiles(&frame, &tl, &LATENCY_LINES, (1.0, 100.0), "none").unwrap();
        assert!(svg.contains("<polyline") && svg.contains("bursts") && svg.contains("static-4"));
        assert!(
            svg.contains("span-error") && svg.contains("oom_kill"),
            "{svg}"
        );
        assert!(svg.contains("<title>0–1 s: p50 10"), "{svg}");
        let classes = status::classes(std::iter::once(&tl[..]));
        let bars = rps_by_outcome(&frame, &tl, &classes, rps_max(&tl)).unwrap();
        assert!(bars.matches("<rect").count() >= 3, "{bars}");
        let none = percentiles(
            &frame,
            &tl,
            &QUEUE_SERVICE_LINES,
            (1.0, 100.0),
            "no timings",
        )
        .unwrap();
        assert!(none.contains("no timings"));
    }
}
