#!/usr/bin/env bash
# Runs every test: install, build, ctest (unit + lit; gpu-labelled tests skip without a GPU), then the
# DSL and references again under ASan/UBSan, and a short libFuzzer run of the parser. CI runs exactly this.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

jobs=$(nproc)
total_passed=0
total_failed=0
total_skipped=0
summary=()

# run_ctest NAME BUILD_DIR ARGS...: runs ctest, adds its counts to the totals.
run_ctest() {
  local name=$1 dir=$2
  shift 2
  local log
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" 2>&1 | tee "$log"
  local line passed failed skipped
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "test.sh: $name: ctest printed no summary" >&2
    total_failed=$((total_failed + 1))
    summary+=("$name: no summary")
    return
  fi
  local out_of
  failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  out_of=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
  skipped=$(grep -cE '\*\*\*Skipped|Not Run' "$log" || true)
  passed=$((out_of - failed - skipped))
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  summary+=("$name: $passed passed, $failed failed, $skipped skipped")
  rm -f "$log"
}

step_failed() {
  echo "test.sh: $1 failed to build" >&2
  total_failed=$((total_failed + 1))
  summary+=("$1: BUILD FAILED")
}

# 1. The full build (compiler, runtime, CLI) and all its tests.
if bash scripts/build.sh; then
  run_ctest "main" build
else
  step_failed "main build"
fi

# 2. The DSL, references and CLI under AddressSanitizer + UndefinedBehaviorSanitizer.
if LINREC_BUILD_DIR=build-asan LINREC_BUILD_TYPE=RelWithDebInfo bash scripts/build.sh \
    -DLINREC_SANITIZE=ON -DLINREC_ENABLE_COMPILER=OFF -DLINREC_ENABLE_RUNTIME=OFF; then
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest "asan+ubsan" build-asan
else
  step_failed "sanitizer build"
fi

# 3. A short fuzz run of the variant parser (libFuzzer, ASan, UBSan).
if CC=clang CXX=clang++ LINREC_BUILD_DIR=build-fuzz LINREC_BUILD_TARGETS=fuzz_spec_parser LINREC_BUILD_TYPE=RelWithDebInfo bash scripts/build.sh \
    -DLINREC_FUZZ=ON -DLINREC_ENABLE_COMPILER=OFF -DLINREC_ENABLE_RUNTIME=OFF -DLINREC_ENABLE_TESTS=ON; then
  run_ctest "fuzz" build-fuzz -L fuzz
else
  step_failed "fuzz build"
fi

echo
echo "==== linrec test summary ===="
for s in "${summary[@]}"; do echo "  $s"; done
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
[ "$total_failed" -eq 0 ]
