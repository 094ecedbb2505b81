#!/usr/bin/env bash
# The main job on a fresh Debian machine: install, build, then validate every bundled variant and print its
# canonical spec and hash. No GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
build/bin/linrec spec variants/*.toml
