#!/usr/bin/env bash
# Installs what fpmlab needs on a Debian 12 machine (as root): nginx and php-fpm from the
# distribution for the native stack, and the tools the tests use. Safe to run again: it only
# installs what is missing.
set -euo pipefail

# haproxy: the load balancer in front of a [fleet] (docs/fleet.md).
packages=(nginx-light php8.2-fpm haproxy iproute2 procps)
if [[ "${1:-}" == "--tests" ]]; then
    # Peers for side-by-side checks, debootstrap for the offline docker image, a headless
    # browser (and a font) to open the HTML report in.
    packages+=(wrk debootstrap chromium fonts-dejavu-core)
    # Real third-party PHP applications (tests/your_app.rs): MediaWiki on SQLite through
    # its front controller, DokuWiki; php's CLI runs MediaWiki's installer.
    packages+=(mediawiki dokuwiki php8.2-sqlite3 php8.2-cli)
    # promtool checks the Prometheus export; a real Prometheus scrapes the live endpoint.
    packages+=(prometheus)
    # The docker driver needs compose: the v2 plugin, or Debian's standalone docker-compose.
    if command -v docker >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
        packages+=(docker-compose)
    fi
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $EUID -ne 0 ]]; then
        echo "fpmlab needs these Debian packages: ${missing[*]}" >&2
        echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The distribution's services are not wanted: fpmlab starts its own nginx, php-fpm and haproxy.
if command -v service >/dev/null 2>&1; then
    service nginx stop >/dev/null 2>&1 || true
    service php8.2-fpm stop >/dev/null 2>&1 || true
    service haproxy stop >/dev/null 2>&1 || true
    # The tests start their own Prometheus on a loopback port with a temp config.
    service prometheus stop >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v cargo >/dev/null || { echo "cargo not found: install the Rust toolchain (rustup)" >&2; exit 1; }
