//! The docker driver's image: is the engine there, which compose to call, what the image is
//! tagged, and building it when it is missing.
//!
//! The tag is `fpmlab-stack:<hash>`, a content hash over the files that define the image
//! ([`IMAGE_FILES`] in `docker/`), so a changed Dockerfile or provisioning script gets a new
//! image and an unchanged one is reused. `docker/image-tag.sh` prints the same tag.
//!
//! Building tries the regular `docker build` first. Its base image comes from a registry; where
//! none is reachable, `docker/build-image.sh` builds the same image offline from Debian's
//! archive (debootstrap + `docker import`).

mod cmd;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use cmd::{run_captured, run_streamed};

/// Repository part of the image tag.
pub const IMAGE_REPO: &str = "fpmlab-stack";
/// Files under `docker/` whose bytes define the image, in hashing order. Configs and the PHP
/// app are mounted at run time and stay out. Keep in sync with `docker/image-tag.sh`.
pub const IMAGE_FILES: [&str; 3] = ["Dockerfile", "build-image.sh", "provision.sh"];
/// The Dockerfile's default base image (its `ARG BASE`), pulled by a regular build.
pub const BASE_IMAGE: &str = "debian:bookworm-slim";
/// Label on everything fpmlab creates in docker, for finding and removing it.
pub const LABEL: &str = "org.fpmlab=1";

/// Quick engine and CLI queries never wait longer than this.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Either build path (about a minute when the archive answers) is given up after this.
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Checks that the docker engine answers (`docker info`, at most 5 s). The error says what is
/// wrong and how to fix it or get around it.
pub fn engine_available() -> Result<(), String> {
    let mut cmd = Command::new("docker");
    cmd.args(["info", "--format", "{{.ServerVersion}}"]);
    engine_check(cmd, QUERY_TIMEOUT)
}

fn engine_check(cmd: Command, timeout: Duration) -> Result<(), String> {
    const FIX: &str = "start it (systemctl start docker) or use --stack native";
    match run_captured(cmd, timeout) {
        Ok(Some(out)) if out.status.success() => Ok(()),
        Ok(Some(out)) => Err(format!(
            "docker engine not reachable: {FIX} ({})",
            first_line(&out.stderr).unwrap_or("docker info failed")
        )),
        Ok(None) => Err(format!(
            "docker engine not reachable: `docker info` did not answer within {} s; {FIX}",
            timeout.as_secs()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(
            "docker CLI not found: install Docker (apt-get install docker.io) or use --stack native"
                .to_string(),
        ),
        Err(e) => Err(format!("docker engine not reachable: {FIX} (running docker: {e})")),
    }
}

/// The compose command to run, as program and leading arguments: `docker compose` when the
/// v2 plugin answers, else the standalone `docker-compose`; `None` when neither does.
pub fn compose_command() -> Option<Vec<String>> {
    let candidates: [&[&str]; 2] = [&["docker", "compose"], &["docker-compose"]];
    candidates.into_iter().find_map(|argv| {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]).arg("version");
        match run_captured(cmd, QUERY_TIMEOUT) {
            Ok(Some(out)) if out.status.success() => {
                Some(argv.iter().map(|s| s.to_string()).collect())
            }
            _ => None,
        }
    })
}

/// The image tag for the files in `docker_dir`: `fpmlab-stack:` and the first 12 hex digits of
/// sha256 over `sha256sum`'s listing of [`IMAGE_FILES`] (`"<hex>  <name>\n"` each), exactly
/// what `docker/image-tag.sh` computes.
pub fn image_tag(docker_dir: &Path) -> Result<String> {
    let mut listing = String::new();
    for name in IMAGE_FILES {
        let path = docker_dir.join(name);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading {} to hash the image", path.display()))?;
        listing.push_str(&format!("{:x}  {name}\n", Sha256::digest(&bytes)));
    }
    let hash = format!("{:x}", Sha256::digest(listing.as_bytes()));
    Ok(format!("{IMAGE_REPO}:{}", &hash[..12]))
}

/// Makes sure the stack image for `docker_dir` exists and returns its tag. A present image is
/// reused. Else `docker build` runs; when it fails because the base image cannot be pulled (no
/// registry), `docker/build-image.sh` builds the same image offline. Progress goes to `log`.
pub fn ensure_image(docker_dir: &Path, log: &mut dyn FnMut(&str)) -> Result<String> {
    let tag = image_tag(docker_dir)?;
    engine_available().map_err(anyhow::Error::msg)?;
    if image_exists(&tag) {
        log(&format!("image {tag} present, reusing it"));
        return Ok(tag);
    }

    log(&format!(
        "image {tag} missing: docker build {}",
        docker_dir.display()
    ));
    let mut build = Command::new("docker");
    build
        .args(["build", "--label", LABEL, "-t", &tag])
        .arg(docker_dir);
    // apt's output is long: show the steps, keep the rest for an error message.
    let mut show_steps = |line: &str| {
        if line.starts_with("Step ") || line.starts_with("Successfully") {
            log(line);
        }
    };
    let built = run_streamed(build, BUILD_TIMEOUT, &mut show_steps)?;
    if built.success() && image_exists(&tag) {
        return Ok(tag);
    }
    if image_exists(BASE_IMAGE) {
        // The base was there, so a later step failed: not a registry problem.
        bail!(
            "docker build of {tag} failed:\n{}\nfix the Dockerfile or provision.sh, or build \
             offline with `{}/build-image.sh {tag}`",
            built.tail_text(),
            docker_dir.display()
        );
    }

    log(&format!(
        "docker build could not pull {BASE_IMAGE} (no registry reachable?): building offline \
         with build-image.sh (debootstrap from Debian's archive, about a minute)"
    ));
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "the offline image build needs root (debootstrap, chroot): run `sudo {}/build-image.sh \
             {tag}` once, make {BASE_IMAGE} pullable, or use --stack native",
            docker_dir.display()
        );
    }
    let mut offline = Command::new("bash");
    offline.arg(docker_dir.join("build-image.sh")).arg(&tag);
    let built = run_streamed(offline, BUILD_TIMEOUT, log)?;
    if built.success() && image_exists(&tag) {
        return Ok(tag);
    }
    bail!(
        "offline image build failed ({}):\n{}\nfix: Debian's archive must be reachable through \
         apt's sources (`apt-get update` works); rerun `{}/build-image.sh {tag}` to see all of \
         its output, or use --stack native",
        built.status_text(),
        built.tail_text(),
        docker_dir.display()
    )
}

/// The tag of the stack image `base` with `packages` added: `<base>-app-<12 hex digits of
/// sha256 over the sorted package names>`, so the same list reuses the same image.
pub fn app_image_tag(base: &str, packages: &[String]) -> String {
    let mut sorted: Vec<&str> = packages.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let hash = format!("{:x}", Sha256::digest(sorted.join("\n").as_bytes()));
    format!("{base}-app-{}", &hash[..12])
}

/// Makes sure an image with the application's Debian `packages` on top of the stack image
/// `base` exists and returns its tag. Built like the base, without a registry: apt-get in a
/// container of `base` on the host's network (the image carries the host's apt sources),
/// then `docker commit`. Progress goes to `log`.
pub fn ensure_app_image(
    base: &str,
    packages: &[String],
    log: &mut dyn FnMut(&str),
) -> Result<String> {
    let tag = app_image_tag(base, packages);
    if image_exists(&tag) {
        log(&format!(
            "image {tag} (with {}) present, reusing it",
            packages.join(" ")
        ));
        return Ok(tag);
    }
    log(&format!(
        "image {tag} missing: installing {} on {base}",
        packages.join(" ")
    ));
    let name = format!(
        "fpmlab-build-{}-{}",
        std::process::id(),
        &tag[tag.len() - 12..]
    );
    let install = format!(
        "apt-get update -q && apt-get install -y -q --no-install-recommends {} && apt-get clean \
         && rm -rf /var/lib/apt/lists/*",
        packages.join(" ")
    );
    let mut run = Command::new("docker");
    run.args([
        "run",
        "--name",
        &name,
        "--label",
        LABEL,
        "--network",
        "host",
    ])
    .args(["-e", "DEBIAN_FRONTEND=noninteractive"]);
    // A proxy apt uses on the host must reach apt in the container too.
    for var in ["http_proxy", "https_proxy"] {
        if let Ok(v) = std::env::var(var) {
            run.args(["-e", &format!("{var}={v}")]);
        }
    }
    run.args([base, "bash", "-c", &install]);
    let installed = run_streamed(run, BUILD_TIMEOUT, log)?;
    let committed = installed.success() && {
        let mut commit = Command::new("docker");
        commit.args(["commit", "--change", &format!("LABEL {LABEL}"), &name, &tag]);
        matches!(run_captured(commit, BUILD_TIMEOUT), Ok(Some(out)) if out.status.success())
    };
    let mut rm = Command::new("docker");
    rm.args(["rm", "-f", &name]);
    let _ = run_captured(rm, QUERY_TIMEOUT);
    if committed && image_exists(&tag) {
        return Ok(tag);
    }
    bail!(
        "app.packages: installing {} on {base} failed ({}):\n{}\nfix: check the package names \
         (apt-cache policy NAME) and that Debian's archive is reachable (apt-get update)",
        packages.join(" "),
        installed.status_text(),
        installed.tail_text()
    )
}

/// Whether `docker image inspect` finds `image` (false also when the engine does not answer).
fn image_exists(image: &str) -> bool {
    let mut cmd = Command::new("docker");
    cmd.args(["image", "inspect", "--format", "{{.Id}}", image]);
    matches!(run_captured(cmd, QUERY_TIMEOUT), Ok(Some(out)) if out.status.success())
}

fn first_line(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()?
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;
    use std::time::Instant;

    fn docker_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
    }

    /// A docker dir with fixed contents for the three image files.
    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in IMAGE_FILES {
            fs::write(dir.path().join(name), format!("contents of {name}\n")).unwrap();
        }
        dir
    }

    #[test]
    fn app_image_tags_follow_the_package_set() {
        let p = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = app_image_tag("fpmlab-stack:abc", &p(&["php8.2-sqlite3", "php8.2-intl"]));
        assert!(a.starts_with("fpmlab-stack:abc-app-"), "{a}");
        assert_eq!(a.len(), "fpmlab-stack:abc-app-".len() + 12);
        // Order and repeats do not matter; another set is another image.
        assert_eq!(
            a,
            app_image_tag(
                "fpmlab-stack:abc",
                &p(&["php8.2-intl", "php8.2-sqlite3", "php8.2-intl"])
            )
        );
        assert_ne!(a, app_image_tag("fpmlab-stack:abc", &p(&["php8.2-intl"])));
    }

    #[test]
    fn tag_matches_sha256sum_listing() {
        // Expected value from: sha256sum Dockerfile build-image.sh provision.sh | sha256sum
        // over the fixture's files.
        let dir = fixture();
        assert_eq!(image_tag(dir.path()).unwrap(), "fpmlab-stack:0e90c5de706e");
    }

    #[test]
    fn tag_is_stable_and_ignores_other_files() {
        let dir = fixture();
        let before = image_tag(dir.path()).unwrap();
        assert_eq!(image_tag(dir.path()).unwrap(), before);
        // Mounted at run time, so they must not change the image.
        fs::write(dir.path().join("compose.yaml"), "services: {}\n").unwrap();
        fs::write(dir.path().join("image-tag.sh"), "#!/bin/sh\n").unwrap();
        fs::create_dir_all(dir.path().join("templates")).unwrap();
        fs::write(
            dir.path().join("templates/nginx.conf.tmpl"),
            "daemon off;\n",
        )
        .unwrap();
        fs::create_dir_all(dir.path().join("app")).unwrap();
        fs::write(dir.path().join("app/hello.php"), "<?php echo 1;\n").unwrap();
        assert_eq!(image_tag(dir.path()).unwrap(), before);
    }

    #[test]
    fn tag_changes_with_each_image_file() {
        let dir = fixture();
        let mut seen = vec![image_tag(dir.path()).unwrap()];
        for name in IMAGE_FILES {
            fs::write(dir.path().join(name), "changed\n").unwrap();
            let tag = image_tag(dir.path()).unwrap();
            assert!(!seen.contains(&tag), "{name} did not change the tag");
            seen.push(tag);
        }
        // Same bytes under swapped names must differ too: names are part of the listing.
        let a = fixture();
        let b = fixture();
        fs::write(a.path().join("Dockerfile"), "x").unwrap();
        fs::write(b.path().join("provision.sh"), "x").unwrap();
        assert_ne!(image_tag(a.path()).unwrap(), image_tag(b.path()).unwrap());
    }

    #[test]
    fn missing_image_file_is_named() {
        let dir = fixture();
        fs::remove_file(dir.path().join("provision.sh")).unwrap();
        let err = format!("{:#}", image_tag(dir.path()).unwrap_err());
        assert!(err.contains("provision.sh"), "{err}");
    }

    /// Runs `image-tag.sh` as it is shipped, on the files in `dir`.
    fn shell_tag(dir: &Path) -> String {
        let out = Command::new("bash")
            .arg(dir.join("image-tag.sh"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn shell_and_rust_agree() {
        // On the real files...
        assert_eq!(shell_tag(&docker_dir()), image_tag(&docker_dir()).unwrap());
        // ...and on other contents, with the script copied next to them.
        let dir = fixture();
        fs::copy(
            docker_dir().join("image-tag.sh"),
            dir.path().join("image-tag.sh"),
        )
        .unwrap();
        assert_eq!(shell_tag(dir.path()), image_tag(dir.path()).unwrap());
        fs::write(dir.path().join("build-image.sh"), "edited\n").unwrap();
        assert_eq!(shell_tag(dir.path()), image_tag(dir.path()).unwrap());
    }

    #[test]
    fn dockerfile_declares_base_and_label() {
        let text = fs::read_to_string(docker_dir().join("Dockerfile")).unwrap();
        assert!(
            text.contains(&format!("ARG BASE={BASE_IMAGE}")),
            "BASE_IMAGE out of date"
        );
        assert!(text.contains(&format!("LABEL {LABEL}")));
    }

    #[test]
    fn compose_publishes_on_loopback_only() {
        let text = fs::read_to_string(docker_dir().join("compose.yaml")).unwrap();
        let mut lines = text.lines().map(str::trim);
        let mut published = 0;
        while let Some(line) = lines.next() {
            if line == "ports:" {
                for entry in lines.by_ref().take_while(|l| l.starts_with('-')) {
                    assert!(entry.starts_with("- \"127.0.0.1:"), "not loopback: {entry}");
                    published += 1;
                }
            }
        }
        assert_eq!(published, 1, "nginx's port only");
    }

    #[test]
    fn engine_check_explains_failures() {
        let mut missing = Command::new("fpmlab-no-such-docker-cli");
        missing.arg("info");
        assert!(engine_check(missing, QUERY_TIMEOUT)
            .unwrap_err()
            .contains("docker CLI not found"));

        let failing = Command::new("false");
        let err = engine_check(failing, QUERY_TIMEOUT).unwrap_err();
        assert!(
            err.contains("docker engine not reachable") && err.contains("--stack native"),
            "{err}"
        );

        let mut hanging = Command::new("sleep");
        hanging.arg("10");
        let started = Instant::now();
        let err = engine_check(hanging, Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("did not answer"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// Needs a docker engine and root; builds the image (offline where no registry answers)
    /// unless it exists: `cargo test -- --ignored ensure_image`.
    #[test]
    #[ignore]
    fn ensure_image_on_this_machine() {
        engine_available().unwrap();
        assert!(compose_command().is_some(), "no compose");
        let mut log = |l: &str| eprintln!("{l}");
        let tag = ensure_image(&docker_dir(), &mut log).unwrap();
        assert_eq!(tag, image_tag(&docker_dir()).unwrap());
        assert!(image_exists(&tag));
        // Second call: cached.
        let mut lines = Vec::new();
        ensure_image(&docker_dir(), &mut |l| lines.push(l.to_string())).unwrap();
        assert!(lines.iter().any(|l| l.contains("reusing")), "{lines:?}");
    }
}
