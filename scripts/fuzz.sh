#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target in fuzz/ for a bounded time, then prints target / execs / exec/s /
# findings. See docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 15 s each, every target)
#
# Env: FUZZ_SANITIZER=none|address (default none), FUZZ_TARGET_DIR (default <cargo target dir>/fuzz,
# kept apart from the normal build because the instrumented flags differ), FUZZ_ARGS (extra libFuzzer
# flags). The stable toolchain is used with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags).
# Exit status: 0 when nothing was found; 1 on any finding (panic, crash, timeout, out-of-memory: the
# input is in fuzz/artifacts/<target>/). When cargo-fuzz is missing and cannot be installed, prints
# SKIPPED with the reason and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
secs="${1:-15}"
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
sanitizer="${FUZZ_SANITIZER:-none}"
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/fuzz}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  if ! cargo install cargo-fuzz --locked >/tmp/enigma-cargo-fuzz-install.log 2>&1; then
    echo "SKIPPED: fuzzing did not run: cargo-fuzz could not be installed ($(tail -n 1 /tmp/enigma-cargo-fuzz-install.log))"
    exit 0
  fi
fi
echo "$(cargo fuzz --version), sanitizer $sanitizer, ${secs}s per target, target dir $target_dir"

cd fuzz
start=$SECONDS
cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir" # every target: they share their dependencies
echo "built in $((SECONDS - start))s"

logs="$(mktemp -d)"
failed=0
rows=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  before="$(ls "artifacts/$t" | wc -l)"
  rc=0
  # corpus/<t> (not committed) grows as libFuzzer finds new coverage; seeds/<t> is read only
  # shellcheck disable=SC2086
  cargo fuzz run --sanitizer "$sanitizer" --target-dir "$target_dir" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_ARGS:-} \
    >"$logs/$t.log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -n 1)"
  found=$(( $(ls "artifacts/$t" | wc -l) - before ))
  if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi
  rows+=("$(printf '%-16s %12s %10s %9s' "$t" "${execs:-?}" "${rate:-?}" "$found")")
  if [ "$found" -ne 0 ]; then
    failed=1
    echo "---- $t: finding (exit $rc); last lines of its log:"
    grep -v '^#' "$logs/$t.log" | tail -n 40
    ls -t "artifacts/$t" | head -n 3 | sed "s|^|  input: fuzz/artifacts/$t/|"
  fi
done
printf '%-16s %12s %10s %9s\n' target execs exec/s findings
printf '%s\n' "${rows[@]}"
rm -rf "$logs"
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found a problem (reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer <target> <input>)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no findings"
