//! Scenario files: TOML in, a validated [`Plan`] out. Nothing starts before a file passes.

mod app;
pub mod client;
pub mod fleet;
mod phase;
pub mod plan;
mod pool;
mod problems;
pub mod raw;
pub mod replay;
mod replay_phase;
pub mod retry;
#[cfg(test)]
mod retry_tests;
pub mod sweep;
pub mod threshold;
pub mod traffic;

mod sanity;
pub mod validate;
mod wording;

use std::fmt;
use std::path::{Path, PathBuf};

pub use fleet::{Algorithm, Balancer, Cold, EventAction, Fleet, FleetEvent, InstanceSpec};
pub use phase::expected_requests;
pub use plan::*;

/// A scenario file that cannot be run, with every reason found.
#[derive(Debug)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// `(field, message)` pairs; the field is empty for file-level problems.
    pub problems: Vec<(String, String)>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} is not a valid scenario ({n} problem{}):",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for (field, message) in &self.problems {
            if field.is_empty() {
                write!(f, "\n  - {}", message.trim_end())?;
            } else {
                write!(f, "\n  - {field}: {}", message.trim_end())?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and validates a scenario file. Returns the plan and warnings (valid but suspect
/// settings worth telling the user about).
pub fn load(path: &Path, driver: Driver) -> Result<(Plan, Vec<String>), ScenarioError> {
    let fail = |problems| ScenarioError {
        file: path.to_path_buf(),
        problems,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(vec![(String::new(), format!("cannot read it: {e}"))]))?;
    parse(&text, path, driver).map_err(fail)
}

/// `(field, message)` pairs describing why a scenario is refused.
pub type FieldProblems = Vec<(String, String)>;

/// Validates scenario text; `path` gives the default name (its stem).
pub fn parse(
    text: &str,
    path: &Path,
    driver: Driver,
) -> Result<(Plan, Vec<String>), FieldProblems> {
    let raw: raw::RawScenario = toml::from_str(text).map_err(|e| {
        // A type error says the field and the fix (the message names the field itself).
        let message = wording::reword(&e, text).map_or_else(|| toml_message(&e), |(_, m)| m);
        vec![(String::new(), message)]
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Files a scenario names (body_file, data) are relative to the scenario itself, so a
    // scenario directory can be moved or run from anywhere.
    let base_dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    validate::validate(raw, &stem, base_dir, driver, cores).map_err(|p| p.0)
}

/// toml's message already names the line, column and key; add the fix for the common case.
fn toml_message(e: &toml::de::Error) -> String {
    let msg = e.to_string();
    if msg.contains("unknown field") {
        format!("{msg}\nfix: remove or correct the key (see the README's scenario reference)")
    } else {
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        seed = 7
        [[config]]
        name = "dyn"
        pm = "dynamic"
        max_children = 5
        min_spare_servers = 1
        max_spare_servers = 3
        [[config]]
        name = "od"
        pm = "ondemand"
        max_children = 2
        [[phase]]
        duration = "2s"
        pattern = "burst"
        size = 3
        every = "500ms"
        [[request]]
        path = "/cpu.php?units=10"
    "#;

    #[test]
    fn resolves_defaults() {
        let (plan, _) = parse(GOOD, Path::new("x/good.toml"), Driver::Native).unwrap();
        assert_eq!(plan.name, "good");
        assert_eq!(plan.seed, 7);
        let dyn_ = &plan.configs[0];
        // php-fpm's own default: min + (max - min) / 2.
        assert_eq!(dyn_.start_servers, Some(2));
        assert_eq!(dyn_.max_spawn_rate, Some(32));
        assert_eq!(plan.configs[1].process_idle_timeout_s, Some(10));
        assert_eq!(plan.load.client_timeout_ms, 60_000);
        assert_eq!(plan.stack.listen, ListenKind::Tcp);
        assert_eq!(plan.phases[0].name, "phase-1");
        assert_eq!(
            plan.phases[0].arrival,
            Arrival::Burst {
                size: 3,
                every_ms: 500
            }
        );
        assert_eq!(plan.requests[0].method, "GET");
    }

    #[test]
    fn generator_takes_the_cpus_the_stack_leaves() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let text = format!("{GOOD}\n[stack]\ncpuset = [0]\n");
        let (plan, warnings) = parse(&text, Path::new("c.toml"), Driver::Native).unwrap();
        if cores > 1 {
            assert_eq!(plan.load.cpuset, Some((1..cores).collect()));
        } else {
            assert_eq!(plan.load.cpuset, None);
            assert!(warnings.iter().any(|w| w.contains("every CPU")));
        }
    }

    #[test]
    fn reports_every_problem() {
        let text =
            GOOD.replace("max_children = 5", "max_children = 0") + "\n[load]\nmax_in_flight = 0\n";
        let problems = parse(&text, Path::new("b.toml"), Driver::Native).unwrap_err();
        assert!(problems.len() >= 2, "{problems:?}");
    }
}
