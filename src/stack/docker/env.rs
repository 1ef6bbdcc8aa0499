//! What the docker driver hands compose: the project name, the container [`Layout`] for the
//! rendered configs, and the `FPMLAB_*` variables of `docker/compose.yaml`'s contract.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::scenario::StackSettings;
use crate::stack::render::Layout;

/// The compose file, relative to fpmlab's `docker/` directory.
pub const COMPOSE_FILE: &str = "compose.yaml";
/// Override file used when `stack.fpm_image` names the user's own php-fpm image.
pub const FPM_IMAGE_FILE: &str = "compose.fpm-image.yaml";
/// Override file used when `app.docker_network` names the network of the app's services.
pub const APP_NETWORK_FILE: &str = "compose.app-network.yaml";
/// Override file for an instance of a fleet whose balancer runs in a container: nginx joins
/// the fleet's network under the instance's name.
pub const FLEET_NETWORK_FILE: &str = "compose.fleet-network.yaml";
/// A docker fleet's balancer: HAProxy from the stack image, owning the fleet's network.
pub const BALANCER_FILE: &str = "compose.balancer.yaml";
/// php-fpm's binary in fpmlab's own image (Debian names it by version).
pub const IMAGE_FPM_BIN: &str = "php-fpm8.2";
/// php-fpm's binary in a user's image (`stack.fpm_image`): on PATH, as in the official
/// `php:*-fpm` images.
pub const USER_FPM_BIN: &str = "php-fpm";
/// Where the app is mounted in both containers.
pub const APP_IN_CONTAINER: &str = "/var/www/app";
/// Where the daemons log in the containers (the config's `logs/` on the host).
pub const LOGS_IN_CONTAINER: &str = "/var/log/fpmlab";
/// Where `docker/agent` is mounted in both containers.
pub const AGENT_IN_CONTAINER: &str = "/opt/fpmlab/agent";
/// somaxconn when the host's cannot be read (the kernel's default since 5.4).
const DEFAULT_SOMAXCONN: u32 = 4096;

/// A compose project name unique per fpmlab process and stack: `fpmlab-<pid>-<config>-<n>`,
/// lowercase with only `[a-z0-9_-]` (what both compose versions accept).
pub fn project_name(config: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let clean: String = config
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    format!("fpmlab-{}-{clean}-{n}", std::process::id())
}

/// The prefix of every project name this fpmlab process uses (for finding leftovers).
pub fn project_prefix(pid: u32) -> String {
    format!("fpmlab-{pid}-")
}

/// Paths and addresses as the containers see them. Both daemons run as root inside their
/// containers, so they can read a mounted app whatever its owner and mode on the host.
pub fn layout() -> Layout {
    Layout {
        app_root: PathBuf::from(APP_IN_CONTAINER),
        agent_path: Path::new(AGENT_IN_CONTAINER).join(super::super::AGENT_FILE),
        logs_dir: PathBuf::from(LOGS_IN_CONTAINER),
        // The containers' own writable filesystem: pid file and nginx's temp paths.
        tmp_dir: PathBuf::from("/tmp"),
        nginx_listen: "0.0.0.0:80".into(),
        fpm_listen: "0.0.0.0:9000".into(),
        fpm_pass: "php:9000".into(),
        status_listen: "0.0.0.0:9001".into(),
        status_pass: "php:9001".into(),
        nginx_user: Some("root".into()),
        fpm_user: Some("root".into()),
        // The containers run the same Debian php on the same CPU as the host's CLI.
        cpu_unit_iterations: crate::stack::calibrate::cpu_unit().iterations(),
    }
}

/// `net.core.somaxconn` for the containers: the host's value (so a backlog of -1 means what it
/// means for the native driver), raised to an explicit `listen_backlog` above it so the
/// kernel does not silently cap the backlog the scenario asks for.
pub fn somaxconn(listen_backlog: i32, host: Option<u32>) -> u32 {
    let host = host.unwrap_or(DEFAULT_SOMAXCONN);
    match u32::try_from(listen_backlog) {
        Ok(b) if b > host => b,
        _ => host,
    }
}

/// The host's `net.core.somaxconn`.
pub fn host_somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Inputs of [`compose_env`].
pub struct EnvInputs<'a> {
    pub image: &'a str,
    pub app_dir: &'a Path,
    /// The host directory holding fpmlab's agent (`docker/agent`).
    pub agent_dir: &'a Path,
    pub stack_dir: &'a Path,
    pub logs_dir: &'a Path,
    pub stack: &'a StackSettings,
    pub host_somaxconn: Option<u32>,
}

/// The `FPMLAB_*` variables for `compose.yaml` (and the fpm-image override).
pub fn compose_env(i: &EnvInputs) -> Vec<(String, String)> {
    let s = i.stack;
    // 0 means "no limit" to compose and the engine, for cpus and memory alike.
    let cpus = s.cpus.map_or("0".to_string(), |c| format!("{c}"));
    let mem = s.memory_mib.map_or("0".to_string(), |m| format!("{m}m"));
    let cpuset = s.cpuset.as_ref().map_or(String::new(), |set| {
        set.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });
    let path = |p: &Path| p.display().to_string();
    let mut env = vec![
        ("FPMLAB_IMAGE", i.image.to_string()),
        ("FPMLAB_APP_DIR", path(i.app_dir)),
        ("FPMLAB_AGENT_DIR", path(i.agent_dir)),
        ("FPMLAB_STACK_DIR", path(i.stack_dir)),
        ("FPMLAB_LOG_DIR", path(i.logs_dir)),
        ("FPMLAB_CPUS", cpus),
        ("FPMLAB_MEM_LIMIT", mem),
        ("FPMLAB_CPUSET", cpuset),
        // Empty: an ephemeral port on 127.0.0.1, read back with `port nginx 80`.
        ("FPMLAB_PORT", String::new()),
        (
            "FPMLAB_SOMAXCONN",
            somaxconn(s.listen_backlog, i.host_somaxconn).to_string(),
        ),
    ];
    if let Some(image) = &s.fpm_image {
        env.push(("FPMLAB_FPM_IMAGE", image.clone()));
    }
    if let Some(network) = &s.app.docker_network {
        env.push(("FPMLAB_APP_NETWORK", network.clone()));
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_unique_and_compose_safe() {
        let a = project_name("Static-4.big");
        let b = project_name("Static-4.big");
        assert_ne!(a, b);
        let prefix = project_prefix(std::process::id());
        assert!(a.starts_with(&format!("{prefix}static-4-big-")), "{a}");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'));
    }

    #[test]
    fn somaxconn_follows_host_and_raises_for_backlog() {
        assert_eq!(somaxconn(-1, Some(4096)), 4096);
        assert_eq!(somaxconn(-1, None), 4096);
        assert_eq!(somaxconn(511, Some(4096)), 4096);
        assert_eq!(somaxconn(8192, Some(4096)), 8192);
        assert_eq!(somaxconn(-1, Some(128)), 128);
    }

    #[test]
    fn layout_reaches_php_by_service_alias() {
        let l = layout();
        assert_eq!(l.fpm_pass, "php:9000");
        assert_eq!(l.status_pass, "php:9001");
        assert!(!l.fpm_listens_on_unix());
    }
}
