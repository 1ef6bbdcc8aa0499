//! What the application needs of the machine, checked before anything starts: the native
//! driver runs this machine's php-fpm, so the packages `app.packages` names must be
//! installed and the keys of `app.php_ini` must be ones its php knows. (The docker driver
//! builds an image with the packages instead: `image::ensure_app_image`.)

use std::process::Command;

use anyhow::{bail, Result};

use crate::scenario::{Driver, StackSettings};

/// Checks the application's needs for `driver`; returns warnings for what could not be
/// checked, and an error naming the field and the fix for what is missing.
pub fn check(driver: &Driver, stack: &StackSettings) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    if *driver != Driver::Native {
        return Ok(warnings);
    }
    let app = &stack.app;
    let missing: Vec<&str> = (app.packages.iter())
        .filter(|p| !installed(p))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let what = match missing.as_slice() {
            [one] => format!("{one} is"),
            many => format!("{} are", many.join(", ")),
        };
        bail!(
            "app.packages: {what} not installed on this machine, whose php-fpm the native \
             driver runs: apt-get install {} (or use --stack docker, whose image gets them)",
            missing.join(" ")
        );
    }
    let keys: Vec<&str> = app.php_ini.keys().map(String::as_str).collect();
    match unknown_ini_keys(&keys) {
        Ok(unknown) if !unknown.is_empty() => bail!(
            "app.php_ini: php does not know {}: check the spelling, or add the extension that \
             defines {} to app.packages",
            unknown.join(", "),
            if unknown.len() == 1 { "it" } else { "them" }
        ),
        Ok(_) => {}
        Err(why) => warnings.push(format!("app.php_ini: the keys were not checked ({why})")),
    }
    Ok(warnings)
}

/// Whether dpkg has `package` installed.
fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", package])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout == b"installed")
}

/// The keys php does not know (`ini_get` answers `false` for them), asked of this machine's
/// php CLI with its extensions loaded. Err when php cannot be asked.
fn unknown_ini_keys(keys: &[&str]) -> Result<Vec<String>, String> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let php = std::env::var("FPMLAB_PHP").unwrap_or_else(|_| "php".into());
    // One key per line on stdin; the script prints the unknown ones.
    let script = "while (($k = fgets(STDIN)) !== false) { $k = trim($k); \
                  if ($k !== '' && ini_get($k) === false) echo $k, \"\\n\"; }";
    let mut child = Command::new(&php)
        .args(["-r", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{php} not found ({e}): apt-get install php-cli"))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let _ = stdin.write_all(keys.join("\n").as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{php} failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn php_cli() -> bool {
        Command::new("php")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    #[test]
    fn php_knows_real_keys_and_not_made_up_ones() {
        if !php_cli() {
            eprintln!("skipped: no php CLI (apt-get install php-cli)");
            return;
        }
        let unknown = unknown_ini_keys(&["memory_limit", "session.gc_probability", "no.such_key"]);
        assert_eq!(unknown, Ok(vec!["no.such_key".to_string()]));
    }

    #[test]
    fn missing_packages_are_named_with_the_fix() {
        let mut s = StackSettings::default();
        s.app.packages = vec!["fpmlab-no-such-package".into()];
        let e = check(&Driver::Native, &s).unwrap_err().to_string();
        assert!(e.contains("fpmlab-no-such-package is not installed"), "{e}");
        assert!(e.contains("apt-get install fpmlab-no-such-package"), "{e}");
        // The docker driver's image gets them: nothing to check here.
        assert!(check(&Driver::Docker, &s).is_ok());
    }
}
