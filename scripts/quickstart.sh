#!/usr/bin/env bash
# The main job on a fresh Debian machine: install, build, validate every bundled variant (canonical spec and
# hash), then compile them all into a kernel pack for sm_80 and sm_90 (build/linrec-default.pack). No GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
build/bin/linrec spec variants/*.toml
build/bin/linrec pack variants/*.toml --arch sm_80,sm_90 -o build/linrec-default.pack
