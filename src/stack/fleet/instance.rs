//! One instance of the fleet on either driver: a native nginx + php-fpm pair, or the docker
//! driver's compose project (php-fpm's container with the instance's `cpus` and `memory`,
//! nginx's publishing port 80 on 127.0.0.1). The balancer, its runtime control and the
//! events are the same for both; only what an event does to an instance differs here.

use anyhow::Result;

use super::Member;
use crate::scenario::{Driver, InstanceSpec, PoolConfig, StackSettings};
use crate::stack::docker::ContainerReadings;
use crate::stack::{DockerStack, NativeStack, Stack};

pub(in crate::stack) enum Instance {
    Native(Box<NativeStack>),
    Docker(Box<DockerStack>),
}

impl Instance {
    /// Prepares the instance; starts nothing. Docker: the instance's `cpus` and `memory`
    /// become its php-fpm container's limits.
    pub fn new(
        driver: &Driver,
        settings: &StackSettings,
        spec: &InstanceSpec,
        pool: &PoolConfig,
        dir: &std::path::Path,
    ) -> Result<Instance> {
        Ok(match driver {
            Driver::Docker => {
                let mut s = settings.clone();
                s.cpus = spec.cpus;
                s.memory_mib = spec.memory_mib;
                Instance::Docker(Box::new(DockerStack::new(&s, pool, dir)?))
            }
            _ => Instance::Native(Box::new(NativeStack::new(settings, pool, dir)?)),
        })
    }

    pub fn stack(&mut self) -> &mut dyn Stack {
        match self {
            Instance::Native(s) => s.as_mut(),
            Instance::Docker(s) => s.as_mut(),
        }
    }

    /// The instance dies at once: SIGKILL to its daemons (native) or `docker kill` of its
    /// containers. Returns what was done.
    pub async fn kill(&mut self) -> Result<String> {
        match self {
            Instance::Native(s) => {
                let pgid = s.fpm_group();
                s.kill_now();
                Ok(format!(
                    "SIGKILL to php-fpm (process group {}) and nginx",
                    pgid.unwrap_or(0)
                ))
            }
            Instance::Docker(s) => s.kill_containers().await,
        }
    }

    /// nginx reloaded with these `app.nginx` directives.
    pub async fn reload_nginx_with(&mut self, directives: Vec<String>) -> Result<()> {
        match self {
            Instance::Native(s) => s.reload_nginx_with(directives),
            Instance::Docker(s) => s.reload_nginx_with(directives).await,
        }
    }

    /// php-fpm's process group (native: what a throttle stops and continues).
    pub fn fpm_group(&self) -> Option<u32> {
        match self {
            Instance::Native(s) => s.fpm_group(),
            Instance::Docker(_) => None,
        }
    }

    /// Its php-fpm container's cgroup readings (docker, while its containers exist).
    pub fn readings(&self) -> Option<ContainerReadings> {
        match self {
            Instance::Native(_) => None,
            Instance::Docker(s) => s.readings(),
        }
    }
}

/// Runs `f` on every instance, at once for docker instances (each `compose up` or `down`
/// takes seconds of waiting on the engine), one after the other for native ones (whose
/// ports are picked free at start). Each result in the instances' order.
pub(super) async fn each_instance<R, F, Fut>(members: &mut Vec<Member>, f: F) -> Vec<R>
where
    R: Send + 'static,
    F: Fn(Member) -> Fut,
    Fut: std::future::Future<Output = (Member, R)> + Send + 'static,
{
    let parallel = (members.iter()).any(|m| matches!(m.stack, Instance::Docker(_)));
    let mut set = tokio::task::JoinSet::new();
    let mut done = Vec::new();
    for (k, m) in std::mem::take(members).into_iter().enumerate() {
        let fut = f(m);
        set.spawn(async move { (k, fut.await) });
        if !parallel {
            done.extend(set.join_next().await);
        }
    }
    while let Some(j) = set.join_next().await {
        done.push(j);
    }
    // A panicked task lost its instance (dropped: its own Drop took it down).
    let mut done: Vec<(usize, (Member, R))> = done.into_iter().filter_map(Result::ok).collect();
    done.sort_by_key(|(k, _)| *k);
    let (kept, results): (Vec<Member>, Vec<R>) = done.into_iter().map(|(_, mr)| mr).unzip();
    *members = kept;
    results
}
