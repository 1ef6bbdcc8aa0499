//! A fleet on the docker driver: the instance limits and throttles the docker engine would
//! refuse when it starts or updates a container, refused before anything starts.

use super::raw::{RawEvent, RawFleet};
use super::InstanceSpec;
use crate::scenario::problems::Problems;

/// Docker's smallest memory limit (`docker run --memory`).
const DOCKER_MIN_MEMORY_MIB: u64 = 6;
/// Docker's smallest CPU quota (`docker update --cpus`).
const DOCKER_MIN_CPUS: f64 = 0.01;

/// What the docker engine would refuse when it starts or throttles a container, refused
/// here instead, before anything starts: a quota above this machine's CPUs or below 0.01,
/// a memory limit below 6 MiB, a throttle whose quota would fall below 0.01 CPUs.
pub(super) fn limits(
    p: &mut Problems,
    raw: &RawFleet,
    events: &[RawEvent],
    instances: &[InstanceSpec],
    cores: usize,
) {
    for (k, ri) in raw.instance.iter().enumerate() {
        let (field, spec) = (format!("fleet.instance[{k}]"), instances.get(k));
        if let Some(c) = ri.cpus.filter(|c| *c > cores as f64) {
            p.push(format!("{field}.cpus"), format!("{c} cores: docker refuses a quota above this machine's {cores} CPUs; give at most {cores}"));
        }
        if let Some(m) = spec
            .and_then(|s| s.memory_mib)
            .filter(|m| *m < DOCKER_MIN_MEMORY_MIB)
        {
            p.push(format!("{field}.memory"), format!("{m} MiB: docker refuses a memory limit under {DOCKER_MIN_MEMORY_MIB} MiB (and php-fpm needs tens of MiB); give e.g. \"512MiB\""));
        }
    }
    for (i, e) in events.iter().enumerate() {
        let (Some("throttle"), Some(name), Some(share)) =
            (e.action.as_deref(), &e.instance, e.cpu_share)
        else {
            continue;
        };
        let Some(spec) = instances.iter().find(|s| &s.name == name) else {
            continue;
        };
        let full = spec
            .cpus
            .unwrap_or(spec.cpuset.as_ref().map_or(cores, Vec::len) as f64);
        if full * share < DOCKER_MIN_CPUS {
            p.push(format!("event[{i}].cpu_share"), format!("{share} of {full} cores is {:.4} CPUs: docker update --cpus takes at least {DOCKER_MIN_CPUS}; give cpu_share ≥ {:.3}", full * share, DOCKER_MIN_CPUS / full));
        }
    }
}
