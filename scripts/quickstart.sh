#!/usr/bin/env bash
# One command from a fresh Debian 12 machine: install nginx + php-fpm if missing, build
# fpmlab, run scenarios/quickstart.toml on the native stack and print the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
exec ./target/release/fpmlab run scenarios/quickstart.toml --stack native "$@"
