//! Human units, both ways: parsing what scenario files and rules write (durations `250ms`,
//! `2s`, `1.5m`; sizes `512MiB`, `1G`; errors say what a valid value looks like) and
//! formatting figures for people (`12.3 ms`). A leaf: it imports nothing of the crate.

/// Parses a duration with a unit (`us`, `ms`, `s`, `m`, `h`) into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let us = parse_duration_us(text)?;
    if us % 1000 != 0 {
        return Err(format!("\"{text}\" is finer than a millisecond"));
    }
    Ok(us / 1000)
}

/// Parses a duration with a unit into microseconds.
pub fn parse_duration_us(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("\"{text}\" has no unit: write e.g. \"{t}s\" or \"{t}ms\""))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("\"{text}\" is not a duration: write e.g. \"250ms\", \"2s\", \"1m\"")
    })?;
    let scale = match unit.trim() {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" | "min" => 60e6,
        "h" => 3600e6,
        other => {
            return Err(format!(
                "\"{text}\" has an unknown unit \"{other}\": use us, ms, s, m or h"
            ))
        }
    };
    let us = value * scale;
    if !us.is_finite() || us > 1e15 {
        return Err(format!("\"{text}\" is too long"));
    }
    Ok(us.round() as u64)
}

/// Parses a duration that php-fpm or php only accept in whole seconds.
pub fn parse_whole_seconds(text: &str) -> Result<u32, String> {
    let ms = parse_duration_ms(text)?;
    if ms % 1000 != 0 {
        return Err(format!(
            "\"{text}\" is not whole seconds: php-fpm and php take whole seconds here"
        ));
    }
    u32::try_from(ms / 1000).map_err(|_| format!("\"{text}\" is too long"))
}

/// Parses a memory size (`512MiB`, `512M`, `1GiB`, `1G`, `65536KiB`) into MiB.
pub fn parse_mib(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("\"{text}\" has no unit: write e.g. \"{t}MiB\""))?;
    let (num, unit) = t.split_at(split);
    let value: u64 = num
        .parse()
        .map_err(|_| format!("\"{text}\" is not a size: write e.g. \"512MiB\" or \"1GiB\""))?;
    let kib = match unit {
        "K" | "KiB" | "k" => value,
        "M" | "MiB" => value * 1024,
        "G" | "GiB" => value * 1024 * 1024,
        other => {
            return Err(format!(
                "\"{text}\" has an unknown unit \"{other}\": use KiB, MiB or GiB"
            ))
        }
    };
    if kib % 1024 != 0 {
        return Err(format!("\"{text}\" is not a whole number of MiB"));
    }
    Ok(kib / 1024)
}

/// Checks a php.ini size as php writes it (`128M`, `1G`, `-1`).
pub fn check_php_size(text: &str) -> Result<(), String> {
    let t = text.trim();
    if t == "-1" {
        return Ok(());
    }
    let digits = t.trim_end_matches(['K', 'M', 'G', 'k', 'm', 'g']);
    let suffix_len = t.len() - digits.len();
    if digits.is_empty() || suffix_len > 1 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "\"{text}\" is not a php size: write e.g. \"128M\", \"1G\" or \"-1\" (unlimited)"
        ));
    }
    Ok(())
}

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
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(fmt_us(850), "850 µs");
        assert_eq!(fmt_us(12_345), "12.3 ms");
        assert_eq!(fmt_us(250_000), "250 ms");
        assert_eq!(fmt_us(1_234_567), "1.23 s");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("2s"), Ok(2000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1500));
        assert_eq!(parse_duration_ms("1m"), Ok(60_000));
        assert_eq!(parse_duration_ms(" 1h "), Ok(3_600_000));
        assert_eq!(parse_duration_us("500us"), Ok(500));
        assert!(parse_duration_ms("20").unwrap_err().contains("no unit"));
        assert!(parse_duration_ms("2 days")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration_ms("abc").is_err());
        assert!(parse_duration_ms("1.2.3s").is_err());
        assert!(parse_duration_ms("500us").unwrap_err().contains("finer"));
    }

    #[test]
    fn whole_seconds() {
        assert_eq!(parse_whole_seconds("30s"), Ok(30));
        assert_eq!(parse_whole_seconds("2m"), Ok(120));
        assert!(parse_whole_seconds("1500ms")
            .unwrap_err()
            .contains("whole seconds"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_mib("512MiB"), Ok(512));
        assert_eq!(parse_mib("1G"), Ok(1024));
        assert_eq!(parse_mib("2048KiB"), Ok(2));
        assert!(parse_mib("512").is_err());
        assert!(parse_mib("512MB").is_err());
        assert!(check_php_size("128M").is_ok());
        assert!(check_php_size("-1").is_ok());
        assert!(check_php_size("128MB").is_err());
        assert!(check_php_size("M").is_err());
    }
}
