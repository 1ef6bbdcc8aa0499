//! The problems validation collects, and the field checks every section's validator uses.
//! Each problem names its field and says the fix.

use crate::units::{parse_duration_ms, parse_whole_seconds};

/// Collected validation problems: `(field, message with the fix)`.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<(String, String)>);

impl Problems {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }
}

pub fn check_name(p: &mut Problems, field: &str, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        p.push(field, format!("\"{name}\" is not a usable name: use 1 to 64 letters, digits, '-', '_' or '.' (it names a results directory)"));
    }
}

pub fn dur(p: &mut Problems, field: &str, value: Option<&str>, default: &str) -> Option<u64> {
    parse_duration_ms(value.unwrap_or(default))
        .map_err(|e| p.push(field, e))
        .ok()
}

pub fn secs(p: &mut Problems, field: &str, value: Option<&str>, default: &str) -> Option<u32> {
    parse_whole_seconds(value.unwrap_or(default))
        .map_err(|e| p.push(field, e))
        .ok()
}

pub fn cpuset(p: &mut Problems, field: &str, set: &Option<Vec<usize>>, cores: usize) {
    if let Some(set) = set {
        if set.is_empty() {
            p.push(
                field,
                "an empty cpuset: list CPU numbers, e.g. [0], or remove the key",
            );
        }
        for c in set {
            if *c >= cores {
                p.push(field, format!("CPU {c} does not exist on this machine (it has {cores}: 0 to {}): pick from those", cores - 1));
            }
        }
    }
}
