//! The CPU unit of the built-in app, measured on this machine. `cpu.php?units=N` does
//! N × (iterations per unit) steps of a fixed loop; a constant iteration count would make a
//! unit 1 ms on one CPU and 0.5 ms on a twice faster one, and a scenario's "twice what one
//! core can do" would stop being true. So fpmlab times the app's own loop with the host's
//! PHP once per run and hands the pool the count that makes one unit 1 ms of CPU here.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Iterations per unit when nothing can be measured: lib.php's own reference value.
pub const REFERENCE_ITERATIONS_PER_UNIT: u64 = 150_000;
/// Iterations timed per sample (about 20 ms on the reference machine).
const SAMPLE_ITERATIONS: u64 = 3_000_000;
/// Samples; the median is kept.
const SAMPLES: usize = 7;

/// The measured unit, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum CpuUnit {
    /// Iterations per 1 ms of CPU time on this machine.
    Measured(u64),
    /// Could not measure (the message says why); the reference value is used.
    Reference(String),
}

impl CpuUnit {
    pub fn iterations(&self) -> u64 {
        match self {
            CpuUnit::Measured(n) => *n,
            CpuUnit::Reference(_) => REFERENCE_ITERATIONS_PER_UNIT,
        }
    }
}

/// This machine's unit, measured once per process.
pub fn cpu_unit() -> &'static CpuUnit {
    static UNIT: OnceLock<CpuUnit> = OnceLock::new();
    UNIT.get_or_init(|| {
        let php = std::env::var_os("FPMLAB_PHP").unwrap_or_else(|| "php".into());
        let lib = super::docker_dir().join("app/lib.php");
        match measure(Path::new(&php), &lib) {
            Ok(n) => CpuUnit::Measured(n),
            Err(why) => CpuUnit::Reference(why),
        }
    })
}

/// Times lib.php's loop with the PHP CLI (the same binary and opcache as php-fpm, JIT off
/// as in the pool) and returns the iterations in 1 ms of CPU time.
pub fn measure(php: &Path, lib: &Path) -> Result<u64, String> {
    // One unit = one sample's iterations; the script times units of work with getrusage,
    // which a busy neighbour does not inflate as it would wall time.
    let script = format!(
        "require {lib:?}; fpmlab_cpu_work(1); $t = []; for ($i = 0; $i < {SAMPLES}; $i++) {{ $s = fpmlab_cpu_ms(); fpmlab_cpu_work(1); $t[] = fpmlab_cpu_ms() - $s; }} sort($t); printf('%.6f', $t[intdiv(count($t), 2)]);",
        lib = lib.display().to_string()
    );
    let out = Command::new(php)
        .args(["-d", "opcache.enable_cli=1", "-d", "opcache.jit=off", "-r"])
        .arg(&script)
        .env(
            "FPMLAB_CPU_ITERATIONS_PER_UNIT",
            SAMPLE_ITERATIONS.to_string(),
        )
        .output()
        .map_err(|e| {
            format!(
                "cannot run {}: {e} (apt-get install php-cli)",
                php.display()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{} failed: {}{}",
            php.display(),
            text.trim(),
            err.trim()
        ));
    }
    let ms: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("unexpected output from {}: {text:?}", php.display()))?;
    per_ms(SAMPLE_ITERATIONS, ms)
}

/// Iterations per ms, refusing a timing that cannot be right.
fn per_ms(iterations: u64, ms: f64) -> Result<u64, String> {
    if !(ms.is_finite() && ms > 0.5) {
        return Err(format!(
            "{iterations} iterations took {ms} ms of CPU: too short to trust"
        ));
    }
    Ok((iterations as f64 / ms).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ms_divides_and_refuses_nonsense() {
        assert_eq!(per_ms(3_000_000, 20.0), Ok(150_000));
        assert!(per_ms(3_000_000, 0.0).is_err());
        assert!(per_ms(3_000_000, f64::NAN).is_err());
    }

    #[test]
    fn a_missing_php_is_named() {
        let e = measure(Path::new("/nonexistent/php"), Path::new("lib.php")).unwrap_err();
        assert!(e.contains("apt-get install php-cli"), "{e}");
    }
}
