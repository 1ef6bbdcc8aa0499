//! Seed 002's lying health check on the real native stack: in
//! scenarios/lying-health-check.toml nginx's own health endpoint stays up while the probe
//! through php-fpm misses its timeout, and the load balancer cuts the requests that queued
//! past its idle timeout.

mod common;

use std::path::Path;

use fpmlab::attribution::Cause;

#[test]
fn nginx_says_healthy_while_php_fpm_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/lying-health-check.toml");
    let o = common::run_native(&scenario, &out);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = common::load(&out);
    let c = &run.configs[0];
    let h = c.health.as_ref().expect("health in run.json");
    assert_eq!(h.timeout_ms, 2000);
    // About one probe a second over the ~16 s of load.
    assert!(h.samples.len() >= 10, "{} probes", h.samples.len());
    // Before the bursts both answer; during them nginx lies.
    assert!(
        h.samples[0].nginx_ok && h.samples[0].app_ok,
        "{:?}",
        h.samples[0]
    );
    assert!(
        h.samples.iter().any(|s| s.nginx_ok && !s.app_ok),
        "no probe with nginx up and php-fpm failing\n{table}"
    );
    assert!(h.unable_to_serve_ms >= 3000, "{h:?}");
    assert_eq!(
        h.nginx_failures, 0,
        "nginx's own endpoint never fails: {h:?}"
    );
    assert!(table.contains("healthy but unable to serve"), "{table}");
    let a = c.attribution.as_ref().unwrap();
    assert!(a.count(Cause::ClientTimeout) > 0, "{a:#?}");
    assert_eq!(a.count(Cause::ClientTimeout), a.failed, "{a:#?}");
    common::assert_torn_down(&out, &run);
}
