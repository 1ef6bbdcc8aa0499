#!/usr/bin/env bash
# Builds the fpmlab stack image OFFLINE, i.e. without any container registry:
#   debootstrap a Debian bookworm rootfs, install the stack in it with provision.sh (the same
#   script the Dockerfile runs), then `tar | docker import` it under the content-hash tag.
# Only Debian's package archive must be reachable, through the machine's own apt setup.
#
# usage: build-image.sh [--force] [TAG]
#   TAG      image tag to create; default: the output of image-tag.sh (what compose expects)
#   --force  rebuild even when TAG already exists
#   FPMLAB_DEBIAN_MIRROR=URI  overrides the archive URI read from apt's sources
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=bookworm
label=org.fpmlab=1

say() { printf 'build-image: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

force=0
if [[ ${1:-} == --force ]]; then
    force=1
    shift
fi
tag=${1:-$("$here/image-tag.sh")}

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap and chroot need it): sudo $0 $tag"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"
command -v docker >/dev/null || die "docker CLI not found: apt-get install docker.io"
timeout 10 docker info >/dev/null 2>&1 ||
    die "docker engine not reachable: start it (systemctl start docker)"

if [[ $force -eq 0 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
    say "$tag already exists; nothing to do (--force rebuilds)"
    exit 0
fi

# --- Where the archive is -------------------------------------------------------------------
# Never a host name of ours: ask apt which URI the machine uses for each bookworm suite (this
# covers sources.list and deb822 .sources files alike, and local mirrors or caches). When the
# host has no bookworm source (another distribution), debootstrap's built-in default is used
# for the main suite and the updates/security suites are skipped.
repo_uri() {
    # $(REPO_URI) is apt's own placeholder, not a shell expansion.
    # shellcheck disable=SC2016
    apt-get indextargets --format '$(REPO_URI)' "Release: $1" 'Identifier: Packages' \
        2>/dev/null | head -n 1 || true
}
mirror=${FPMLAB_DEBIAN_MIRROR:-$(repo_uri "$suite")}
updates_uri=$(repo_uri "$suite-updates")
security_uri=$(repo_uri "$suite-security")

# A proxy configured for apt (not in the environment) must reach debootstrap's wget and the
# chroot's apt too.
eval "$(apt-config shell apt_http_proxy Acquire::http::Proxy apt_https_proxy Acquire::https::Proxy \
    apt_check_valid Acquire::Check-Valid-Until)"
if [[ -z ${http_proxy:-} && -n ${apt_http_proxy:-} ]]; then export http_proxy=$apt_http_proxy; fi
if [[ -z ${https_proxy:-} && -n ${apt_https_proxy:-} ]]; then export https_proxy=$apt_https_proxy; fi
# Mirror snapshots can carry an expired Release date; accept them in the chroot exactly when
# the host's apt does.
apt_opts=""
if [[ ${apt_check_valid:-} == false ]]; then apt_opts="-o Acquire::Check-Valid-Until=false"; fi

# --- Temp dir, removed on every exit -----------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/var/tmp}/fpmlab-rootfs.XXXXXX")
rootfs=$work/rootfs
cleanup() {
    local rc=$?
    # Best effort, and quiet until the dir is gone: when the caller died, writing to its pipe
    # fails, and nothing may stop the removal.
    set +e
    trap '' PIPE
    # Unmount before deleting: rm must never descend into the host's /proc.
    if mountpoint -q "$rootfs/proc"; then umount -l "$rootfs/proc"; fi
    rm -rf --one-file-system "$work"
    if [[ $rc -ne 0 ]]; then say "failed (exit $rc); temp dir removed"; fi
}
trap cleanup EXIT
# Signals, also SIGPIPE from a reader that went away (fpmlab killed mid-build), exit through
# the EXIT trap instead of killing bash before it cleans up.
trap 'exit 130' INT TERM HUP PIPE
start=$SECONDS

# --- 1. Base system ----------------------------------------------------------------------------
arch=$(dpkg --print-architecture)
say "debootstrap --variant=minbase $suite ($arch) from ${mirror:-its default mirror} into $rootfs"
# apt in the chroot needs CA certificates when the archive is reached over https (debootstrap
# itself downloads with the host's wget and certificates).
include=()
if [[ "$mirror $updates_uri $security_uri" == *https://* ]]; then include=(--include=ca-certificates); fi
# Its progress output is long: keep it in a file and show the end only when it fails.
if ! debootstrap --variant=minbase --arch="$arch" "${include[@]}" "$suite" "$rootfs" ${mirror:+"$mirror"} \
    >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed: is Debian's archive reachable through apt's sources? (apt-get update)"
fi
say "base system done in $((SECONDS - start)) s"

# --- 2. Packages, via the shared provision script ----------------------------------------------
# apt in the chroot gets the same suites the host uses, so its php/nginx versions match what
# the native driver runs (debootstrap alone only knows the main suite).
main_uri=$mirror
if [[ -z $main_uri ]]; then # debootstrap's default: take it from the sources.list it wrote
    main_uri=$(awk '$1 == "deb" { print $2; exit }' "$rootfs/etc/apt/sources.list")
fi
{
    echo "deb $main_uri $suite main"
    if [[ -n $updates_uri ]]; then echo "deb $updates_uri $suite-updates main"; fi
    if [[ -n $security_uri ]]; then echo "deb $security_uri $suite-security main"; fi
} >"$work/sources.list"
mv "$work/sources.list" "$rootfs/etc/apt/sources.list"
say "apt sources in the image: $(tr '\n' ';' <"$rootfs/etc/apt/sources.list")"
cp "$here/provision.sh" "$rootfs/tmp/provision.sh"
mount -t proc proc "$rootfs/proc"
say "provision.sh (nginx-light php8.2-fpm haproxy iproute2 procps) in chroot"
if ! chroot "$rootfs" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    FPMLAB_APT_OPTS="$apt_opts" http_proxy="${http_proxy:-}" https_proxy="${https_proxy:-}" \
    bash /tmp/provision.sh >"$work/provision.log" 2>&1; then
    tail -n 30 "$work/provision.log" >&2
    die "provision.sh failed in the chroot (see above)"
fi
tail -n 1 "$work/provision.log" >&2
umount "$rootfs/proc"
# Host files debootstrap copied in for the build; Docker provides its own at run time.
rm -f "$rootfs/tmp/provision.sh" "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
rm -rf "${rootfs:?}"/var/cache/apt/archives/*.deb

# --- 3. Import -----------------------------------------------------------------------------------
# /dev, /proc and /sys contents are the runtime's business; device nodes debootstrap made for
# the chroot must not end up in the image. ENV/CMD match what debian:bookworm-slim gives the
# Dockerfile build.
say "docker import as $tag ($(du -sh --one-file-system "$rootfs" | cut -f1) rootfs)"
old_id=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
tar -C "$rootfs" --numeric-owner --one-file-system \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
    docker import \
        --change "LABEL $label" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "fpmlab offline build (debootstrap $suite + provision.sh)" \
        - "$tag" >/dev/null
# A --force rebuild leaves the previous image untagged: remove it (if no container uses it).
if [[ -n $old_id ]]; then docker image rm "$old_id" >/dev/null 2>&1 || true; fi
say "done: $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')) in $((SECONDS - start)) s"
