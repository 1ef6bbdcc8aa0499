//! Recording: outcomes in, histograms, counts and a per-second timeline out. Memory is
//! bounded by (phases × kinds) histograms plus one small bucket per second: no per-request
//! data is kept.

pub mod clients;
pub mod failed;
pub mod histograms;
pub mod outcome;
pub mod replay;
pub mod request_log;
#[cfg(test)]
mod result_tests;
pub mod summary;
pub mod timeline;
pub mod tls;

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::clock::RunClock;
use crate::scenario::{phase_starts_us, Phase, RequestKind};
pub use failed::{FailedEnding, FailedList, FailedRequest};
pub use histograms::{Histograms, Percentiles, SerializedHistograms};
pub use outcome::{Ending, FailureKind, FpmTiming, Outcome};
pub use summary::{Counts, FailureCounts, Summary};
use timeline::{Bucket, Series, Timeline};
pub use tls::{Handshake, TlsFigures, TlsTally};

/// How many distinct client-failure messages a config keeps as examples.
const MAX_ERROR_EXAMPLES: usize = 10;

#[derive(Debug, Default, Clone)]
struct Cell {
    counts: Counts,
    hist: Histograms,
}

/// Live figures for the progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live {
    pub sent: u64,
    pub responses: u64,
    pub non_2xx: u64,
    pub client_failures: u64,
    pub dropped: u64,
}

/// A phase as the recorder keeps it.
#[derive(Debug, Clone)]
struct PhaseSlot {
    name: String,
    start_us: u64,
    duration_ms: u64,
}

/// Accumulates one config's outcomes.
#[derive(Debug, Clone)]
pub struct Recorder {
    load_start: Instant,
    /// The phases it was given: names, start offsets and planned lengths.
    phases: Vec<PhaseSlot>,
    /// The request kinds' names, in scenario order.
    kind_names: Vec<String>,
    kinds: usize,
    /// Indexed `phase * kinds + kind`.
    cells: Vec<Cell>,
    timeline: Timeline,
    live: Live,
    error_examples: Vec<String>,
    /// Failed requests one by one (bounded), for timeout-chain attribution.
    failed: FailedList,
    /// The generator's TLS handshakes (https targets).
    tls: TlsTally,
    /// Where every finished request goes, one line each (`--request-log`).
    log: Option<request_log::RequestLogSender>,
    /// Replay phases' requests one by one, for the production-vs-reproduction figures.
    replay: replay::ReplayTracker,
    /// What the clients of each phase with client behaviour did, by phase index.
    pub clients: Vec<(usize, clients::ClientsPhase)>,
}

impl Recorder {
    pub fn new(load_start: Instant, phases: &[Phase], kinds: &[RequestKind]) -> Self {
        Recorder {
            load_start,
            phases: (phases.iter().zip(phase_starts_us(phases)))
                .map(|(ph, start_us)| PhaseSlot {
                    name: ph.name.clone(),
                    start_us,
                    duration_ms: ph.duration_ms,
                })
                .collect(),
            kind_names: kinds.iter().map(|k| k.name.clone()).collect(),
            kinds: kinds.len(),
            cells: vec![Cell::default(); phases.len() * kinds.len()],
            timeline: Timeline::default(),
            live: Live::default(),
            error_examples: Vec::new(),
            failed: FailedList::default(),
            tls: TlsTally::default(),
            log: None,
            replay: replay::ReplayTracker::new(phases),
            clients: Vec::new(),
        }
    }

    /// A TLS handshake of the generator ended.
    pub fn on_tls_handshake(&mut self, h: Handshake) {
        self.tls.add(h);
    }

    /// Keeps only the last `keep_s` seconds of the timeline in memory, for a caller that
    /// streams it (see [`Recorder::timeline_closed_before`]): memory flat however long the run.
    pub fn bounded_timeline(mut self, keep_s: u64) -> Self {
        self.timeline = Timeline::bounded(keep_s);
        self
    }

    /// Seconds before this one are final in [`Recorder::result`]'s timeline.
    pub fn timeline_closed_before(&self) -> u64 {
        self.timeline.closed_before()
    }

    /// The whole config's histograms so far (all phases and kinds merged).
    pub fn histograms(&self) -> Histograms {
        let mut total = Histograms::default();
        for c in &self.cells {
            total.merge(&c.hist);
        }
        total
    }

    /// Also sends every finished request to a per-request log.
    pub fn with_request_log(mut self, log: Option<request_log::RequestLogSender>) -> Self {
        self.log = log;
        self
    }

    fn cell(&mut self, phase: usize, kind: usize) -> &mut Cell {
        &mut self.cells[phase * self.kinds + kind]
    }

    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.load_start).as_secs()
    }

    /// A request is being sent; `in_flight` counts it.
    pub fn on_send(&mut self, phase: usize, kind: usize, at: Instant, in_flight: u64) {
        let c = &mut self.cell(phase, kind).counts;
        c.scheduled += 1;
        c.sent += 1;
        self.live.sent += 1;
        let b = self.timeline.bucket(self.second(at));
        b.sent += 1;
        b.max_in_flight = b.max_in_flight.max(in_flight);
    }

    /// A request waited this long for a free connection of `load.max_connections`.
    pub fn on_connection_wait(&mut self, phase: usize, kind: usize, wait: std::time::Duration) {
        let h = self.cell(phase, kind).counts.connection_wait_mut();
        histograms::record(h, wait.as_micros() as u64);
    }

    /// A scheduled request was not sent: `max_in_flight` was reached.
    pub fn on_dropped(&mut self, phase: usize, kind: usize, at: Instant) {
        let c = &mut self.cell(phase, kind).counts;
        c.scheduled += 1;
        c.dropped += 1;
        self.live.dropped += 1;
        self.timeline.bucket(self.second(at)).dropped += 1;
    }

    /// Records a finished request.
    pub fn record(&mut self, o: &Outcome) {
        self.replay.record(o);
        let t_s = self.second(o.done);
        let done_us = o
            .done
            .saturating_duration_since(self.load_start)
            .as_micros() as u64;
        let latency_us = o.done.saturating_duration_since(o.intended).as_micros() as u64;
        let mut timed_latency = false;
        let cell = self.cell(o.phase, o.kind);
        cell.counts.last_done_us = cell.counts.last_done_us.max(done_us);
        let lag_us =
            (o.sent).map(|sent| sent.saturating_duration_since(o.intended).as_micros() as u64);
        if let Some(lag_us) = lag_us {
            histograms::record(&mut cell.hist.client_lag, lag_us);
        }
        match &o.ending {
            Ending::Response { status } => {
                cell.counts.responses += 1;
                *cell.counts.status.entry(*status).or_default() += 1;
                histograms::record(&mut cell.hist.latency, latency_us);
                if let Some(sent) = o.sent {
                    histograms::record(
                        &mut cell.hist.response_time,
                        o.done.saturating_duration_since(sent).as_micros() as u64,
                    );
                }
                timed_latency = true;
            }
            Ending::Failed { kind, .. } => {
                cell.counts.failures.add(*kind);
                if *kind == FailureKind::Timeout {
                    // The user waited the whole timeout: that belongs in what they saw.
                    histograms::record(&mut cell.hist.latency, latency_us);
                    timed_latency = true;
                }
            }
        }
        let mut timing = (None, None);
        match (&o.fpm, o.sent) {
            (Some(fpm), Some(sent)) => {
                let wait = fpm.request_time_us - RunClock::recent_epoch_us(sent);
                if wait < 0 {
                    cell.counts.clamped_queue_waits += 1;
                }
                let service = (fpm.script_end_us - fpm.script_start_us).max(0) as u64;
                if let Some(mem) = fpm.peak_memory_bytes {
                    cell.counts.app_peak_memory_bytes = cell.counts.app_peak_memory_bytes.max(mem);
                }
                histograms::record(&mut cell.hist.queue_wait, wait.max(0) as u64);
                histograms::record(&mut cell.hist.service, service);
                self.timeline
                    .add(t_s, Series::QueueWait, wait.max(0) as u64);
                self.timeline.add(t_s, Series::Service, service);
                timing = (Some(wait), Some(service));
            }
            _ => cell.counts.unreported += 1,
        }
        let b = self.timeline.bucket(t_s);
        b.completed += 1;
        match &o.ending {
            Ending::Response { status } => {
                match status / 100 {
                    1 => b.status_1xx += 1,
                    2 => b.status_2xx += 1,
                    3 => b.status_3xx += 1,
                    4 => b.status_4xx += 1,
                    _ => b.status_5xx += 1,
                }
                if *status >= 400 {
                    *b.error_status_counts.entry(status.to_string()).or_default() += 1;
                }
                self.live.responses += 1;
                if !(200..300).contains(status) {
                    self.live.non_2xx += 1;
                }
            }
            Ending::Failed { kind, message } => {
                b.client_failures += 1;
                self.live.client_failures += 1;
                let example = format!("{kind:?}: {message}").to_lowercase();
                if self.error_examples.len() < MAX_ERROR_EXAMPLES
                    && !self.error_examples.contains(&example)
                {
                    self.error_examples.push(example);
                }
            }
        }
        if timed_latency {
            self.timeline.add_latency(t_s, latency_us);
        }
        if let Some(log) = &self.log {
            let since =
                |at: Instant| at.saturating_duration_since(self.load_start).as_micros() as u64;
            let (status, failure) = match &o.ending {
                Ending::Response { status } => (Some(*status), None),
                Ending::Failed { kind, .. } => (None, Some(*kind)),
            };
            log.send(request_log::Row {
                config: 0,
                phase: o.phase,
                kind: o.kind,
                id: o.id,
                intended_us: since(o.intended),
                sent_us: o.sent.map(since),
                done_us,
                status,
                failure,
                queue_wait_us: timing.0,
                service_us: timing.1,
                pid: o.fpm.map(|f| f.pid),
            });
        }
        if let Some(lag_us) = lag_us {
            self.timeline.add(t_s, Series::ClientLag, lag_us);
        }
        let ending = match &o.ending {
            Ending::Response { status } if *status < 400 => None,
            Ending::Response { status } => Some(FailedEnding::Status(*status)),
            Ending::Failed { kind, .. } => Some(FailedEnding::Client(*kind)),
        };
        if let Some(ending) = ending {
            self.failed.push(FailedRequest {
                id: o.id,
                phase: o.phase,
                kind: o.kind,
                ending,
                t_ms: done_us / 1000,
                reported_by_app: o.fpm.is_some(),
            });
        }
    }

    /// The failed requests recorded so far (status >= 400 or no response).
    pub fn failed(&self) -> &FailedList {
        &self.failed
    }

    /// Live counters for progress display.
    pub fn live(&self) -> Live {
        self.live
    }

    /// Everything recorded so far (callable mid-run for checkpoints).
    pub fn result(&self) -> Recorded {
        self.result_with(None)
    }

    /// Like [`Recorder::result`], but with the serialized histograms of `earlier` (an
    /// earlier result of this recorder) instead of fresh ones. Serializing is most of what a
    /// result costs, and it grows with the histogram buckets the run has filled: a frequent
    /// checkpoint takes the summaries fresh and the histograms now and then.
    pub fn result_keeping_histograms(&self, earlier: &Recorded) -> Recorded {
        self.result_with(Some(earlier))
    }

    fn result_with(&self, earlier: Option<&Recorded>) -> Recorded {
        let serialize = |h: &Histograms, old: Option<&SerializedHistograms>| match old {
            Some(old) => old.clone(),
            None => h.serialize(),
        };
        let mut total = Cell::default();
        let phase_results = (self.phases.iter())
            .enumerate()
            .map(|(p, ph)| {
                let mut phase_cell = Cell::default();
                let start = ph.start_us;
                let kinds = (self.kind_names.iter())
                    .enumerate()
                    .map(|(k, kind)| {
                        let cell = &self.cells[p * self.kinds + k];
                        phase_cell.counts.merge(&cell.counts);
                        phase_cell.hist.merge(&cell.hist);
                        let old = earlier
                            .and_then(|e| e.phases.get(p))
                            .and_then(|ph| ph.kinds.get(k));
                        KindResult {
                            name: kind.clone(),
                            summary: Summary::new(&cell.counts, &cell.hist, start),
                            histograms: serialize(&cell.hist, old.map(|o| &o.histograms)),
                        }
                    })
                    .collect();
                total.counts.merge(&phase_cell.counts);
                total.hist.merge(&phase_cell.hist);
                PhaseResult {
                    name: ph.name.clone(),
                    start_ms: start / 1000,
                    duration_ms: ph.duration_ms,
                    summary: Summary::new(&phase_cell.counts, &phase_cell.hist, start),
                    kinds,
                }
            })
            .collect();
        Recorded {
            summary: Summary::new(&total.counts, &total.hist, 0),
            histograms: serialize(&total.hist, earlier.map(|e| &e.histograms)),
            phases: phase_results,
            timeline: self.timeline.snapshot(),
            error_examples: self.error_examples.clone(),
            tls: self.tls.figures(),
            replay: self.replay.result(),
            clients: self.clients.iter().map(|(_, c)| c.clone()).collect(),
        }
    }

    /// The clients population of phase `phase`, created on first use.
    pub fn clients_of(&mut self, phase: usize) -> &mut clients::ClientsPhase {
        let k = match self.clients.iter().position(|(p, _)| *p == phase) {
            Some(k) => k,
            None => {
                let name = self
                    .phases
                    .get(phase)
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                let c = clients::ClientsPhase {
                    phase: name,
                    ..Default::default()
                };
                self.clients.push((phase, c));
                self.clients.len() - 1
            }
        };
        &mut self.clients[k].1
    }
}

/// What the recorder produced for one config.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Recorded {
    /// Figures over the whole config (all phases and kinds).
    pub summary: Summary,
    /// The whole config's histograms.
    pub histograms: SerializedHistograms,
    /// Per phase, in scenario order.
    pub phases: Vec<PhaseResult>,
    /// One bucket per second since the load started.
    pub timeline: Vec<Bucket>,
    /// Up to ten distinct client-failure messages.
    pub error_examples: Vec<String>,
    /// The generator's TLS handshakes; absent for an `http://` target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFigures>,
    /// Replay phases: the reproduction per second of the log's window, beside the
    /// production figures of an ALB log. Empty without replay phases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replay: Vec<replay::ReplayComparison>,
    /// What the clients did, one entry per phase with client behaviour (a retry policy or
    /// `pattern = "clients"`); empty without.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<clients::ClientsPhase>,
}

impl Default for SerializedHistograms {
    fn default() -> Self {
        Histograms::default().serialize()
    }
}

/// One phase of one config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct PhaseResult {
    /// Phase name.
    pub name: String,
    /// Start, ms after the load started.
    pub start_ms: u64,
    /// Planned length, ms.
    pub duration_ms: u64,
    /// Figures over the phase's requests (all kinds).
    pub summary: Summary,
    /// Per request kind, in scenario order.
    pub kinds: Vec<KindResult>,
}

/// One request kind within one phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct KindResult {
    /// Request kind name.
    pub name: String,
    /// Figures.
    pub summary: Summary,
    /// Histograms, mergeable.
    pub histograms: SerializedHistograms,
}
