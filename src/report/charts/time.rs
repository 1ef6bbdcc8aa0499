//! Charts over the run's time, one per config, from the per-second timeline: latency
//! percentiles, queue wait and service time, requests per second by outcome.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{
    draw_line, label_font, log_ms_axis, ms_label, placeholder, shade_phases, svg, title_font, Area,
    PhaseSpan, TimeChart, GRID, SMALL,
};
use crate::record::timeline::Bucket;

/// What every chart over time of one config shares.
pub struct Frame<'a> {
    /// The config's name (the chart's title).
    pub title: &'a str,
    /// The config's color (the title's).
    pub color: RGBColor,
    pub phases: &'a [PhaseSpan],
    /// End of the time axis, seconds (the same for every config).
    pub x_max: f64,
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

/// Latency percentiles per second.
pub const LATENCY_LINES: [Line; 3] = [
    Line {
        label: "p50",
        color: RGBColor(158, 202, 225),
        width: 2,
        read: |b| b.latency_p50_us,
    },
    Line {
        label: "p90",
        color: RGBColor(66, 146, 198),
        width: 2,
        read: |b| b.latency_p90_us,
    },
    Line {
        label: "p99",
        color: RGBColor(8, 48, 107),
        width: 2,
        read: |b| b.latency_p99_us,
    },
];

/// Queue wait and service percentiles per second.
pub const QUEUE_SERVICE_LINES: [Line; 4] = [
    Line {
        label: "queue wait p50",
        color: RGBColor(246, 170, 160),
        width: 2,
        read: |b| b.queue_wait_p50_us,
    },
    Line {
        label: "queue wait p99",
        color: RGBColor(203, 24, 29),
        width: 2,
        read: |b| b.queue_wait_p99_us,
    },
    Line {
        label: "service p50",
        color: RGBColor(161, 217, 155),
        width: 2,
        read: |b| b.service_p50_us,
    },
    Line {
        label: "service p99",
        color: RGBColor(35, 139, 69),
        width: 2,
        read: |b| b.service_p99_us,
    },
];

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

/// Percentile lines per second on a log axis (`y` in ms, decades).
pub fn percentiles(
    frame: &Frame,
    timeline: &[Bucket],
    lines: &[Line],
    y: (f64, f64),
    empty: &str,
) -> anyhow::Result<String> {
    if extent(timeline, lines).next().is_none() {
        return placeholder(SMALL, frame.title, empty);
    }
    svg(SMALL, |root| {
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
        Ok(())
    })
}

/// An outcome class: its label, color and count in a bucket.
pub type OutcomeClass = (&'static str, RGBColor, fn(&Bucket) -> u64);

/// Outcome classes of a second, stacked from the bottom.
pub const OUTCOMES: [OutcomeClass; 5] = [
    ("2xx", RGBColor(65, 171, 93), |b| {
        b.status_2xx + b.status_1xx
    }),
    ("3xx", RGBColor(107, 174, 214), |b| b.status_3xx),
    ("4xx", RGBColor(253, 141, 60), |b| b.status_4xx),
    ("5xx", RGBColor(215, 48, 39), |b| b.status_5xx),
    ("client failure", RGBColor(117, 107, 177), |b| {
        b.client_failures
    }),
];

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

/// Requests completed per second, stacked by outcome, with the requests sent as a step line.
pub fn rps_by_outcome(frame: &Frame, timeline: &[Bucket], y_max: u64) -> anyhow::Result<String> {
    if timeline.is_empty() {
        return placeholder(SMALL, frame.title, "no request was sent");
    }
    let y_top = (y_max.max(1) as f64 * 1.12).ceil();
    svg(SMALL, |root| {
        let mut chart = linear_time_chart(root, frame, y_top, &|v| format!("{v:.0}/s"))?;
        for b in timeline {
            let x0 = b.t_s as f64 + 0.08;
            let x1 = b.t_s as f64 + 0.92;
            let mut base = 0.0;
            for (_, color, read) in OUTCOMES {
                let n = read(b) as f64;
                if n > 0.0 {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x0, base), (x1, base + n)],
                        color.filled(),
                    )))?;
                    base += n;
                }
            }
        }
        let steps = timeline.iter().flat_map(|b| {
            let y = b.sent as f64;
            [(b.t_s as f64, y), (b.t_s as f64 + 1.0, y)]
        });
        chart.draw_series(LineSeries::new(steps, SENT_COLOR.stroke_width(2)))?;
        Ok(())
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
        let frame = Frame {
            title: "static-4",
            color: RED,
            phases: &phases,
            x_max: 4.0,
        };
        let tl = vec![bucket(0, 5, 10_000), bucket(1, 0, 0), bucket(2, 7, 20_000)];
        let svg = percentiles(&frame, &tl, &LATENCY_LINES, (1.0, 100.0), "none").unwrap();
        assert!(svg.contains("<polyline") && svg.contains("bursts") && svg.contains("static-4"));
        let bars = rps_by_outcome(&frame, &tl, rps_max(&tl)).unwrap();
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
