//! `fpmlab validate` and `fpmlab run` refuse bad scenario files before starting anything,
//! naming the file, the field and the fix.

use std::process::Command;

const BASE_CONFIG: &str = "[[config]]\nname = \"c\"\npm = \"static\"\nmax_children = 2\n";
const BASE_PHASE: &str = "[[phase]]\nduration = \"1s\"\npattern = \"constant\"\nrate = 1\n";
const BASE_REQUEST: &str = "[[request]]\npath = \"/hello.php\"\n";

fn fpmlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fpmlab"))
        .args(args)
        .output()
        .expect("run fpmlab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Each case: (what, file text, substrings the error must contain).
fn cases() -> Vec<(&'static str, String, Vec<&'static str>)> {
    let with_config = |c: &str| format!("{c}\n{BASE_PHASE}\n{BASE_REQUEST}");
    let with_phase = |p: &str| format!("{BASE_CONFIG}\n{p}\n{BASE_REQUEST}");
    vec![
        ("toml syntax", "[[config]\n".into(), vec!["line 1"]),
        ("unknown key", format!("{BASE_CONFIG}max_chilren = 3\n{BASE_PHASE}{BASE_REQUEST}"), vec!["unknown field `max_chilren`", "fix:"]),
        ("unknown stack key", format!("[stack]\nbacklog = 3\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["unknown field `backlog`"]),
        ("no configs", format!("{BASE_PHASE}{BASE_REQUEST}"), vec!["no [[config]] given"]),
        ("pm missing", with_config("[[config]]\nmax_children = 2"), vec!["config[0]", ".pm", "the process manager is missing (static, dynamic or ondemand)"]),
        ("pm invalid", with_config("[[config]]\npm = \"adaptive\"\nmax_children = 2"), vec!["invalid process manager \"adaptive\""]),
        ("max_children 0", with_config("[[config]]\npm = \"static\"\nmax_children = 0"), vec!["max_children", "pm.max_children must be a positive value"]),
        ("max_children negative", with_config("[[config]]\npm = \"static\"\nmax_children = -1"), vec!["-1 is out of range"]),
        ("sweep base unknown", with_config("[[sweep]]\nbase = \"statc\"\nmax_children = [1, 2]"), vec!["sweep[0].base", "neither a pm kind nor a [[config]] name"]),
        ("sweep range reversed", with_config("[[sweep]]\nbase = \"static\"\nmax_children = { from = 8, to = 2 }"), vec!["sweep[0].max_children", "swap them"]),
        ("max_children missing", with_config("[[config]]\npm = \"static\""), vec!["pm.max_children is missing"]),
        ("dynamic without spares", with_config("[[config]]\npm = \"dynamic\"\nmax_children = 5"), vec!["pm.min_spare_servers(0) must be a positive value", "pm.max_spare_servers(0) must be a positive value"]),
        ("spares above max_children", with_config("[[config]]\npm = \"dynamic\"\nmax_children = 5\nmin_spare_servers = 1\nmax_spare_servers = 6"), vec!["pm.min_spare_servers(1) and pm.max_spare_servers(6) cannot be greater than pm.max_children(5)"]),
        ("max_spare below min_spare", with_config("[[config]]\npm = \"dynamic\"\nmax_children = 5\nmin_spare_servers = 3\nmax_spare_servers = 2"), vec!["pm.max_spare_servers(2) must not be less than pm.min_spare_servers(3)"]),
        ("start_servers out of range", with_config("[[config]]\npm = \"dynamic\"\nmax_children = 5\nmin_spare_servers = 1\nmax_spare_servers = 3\nstart_servers = 4"), vec!["pm.start_servers(4) must not be less than pm.min_spare_servers(1) and not greater than pm.max_spare_servers(3)"]),
        ("max_spawn_rate 0", with_config("[[config]]\npm = \"dynamic\"\nmax_children = 5\nmin_spare_servers = 1\nmax_spare_servers = 3\nmax_spawn_rate = 0"), vec!["pm.max_spawn_rate must be a positive value"]),
        ("idle timeout 0", with_config("[[config]]\npm = \"ondemand\"\nmax_children = 5\nprocess_idle_timeout = \"0s\""), vec!["pm.process_idle_timeout(0s) must be greater than 0s"]),
        ("spare setting on static", with_config("[[config]]\npm = \"static\"\nmax_children = 5\nmin_spare_servers = 1"), vec!["min_spare_servers applies only to pm = dynamic"]),
        ("idle timeout on dynamic", with_config("[[config]]\npm = \"dynamic\"\nmax_children = 5\nmin_spare_servers = 1\nmax_spare_servers = 1\nprocess_idle_timeout = \"5s\""), vec!["process_idle_timeout applies only to pm = ondemand"]),
        ("duplicate config names", format!("{BASE_CONFIG}{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["two configs are named \"c\""]),
        ("bad config name", with_config("[[config]]\nname = \"a b\"\npm = \"static\"\nmax_children = 1"), vec!["\"a b\" is not a usable name"]),
        ("duration without unit", with_phase("[[phase]]\nduration = \"20\"\npattern = \"constant\"\nrate = 1"), vec!["duration", "has no unit"]),
        ("bad duration unit", with_phase("[[phase]]\nduration = \"2 days\"\npattern = \"constant\"\nrate = 1"), vec!["unknown unit"]),
        ("pattern unknown", with_phase("[[phase]]\nduration = \"1s\"\npattern = \"wave\""), vec!["unknown pattern \"wave\""]),
        ("rate missing", with_phase("[[phase]]\nduration = \"1s\"\npattern = \"poisson\""), vec!["rate is missing"]),
        ("rate zero", with_phase("[[phase]]\nduration = \"1s\"\npattern = \"constant\"\nrate = 0"), vec!["0 is not a usable rate"]),
        ("field of another pattern", with_phase("[[phase]]\nduration = \"1s\"\npattern = \"constant\"\nrate = 1\nsize = 3"), vec!["size does not apply to pattern \"constant\""]),
        ("burst without every", with_phase("[[phase]]\nduration = \"1s\"\npattern = \"burst\"\nsize = 3"), vec!["every is missing"]),
        ("closed without users", with_phase("[[phase]]\nduration = \"1s\"\npattern = \"closed\""), vec!["users is missing"]),
        ("runaway schedule", with_phase("[[phase]]\nduration = \"1h\"\npattern = \"constant\"\nrate = 1000000"), vec!["over the limit"]),
        ("bad request path", format!("{BASE_CONFIG}{BASE_PHASE}[[request]]\npath = \"cpu.php\"\n"), vec!["is not a request path"]),
        ("bad method", format!("{BASE_CONFIG}{BASE_PHASE}[[request]]\npath = \"/\"\nmethod = \"get\"\n"), vec!["is not a method"]),
        ("php size", format!("[stack]\nmemory_limit = \"128MB\"\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["stack.memory_limit", "is not a php size"]),
        ("terminate timeout in ms", format!("[stack]\nrequest_terminate_timeout = \"1500ms\"\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["not whole seconds"]),
        ("listen kind", format!("[stack]\nlisten = \"udp\"\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["use \"tcp\" or \"unix\""]),
        ("backlog zero", format!("[stack]\nlisten_backlog = 0\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["0 is not a backlog"]),
        ("missing cpu", format!("[stack]\ncpuset = [4096]\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["CPU 4096 does not exist"]),
        ("client timeout zero", format!("[load]\nclient_timeout = \"0s\"\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["load.client_timeout"]),
        ("duration as a number", format!("[stack]\nmax_execution_time = 30\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["stack.max_execution_time is a duration: write \"30s\"", "line 2"]),
        ("count in quotes", with_config("[[config]]\npm = \"static\"\nmax_children = \"4\""), vec!["config.max_children is a whole number: write it without quotes"]),
        ("size as a number", format!("[stack]\nmemory = 512\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["stack.memory is a size: write \"512MiB\""]),
        ("a pool of no connections", format!("[load]\nmax_connections = 0\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["load.max_connections", "give the pool's size"]),
        ("pool size in quotes", format!("[load]\nmax_connections = \"64\"\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["load.max_connections is a whole number"]),
        ("a send window wider than tokio's timer", format!("[load]\nsend_window = \"5ms\"\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["load.send_window", "at most 1ms"]),
        ("a send window without a unit", format!("[load]\nsend_window = 100\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["load.send_window is a duration: write \"100us\""]),
        ("health probe outwaits the client", format!("[load]\nclient_timeout = \"5s\"\nhealth_timeout = \"10s\"\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"), vec!["load.health_timeout", "above load.client_timeout"]),
    ]
}

#[test]
fn every_bad_file_is_refused_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    for (what, text, needles) in cases() {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let (code, _, err) = fpmlab(&["validate", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{what}: expected exit 2, stderr: {err}");
        assert!(
            err.contains(path.to_str().unwrap()),
            "{what}: the file is not named: {err}"
        );
        for n in needles {
            assert!(err.contains(n), "{what}: missing {n:?} in:\n{err}");
        }
    }
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.toml");
    std::fs::write(&path, "[[config]]\npm = \"static\"\nmax_children = 0\n[[phase]]\nduration = \"1s\"\npattern = \"wave\"\n[[request]]\npath = \"/\"\n").unwrap();
    let (code, _, err) = fpmlab(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("2 problems"), "{err}");
}

#[test]
fn run_refuses_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        format!("{BASE_CONFIG}pm_typo = 1\n{BASE_PHASE}{BASE_REQUEST}"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = fpmlab(&[
        "run",
        path.to_str().unwrap(),
        "--stack",
        "native",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        !out.exists(),
        "a refused scenario must not create a results directory"
    );
}

#[test]
fn shipped_scenarios_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let (code, out, err) = fpmlab(&["validate", path.to_str().unwrap()]);
            assert_eq!(code, 0, "{}: {out}{err}", path.display());
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with('#'),
                "{} must open with a comment saying what it reproduces",
                path.display()
            );
            n += 1;
        }
    }
    assert!(n >= 1);
}

#[test]
fn print_shows_resolved_defaults_and_nothing_else() {
    let (code, out, err) = fpmlab(&[
        "validate",
        "--print",
        concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml"),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("\"client_timeout_ms\": 60000"), "{out}");
    assert!(out.contains("\"max_spawn_rate\": 32"), "{out}");
    // Pipeable: stdout is the plan alone, the "ok" line went to stderr.
    let plan: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(plan["name"], "quickstart");
    assert!(err.contains("quickstart.toml: ok"), "{err}");
}

fn write(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("s.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn stack_checks_what_that_driver_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        &format!("{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"),
    );
    // external: needs its target, which must be this machine unless allowed.
    let (code, _, err) = fpmlab(&["validate", "--stack", "external", &good]);
    assert_eq!(code, 2);
    assert!(err.contains("--stack external needs --target"), "{err}");
    let (code, _, err) = fpmlab(&[
        "validate",
        "--stack",
        "external",
        "--target",
        "http://192.0.2.1:80",
        &good,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--allow-remote 192.0.2.1"), "{err}");
    let (code, out, err) = fpmlab(&[
        "validate",
        "--stack",
        "external",
        "--target",
        "http://127.0.0.1:8080",
        &good,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ok (1 configs, 1 phases, 1 request kinds, --stack external)"),
        "{out}"
    );
    let (code, _, err) = fpmlab(&["validate", "--target", "http://127.0.0.1:8080", &good]);
    assert_eq!(code, 2);
    assert!(err.contains("--target goes with --stack external"), "{err}");
    // native: the packages the app names must be installed here.
    let missing = write(dir.path(), &format!("[app]\npackages = [\"fpmlab-no-such-package\"]\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"));
    let (code, _, _) = fpmlab(&["validate", &missing]);
    assert_eq!(code, 0, "without --stack the machine is not checked");
    let (code, _, err) = fpmlab(&["validate", "--stack", "native", &missing]);
    assert_eq!(code, 2);
    assert!(
        err.contains("fpmlab-no-such-package is not installed"),
        "{err}"
    );
    // native: docker-only settings are said to be ignored.
    let docker_only = write(
        dir.path(),
        &format!("[stack]\ncpus = 1\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"),
    );
    let (code, out, _) = fpmlab(&["validate", "--stack", "native", &docker_only]);
    assert_eq!(code, 0);
    assert!(
        out.contains("stack.cpus only applies to --stack docker"),
        "{out}"
    );
    // docker: a unix socket is refused (or, without an engine here, the engine is).
    let unix = write(
        dir.path(),
        &format!("[stack]\nlisten = \"unix\"\n{BASE_CONFIG}{BASE_PHASE}{BASE_REQUEST}"),
    );
    let (code, _, err) = fpmlab(&["validate", "--stack", "docker", &unix]);
    assert_eq!(code, 2);
    assert!(
        err.contains("stack.listen") || err.contains("--stack docker:"),
        "{err}"
    );
}

#[test]
fn warns_when_the_workers_cannot_fit_the_memory() {
    let dir = tempfile::tempdir().unwrap();
    let config = BASE_CONFIG.replace("max_children = 2", "max_children = 8");
    let text = format!("[stack]\nmemory = \"256MiB\"\n{config}{BASE_PHASE}{BASE_REQUEST}");
    let (code, out, _) = fpmlab(&["validate", &write(dir.path(), &text)]);
    assert_eq!(code, 0);
    assert!(out.contains("max_children 8 × 128 MiB"), "{out}");
    assert!(out.contains("cannot fit stack.memory 256 MiB"), "{out}");
    // What a worker really uses, when the scenario says it, is the measure.
    let text = format!("[stack]\nmemory = \"256MiB\"\n[app]\nworker_memory = \"24MiB\"\n{config}{BASE_PHASE}{BASE_REQUEST}");
    let (code, out, _) = fpmlab(&["validate", &write(dir.path(), &text)]);
    assert_eq!(code, 0);
    assert!(!out.contains("cannot fit"), "{out}");
}

#[test]
fn a_sweep_expands_into_configs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.toml");
    let text = format!("[[sweep]]\nbase = \"static\"\nmax_children = {{ from = 1, to = 7, step = 3 }}\n{BASE_PHASE}{BASE_REQUEST}");
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = fpmlab(&["validate", "--print", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // With --print, stdout is the plan alone; the verdict goes to stderr.
    assert!(err.contains("ok (3 configs"), "{err}");
    for name in ["static-1", "static-4", "static-7"] {
        assert!(
            out.contains(&format!("\"name\": \"{name}\"")),
            "{name}: {out}"
        );
    }
}
