//! Per request kind: one HDR percentile chart per config with a curve for each kind of
//! request (run.json's `phases[].kinds[]`, merged over the phases), so a slow endpoint
//! stands apart from the fast ones it is mixed with.

use hdrhistogram::Histogram;
use plotters::style::RGBColor;

use super::percentile::{self, Curve};
use crate::results::ConfigResult;

/// Series colors for the kinds: eight clearly different hues.
pub const KIND_COLORS: [RGBColor; 8] = [
    RGBColor(27, 158, 119),
    RGBColor(217, 95, 2),
    RGBColor(117, 112, 179),
    RGBColor(231, 41, 138),
    RGBColor(102, 166, 30),
    RGBColor(230, 171, 2),
    RGBColor(166, 118, 29),
    RGBColor(102, 102, 102),
];

/// Each kind's latency histogram over the whole run, in the order kinds first appear.
pub fn latency_by_kind(c: &ConfigResult) -> Vec<(String, Histogram<u64>)> {
    let mut out: Vec<(String, Histogram<u64>)> = Vec::new();
    for k in c.recorded.phases.iter().flat_map(|p| &p.kinds) {
        let Ok(h) = k.histograms.decode() else {
            continue;
        };
        match out.iter_mut().find(|(n, _)| *n == k.name) {
            Some((_, acc)) => {
                let _ = acc.add(&h.latency);
            }
            None => out.push((k.name.clone(), h.latency)),
        }
    }
    out
}

/// The chart of one config: a latency curve per kind.
pub fn chart(c: &ConfigResult) -> anyhow::Result<String> {
    let hists = latency_by_kind(c);
    let curves: Vec<Curve> = (hists.iter().enumerate())
        .map(|(i, (name, h))| Curve {
            label: name.clone(),
            color: KIND_COLORS[i % KIND_COLORS.len()],
            dashed: false,
            hist: h,
        })
        .collect();
    percentile::plot(&format!("{}: latency by request kind", c.name), &curves)
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_curve_per_kind() {
        let run = crate::results::test_fixture();
        let c = &run.configs[0];
        let kinds = super::latency_by_kind(c);
        assert!(!kinds.is_empty());
        let total: u64 = kinds.iter().map(|(_, h)| h.len()).sum();
        let svg = super::chart(c).unwrap();
        assert!(total > 0 && svg.contains(&kinds[0].0), "{svg}");
    }
}
