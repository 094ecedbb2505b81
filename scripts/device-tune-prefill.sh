#!/usr/bin/env bash
# One device call before a side-by-side bench: the gpu-labelled kernel and e2e tests of the families given
# (prebuilt binaries, no cmake), then `linrec tune` of the seven bench families at the four bench shapes into
# a fresh OUT_DIR/kernels.db, which scripts/device-bench.sh then reads (BENCH_ARGS="--db ...").
#
#   bash scripts/device-tune-prefill.sh OUT_DIR
#
# Environment:
#   LINREC_BIN=.devbin          the binaries (linrec, linrec_kernel_gpu_test, e2e_gpu_test)
#   TEST_FAMILIES="a b"         families whose gpu tests run first (default: linear_attn retention simple_gla)
#   TUNE_FAMILIES="a b"         families to tune (default: the seven bench families)
#   BASE_DB=path                start from a copy of this kernel DB (its other records kept) instead of an
#                               empty one: re-tune a few families after a kernel change
#   SHORT_S=7 / LONG_S=10       tuning budget per variant and shape at T <= 4k / T >= 16k
#   TUNE_ARGS_SHORT / TUNE_ARGS_LONG   search restrictions (defaults below: the recipe of bench/README.md,
#                               with fused configs of narrow value tiles kept at the long shapes)
# OUT_DIR gets at most 8 files (what a device call returns): env.txt, kernel_gpu_test.log, e2e_gpu_test.log,
# tune_short.txt, tune_long.txt, kernels.db, summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: bash scripts/device-tune-prefill.sh OUT_DIR}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
bin=${LINREC_BIN:-.devbin}
families=${TEST_FAMILIES:-linear_attn retention simple_gla}
variants=()
for f in ${TUNE_FAMILIES:-linear_attn retention simple_gla gla delta_rule gated_delta_rule kda}; do
  variants+=("variants/$f.toml")
done
short_args=${TUNE_ARGS_SHORT:---chunks 32,64,128 --block-vs 32,64,128 --warps 4,8}
long_args=${TUNE_ARGS_LONG:---chunks 64,128 --block-vs 16,32,64 --warps 4,8}
declare -A rc

step() {  # step NAME LIMIT_S COMMAND...: output to OUT/NAME (and the console), exit code kept
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  echo "=== $name: $*"
  timeout -k 5 "$limit" "$@" > "$out/$name" 2>&1
  rc[$name]="exit $? after $((SECONDS - start)) s"
  echo "=== $name: ${rc[$name]}"
}

{
  date -u +%Y-%m-%dT%H:%M:%SZ
  echo "commit ${LINREC_COMMIT:-$(git rev-parse --short HEAD 2> /dev/null || echo unknown)}"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  "$bin/linrec" --version
} 2>&1 | tee "$out/env.txt"

filter=""
for f in $families; do filter+="*/${f}_*:"; done
step kernel_gpu_test.log "${TEST_LIMIT_S:-150}" "$bin/linrec_kernel_gpu_test" --gtest_color=no "--gtest_filter=${filter%:}"
filter=""
for f in $families; do filter+="*/${f}:"; done
step e2e_gpu_test.log "${TEST_LIMIT_S:-150}" "$bin/e2e_gpu_test" --gtest_color=no "--gtest_filter=${filter%:}"

rm -f "$out/kernels.db" "$out/kernels.db-wal" "$out/kernels.db-shm"
if [ -n "${BASE_DB:-}" ]; then
  cp "$BASE_DB" "$out/kernels.db" || exit 1
  chmod u+w "$out/kernels.db"
fi
# shellcheck disable=SC2086  # the restrictions are lists of words on purpose
step tune_short.txt "${SHORT_LIMIT_S:-200}" "$bin/linrec" tune "${variants[@]}" --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 \
  --budget-s "${SHORT_S:-7}" $short_args --db "$out/kernels.db"
# shellcheck disable=SC2086
step tune_long.txt "${LONG_LIMIT_S:-230}" "$bin/linrec" tune "${variants[@]}" --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
  --budget-s "${LONG_S:-10}" $long_args --db "$out/kernels.db"

{
  echo
  echo "==== device-tune-prefill summary ===="
  for k in $(printf '%s\n' "${!rc[@]}" | sort); do printf '  %-22s %s\n' "$k" "${rc[$k]}"; done
  grep -hE "^\[  (PASSED|FAILED) |tests? ran|FAIL" "$out/kernel_gpu_test.log" "$out/e2e_gpu_test.log" | head -20
  grep -hiE "fail|mismatch|error" "$out/tune_short.txt" "$out/tune_long.txt" | head -10
} 2>&1 | tee "$out/summary.txt"
