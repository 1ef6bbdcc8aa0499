//! Seed 002's timeout chain on the real native stack: scenarios/timeout-chain.toml's failed
//! requests are each attributed, from the logs, to a limit the scenario configured, the one
//! that can cut that request, and to nothing else.
//!
//! Which of two limits arrives first is the scenario's own lesson ("the first to arrive
//! cuts"), and on a contended machine the order of some pairs turns: a runaway loop that
//! gets half a core reaches fpm's 2 s of wall time before php's 1 s of CPU, a php-fpm
//! master that is late to check lets nginx's read timeout cut a hung request first, and a
//! late nginx timer lets the kernel's SYN retransmit beat the 1 s connect timeout. The
//! behaviour test asserts what holds on any machine; `all_five_limits_cut_on_a_quiet_machine`
//! (ignored) asserts the scenario's full expectation.

mod common;

use fpmlab::attribution::Cause;
use fpmlab::results::RunResult;

const CONFIGURED: [(Cause, &str); 5] = [
    (Cause::MaxExecutionTime, "500"),
    (Cause::MemoryLimit, "500"),
    (Cause::FpmTerminateTimeout, "502"),
    (Cause::NginxReadTimeout, "504"),
    (Cause::NginxConnectTimeout, "504"),
];

/// One failed request of failed-requests.tsv: phase name, kind name, outcome, cause.
struct Failed {
    phase: String,
    kind: String,
    outcome: String,
    cause: Cause,
}

fn failed_requests(ran: &common::Ran) -> Vec<Failed> {
    let run: &RunResult = &ran.run;
    let tsv = std::fs::read_to_string(ran.config_dir(0).join("failed-requests.tsv")).unwrap();
    eprintln!("{tsv}");
    let mut lines = tsv.lines();
    assert_eq!(lines.next(), Some("id\tphase\tkind\toutcome\tt_ms\tcause"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "{l}");
            let index = |s: &str| s.parse::<usize>().unwrap();
            Failed {
                phase: run.plan.phases[index(f[1])].name.clone(),
                kind: run.plan.requests[index(f[2])].name.clone(),
                outcome: f[3].to_string(),
                cause: serde_json::from_value(serde_json::Value::String(f[5].into()))
                    .unwrap_or_else(|e| panic!("cause {:?}: {e}", f[5])),
            }
        })
        .collect()
}

/// The limits that can cut a request of `kind`; in the burst, nginx's two timeouts can cut
/// any request that waited for a worker.
fn can_cut(phase: &str, kind: &str) -> Vec<Cause> {
    let mut causes = match kind {
        "runaway-loop" => vec![Cause::MaxExecutionTime, Cause::FpmTerminateTimeout],
        "orm-million-rows" => vec![Cause::MemoryLimit],
        "hung" => vec![Cause::FpmTerminateTimeout, Cause::NginxReadTimeout],
        "slow" => vec![],
        other => panic!("unknown request kind {other}: update this test"),
    };
    if phase == "burst" {
        causes.extend([Cause::NginxReadTimeout, Cause::NginxConnectTimeout]);
    }
    causes
}

/// Runs the shipped scenario and checks what holds on any machine; returns the run.
fn chain_cuts_each_request_with_its_own_limit() -> common::Ran {
    let dir = tempfile::tempdir().unwrap();
    let ran = common::run_end_to_end(&common::shipped("timeout-chain"), &dir.path().join("out"));
    let (c, table) = (ran.config(0), &ran.table);
    let a = c.attribution.as_ref().expect("attribution in run.json");
    for k in &a.causes {
        let status = CONFIGURED.iter().find(|(c, _)| *c == k.cause);
        let (_, status) = status
            .unwrap_or_else(|| panic!("attributed to an unconfigured cause: {k:#?}\n{table}"));
        // What the client saw agrees with the cause's documented status.
        assert_eq!(k.outcomes.keys().collect::<Vec<_>>(), vec![status], "{k:?}");
        assert!(!k.examples[0].lines.is_empty(), "{k:?}");
    }
    // Exact accounting: every failed request is attributed once and listed once.
    assert_eq!(a.over_cap, 0);
    let total: u64 = a.causes.iter().map(|k| k.count).sum();
    let s = &c.recorded.summary;
    let failed: u64 = s
        .status_counts
        .iter()
        .filter(|(code, _)| code.as_str() >= "400")
        .map(|(_, n)| n)
        .sum::<u64>()
        + s.client_failures.total();
    assert_eq!(total, failed, "{:?}", s.status_counts);
    assert_eq!(a.failed, failed, "{a:#?}");
    let list = failed_requests(&ran);
    assert_eq!(list.len() as u64, failed);
    // Each request was cut by a limit that applies to it.
    for f in &list {
        assert!(
            can_cut(&f.phase, &f.kind).contains(&f.cause),
            "{} request in phase {} cut by {:?} ({})\n{table}",
            f.kind,
            f.phase,
            f.cause,
            f.outcome
        );
    }
    let cut = |kind: &str| list.iter().filter(|f| f.kind == kind).count();
    // One at a time, every poison meets a limit; only the burst can fail a slow request.
    for kind in ["runaway-loop", "orm-million-rows", "hung"] {
        assert!(cut(kind) > 0, "no {kind} request was cut\n{table}");
    }
    // The burst overflows the backlog of 4 (the kernel holds one more), whatever the speed.
    let queued = c.server.max_listen_queue.unwrap_or(0);
    assert!(queued >= 4, "max listen queue {queued}\n{table}");
    // Limits that do not race on this machine's speed: php's memory_limit, and nginx's read
    // timeout for the burst's requests that queued too long (a slower machine only queues
    // longer). Not the connect timeout: its 1 s races the kernel's first SYN retransmit
    // (also 1 s), and on a busy machine the retried handshake may win, so those requests
    // go on to the read timeout instead.
    for cause in [Cause::MemoryLimit, Cause::NginxReadTimeout] {
        assert!(
            a.count(cause) > 0,
            "nothing attributed to {cause:?}\n{table}\n{a:#?}"
        );
    }
    assert!(table.contains("cut by:"), "{table}");
    ran
}

#[test]
fn every_failed_request_is_cut_by_a_configured_limit_and_nothing_else() {
    if !common::native_stack() {
        return;
    }
    chain_cuts_each_request_with_its_own_limit();
}

#[test]
#[ignore = "reason: timing (which limit arrives first), run with --ignored on a quiet machine"]
fn all_five_limits_cut_on_a_quiet_machine() {
    if !common::native_stack() {
        return;
    }
    let ran = chain_cuts_each_request_with_its_own_limit();
    let a = ran.config(0).attribution.as_ref().unwrap();
    for (cause, _) in CONFIGURED {
        assert!(
            a.count(cause) > 0,
            "nothing attributed to {cause:?}\n{}",
            ran.table
        );
    }
}
