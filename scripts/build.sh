#!/usr/bin/env bash
# Configures and builds linrec into build/ (Release, Ninja). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${LINREC_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${LINREC_BUILD_TYPE:-Release} "$@"
targets=()
for t in ${LINREC_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
