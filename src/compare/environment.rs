//! What differs between the two runs' machines and stacks: cores, CPU model, memory, driver,
//! nginx and php versions, and the measured CPU unit. Shown before the verdict, since a
//! "regression" between two machines may be the machines.

use serde::Serialize;

use crate::results::Environment;

/// One environment figure that differs between the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvDiff {
    /// What differs (`cores`, `cpu_model`, `php_version`, …).
    pub what: &'static str,
    pub baseline: String,
    pub candidate: String,
    /// How much, for a number: `+300.0%`.
    pub change: Option<String>,
    /// What it means for the comparison, when that is known.
    pub meaning: Option<&'static str>,
}

impl EnvDiff {
    /// `environment differs: cores 2 → 8 (+300.0%)`.
    pub fn line(&self) -> String {
        let change = self
            .change
            .as_ref()
            .map_or(String::new(), |c| format!(" ({c})"));
        let meaning = self.meaning.map_or(String::new(), |m| format!(": {m}"));
        format!(
            "environment differs: {} {} → {}{change}{meaning}",
            self.what, self.baseline, self.candidate
        )
    }
}

/// The figures that differ, in a fixed order; empty when the environments match.
pub fn differences(b: &Environment, c: &Environment) -> Vec<EnvDiff> {
    let mut out = Vec::new();
    let mut number = |what, bv: Option<u64>, cv: Option<u64>, meaning| {
        if bv != cv {
            let text = |v: Option<u64>| v.map_or("unknown".to_string(), |v| v.to_string());
            let change = bv
                .zip(cv)
                .filter(|(b, _)| *b > 0)
                .map(|(b, c)| format!("{:+.1}%", (c as f64 - b as f64) / b as f64 * 100.0));
            out.push(EnvDiff {
                what,
                baseline: text(bv),
                candidate: text(cv),
                change,
                meaning,
            });
        }
    };
    number("cores", Some(b.cores as u64), Some(c.cores as u64), None);
    number("memory_mib", Some(b.memory_mib), Some(c.memory_mib), None);
    number(
        "cpu_unit_iterations",
        b.cpu_unit_iterations,
        c.cpu_unit_iterations,
        Some("a cpu.php millisecond is this many loop iterations: the CPUs differ in speed"),
    );
    let mut text = |what, bv: Option<&str>, cv: Option<&str>| {
        if bv != cv {
            let show = |v: Option<&str>| v.unwrap_or("unknown").to_string();
            out.push(EnvDiff {
                what,
                baseline: show(bv),
                candidate: show(cv),
                change: None,
                meaning: None,
            });
        }
    };
    text("cpu_model", Some(&b.cpu_model), Some(&c.cpu_model));
    text("driver", Some(&b.stack.driver), Some(&c.stack.driver));
    let (bs, cs) = (&b.stack, &c.stack);
    text(
        "nginx_version",
        bs.nginx_version.as_deref(),
        cs.nginx_version.as_deref(),
    );
    text(
        "php_version",
        bs.php_version.as_deref(),
        cs.php_version.as_deref(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_differs_and_by_how_much() {
        let b = Environment {
            cores: 2,
            cpu_model: "A".into(),
            cpu_unit_iterations: Some(50_000),
            ..Environment::default()
        };
        assert!(differences(&b, &b.clone()).is_empty());
        let mut c = b.clone();
        c.cores = 8;
        c.cpu_unit_iterations = Some(60_000);
        c.stack.php_version = Some("8.3.1".into());
        let lines: Vec<String> = differences(&b, &c).iter().map(EnvDiff::line).collect();
        assert_eq!(lines[0], "environment differs: cores 2 → 8 (+300.0%)");
        assert!(lines[1]
            .starts_with("environment differs: cpu_unit_iterations 50000 → 60000 (+20.0%): "));
        assert_eq!(lines[2], "environment differs: php_version unknown → 8.3.1");
        assert_eq!(lines.len(), 3);
    }
}
