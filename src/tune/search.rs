//! Which pools to measure and which to recommend: pure decisions over the model and the
//! points measured so far. The model proposes the knee (the smallest pool that meets the
//! objective); measurements bracket it (a failing pool below, a passing one above) and
//! bisect until the two are neighbours. The measurements decide, never the model alone.

use std::collections::BTreeMap;

use crate::model::{self, Machine, Pool, Prediction, Spawn, Traffic};

use super::measure::{scaled, Inputs, Outcome};
use super::objective::Settings;
use super::{CurvePoint, Point};

/// Largest pool the search considers, memory permitting.
pub const MAX_CHILDREN_CAP: u32 = 256;

/// The model fitted to the first point.
#[derive(Debug, Clone)]
pub struct Fit {
    pub inputs: Inputs,
    pub traffic: Vec<Traffic>,
    /// The listen backlog the stack runs with.
    pub backlog: u32,
}

impl Fit {
    /// The model's prediction for a pool.
    pub fn predict(&self, pool: &Pool) -> Option<Prediction> {
        let machine = Machine {
            cores: self.inputs.cores,
        };
        model::predict_all(pool, &machine, &self.inputs.service(), &self.traffic)
    }

    /// A static pool of `c` at the stack's backlog.
    pub fn static_pool(&self, c: u32) -> Pool {
        Pool {
            max_children: c,
            spawn: Spawn::Static,
            backlog: self.backlog,
        }
    }

    /// The prediction for a static pool of `c`.
    pub fn at(&self, c: u32) -> Option<Prediction> {
        self.predict(&self.static_pool(c))
    }

    /// The prediction for a static pool of `c` under the traffic × `factor`.
    pub fn at_scaled(&self, c: u32, factor: f64) -> Option<Prediction> {
        let machine = Machine {
            cores: self.inputs.cores,
        };
        model::predict_all(
            &self.static_pool(c),
            &machine,
            &self.inputs.service(),
            &scaled(&self.traffic, factor),
        )
    }
}

/// The model's curve for the report: static pools from 1 to twice the largest measured (at
/// least 8, at most 64), and past a memory ceiling within 32 so the chart shows it.
pub fn curve(fit: &Fit, points: &[Point], ceiling: u32) -> Vec<CurvePoint> {
    let largest = points.iter().map(|p| p.max_children).max().unwrap_or(1);
    let shown_ceiling = if ceiling <= 32 { ceiling + 1 } else { 0 };
    let top = (2 * largest).max(8).max(shown_ceiling).min(64);
    (1..=top)
        .filter_map(|c| {
            fit.at(c).map(|p| CurvePoint {
                max_children: c,
                latency_p99_ms: p.latency_p99_ms,
                queue_wait_p99_ms: p.queue_wait_p99_ms,
                refused_share: p.refused_share,
            })
        })
        .collect()
}

/// Whether a prediction meets the objective.
pub fn predicted_ok(p: &Prediction, s: &Settings) -> bool {
    p.latency_p99_ms <= s.p99_ms && p.refused_share <= s.max_error_share
}

/// Whether a measured outcome meets the objective.
pub fn measured_ok(o: &Outcome, s: &Settings) -> bool {
    o.latency_p99_ms <= s.p99_ms && o.error_share <= s.max_error_share
}

/// Most workers the budget holds at the p95 worker size (at least 0).
pub fn memory_ceiling(s: &Settings, i: &Inputs) -> u32 {
    let per = i.worker_pss_p95_mib.max(1.0);
    ((s.memory_budget_mib / per).floor() as u32).min(MAX_CHILDREN_CAP)
}

/// What the memory-only formula picks: budget ÷ average (median) worker size.
pub fn memory_only(s: &Settings, i: &Inputs) -> u32 {
    let per = i.worker_pss_p50_mib.max(1.0);
    ((s.memory_budget_mib / per).floor() as u32).clamp(1, MAX_CHILDREN_CAP * 4)
}

/// The model's choice within `1..=ceiling`: the smallest pool that meets the objective, or,
/// if none does, the one with the lowest p99 (`false` then).
pub fn model_choice(fit: &Fit, s: &Settings, ceiling: u32) -> (u32, bool) {
    let mut best = (1, f64::INFINITY);
    for c in 1..=ceiling.max(1) {
        let Some(p) = fit.at(c) else { continue };
        if predicted_ok(&p, s) {
            return (c, true);
        }
        // Past the cores a larger pool only moves the delay into service time: stop once the
        // p99 stops improving by 1 %.
        if p.latency_p99_ms < best.1 * 0.99 {
            best = (c, p.latency_p99_ms);
        }
    }
    (best.0, false)
}

/// A measured pool: whether it met the objective, and its p99 in ms.
pub type Done = BTreeMap<u32, (bool, f64)>;

/// The next pool to measure, given the points so far, the model's choice and the memory
/// ceiling; `None` when the knee is bracketed, or when climbing is hopeless (a doubling that
/// improved the measured p99 by less than 10 %: the cores, not the workers, are short).
pub fn next_point(done: &Done, choice: u32, ceiling: u32) -> Option<u32> {
    if !done.contains_key(&choice) && choice <= ceiling {
        return Some(choice);
    }
    let hi = done.iter().find(|(_, (ok, _))| *ok).map(|(&c, _)| c);
    let Some(hi) = hi else {
        // Nothing passed yet: go up, doubling, to the ceiling.
        let mut tops = done.iter().rev();
        let (&top, &(_, p99)) = tops.next()?;
        if let Some((_, &(_, before))) = tops.next() {
            if p99 > before * 0.9 {
                return None;
            }
        }
        let next = (top * 2).min(ceiling);
        return (next > top).then_some(next);
    };
    let lo = done
        .range(..hi)
        .filter(|(_, (ok, _))| !*ok)
        .map(|(&c, _)| c)
        .next_back();
    match lo {
        // No failing pool below the passing one: confirm the knee just below it.
        None if hi > 1 => (!done.contains_key(&(hi - 1))).then_some(hi - 1),
        None => None,
        Some(lo) if hi - lo > 1 => Some((lo + hi) / 2),
        Some(_) => None,
    }
}

/// The recommendation from the measurements: the smallest passing pool, else the measured
/// pool with the lowest p99.
pub fn recommend(points: &BTreeMap<u32, (Outcome, bool)>) -> Option<(u32, bool)> {
    if let Some((&c, _)) = points.iter().find(|(_, (_, ok))| *ok) {
        return Some((c, true));
    }
    points
        .iter()
        .min_by(|a, b| a.1 .0.latency_p99_ms.total_cmp(&b.1 .0.latency_p99_ms))
        .map(|(&c, _)| (c, false))
}

/// How much heavier the traffic may get (rates and burst sizes × factor) before the model
/// says the pool breaks the objective; 1 when it already does, capped at 10.
pub fn headroom(fit: &Fit, s: &Settings, c: u32) -> f64 {
    let ok = |f: f64| fit.at_scaled(c, f).is_some_and(|p| predicted_ok(&p, s));
    if !ok(1.0) {
        return 1.0;
    }
    let (mut lo, mut hi) = (1.0, 10.0);
    if ok(hi) {
        return hi;
    }
    for _ in 0..20 {
        let mid = (lo + hi) / 2.0;
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_then_bisects() {
        let pass = (true, 100.0);
        let mut done = Done::new();
        assert_eq!(next_point(&done, 6, 16), Some(6));
        done.insert(6, pass);
        assert_eq!(next_point(&done, 6, 16), Some(5));
        done.insert(5, (false, 900.0));
        assert_eq!(next_point(&done, 6, 16), None);
        // The model was optimistic: up by doubling, then bisect.
        let mut done = Done::from([(4, (false, 2000.0))]);
        assert_eq!(next_point(&done, 4, 16), Some(8));
        done.insert(8, pass);
        assert_eq!(next_point(&done, 4, 16), Some(6));
        done.insert(6, pass);
        assert_eq!(next_point(&done, 4, 16), Some(5));
        done.insert(5, (false, 900.0));
        assert_eq!(next_point(&done, 4, 16), None);
        // The ceiling stops the climb, and so does a doubling that did not help.
        let done = Done::from([(3, (false, 900.0))]);
        assert_eq!(next_point(&done, 3, 3), None);
        let done = Done::from([(2, (false, 900.0)), (4, (false, 850.0))]);
        assert_eq!(next_point(&done, 2, 64), None);
        // Never a pool over the memory ceiling, even the model's.
        assert_eq!(next_point(&Done::new(), 9, 3), None);
    }

    #[test]
    fn memory_caps_the_pool() {
        let inputs = Inputs {
            cores: 2.0,
            service_mean_ms: 100.0,
            service_cv: 0.0,
            cpu_per_request_ms: 1.0,
            io_share: 0.99,
            worker_pss_p50_mib: 20.0,
            worker_pss_p95_mib: 30.0,
            worker_pss_max_mib: 31.0,
            pss_growth_kib_per_request: 0.0,
        };
        let s = Settings {
            p99_ms: 300.0,
            max_error_share: 0.001,
            memory_budget_mib: 100.0,
            memory_source: "test".into(),
            max_time_s: 60,
        };
        assert_eq!(memory_ceiling(&s, &inputs), 3);
        assert_eq!(memory_only(&s, &inputs), 5);
        // I/O-bound bursts of 20 want many workers; the model's choice stays within 3.
        let fit = Fit {
            inputs,
            traffic: vec![Traffic::Burst {
                size: 20,
                every_ms: 2000,
                duration_ms: 10_000,
            }],
            backlog: 511,
        };
        let (c, ok) = model_choice(&fit, &s, 3);
        assert!(c <= 3 && !ok);
        let (c, ok) = model_choice(&fit, &s, 64);
        assert!(c > 3 && ok, "{c}");
    }
}
