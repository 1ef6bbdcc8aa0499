//! What the clients did, per phase with client behaviour (retries, self-disabling clients):
//! intended vs attempted requests, the retry amplification, the retries the budget refused,
//! the goodput, and the clients lost. Lines under the terminal table, rows for the Markdown
//! export's table.

use crate::record::clients::ClientsPhase;
use crate::results::{ConfigResult, RunResult};

/// The Markdown table's columns.
pub const HEADERS: [&str; 11] = [
    "config",
    "phase",
    "intended",
    "attempted",
    "retries",
    "amplification",
    "suppressed",
    "out of attempts",
    "succeeded",
    "goodput/s",
    "clients lost",
];

fn lost(p: &ClientsPhase) -> String {
    if p.clients == 0 {
        return "-".into();
    }
    let when = match (p.lost_at_ms.first(), p.lost_at_ms.last()) {
        (Some(a), Some(b)) => format!(
            " ({:.1} s to {:.1} s)",
            *a as f64 / 1000.0,
            *b as f64 / 1000.0
        ),
        _ => String::new(),
    };
    format!("{} of {}{when}", p.lost, p.clients)
}

/// One sentence per phase with client behaviour.
pub fn line(config: &str, p: &ClientsPhase) -> String {
    let mut text = format!(
        "{config}: clients of phase {}: meant {} requests, sent {} ({} retries, amplification {:.2}×",
        p.phase, p.intended, p.attempted, p.retries, p.amplification
    );
    if p.retries_suppressed > 0 {
        text.push_str(&format!(
            ", {} refused by the retry budget",
            p.retries_suppressed
        ));
    }
    if p.retries_exhausted > 0 {
        text.push_str(&format!(", {} out of attempts", p.retries_exhausted));
    }
    text.push_str(&format!(
        "); {} got a 2xx (goodput {:.1}/s)",
        p.succeeded, p.goodput_per_s
    ));
    if p.clients > 0 {
        text.push_str(&format!("; clients switched off for good: {}", lost(p)));
    }
    text
}

/// The lines of every config, for the terminal; empty without client behaviour.
pub fn render(configs: &[ConfigResult]) -> String {
    let mut out = String::new();
    for c in configs {
        for p in &c.recorded.clients {
            out.push_str(&line(&c.name, p));
            out.push('\n');
        }
    }
    out
}

/// The Markdown table's rows, one per phase with client behaviour (columns: [`HEADERS`]).
pub fn rows(run: &RunResult) -> Vec<Vec<String>> {
    (run.configs.iter())
        .flat_map(|c| c.recorded.clients.iter().map(move |p| (c, p)))
        .map(|(c, p)| {
            vec![
                c.name.clone(),
                p.phase.clone(),
                p.intended.to_string(),
                p.attempted.to_string(),
                p.retries.to_string(),
                format!("{:.2}×", p.amplification),
                p.retries_suppressed.to_string(),
                p.retries_exhausted.to_string(),
                p.succeeded.to_string(),
                format!("{:.1}", p.goodput_per_s),
                lost(p),
            ]
        })
        .collect()
}

/// Each phase's goodput per second, from the phase's first second (the load's time in
/// `goodput_by_second` before it is another phase's).
pub fn goodput_from_phase_start<'a>(run: &RunResult, p: &'a ClientsPhase) -> (u64, &'a [u64]) {
    let start_ms: u64 = (run.plan.phases.iter())
        .take_while(|ph| ph.name != p.phase)
        .map(|ph| ph.duration_ms)
        .sum();
    let from = (start_ms / 1000) as usize;
    (
        from as u64,
        p.goodput_by_second.get(from..).unwrap_or_default(),
    )
}

/// One line per phase with client behaviour, for the Markdown export: its client timeout,
/// and its goodput per second from the phase's start, so an outage and the recovery show.
pub fn goodput_lines(run: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    for c in &run.configs {
        for p in &c.recorded.clients {
            let timeout = (run.plan.phases.iter())
                .find(|ph| ph.name == p.phase)
                .map(|ph| ph.client.timeout_ms_or(run.plan.load.client_timeout_ms));
            let (from, seconds) = goodput_from_phase_start(run, p);
            let per_s: Vec<String> = seconds.iter().map(u64::to_string).collect();
            let mut line = format!("{} / {}:", c.name, p.phase);
            if let Some(t) = timeout {
                line.push_str(&format!(" client timeout {t} ms;"));
            }
            line.push_str(&format!(
                " goodput per second from {from} s: {}",
                if per_s.is_empty() {
                    "none".to_string()
                } else {
                    per_s.join(", ")
                }
            ));
            out.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retrying_phase_says_what_it_cost() {
        let p = ClientsPhase {
            phase: "storm".into(),
            intended: 100,
            attempted: 250,
            retries: 150,
            succeeded: 40,
            amplification: 2.5,
            retries_suppressed: 7,
            retries_exhausted: 30,
            goodput_per_s: 4.0,
            ..Default::default()
        };
        let l = line("s4", &p);
        assert!(l.contains("meant 100 requests, sent 250 (150 retries, amplification 2.50×, 7 refused by the retry budget, 30 out of attempts); 40 got a 2xx (goodput 4.0/s)"), "{l}");
        assert!(!l.contains("switched off"), "{l}");
        let c = ClientsPhase {
            clients: 10,
            lost: 2,
            lost_at_ms: vec![1500, 2500],
            ..p
        };
        assert!(line("s4", &c).ends_with("switched off for good: 2 of 10 (1.5 s to 2.5 s)"));
    }
}
