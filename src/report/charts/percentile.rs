//! HDR percentile plots: x is the percentile on the usual 90 / 99 / 99.9 scale
//! (−log10(1 − q)), y the value on a log axis. One chart overlays every config's latency;
//! another sets each config's latency (the load balancer's view) against its service time
//! (the APM's view), so the gap between the two curves is the time spent queueing.

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::{decades, log_ms_axis, ms_label, placeholder, svg_with, GRID, WIDE};
use crate::units::fmt_us;

/// Labels of the wide charts, which the page shows scaled down.
fn big_font() -> TextStyle<'static> {
    ("sans-serif", 15).into_font().color(&super::TEXT)
}

/// One curve: a histogram (µs), its label, color, and whether it is drawn dashed.
pub struct Curve<'a> {
    pub label: String,
    pub color: RGBColor,
    pub dashed: bool,
    pub hist: &'a Histogram<u64>,
}

/// Points per curve.
const STEPS: usize = 400;

/// The x of quantile `q`: 0 at 0 %, 1 at 90 %, 2 at 99 %, …
pub fn x_of(q: f64) -> f64 {
    -(1.0 - q).log10()
}

/// Label of an x position: `50%`, `99.9%`.
pub fn percent_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let s = format!("{p:.4}");
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

/// The (x, ms) points of a histogram's percentile curve, ending where its data ends
/// (a run of n values says nothing past the 1 − 1/n quantile).
pub fn curve_points(h: &Histogram<u64>, x_max: f64) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let x_end = (h.len() as f64).log10().min(x_max);
    let mut pts: Vec<(f64, f64)> = (0..=STEPS)
        .map(|k| x_end * k as f64 / STEPS as f64)
        .map(|x| (x, h.value_at_quantile(1.0 - 10f64.powf(-x)) as f64 / 1000.0))
        .collect();
    pts.push((x_end, h.max() as f64 / 1000.0));
    pts
}

/// The x axis end: whole "nines" covering the largest histogram, 2 (99 %) to 5 (99.999 %).
pub fn x_max(curves: &[Curve]) -> f64 {
    let n = curves
        .iter()
        .map(|c| c.hist.len())
        .max()
        .unwrap_or(1)
        .max(1);
    (n as f64).log10().ceil().clamp(2.0, 5.0)
}

/// Draws `curves` on shared percentile and log-latency axes.
pub fn plot(title: &str, curves: &[Curve]) -> anyhow::Result<String> {
    if curves.iter().all(|c| c.hist.is_empty()) {
        return placeholder(WIDE, title, "no latency recorded");
    }
    let x_max = x_max(curves);
    let y = decades(curves.iter().filter(|c| !c.hist.is_empty()).flat_map(|c| {
        [
            c.hist.min().max(1) as f64 / 1000.0,
            c.hist.max() as f64 / 1000.0,
        ]
    }));
    svg_with(WIDE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20).into_font().color(&super::TEXT))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(66)
            .build_cartesian_2d(0f64..x_max, log_ms_axis(y))?;
        chart
            .configure_mesh()
            .x_label_formatter(&percent_label)
            .y_label_formatter(&ms_label)
            .label_style(big_font())
            .bold_line_style(GRID)
            .light_line_style(GRID.mix(0.5))
            // Whole "nines": 0 %, 90 %, 99 %, …
            .x_labels(x_max as usize + 1)
            .x_max_light_lines(4)
            .x_desc("percentile")
            .axis_desc_style(big_font())
            .draw()?;
        for c in curves {
            let pts = curve_points(c.hist, x_max);
            let style = c.color.stroke_width(if c.dashed { 2 } else { 3 });
            let series = if c.dashed {
                chart.draw_series(DashedLineSeries::new(pts, 8, 5, style))?
            } else {
                chart.draw_series(LineSeries::new(pts, style))?
            };
            let (color, dashed) = (c.color, c.dashed);
            series.label(c.label.clone()).legend(move |(x, y)| {
                let s = color.stroke_width(3);
                if dashed {
                    PathElement::new(vec![(x, y), (x + 8, y)], s)
                } else {
                    PathElement::new(vec![(x, y), (x + 22, y)], s)
                }
            });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(big_font())
            .draw()?;
        // A dot with its value at the usual percentiles and the maximum of every curve.
        let mut marks = String::from("<g class=\"overlay\">");
        for c in curves.iter().filter(|c| !c.hist.is_empty()) {
            let x_end = (c.hist.len() as f64).log10().min(x_max);
            let mut at: Vec<(String, f64, u64)> = [50.0, 90.0, 99.0, 99.9, 99.99]
                .iter()
                .map(|p| (p, x_of(p / 100.0)))
                .filter(|(_, x)| *x <= x_end + 1e-9)
                .map(|(p, x)| (format!("p{p}"), x, c.hist.value_at_quantile(p / 100.0)))
                .collect();
            at.push(("max".into(), x_end, c.hist.max()));
            for (name, x, us) in at {
                let (px, py) = chart.backend_coord(&(x, (us.max(1) as f64) / 1000.0));
                let _ = std::fmt::Write::write_fmt(
                    &mut marks,
                    format_args!(
                        "<circle class=\"hover\" cx=\"{px}\" cy=\"{py}\" r=\"5\" fill=\"{}\" fill-opacity=\"0.6\"><title>{}: {name} {}</title></circle>",
                        super::css(c.color),
                        c.label.replace('&', "&amp;").replace('<', "&lt;"),
                        fmt_us(us)
                    ),
                );
            }
        }
        marks.push_str("</g>");
        Ok(marks)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_and_curve() {
        assert!((x_of(0.99) - 2.0).abs() < 1e-9);
        assert_eq!(percent_label(&2.0), "99%");
        assert_eq!(percent_label(&3.0), "99.9%");
        assert_eq!(percent_label(&x_of(0.5)), "50%");
        let mut h = crate::record::histograms::new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let pts = curve_points(&h, 5.0);
        assert!(
            (pts.last().unwrap().0 - 3.0).abs() < 1e-9,
            "ends where data ends"
        );
        assert!(pts.windows(2).all(|w| w[1].1 >= w[0].1), "monotonic");
        let svg = plot(
            "Latency",
            &[Curve {
                label: "static-4".into(),
                color: RED,
                dashed: false,
                hist: &h,
            }],
        )
        .unwrap();
        assert!(svg.contains("99.9%") && svg.contains("static-4"));
    }
}
