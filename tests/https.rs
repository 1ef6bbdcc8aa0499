//! HTTPS targets end to end: a local nginx serves `return 200` over TLS on three ports, with
//! certificates this test makes (rcgen): one from a test CA for 127.0.0.1, one from the same
//! CA for another name, one from it that expired in 2021. The real binary runs against them
//! with `--stack external`. Skipped, loudly, where nginx is missing (fails under CI=true).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// The test CA and the leaf certificates it signed, as PEM files in a directory; and a
/// self-signed certificate that says it is a CA, as `openssl req -x509` makes them.
struct Certs {
    ca: PathBuf,
    self_signed: PathBuf,
}

fn make_certs(dir: &Path) -> Certs {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fpmlab test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf = |name: &str, sans: &[&str], expired: bool| {
        let key = KeyPair::generate().unwrap();
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(sans).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        if expired {
            p.not_before = date_time_ymd(2020, 1, 1);
            p.not_after = date_time_ymd(2021, 1, 1);
        }
        let cert: Certificate = p.signed_by(&key, &ca, &ca_key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    };
    leaf("good", &["127.0.0.1", "localhost"], false);
    leaf("other-name", &["staging.example.com"], false);
    leaf("expired", &["127.0.0.1"], true);
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "staging");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = p.self_signed(&key).unwrap();
    let self_signed = dir.join("self-signed.pem");
    std::fs::write(&self_signed, cert.pem()).unwrap();
    std::fs::write(dir.join("self-signed.key"), key.serialize_pem()).unwrap();
    Certs {
        ca: ca_path,
        self_signed,
    }
}

/// nginx over TLS on three loopback ports: `good`, `other-name` and `expired` certificates.
/// Its access log names each request's connection and the generator's request id.
struct Staging {
    child: Child,
    dir: PathBuf,
    good: u16,
    other_name: u16,
    expired: u16,
    self_signed: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Staging {
    fn start(dir: &Path) -> Staging {
        let nginx = fpmlab::stack::Binaries::discover().unwrap().nginx;
        let (good, other_name, expired) = (free_port(), free_port(), free_port());
        let self_signed = free_port();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let d = dir.display();
        let server = |port: u16, cert: &str| {
            format!(
                "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/{cert}.pem; \
                 ssl_certificate_key {d}/{cert}.key; location / {{ return 200 \"ok\\n\"; }} }}"
            )
        };
        let conf = format!(
            "daemon off; worker_processes 1; pid {d}/tmp/nginx.pid; error_log {d}/error.log; {user}
             events {{ worker_connections 1024; }}
             http {{ log_format conns '$connection $ssl_session_reused $http_x_fpmlab_id';
               access_log {d}/access.log conns;
               keepalive_requests 1000000; keepalive_timeout 60s;
               client_body_temp_path {d}/tmp/b; fastcgi_temp_path {d}/tmp/f;
               proxy_temp_path {d}/tmp/p; scgi_temp_path {d}/tmp/s; uwsgi_temp_path {d}/tmp/u;
               {} {} {} {} }}",
            server(good, "good"),
            server(other_name, "other-name"),
            server(expired, "expired"),
            server(self_signed, "self-signed"),
            // SAFETY: geteuid has no preconditions.
            user = if unsafe { libc::geteuid() } == 0 {
                "user root;"
            } else {
                ""
            }
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir.join("tmp"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .spawn()
            .expect("start nginx");
        let staging = Staging {
            child,
            dir: dir.to_path_buf(),
            good,
            other_name,
            expired,
            self_signed,
        };
        for _ in 0..100 {
            if [good, other_name, expired, self_signed]
                .iter()
                .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
            {
                return staging;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        panic!("nginx did not start: {log}");
    }

    /// The generator's requests as nginx saw them: (connection, session reused) of each.
    fn generator_requests(&self) -> Vec<(u64, bool)> {
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap();
        log.lines()
            .filter_map(|l| {
                let mut f = l.split(' ');
                let (conn, reused, id) = (f.next()?, f.next()?, f.next()?);
                (id != "-").then(|| (conn.parse().unwrap(), reused == "r"))
            })
            .collect()
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // SAFETY: signalling our own child; QUIT lets the master take its worker down.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGQUIT) };
        let _ = self.child.wait();
    }
}

fn scenario(dir: &Path, users: u32, secs: u32) -> PathBuf {
    common::scenario(
        dir,
        "https",
        &format!(
            "[[config]]\nname = \"staging\"\npm = \"static\"\nmax_children = 1\n\
             [[phase]]\nduration = \"{secs}s\"\npattern = \"closed\"\nusers = {users}\n\
             [[request]]\npath = \"/\"\n"
        ),
    )
}

fn fpmlab(scenario: &Path, out: &Path, target: &str, extra: &[&str]) -> Output {
    Command::new(common::bin())
        .args(["run", scenario.to_str().unwrap(), "--stack", "external"])
        .args(["--target", target, "--quiet", "--no-report", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Each certificate problem refuses the run before it starts (exit 2, no run directory),
/// naming its cause, what the certificate says and the fix.
#[test]
fn a_certificate_problem_refuses_the_run_with_its_cause() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path());
    let staging = Staging::start(dir.path());
    let path = scenario(dir.path(), 1, 1);
    let ca = certs.ca.to_str().unwrap();
    let cases: [(u16, &[&str], &[&str]); 3] = [
        // The system's store does not know the test CA.
        (
            staging.good,
            &[],
            &["unknown issuer", "--ca-file", "--insecure-tls"],
        ),
        (
            staging.other_name,
            &["--ca-file", ca],
            &[
                "is for staging.example.com, not 127.0.0.1 (name mismatch)",
                "--insecure-tls",
            ],
        ),
        (
            staging.expired,
            &["--ca-file", ca],
            &["expired on 2021-01-01 00:00:00 UTC (its notAfter", "renew"],
        ),
    ];
    for (port, flags, says) in cases {
        let out = dir.path().join(format!("out-{port}"));
        let target = format!("https://127.0.0.1:{port}");
        let o = fpmlab(&path, &out, &target, flags);
        let (_, err) = text(&o);
        eprintln!("{target} {flags:?}:\n{err}");
        assert_eq!(o.status.code(), Some(2), "{target} {flags:?}: {err}");
        for s in says {
            assert!(
                err.contains(s),
                "{target} {flags:?}: wanted {s:?} in: {err}"
            );
        }
        assert!(!out.exists(), "{target}: a run directory was made");
    }
    // The same CA file turns the first target's refusal into a verified handshake: it is
    // the file, not luck, that made the difference (see the test below for a whole run).
}

/// `--insecure-tls` runs against the self-signed staging target the system's store refuses;
/// the run says and records that verification was off.
#[test]
fn insecure_tls_accepts_a_staging_certificate() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let staging = Staging::start(dir.path());
    let path = scenario(dir.path(), 2, 1);
    let out = dir.path().join("out");
    // Even the expired certificate is accepted: nothing about it is checked.
    let target = format!("https://127.0.0.1:{}", staging.expired);
    let o = fpmlab(&path, &out, &target, &["--insecure-tls"]);
    let (table, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}\n{table}");
    let run = common::load(&out);
    assert!(
        run.warnings.iter().any(|w| w.contains("--insecure-tls")),
        "{:?}",
        run.warnings
    );
    let json = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(json.contains("\"verify\": \"off\""), "run.json records it");
    let s = &run.configs[0].recorded.summary;
    assert!(s.responses > 0, "{s:?}");
    assert_eq!(s.client_failures.total(), 0, "{s:?}");
    assert!(table.contains("TLS:"), "{table}");
}

/// `--ca-file` keeps verification on and the run succeeds; with keep-alive the generator
/// makes one handshake per connection (as nginx counts connections), far fewer than
/// requests, and reports their time apart.
#[test]
fn a_ca_file_verifies_and_handshakes_are_counted_apart() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path());
    let staging = Staging::start(dir.path());
    let users = 4;
    let path = scenario(dir.path(), users, 2);
    let out = dir.path().join("out");
    let target = format!("https://127.0.0.1:{}", staging.good);
    let o = fpmlab(
        &path,
        &out,
        &target,
        &["--ca-file", certs.ca.to_str().unwrap()],
    );
    let (table, err) = text(&o);
    eprintln!("{table}");
    assert_eq!(o.status.code(), Some(0), "{err}\n{table}");
    let run = common::load(&out);
    let c = &run.configs[0];
    let s = &c.recorded.summary;
    assert_eq!(s.client_failures.total(), 0, "{s:?}");
    assert_eq!(s.status_counts.get("200"), Some(&s.sent), "{s:?}");
    let tls = c.recorded.tls.as_ref().expect("run.json: recorded.tls");
    let seen = staging.generator_requests();
    let connections: BTreeSet<u64> = seen.iter().map(|(c, _)| *c).collect();
    assert_eq!(seen.len() as u64, s.responses, "nginx logged every request");
    assert_eq!(
        tls.handshakes,
        connections.len() as u64,
        "one handshake per connection nginx saw"
    );
    assert_eq!(tls.failures, 0);
    // Closed loop: one connection per user, kept alive (a few more would still be honest).
    assert!(
        tls.handshakes >= 1 && tls.handshakes <= 2 * u64::from(users),
        "{tls:?}"
    );
    assert!(
        s.responses >= 20 * tls.handshakes,
        "{} requests, {tls:?}",
        s.responses
    );
    assert_eq!(tls.handshake_us.count, tls.handshakes);
    assert!(tls.handshake_us.p50_us > 0, "{tls:?}");
    assert!(
        table.contains("TLS: ") && table.contains("handshakes"),
        "{table}"
    );
    // Verification stayed on: nothing was said about it being off.
    assert!(!run.warnings.iter().any(|w| w.contains("insecure")));
    assert!(std::fs::read_to_string(out.join("run.json"))
        .unwrap()
        .contains("\"verify\": \"ca_file\""));

    // A self-signed certificate that says it is a CA, given as --ca-file, is accepted as
    // curl accepts it (rustls alone refuses a CA's certificate as a server's own).
    let out = dir.path().join("out-self-signed");
    let target = format!("https://127.0.0.1:{}", staging.self_signed);
    let path = scenario(dir.path(), 1, 1);
    let ca = certs.self_signed.to_str().unwrap();
    let o = fpmlab(&path, &out, &target, &["--ca-file", ca]);
    let (table, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}\n{table}");
    let o = fpmlab(&path, &dir.path().join("out-refused"), &target, &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("give that very certificate as --ca-file"),
        "{err}"
    );
}

/// The TLS options are refused on an http target, before anything starts.
#[test]
fn tls_options_need_an_https_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 1, 1);
    let out = dir.path().join("out");
    for flags in [&["--insecure-tls"][..], &["--ca-file", "/x.pem"]] {
        let o = fpmlab(&path, &out, "http://127.0.0.1:9", flags);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains("applies to an https:// target"), "{err}");
        assert!(!out.exists());
    }
    let o = Command::new(common::bin())
        .args(["run", path.to_str().unwrap(), "--stack", "external"])
        .args(["--target", "https://127.0.0.1:9", "--insecure-tls"])
        .args(["--ca-file", "/x.pem"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "clap refuses both at once");
}
