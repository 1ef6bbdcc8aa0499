//! Clients that give up, behind a real HAProxy configured as an ALB, on a real native
//! fleet: a client whose timeout expires before the target answers closes its connection,
//! and the balancer ends the request there, as an ALB does, with its code 460
//! (`client_closed_first`). Each phase's clients wait their own `client_timeout`, and a
//! retry of a timeout waits the phase's too.

mod common;

use fpmlab::fleet_view::FleetView;

fn ready() -> bool {
    let haproxy = fpmlab::stack::fleet::haproxy_binary()
        .err()
        .map(|e| format!("{e:#}"));
    common::native_stack() && common::available("fleet clients (HAProxy)", haproxy)
}

fn count(m: &std::collections::BTreeMap<String, u64>, key: &str) -> u64 {
    m.get(key).copied().unwrap_or(0)
}

/// Every request holds a worker 1 s: far longer than the impatient phases' 300 ms, far
/// shorter than the load's 60 s. Four workers serve 2 requests a second with room to spare.
const SCENARIO: &str = "[[config]]\nname = \"s4\"\npm = \"static\"\nmax_children = 4\n\
    [[phase]]\nname = \"impatient\"\nduration = \"2s\"\npattern = \"constant\"\nrate = 2\n\
    client_timeout = \"300ms\"\n\
    [[phase]]\nname = \"retrying\"\nduration = \"2s\"\npattern = \"constant\"\nrate = 2\n\
    client_timeout = \"300ms\"\n\
    retry = { on_status = [], on_failure = [\"timeout\"], attempts = 2, base = \"10ms\", cap = \"20ms\" }\n\
    [[phase]]\nname = \"patient\"\nduration = \"2s\"\npattern = \"constant\"\nrate = 2\n\
    [[request]]\npath = \"/io.php?ms=1000\"\n\
    [fleet]\ninstances = 1\n[fleet.balancer]\ninterval = \"1s\"\ntimeout = \"500ms\"\n";

#[test]
fn a_client_that_gives_up_first_is_the_albs_460_and_each_phase_waits_its_own_timeout() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ran = common::run_text_end_to_end(dir.path(), "impatient", SCENARIO);
    let c = ran.config(0);
    let phase = |name: &str| c.recorded.phases.iter().find(|p| p.name == name).unwrap();
    let (impatient, retrying, patient) = (phase("impatient"), phase("retrying"), phase("patient"));
    // The phase's own 300 ms applies: none of its 1 s requests is answered.
    for p in [impatient, retrying] {
        let s = &p.summary;
        assert!(s.sent >= 4, "{}: {s:?}", p.name);
        assert_eq!(s.client_failures.timeout, s.sent, "{}: {s:?}", p.name);
        assert_eq!(s.responses, 0, "{}: {s:?}", p.name);
    }
    assert!(
        (c.recorded.error_examples.iter())
            .any(|e| e.contains("no response within the client timeout (300 ms)")),
        "{:?}",
        c.recorded.error_examples
    );
    // Without one, the load's 60 s: every request is served.
    let s = &patient.summary;
    assert_eq!(
        (s.responses, count(&s.status_counts, "200")),
        (s.sent, s.sent),
        "{s:?}"
    );
    // A retry of a timeout waits the phase's 300 ms too, so it times out as well.
    let r = c
        .recorded
        .clients
        .iter()
        .find(|p| p.phase == "retrying")
        .expect("the retrying phase has client figures");
    assert_eq!(r.attempted, r.intended * 2, "{r:?}");
    assert_eq!(
        (r.retries, r.retries_exhausted, r.succeeded),
        (r.intended, r.intended, 0),
        "{r:?}"
    );
    assert_eq!(retrying.summary.sent, r.attempted);
    // The balancer saw each abandoned request end with the client: the ALB's 460, before
    // the target's headers (`CH`), never as the target's 200.
    let f: &FleetView = c.fleet.as_ref().expect("a fleet run has a fleet view");
    let gave_up = impatient.summary.sent + retrying.summary.sent;
    assert_eq!(count(&f.alb_codes, "460"), gave_up, "{:?}", f.alb_codes);
    assert_eq!(
        count(&f.causes, "client_closed_first"),
        gave_up,
        "{:?}",
        f.causes
    );
    assert_eq!(
        count(&f.alb_codes, "200"),
        patient.summary.sent,
        "{:?}",
        f.alb_codes
    );
    let example = &f.cause_examples["client_closed_first"];
    assert!(example.contains(" ts=CH"), "{example}");
}
