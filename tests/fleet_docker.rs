//! The fleet on the docker driver against the real engine and a real HAProxy, which runs in
//! a container of the stack image: seed 003's acceptance (bursts OOM-kill workers in
//! memory-limited containers behind the balancer; twice the instances and the 502s drop),
//! the limits read back from each container's cgroup, the balancer's log and health states
//! reaching fpmlab from its container, and an interrupted run leaving no container or network
//! behind. Without an engine the tests say so loudly and pass.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::{assert_clean, engine, fpmlab, leftovers, status, stderr, tempdir};
use fpmlab::results::ConfigResult;

/// The docker fleet needs no HAProxy on this machine: it runs the stack image's.
fn ready() -> bool {
    engine()
}

/// Runs a shipped scenario on the docker fleet; asserts it succeeded and left nothing.
fn run(name: &str, dir: &std::path::Path) -> ConfigResult {
    let out = dir.join(name);
    let (o, pid) = fpmlab(&common::shipped(name), &out, "docker", &[]);
    assert_clean(pid);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    common::load(&out).configs.remove(0)
}

/// OOM kills over the fleet's instances, from their php-fpm containers' cgroups.
fn oom_kills(c: &ConfigResult) -> u64 {
    let f = c.fleet.as_ref().expect("a fleet run has a fleet view");
    f.instances
        .iter()
        .filter_map(|i| i.container.as_ref()?.oom_kills)
        .sum()
}

#[test]
fn bursts_oom_kill_memory_limited_containers_and_twice_the_instances_cut_the_502s() {
    if !ready() {
        return;
    }
    let dir = tempdir();
    let small = run("fleet-memory-crash", dir.path());
    let big = run("fleet-memory-crash-2x", dir.path());

    for (c, n) in [(&small, 2), (&big, 4)] {
        let f = c.fleet.as_ref().unwrap();
        assert_eq!(f.instances.len(), n);
        // HAProxy ran in a container; its log and its health states reached fpmlab.
        assert_eq!(f.balancer_driver, "docker");
        assert!(f.balancer_container.is_some(), "{f:?}");
        assert!(f.haproxy_version.is_some(), "{f:?}");
        // Every request of the 6 bursts of 16 is accounted for: in the balancer's log, or
        // failed at the client without a line there (the keep-alive race: the balancer
        // closed the connection as the client sent on it; docs/fleet.md). Most are logged.
        let accounted = f.requests + f.failed_not_in_balancer_log;
        assert!(
            accounted >= 96 && f.requests >= 80,
            "{} requests in the balancer's log, {} failed outside it",
            f.requests,
            f.failed_not_in_balancer_log
        );
        for i in &f.instances {
            // The limits the kernel enforced, read back from the cgroup: 1 vCPU, 512 MiB.
            let r = (i.container.as_ref()).unwrap_or_else(|| panic!("{}: no readings", i.name));
            assert_eq!(r.memory_limit_mib, Some(512.0), "{r:?}");
            assert_eq!(r.cpu_quota_cores, Some(1.0), "{r:?}");
            assert!(i.not_enforced.is_empty(), "{:?}", i.not_enforced);
            assert!(i.requests > 0, "{} served nothing", i.name);
            // In rotation from the start: `UP`, or `UP 1/2` while HAProxy's first checks run.
            let first = i.health.first().map(|h| h.status.as_str());
            assert!(
                first.is_some_and(|s| s.starts_with("UP")),
                "{}: {:?}",
                i.name,
                i.health
            );
            // Sampled on its own: its php-fpm container's CPU and memory over time, the
            // memory under the cgroup's limit.
            let own = (i.sampled.as_ref()).unwrap_or_else(|| panic!("{}: not sampled", i.name));
            assert!(own.summary.samples >= 10, "{}: {:?}", i.name, own.summary);
            let peak = own
                .summary
                .container
                .as_ref()
                .and_then(|c| c.php_fpm.as_ref());
            let peak = peak.unwrap_or_else(|| panic!("{}: no container figures", i.name));
            assert_eq!(peak.memory_limit_bytes, Some(512 << 20), "{peak:?}");
            let mem = (own.seconds.iter()).filter_map(|s| s.memory_mib_max);
            let mem = mem.fold(0.0, f64::max);
            assert!(mem > 5.0 && mem <= 512.0, "{}: memory {mem} MiB", i.name);
            assert!(
                own.seconds
                    .iter()
                    .any(|s| s.cpu_pct_max.is_some_and(|c| c > 0.0)),
                "{}: no CPU reading",
                i.name
            );
        }
    }

    let (s502, b502) = (status(&small, "502"), status(&big, "502"));
    let (s_oom, b_oom) = (oom_kills(&small), oom_kills(&big));
    eprintln!("502s: 2 instances {s502}, 4 instances {b502}; OOM kills {s_oom} vs {b_oom}");
    // 6 bursts × 8 requests of 80 MiB on each 512 MiB instance: workers die in every burst.
    assert!(s_oom >= 3, "OOM kills with 2 instances: {s_oom}");
    assert!(s502 >= 6, "502s with 2 instances: {s502} ({small:?})");
    // The balancer passed on the target's own 502s (the health check never saw a death).
    let f = small.fleet.as_ref().unwrap();
    let target_502 = f.causes.get("target_answered_502").copied().unwrap_or(0);
    assert!(target_502 * 2 >= s502, "{:?}", f.causes);
    // The config's events are each instance's own, named: the OOM kills its cgroup counted
    // and the workers its php-fpm saw die.
    let names: Vec<&str> = f.instances.iter().map(|i| i.name.as_str()).collect();
    assert!(
        small.events.iter().any(|e| e.kind == "oom_kill"),
        "{:?}",
        small.events
    );
    for e in &small.events {
        let of = e.instance.as_deref();
        assert!(of.is_some_and(|i| names.contains(&i)), "{e:?}");
    }
    // Twice the instances: 4 × 80 MiB fit in 512 MiB.
    assert!(
        b502 * 2 < s502,
        "502s: {b502} with 4 instances vs {s502} with 2"
    );
    assert!(b_oom * 2 < s_oom, "OOM kills: {b_oom} vs {s_oom}");
}

/// SIGINT mid-run: the runner tears every instance's compose project and the balancer's
/// down; nothing of the run remains, neither container nor network.
#[test]
fn an_interrupted_docker_fleet_leaves_no_container_or_network() {
    if !ready() {
        return;
    }
    let dir = tempdir();
    let scenario = common::scenario(
        dir.path(),
        "long",
        "[[config]]\nname = \"s1\"\npm = \"static\"\nmax_children = 1\n[[phase]]\n\
         duration = \"60s\"\npattern = \"constant\"\nrate = 4\n[[request]]\npath = \"/hello.php\"\n\
         [fleet]\ninstances = 2\n[[fleet.instance]]\ncpus = 0.5\nmemory = \"128MiB\"\n",
    );
    let out = dir.path().join("out");
    let mut child = Command::new(common::bin())
        .args(["run", scenario.to_str().unwrap(), "--stack", "docker"])
        .args(["--quiet", "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let log = out.join("s1/logs/haproxy.log");
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::fs::read_to_string(&log).map_or(0, |t| t.matches(" st=200 ").count()) < 4 {
        assert!(
            Instant::now() < deadline,
            "the load never reached the balancer"
        );
        assert!(child.try_wait().unwrap().is_none(), "fpmlab exited early");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Two instances of two containers each, and the balancer's container on the fleet's
    // network, published on 127.0.0.1 only.
    let left = leftovers(pid);
    let containers: Vec<&String> = left.iter().filter(|l| l.starts_with("container")).collect();
    assert_eq!(containers.len(), 5, "{left:?}");
    let lb = (containers.iter())
        .find(|l| l.contains("-lb-"))
        .unwrap_or_else(|| panic!("no balancer container: {left:?}"));
    let name = lb.rsplit(' ').next().unwrap();
    let ports = Command::new("docker")
        .args(["port", name, "80"])
        .output()
        .unwrap();
    let ports = String::from_utf8_lossy(&ports.stdout).into_owned();
    assert!(
        !ports.trim().is_empty() && ports.lines().all(|l| l.starts_with("127.0.0.1:")),
        "{ports:?}"
    );
    assert!(
        left.iter()
            .any(|l| l.starts_with("network") && l.ends_with("-fleet")),
        "{left:?}"
    );
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert_clean(pid);
    assert!(common::processes_mentioning(&out.display().to_string()).is_empty());
}

/// A config HAProxy refuses is reported before the balancer starts, in HAProxy's words
/// (`haproxy -c` in a one-off container of the stack image, as natively), and the check
/// leaves no container behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_haproxy_refuses_is_reported_before_the_balancer_starts() {
    if !ready() {
        return;
    }
    use fpmlab::stack::docker::{BalancerContainer, BalancerDirs};
    let dir = tempdir();
    let [config, logs, run] = ["balancer", "logs", "run"].map(|d| dir.path().join(d));
    for d in [&config, &logs, &run] {
        std::fs::create_dir_all(d).unwrap();
    }
    let dirs = BalancerDirs {
        config: &config,
        logs: &logs,
        run: &run,
    };
    let mut lb = BalancerContainer::create("check", &dirs, None)
        .await
        .unwrap();
    let cfg = config.join("haproxy.cfg");
    std::fs::write(&cfg, "defaults\n    mode http\n    timeout nosuch 5s\n").unwrap();
    let refused = lb.check(&cfg).await;
    std::fs::write(
        &cfg,
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    \
         timeout server 5s\nfrontend f\n    bind 127.0.0.1:8080\n    default_backend b\n\
         backend b\n    server s 127.0.0.1:8081\n",
    )
    .unwrap();
    let accepted = lb.check(&cfg).await;
    lb.down().await.unwrap();
    let e = format!("{:#}", refused.expect_err("an unknown timeout is refused"));
    assert!(
        e.contains("HAProxy rejected") && e.contains("haproxy.cfg"),
        "{e}"
    );
    assert!(e.contains("nosuch"), "HAProxy's own words: {e}");
    accepted.expect("a valid config passes");
    assert_clean(std::process::id());
}
