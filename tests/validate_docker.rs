//! Scenario rules of the docker driver's keys: `stack.fpm_image`, and what the driver cannot do.

use std::path::Path;

use fpmlab::scenario::{parse, Driver};

const REST: &str = "[[config]]\nname = \"c\"\npm = \"static\"\nmax_children = 2\n[[phase]]\n\
                    duration = \"1s\"\npattern = \"constant\"\nrate = 1\n[[request]]\n\
                    path = \"/hello.php\"\n";

fn check(stack: &str, driver: Driver) -> Result<Vec<String>, String> {
    let text = format!("[stack]\n{stack}\n{REST}");
    match parse(&text, Path::new("s.toml"), driver) {
        Ok((_, warnings)) => Ok(warnings),
        Err(problems) => Err(format!("{problems:?}")),
    }
}

#[test]
fn fpm_image_is_a_non_empty_name() {
    let (plan, _) = parse(
        &format!("[stack]\nfpm_image = \"myapp-fpm:1\"\n{REST}"),
        Path::new("s.toml"),
        Driver::Docker,
    )
    .unwrap();
    assert_eq!(plan.stack.fpm_image.as_deref(), Some("myapp-fpm:1"));
    for bad in ["\"\"", "\"  \"", "\"my app\""] {
        let err = check(&format!("fpm_image = {bad}"), Driver::Docker).unwrap_err();
        assert!(
            err.contains("stack.fpm_image") && err.contains("image's tag"),
            "{err}"
        );
    }
}

#[test]
fn fpm_image_on_native_is_a_warning() {
    let warnings = check("fpm_image = \"x:1\"", Driver::Native).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("only applies to --stack docker")),
        "{warnings:?}"
    );
    assert!(check("fpm_image = \"x:1\"", Driver::Docker)
        .unwrap()
        .is_empty());
}

#[test]
fn unix_socket_is_refused_for_docker_only() {
    let err = check("listen = \"unix\"", Driver::Docker).unwrap_err();
    assert!(
        err.contains("stack.listen") && err.contains("--stack native"),
        "{err}"
    );
    assert!(check("listen = \"unix\"", Driver::Native).is_ok());
}
