//! The live metrics endpoint (`--metrics-listen 127.0.0.1:PORT`): while a run goes on, GET
//! `/metrics` answers the latest pool figures and the histograms so far in the Prometheus
//! text format, with the same names and labels as the `--export-prom` file, so a local
//! Prometheus can scrape a run as it would php-fpm_exporter. A fleet adds, per instance
//! (label `instance`), the latest reading of that instance's own sampler. Loopback only: it
//! tells anyone who can connect how the stack is doing.
//!
//! The HTTP side is a few lines on tokio's TcpListener rather than an HTTP server crate: one
//! path, one method, a small body, connection closed after each answer, and Prometheus as
//! the only client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::fleet_view::SampledReading;
use crate::load::generator::Shared;
use crate::probe::Sample;
use crate::report::export::fleet::sampled_now;
use crate::report::export::prom_text::{self, Families, Kind};

/// One config as the endpoint shows it.
struct ConfigLive {
    name: String,
    scrape_uri: String,
    last: Option<Sample>,
    shared: Option<Arc<Shared>>,
    /// A fleet: its own sampler reaches whichever instance the balancer picks, so its pool
    /// figures are left out for each instance's.
    fleet: bool,
    /// A fleet: each instance's latest sample, by name.
    instances: BTreeMap<String, InstanceLive>,
}

/// A fleet instance's latest sample, taken directly (not through the balancer).
struct InstanceLive {
    reading: SampledReading,
    /// The sample, if its status page answered (php-fpm_exporter's figures).
    answered: Option<Sample>,
    /// Its own status page.
    scrape_uri: String,
}

/// What the endpoint serves; the runner updates it as configs start and samples arrive.
#[derive(Default)]
pub struct LiveMetrics {
    configs: Mutex<Vec<ConfigLive>>,
}

impl LiveMetrics {
    /// A config's load starts: its histograms come from `shared` from now on. `fleet`: its
    /// pool figures are its instances' (see [`LiveMetrics::instance_sample`]).
    pub fn start_config(&self, name: &str, scrape_uri: String, shared: Arc<Shared>, fleet: bool) {
        let mut configs = self.configs.lock().unwrap();
        configs.retain(|c| c.name != name);
        configs.push(ConfigLive {
            name: name.to_string(),
            scrape_uri,
            last: None,
            shared: Some(shared),
            fleet,
            instances: BTreeMap::new(),
        });
    }

    /// A sample of config `name` was taken.
    pub fn sample(&self, name: &str, s: &Sample) {
        let mut configs = self.configs.lock().unwrap();
        if let Some(c) = configs.iter_mut().find(|c| c.name == name) {
            // A fleet's pool figures are its instances' own: its sampler's are never shown.
            if s.fpm.is_some() && !c.fleet {
                c.last = Some(s.clone());
            }
        }
    }

    /// A sample of instance `instance` of config `name`'s fleet was taken from its status
    /// page `scrape_uri`. Every sample replaces the last, an unanswered status page too: a
    /// reading it lacks is then left out of the text rather than shown stale.
    pub fn instance_sample(&self, name: &str, instance: &str, scrape_uri: &str, s: &Sample) {
        let mut configs = self.configs.lock().unwrap();
        if let Some(c) = configs.iter_mut().find(|c| c.name == name) {
            let latest = InstanceLive {
                reading: SampledReading::of(s),
                answered: s.fpm.is_some().then(|| s.clone()),
                scrape_uri: scrape_uri.to_string(),
            };
            c.instances.insert(instance.to_string(), latest);
        }
    }

    /// The exposition text now.
    pub fn render(&self) -> String {
        let configs = self.configs.lock().unwrap();
        let mut out = Families::default();
        for c in configs.iter() {
            if let Some(s) = &c.last {
                let labels = [("config", c.name.as_str())];
                prom_text::pool_figures(&mut out, &labels, &c.scrape_uri, s);
            }
            for (instance, latest) in &c.instances {
                let labels = [("config", c.name.as_str()), ("instance", instance.as_str())];
                sampled_now(&mut out, &labels, &latest.reading);
                if let Some(s) = &latest.answered {
                    prom_text::pool_figures(&mut out, &labels, &latest.scrape_uri, s);
                }
            }
            let Some(shared) = &c.shared else { continue };
            let labels: &prom_text::Labels = &[("config", c.name.as_str())];
            let live = *shared.live.lock().unwrap();
            out.value(
                "fpmlab_requests_total",
                Kind::Counter,
                "Requests sent.",
                labels,
                live.sent as f64,
            );
            out.value(
                "fpmlab_client_failures_total",
                Kind::Counter,
                "Requests without an HTTP response (refused, reset, timed out, cut short).",
                labels,
                live.client_failures as f64,
            );
            out.value(
                "fpmlab_in_flight_requests",
                Kind::Gauge,
                "Requests sent and not answered yet.",
                labels,
                shared.in_flight.load(std::sync::atomic::Ordering::Relaxed) as f64,
            );
            let h = shared.recorder.lock().unwrap().histograms();
            prom_text::request_histograms(&mut out, labels, &h);
        }
        out.render()
    }
}

/// Parses `--metrics-listen`, refusing anything but a loopback address.
pub fn parse_listen(text: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = text.parse().map_err(|_| {
        anyhow::anyhow!("--metrics-listen {text}: give an address and port, e.g. 127.0.0.1:9477")
    })?;
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "--metrics-listen {text}: the endpoint listens on loopback only (127.0.0.1 or [::1]); \
         a Prometheus on another machine can scrape it through an SSH tunnel"
    );
    Ok(addr)
}

/// Binds the endpoint now, so a busy port fails the run before anything starts.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-listen {addr}: cannot listen there: pick a free port"))
}

/// Answers scrapes until `cancel` fires.
pub async fn serve(listener: TcpListener, live: Arc<LiveMetrics>, cancel: CancellationToken) {
    loop {
        let conn = tokio::select! {
            _ = cancel.cancelled() => return,
            c = listener.accept() => c,
        };
        let Ok((stream, _)) = conn else { continue };
        let live = live.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, &live)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, live: &LiveMetrics) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (parts.next(), parts.next());
    let path = path.map(|p| p.split(|&b| b == b'?').next().unwrap_or_default());
    let (status, body) = match (method, path) {
        (Some(b"GET"), Some(b"/metrics")) => ("200 OK", live.render()),
        _ => (
            "404 Not Found",
            "fpmlab serves GET /metrics only\n".to_string(),
        ),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::FpmStatus;

    /// A fleet's instances show their own latest readings, with an `instance` label; an
    /// unanswered status page leaves the busy workers out and says the page is down.
    #[test]
    fn each_instance_shows_its_latest_reading() {
        let live = LiveMetrics::default();
        let recorder = crate::record::Recorder::new(std::time::Instant::now(), &[], &[]);
        live.start_config(
            "s8",
            "http://127.0.0.1:1/fpm-status".into(),
            Shared::new(recorder),
            true,
        );
        let busy = |active: u32| Sample {
            t_ms: 0,
            fpm: Some(FpmStatus {
                pool: "www".into(),
                process_manager: "static".into(),
                start_since_s: 1,
                accepted_conn: 0,
                listen_queue: 9,
                max_listen_queue: 0,
                listen_queue_len: 511,
                idle_processes: 0,
                active_processes: active,
                total_processes: 8,
                max_active_processes: 8,
                max_children_reached: 0,
                slow_requests: 0,
            }),
            fpm_status_rtt_us: None,
            accept_queue: None,
            workers: Vec::new(),
            errors: Vec::new(),
            container: None,
            fpm_master_alive: None,
        };
        let unanswered = Sample {
            fpm: None,
            ..busy(0)
        };
        let own = |i: &str| format!("http://127.0.0.1:1/{i}/fpm-status");
        live.sample("s8", &busy(5));
        live.instance_sample("s8", "i1", &own("i1"), &busy(2));
        live.instance_sample("s8", "i2", &own("i2"), &busy(1));
        live.instance_sample("s8", "i1", &own("i1"), &busy(8));
        live.instance_sample("s8", "i2", &own("i2"), &unanswered);
        live.instance_sample("no-such-config", "i1", &own("i1"), &busy(3));
        let text = live.render();
        let has = |line: &str| assert!(text.contains(line), "{line} in:\n{text}");
        has("fpmlab_fleet_sampled_busy_workers{config=\"s8\",instance=\"i1\"} 8\n");
        has("fpmlab_fleet_sampled_listen_queue{config=\"s8\",instance=\"i1\"} 9\n");
        has("fpmlab_fleet_sampled_up{config=\"s8\",instance=\"i1\"} 1\n");
        has("fpmlab_fleet_sampled_up{config=\"s8\",instance=\"i2\"} 0\n");
        assert!(
            !text.contains("busy_workers{config=\"s8\",instance=\"i2\"}"),
            "{text}"
        );
        assert_eq!(
            text.matches("# TYPE fpmlab_fleet_sampled_up gauge").count(),
            1
        );
        // php-fpm_exporter's figures are each instance's, from its own status page; the
        // config's sampler (through the balancer: 5 busy) is left out.
        has("phpfpm_active_processes{config=\"s8\",instance=\"i1\",pool=\"www\",scrape_uri=\"http://127.0.0.1:1/i1/fpm-status\"} 8\n");
        assert_eq!(
            text.matches("phpfpm_active_processes{").count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn loopback_only() {
        assert!(parse_listen("127.0.0.1:9477").is_ok());
        assert!(parse_listen("[::1]:9477").is_ok());
        let e = parse_listen("0.0.0.0:9477").unwrap_err().to_string();
        assert!(e.contains("loopback only"), "{e}");
        assert!(parse_listen("localhost").is_err());
    }
}
