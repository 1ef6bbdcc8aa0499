//! Charts of the server-side samples, one per config: php-fpm's listen queue, its active
//! and total workers against `pm.max_children`, and the workers' CPU and memory.

use plotters::prelude::*;

use super::overlay::{self, Column};
use super::time::{linear_time_chart, Frame};
use super::{placeholder, segments, svg_with};
use crate::probe::Sample;

pub const ACCEPT_QUEUE_COLOR: RGBColor = RGBColor(203, 24, 29);
pub const FPM_QUEUE_COLOR: RGBColor = RGBColor(253, 141, 60);
pub const ACTIVE_COLOR: RGBColor = RGBColor(253, 141, 60);
pub const TOTAL_COLOR: RGBColor = RGBColor(33, 113, 181);
pub const LIMIT_COLOR: RGBColor = RGBColor(120, 120, 120);
pub const CPU_COLOR: RGBColor = RGBColor(31, 120, 180);
pub const CPU_MAX_COLOR: RGBColor = RGBColor(230, 85, 13);
pub const MEMORY_COLOR: RGBColor = RGBColor(106, 61, 154);
pub const MEMORY_MAX_COLOR: RGBColor = RGBColor(51, 160, 44);

/// One hover column per sample, to the next sample (250 ms).
fn columns(samples: &[Sample], text: impl Fn(&Sample) -> Option<String>) -> Vec<Column> {
    (samples.iter().enumerate())
        .filter_map(|(i, s)| {
            let to = samples.get(i + 1).map_or(x(s) + 0.25, x);
            text(s).map(|t| (x(s), to, format!("{:.2} s: {t}", x(s))))
        })
        .collect()
}

/// The pool's CPU in a sample: the sum over workers (percent of one core) and the busiest
/// worker's; `None` before any worker has a CPU reading.
pub fn worker_cpu(s: &Sample) -> Option<(f64, f64)> {
    let v: Vec<f64> = s.workers.iter().filter_map(|w| w.cpu_pct).collect();
    (!v.is_empty()).then(|| (v.iter().sum(), v.iter().copied().fold(0.0, f64::max)))
}

/// The pool's memory in a sample, MiB: the workers' PSS summed, and the largest worker's.
pub fn worker_mib(s: &Sample) -> Option<(f64, f64)> {
    let v: Vec<f64> = (s.workers.iter())
        .filter_map(|w| w.pss_kib)
        .map(|k| k as f64 / 1024.0)
        .collect();
    (!v.is_empty()).then(|| (v.iter().sum(), v.iter().copied().fold(0.0, f64::max)))
}

/// A (sum, max) pair over time as two lines: the sum filled, the max as a line. Used by
/// the workers' CPU (% of one core) and memory (MiB) charts; `y_max` is shared by configs.
#[allow(clippy::too_many_arguments)]
pub fn sum_and_max(
    frame: &Frame,
    samples: &[Sample],
    read: fn(&Sample) -> Option<(f64, f64)>,
    y_max: f64,
    unit: &'static str,
    colors: (RGBColor, RGBColor),
    names: (&'static str, &'static str),
    empty: &str,
) -> anyhow::Result<String> {
    if samples.iter().all(|s| read(s).is_none()) {
        return placeholder(frame.size, frame.title, empty);
    }
    let y_top = (y_max.max(1.0) * 1.15).ceil();
    svg_with(frame.size, |root| {
        let mut chart = linear_time_chart(root, frame, y_top, &|v| format!("{v:.0}{unit}"))?;
        let sum = samples.iter().map(|s| read(s).map(|(v, _)| (x(s), v)));
        for seg in segments(sum) {
            chart.draw_series(
                AreaSeries::new(seg, 0.0, colors.0.mix(0.2)).border_style(colors.0.stroke_width(2)),
            )?;
        }
        let max = samples.iter().map(|s| read(s).map(|(_, v)| (x(s), v)));
        for seg in segments(max) {
            chart.draw_series(LineSeries::new(seg, colors.1.stroke_width(2)))?;
        }
        let cols = columns(samples, |s| {
            read(s).map(|(a, b)| format!("{} {a:.1}{unit} · {} {b:.1}{unit}", names.0, names.1))
        });
        Ok(overlay::svg(&chart, 0.0, frame.overlay, &cols))
    })
}

fn x(s: &Sample) -> f64 {
    s.t_ms as f64 / 1000.0
}

/// Kernel accept queue of a sample (the finer source), if read.
pub fn accept_queue(s: &Sample) -> Option<u32> {
    s.accept_queue.as_ref().map(|q| q.queued)
}

/// php-fpm's own `listen queue` (1 s refresh, TCP only), if the status page was read.
pub fn fpm_queue(s: &Sample) -> Option<u32> {
    s.fpm.as_ref().map(|f| f.listen_queue)
}

/// Deepest queue any source shows.
pub fn queue_max(samples: &[Sample]) -> u32 {
    samples
        .iter()
        .flat_map(|s| [accept_queue(s), fpm_queue(s)])
        .flatten()
        .max()
        .unwrap_or(0)
}

/// Most workers alive, or `max_children`, whichever is higher.
pub fn workers_max(samples: &[Sample], max_children: u32) -> u32 {
    samples
        .iter()
        .filter_map(|s| {
            s.fpm
                .as_ref()
                .map(|f| f.total_processes.max(f.active_processes))
        })
        .max()
        .unwrap_or(0)
        .max(max_children)
}

fn no_status(samples: &[Sample]) -> bool {
    samples
        .iter()
        .all(|s| s.fpm.is_none() && s.accept_queue.is_none())
}

/// The listen queue over time: kernel accept queue (filled) and fpm's own reading.
pub fn listen_queue(frame: &Frame, samples: &[Sample], y_max: u32) -> anyhow::Result<String> {
    if no_status(samples) {
        return placeholder(frame.size, frame.title, "no server-side samples");
    }
    let y_top = (f64::from(y_max.max(4)) * 1.12).ceil();
    svg_with(frame.size, |root| {
        let mut chart = linear_time_chart(root, frame, y_top, &|v| format!("{v:.0}"))?;
        let kernel = samples
            .iter()
            .map(|s| accept_queue(s).map(|q| (x(s), f64::from(q))));
        for seg in segments(kernel) {
            chart.draw_series(
                AreaSeries::new(seg, 0.0, ACCEPT_QUEUE_COLOR.mix(0.2))
                    .border_style(ACCEPT_QUEUE_COLOR.stroke_width(2)),
            )?;
        }
        let fpm = samples
            .iter()
            .map(|s| fpm_queue(s).map(|q| (x(s), f64::from(q))));
        for seg in segments(fpm) {
            chart.draw_series(LineSeries::new(seg, FPM_QUEUE_COLOR.stroke_width(2)))?;
        }
        let cols = columns(samples, |s| {
            let v = |q: Option<u32>| q.map_or("-".to_string(), |q| q.to_string());
            Some(format!(
                "accept queue {} · fpm listen queue {}",
                v(accept_queue(s)),
                v(fpm_queue(s))
            ))
        });
        Ok(overlay::svg(&chart, 0.0, frame.overlay, &cols))
    })
}

/// Active and total workers over time, with `pm.max_children` as a dashed line.
pub fn workers(
    frame: &Frame,
    samples: &[Sample],
    max_children: u32,
    y_max: u32,
) -> anyhow::Result<String> {
    if samples.iter().all(|s| s.fpm.is_none()) {
        return placeholder(frame.size, frame.title, "no php-fpm status samples");
    }
    let y_top = (f64::from(y_max.max(1)) * 1.25).ceil().max(2.0);
    svg_with(frame.size, |root| {
        let mut chart = linear_time_chart(root, frame, y_top, &|v| format!("{v:.0}"))?;
        let limit = f64::from(max_children);
        chart.draw_series(DashedLineSeries::new(
            [(0.0, limit), (frame.x_max, limit)],
            6,
            4,
            LIMIT_COLOR.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((frame.x_max, limit))
                + Text::new(
                    format!("max_children {max_children}"),
                    (-104, -16),
                    ("sans-serif", 11).into_font().color(&LIMIT_COLOR),
                ),
        ))?;
        let active = samples.iter().map(|s| {
            s.fpm
                .as_ref()
                .map(|f| (x(s), f64::from(f.active_processes)))
        });
        for seg in segments(active) {
            chart.draw_series(
                AreaSeries::new(seg, 0.0, ACTIVE_COLOR.mix(0.25))
                    .border_style(ACTIVE_COLOR.stroke_width(2)),
            )?;
        }
        let total = samples
            .iter()
            .map(|s| s.fpm.as_ref().map(|f| (x(s), f64::from(f.total_processes))));
        for seg in segments(total) {
            chart.draw_series(LineSeries::new(seg, TOTAL_COLOR.stroke_width(2)))?;
        }
        let cols = columns(samples, |s| {
            (s.fpm.as_ref()).map(|f| {
                format!(
                    "active {} · total {} · max_children {max_children}",
                    f.active_processes, f.total_processes
                )
            })
        });
        Ok(overlay::svg(&chart, 0.0, frame.overlay, &cols))
    })
}
