//! What a replay phase's requests did, one by one (a few bytes each: the log's window is
//! already held in memory), folded at the end into figures per second of the log's window,
//! set beside the production figures an ALB log carries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::outcome::{Ending, FailureKind, Outcome};
use crate::scenario::replay::{p50_p99, AlbFigures, LogFormat, Replay, ReplayRequest};
use crate::scenario::{Arrival, Phase};

/// How one replayed request ended.
#[derive(Debug, Clone, Copy, Default)]
enum End {
    /// Not finished (yet).
    #[default]
    Open,
    Status(u16),
    Failed(FailureKind),
}

#[derive(Debug, Clone, Copy, Default)]
struct Mark {
    end: End,
    /// Intended send → done, µs.
    latency_us: u64,
    /// Sent → response head, µs.
    first_byte_us: Option<u64>,
}

/// One replay phase's requests as they finish.
#[derive(Debug, Clone)]
struct Track {
    phase: String,
    replay: Replay,
    entries: Arc<Vec<ReplayRequest>>,
    marks: Vec<Mark>,
}

/// The replay phases of a config.
#[derive(Debug, Clone, Default)]
pub struct ReplayTracker {
    /// Per phase; `None` for other phases.
    tracks: Vec<Option<Track>>,
}

impl ReplayTracker {
    pub fn new(phases: &[Phase]) -> Self {
        let tracks = phases
            .iter()
            .map(|ph| match &ph.arrival {
                Arrival::Replay(r) => Some(Track {
                    phase: ph.name.clone(),
                    marks: vec![Mark::default(); r.entries.len()],
                    entries: r.entries.clone(),
                    replay: (**r).clone(),
                }),
                _ => None,
            })
            .collect();
        ReplayTracker { tracks }
    }

    /// Notes how a replayed request ended (other outcomes are ignored).
    pub fn record(&mut self, o: &Outcome) {
        let Some(i) = o.replay else { return };
        let Some(Some(track)) = self.tracks.get_mut(o.phase) else {
            return;
        };
        let Some(mark) = track.marks.get_mut(i as usize) else {
            return;
        };
        let since = |a: Instant, b: Instant| b.saturating_duration_since(a).as_micros() as u64;
        *mark = Mark {
            end: match &o.ending {
                Ending::Response { status } => End::Status(*status),
                Ending::Failed { kind, .. } => End::Failed(*kind),
            },
            latency_us: since(o.intended, o.done),
            first_byte_us: o.sent.zip(o.first_byte).map(|(s, f)| since(s, f)),
        };
    }

    /// The comparisons, one per replay phase in phase order.
    pub fn result(&self) -> Vec<ReplayComparison> {
        self.tracks.iter().flatten().map(Track::result).collect()
    }
}

impl Track {
    fn result(&self) -> ReplayComparison {
        let r = &self.replay;
        let seconds = ((r.to_epoch_us - r.from_epoch_us + 999_999) / 1_000_000) as usize;
        let mut by_second: Vec<Vec<&Mark>> = vec![Vec::new(); seconds];
        for (e, m) in self.entries.iter().zip(&self.marks) {
            if let Some(s) = by_second.get_mut(e.second as usize) {
                s.push(m);
            }
        }
        let per_second = (by_second.iter().enumerate())
            .map(|(s, marks)| ReplaySecond {
                t_s: s as u64,
                production: r.production.get(s).cloned(),
                reproduction: figures(marks),
            })
            .collect();
        ReplayComparison {
            phase: self.phase.clone(),
            format: r.format,
            speed: r.speed,
            from: r.from.clone(),
            to: r.to.clone(),
            total: ReplaySecond {
                t_s: 0,
                production: r.production_total.clone(),
                reproduction: figures(&self.marks.iter().collect::<Vec<_>>()),
            },
            seconds: per_second,
        }
    }
}

fn figures(marks: &[&Mark]) -> ReproductionFigures {
    let mut f = ReproductionFigures {
        requests: marks.len() as u64,
        ..Default::default()
    };
    let (mut latency, mut first_byte) = (Vec::new(), Vec::new());
    for m in marks {
        let label = match m.end {
            End::Open => continue,
            End::Status(s) => s.to_string(),
            End::Failed(k) => format!("{k:?}").to_lowercase(),
        };
        f.completed += 1;
        *f.status.entry(label).or_default() += 1;
        latency.push(m.latency_us);
        first_byte.extend(m.first_byte_us);
    }
    (f.latency_p50_us, f.latency_p99_us) = p50_p99(&mut latency);
    (f.first_byte_p50_us, f.first_byte_p99_us) = p50_p99(&mut first_byte);
    f
}

/// A replay phase's reproduction beside the production figures of its log, per second of
/// the log's window (log time: at 2× speed, a second of the window took half a second).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ReplayComparison {
    /// Phase name.
    pub phase: String,
    /// The log's format (`alb` logs carry production figures, `nginx` logs do not).
    pub format: LogFormat,
    /// Speed factor the window was replayed at.
    pub speed: f64,
    /// Start of the window, RFC 3339 UTC.
    pub from: String,
    /// End of the window, RFC 3339 UTC.
    pub to: String,
    /// The whole window (`t_s` = 0).
    pub total: ReplaySecond,
    /// One entry per second of the window, in order.
    pub seconds: Vec<ReplaySecond>,
}

/// One second of the window: the requests that arrived in it in the log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ReplaySecond {
    /// The second, counted from the window's start.
    pub t_s: u64,
    /// What the ALB logged for them (`None` for an nginx log).
    pub production: Option<AlbFigures>,
    /// What the reproduction measured for the same requests.
    pub reproduction: ReproductionFigures,
}

/// The reproduction's figures over some replayed requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ReproductionFigures {
    /// Requests scheduled (as many as the log had).
    pub requests: u64,
    /// Requests that ended (a response or a client-side failure).
    pub completed: u64,
    /// Latency (intended send → response read: what a client waited; compare with the
    /// sum of the ALB's three processing times) median, µs.
    pub latency_p50_us: Option<u64>,
    /// Latency 99th percentile, µs.
    pub latency_p99_us: Option<u64>,
    /// Request sent → response head (compare with the ALB's target_processing_time)
    /// median, µs.
    pub first_byte_p50_us: Option<u64>,
    /// Request sent → response head, 99th percentile, µs.
    pub first_byte_p99_us: Option<u64>,
    /// Status code counts; requests with no response under their failure (`timeout`,
    /// `reset`, `refused`, ...).
    pub status: BTreeMap<String, u64>,
}

impl ReproductionFigures {
    /// Requests answered with a 5xx.
    pub fn count_5xx(&self) -> u64 {
        crate::scenario::replay::count_5xx(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::replay::AlbTimes;
    use std::time::Duration;

    fn phase() -> Phase {
        let entry = |at_us, second, line: &str| ReplayRequest {
            at_us,
            second,
            kind: 0,
            line: line.into(),
            method_len: 3,
            log_line: 1,
        };
        let times = |target_us| AlbTimes {
            request_us: Some(0),
            target_us: Some(target_us),
            response_us: Some(0),
            elb_status: Some(200),
            target_status: Some(200),
        };
        let production = vec![
            AlbFigures::of(0, [times(10), times(30)].iter()),
            AlbFigures::of(1, [times(50)].iter()),
        ];
        let replay = Replay {
            log: "alb.log".into(),
            format: LogFormat::Alb,
            sha256: String::new(),
            speed: 2.0,
            from: "2024-05-01T10:00:00Z".into(),
            to: "2024-05-01T10:00:02Z".into(),
            from_epoch_us: 0,
            to_epoch_us: 2_000_000,
            log_lines: 3,
            bad_lines: 0,
            bad_examples: Vec::new(),
            requests: 3,
            outside_window: 0,
            unmatched: 0,
            entries: Arc::new(vec![
                entry(0, 0, "GET /a"),
                entry(250_000, 0, "GET /b"),
                entry(500_000, 1, "GET /c"),
            ]),
            production: Arc::new(production),
            production_total: None,
        };
        Phase {
            name: "incident".into(),
            duration_ms: 1000,
            arrival: Arrival::Replay(Box::new(replay)),
            client: Default::default(),
        }
    }

    fn outcome(replay: u32, latency_ms: u64, ending: Ending) -> Outcome {
        let intended = Instant::now();
        Outcome {
            phase: 0,
            kind: 0,
            intended,
            sent: Some(intended),
            first_byte: Some(intended + Duration::from_millis(latency_ms)),
            done: intended + Duration::from_millis(latency_ms),
            ending,
            fpm: None,
            id: u64::from(replay) + 1,
            replay: Some(replay),
        }
    }

    #[test]
    fn requests_are_grouped_by_their_second_in_the_log_beside_production() {
        let mut t = ReplayTracker::new(&[phase()]);
        t.record(&outcome(0, 10, Ending::Response { status: 200 }));
        t.record(&outcome(1, 30, Ending::Response { status: 502 }));
        // Request 2 never ended: scheduled, not completed.
        let r = t.result();
        assert_eq!(r.len(), 1);
        let c = &r[0];
        assert_eq!((c.phase.as_str(), c.speed), ("incident", 2.0));
        assert_eq!(c.seconds.len(), 2);
        let s0 = &c.seconds[0];
        assert_eq!(s0.production.as_ref().unwrap().requests, 2);
        assert_eq!(s0.reproduction.requests, 2);
        assert_eq!(s0.reproduction.completed, 2);
        assert_eq!(s0.reproduction.latency_p50_us, Some(10_000));
        assert_eq!(s0.reproduction.latency_p99_us, Some(30_000));
        assert_eq!(s0.reproduction.count_5xx(), 1);
        let s1 = &c.seconds[1];
        assert_eq!(
            (s1.reproduction.requests, s1.reproduction.completed),
            (1, 0)
        );
        assert_eq!(
            s1.production.as_ref().unwrap().target_processing_p50_us,
            Some(50)
        );
        assert_eq!(c.total.reproduction.requests, 3);
    }
}
