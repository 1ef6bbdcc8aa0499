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
use crate::record::{FailedList, Recorded};

/// A config's incident views.
#[derive(Debug, Clone)]
pub struct Views {
    pub attribution: Attribution,
    pub lb_vs_apm: LbVsApm,
    pub error_windows: ErrorWindows,
}

/// Computes a config's incident views once its stack is down: attribution of `failed` from
/// the logs in `<config_dir>/logs` (also written per request to
/// `<config_dir>/failed-requests.tsv`), LB vs APM, and the error windows. `name` is the
/// config's; `load_start_epoch_us` places the recorder's times on the logs' clock, in the
/// stack's zone `zone_offset_s`.
pub fn analyse(
    name: &str,
    recorded: &Recorded,
    load_start_epoch_us: i64,
    zone_offset_s: i32,
    config_dir: &Path,
    failed: &FailedList,
) -> Views {
    let logs = config_dir.join("logs");
    let epoch_ms = load_start_epoch_us / 1000;
    let attribution = if failed.kept.is_empty() && failed.over_cap == 0 {
        Attribution::default()
    } else if !logs.is_dir() {
        let mut a = attribution::summarize(failed, &[], Vec::new());
        a.notes.push(format!(
            "no stack logs in {} (external stack?): failed requests were not attributed",
            logs.display()
        ));
        a
    } else {
        let (a, attributed) = attribution::attribute(&logs, failed, epoch_ms, zone_offset_s);
        let mut tsv = String::from("id\tphase\tkind\toutcome\tt_ms\tcause\n");
        for (r, v) in failed.kept.iter().zip(&attributed) {
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
    };
    Views {
        lb_vs_apm: apm::build(name, &recorded.summary, Some(&attribution)),
        error_windows: windows::find(&recorded.timeline),
        attribution,
    }
}
