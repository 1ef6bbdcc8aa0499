//! A fleet behind a real HAProxy configured as an ALB, on real native instances: health
//! check thresholds, a killed instance, the fleet-level lying health check, the ALB codes,
//! and bad fleet definitions refused before anything starts. Each run lasts seconds. One
//! run's report is opened in headless Chromium to check the fleet section.

mod common;

use std::collections::BTreeMap;

use fpmlab::fleet_view::{FleetView, InstanceSampled, InstanceView};
use fpmlab::probe::SampleSummary;

fn ready() -> bool {
    let haproxy = fpmlab::stack::fleet::haproxy_binary()
        .err()
        .map(|e| format!("{e:#}"));
    common::native_stack() && common::available("fleet (HAProxy)", haproxy)
}

const POOL: &str = "[[config]]\nname = \"s2\"\npm = \"static\"\nmax_children = 2\n";

fn fleet(ran: &common::Ran) -> &FleetView {
    ran.config(0)
        .fleet
        .as_ref()
        .expect("a fleet run has a fleet view")
}

fn instance<'a>(f: &'a FleetView, name: &str) -> &'a InstanceView {
    f.instances.iter().find(|i| i.name == name).unwrap()
}

fn count(m: &BTreeMap<String, u64>, key: &str) -> u64 {
    m.get(key).copied().unwrap_or(0)
}

fn errors(f: &FleetView) -> u64 {
    f.alb_codes
        .iter()
        .filter(|(k, _)| !k.starts_with('2'))
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn a_killed_instance_goes_out_after_exactly_the_unhealthy_threshold_and_its_502s_say_it_died() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{POOL}[[phase]]\nduration = \"5s\"\npattern = \"constant\"\nrate = 30\n\
         [[request]]\npath = \"/hello.php\"\n\
         [fleet]\ninstances = 2\n[fleet.balancer]\ninterval = \"200ms\"\ntimeout = \"100ms\"\n\
         unhealthy_threshold = 3\nhealthy_threshold = 2\n\
         [[event]]\nat = \"2s\"\naction = \"kill\"\ninstance = \"i2\"\n"
    );
    let ran = common::run_text_end_to_end(dir.path(), "kill", &text);
    let f = fleet(&ran);
    let (i1, i2) = (instance(f, "i1"), instance(f, "i2"));
    let kill = f
        .events
        .iter()
        .find(|e| e.action == "kill")
        .expect("the kill happened");
    assert!(kill.error.is_none(), "{kill:?}");
    // HAProxy counts failed checks only while a server is up: exactly the threshold.
    assert_eq!(i2.check_failures_when_out, Some(3), "{:?}", i2.health);
    assert!(
        i2.first_out_ms.unwrap() > kill.t_ms as i64,
        "{:?}",
        i2.health
    );
    assert!(count(&f.causes, "instance_died") >= 1, "{:?}", f.causes);
    let other: u64 = (f.causes.iter())
        .filter(|(k, _)| k.as_str() != "instance_died")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        other, 0,
        "every failure is the dead instance's: {:?}",
        f.causes
    );
    // The other instance kept serving, without a single failure, and took over.
    assert_eq!(errors_of(i1), 0, "{:?}", i1.alb_codes);
    assert!(
        i1.requests > i2.requests,
        "i1 {} vs i2 {}",
        i1.requests,
        i2.requests
    );
    assert!(ran.table.contains("fleet of config s2"), "{}", ran.table);
    // Its own sampler saw its php-fpm master go: an event of i2's, after the kill.
    let events = &ran.config(0).events;
    let died = (events.iter()).find(|e| e.kind == "fpm_master_died");
    let died = died.unwrap_or_else(|| panic!("no fpm_master_died in {events:?}"));
    assert_eq!(died.instance.as_deref(), Some("i2"), "{died:?}");
    // A sample is stamped when it starts: one under way at the kill may see it.
    assert!(
        died.t_ms + 500 >= kill.t_ms as i64,
        "{died:?} before {kill:?}"
    );
    assert!(
        events.iter().all(|e| e.instance.is_some()),
        "a fleet's events are its instances': {events:?}"
    );
}

fn errors_of(i: &InstanceView) -> u64 {
    i.alb_codes
        .iter()
        .filter(|(k, _)| !k.starts_with('2'))
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn the_deep_check_takes_the_overloaded_instance_out_and_the_fleet_fails_less() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("shallow.csv");
    let (shallow, scraped) = run_scraping_instances(
        &common::shipped("fleet-lying-health"),
        &dir.path().join("shallow"),
        &csv,
    );
    let deep = common::run_end_to_end(
        &common::shipped("fleet-lying-health-deep"),
        &dir.path().join("deep"),
    );
    let (fs, fd) = (fleet(&shallow), fleet(&deep));
    // nginx answers the shallow check whatever php-fpm does: i2 is never taken out.
    assert_eq!(
        instance(fs, "i2").first_out_ms,
        None,
        "{:?}",
        instance(fs, "i2").health
    );
    assert!(
        instance(fd, "i2").first_out_ms.is_some(),
        "{:?}",
        instance(fd, "i2").health
    );
    assert!(
        errors(fs) > 0,
        "the overloaded instance fails requests: {:?}",
        fs.alb_codes
    );
    assert!(
        errors(fd) * 2 < errors(fs),
        "deep {:?} vs shallow {:?}",
        fd.alb_codes,
        fs.alb_codes
    );
    // Beside the balancer's view, each instance's own status page, sampled directly: i2's
    // one worker busy, its listen queue deep, while the shallow check kept it in rotation;
    // i1's 8 workers never all busy.
    let own = |f: &FleetView, name: &str| {
        let i = instance(f, name);
        i.sampled
            .clone()
            .unwrap_or_else(|| panic!("{name}: not sampled"))
    };
    let (i1, i2) = (own(fs, "i1"), own(fs, "i2"));
    assert!(i2.summary.samples >= 15, "{:?}", i2.summary);
    assert_eq!(i2.summary.peak_active_workers, Some(1), "{:?}", i2.summary);
    assert!(
        i2.summary.max_listen_queue.unwrap_or(0) >= 3,
        "i2's queue: {:?}",
        i2.summary
    );
    assert!(
        i1.summary
            .peak_active_workers
            .is_some_and(|p| (1..8).contains(&p)),
        "{:?}",
        i1.summary
    );
    // Native: the workers' CPU and memory from /proc, second by second.
    assert!(
        (i2.seconds.iter()).any(|s| s.memory_mib_max.is_some_and(|m| m > 1.0)),
        "{:?}",
        i2.seconds
    );
    let file = shallow.out.join(&i2.samples_file);
    let lines = std::fs::read_to_string(&file).unwrap().lines().count() as u32;
    assert_eq!(lines, i2.summary.samples, "{}", file.display());
    the_configs_peaks_are_per_instance_maxima(&shallow, &[&i1, &i2]);
    the_timeline_csv_has_each_instances_samples(&dir.path().join("shallow-timeline.csv"), &i2);
    // Live, during the run: each instance's latest reading of its own sampler.
    for i in ["i1", "i2"] {
        let labels = format!("{{config=\"static-8\",instance=\"{i}\"}}");
        for family in [
            "fpmlab_fleet_sampled_up",
            "fpmlab_fleet_sampled_busy_workers",
        ] {
            assert!(
                scraped.contains(&format!("{family}{labels} ")),
                "{family}{labels} in:\n{scraped}"
            );
        }
        // php-fpm_exporter's figures, from the instance's own status page.
        let own = format!("phpfpm_active_processes{{config=\"static-8\",instance=\"{i}\",pool=");
        assert!(scraped.contains(&own), "{own} in:\n{scraped}");
    }
    // Not the config's sampler's, which reaches whichever instance the balancer picks.
    let mixed = "phpfpm_active_processes{config=\"static-8\",pool=";
    assert!(!scraped.contains(mixed), "{mixed} in:\n{scraped}");
}

/// The config's server-side peaks in run.json, and its row of the table, are each the
/// highest any one instance reached in its own samples, with that instance named: with
/// the config's own sampler looking through the balancer they once read 117 queued and 8
/// workers, which no single instance had together.
fn the_configs_peaks_are_per_instance_maxima(ran: &common::Ran, own: &[&InstanceSampled]) {
    let c = ran.config(0);
    let highest =
        |read: fn(&SampleSummary) -> Option<u32>| own.iter().filter_map(|o| read(&o.summary)).max();
    assert_eq!(
        c.server.max_listen_queue,
        highest(|s| s.max_listen_queue),
        "{:?}",
        c.server
    );
    assert_eq!(
        c.server.peak_total_workers,
        highest(|s| s.peak_total_workers)
    );
    assert_eq!(
        c.server.peak_active_workers,
        highest(|s| s.peak_active_workers)
    );
    let samples: u32 = own.iter().map(|o| o.summary.samples).sum();
    assert_eq!(c.server.samples, samples);
    let phase = &c.server_by_phase[0].server;
    assert_eq!(phase.peak_total_workers, Some(8), "{phase:?}");
    // i2's queue is the fleet's deepest; i1's 8 workers its most.
    let queue = c.server.max_listen_queue.unwrap();
    assert!(
        ran.table.contains(&format!(" {queue} (i2) ")),
        "{}",
        ran.table
    );
    assert!(ran.table.contains(" 8 (i1) "), "{}", ran.table);
    assert!(ran.table.contains("per-instance maxima"), "{}", ran.table);
}

/// The timeline CSV's per-instance rows carry that instance's own samples of each second:
/// i2's listen queue rises, never above its peak.
fn the_timeline_csv_has_each_instances_samples(file: &std::path::Path, i2: &InstanceSampled) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (instance, queue) = (col("instance"), col("sampled_listen_queue_max"));
    let busy = col("sampled_active_workers_max");
    let rows: Vec<Vec<&str>> = (text.lines().skip(1))
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[instance] == "i2")
        .collect();
    assert!(rows.len() >= 10, "{text}");
    let queues: Vec<u32> = rows.iter().filter_map(|r| r[queue].parse().ok()).collect();
    let deepest = queues.iter().copied().max().unwrap_or(0);
    assert!(
        deepest >= 3,
        "i2's sampled listen queue per second: {queues:?}"
    );
    assert!(Some(deepest) <= i2.summary.max_listen_queue, "{queues:?}");
    assert!(rows.iter().any(|r| r[busy] == "1"), "{text}");
    // The config's own rows: per second, the highest of its instances' own samples.
    let (t, config_queue) = (col("t_s"), col("listen_queue_max"));
    let all: Vec<Vec<&str>> = (text.lines().skip(1))
        .map(|l| l.split(',').collect::<Vec<_>>())
        .collect();
    let mut compared = 0;
    for row in all.iter().filter(|r| r[instance].is_empty()) {
        let of_second: Vec<&Vec<&str>> = (all.iter())
            .filter(|r| !r[instance].is_empty() && r[t] == row[t])
            .collect();
        if of_second.len() < 2 {
            continue;
        }
        let highest = (of_second.iter())
            .filter_map(|r| r[queue].parse::<u32>().ok())
            .max();
        assert_eq!(
            row[config_queue].parse::<u32>().ok(),
            highest,
            "second {}",
            row[t]
        );
        compared += 1;
    }
    assert!(compared >= 10, "{text}");
}

/// Runs a scenario as [`common::run_end_to_end`] does, with `--export-csv CSV` and the
/// live metrics endpoint, scraped during the run until every instance of the fleet shows
/// there: the run and the last scrape.
fn run_scraping_instances(
    scenario: &std::path::Path,
    out: &std::path::Path,
    csv: &std::path::Path,
) -> (common::Ran, String) {
    use std::io::{Read, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let csv = csv.to_string_lossy();
    let more = ["--export-csv", &csv, "--metrics-listen", &listen];
    let mut child = common::spawn_native_with(scenario, out, &more);
    let scrape = || -> Option<String> {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        conn.read_to_string(&mut text).ok()?;
        Some(text)
    };
    let mut last = String::new();
    let every = |t: &str| {
        ["i1", "i2"]
            .iter()
            .all(|i| t.contains(&format!("instance=\"{i}\"")))
    };
    while !every(&last) && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(300));
        last = scrape().unwrap_or_default();
    }
    let ran = common::finish(child.wait_with_output().unwrap(), out, Some(0));
    (ran, last)
}

#[test]
fn idle_timeout_no_target_and_a_cold_instance_give_the_albs_codes() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{POOL}[[phase]]\nduration = \"5s\"\npattern = \"constant\"\nrate = 20\n\
         [[request]]\nname = \"fast\"\npath = \"/hello.php\"\nweight = 4\n\
         [[request]]\nname = \"slow\"\npath = \"/io.php?ms=900\"\nweight = 1\n\
         [fleet]\ninstances = 2\n[fleet.balancer]\ninterval = \"200ms\"\ntimeout = \"100ms\"\n\
         idle_timeout = \"400ms\"\n\
         [[event]]\nat = \"500ms\"\naction = \"add\"\ncold = {{ status = 401, for = \"1500ms\" }}\n\
         [[event]]\nat = \"3500ms\"\naction = \"remove\"\ninstance = \"i1\"\n\
         [[event]]\nat = \"3500ms\"\naction = \"remove\"\ninstance = \"i2\"\n\
         [[event]]\nat = \"3500ms\"\naction = \"remove\"\ninstance = \"i3\"\n"
    );
    let ran = common::run_text_end_to_end(dir.path(), "codes", &text);
    let f = fleet(&ran);
    assert!(f.events.iter().all(|e| e.error.is_none()), "{:?}", f.events);
    // io.php?ms=900 outlives the 400 ms idle timeout: the balancer's 504.
    assert!(count(&f.alb_codes, "504") >= 1, "{:?}", f.alb_codes);
    assert!(
        count(&f.causes, "cut_by_balancer_idle_timeout") >= 1,
        "{:?}",
        f.causes
    );
    // Every instance deregistered: 503, no healthy target.
    assert!(count(&f.alb_codes, "503") >= 1, "{:?}", f.alb_codes);
    assert!(count(&f.causes, "no_healthy_target") >= 1, "{:?}", f.causes);
    // The cold instance answered 401 while cold, then served.
    let i3 = instance(f, "i3");
    assert!(count(&i3.alb_codes, "401") >= 1, "{:?}", i3.alb_codes);
    assert!(count(&i3.alb_codes, "200") >= 1, "{:?}", i3.alb_codes);
    assert!(
        f.events.iter().any(|e| e.action == "cold_end"),
        "{:?}",
        f.events
    );
    report_shows_the_fleet(&ran, f, dir.path());
}

/// Reads what the page's fleet section holds once Chromium has laid it out: the rows of
/// the per-instance and cause tables, the health spans, and the event markers on the fleet's
/// charts and on the latency chart.
const PROBE: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
window.addEventListener('load', () => {
  const count = q => document.querySelectorAll(q).length;
  const drawn = [...document.querySelectorAll('#fleet-health svg, #fleet-requests svg')].map(s => s.getBoundingClientRect().width);
  document.body.setAttribute('data-probe', JSON.stringify({errors: window.__errors,
    instances: count('#fleet table.fleet-instances tbody tr'), causes: count('#fleet table.fleet-causes tbody tr'),
    health_spans: count('#fleet-health svg rect.fleet-health'), lanes_events: count('#fleet-health svg g.event'),
    requests_events: count('#fleet-requests svg g.event'), latency_events: count('#latency svg g.event'),
    drawn: drawn}));
});
</script>"#;

/// The run's report.html, opened in headless Chromium (Debian's `chromium`, from
/// `scripts/setup.sh --tests`): the fleet section, its health spans and the fleet's events
/// as markers are there and drawn, without a console error.
fn report_shows_the_fleet(ran: &common::Ran, f: &FleetView, dir: &std::path::Path) {
    let html = std::fs::read_to_string(ran.out.join("report.html")).expect("run wrote report.html");
    assert!(html.contains("id=\"fleet\""), "no fleet section");
    // The per-config server charts would mix instances (the config's sampler looks through
    // the balancer): they point to the instances' own instead.
    assert!(
        html.contains("a fleet: per instance, in the Fleet section below"),
        "a fleet's server charts drawn from the sampler through the balancer"
    );
    let Some(p) = common::probe_page(&html, PROBE, dir) else {
        return;
    };
    let n = |k: &str| p[k].as_u64().unwrap_or(0) as usize;
    assert_eq!(p["errors"].as_array().unwrap().len(), 0, "{p:#}");
    assert_eq!(n("instances"), f.instances.len(), "{p:#}");
    assert_eq!(n("causes"), f.causes.len(), "{p:#}");
    let spans: usize = f.instances.iter().map(|i| i.health_spans.len()).sum();
    assert!(spans >= f.instances.len(), "{:?}", f.instances);
    assert_eq!(n("health_spans"), spans, "{p:#}");
    // Every fleet event (add, cold end, three removes) is a marker on every chart over time.
    let markers = f.events.len() + ran.config(0).events.len();
    for k in ["lanes_events", "requests_events", "latency_events"] {
        assert_eq!(n(k), markers, "{k}: {p:#}");
    }
    let drawn = p["drawn"].as_array().unwrap();
    assert!(
        drawn.len() == 2 && drawn.iter().all(|w| w.as_f64().unwrap() > 100.0),
        "{p:#}"
    );
}

#[test]
fn bad_fleet_definitions_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{POOL}[[phase]]\nduration = \"3s\"\npattern = \"constant\"\nrate = 1\n\
         [[request]]\npath = \"/hello.php\"\n\
         [fleet]\ninstances = 2\n[fleet.balancer]\ninterval = \"1s\"\ntimeout = \"1s\"\n\
         [[event]]\nat = \"1s\"\naction = \"kill\"\ninstance = \"i3\"\n\
         [[event]]\nat = \"5s\"\naction = \"drain\"\ninstance = \"i1\"\n\
         [[event]]\nat = \"2s\"\naction = \"explode\"\n"
    );
    let path = common::scenario(dir.path(), "bad", &text);
    let out = dir.path().join("out");
    let o = std::process::Command::new(common::bin())
        .args(["run", path.to_str().unwrap(), "--stack", "native", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for needle in [
        "fleet.balancer.timeout",
        "event[0].instance",
        "no instance \"i3\"",
        "event[1].at",
        "event[2].action",
    ] {
        assert!(err.contains(needle), "{needle:?} not in:\n{err}");
    }
    assert!(
        !out.exists(),
        "a refused scenario must not create a results directory"
    );
}

#[test]
fn a_cold_instance_switches_clients_off_and_retrying_before_disabling_keeps_them() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = |tries: u32| {
        format!(
            "{POOL}[[phase]]\nname = \"batches\"\nduration = \"5s\"\npattern = \"clients\"\nclients = 30\n\
             every = \"500ms\"\ndisable_on = [401]\ntries = {tries}\n\
             [[request]]\npath = \"/hello.php\"\n\
             [fleet]\ninstances = 2\n[fleet.balancer]\ninterval = \"500ms\"\ntimeout = \"200ms\"\n\
             [[event]]\nat = \"1s\"\naction = \"add\"\ncold = {{ status = 401, for = \"2s\" }}\n"
        )
    };
    let once = common::run_text_end_to_end(dir.path(), "once", &text(1));
    let thrice = common::run_text_end_to_end(dir.path(), "thrice", &text(3));
    let (c1, c3) = (
        &once.config(0).recorded.clients[0],
        &thrice.config(0).recorded.clients[0],
    );
    assert_eq!((c1.clients, c1.intended), (30, 300));
    // A third of the batches in the 2 s window land on the cold instance: most clients go.
    assert!(c1.lost >= 10, "{c1:?}");
    let cold = fleet(&once)
        .events
        .iter()
        .find(|e| e.action == "add")
        .unwrap()
        .t_ms;
    assert!(
        c1.lost_at_ms
            .iter()
            .all(|t| *t >= cold && *t <= cold + 2_500),
        "lost outside the cold window (joined at {cold} ms): {c1:?}"
    );
    assert!(
        c1.attempted < c1.intended,
        "lost clients send nothing more: {c1:?}"
    );
    // Retrying at once lands elsewhere behind round robin: few or none are lost.
    assert!(
        c3.lost * 4 <= c1.lost,
        "tries = 3 {c3:?} vs tries = 1 {c1:?}"
    );
    assert!(c3.retries > 0 && c3.amplification > 1.0, "{c3:?}");
    // Every 401 either made a client retry or, on its last try, switched it off; give or
    // take a few at the load's end (a retry still waiting its turn is neither sent nor
    // counted), which a busy machine makes more likely.
    let answered_401 = count(&fleet(&thrice).alb_codes, "401");
    let accounted = c3.retries + u64::from(c3.lost);
    assert!(
        answered_401 >= u64::from(c3.lost),
        "{answered_401} 401s, {c3:?}"
    );
    assert!(
        answered_401.abs_diff(accounted) <= 3,
        "{answered_401} 401s against {accounted} retries and lost clients: {c3:?}"
    );
}
