#!/usr/bin/env bash
# One command from a fresh Debian 12 machine: install what the tests need, then run them
# against real nginx, php-fpm (and docker, where an engine answers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
# The docker driver's image, before the tests (they would build it on first use, inside a
# test's time): built offline from Debian's archive with debootstrap, since no registry is
# reachable here; a no-op while an image with the current docker/ content hash exists.
if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
    bash docker/build-image.sh "$(bash docker/image-tag.sh)"
else
    echo "test.sh: no docker engine answers: the docker stack tests will say so and skip" >&2
fi
# Tests share two cores with the stacks they start: one test at a time keeps timings honest.
cargo test --release --no-fail-fast -- --test-threads=1
