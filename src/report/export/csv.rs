//! CSV: two files. `FILE` holds the summary (one row per config and scope: the whole run,
//! then each phase; a column per named metric, in its base unit), `FILE-timeline` the
//! per-second timeline of every config, joined with the server-side samples of that second;
//! a fleet adds one row per instance and second (`instance` and `health_state` set, and the
//! `sampled_*` columns from the instance's own samples of that second).

use std::fmt::Write;

use super::{Artifact, Exporter};
use crate::metric::{self, Unit};
use crate::results::Scope;
use crate::results::{ConfigResult, RunResult};

pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn render(&self, run: &RunResult) -> anyhow::Result<Vec<Artifact>> {
        Ok(vec![
            Artifact::main(summary(run)),
            Artifact {
                suffix: "-timeline",
                bytes: timeline(run).into_bytes(),
            },
        ])
    }

    fn suffixes(&self) -> &'static [&'static str] {
        &["", "-timeline"]
    }
}

/// Quotes a field if it needs it (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn number(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v}"),
    }
}

/// Column name of a metric: durations get `_us`.
fn column(m: &metric::Metric) -> String {
    match m.unit {
        Unit::Duration => format!("{}_us", m.name),
        _ => m.name.to_string(),
    }
}

/// The summary CSV.
pub fn summary(run: &RunResult) -> String {
    let mut out = String::from("config,scope,status");
    for m in metric::all() {
        out.push(',');
        out.push_str(&column(m));
    }
    out.push('\n');
    for c in &run.configs {
        let status = format!("{:?}", c.status).to_lowercase();
        let scopes =
            std::iter::once(None).chain(c.recorded.phases.iter().map(|p| Some(p.name.as_str())));
        for phase in scopes {
            let Some(scope) = Scope::of(c, phase) else {
                continue;
            };
            out.push_str(&format!(
                "{},{},{status}",
                field(&c.name),
                field(phase.unwrap_or("all"))
            ));
            for m in metric::all() {
                out.push(',');
                out.push_str(&number(scope.value(m)));
            }
            out.push('\n');
        }
    }
    out
}

const TIMELINE_HEADER: &str = "config,t_s,sent,completed,status_1xx,status_2xx,status_3xx,status_4xx,status_5xx,client_failures,dropped,latency_p50_us,latency_p90_us,latency_p99_us,queue_wait_p50_us,queue_wait_p99_us,service_p50_us,service_p99_us,max_in_flight,listen_queue_max,active_workers_max,total_workers_max,instance,health_state,sampled_active_workers_max,sampled_listen_queue_max,sampled_cpu_pct_max,sampled_memory_mib_max";

/// Per second of one config: the deepest listen queue and most active and total workers
/// the samples taken in that second show (`None` without samples). A fleet's config
/// sampler looks through the balancer, at whichever instance answers: its seconds take
/// the highest any one instance's own samples read instead (no total workers there).
fn server_second(c: &ConfigResult, t_s: u64) -> [Option<f64>; 3] {
    if let Some(f) = &c.fleet {
        let own = (f.instances.iter()).filter_map(|i| i.sampled.as_ref()?.second(t_s));
        let (queue, active) = own.fold((None, None), |(q, a), s| {
            (q.max(s.listen_queue_max), a.max(s.fpm_active_max))
        });
        return [queue.map(f64::from), active.map(f64::from), None];
    }
    let in_second = c.samples.iter().filter(|s| s.t_ms / 1000 == t_s);
    let mut out = [None::<u32>; 3];
    for s in in_second {
        let queue = s
            .accept_queue
            .as_ref()
            .map(|q| q.queued)
            .max(s.fpm.as_ref().map(|f| f.listen_queue));
        let vals = [
            queue,
            s.fpm.as_ref().map(|f| f.active_processes),
            s.fpm.as_ref().map(|f| f.total_processes),
        ];
        for (o, v) in out.iter_mut().zip(vals) {
            *o = (*o).max(v);
        }
    }
    out.map(|v| v.map(f64::from))
}

/// The timeline CSV.
pub fn timeline(run: &RunResult) -> String {
    let mut out = format!("{TIMELINE_HEADER}\n");
    for c in &run.configs {
        for b in &c.recorded.timeline {
            let p = |v: u64| (v > 0).then_some(v as f64);
            let [queue, active, total] = server_second(c, b.t_s);
            let cells = [
                Some(b.t_s as f64),
                Some(b.sent as f64),
                Some(b.completed as f64),
                Some(b.status_1xx as f64),
                Some(b.status_2xx as f64),
                Some(b.status_3xx as f64),
                Some(b.status_4xx as f64),
                Some(b.status_5xx as f64),
                Some(b.client_failures as f64),
                Some(b.dropped as f64),
                p(b.latency_p50_us),
                p(b.latency_p90_us),
                p(b.latency_p99_us),
                p(b.queue_wait_p50_us),
                p(b.queue_wait_p99_us),
                p(b.service_p50_us),
                p(b.service_p99_us),
                Some(b.max_in_flight as f64),
                queue,
                active,
                total,
            ];
            out.push_str(&field(&c.name));
            for v in cells {
                let _ = write!(out, ",{}", number(v));
            }
            out.push_str(",,,,,,\n");
        }
        // A fleet's instances: the same columns from the balancer's log, the instance, then
        // what its own samples read in that second.
        for r in super::fleet::csv_rows(c) {
            out.push_str(&field(&c.name));
            for v in r.cells {
                let _ = write!(out, ",{}", number(v));
            }
            let _ = write!(out, ",{},{}", field(&r.instance), field(&r.health_state));
            for v in r.sampled {
                let _ = write!(out, ",{}", number(v));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_numbers() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(number(Some(12.0)), "12");
        assert_eq!(number(Some(0.0125)), "0.0125");
        assert_eq!(number(None), "");
        assert_eq!(TIMELINE_HEADER.split(',').count(), 28);
    }

    /// A fleet's instance rows carry the instance's own samples of that second, empty where
    /// it had none; every row has the header's columns.
    #[test]
    fn instance_rows_carry_their_own_samples() {
        use crate::fleet_view::{
            FleetView, InstanceSampled, InstanceSecond, InstanceView, SampledSecond,
        };
        let mut run = crate::results::test_fixture();
        let second = |t_s| InstanceSecond {
            t_s,
            requests: 5,
            state: "UP".into(),
            ..InstanceSecond::default()
        };
        let sampled = InstanceSampled {
            seconds: vec![SampledSecond {
                t_s: 1,
                fpm_active_max: Some(1),
                listen_queue_max: Some(12),
                cpu_pct_max: Some(3.5),
                memory_mib_max: Some(20.25),
                ..SampledSecond::default()
            }],
            ..InstanceSampled::default()
        };
        run.configs[0].fleet = Some(FleetView {
            instances: vec![InstanceView {
                name: "i2".into(),
                seconds: vec![second(0), second(1)],
                sampled: Some(sampled),
                ..InstanceView::default()
            }],
            ..FleetView::default()
        });
        let text = timeline(&run);
        let columns = TIMELINE_HEADER.split(',').count();
        assert!(
            text.lines().all(|l| l.split(',').count() == columns),
            "{text}"
        );
        let rows: Vec<&str> = text.lines().filter(|l| l.contains(",i2,")).collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert!(rows[0].ends_with(",i2,UP,,,,"), "{}", rows[0]);
        assert!(rows[1].ends_with(",i2,UP,1,12,3.5,20.25"), "{}", rows[1]);
        // The config's own row of that second: the instance's, not the balancer's view.
        let own = format!("{},1,", run.configs[0].name);
        let row = text.lines().find(|l| l.starts_with(&own)).unwrap();
        assert!(row.ends_with(",12,1,,,,,,,"), "{row}");
    }
}
