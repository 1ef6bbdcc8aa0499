//! The Prometheus text export of a run (`--export-prom FILE`): per config, the pool figures
//! of its last status-page sample under php-fpm_exporter's names and labels, and fpmlab's
//! latency, queue wait and service histograms over the whole config. No sample timestamps:
//! node_exporter's textfile collector, the usual way to feed such a file to Prometheus,
//! refuses them; `fpmlab_load_start_timestamp_seconds` says when each config ran.

use super::prom_text::{self, Families, Kind};
use super::{Artifact, Exporter};
use crate::results::{ConfigResult, RunResult};

pub struct PromExporter;

impl Exporter for PromExporter {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn render(&self, run: &RunResult) -> anyhow::Result<Vec<Artifact>> {
        let mut out = Families::default();
        for c in &run.configs {
            config(&mut out, c)?;
        }
        Ok(vec![Artifact::main(out.render())])
    }
}

/// The status page's address as php-fpm_exporter's `scrape_uri` label would name it.
pub fn scrape_uri(c: &ConfigResult) -> String {
    c.endpoints.as_ref().map_or_else(String::new, |e| {
        format!("{}{}", e.base_url, e.fpm_status_path)
    })
}

fn config(out: &mut Families, c: &ConfigResult) -> anyhow::Result<()> {
    let name = c.name.as_str();
    let labels: &prom_text::Labels = &[("config", name)];
    if let Some(epoch_us) = c.load_start_epoch_us {
        out.value(
            "fpmlab_load_start_timestamp_seconds",
            Kind::Gauge,
            "When this config's load started (Unix time).",
            labels,
            epoch_us as f64 / 1e6,
        );
    }
    // A fleet's own sampler reaches whichever instance the balancer picks: its last sample
    // belongs to no instance in particular. Each instance's peaks are among the fleet's
    // families, and its samples in its own samples.jsonl.
    let last = c.samples.iter().rev().find(|s| s.fpm.is_some());
    if let Some(last) = last.filter(|_| c.fleet.is_none()) {
        prom_text::pool_figures(out, labels, &scrape_uri(c), last);
    }
    let s = &c.recorded.summary;
    out.value(
        "fpmlab_requests_total",
        Kind::Counter,
        "Requests sent.",
        labels,
        s.sent as f64,
    );
    for (code, n) in &s.status_counts {
        out.value(
            "fpmlab_responses_total",
            Kind::Counter,
            "HTTP responses, by status code.",
            &[("config", name), ("code", code.as_str())],
            *n as f64,
        );
    }
    out.value(
        "fpmlab_client_failures_total",
        Kind::Counter,
        "Requests without an HTTP response (refused, reset, timed out, cut short).",
        labels,
        s.client_failures.total() as f64,
    );
    let h = c.recorded.histograms.decode()?;
    prom_text::request_histograms(out, labels, &h);
    super::fleet::prometheus(out, c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_exports_every_family() {
        let run = crate::results::test_fixture();
        let text = String::from_utf8(PromExporter.render(&run).unwrap().remove(0).bytes).unwrap();
        for family in [
            "phpfpm_active_processes",
            "phpfpm_listen_queue",
            "phpfpm_max_children_reached",
            "fpmlab_latency_seconds",
            "fpmlab_queue_wait_seconds",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {family} ")).count(),
                1,
                "{family}: {text}"
            );
        }
        let c = &run.configs[0];
        let count = format!(
            "fpmlab_latency_seconds_count{{config=\"{}\"}} {}\n",
            c.name, c.recorded.summary.latency.count
        );
        assert!(text.contains(&count), "{count} in {text}");
    }
}
