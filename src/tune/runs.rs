//! Running the points: each is an ordinary one-config run (its own numbered directory and
//! run.json), watched so a hopeless one stops early ([`super::watch`]).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::measure;
use super::objective::Settings;
use super::search;
use super::Point;
use crate::model::Prediction;
use crate::results::ConfigResult;
use crate::runner::{self, RunOptions};
use crate::scenario::{Plan, PoolConfig};

/// Runs one-config plans into numbered point directories.
pub struct Runs<'a> {
    pub plan: &'a Plan,
    pub warnings: &'a [String],
    pub scenario_file: &'a Path,
    pub quiet: bool,
    pub settings: &'a Settings,
    pub dir: &'a Path,
    pub cancel: &'a CancellationToken,
    pub n: usize,
}

/// A finished point: its config, directory, wall time and why it stopped early.
pub struct Ran {
    pub config: ConfigResult,
    pub dir: String,
    pub duration_s: f64,
    pub stopped_early: Option<String>,
}

impl Runs<'_> {
    /// Runs a static pool of `c` under the scenario's traffic, or under `plan` when given
    /// (the headroom check's heavier traffic); `early` lets a hopeless point stop.
    pub async fn point(&mut self, c: u32, plan: Option<&Plan>, early: bool) -> anyhow::Result<Ran> {
        self.n += 1;
        let name = format!("static-{c}");
        let mut plan = plan.unwrap_or(self.plan).clone();
        plan.configs = vec![PoolConfig::static_pool(&name, c)];
        // Thresholds may name the scenario's own configs; tune judges by its objective.
        plan.thresholds.clear();
        let planned: f64 = plan
            .phases
            .iter()
            .map(crate::scenario::expected_requests)
            .sum();
        let dir = self.dir.join(format!("{:02}-{name}", self.n));
        let t = Instant::now();
        // The point's own token: stopping it early must not stop the tune.
        let stop = self.cancel.child_token();
        let done = CancellationToken::new();
        let watcher = early.then(|| {
            tokio::spawn(super::watch::watch(
                dir.join(&name).join("timeline.jsonl"),
                planned,
                self.settings.clone(),
                stop.clone(),
                done.clone(),
            ))
        });
        let finished = runner::run(
            plan,
            self.warnings.to_vec(),
            &RunOptions {
                scenario_file: self.scenario_file.to_path_buf(),
                out: Some(dir.clone()),
                quiet: self.quiet,
                request_log: None,
                metrics_listen: None,
            },
            stop,
        )
        .await;
        done.cancel();
        let stopped_early = match watcher {
            Some(w) => w.await.ok().flatten(),
            None => None,
        };
        let config = finished?
            .result
            .configs
            .into_iter()
            .next()
            .context("the point's run recorded no config")?;
        if let Some(e) = &config.error {
            anyhow::bail!("the point max_children = {c} failed: {e}");
        }
        Ok(Ran {
            config,
            dir: dir.display().to_string(),
            duration_s: t.elapsed().as_secs_f64(),
            stopped_early,
        })
    }
}

/// The point's record: measured, predicted, the model's error, the verdict.
pub fn point(r: &Ran, role: &str, predicted: Option<Prediction>, s: &Settings) -> Point {
    let measured = measure::outcome(&r.config);
    // A point stopped early has a p99 of what ran only: no fair ground for the model's error.
    let p99_error_pct = predicted.as_ref().and_then(|p| {
        (measured.latency_p99_ms > 0.0 && r.stopped_early.is_none())
            .then(|| (p.latency_p99_ms - measured.latency_p99_ms) / measured.latency_p99_ms * 100.0)
    });
    Point {
        max_children: r.config.pool.max_children,
        role: role.into(),
        dir: r.dir.clone(),
        meets: r.stopped_early.is_none() && search::measured_ok(&measured, s),
        measured,
        predicted,
        p99_error_pct,
        stopped_early: r.stopped_early.clone(),
        duration_s: r.duration_s,
    }
}
