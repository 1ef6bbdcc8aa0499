//! The outcome classes of the throughput chart: 2xx, 3xx, every error status code on its
//! own (500, 502, 503 and 504 are different links of the timeout chain), and client-side
//! failures. A run.json written before the per-code counts existed falls back to "4xx" and
//! "5xx" for what its seconds do not break down.

use plotters::style::RGBColor;

use crate::record::timeline::Bucket;

/// Which requests of a second a class counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Success,
    Redirect,
    /// One status code of 400 or more (`error_status_counts`).
    Code(String),
    /// 4xx (or 5xx, with `true`) responses the second does not break down by code.
    Rest(bool),
    ClientFailure,
}

/// One class: its legend label, color and what it counts.
#[derive(Debug, Clone)]
pub struct Class {
    pub label: String,
    pub color: RGBColor,
    pub key: Key,
}

/// Colors fixed per status code, so a 502 looks the same in every report.
fn code_color(code: &str, nth_other: usize) -> RGBColor {
    match code {
        "500" => RGBColor(215, 48, 39),
        "502" => RGBColor(123, 50, 148),
        "503" => RGBColor(140, 81, 10),
        "504" => RGBColor(244, 109, 67),
        "499" => RGBColor(90, 90, 90),
        c if c.starts_with('4') => [
            RGBColor(230, 171, 2),
            RGBColor(191, 129, 45),
            RGBColor(223, 194, 125),
        ][nth_other % 3],
        _ => [
            RGBColor(103, 0, 31),
            RGBColor(197, 27, 125),
            RGBColor(53, 151, 143),
        ][nth_other % 3],
    }
}

pub const SUCCESS_COLOR: RGBColor = RGBColor(102, 166, 30);
pub const REDIRECT_COLOR: RGBColor = RGBColor(166, 206, 227);
pub const CLIENT_FAILURE_COLOR: RGBColor = RGBColor(37, 37, 37);

/// Requests of `b` that `key` counts.
pub fn count(b: &Bucket, key: &Key) -> u64 {
    let coded = |class: char| {
        (b.error_status_counts.iter())
            .filter(|(c, _)| c.starts_with(class))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    match key {
        Key::Success => b.status_2xx + b.status_1xx,
        Key::Redirect => b.status_3xx,
        Key::Code(c) => b.error_status_counts.get(c).copied().unwrap_or(0),
        Key::Rest(false) => b.status_4xx.saturating_sub(coded('4')),
        Key::Rest(true) => b.status_5xx.saturating_sub(coded('5')),
        Key::ClientFailure => b.client_failures,
    }
}

/// The classes that occur in any of `timelines`, in stacking order (bottom first); 2xx
/// always, so an all-green run still has its legend.
pub fn classes<'a>(timelines: impl Iterator<Item = &'a [Bucket]> + Clone) -> Vec<Class> {
    let all = || timelines.clone().flat_map(|t| t.iter());
    let any = |key: &Key| all().any(|b| count(b, key) > 0);
    let mut out = vec![Class {
        label: "2xx".into(),
        color: SUCCESS_COLOR,
        key: Key::Success,
    }];
    if any(&Key::Redirect) {
        out.push(Class {
            label: "3xx".into(),
            color: REDIRECT_COLOR,
            key: Key::Redirect,
        });
    }
    let codes: std::collections::BTreeSet<String> = all()
        .flat_map(|b| b.error_status_counts.keys().cloned())
        .collect();
    let (mut n4, mut n5) = (0, 0);
    for code in codes {
        let nth = if code.starts_with('4') {
            &mut n4
        } else {
            &mut n5
        };
        let color = code_color(&code, *nth);
        if !matches!(code.as_str(), "500" | "502" | "503" | "504" | "499") {
            *nth += 1;
        }
        out.push(Class {
            label: code.clone(),
            color,
            key: Key::Code(code),
        });
    }
    for (server, label, color) in [
        (false, "4xx (no code)", RGBColor(253, 174, 97)),
        (true, "5xx (no code)", RGBColor(178, 24, 43)),
    ] {
        if any(&Key::Rest(server)) {
            out.push(Class {
                label: label.into(),
                color,
                key: Key::Rest(server),
            });
        }
    }
    if any(&Key::ClientFailure) {
        out.push(Class {
            label: "client failure".into(),
            color: CLIENT_FAILURE_COLOR,
            key: Key::ClientFailure,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_its_own_class() {
        let mut b = Bucket {
            status_2xx: 3,
            status_5xx: 5,
            client_failures: 1,
            ..Bucket::default()
        };
        b.error_status_counts.insert("502".into(), 2);
        b.error_status_counts.insert("504".into(), 2);
        let old = Bucket {
            status_5xx: 4,
            ..Bucket::default()
        };
        let tl = [b, old];
        let cs = classes(std::iter::once(&tl[..]));
        let labels: Vec<&str> = cs.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            ["2xx", "502", "504", "5xx (no code)", "client failure"]
        );
        assert_ne!(cs[1].color, cs[2].color);
        assert_eq!(count(&tl[0], &Key::Rest(true)), 1);
        assert_eq!(count(&tl[1], &Key::Rest(true)), 4);
    }
}
