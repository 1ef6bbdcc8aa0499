//! The phase keys of client behaviour: `client_timeout`, `retry` and `think_dist`, read and
//! refused.

use std::path::Path;

use super::retry::*;
use super::{parse, Driver, Plan};

fn with_phase(phase: &str) -> Result<Plan, Vec<(String, String)>> {
    let text = format!(
        "[[config]]\nname = \"s\"\npm = \"static\"\nmax_children = 2\n\
         [[phase]]\nname = \"p\"\nduration = \"5s\"\n{phase}\n[[request]]\npath = \"/\"\n"
    );
    parse(&text, Path::new("x/retry.toml"), Driver::Native).map(|(plan, _)| plan)
}

fn refused(phase: &str, field: &str, says: &str) {
    let problems = with_phase(phase).expect_err("refused");
    assert!(
        problems
            .iter()
            .any(|(f, m)| f == &format!("phase[0] \"p\".{field}") && m.contains(says)),
        "{field} / {says}: {problems:?}"
    );
}

#[test]
fn a_retry_table_gets_the_defaults() {
    let plan = with_phase("pattern = \"constant\"\nrate = 10\n[phase.retry]\n").unwrap();
    let r = plan.phases[0].client.retry.clone().unwrap();
    assert_eq!(r.on_status, vec![502, 503, 504]);
    assert_eq!(
        r.on_failure,
        vec![
            RetryFailure::Timeout,
            RetryFailure::Refused,
            RetryFailure::Reset
        ]
    );
    assert_eq!((r.attempts, r.jitter), (3, Jitter::Full));
    assert_eq!((r.base_ms, r.cap_ms), (100, 5_000));
    assert_eq!(r.budget, None);
}

#[test]
fn every_key_is_read() {
    let plan = with_phase(
        "pattern = \"poisson\"\nrate = 10\n\
         retry = { on_status = [429, 503], on_failure = [\"timeout\", \"incomplete\"], attempts = 5, \
         jitter = \"decorrelated\", base = \"20ms\", cap = \"1s\", \
         budget = { ratio = 0.2, min_per_s = 3, window = \"5s\" } }\n",
    )
    .unwrap();
    let r = plan.phases[0].client.retry.clone().unwrap();
    assert_eq!(r.on_status, vec![429, 503]);
    assert_eq!(
        r.on_failure,
        vec![RetryFailure::Timeout, RetryFailure::Incomplete]
    );
    assert_eq!((r.attempts, r.jitter), (5, Jitter::Decorrelated));
    assert_eq!((r.base_ms, r.cap_ms), (20, 1_000));
    assert_eq!(
        r.budget,
        Some(RetryBudget {
            ratio: 0.2,
            min_per_s: 3.0,
            window_ms: 5_000
        })
    );
}

#[test]
fn a_phase_without_behaviour_is_the_default_and_stays_out_of_run_json() {
    let plan = with_phase("pattern = \"constant\"\nrate = 10\n").unwrap();
    assert!(plan.phases[0].client.is_default());
    let json = serde_json::to_string(&plan.phases[0]).unwrap();
    assert!(!json.contains("client"), "{json}");
}

#[test]
fn bad_retry_keys_are_refused_with_the_fix() {
    let open = "pattern = \"constant\"\nrate = 10\n";
    let cases = [
        (
            "retry = { on_status = [200] }",
            "retry.on_status",
            "success",
        ),
        (
            "retry = { on_status = [99] }",
            "retry.on_status",
            "not an HTTP status",
        ),
        (
            "retry = { on_failure = [\"dns\"] }",
            "retry.on_failure",
            "timeout, refused",
        ),
        (
            "retry = { on_status = [], on_failure = [] }",
            "retry.on_status",
            "retries nothing",
        ),
        (
            "retry = { attempts = 1 }",
            "retry.attempts",
            "never retries",
        ),
        ("retry = { attempts = 11 }", "retry.attempts", "2 to 10"),
        (
            "retry = { jitter = \"random\" }",
            "retry.jitter",
            "full, equal",
        ),
        ("retry = { base = \"0s\" }", "retry.base", "at once"),
        ("retry = { base = \"x\" }", "retry.base", ""),
        (
            "retry = { base = \"2s\", cap = \"1s\" }",
            "retry.cap",
            "below the base",
        ),
        ("retry = { cap = \"1h\" }", "retry.cap", "10 min"),
        (
            "retry = { budget = { ratio = -1 } }",
            "retry.budget.ratio",
            "0 to 10",
        ),
        (
            "retry = { budget = { min_per_s = -1 } }",
            "retry.budget.min_per_s",
            "0 to 1000000",
        ),
        (
            "retry = { budget = { ratio = 0, min_per_s = 0 } }",
            "retry.budget.ratio",
            "allows no retry",
        ),
        (
            "retry = { budget = { window = \"100ms\" } }",
            "retry.budget.window",
            "1 s to 10 min",
        ),
    ];
    for (key, field, says) in cases {
        refused(&format!("{open}{key}\n"), field, says);
    }
}

#[test]
fn unknown_retry_keys_are_refused() {
    let e = with_phase("pattern = \"constant\"\nrate = 10\nretry = { tries = 3 }\n");
    assert!(e.is_err());
}

#[test]
fn think_dist_applies_to_closed_users_only() {
    let plan = with_phase(
        "pattern = \"closed\"\nusers = 2\nthink_time = \"1s\"\nthink_dist = \"exponential\"\n",
    )
    .unwrap();
    assert_eq!(plan.phases[0].client.think, ThinkDist::Exponential);
    refused(
        "pattern = \"constant\"\nrate = 10\nthink_dist = \"uniform\"\n",
        "think_dist",
        "closed-loop users",
    );
    refused(
        "pattern = \"closed\"\nusers = 2\nthink_dist = \"gaussian\"\n",
        "think_dist",
        "fixed, uniform or exponential",
    );
}

#[test]
fn clients_retry_with_a_policy_or_with_tries_not_both() {
    let clients = "pattern = \"clients\"\nclients = 5\nevery = \"1s\"\ndisable_on = [401]\n";
    refused(
        &format!("{clients}tries = 3\nretry = {{ on_status = [401] }}\n"),
        "tries",
        "give one of them",
    );
    let plan = with_phase(&format!("{clients}retry = {{ on_status = [401] }}\n")).unwrap();
    assert!(plan.phases[0].client.retry.is_some());
}

#[test]
fn a_phase_client_timeout_overrides_the_loads_and_is_carried_in_the_plan() {
    let plan = with_phase(
        "pattern = \"constant\"\nrate = 10\nclient_timeout = \"300ms\"\nretry = { on_failure = [\"timeout\"] }\n",
    )
    .unwrap();
    let c = &plan.phases[0].client;
    assert_eq!(c.timeout_ms, Some(300));
    assert_eq!(c.timeout_ms_or(plan.load.client_timeout_ms), 300);
    let json = serde_json::to_string(&plan.phases[0]).unwrap();
    assert!(json.contains("\"timeout_ms\":300"), "{json}");
    // Without one, the phase's requests wait load.client_timeout.
    let plain = with_phase("pattern = \"constant\"\nrate = 10\n").unwrap();
    assert_eq!(plain.phases[0].client.timeout_ms_or(60_000), 60_000);
}

#[test]
fn a_phase_client_timeout_of_zero_or_above_the_loads_is_refused() {
    let open = "pattern = \"constant\"\nrate = 10\n";
    refused(
        &format!("{open}client_timeout = \"0s\"\n"),
        "client_timeout",
        "every request",
    );
    refused(
        &format!("{open}client_timeout = \"2m\"\n"),
        "client_timeout",
        "above load.client_timeout (60000 ms)",
    );
    refused(
        &format!("{open}client_timeout = \"soon\"\n"),
        "client_timeout",
        "",
    );
}
