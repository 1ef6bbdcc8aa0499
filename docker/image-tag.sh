#!/usr/bin/env bash
# Prints the stack image's tag, fpmlab-stack:<hash>, where <hash> is the first 12 hex digits of
# a sha256 over the files that define the image's content. Configs and the PHP app are mounted
# at run time, so they are not part of it: editing them never forces a rebuild.
#
# The hash is sha256 of `sha256sum`'s listing ("<hex>  <name>\n" per file, in the order below,
# names relative to this directory). src/stack/image.rs computes the same; a test checks that
# both agree. Keep the file list in sync with IMAGE_FILES there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
hash=$(sha256sum Dockerfile build-image.sh provision.sh | sha256sum | cut -c1-12)
echo "fpmlab-stack:$hash"
