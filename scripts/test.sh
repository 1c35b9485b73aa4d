#!/usr/bin/env bash
# The whole test suite, as CI runs it: Rust unit, property and integration tests (real node processes
# on 127.0.0.1), then the Python client against a real devnet.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
bin="$target_dir/x86_64-unknown-linux-gnu/release/enigma"

echo "== build"
cargo build --release --workspace --bins

echo "== rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --workspace --no-fail-fast
else
  cargo test --release --workspace --no-fail-fast
fi

echo "== python client"
if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; export PYTHONPATH="$PWD/python"; fi
ENIGMA_BIN="$PWD/$bin" "$py" -m unittest discover -s python/tests -v

echo "== all tests passed"
