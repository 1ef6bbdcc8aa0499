#!/usr/bin/env bash
# One command from a fresh Debian 12 machine: install what the tests need, then run them
# against real nginx, php-fpm (and docker, where an engine answers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
# Tests share two cores with the stacks they start: one test at a time keeps timings honest.
cargo test --release -- --test-threads=1
