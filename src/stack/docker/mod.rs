//! The docker driver: one compose project per run and pool config (`docker/compose.yaml`),
//! nginx and php-fpm from fpmlab's image (or php-fpm from the user's `stack.fpm_image`), with
//! the configs rendered into the config's run directory and mounted read-only.
//!
//! Layout under `config_dir`: `stack/` (the rendered configs, kept) and `logs/` (the daemons'
//! own logs, written through a mount, and each container's output saved before teardown).
//! Teardown (`compose down -v --remove-orphans`) runs on success, error, panic (`Drop`) and
//! Ctrl-C (the runner calls `down`); a watchdog process runs it if fpmlab itself is killed.

mod balancer;
mod compose;
mod control;
mod env;
mod inspect;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use async_trait::async_trait;

use super::container::{cgroup_paths, ContainerRef};
use super::discover::{parse_nginx_version, parse_php_version};
use super::local::ready;
use super::process::Watchdog;
use super::render::render_configs;
use super::{image, Endpoints, FpmListen, Stack, StackInfo};
use crate::scenario::{PoolConfig, StackSettings};
pub use balancer::{BalancerContainer, BalancerDirs};
pub use balancer::{FRONTEND_PORT as BALANCER_PORT, RUN_IN_CONTAINER as BALANCER_RUN_DIR};
use compose::{docker, watchdog, Compose};
pub use control::ContainerReadings;
pub use env::project_prefix;
use inspect::{alive, cached_versions, find_fpm_master, parse_port, remove_leftovers};
use inspect::{remember_versions, version_key};

/// `compose up -d` (creating a network and two containers) is given up after this.
const UP_TIMEOUT: Duration = Duration::from_secs(120);
/// Short compose and docker queries (`ps`, `port`, `inspect`, `logs`, `exec`). The standalone
/// docker-compose alone takes about a second to start on a busy machine.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// `compose down` (stop with a 5 s grace, remove containers and the network).
const DOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `up` waits for the stack to answer once the containers run.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of a container's output quoted when it died during startup.
const LOG_TAIL: &str = "20";
/// The compose services, php-fpm first.
const SERVICES: [&str; 2] = ["php-fpm", "nginx"];

/// Checks that the docker driver can run here: the engine answers (at most 5 s) and a compose
/// command exists. Returns the compose command. The error names the fix.
pub fn preflight() -> Result<Vec<String>> {
    image::engine_available().map_err(anyhow::Error::msg)?;
    static COMPOSE: OnceLock<Option<Vec<String>>> = OnceLock::new();
    COMPOSE
        .get_or_init(image::compose_command)
        .clone()
        .ok_or_else(|| {
            anyhow!(
                "neither `docker compose` (the v2 plugin) nor `docker-compose` answers `version`: \
             install one (apt-get install docker-compose) or use --stack native"
            )
        })
}

/// nginx and php-fpm in containers for one pool config.
pub struct DockerStack {
    stack: StackSettings,
    config: PoolConfig,
    docker_dir: PathBuf,
    compose_argv: Vec<String>,
    app_root: PathBuf,
    stack_dir: PathBuf,
    logs_dir: PathBuf,
    project: String,
    info: StackInfo,
    /// A fleet's network its nginx joins, and its name there (the balancer's container
    /// reaches it as `<name>:80`).
    fleet_network: Option<(String, String)>,
    /// From the moment `up -d` may have created anything until `down` removed it.
    running: Option<Running>,
}

struct Running {
    compose: Compose,
    watchdog: Option<Watchdog>,
    /// Once up: php-fpm's container first, then nginx's (what a fleet's events act on).
    containers: Vec<ContainerRef>,
}

impl DockerStack {
    /// Checks the engine and compose and finds the app; starts nothing yet.
    pub fn new(
        stack: &StackSettings,
        config: &PoolConfig,
        config_dir: &Path,
    ) -> Result<DockerStack> {
        let compose_argv = preflight()?;
        let docker_dir = std::fs::canonicalize(super::docker_dir()).context(
            "fpmlab's docker/ directory not found: set FPMLAB_DOCKER_DIR to it (it holds \
             compose.yaml and the image's build files)",
        )?;
        let app = (stack.app_root.clone()).unwrap_or_else(|| docker_dir.join("app"));
        let app_root = std::fs::canonicalize(&app).with_context(|| {
            format!(
                "app directory {} not found: set stack.app_root to your document root",
                app.display()
            )
        })?;
        std::fs::create_dir_all(config_dir)
            .with_context(|| format!("cannot create {}", config_dir.display()))?;
        let config_dir = std::fs::canonicalize(config_dir)?;
        let info = StackInfo {
            driver: "docker".into(),
            ..cached_versions(&version_key(stack)).unwrap_or_default()
        };
        Ok(DockerStack {
            stack: stack.clone(),
            config: config.clone(),
            docker_dir,
            compose_argv,
            app_root,
            stack_dir: config_dir.join("stack"),
            logs_dir: config_dir.join("logs"),
            project: env::project_name(&config.name),
            info,
            fleet_network: None,
            running: None,
        })
    }

    /// The compose project name (`fpmlab-<pid>-<config>-<n>`).
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Before `up`: nginx also joins the fleet's `network` (it must exist), as `alias`.
    pub fn join_fleet_network(&mut self, network: &str, alias: &str) {
        self.fleet_network = Some((network.to_string(), alias.to_string()));
    }

    fn compose(&self, image: &str) -> Compose {
        let mut files = vec![self.docker_dir.join(env::COMPOSE_FILE)];
        if self.stack.fpm_image.is_some() {
            files.push(self.docker_dir.join(env::FPM_IMAGE_FILE));
        }
        if self.stack.app.docker_network.is_some() {
            files.push(self.docker_dir.join(env::APP_NETWORK_FILE));
        }
        let mut env = env::compose_env(&env::EnvInputs {
            image,
            app_dir: &self.app_root,
            agent_dir: &super::docker_dir().join("agent"),
            stack_dir: &self.stack_dir,
            logs_dir: &self.logs_dir,
            stack: &self.stack,
            host_somaxconn: env::host_somaxconn(),
        });
        if let Some((network, alias)) = &self.fleet_network {
            files.push(self.docker_dir.join(env::FLEET_NETWORK_FILE));
            env.push(("FPMLAB_FLEET_NETWORK".into(), network.clone()));
            env.push(("FPMLAB_INSTANCE".into(), alias.clone()));
        }
        Compose {
            argv: self.compose_argv.clone(),
            project: self.project.clone(),
            files,
            env,
        }
    }

    async fn start(&mut self) -> Result<Endpoints> {
        for dir in [&self.stack_dir, &self.logs_dir] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let (dir, name) = (self.docker_dir.clone(), self.config.name.clone());
        let image = tokio::task::spawn_blocking(move || {
            // A build is worth every line; "present, reusing it" once per run is enough.
            static TOLD: AtomicBool = AtomicBool::new(false);
            image::ensure_image(&dir, &mut |line| {
                if !line.ends_with("reusing it") || !TOLD.swap(true, Ordering::Relaxed) {
                    eprintln!("[{name}] {line}");
                }
            })
        })
        .await
        .context("the image build panicked")??;
        let image = if self.stack.app.packages.is_empty() {
            image
        } else {
            let (packages, name) = (self.stack.app.packages.clone(), self.config.name.clone());
            tokio::task::spawn_blocking(move || {
                image::ensure_app_image(&image, &packages, &mut |line| eprintln!("[{name}] {line}"))
            })
            .await
            .context("the application image build panicked")??
        };
        if let Some(user_image) = &self.stack.fpm_image {
            let args = ["image", "inspect", "-f", "{{.Id}}", user_image];
            if docker(&args, QUERY_TIMEOUT).await.is_err() {
                bail!(
                    "stack.fpm_image {user_image:?} is not in the local image store, and fpmlab \
                     never pulls: build it (docker build -t {user_image} .) or load it \
                     (docker load -i FILE) first"
                );
            }
        }
        let r = render_configs(&self.stack, &self.config, &env::layout())?;
        for (file, text) in [
            ("nginx.conf", &r.nginx_conf),
            ("php-fpm.conf", &r.php_fpm_conf),
            ("php.ini", &r.php_ini),
        ] {
            let path = self.stack_dir.join(file);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }

        let compose = self.compose(&image);
        self.running = Some(Running {
            watchdog: Some(watchdog(&compose)?),
            compose: compose.clone(),
            containers: Vec::new(),
        });
        compose
            .run(&["up", "-d", "--no-build"], UP_TIMEOUT)
            .await
            .with_context(|| match &self.stack.fpm_image {
                Some(image) => format!(
                    "starting the containers ({image} must have php-fpm on PATH and an \
                     entrypoint that runs its arguments: see docs/docker.md)"
                ),
                None => "starting the containers".into(),
            })?;

        let mut containers = Vec::new();
        for service in SERVICES {
            let id = compose
                .run(&["ps", "-a", "-q", service], QUERY_TIMEOUT)
                .await?;
            let id = id.trim().to_string();
            if id.is_empty() {
                bail!(
                    "compose created no {service} container: see `{} ps`",
                    compose.text()
                );
            }
            let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &id], QUERY_TIMEOUT).await?;
            let pid: u32 = pid.trim().parse().unwrap_or(0);
            if pid == 0 {
                return Err(self.exited(&compose, service).await);
            }
            containers.push(ContainerRef {
                service: service.to_string(),
                id,
                pid,
                cgroup: None,
            });
        }
        let port = compose.run(&["port", "nginx", "80"], QUERY_TIMEOUT).await?;
        let port = parse_port(&port)
            .ok_or_else(|| anyhow!("`{} port nginx 80` printed {port:?}", compose.text()))?;
        let base_url = format!("http://127.0.0.1:{port}");
        self.wait_ready(&compose, &base_url, &containers).await?;

        for c in &mut containers {
            match cgroup_paths(c.pid) {
                Ok(paths) => c.cgroup = Some(paths),
                Err(e) => eprintln!(
                    "[{}] warning: no container CPU/memory samples for {}: {e}",
                    self.config.name, c.service
                ),
            }
        }
        let master = find_fpm_master(containers[0].pid);
        self.info = self.versions(&containers).await;
        if let Some(r) = self.running.as_mut() {
            r.containers = containers.clone();
        }
        Ok(Endpoints {
            base_url,
            nginx_health_path: "/nginx-health".into(),
            fpm_ping_path: "/fpm-ping".into(),
            fpm_status_path: "/fpm-status".into(),
            app_health_path: self.stack.app.health_path.clone(),
            fpm_master_pid: Some(master),
            fpm_listen: Some(FpmListen::Tcp { port: 9000 }),
            containers,
            tls: Default::default(),
        })
    }

    /// Waits until nginx, php-fpm's ping and health.php answer; fails at once when a
    /// container's first process is gone (the container stopped).
    async fn wait_ready(&self, compose: &Compose, base: &str, cs: &[ContainerRef]) -> Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(dead) = cs.iter().find(|c| !alive(c.pid)) {
                return Err(self.exited(compose, &dead.service).await);
            }
            match ready(&client, base).await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => bail!(
                    "the docker stack did not become ready within {} s: {e}. See the logs in \
                     {}",
                    READY_TIMEOUT.as_secs(),
                    self.logs_dir.display()
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The error for a container that stopped during startup, quoting its output and its
    /// daemon's own log.
    async fn exited(&self, compose: &Compose, service: &str) -> anyhow::Error {
        let args = ["logs", "--no-color", "--tail", LOG_TAIL, service];
        let output = compose.run(&args, QUERY_TIMEOUT).await.unwrap_or_default();
        let own_log = if service == "nginx" {
            "nginx-error.log"
        } else {
            "php-fpm.log"
        };
        let log = std::fs::read_to_string(self.logs_dir.join(own_log)).unwrap_or_default();
        let tail: Vec<&str> = output.lines().chain(log.lines()).collect();
        anyhow!(
            "the {service} container of pool config '{}' stopped during startup; its output \
             and {own_log} end with:\n{}\nFix the pool config in the scenario file (or, with \
             stack.fpm_image, the image: it must have php-fpm on PATH)",
            self.config.name,
            tail[tail.len().saturating_sub(20)..].join("\n")
        )
    }

    /// nginx and php versions from inside the running containers, cached per image.
    async fn versions(&self, cs: &[ContainerRef]) -> StackInfo {
        let key = version_key(&self.stack);
        if let Some(info) = cached_versions(&key) {
            return info;
        }
        let bin = match self.stack.fpm_image {
            Some(_) => env::USER_FPM_BIN,
            None => env::IMAGE_FPM_BIN,
        };
        let exec = |id: &str, cmd: String| {
            let id = id.to_string();
            async move {
                docker(&["exec", &id, "sh", "-c", &cmd], QUERY_TIMEOUT)
                    .await
                    .unwrap_or_default()
            }
        };
        let php = exec(&cs[0].id, format!("{bin} -v")).await;
        let nginx = exec(&cs[1].id, "nginx -v 2>&1".into()).await;
        let info = StackInfo {
            driver: "docker".into(),
            nginx_version: parse_nginx_version(&nginx),
            php_version: parse_php_version(&php),
        };
        remember_versions(key, info.clone());
        info
    }

    /// Saves each container's output into `logs/docker-<service>.log`.
    async fn save_logs(&self, compose: &Compose) {
        for service in SERVICES {
            let args = ["logs", "--no-color", "--timestamps", service];
            let path = self.logs_dir.join(format!("docker-{service}.log"));
            let saved = match compose.run(&args, QUERY_TIMEOUT).await {
                Ok(text) => std::fs::write(&path, text).map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            if let Err(e) = saved {
                eprintln!(
                    "[{}] warning: cannot save {}: {e:#}",
                    self.config.name,
                    path.display()
                );
            }
        }
    }
}

#[async_trait]
impl Stack for DockerStack {
    async fn up(&mut self) -> Result<Endpoints> {
        if self.running.is_some() {
            bail!("docker stack {} is already up", self.project);
        }
        match self.start().await {
            Ok(endpoints) => Ok(endpoints),
            Err(e) => {
                if let Err(down) = self.down().await {
                    eprintln!("[{}] warning: {down:#}", self.config.name);
                }
                Err(e)
            }
        }
    }

    async fn down(&mut self) -> Result<()> {
        let Some(mut running) = self.running.take() else {
            return Ok(());
        };
        let compose = &running.compose;
        self.save_logs(compose).await;
        let args = ["down", "-v", "--remove-orphans", "-t", "5"];
        if let Err(e) = compose.run(&args, DOWN_TIMEOUT).await {
            eprintln!(
                "[{}] warning: {e:#}; removing with docker rm",
                self.config.name
            );
        }
        let cleaned = remove_leftovers(&self.project).await;
        if cleaned.is_ok() {
            if let Some(w) = running.watchdog.take() {
                w.disarm();
            }
        }
        // On failure the watchdog is dropped, which makes it try `compose down` once more.
        cleaned.with_context(|| {
            format!(
                "containers or networks of compose project {p} may remain: remove them with \
                 `docker rm -f $(docker ps -aq --filter label=com.docker.compose.project={p})`",
                p = self.project
            )
        })
    }

    fn info(&self) -> StackInfo {
        self.info.clone()
    }
}

impl Drop for DockerStack {
    /// Panic safety: if `down` never ran, take the project down synchronously (containers
    /// stopped at once, no logs saved).
    fn drop(&mut self) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        let args = ["down", "-v", "--remove-orphans", "-t", "0"];
        if running.compose.run_blocking(&args, DOWN_TIMEOUT) {
            if let Some(w) = running.watchdog.take() {
                w.disarm();
            }
        }
        // Otherwise dropping the watchdog makes it try once more, in the background.
    }
}
