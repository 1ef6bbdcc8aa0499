//! Everything rendered from `run.json`: the terminal table, the HTML report, the exports.

pub mod charts;
pub mod container;
pub mod export;
pub mod html;
pub mod incident;
pub mod table;

/// Formats µs for people: `850 µs`, `12.3 ms`, `1.23 s`.
pub fn fmt_us(us: u64) -> String {
    match us {
        0..=999 => format!("{us} µs"),
        1_000..=99_999 => format!("{:.1} ms", us as f64 / 1e3),
        100_000..=999_999 => format!("{:.0} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_durations() {
        assert_eq!(super::fmt_us(850), "850 µs");
        assert_eq!(super::fmt_us(12_345), "12.3 ms");
        assert_eq!(super::fmt_us(250_000), "250 ms");
        assert_eq!(super::fmt_us(1_234_567), "1.23 s");
    }
}
