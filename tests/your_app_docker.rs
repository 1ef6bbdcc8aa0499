//! "Your application" on the docker stack: the packages it needs installed in an image fpmlab
//! builds itself (no registry), and its own service reached on a docker network of the
//! user's (`app.docker_network`).

mod common;

use std::process::Command;

use common::docker::{engine, fpmlab, leftovers, stderr};

fn docker(args: &[&str]) -> String {
    let o = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        o.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Removes the test's own network and service container, whatever happens.
struct Service {
    network: String,
    container: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.container])
            .output();
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

#[test]
fn packages_in_the_image_and_a_service_on_the_users_network() {
    if !engine() {
        return;
    }
    let tag =
        fpmlab::stack::image::ensure_image(&common::docker::repo().join("docker"), &mut |l| {
            eprintln!("{l}")
        })
        .expect("the stack image");
    // The user's service: nginx from fpmlab's own image (no registry here), serving Debian's
    // default page on a network of the user's.
    let id = std::process::id();
    let svc = Service {
        network: format!("fpmlab-test-net-{id}"),
        container: format!("fpmlab-test-svc-{id}"),
    };
    docker(&["network", "create", "--label", "org.fpmlab=1", &svc.network]);
    docker(&[
        "run",
        "-d",
        "--label",
        "org.fpmlab=1",
        "--network",
        &svc.network,
        "--name",
        &svc.container,
        &tag,
        "nginx",
        "-g",
        "daemon off;",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    // The app answers 200 only with the extension loaded and its service reachable by name.
    std::fs::write(
        app.join("index.php"),
        format!(
            r#"<?php
$page = @file_get_contents('http://{}/');
if (!extension_loaded('sqlite3') || $page === false || strpos($page, 'nginx') === false) {{
    http_response_code(500);
    echo "sqlite3: ", var_export(extension_loaded('sqlite3'), true), ", service: ", var_export($page !== false, true), "\n";
    exit;
}}
echo "ok ", $_SERVER['REQUEST_URI'], "\n";
"#,
            svc.container
        ),
    )
    .unwrap();
    let scenario = common::scenario(
        dir.path(),
        "app",
        &format!(
            r#"
            [app]
            root = "{}"
            front_controller = "index.php"
            packages = ["php8.2-sqlite3"]
            docker_network = "{}"
            [[config]]
            name = "static-2"
            pm = "static"
            max_children = 2
            [[phase]]
            duration = "3s"
            pattern = "constant"
            rate = 10
            [[request]]
            path = "/orders/42"
            "#,
            app.display(),
            svc.network
        ),
    );
    let out = dir.path().join("out");
    let (o, pid) = fpmlab(&scenario, &out, "docker", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = common::load(&out);
    let c = &run.configs[0];
    let s = &c.recorded.summary;
    assert!(s.responses >= 20, "{s:?}");
    assert_eq!(
        s.status_counts.get("200").copied(),
        Some(s.responses),
        "{:?}\n{}",
        s.status_counts,
        stderr(&o)
    );
    // Measured by the agent in the container, as on the native stack.
    assert!(s.service.count * 100 >= s.responses * 99, "{s:?}");
    assert!(
        stderr(&o).contains("-app-"),
        "the app image was not used:\n{}",
        stderr(&o)
    );
    assert!(leftovers(pid).is_empty(), "{:?}", leftovers(pid));
}
