//! Charts of the server-side samples, one per config: php-fpm's listen queue, and its
//! active and total workers against `pm.max_children`.

use plotters::prelude::*;

use super::time::{linear_time_chart, Frame};
use super::{placeholder, segments, svg, SMALL};
use crate::probe::Sample;

pub const ACCEPT_QUEUE_COLOR: RGBColor = RGBColor(203, 24, 29);
pub const FPM_QUEUE_COLOR: RGBColor = RGBColor(253, 141, 60);
pub const ACTIVE_COLOR: RGBColor = RGBColor(253, 141, 60);
pub const TOTAL_COLOR: RGBColor = RGBColor(33, 113, 181);
pub const LIMIT_COLOR: RGBColor = RGBColor(120, 120, 120);

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
        return placeholder(SMALL, frame.title, "no server-side samples");
    }
    let y_top = (f64::from(y_max.max(4)) * 1.12).ceil();
    svg(SMALL, |root| {
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
        Ok(())
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
        return placeholder(SMALL, frame.title, "no php-fpm status samples");
    }
    let y_top = (f64::from(y_max.max(1)) * 1.25).ceil().max(2.0);
    svg(SMALL, |root| {
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
        Ok(())
    })
}
