//! What the clients got, over time, one chart per config: the goodput per second of each
//! phase with client behaviour (requests or batches that ended with a 2xx, by the second
//! they ended) against the rate the clients meant to send (dashed), with the clients lost
//! in each second in the tooltip. The config's events are markers, as on every chart over
//! time.

use plotters::prelude::*;

use super::overlay::{self, Column};
use super::time::{linear_time_chart, Frame};
use super::{draw_line, placeholder, svg_with, PhaseSpan};
use crate::record::clients::ClientsPhase;

/// The goodput line: the page's colour of success.
pub const GOODPUT_COLOR: RGBColor = RGBColor(44, 162, 95);
/// The intended rate, dashed.
pub const INTENDED_COLOR: RGBColor = RGBColor(120, 120, 120);

/// The phase's span on the time axis, by name.
fn span<'a>(phases: &'a [PhaseSpan], p: &ClientsPhase) -> Option<&'a PhaseSpan> {
    phases.iter().find(|s| s.name == p.phase)
}

/// The requests per second the clients of `p` meant to send, over its span.
fn intended_rate(p: &ClientsPhase, s: &PhaseSpan) -> f64 {
    let secs = s.end_s - s.start_s;
    if secs > 0.0 {
        p.intended as f64 / secs
    } else {
        0.0
    }
}

/// The top of the y axis shared by every config's chart: the highest goodput or intended
/// rate of any phase.
pub fn y_max<'a>(phases: &[PhaseSpan], all: impl Iterator<Item = &'a ClientsPhase>) -> f64 {
    all.flat_map(|p| {
        let meant = span(phases, p).map_or(0.0, |s| intended_rate(p, s));
        p.goodput_by_second
            .iter()
            .map(|g| *g as f64)
            .chain(std::iter::once(meant))
            .collect::<Vec<_>>()
    })
    .fold(0.0, f64::max)
}

/// Seconds `[from, to)` of the load a phase covers, as indices of `goodput_by_second`
/// (requests still in flight at its end may add seconds after it).
fn seconds(p: &ClientsPhase, s: &PhaseSpan) -> std::ops::Range<usize> {
    let from = s.start_s.floor() as usize;
    from..p.goodput_by_second.len().max(s.end_s.ceil() as usize)
}

/// How many of `p`'s clients were lost in second `t`.
fn lost_in(p: &ClientsPhase, t: usize) -> usize {
    (p.lost_at_ms.iter())
        .filter(|ms| (**ms / 1000) as usize == t)
        .count()
}

/// One config's chart: goodput per second of each of its phases with client behaviour.
pub fn goodput(frame: &Frame, clients: &[ClientsPhase], y_max: f64) -> anyhow::Result<String> {
    let drawn: Vec<(&ClientsPhase, &PhaseSpan)> = (clients.iter())
        .filter_map(|p| span(frame.phases, p).map(|s| (p, s)))
        .collect();
    if drawn.is_empty() {
        return placeholder(frame.size, frame.title, "no phase with client behaviour");
    }
    let y_top = (y_max.max(1.0) * 1.12).ceil();
    svg_with(frame.size, |root| {
        let mut chart = linear_time_chart(root, frame, y_top, &|v| format!("{v:.0}/s"))?;
        let mut columns: Vec<Column> = Vec::new();
        for (p, s) in &drawn {
            let meant = intended_rate(p, s);
            chart.draw_series(DashedLineSeries::new(
                [(s.start_s, meant), (s.end_s, meant)],
                6,
                4,
                INTENDED_COLOR.stroke_width(2),
            ))?;
            let range = seconds(p, s);
            let points = range.clone().map(|t| {
                let g = p.goodput_by_second.get(t).copied().unwrap_or(0);
                Some((t as f64 + 0.5, g as f64))
            });
            draw_line(&mut chart, points, GOODPUT_COLOR.stroke_width(2))?;
            for t in range {
                let g = p.goodput_by_second.get(t).copied().unwrap_or(0);
                let mut text = format!(
                    "{}–{} s, phase {}: goodput {g}/s (meant {meant:.0}/s)",
                    t,
                    t + 1,
                    p.phase
                );
                let lost = lost_in(p, t);
                if lost > 0 {
                    text.push_str(&format!(", {lost} clients switched off"));
                }
                columns.push((t as f64, t as f64 + 1.0, text));
            }
        }
        Ok(overlay::svg(&chart, 0.0, frame.overlay, &columns))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::config_color;
    use crate::report::charts::overlay::Overlay;

    #[test]
    fn goodput_is_drawn_per_second_to_the_phases_end_against_the_intended_rate() {
        let p = ClientsPhase {
            phase: "storm".into(),
            intended: 40,
            goodput_by_second: vec![0, 0, 10, 9, 0, 0],
            lost_at_ms: vec![3_200, 3_900],
            ..Default::default()
        };
        let phases = [
            PhaseSpan {
                name: "warm".into(),
                start_s: 0.0,
                end_s: 2.0,
            },
            PhaseSpan {
                name: "storm".into(),
                start_s: 2.0,
                end_s: 6.0,
            },
        ];
        assert_eq!(y_max(&phases, [&p].into_iter()), 10.0);
        let frame = Frame {
            title: "s2",
            color: config_color(0),
            phases: &phases,
            x_max: 6.0,
            size: (620, 280),
            overlay: &Overlay::default(),
        };
        let svg = goodput(&frame, std::slice::from_ref(&p), 10.0).unwrap();
        // One hover column per second of the phase, none before it.
        assert_eq!(svg.matches("class=\"hover\"").count(), 4, "{svg}");
        assert!(
            svg.contains("3–4 s, phase storm: goodput 9/s (meant 10/s), 2 clients switched off")
        );
        assert!(svg.contains("5–6 s, phase storm: goodput 0/s (meant 10/s)"));
        let none = goodput(&frame, &[], 1.0).unwrap();
        assert!(none.contains("no phase with client behaviour"));
    }
}
