//! The lying health check (seed 002): a load balancer probes once a second, with its own
//! timeout, a health endpoint nginx answers by itself and one php-fpm must answer through
//! the main pool. While every worker is busy, nginx's says "healthy" and the load balancer
//! keeps sending traffic to an instance that cannot serve it. Both are recorded; the
//! intervals where nginx said healthy and php-fpm could not answer in time are reported.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::stack::Endpoints;

/// How often the load balancer probes.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// One probe of both endpoints, started at the same moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HealthSample {
    /// When the probes were sent, ms since the load's start (`RunClock::now_ms`).
    pub t_ms: u64,
    /// nginx's own health endpoint answered 2xx/3xx within the timeout.
    pub nginx_ok: bool,
    /// Its response time, ms (`None`: no answer in time).
    pub nginx_ms: Option<u64>,
    /// The health script through php-fpm's main pool answered 2xx/3xx within the timeout.
    pub app_ok: bool,
    /// Its response time, ms (`None`: no answer in time).
    pub app_ms: Option<u64>,
    /// The status it answered with (`None`: no answer).
    #[serde(default)]
    pub app_status: Option<u16>,
    /// Why a probe failed (`app: timeout after 5000 ms`, `nginx: status 502`); empty if none.
    pub errors: Vec<String>,
}

/// The health view of one config, in run.json as `health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HealthReport {
    /// The probes' timeout, ms (`load.health_timeout`).
    pub timeout_ms: u64,
    /// Every probe, in time order.
    pub samples: Vec<HealthSample>,
    /// Intervals where nginx said healthy while php-fpm could not answer in time.
    pub unable_to_serve: Vec<Interval>,
    /// Their total length, ms: "healthy but unable to serve".
    pub unable_to_serve_ms: u64,
    /// Probes where php-fpm's endpoint failed.
    pub app_failures: u64,
    /// Probes where nginx's own endpoint failed (the instance would be taken out).
    pub nginx_failures: u64,
    /// Set when the deep probe's path is wrong for this application (it answered 4xx, e.g.
    /// 404: no such script): says so once, with the fix. Such answers say nothing about
    /// php-fpm's state and are never counted as "unable to serve".
    #[serde(default)]
    pub misconfigured: Option<String>,
}

/// A span of the run, ms since the load's start, `[from_ms, to_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Interval {
    pub from_ms: u64,
    pub to_ms: u64,
}

/// Probes both endpoints every [`HEALTH_INTERVAL`] until `cancel`; each probe runs on its
/// own task so a slow one never delays the next (a load balancer keeps its schedule).
/// Probes still in flight at `cancel` are dropped. Each probe goes to `sink` as it ends (so
/// not quite in time order: a slow probe ends after the next one began); none is kept here.
pub async fn run_health(
    endpoints: Endpoints,
    clock: RunClock,
    timeout: Duration,
    cancel: CancellationToken,
    mut sink: impl FnMut(HealthSample) + Send,
) {
    let builder = crate::tls::http_client(&endpoints.base_url, &endpoints.tls);
    let client = match builder.map(|b| b.timeout(timeout).build()) {
        Ok(Ok(c)) => c,
        _ => return,
    };
    let nginx_url = format!("{}{}", endpoints.base_url, endpoints.nginx_health_path);
    let app_url = format!("{}{}", endpoints.base_url, endpoints.app_health_path);
    let mut ticker = tokio::time::interval(HEALTH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut probes = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            Some(Ok(s)) = probes.join_next() => sink(s),
            _ = ticker.tick() => {
                let (client, n, a) = (client.clone(), nginx_url.clone(), app_url.clone());
                let t_ms = clock.now_ms();
                probes.spawn(async move {
                    let ((nginx_ok, nginx_ms, _, ne), (app_ok, app_ms, app_status, ae)) =
                        tokio::join!(probe(&client, &n, timeout), probe(&client, &a, timeout));
                    let errors = [("nginx", ne), ("app", ae)]
                        .into_iter()
                        .filter_map(|(who, e)| e.map(|e| format!("{who}: {e}")))
                        .collect();
                    HealthSample { t_ms, nginx_ok, nginx_ms, app_ok, app_ms, app_status, errors }
                });
            }
        }
    }
    probes.abort_all();
    while let Some(r) = probes.join_next().await {
        if let Ok(s) = r {
            sink(s);
        }
    }
}

async fn probe(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> (bool, Option<u64>, Option<u16>, Option<String>) {
    let started = Instant::now();
    let result = async {
        let r = client.get(url).send().await?;
        let status = r.status();
        r.bytes().await?;
        Ok::<_, reqwest::Error>(status)
    }
    .await;
    let ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(s) if s.is_success() || s.is_redirection() => (true, Some(ms), Some(s.as_u16()), None),
        Ok(s) => (
            false,
            Some(ms),
            Some(s.as_u16()),
            Some(format!("status {}", s.as_u16())),
        ),
        Err(e) if e.is_timeout() => (
            false,
            None,
            None,
            Some(format!("no answer within {} ms", timeout.as_millis())),
        ),
        Err(e) => (false, Some(ms), None, Some(e.to_string())),
    }
}

/// A 4xx from the deep probe: its path is wrong for this application, not a verdict on
/// php-fpm (a 5xx or no answer is one).
fn misconfigured(s: &HealthSample) -> bool {
    s.app_status.is_some_and(|st| (400..500).contains(&st))
}

/// Builds the report from the probes (any order): each probe where nginx was healthy and
/// php-fpm was not stands for
/// the time until the next probe (one interval for the last); adjacent ones merge.
/// `app_path` is the deep probe's path, named when it turns out to be misconfigured.
pub fn report(mut samples: Vec<HealthSample>, timeout_ms: u64, app_path: &str) -> HealthReport {
    samples.sort_by_key(|s| s.t_ms);
    let step = HEALTH_INTERVAL.as_millis() as u64;
    let mut unable: Vec<Interval> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        if !s.nginx_ok || s.app_ok || misconfigured(s) {
            continue;
        }
        let to_ms = samples.get(i + 1).map_or(s.t_ms + step, |n| n.t_ms);
        match unable.last_mut() {
            Some(last) if last.to_ms >= s.t_ms => last.to_ms = last.to_ms.max(to_ms),
            _ => unable.push(Interval {
                from_ms: s.t_ms,
                to_ms,
            }),
        }
    }
    let misconfigured = samples.iter().find(|s| misconfigured(s)).map(|s| {
        format!(
            "the deep health probe GET {app_path} answered {}: this application has no such \
             health path, so its answers say nothing about php-fpm; set app.health_path to \
             one it serves through php-fpm (default {}, answered by fpmlab's agent)",
            s.app_status.unwrap_or_default(),
            crate::scenario::DEFAULT_HEALTH_PATH
        )
    });
    HealthReport {
        misconfigured,
        timeout_ms,
        unable_to_serve_ms: unable.iter().map(|i| i.to_ms - i.from_ms).sum(),
        unable_to_serve: unable,
        app_failures: samples.iter().filter(|s| !s.app_ok).count() as u64,
        nginx_failures: samples.iter().filter(|s| !s.nginx_ok).count() as u64,
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t_ms: u64, nginx_ok: bool, app_ok: bool) -> HealthSample {
        HealthSample {
            t_ms,
            nginx_ok,
            nginx_ms: Some(1),
            app_ok,
            app_ms: app_ok.then_some(2),
            app_status: app_ok.then_some(200),
            errors: vec![],
        }
    }

    #[test]
    fn merges_lying_probes_into_intervals() {
        let r = report(
            vec![
                s(0, true, true),
                s(1000, true, false),
                s(2000, true, false),
                s(3000, true, true),
                s(4000, false, false),
                s(5000, true, false),
            ],
            5000,
            "/fpmlab-health",
        );
        assert!(r.misconfigured.is_none());
        assert_eq!(
            r.unable_to_serve,
            vec![
                Interval {
                    from_ms: 1000,
                    to_ms: 3000
                },
                Interval {
                    from_ms: 5000,
                    to_ms: 6000
                }
            ]
        );
        assert_eq!(r.unable_to_serve_ms, 3000);
        assert_eq!((r.app_failures, r.nginx_failures), (4, 1));
    }

    #[test]
    fn a_probe_path_the_app_lacks_is_misconfigured_not_unable() {
        let mut a = s(0, true, false);
        a.app_status = Some(404);
        let mut b = s(1000, true, false);
        b.app_status = Some(404);
        let r = report(vec![a, b, s(2000, true, false)], 5000, "/health.php");
        // Only the probe with no answer counts; the 404s are reported once, with the fix.
        assert_eq!(r.unable_to_serve_ms, 1000);
        let m = r.misconfigured.unwrap();
        assert!(m.contains("GET /health.php answered 404"), "{m}");
        assert!(m.contains("app.health_path"), "{m}");
    }
}
