//! The report's charts, drawn with plotters into SVG strings that the HTML page embeds
//! inline. Each function draws one chart for one config (or one chart for all), on axes
//! the caller shares across configs so charts side by side compare at a glance.

pub mod clients;
pub mod fleet;
pub mod kinds;
pub mod overlay;
pub mod percentile;
pub mod server;
pub mod status;
pub mod time;
pub mod tune;

use std::ops::Range;

use plotters::coord::combinators::{BindKeyPoints, LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Width and height of one small-multiple chart, px (the page scales them).
pub const SMALL: (u32, u32) = (620, 280);
/// Width and height of a chart that holds every config.
pub const WIDE: (u32, u32) = (1240, 420);

/// One color per config, in scenario order (repeats after eight): neutral tones, none of
/// them red or green, which the page keeps for failures and successes.
pub const CONFIG_COLORS: [RGBColor; 8] = [
    RGBColor(59, 91, 146),
    RGBColor(42, 157, 143),
    RGBColor(106, 76, 147),
    RGBColor(141, 110, 99),
    RGBColor(84, 110, 122),
    RGBColor(127, 127, 63),
    RGBColor(142, 108, 138),
    RGBColor(70, 130, 180),
];

/// The color of config number `i`.
pub fn config_color(i: usize) -> RGBColor {
    CONFIG_COLORS[i % CONFIG_COLORS.len()]
}

/// `#rrggbb`, for the page's legends.
pub fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

pub const GRID: RGBColor = RGBColor(225, 228, 232);
pub const TEXT: RGBColor = RGBColor(60, 64, 72);
const PHASE_FILL: [RGBColor; 2] = [RGBColor(238, 242, 248), RGBColor(250, 251, 253)];

pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
pub type Drawn = Result<(), Box<dyn std::error::Error>>;
/// A chart over time: seconds on x.
pub type TimeChart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;

/// Draws into a fresh SVG of `size` and returns its text.
pub fn svg(size: (u32, u32), draw: impl FnOnce(&Area) -> Drawn) -> anyhow::Result<String> {
    svg_with(size, |root| draw(root).map(|()| String::new()))
}

/// [`svg`] for a drawing that also returns SVG of its own (see [`overlay`]), appended
/// after plotters' elements so it lies on top.
pub fn svg_with(
    size: (u32, u32),
    draw: impl FnOnce(&Area) -> Result<String, Box<dyn std::error::Error>>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let extra;
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        extra = draw(&root).map_err(|e| anyhow::anyhow!("drawing a chart: {e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    overlay::insert(&mut out, &extra);
    Ok(out)
}

/// An SVG that says why there is no chart.
pub fn placeholder(size: (u32, u32), title: &str, message: &str) -> anyhow::Result<String> {
    svg(size, |root| {
        let root = root.titled(title, ("sans-serif", 16).into_font().color(&TEXT))?;
        let (w, h) = root.dim_in_pixel();
        root.draw(&Text::new(
            message.to_string(),
            (w as i32 / 2, h as i32 / 2),
            ("sans-serif", 14)
                .into_font()
                .color(&RGBColor(120, 120, 120))
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                )),
        ))?;
        Ok(())
    })
}

/// Title and label fonts.
pub fn title_font() -> TextStyle<'static> {
    ("sans-serif", 18).into_font().color(&TEXT)
}

pub fn label_font() -> TextStyle<'static> {
    ("sans-serif", 13).into_font().color(&TEXT)
}

/// A log axis in milliseconds from `lo` to `hi` (decades, see [`decades`]), with a tick at
/// each decade and light grid lines at 2× and 5×.
pub fn log_ms_axis((lo, hi): (f64, f64)) -> WithKeyPoints<LogCoord<f64>> {
    let mut bold = Vec::new();
    let mut light = Vec::new();
    let mut d = lo;
    while d <= hi * 1.0001 {
        bold.push(d);
        if d < hi {
            light.extend([2.0 * d, 5.0 * d]);
        }
        d *= 10.0;
    }
    (lo..hi)
        .log_scale()
        .with_key_points(bold)
        .with_light_points(light)
}

/// The decade bounds (ms) around `values`; 1 ms to 1 s when there are none.
pub fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::MAX, 0.0f64);
    for v in values.filter(|v| *v > 0.0 && v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi == 0.0 {
        return (1.0, 1000.0);
    }
    let lo = 10f64.powf(lo.log10().floor()).max(0.01);
    let mut hi = 10f64.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo, hi)
}

/// Axis label of a millisecond value: `500 µs`, `20 ms`, `1.5 s`.
pub fn ms_label(v: &f64) -> String {
    let trim = |x: f64| {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if *v >= 1000.0 {
        format!("{} s", trim(v / 1000.0))
    } else if *v >= 1.0 {
        format!("{} ms", trim(*v))
    } else {
        format!("{} µs", trim(v * 1000.0))
    }
}

/// A phase on the time axis, seconds.
#[derive(Debug, Clone)]
pub struct PhaseSpan {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
}

/// Shades the phases (alternating tints) and names them along the top.
pub fn shade_phases<Y: Ranged<ValueType = f64>>(
    chart: &mut TimeChart<'_, '_, Y>,
    phases: &[PhaseSpan],
    y: Range<f64>,
) -> Drawn {
    chart.draw_series(phases.iter().enumerate().map(|(i, p)| {
        Rectangle::new(
            [(p.start_s, y.start), (p.end_s, y.end)],
            PHASE_FILL[i % 2].filled(),
        )
    }))?;
    let style = ("sans-serif", 11)
        .into_font()
        .color(&RGBColor(110, 118, 130));
    chart.draw_series(phases.iter().map(|p| {
        EmptyElement::at((p.start_s, y.end)) + Text::new(p.name.clone(), (4, 3), style.clone())
    }))?;
    Ok(())
}

/// Splits a series at its gaps (`None`), so lines never bridge seconds without data.
pub fn segments(points: impl Iterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for p in points {
        match p {
            Some(p) => out.last_mut().expect("never empty").push(p),
            None if !out.last().expect("never empty").is_empty() => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Draws a line (broken at gaps) with a dot on every point, so single points show too.
pub fn draw_line<Y: Ranged<ValueType = f64>>(
    chart: &mut TimeChart<'_, '_, Y>,
    points: impl Iterator<Item = Option<(f64, f64)>>,
    style: ShapeStyle,
) -> Drawn {
    for seg in segments(points) {
        chart.draw_series(LineSeries::new(seg.iter().copied(), style))?;
        chart.draw_series(seg.iter().map(|p| Circle::new(*p, 2, style.filled())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_helpers() {
        assert_eq!(decades([3.0, 420.0].into_iter()), (1.0, 1000.0));
        assert_eq!(decades([0.3, 2500.0].into_iter()), (0.1, 10_000.0));
        assert_eq!(decades(std::iter::empty()), (1.0, 1000.0));
        assert_eq!(ms_label(&0.5), "500 µs");
        assert_eq!(ms_label(&20.0), "20 ms");
        assert_eq!(ms_label(&1500.0), "1.5 s");
        let s = segments(
            [
                Some((0.0, 1.0)),
                None,
                None,
                Some((2.0, 1.0)),
                Some((3.0, 1.0)),
            ]
            .into_iter(),
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].len(), 2);
    }

    #[test]
    fn svg_is_self_contained() {
        let text = placeholder(SMALL, "Queue wait", "no data").unwrap();
        assert!(text.starts_with("<svg") && text.contains("no data"));
        assert!(!text.contains("http://") || text.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }
}
