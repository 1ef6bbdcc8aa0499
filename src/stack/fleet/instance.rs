//! One instance of the fleet on either driver: a native nginx + php-fpm pair, or the docker
//! driver's compose project (php-fpm's container with the instance's `cpus` and `memory`,
//! nginx's publishing port 80 on 127.0.0.1). The balancer, its runtime control and the
//! events are the same for both; only what an event does to an instance differs here.

use anyhow::Result;

use crate::scenario::{Driver, InstanceSpec, PoolConfig, StackSettings};
use crate::stack::docker::ContainerReadings;
use crate::stack::{DockerStack, NativeStack, Stack};

pub(in crate::stack) enum Instance {
    Native(NativeStack),
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
            _ => Instance::Native(NativeStack::new(settings, pool, dir)?),
        })
    }

    pub fn stack(&mut self) -> &mut dyn Stack {
        match self {
            Instance::Native(s) => s,
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
