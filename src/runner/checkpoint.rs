//! Checkpoints during a config's load: the progress display often, and every few seconds
//! run.json (small: no time series in it, the server-side figures as they stand) plus the
//! timeline's seconds closed since the last checkpoint, appended to `timeline.jsonl`. Its
//! cost is that of the last few seconds, not of the run so far.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::instances::PeaksFrom;
use crate::load::generator::Shared;
use crate::progress::ConfigProgress;
use crate::record::Recorded;
use crate::results::series::LineWriter;
use crate::results::RunResult;

/// How often run.json is rewritten during load.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);
/// How often a checkpoint serializes the histograms afresh; the others keep the last ones.
/// Serializing is most of a checkpoint's cost and grows with the buckets the run has filled
/// (up to a fixed ceiling: see `record::histograms`), so doing it every minute rather than
/// every 5 s keeps the cost per interval small whatever the run's length. The summaries
/// (percentiles, counts) are fresh at every checkpoint; the final save has everything.
const HISTOGRAMS_EVERY: Duration = Duration::from_secs(60);

/// Set to a file name, each checkpoint appends `seconds_into_load checkpoint_us
/// run_json_bytes timeline_bytes rss_kib checkpoint_cpu_us figures_us save_us` to it (the
/// timeline bytes appended by this checkpoint, fpmlab's resident memory after it, the CPU
/// time the checkpoint took, and its wall time split into gathering the figures and
/// writing run.json): what `scripts/soak.sh` measures. CPU time is what a busy machine
/// distorts least.
const STATS_ENV: &str = "FPMLAB_CHECKPOINT_LOG";

/// The timeline file and the first second not written to it yet.
pub struct TimelineOut {
    pub file: LineWriter,
    pub next_t: u64,
}

impl TimelineOut {
    /// Appends the buckets of `recorded` from `next_t` up to (not including) `before`.
    pub fn append(&mut self, recorded: &Recorded, before: u64) -> anyhow::Result<()> {
        for b in (recorded.timeline.iter()).filter(|b| b.t_s >= self.next_t && b.t_s < before) {
            self.file.append(b)?;
        }
        self.next_t = self.next_t.max(before);
        self.file.flush()
    }
}

/// What a checkpoint needs.
pub struct Checkpoint {
    pub i: usize,
    pub dir: PathBuf,
    pub state: Arc<Mutex<RunResult>>,
    pub shared: Arc<Shared>,
    /// The server-side peaks so far.
    pub server: PeaksFrom,
    pub progress: ConfigProgress,
    pub load_start: Instant,
    pub timeline: TimelineOut,
}

/// Updates the progress display, and run.json every few seconds, until `stop`; gives the
/// timeline file back.
pub async fn tick(mut c: Checkpoint, stop: CancellationToken) -> TimelineOut {
    let mut every = tokio::time::interval(Duration::from_millis(200));
    let mut last_checkpoint = Instant::now();
    let mut histograms_at: Option<Instant> = None;
    let mut warned = false;
    let mut stats = std::env::var_os(STATS_ENV).and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    loop {
        tokio::select! {
            _ = stop.cancelled() => return c.timeline,
            _ = every.tick() => {}
        }
        c.progress.update(&c.shared, c.load_start);
        if last_checkpoint.elapsed() < CHECKPOINT_INTERVAL {
            continue;
        }
        last_checkpoint = Instant::now();
        let began = Instant::now();
        let cpu_began = crate::clock::thread_cpu_us();
        let written_before = c.timeline.file.bytes;
        let fresh = histograms_at.is_none_or(|t| t.elapsed() >= HISTOGRAMS_EVERY);
        let earlier = (!fresh).then(|| c.state.lock().unwrap().configs[c.i].recorded.clone());
        let (mut recorded, closed) = {
            let r = c.shared.recorder.lock().unwrap();
            let result = match &earlier {
                Some(earlier) => r.result_keeping_histograms(earlier),
                None => r.result(),
            };
            (result, r.timeline_closed_before())
        };
        if fresh {
            histograms_at = Some(Instant::now());
        }
        if let Err(e) = c.timeline.append(&recorded, closed) {
            if !std::mem::replace(&mut warned, true) {
                c.progress
                    .note(&format!("warning: the timeline is not all saved: {e:#}"));
            }
        }
        recorded.timeline = Vec::new();
        let (server, by_phase) = c.server.read();
        {
            let mut s = c.state.lock().unwrap();
            let config = &mut s.configs[c.i];
            config.recorded = recorded;
            config.server = server;
            config.server_by_phase = by_phase;
        }
        let gathered_us = began.elapsed().as_micros();
        let _ = super::save(&c.state, &c.dir);
        if let Some(f) = stats.as_mut() {
            let took_us = began.elapsed().as_micros();
            let cpu_us = crate::clock::thread_cpu_us().saturating_sub(cpu_began);
            let size = std::fs::metadata(c.dir.join("run.json")).map_or(0, |m| m.len());
            let _ = writeln!(
                f,
                "{:.1} {took_us} {size} {} {} {cpu_us} {gathered_us} {}",
                c.load_start.elapsed().as_secs_f64(),
                c.timeline.file.bytes - written_before,
                rss_kib(),
                took_us - gathered_us,
            );
        }
    }
}

/// fpmlab's resident memory now, KiB (0 if /proc cannot say).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    (status.lines())
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
