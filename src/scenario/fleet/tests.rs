use std::path::Path;

use crate::scenario::{parse, Algorithm, Driver, EventAction};

const BASE: &str = r#"
    [[config]]
    name = "s2"
    pm = "static"
    max_children = 2
    [[phase]]
    duration = "10s"
    pattern = "constant"
    rate = 10
    [[request]]
    path = "/cpu.php?ms=1"
"#;

fn problems(extra: &str) -> Vec<(String, String)> {
    parse(
        &format!("{BASE}{extra}"),
        Path::new("f.toml"),
        Driver::Native,
    )
    .unwrap_err()
}

#[test]
fn alb_defaults_and_events_in_time_order() {
    let text = format!(
        "{BASE}[fleet]\ninstances = 2\n[[event]]\nat = \"6s\"\naction = \"kill\"\ninstance = \"i3\"\n\
         [[event]]\nat = \"2s\"\naction = \"add\"\ncold = {{ status = 401, for = \"3s\" }}\n"
    );
    let (plan, _) = parse(&text, Path::new("f.toml"), Driver::Native).unwrap();
    let fleet = plan.fleet.unwrap();
    let b = &fleet.balancer;
    assert_eq!(b.algorithm, Algorithm::RoundRobin);
    assert_eq!((b.interval_ms, b.timeout_ms), (30_000, 5_000));
    assert_eq!((b.healthy_threshold, b.unhealthy_threshold), (5, 2));
    assert_eq!(
        (b.idle_timeout_ms, b.health_path.as_str()),
        (60_000, "/nginx-health")
    );
    assert_eq!(fleet.instances.len(), 3);
    assert!(!fleet.instances[2].initial);
    assert_eq!(fleet.events[0].instance, "i3");
    assert!(matches!(
        fleet.events[0].action,
        EventAction::Add { cold: Some(_) }
    ));
    assert_eq!(fleet.events[1].action, EventAction::Kill);
}

#[test]
fn an_event_on_an_instance_not_there_yet_is_refused() {
    // i3 joins at 6 s; killing it at 2 s is refused, as is anything after the load.
    let p = problems(
        "[fleet]\ninstances = 2\n[[event]]\nat = \"2s\"\naction = \"kill\"\ninstance = \"i3\"\n\
         [[event]]\nat = \"6s\"\naction = \"add\"\n[[event]]\nat = \"12s\"\naction = \"drain\"\ninstance = \"i1\"\n",
    );
    assert!(
        p.iter()
            .any(|(f, m)| f == "event[0].instance" && m.contains("no instance \"i3\"")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|(f, m)| f == "event[2].at" && m.contains("not before the load ends")),
        "{p:?}"
    );
}

#[test]
fn killed_twice_and_bad_balancer_refused() {
    let p = problems(
        "[fleet]\ninstances = 1\n[fleet.balancer]\nalgorithm = \"least_outstanding\"\nslow_start = \"30s\"\n\
         interval = \"1s\"\ntimeout = \"2s\"\n[[event]]\nat = \"1s\"\naction = \"kill\"\ninstance = \"i1\"\n\
         [[event]]\nat = \"2s\"\naction = \"kill\"\ninstance = \"i1\"\n",
    );
    for field in [
        "fleet.balancer.slow_start",
        "fleet.balancer.timeout",
        "event[1].instance",
    ] {
        assert!(
            p.iter().any(|(f, _)| f == field),
            "{field} not refused: {p:?}"
        );
    }
}

#[test]
fn events_without_a_fleet_refused_and_a_fleet_on_docker_checked_against_the_engine() {
    let p = problems("[[event]]\nat = \"1s\"\naction = \"kill\"\ninstance = \"i1\"\n");
    assert!(p.iter().any(|(f, _)| f == "event"), "{p:?}");
    let text = format!(
        "{BASE}[fleet]\ninstances = 2\n[[fleet.instance]]\ncpus = 1\nmemory = \"512MiB\"\n"
    );
    let plan = parse(&text, Path::new("f.toml"), Driver::Docker).unwrap();
    let f = plan.0.fleet.unwrap();
    assert_eq!(
        (f.instances[0].cpus, f.instances[0].memory_mib),
        (Some(1.0), Some(512))
    );
    let external = Driver::External {
        url: "http://127.0.0.1:1".into(),
        tls: Default::default(),
    };
    let p = parse(&text, Path::new("f.toml"), external).unwrap_err();
    assert!(
        p.iter()
            .any(|(f, m)| f == "fleet" && m.contains("--stack docker")),
        "{p:?}"
    );
    // What the engine would refuse once running: refused before anything starts.
    let text = format!(
        "{BASE}[fleet]\ninstances = 2\n[[fleet.instance]]\ncpus = 10000\nmemory = \"4MiB\"\n\
         [[fleet.instance]]\ncpus = 0.5\n\
         [[event]]\nat = \"1s\"\naction = \"throttle\"\ninstance = \"i2\"\ncpu_share = 0.01\n"
    );
    let p = parse(&text, Path::new("f.toml"), Driver::Docker).unwrap_err();
    for field in [
        "fleet.instance[0].cpus",
        "fleet.instance[0].memory",
        "event[0].cpu_share",
    ] {
        assert!(
            p.iter().any(|(f, _)| f == field),
            "{field} not refused: {p:?}"
        );
    }
    // Natively the same limits are recorded, not refused (the results say they were not
    // enforced).
    let text = format!("{BASE}[fleet]\ninstances = 2\n[[fleet.instance]]\ncpus = 1\n");
    assert!(parse(&text, Path::new("f.toml"), Driver::Native).is_ok());
}
