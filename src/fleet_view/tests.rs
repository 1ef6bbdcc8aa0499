use super::*;
use crate::stack::fleet::InstanceRecord;

fn record() -> FleetRecord {
    FleetRecord {
        instances: ["i1", "i2"]
            .map(|n| InstanceRecord {
                name: n.into(),
                pool: "s2".into(),
                ..InstanceRecord::default()
            })
            .to_vec(),
        events: vec![EventRecord {
            planned_ms: 1000,
            t_ms: 1000,
            instance: "i2".into(),
            action: "kill".into(),
            detail: String::new(),
            error: None,
        }],
        ..FleetRecord::default()
    }
}

/// The view of `log` with the record below, the load starting at epoch 100 s, and each
/// instance's own samples `sampled`.
fn view(log: &str, sampled: &BTreeMap<String, super::InstanceSampled>) -> FleetView {
    let (failed, facts) = (FailedList::default(), PlanFacts::default());
    analyse(&record(), log, &failed, 100_000, &facts, sampled)
}

#[test]
fn attributes_each_failure_and_counts_per_instance() {
    // Load starts at epoch 100 s; i2 is killed at 1 s.
    let log = "\
fpmlab t=100.100 id=1 srv=i1 st=200 tw=0 tc=0 tr=3 ta=4 ts=---- rt=100.101 ss=100.101 se=100.103
fpmlab t=100.900 id=2 srv=i2 st=502 tw=0 tc=0 tr=-1 ta=150 ts=SH-- rt=- ss=- se=-
fpmlab t=101.200 id=3 srv=i2 st=503 tw=0 tc=-1 tr=-1 ta=0 ts=SC-- rt=- ss=- se=-
fpmlab t=101.300 id=4 srv=<NOSRV> st=503 tw=-1 tc=-1 tr=-1 ta=0 ts=SC-- rt=- ss=- se=-
fpmlab t=100.300 id=5 srv=i2 st=502 tw=0 tc=0 tr=-1 ta=10 ts=SH-- rt=- ss=- se=-
fpmlab t=102.000 id=6 srv=i1-failopen st=504 tw=0 tc=0 tr=-1 ta=60000 ts=sH-- rt=- ss=- se=-
fpmlab t=100.500 id=7 srv=i2 st=503 tw=0 tc=-1 tr=-1 ta=600 ts=sC-- rt=- ss=- se=-
fpmlab t=102.000 id=- srv=i1 st=200 tw=0 tc=0 tr=1 ta=1 ts=---- rt=- ss=- se=-
[WARNING] Server instances/i2 is DOWN.
";
    let v = view(log, &BTreeMap::new());
    assert_eq!((v.requests, v.probe_requests), (7, 1));
    // id 7: a connect to the killed container's address timed out (docker fleet).
    assert_eq!(v.causes["instance_died"], 3, "{v:?}");
    assert_eq!(v.alb_codes["504"], 2);
    assert_eq!(
        v.causes["target_reset"], 1,
        "a reset long before the kill is not the kill's"
    );
    assert_eq!(v.causes["no_healthy_target"], 1);
    assert_eq!(v.causes["cut_by_balancer_idle_timeout"], 1);
    assert_eq!(v.alb_codes["502"], 3);
    assert_eq!(v.served_fail_open, 1);
    let i1 = &v.instances[0];
    assert_eq!((i1.requests, i1.fail_open), (2, 1));
    assert_eq!(i1.fpm_service.as_ref().unwrap().p50_ms.round(), 2.0);
    assert!(v.cause_examples["no_healthy_target"].contains("srv=<NOSRV>"));
    // i2's requests ended in seconds 0 and 1 of the load, all failed.
    let i2 = &v.instances[1];
    let per_s: Vec<(u64, u64)> = (i2.seconds.iter())
        .map(|s| (s.requests, s.failed))
        .collect();
    assert_eq!(per_s, [(1, 1), (3, 3)]);
    assert_eq!(i2.sampled, None, "no samples given");
}

#[test]
fn each_instance_carries_its_own_samples() {
    let mut fold = super::SampledFold::new("c/instances/i2/samples.jsonl".into(), 500);
    fold.add(&crate::probe::Sample {
        t_ms: 1_200,
        fpm: None,
        fpm_status_rtt_us: None,
        accept_queue: None,
        workers: Vec::new(),
        errors: vec!["status page: connection refused".into()],
        container: None,
        fpm_master_alive: Some(false),
    });
    let sampled = BTreeMap::from([("i2".to_string(), fold.sampled())]);
    let v = view("", &sampled);
    assert_eq!(v.instances[0].sampled, None);
    let i2 = v.instances[1].sampled.as_ref().expect("i2's samples");
    assert_eq!(i2.samples_file, "c/instances/i2/samples.jsonl");
    assert_eq!((i2.seconds[0].t_s, i2.seconds[0].status_unanswered), (1, 1));
    assert_eq!(i2.summary.failed_samples, 1);
}

#[test]
fn a_connect_timeout_on_a_live_instance_is_not_the_idle_timeout() {
    // i1 is never killed: no connection within the connect timeout is its own cause.
    let log = "\
fpmlab t=100.200 id=1 srv=i1 st=503 tw=0 tc=-1 tr=-1 ta=10000 ts=sC-- rt=- ss=- se=-
fpmlab t=100.300 id=2 srv=i1 st=504 tw=0 tc=0 tr=-1 ta=60000 ts=sH-- rt=- ss=- se=-
";
    let v = view(log, &BTreeMap::new());
    assert_eq!(v.alb_codes["504"], 2, "{v:?}");
    assert_eq!(v.causes["target_connect_timeout"], 1, "{v:?}");
    assert_eq!(v.causes["cut_by_balancer_idle_timeout"], 1, "{v:?}");
}
