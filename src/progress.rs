//! Live progress on stderr: an indicatif bar per config with the phase, live rps, in-flight
//! and error counts. On a non-terminal (CI logs) it prints one line per phase instead; with
//! `--quiet`, nothing.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::load::generator::Shared;
use crate::scenario::Plan;

#[derive(Clone)]
pub struct ConfigProgress {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    name: String,
    bar: Option<ProgressBar>,
    phases: Vec<(String, u64)>,
    /// (last phase announced, last sent count and when) for plain output and the rate.
    state: Mutex<(usize, u64, Instant)>,
}

impl ConfigProgress {
    pub fn new(quiet: bool, name: &str, plan: &Plan) -> Self {
        if quiet {
            return ConfigProgress { inner: None };
        }
        let total_ms: u64 = plan.phases.iter().map(|p| p.duration_ms).sum();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total_ms);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12.bold} [{bar:30.cyan/blue}] {elapsed:>4} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        ConfigProgress {
            inner: Some(Arc::new(Inner {
                name: name.to_string(),
                bar,
                phases: plan
                    .phases
                    .iter()
                    .map(|p| (p.name.clone(), p.duration_ms))
                    .collect(),
                state: Mutex::new((usize::MAX - 1, 0, Instant::now())),
            })),
        }
    }

    /// A one-off line (stack starting, warnings).
    pub fn note(&self, text: &str) {
        if let Some(i) = &self.inner {
            match &i.bar {
                Some(bar) => bar.println(format!("{:>12} {text}", i.name)),
                None => eprintln!("[{}] {text}", i.name),
            }
        }
    }

    pub fn update(&self, shared: &Shared, load_start: Instant) {
        let Some(i) = &self.inner else { return };
        let live = *shared.live.lock().expect("live lock");
        let in_flight = shared.in_flight.load(Ordering::Relaxed);
        let phase = shared.phase.load(Ordering::Relaxed);
        let mut st = i.state.lock().expect("progress lock");
        let now = Instant::now();
        let dt = now.duration_since(st.2).as_secs_f64();
        let rps = if dt > 0.0 {
            (live.sent - st.1) as f64 / dt
        } else {
            0.0
        };
        let phase_name = match i.phases.get(phase) {
            Some((name, _)) => name.as_str(),
            None => "draining",
        };
        let errors = live.non_2xx + live.client_failures;
        let msg = format!(
            "{phase_name}  {rps:>6.0} rps  in-flight {in_flight:>4}  done {:>6}  errors {errors}",
            live.responses + live.client_failures
        );
        match &i.bar {
            Some(bar) => {
                bar.set_position(now.saturating_duration_since(load_start).as_millis() as u64);
                bar.set_message(msg);
            }
            None if st.0 != phase => {
                let what = i.phases.get(phase).map_or(
                    "all phases sent; waiting for in-flight requests".to_string(),
                    |(n, ms)| format!("phase {n} ({:.1} s)", *ms as f64 / 1000.0),
                );
                eprintln!("[{}] {what}", i.name);
            }
            None => {}
        }
        *st = (phase, live.sent, now);
    }

    pub fn finish(&self) {
        if let Some(Inner { bar: Some(bar), .. }) = self.inner.as_deref() {
            bar.finish_and_clear();
        }
    }
}
