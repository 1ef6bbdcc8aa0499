//! The native driver: the distribution's nginx and php-fpm as child processes of fpmlab,
//! with configs rendered into the config's run directory.
//!
//! Layout under `config_dir`: `stack/` (the rendered configs, kept), `logs/` (every log,
//! kept) and `tmp/` (nginx temp paths, pid file, unix socket; removed at teardown).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;

use super::discover::{short_name, Binaries};
use super::local::{free_ports, is_root, ready, short_socket_dir};
use super::process::{stop_all, Daemon, Watchdog};
use super::render::{render_configs, Layout};
use super::{Endpoints, FpmListen, Stack, StackInfo};
use crate::scenario::{ListenKind, PoolConfig, StackSettings};

/// How long `up` waits for the stack to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `down` lets the daemons finish in-flight requests after SIGQUIT.
const QUIT_GRACE: Duration = Duration::from_secs(3);
/// Fresh ports are picked this many times when another process takes one meanwhile.
const PORT_ATTEMPTS: usize = 5;
/// Unix socket paths must fit `sun_path` (108 bytes with the NUL); keep a margin.
const MAX_SOCKET_PATH: usize = 100;

/// nginx + php-fpm as child processes for one pool config.
///
/// Call `up` from async code running on a long-lived thread (a tokio worker or the main
/// thread), not inside `spawn_blocking`: the daemons get SIGKILL when the thread that
/// started them exits, which is what cleans up after a killed fpmlab.
pub struct NativeStack {
    pub(super) stack: StackSettings,
    config: PoolConfig,
    bins: Binaries,
    info: StackInfo,
    app_root: PathBuf,
    agent_path: PathBuf,
    stack_dir: PathBuf,
    logs_dir: PathBuf,
    tmp_dir: PathBuf,
    /// A short directory under the system temp dir, when `tmp/` is too deep for a socket.
    socket_dir: Option<PathBuf>,
    /// php-fpm first, then nginx, while running.
    pub(super) daemons: Vec<Daemon>,
    /// Kills both process groups if fpmlab dies while they run.
    pub(super) watchdog: Option<Watchdog>,
    /// The layout it runs with, once up (a fleet re-renders nginx.conf with it).
    pub(super) layout: Option<Layout>,
}

/// Why one start attempt failed.
enum StartError {
    /// A port was taken between picking and binding: retry with fresh ones.
    PortClash,
    Fatal(anyhow::Error),
}

impl NativeStack {
    /// Finds the binaries and the app; starts nothing yet. The app is `stack.app_root`
    /// or `<docker_dir>/app`.
    pub fn new(
        stack: &StackSettings,
        config: &PoolConfig,
        config_dir: &Path,
    ) -> Result<NativeStack> {
        let bins = Binaries::discover()?;
        let info = StackInfo {
            driver: "native".into(),
            nginx_version: bins.nginx_version(),
            php_version: bins.php_version(),
        };
        let app = stack
            .app_root
            .clone()
            .unwrap_or_else(|| super::docker_dir().join("app"));
        // nginx needs an absolute root; php-fpm gets it through SCRIPT_FILENAME.
        let app_root = std::fs::canonicalize(&app).with_context(|| {
            format!(
                "app directory {} not found: set app.root, or FPMLAB_DOCKER_DIR to \
                 fpmlab's docker/ directory",
                app.display()
            )
        })?;
        let agent = super::docker_dir().join("agent").join(super::AGENT_FILE);
        let agent_path = std::fs::canonicalize(&agent).with_context(|| {
            format!(
                "fpmlab's agent {} not found: set FPMLAB_DOCKER_DIR to fpmlab's docker/ directory",
                agent.display()
            )
        })?;
        std::fs::create_dir_all(config_dir)
            .with_context(|| format!("cannot create {}", config_dir.display()))?;
        let config_dir = std::fs::canonicalize(config_dir)?;
        Ok(NativeStack {
            stack: stack.clone(),
            config: config.clone(),
            bins,
            info,
            app_root,
            agent_path,
            stack_dir: config_dir.join("stack"),
            logs_dir: config_dir.join("logs"),
            tmp_dir: config_dir.join("tmp"),
            socket_dir: None,
            daemons: Vec::new(),
            watchdog: None,
            layout: None,
        })
    }

    fn socket_path(&mut self) -> Result<PathBuf> {
        let in_tmp = self.tmp_dir.join("php-fpm.sock");
        if in_tmp.as_os_str().len() <= MAX_SOCKET_PATH {
            return Ok(in_tmp);
        }
        let dir = match &self.socket_dir {
            Some(dir) => dir.clone(),
            None => {
                let dir = short_socket_dir()?;
                self.socket_dir = Some(dir.clone());
                dir
            }
        };
        Ok(dir.join("php-fpm.sock"))
    }

    fn layout(&mut self, [nginx, fpm, status]: [u16; 3]) -> Result<Layout> {
        let (fpm_listen, fpm_pass) = match self.stack.listen {
            ListenKind::Tcp => (format!("127.0.0.1:{fpm}"), format!("127.0.0.1:{fpm}")),
            ListenKind::Unix => {
                let sock = self.socket_path()?.display().to_string();
                (sock.clone(), format!("unix:{sock}"))
            }
        };
        // As root, nginx workers would drop to `nobody` and php-fpm refuses to start
        // without a user; running both as root means they can read the app and reach the
        // socket wherever the run directory lives (a 0700 temp dir breaks `nobody`).
        let user = is_root().then(|| "root".to_string());
        Ok(Layout {
            app_root: self.app_root.clone(),
            agent_path: self.agent_path.clone(),
            logs_dir: self.logs_dir.clone(),
            tmp_dir: self.tmp_dir.clone(),
            nginx_listen: format!("127.0.0.1:{nginx}"),
            fpm_listen,
            fpm_pass,
            status_listen: format!("127.0.0.1:{status}"),
            status_pass: format!("127.0.0.1:{status}"),
            nginx_user: user.clone(),
            fpm_user: user,
            cpu_unit_iterations: super::calibrate::cpu_unit().iterations(),
        })
    }

    fn fpm_command(&self, test: bool) -> Command {
        let mut cmd = Command::new(&self.bins.php_fpm);
        if test {
            cmd.arg("-t");
        } else {
            cmd.arg("-F");
        }
        cmd.arg("-y")
            .arg(self.stack_dir.join("php-fpm.conf"))
            .arg("-c")
            .arg(self.stack_dir.join("php.ini"))
            .arg("-p")
            .arg(&self.tmp_dir);
        if is_root() {
            cmd.arg("-R");
        }
        cmd
    }

    fn nginx_command(&self, test: bool) -> Command {
        let mut cmd = Command::new(&self.bins.nginx);
        if test {
            // -t reports on stderr; keep it out of the run's error log.
            cmd.args(["-t", "-e", "stderr"]);
        } else {
            cmd.arg("-e").arg(self.logs_dir.join("nginx-error.log"));
        }
        cmd.arg("-p")
            .arg(&self.tmp_dir)
            .arg("-c")
            .arg(self.stack_dir.join("nginx.conf"));
        cmd
    }

    /// `php-fpm -t` and `nginx -t`: a rejected config fails here with the daemon's own
    /// words, rather than as a timeout.
    async fn validate(&self) -> Result<()> {
        for (name, cmd, conf) in [
            ("php-fpm", self.fpm_command(true), "php-fpm.conf"),
            ("nginx", self.nginx_command(true), "nginx.conf"),
        ] {
            let out = tokio::process::Command::from(cmd)
                .kill_on_drop(true)
                .output()
                .await
                .with_context(|| format!("cannot run {name} -t"))?;
            if !out.status.success() {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                let quoted: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| format!("  {l}"))
                    .collect();
                bail!(
                    "{name} rejected the config of pool config '{}' ({}):\n{}\nFix the pool \
                     config in the scenario file.",
                    self.config.name,
                    self.stack_dir.join(conf).display(),
                    quoted.join("\n")
                );
            }
        }
        Ok(())
    }

    /// Starts both daemons on the rendered configs and waits until they serve.
    async fn start(&mut self, base_url: &str) -> Result<(), StartError> {
        let fpm = self.spawn("php-fpm", self.fpm_command(false), "php-fpm.log")?;
        self.daemons.push(fpm);
        let nginx = self.spawn("nginx", self.nginx_command(false), "nginx-error.log")?;
        self.daemons.push(nginx);
        self.watchdog = Some(Watchdog::spawn(&self.daemons).map_err(StartError::Fatal)?);

        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| StartError::Fatal(e.into()))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.check_alive()?;
            let waiting_for = match self.bound() {
                Some(what) => what,
                None => match ready(&client, base_url).await {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                },
            };
            if Instant::now() > deadline {
                return Err(StartError::Fatal(anyhow::anyhow!(
                    "the stack did not become ready within {}s: {waiting_for}. See the logs \
                     in {}",
                    READY_TIMEOUT.as_secs(),
                    self.logs_dir.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn spawn(&self, name: &'static str, cmd: Command, log: &str) -> Result<Daemon, StartError> {
        // Children inherit fpmlab's affinity, which `load.cpuset` may have narrowed: without
        // a stack.cpuset the stack gets every CPU, as documented.
        let cpus = self
            .stack
            .cpuset
            .clone()
            .unwrap_or_else(crate::affinity::all_cpus);
        Daemon::spawn(
            name,
            cmd,
            &self.logs_dir.join(format!("{name}.stderr.log")),
            &self.logs_dir.join(log),
            Some(&cpus),
        )
        .map_err(StartError::Fatal)
    }

    /// Fails at once if a daemon died during startup, quoting its log.
    fn check_alive(&mut self) -> Result<(), StartError> {
        for d in &mut self.daemons {
            if let Some(status) = d.exit_status() {
                let tail = format!("{}\n{}", d.log_tail(15), d.stdio_tail(5));
                if tail.contains("Address already in use") {
                    return Err(StartError::PortClash);
                }
                return Err(StartError::Fatal(anyhow::anyhow!(
                    "{} ({}) exited during startup ({status}); {} ends with:\n{}",
                    d.name,
                    short_name(if d.name == "nginx" {
                        &self.bins.nginx
                    } else {
                        &self.bins.php_fpm
                    }),
                    d.log.display(),
                    tail.trim()
                )));
            }
        }
        Ok(())
    }

    /// `None` once both daemons hold their sockets, else what is still missing. Checked
    /// before any HTTP request so that a foreign server that took one of our ports is
    /// never mistaken for ours.
    fn bound(&self) -> Option<String> {
        let fpm = &self.daemons[0];
        if !fpm
            .log_tail(usize::MAX)
            .contains("ready to handle connections")
        {
            return Some("php-fpm has not logged 'ready to handle connections'".into());
        }
        // nginx writes its pid file after binding its listen sockets.
        let pid = std::fs::read_to_string(self.tmp_dir.join("nginx.pid")).unwrap_or_default();
        if pid.trim() != self.daemons[1].pid().to_string() {
            return Some("nginx has not written its pid file".into());
        }
        None
    }

    /// Stops the daemons (see [`stop_all`]), the watchdog first so it cannot fire.
    async fn stop(&mut self, grace: Duration) {
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        stop_all(&mut self.daemons, grace).await;
        self.daemons.clear();
    }

    fn remove_tmp(&mut self) {
        for dir in [Some(self.tmp_dir.clone()), self.socket_dir.take()]
            .into_iter()
            .flatten()
        {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("fpmlab: cannot remove {}: {e}", dir.display());
                }
            }
        }
    }

    pub(super) fn write_configs(&self, layout: &Layout) -> Result<()> {
        let r = render_configs(&self.stack, &self.config, layout)?;
        for (name, text) in [
            ("nginx.conf", &r.nginx_conf),
            ("php-fpm.conf", &r.php_fpm_conf),
            ("php.ini", &r.php_ini),
        ] {
            let path = self.stack_dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Stack for NativeStack {
    async fn up(&mut self) -> Result<Endpoints> {
        if !self.daemons.is_empty() {
            bail!("native stack for '{}' is already up", self.config.name);
        }
        for dir in [&self.stack_dir, &self.logs_dir, &self.tmp_dir] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        for _ in 0..PORT_ATTEMPTS {
            let ports = free_ports()?;
            let layout = self.layout(ports)?;
            self.write_configs(&layout)?;
            self.layout = Some(layout);
            if let Err(e) = self.validate().await {
                self.down().await?;
                return Err(e);
            }
            let base_url = format!("http://127.0.0.1:{}", ports[0]);
            let result = self.start(&base_url).await;
            if result.is_err() {
                self.stop(Duration::ZERO).await;
            }
            match result {
                Ok(()) => {
                    return Ok(Endpoints {
                        base_url,
                        nginx_health_path: "/nginx-health".into(),
                        fpm_ping_path: "/fpm-ping".into(),
                        fpm_status_path: "/fpm-status".into(),
                        app_health_path: self.stack.app.health_path.clone(),
                        fpm_master_pid: Some(self.daemons[0].pid()),
                        fpm_listen: Some(match self.stack.listen {
                            ListenKind::Tcp => FpmListen::Tcp { port: ports[1] },
                            ListenKind::Unix => FpmListen::Unix {
                                path: self.socket_path()?,
                            },
                        }),
                        containers: Vec::new(),
                        tls: Default::default(),
                    })
                }
                // Port clashes are avoided, not fatal: pick fresh ports and start again.
                Err(StartError::PortClash) => continue,
                Err(StartError::Fatal(e)) => {
                    self.down().await?;
                    return Err(e);
                }
            }
        }
        self.down().await?;
        bail!("could not find free ports for nginx and php-fpm in {PORT_ATTEMPTS} attempts: other processes keep taking them")
    }

    async fn down(&mut self) -> Result<()> {
        self.stop(QUIT_GRACE).await;
        self.remove_tmp();
        Ok(())
    }

    fn info(&self) -> StackInfo {
        self.info.clone()
    }
}

impl Drop for NativeStack {
    /// Panic safety: if `down` never ran, kill (not stop) both daemons, reap them and
    /// remove `tmp/`, synchronously.
    fn drop(&mut self) {
        if self.daemons.is_empty() {
            return;
        }
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        for d in &mut self.daemons {
            d.kill_and_reap();
        }
        self.daemons.clear();
        self.remove_tmp();
    }
}
