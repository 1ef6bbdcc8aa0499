#!/usr/bin/env bash
# Installs the fpmlab stack's packages into a Debian bookworm system and slims it down.
#
# Runs INSIDE the target system as root, in both build paths, so that they produce the same
# image: the Dockerfile runs it in a `debian:bookworm-slim` container, build-image.sh runs it
# in a chroot over a debootstrap'ed rootfs. It expects apt's sources to be set up already.
# The packages are Debian 12's own, the same ones the native driver runs.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# No init runs in the container, and in build-image.sh's chroot a postinst that starts nginx
# or php-fpm would start it on the HOST (a chroot shares the host's network and pid space).
# policy-rc.d exit 101 makes invoke-rc.d skip every start. It stays in the image so that an
# `apt-get install` inside a running container behaves the same.
printf '#!/bin/sh\n# fpmlab: never start services from package scripts\nexit 101\n' \
    >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

# Extra apt options from the caller (build-image.sh passes the host's Check-Valid-Until
# setting so a mirror snapshot that the host accepts is accepted here too).
read -r -a apt_opts <<<"${FPMLAB_APT_OPTS:-}"

apt-get "${apt_opts[@]}" update
# php8.2-fpm depends on `systemd | systemd-tmpfiles`; naming systemd-standalone-tmpfiles
# satisfies it without pulling in systemd itself (no init system runs in the container).
# iproute2 gives `ss` (accept queues), procps gives `ps`/`pgrep` for the probes. haproxy is
# a fleet's balancer with the docker driver (docs/fleet.md): Debian's own, as on the host.
apt-get "${apt_opts[@]}" install -y --no-install-recommends \
    nginx-light \
    php8.2-fpm \
    haproxy \
    systemd-standalone-tmpfiles \
    iproute2 \
    procps

# Slim: package caches and lists, docs, man pages and translations are never used at run
# time. Copyright files stay (the licences ask for them).
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old
find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian /usr/share/linda
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
# Build-time logs would make two builds differ for no reason.
find /var/log -type f -exec truncate -s 0 {} +

# Smoke test: the daemons parse their packaged default configs.
nginx -t
php-fpm8.2 -t
haproxy -c -f /etc/haproxy/haproxy.cfg
echo "provision: ok: $(nginx -v 2>&1); $(php-fpm8.2 -v | head -n 1); $(haproxy -v | head -n 1)"
