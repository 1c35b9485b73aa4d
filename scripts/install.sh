#!/usr/bin/env bash
# Installs what building and testing Enigma needs beyond a Rust toolchain and Python 3:
# cargo-nextest and cargo-fuzz (if missing), headless Chromium (Debian's package, if apt-get exists) and a virtualenv with the Python client installed from
# ./python (plus numpy and pandas for the tests of their support, when they can be installed).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install cargo-nextest --locked || echo "cargo-nextest unavailable: tests will run with cargo test"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (scripts/fuzz.sh)"
  cargo install cargo-fuzz --locked || echo "cargo-fuzz unavailable: the fuzz run will be SKIPPED"
fi

# headless Chromium from Debian's packages, for the dashboard's browser test (tests/dashboard.rs
# prints SKIPPED without it); never fails the install
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (the dashboard's browser test)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "chromium unavailable: the dashboard's browser test will be SKIPPED"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet ./python
echo "python client installed in .venv"
# optional, for the tests of numpy/pandas support (python/tests/test_frames.py skips without them)
.venv/bin/python -m pip install --quiet numpy pandas \
  || echo "numpy/pandas unavailable: their tests will be SKIPPED (the client does not need them)"
# the offline schema validator of deploy/k8s (python/tests/test_k8s.py skips without it)
.venv/bin/python -m pip install --quiet kubernetes-validate \
  || echo "kubernetes-validate unavailable: the Kubernetes manifest tests will be SKIPPED"
# the type check of the package (python/tests/test_mypy.py skips without it)
.venv/bin/python -m pip install --quiet mypy \
  || echo "mypy unavailable: the type check of the Python package will be SKIPPED"
# optional bench dependency: MPyC, for scripts/mpyc_compare.py (Enigma beside MPyC); no test needs it
.venv/bin/python -m pip install --quiet mpyc \
  || echo "mpyc unavailable: scripts/mpyc_compare.py will not run"
