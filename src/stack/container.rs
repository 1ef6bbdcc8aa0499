//! Containers of a docker stack as the host sees them: id, host pid, and the cgroup files that
//! hold their CPU and memory accounting.
//!
//! The cgroup layout is detected from `/proc/<pid>/cgroup` and `/proc/self/mountinfo`, never
//! assumed: cgroup v1 (per-controller hierarchies, e.g. `/sys/fs/cgroup/memory/docker/<id>`)
//! and v2 (one unified tree, e.g. `/sys/fs/cgroup/system.slice/docker-<id>.scope`) both occur,
//! and so do hybrid hosts with both mounted.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One container of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContainerRef {
    /// Compose service name: `php-fpm` or `nginx`.
    pub service: String,
    /// Full container id.
    pub id: String,
    /// Host pid of the container's first process (`docker inspect` `.State.Pid`).
    pub pid: u32,
    /// Where its CPU and memory accounting is; `None` when it could not be found.
    pub cgroup: Option<CgroupPaths>,
}

/// The cgroup directories of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "version", rename_all = "snake_case")]
pub enum CgroupPaths {
    /// cgroup v1: one directory per controller.
    V1 {
        /// `cpuacct` controller dir (`cpuacct.usage`, ns).
        cpuacct: PathBuf,
        /// `memory` controller dir (`memory.usage_in_bytes`, `memory.failcnt`,
        /// `memory.oom_control`).
        memory: PathBuf,
        /// `cpu` controller dir (`cpu.stat`: CFS throttling), when mounted.
        cpu: Option<PathBuf>,
    },
    /// cgroup v2: one directory (`cpu.stat`, `memory.current`, `memory.max`,
    /// `memory.events`).
    V2 {
        /// The container's cgroup directory.
        dir: PathBuf,
    },
}

/// One cgroup filesystem mount from mountinfo.
#[derive(Debug, Clone, PartialEq)]
struct Mount {
    /// Path inside the hierarchy that is mounted (`/` unless in a cgroup namespace).
    root: String,
    mount_point: PathBuf,
    /// v1 controllers (from the super options), empty for v2.
    controllers: Vec<String>,
    v2: bool,
}

/// Finds the cgroup directories of process `pid` (host pid).
pub fn cgroup_paths(pid: u32) -> Result<CgroupPaths, String> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|e| format!("/proc/{pid}/cgroup: {e}"))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    let paths = resolve(&cgroup, &mountinfo)?;
    let probe = match &paths {
        CgroupPaths::V1 { memory, .. } => memory.join("memory.usage_in_bytes"),
        CgroupPaths::V2 { dir } => dir.join("memory.current"),
    };
    if !probe.exists() {
        return Err(format!(
            "{} does not exist (is the cgroup filesystem mounted in fpmlab's namespace?)",
            probe.display()
        ));
    }
    Ok(paths)
}

/// Resolves `/proc/PID/cgroup` text against `/proc/self/mountinfo` text. Prefers v1
/// controllers when both are there (on a hybrid host the v1 hierarchies hold the memory and
/// CPU controllers, and the v2 tree has none).
fn resolve(cgroup: &str, mountinfo: &str) -> Result<CgroupPaths, String> {
    let mounts = parse_mounts(mountinfo);
    let mut v1 = std::collections::HashMap::new();
    let mut v2_path = None;
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            v2_path = Some(path.to_string());
        }
        for c in controllers.split(',').filter(|c| !c.is_empty()) {
            v1.insert(c.to_string(), path.to_string());
        }
    }
    let dir_v1 = |controller: &str| -> Option<PathBuf> {
        let path = v1.get(controller)?;
        let mount = mounts
            .iter()
            .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))?;
        join_under(mount, path)
    };
    if let (Some(cpuacct), Some(memory)) = (dir_v1("cpuacct"), dir_v1("memory")) {
        return Ok(CgroupPaths::V1 {
            cpuacct,
            memory,
            cpu: dir_v1("cpu"),
        });
    }
    if let Some(path) = v2_path {
        if let Some(dir) = mounts
            .iter()
            .filter(|m| m.v2)
            .find_map(|m| join_under(m, &path))
        {
            return Ok(CgroupPaths::V2 { dir });
        }
    }
    Err(
        "no cgroup v1 memory+cpuacct hierarchy and no cgroup2 mount holds the container's \
         cgroup"
            .to_string(),
    )
}

/// `mount_point` + `path` relative to the mount's root; `None` when `path` is outside it.
fn join_under(mount: &Mount, path: &str) -> Option<PathBuf> {
    let root = mount.root.trim_end_matches('/');
    let rel = path.strip_prefix(root)?;
    if !(rel.is_empty() || rel.starts_with('/')) {
        return None;
    }
    Some(mount.mount_point.join(rel.trim_start_matches('/')))
}

fn parse_mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            // id parent major:minor root mount_point options [optional...] - fstype source super
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let fstype = *right.first()?;
            let (root, mount_point) = (fields.get(3)?, fields.get(4)?);
            let v2 = fstype == "cgroup2";
            if fstype != "cgroup" && !v2 {
                return None;
            }
            let controllers = if v2 {
                Vec::new()
            } else {
                right
                    .get(2)
                    .map(|o| o.split(',').map(str::to_string).collect())
                    .unwrap_or_default()
            };
            Some(Mount {
                root: unescape(root),
                mount_point: PathBuf::from(unescape(mount_point)),
                controllers,
                v2,
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) if bytes[i] == b'\\' => {
                out.push(d.iter().fold(0u8, |v, b| v.wrapping_mul(8) + (b - b'0')));
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `dir` looks like a cgroup directory that still exists (the container is alive).
pub fn exists(dir: &Path) -> bool {
    dir.join("cgroup.procs").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";

    #[test]
    fn v1_separate_controllers() {
        let cg = "4:memory:/docker/abc\n2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n0::/docker/abc\n";
        assert_eq!(
            resolve(cg, V1_MOUNTS).unwrap(),
            CgroupPaths::V1 {
                cpuacct: "/sys/fs/cgroup/cpuacct/docker/abc".into(),
                memory: "/sys/fs/cgroup/memory/docker/abc".into(),
                cpu: Some("/sys/fs/cgroup/cpu/docker/abc".into()),
            }
        );
    }

    #[test]
    fn v1_joint_cpu_cpuacct() {
        let mounts = "\
25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory";
        let cg = "5:cpu,cpuacct:/docker/x\n3:memory:/docker/x\n";
        let CgroupPaths::V1 { cpuacct, cpu, .. } = resolve(cg, mounts).unwrap() else {
            panic!("v1 expected")
        };
        assert_eq!(
            cpuacct,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/docker/x")
        );
        assert_eq!(cpu, Some(cpuacct));
    }

    #[test]
    fn v2_unified() {
        let mounts = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate";
        let cg = "0::/system.slice/docker-abc.scope\n";
        assert_eq!(
            resolve(cg, mounts).unwrap(),
            CgroupPaths::V2 {
                dir: "/sys/fs/cgroup/system.slice/docker-abc.scope".into()
            }
        );
    }

    #[test]
    fn namespaced_mount_root_is_stripped() {
        // fpmlab itself in a cgroup namespace rooted at /outer: the container shows as /outer/..
        let mounts = "30 23 0:26 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw";
        let cg = "0::/outer/docker/abc\n";
        assert_eq!(
            resolve(cg, mounts).unwrap(),
            CgroupPaths::V2 {
                dir: "/sys/fs/cgroup/docker/abc".into()
            }
        );
        assert!(resolve("0::/elsewhere/abc\n", mounts).is_err());
    }

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape(r"/plain"), "/plain");
        assert_eq!(unescape(r"/end\"), r"/end\");
    }
}
