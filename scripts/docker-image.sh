#!/usr/bin/env bash
# Builds the `enigma` Docker image FROM scratch out of the static release binary: no container registry
# is needed. Usage:
#
#   scripts/docker-image.sh [TAG]          # default tag: enigma
#
# Builds the binary first (cargo build --release; .cargo/config.toml makes it static-pie) unless
# ENIGMA_BIN names an already-built one. The build context is a temporary directory holding only the
# binary and an empty data/ directory, so nothing else of the checkout goes to the Docker daemon.
# The result is checked by running it (`docker run --rm enigma --version`).
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-enigma}"
target_dir="${CARGO_TARGET_DIR:-target}"

if [ -n "${ENIGMA_BIN:-}" ]; then
  bin="$ENIGMA_BIN"
else
  cargo build --release -p enigma --bin enigma
  bin="$target_dir/x86_64-unknown-linux-gnu/release/enigma"
fi
[ -x "$bin" ] || { echo "docker-image.sh: no enigma binary at $bin" >&2; exit 1; }

ctx="$(mktemp -d "${TMPDIR:-/tmp}/enigma-image.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/enigma"
# The release profile keeps line tables (71 MB); the image ships without them (15 MB), symbols kept.
# ENIGMA_STRIP=0 keeps the binary as built.
if [ "${ENIGMA_STRIP:-1}" != 0 ] && command -v strip >/dev/null 2>&1; then
  strip --strip-debug "$ctx/enigma"
fi
mkdir "$ctx/data"
docker build --quiet -t "$tag" -f docker/Dockerfile "$ctx" >/dev/null

# A scratch image runs only a static binary: prove this one starts.
if ! version="$(docker run --rm --network none "$tag" --version 2>&1)"; then
  echo "docker-image.sh: the image does not run (is $bin statically linked?): $version" >&2
  exit 1
fi
echo "built image $tag ($version)"
