//! A config's time series in files beside run.json, one JSON object a line, appended as the
//! run goes: `CONFIG/samples.jsonl` (server-side samples), `CONFIG/timeline.jsonl` (the
//! per-second buckets) and `CONFIG/health.jsonl` (the load balancer's health probes). A checkpoint then rewrites only the small run.json and appends the
//! few lines since the last one, so its cost does not grow with the run's length; every line
//! is whole once written, so the files are as valid at any moment as run.json is.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::probe::health::HealthSample;
use crate::probe::Sample;
use crate::record::timeline::Bucket;

/// Samples kept in memory when a run is read back: thinned past this (twice at most), the
/// deepest listen queue always kept. At 4 samples a second, about 17 minutes at full
/// resolution; samples.jsonl keeps every one.
pub const SAMPLES_KEPT_ON_LOAD: usize = 4096;

/// The HTML report draws at most twice this many points per series: a day-long run's report
/// stays a few MB, and the files keep full resolution.
pub const CHART_POINTS: usize = 1000;

/// `run` with each config's samples and timeline thinned to [`CHART_POINTS`] (at most
/// twice that), keeping the worst seconds and the deepest queues; borrowed as it is when
/// every series is short enough already.
pub fn for_charts(run: &super::RunResult) -> std::borrow::Cow<'_, super::RunResult> {
    use std::borrow::Cow;
    let long = |c: &super::ConfigResult| {
        c.samples.len() > 2 * CHART_POINTS || c.recorded.timeline.len() > 2 * CHART_POINTS
    };
    if !run.configs.iter().any(long) {
        return Cow::Borrowed(run);
    }
    let mut thinned = run.clone();
    for c in &mut thinned.configs {
        let mut samples = crate::thin::Thinned::new(CHART_POINTS, crate::probe::thinning_key);
        std::mem::take(&mut c.samples)
            .into_iter()
            .for_each(|s| samples.push(s));
        c.samples = samples.into_vec();
        let mut timeline = crate::thin::Thinned::new(CHART_POINTS, worst_second);
        std::mem::take(&mut c.recorded.timeline)
            .into_iter()
            .for_each(|b| timeline.push(b));
        c.recorded.timeline = timeline.into_vec();
    }
    Cow::Owned(thinned)
}

/// Of two neighbouring seconds, the one with more failures, then the higher p99 latency.
fn worst_second(b: &Bucket) -> u64 {
    let failed = b.status_5xx + b.client_failures;
    (failed.min(u32::MAX as u64) << 32) | b.latency_p99_us.min(u32::MAX as u64)
}

/// Where a config's series are, relative to the run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SeriesFiles {
    /// Server-side samples, one [`Sample`] a line, e.g. `static-4/samples.jsonl`.
    pub samples: String,
    /// The per-second timeline, one bucket a line, e.g. `static-4/timeline.jsonl`.
    pub timeline: String,
    /// The health probes, one a line in the order they ended, e.g. `static-4/health.jsonl`:
    /// `health.samples` is empty in run.json then. `None`: inline (runs written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
}

impl SeriesFiles {
    /// The files of config directory `config_dir` (relative to the run directory).
    pub fn for_config(config_dir: &str) -> Self {
        SeriesFiles {
            samples: format!("{config_dir}/samples.jsonl"),
            timeline: format!("{config_dir}/timeline.jsonl"),
            health: Some(format!("{config_dir}/health.jsonl")),
        }
    }
}

/// Appends JSON lines to a file, creating it empty first.
pub struct LineWriter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    /// Bytes written so far.
    pub bytes: u64,
}

impl LineWriter {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(LineWriter {
            path: path.to_path_buf(),
            out: std::io::BufWriter::new(file),
            bytes: 0,
        })
    }

    /// Appends one line (buffered: call [`LineWriter::flush`] to make it visible).
    pub fn append<T: Serialize>(&mut self, item: &T) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(item)?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.out
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Reads a JSON-lines file, giving each item to `each`. A last line cut short (a run killed
/// mid-write) is ignored; any other bad line is an error.
pub fn read_lines<T: DeserializeOwned>(path: &Path, mut each: impl FnMut(T)) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = std::io::BufReader::new(file).lines().peekable();
    let mut n = 0;
    while let Some(line) = lines.next() {
        n += 1;
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(item) => each(item),
            Err(_) if lines.peek().is_none() => break,
            Err(e) => anyhow::bail!("{} line {n}: {e}", path.display()),
        }
    }
    Ok(())
}

/// The samples of a series file, thinned to [`SAMPLES_KEPT_ON_LOAD`].
pub fn read_samples(path: &Path) -> anyhow::Result<Vec<Sample>> {
    let mut kept = crate::thin::Thinned::new(SAMPLES_KEPT_ON_LOAD, crate::probe::thinning_key);
    read_lines(path, |s: Sample| kept.push(s))?;
    Ok(kept.into_vec())
}

/// Every health probe of a file, in time order.
pub fn read_health(path: &Path) -> anyhow::Result<Vec<HealthSample>> {
    let mut out = Vec::new();
    read_lines(path, |s: HealthSample| out.push(s))?;
    out.sort_by_key(|s| s.t_ms);
    Ok(out)
}

/// Every bucket of a timeline file.
pub fn read_timeline(path: &Path) -> anyhow::Result<Vec<Bucket>> {
    let mut out = Vec::new();
    read_lines(path, |b: Bucket| out.push(b))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_get_bounded_series() {
        let mut run = crate::results::test_fixture();
        let c = &mut run.configs[0];
        let one = c.recorded.timeline[0].clone();
        c.recorded.timeline = (0..86_400u64)
            .map(|t_s| Bucket {
                t_s,
                latency_p99_us: if t_s == 50_001 { 9_000_000 } else { 1_000 },
                ..one.clone()
            })
            .collect();
        let thinned = for_charts(&run);
        let tl = &thinned.configs[0].recorded.timeline;
        assert!(tl.len() <= 2 * CHART_POINTS, "{}", tl.len());
        assert!(
            tl.iter().any(|b| b.t_s == 50_001),
            "the worst second is kept"
        );
        let fixture = crate::results::test_fixture();
        assert!(matches!(
            for_charts(&fixture),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn append_then_read_back_ignoring_a_cut_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.jsonl");
        let mut w = LineWriter::create(&path).unwrap();
        for t_s in 0..3 {
            w.append(&Bucket {
                t_s,
                sent: 10 + t_s,
                ..Bucket::default()
            })
            .unwrap();
        }
        w.flush().unwrap();
        assert_eq!(w.bytes, std::fs::metadata(&path).unwrap().len());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"t_s\":3,\"se").unwrap();
        let back = read_timeline(&path).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[2].sent, 12);
    }
}
