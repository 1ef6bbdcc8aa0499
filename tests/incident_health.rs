//! Seed 002's lying health check on the real native stack: in
//! scenarios/lying-health-check.toml nginx's own health endpoint stays up while the probe
//! through php-fpm misses its timeout, and the load balancer cuts the requests that queued
//! past its idle timeout.

mod common;

use fpmlab::attribution::Cause;

#[test]
fn nginx_says_healthy_while_php_fpm_cannot_serve() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ran = common::run_end_to_end(
        &common::shipped("lying-health-check"),
        &dir.path().join("out"),
    );
    let (c, table) = (ran.config(0), &ran.table);
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
    // Bursts of twice what one core does for 14 s: a slower or busier machine only queues
    // more, so php-fpm misses the probe for longer.
    assert!(h.unable_to_serve_ms >= 3000, "{h:?}");
    assert_eq!(
        h.nginx_failures, 0,
        "nginx's own endpoint never fails: {h:?}"
    );
    assert!(table.contains("healthy but unable to serve"), "{table}");
    let a = c.attribution.as_ref().unwrap();
    assert!(a.count(Cause::ClientTimeout) > 0, "{a:#?}");
    assert_eq!(a.count(Cause::ClientTimeout), a.failed, "{a:#?}");
}
