//! What a fleet does to one running docker instance besides up and down: kill its containers
//! (`docker kill`: both daemons die at once, as a crashed task), change its php-fpm
//! container's CPU quota (`docker update --cpus`: a throttled instance), swap its nginx
//! directives (a cold instance warming up), and read back from the php-fpm container's cgroup
//! the limits the kernel enforces and the OOM kills it did.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

use super::compose::docker;
use super::{env, DockerStack, QUERY_TIMEOUT};
use crate::stack::container::{CgroupPaths, ContainerRef};
use crate::stack::render::render_configs;

/// A cgroup v1 memory limit at or above this is the kernel's "unlimited" (a page-rounded
/// `i64::MAX`).
const V1_UNLIMITED: u64 = 1 << 62;

/// The php-fpm container's limits and memory as its cgroup says (read back, not the asked
/// values: what the kernel enforced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContainerReadings {
    /// The php-fpm container's id.
    pub container: String,
    /// Memory limit, MiB (v2 `memory.max`, v1 `memory.limit_in_bytes`); `None`: no limit.
    pub memory_limit_mib: Option<f64>,
    /// CPU quota, cores (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`);
    /// `None`: no quota.
    pub cpu_quota_cores: Option<f64>,
    /// Most memory it used, MiB (v2 `memory.peak`, kernel 5.19+; v1
    /// `memory.max_usage_in_bytes`).
    pub memory_peak_mib: Option<f64>,
    /// Processes the kernel's OOM killer killed in it (`oom_kill` of v2 `memory.events`,
    /// v1 `memory.oom_control`); `None` on kernels without the counter.
    pub oom_kills: Option<u64>,
    /// `cgroup v1` or `cgroup v2`: which files the figures come from.
    pub cgroup: String,
}

impl DockerStack {
    fn container(&self, service: &str) -> Result<&ContainerRef> {
        let running =
            (self.running.as_ref()).ok_or_else(|| anyhow!("{} is not up", self.project))?;
        running
            .containers
            .iter()
            .find(|c| c.service == service)
            .ok_or_else(|| anyhow!("{} has no {service} container", self.project))
    }

    /// `docker kill` on php-fpm's and nginx's containers: requests in flight are cut and
    /// the published port closes. The containers stay (stopped) until `down` removes them.
    pub async fn kill_containers(&mut self) -> Result<String> {
        let ids: Vec<String> = ["php-fpm", "nginx"]
            .iter()
            .map(|s| self.container(s).map(|c| c.id.clone()))
            .collect::<Result<_>>()?;
        let mut args = vec!["kill"];
        args.extend(ids.iter().map(String::as_str));
        docker(&args, QUERY_TIMEOUT).await?;
        let short: Vec<&str> = ids.iter().map(|id| &id[..id.len().min(12)]).collect();
        Ok(format!("docker kill {}", short.join(" ")))
    }

    /// `docker update --cpus` on the php-fpm container (a CFS quota, applied at once).
    pub async fn set_cpus(&self, cpus: f64) -> Result<()> {
        let id = self.container("php-fpm")?.id.clone();
        docker(
            &["update", "--cpus", &format!("{cpus:.2}"), &id],
            QUERY_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    /// Replaces the app's extra nginx directives, rewrites nginx.conf (mounted read-only
    /// into the nginx container) and reloads nginx with SIGHUP to its master.
    pub async fn reload_nginx_with(&mut self, directives: Vec<String>) -> Result<()> {
        self.stack.app.nginx = directives;
        let r = render_configs(&self.stack, &self.config, &env::layout())?;
        let path = self.stack_dir.join("nginx.conf");
        std::fs::write(&path, &r.nginx_conf)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let id = self.container("nginx")?.id.clone();
        docker(&["kill", "-s", "HUP", &id], QUERY_TIMEOUT)
            .await
            .map(|_| ())
    }

    /// The php-fpm container's readings now; `None` when it is not up or its cgroup is gone
    /// (killed or removed).
    pub fn readings(&self) -> Option<ContainerReadings> {
        let c = self.container("php-fpm").ok()?;
        let mut r = read_cgroup(c.cgroup.as_ref()?)?;
        r.container = c.id.clone();
        Some(r)
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|t| t.trim().to_string())
}

/// `key N` lines (memory.events, memory.oom_control): N.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

const MIB: f64 = 1024.0 * 1024.0;

fn read_cgroup(paths: &CgroupPaths) -> Option<ContainerReadings> {
    let mib = |t: Option<String>| t.and_then(|t| t.parse::<u64>().ok());
    match paths {
        CgroupPaths::V2 { dir } => {
            if !dir.exists() {
                return None;
            }
            let cpu = read(dir, "cpu.max").and_then(|t| parse_cpu_max(&t));
            Some(ContainerReadings {
                container: String::new(),
                memory_limit_mib: mib(read(dir, "memory.max")).map(|b| b as f64 / MIB),
                cpu_quota_cores: cpu,
                memory_peak_mib: mib(read(dir, "memory.peak")).map(|b| b as f64 / MIB),
                oom_kills: read(dir, "memory.events").and_then(|t| keyed(&t, "oom_kill")),
                cgroup: "cgroup v2".into(),
            })
        }
        CgroupPaths::V1 { memory, cpu, .. } => {
            if !memory.exists() {
                return None;
            }
            let quota = cpu.as_ref().and_then(|d| {
                let q: i64 = read(d, "cpu.cfs_quota_us")?.parse().ok()?;
                let p: f64 = read(d, "cpu.cfs_period_us")?.parse().ok()?;
                (q > 0 && p > 0.0).then(|| q as f64 / p)
            });
            Some(ContainerReadings {
                container: String::new(),
                memory_limit_mib: mib(read(memory, "memory.limit_in_bytes"))
                    .filter(|&b| b < V1_UNLIMITED)
                    .map(|b| b as f64 / MIB),
                cpu_quota_cores: quota,
                memory_peak_mib: mib(read(memory, "memory.max_usage_in_bytes"))
                    .map(|b| b as f64 / MIB),
                oom_kills: read(memory, "memory.oom_control").and_then(|t| keyed(&t, "oom_kill")),
                cgroup: "cgroup v1".into(),
            })
        }
    }
}

/// v2 `cpu.max` (`max 100000`, `150000 100000`): cores, `None` without a quota.
fn parse_cpu_max(text: &str) -> Option<f64> {
    let (q, p) = text.split_once(' ')?;
    let (q, p): (f64, f64) = (q.parse().ok()?, p.parse().ok()?);
    (p > 0.0).then_some(q / p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v2_and_v1_cgroup_files() {
        let d = tempfile::tempdir().unwrap();
        let w = |f: &str, t: &str| std::fs::write(d.path().join(f), t).unwrap();
        w("cpu.max", "150000 100000\n");
        w("memory.max", "536870912\n");
        w("memory.peak", "268435456\n");
        w("memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n");
        let r = read_cgroup(&CgroupPaths::V2 {
            dir: d.path().into(),
        })
        .unwrap();
        assert_eq!(r.memory_limit_mib, Some(512.0));
        assert_eq!(r.cpu_quota_cores, Some(1.5));
        assert_eq!((r.memory_peak_mib, r.oom_kills), (Some(256.0), Some(2)));
        w("cpu.max", "max 100000\n");
        w("memory.max", "max\n");
        let r = read_cgroup(&CgroupPaths::V2 {
            dir: d.path().into(),
        })
        .unwrap();
        assert_eq!((r.memory_limit_mib, r.cpu_quota_cores), (None, None));

        w("memory.limit_in_bytes", "9223372036854771712\n");
        w("memory.max_usage_in_bytes", "1048576\n");
        w(
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        );
        w("cpu.cfs_quota_us", "100000\n");
        w("cpu.cfs_period_us", "100000\n");
        let v1 = CgroupPaths::V1 {
            cpuacct: d.path().into(),
            memory: d.path().into(),
            cpu: Some(d.path().into()),
        };
        let r = read_cgroup(&v1).unwrap();
        assert_eq!((r.memory_limit_mib, r.cpu_quota_cores), (None, Some(1.0)));
        assert_eq!((r.memory_peak_mib, r.oom_kills), (Some(1.0), Some(3)));
        w("cpu.cfs_quota_us", "-1\n");
        assert_eq!(read_cgroup(&v1).unwrap().cpu_quota_cores, None);
    }
}
