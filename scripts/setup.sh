#!/usr/bin/env bash
# Installs every Debian package linrec's build and tests need; safe to run again (idempotent, non-interactive).
set -euo pipefail

packages=(
  cmake ninja-build g++ git python3 pkg-config
  libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools
  libtomlplusplus-dev libsqlite3-dev sqlite3
  libcli11-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  clang-14 libclang-rt-14-dev
  zlib1g-dev libzstd-dev
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: not root and no sudo: run it as root" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all Debian packages present"
fi

cuda=${CUDA_HOME:-/usr/local/cuda}
if [ ! -f "$cuda/include/nvrtc.h" ] || ! ls "$cuda"/lib64/libnvrtc.so* >/dev/null 2>&1; then
  echo "setup.sh: error: the CUDA toolkit (13.x, with NVRTC) is not at $cuda — install it there or set CUDA_HOME" >&2
  exit 1
fi
echo "setup.sh: CUDA at $cuda ($("$cuda/bin/nvcc" --version | grep -o 'release [0-9.]*'))"
