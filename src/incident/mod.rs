//! The incident views computed per config after its run: the load balancer's view against
//! the APM's (seed 000) and the error windows on the timeline (seed 004). Attribution
//! (seed 002) is in `crate::attribution`, the lying health check in `crate::probe::health`.

pub mod apm;
pub mod windows;

pub use apm::LbVsApm;
pub use windows::ErrorWindows;

use std::fmt::Write as _;
use std::path::Path;

use crate::attribution::{self, Attribution};
use crate::record::FailedList;
use crate::results::ConfigResult;

/// Computes a config's incident views once its stack is down: attribution of `failed` from
/// the logs in `<config_dir>/logs` (also written per request to
/// `<config_dir>/failed-requests.tsv`), LB vs APM, and the error windows.
pub fn analyse(c: &mut ConfigResult, config_dir: &Path, failed: &FailedList) {
    let logs = config_dir.join("logs");
    let epoch_ms = c.load_start_epoch_us.unwrap_or(0) / 1000;
    c.attribution = Some(if failed.kept.is_empty() && failed.over_cap == 0 {
        Attribution::default()
    } else if !logs.is_dir() {
        let mut a = attribution::summarize(failed, &[], Vec::new());
        a.notes.push(format!(
            "no stack logs in {} (external stack?): failed requests were not attributed",
            logs.display()
        ));
        a
    } else {
        let (a, verdicts) = attribution::attribute(&logs, failed, epoch_ms);
        let mut tsv = String::from("id\tphase\tkind\toutcome\tt_ms\tcause\n");
        for (r, v) in failed.kept.iter().zip(&verdicts) {
            let cause = serde_json::to_value(v.cause).unwrap_or_default();
            let _ = writeln!(
                tsv,
                "{}\t{}\t{}\t{}\t{}\t{}",
                r.id,
                r.phase,
                r.kind,
                r.ending.label(),
                r.t_ms,
                cause.as_str().unwrap_or("?")
            );
        }
        let _ = std::fs::write(config_dir.join("failed-requests.tsv"), tsv);
        a
    });
    c.lb_vs_apm = Some(apm::build(
        &c.name,
        &c.recorded.summary,
        c.attribution.as_ref(),
    ));
    c.error_windows = Some(windows::find(&c.recorded.timeline));
}
