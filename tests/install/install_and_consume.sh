#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs a separate project that finds it
# with find_package(linrec COMPONENTS runtime compiler).
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
"$work/build/use_runtime"
"$work/build/use_compiler" "$src/variants/gated_delta_rule.toml"
