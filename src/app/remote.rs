//! `--target` outside this machine: refused unless `--allow-remote` names its host, decided
//! from the URL's text alone.

/// The host of a target URL, from its text alone: no DNS, no connection.
fn target_host(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("--target {url}: give an http:// URL, e.g. http://127.0.0.1:8080")
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h).unwrap_or(v6)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    if host.is_empty() {
        return Err(format!("--target {url}: the URL names no host"));
    }
    Ok(host.to_ascii_lowercase())
}

/// Whether a host is this machine's loopback: `localhost`, 127.0.0.0/8 or ::1 (also as an
/// IPv4-mapped address).
fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_loopback(),
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Refuses a target outside the loopback range unless `--allow-remote` names its host:
/// decided from the URL's text, before any DNS look-up or connection, so a typo never sends
/// a load test to someone else's server.
pub(super) fn check_remote(url: &str, allowed: Option<&str>) -> Result<(), String> {
    let host = target_host(url)?;
    if is_loopback(&host) {
        return Ok(());
    }
    let allowed = allowed.map(|a| {
        a.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    });
    match allowed {
        Some(a) if a == host => Ok(()),
        Some(a) => Err(format!("--target {url} is {host}, but --allow-remote names {a}: name the target's host, --allow-remote {host}")),
        None => Err(format!("--target {url} is {host}, outside this machine (127.0.0.0/8, ::1, localhost): a load test against another machine must be deliberate; add --allow-remote {host} if you mean it (nothing was sent)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_need_no_flag() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.3.4.5/",
            "http://localhost",
            "http://LOCALHOST:81/x",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]:80",
            "http://user:pw@127.0.0.1:8080",
        ] {
            assert_eq!(check_remote(url, None), Ok(()), "{url}");
        }
    }

    #[test]
    fn remote_targets_need_their_host_named() {
        for (url, host) in [
            ("http://192.0.2.1:8080", "192.0.2.1"),
            ("http://shop.example.com/", "shop.example.com"),
            ("http://[2001:db8::1]:80", "2001:db8::1"),
            ("http://127.0.0.1.example.com", "127.0.0.1.example.com"),
            ("http://10.0.0.1", "10.0.0.1"),
        ] {
            let e = check_remote(url, None).unwrap_err();
            assert!(e.contains(&format!("--allow-remote {host}")), "{e}");
            assert_eq!(check_remote(url, Some(host)), Ok(()), "{url}");
            let e = check_remote(url, Some("other.example.com")).unwrap_err();
            assert!(
                e.contains("but --allow-remote names other.example.com"),
                "{e}"
            );
        }
        assert_eq!(
            check_remote("http://[2001:db8::1]:80", Some("[2001:db8::1]")),
            Ok(())
        );
        assert!(check_remote("ftp://x", None)
            .unwrap_err()
            .contains("http://"));
    }
}
