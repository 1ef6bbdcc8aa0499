//! Container CPU and memory from the cgroup files (docker driver): what the engine's own
//! accounting and limits see, on the same timeline as the other samples.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::stack::{CgroupPaths, ContainerRef};

/// The stack's containers at one sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContainerSample {
    /// The php-fpm container (the one the scenario's `cpus` and `memory` limit).
    pub php_fpm: Option<CgroupUsage>,
    /// The nginx container.
    pub nginx: Option<CgroupUsage>,
}

impl ContainerSample {
    /// The compose services sampled, php-fpm first.
    pub const SERVICES: [&'static str; 2] = ["php-fpm", "nginx"];

    /// The figures of `service` (`php-fpm` or `nginx`).
    pub fn service(&self, service: &str) -> Option<&CgroupUsage> {
        match service {
            "php-fpm" => self.php_fpm.as_ref(),
            "nginx" => self.nginx.as_ref(),
            _ => None,
        }
    }
}

/// One container's cgroup counters at one sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CgroupUsage {
    /// CPU used since the previous sample, percent of one core; `None` on the first sample.
    pub cpu_pct: Option<f64>,
    /// CPU time used since the container started, µs (v1 `cpuacct.usage`, v2 `cpu.stat`
    /// `usage_usec`).
    pub cpu_usage_us: u64,
    /// Time the CPU quota (`cpus`) held the container back since it started, µs (CFS
    /// throttling: v1 `cpu.stat` `throttled_time`, v2 `throttled_usec`); `None` if unreadable.
    pub cpu_throttled_us: Option<u64>,
    /// Memory charged to the container now, bytes, page cache included: what its limit is
    /// enforced against (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub memory_bytes: u64,
    /// The container's memory limit, bytes; `None` when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// How often usage hit the limit since the container started (v1 `memory.failcnt`, v2
    /// `memory.events` `max`).
    pub memory_limit_hits: Option<u64>,
    /// Processes the kernel's OOM killer killed in this container since it started (v1
    /// `memory.oom_control` `oom_kill`, v2 `memory.events` `oom_kill`); `None` on kernels
    /// without the counter.
    pub oom_kills: Option<u64>,
}

/// Reads the containers' cgroup files tick after tick.
pub(super) struct ContainerReader {
    containers: Vec<ContainerRef>,
    /// Previous CPU usage (µs) and when it was read, per service.
    prev: HashMap<String, (u64, Instant)>,
}

/// v1 reports "unlimited" as a huge page-aligned number; anything above this is no limit.
const V1_UNLIMITED: u64 = 1 << 62;

impl ContainerReader {
    /// `None` when there is no container with cgroup paths to read.
    pub fn new(containers: Vec<ContainerRef>) -> Option<Self> {
        containers
            .iter()
            .any(|c| c.cgroup.is_some())
            .then(|| ContainerReader {
                containers,
                prev: HashMap::new(),
            })
    }

    pub fn read(&mut self, errors: &mut Vec<String>) -> ContainerSample {
        let mut sample = ContainerSample::default();
        for c in &self.containers {
            let Some(paths) = &c.cgroup else { continue };
            let at = Instant::now();
            let usage = match read_usage(paths) {
                Ok(u) => u,
                Err(e) => {
                    errors.push(format!("{} container cgroup: {e}", c.service));
                    continue;
                }
            };
            let cpu_pct = self.prev.get(&c.service).and_then(|&(prev_us, prev_at)| {
                let wall_us = at.duration_since(prev_at).as_micros() as f64;
                let used = usage.cpu_usage_us.saturating_sub(prev_us) as f64;
                (wall_us > 0.0).then(|| used / wall_us * 100.0)
            });
            self.prev
                .insert(c.service.clone(), (usage.cpu_usage_us, at));
            let usage = CgroupUsage { cpu_pct, ..usage };
            match c.service.as_str() {
                "php-fpm" => sample.php_fpm = Some(usage),
                "nginx" => sample.nginx = Some(usage),
                _ => {}
            }
        }
        sample
    }
}

fn read_usage(paths: &CgroupPaths) -> io::Result<CgroupUsage> {
    match paths {
        CgroupPaths::V1 {
            cpuacct,
            memory,
            cpu,
        } => {
            let limit = read_u64(&memory.join("memory.limit_in_bytes")).ok();
            let oom = std::fs::read_to_string(memory.join("memory.oom_control"))
                .ok()
                .and_then(|t| keyed(&t, "oom_kill"));
            let throttled = cpu
                .as_ref()
                .and_then(|d| std::fs::read_to_string(d.join("cpu.stat")).ok())
                .and_then(|t| keyed(&t, "throttled_time"));
            Ok(CgroupUsage {
                cpu_pct: None,
                cpu_usage_us: read_u64(&cpuacct.join("cpuacct.usage"))? / 1000,
                cpu_throttled_us: throttled.map(|ns| ns / 1000),
                memory_bytes: read_u64(&memory.join("memory.usage_in_bytes"))?,
                memory_limit_bytes: limit.filter(|&l| l < V1_UNLIMITED),
                memory_limit_hits: read_u64(&memory.join("memory.failcnt")).ok(),
                oom_kills: oom,
            })
        }
        CgroupPaths::V2 { dir } => {
            let cpu = std::fs::read_to_string(dir.join("cpu.stat"))?;
            let events = std::fs::read_to_string(dir.join("memory.events")).unwrap_or_default();
            let max = std::fs::read_to_string(dir.join("memory.max")).unwrap_or_default();
            Ok(CgroupUsage {
                cpu_pct: None,
                cpu_usage_us: keyed(&cpu, "usage_usec").ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "cpu.stat has no usage_usec")
                })?,
                cpu_throttled_us: keyed(&cpu, "throttled_usec"),
                memory_bytes: read_u64(&dir.join("memory.current"))?,
                memory_limit_bytes: max.trim().parse().ok(),
                memory_limit_hits: keyed(&events, "max"),
                oom_kills: keyed(&events, "oom_kill"),
            })
        }
    }
}

fn read_u64(path: &Path) -> io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {text:?}: {e}", path.display()),
        )
    })
}

/// The value of `key` in a flat-keyed file (`key value` per line).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_v1_files() {
        let d = tempfile::tempdir().unwrap();
        let (acct, mem, cpu) = (d.path().join("a"), d.path().join("m"), d.path().join("c"));
        for dir in [&acct, &mem, &cpu] {
            fs::create_dir(dir).unwrap();
        }
        fs::write(acct.join("cpuacct.usage"), "2500000\n").unwrap();
        fs::write(mem.join("memory.usage_in_bytes"), "1048576\n").unwrap();
        fs::write(mem.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        fs::write(mem.join("memory.failcnt"), "7\n").unwrap();
        fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        fs::write(
            cpu.join("cpu.stat"),
            "nr_periods 10\nnr_throttled 3\nthrottled_time 4000\n",
        )
        .unwrap();
        let paths = CgroupPaths::V1 {
            cpuacct: acct,
            memory: mem.clone(),
            cpu: Some(cpu),
        };
        let u = read_usage(&paths).unwrap();
        assert_eq!(u.cpu_usage_us, 2500);
        assert_eq!(u.cpu_throttled_us, Some(4));
        assert_eq!(u.memory_bytes, 1 << 20);
        assert_eq!(u.memory_limit_bytes, None, "v1's 'unlimited' is no limit");
        assert_eq!(u.memory_limit_hits, Some(7));
        assert_eq!(u.oom_kills, Some(2));
        fs::write(mem.join("memory.limit_in_bytes"), "67108864\n").unwrap();
        assert_eq!(
            read_usage(&paths).unwrap().memory_limit_bytes,
            Some(64 << 20)
        );
    }

    #[test]
    fn reads_v2_files_and_computes_cpu_pct() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_path_buf();
        fs::write(dir.join("cpu.stat"), "usage_usec 1000\nthrottled_usec 50\n").unwrap();
        fs::write(dir.join("memory.current"), "4096\n").unwrap();
        fs::write(dir.join("memory.max"), "max\n").unwrap();
        fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
        )
        .unwrap();
        let refs = vec![ContainerRef {
            service: "php-fpm".into(),
            id: "x".into(),
            pid: 1,
            cgroup: Some(CgroupPaths::V2 { dir: dir.clone() }),
        }];
        let mut reader = ContainerReader::new(refs).unwrap();
        let mut errors = Vec::new();
        let first = reader.read(&mut errors).php_fpm.unwrap();
        assert_eq!(first.cpu_pct, None);
        assert_eq!(first.memory_limit_bytes, None);
        assert_eq!(
            (first.memory_limit_hits, first.oom_kills),
            (Some(4), Some(1))
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.join("cpu.stat"), "usage_usec 6000\nthrottled_usec 50\n").unwrap();
        let second = reader.read(&mut errors).php_fpm.unwrap();
        // 5 ms of CPU in >= 20 ms of wall time.
        let pct = second.cpu_pct.unwrap();
        assert!(pct > 0.0 && pct <= 25.0, "{pct}");
        assert!(errors.is_empty(), "{errors:?}");

        fs::remove_file(dir.join("memory.current")).unwrap();
        assert!(reader.read(&mut errors).php_fpm.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn no_reader_without_cgroups() {
        let refs = vec![ContainerRef {
            service: "nginx".into(),
            id: "x".into(),
            pid: 1,
            cgroup: None,
        }];
        assert!(ContainerReader::new(refs).is_none());
    }
}
