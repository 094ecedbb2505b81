#!/usr/bin/env bash
# Everything linrec runs on a GPU machine, in one call, with prebuilt binaries (no cmake there):
# the gpu-labelled test binaries, compute-sanitizer memcheck + racecheck on one config per variant, and a
# short summary table last. Writes logs to OUT_DIR.
#
#   bash scripts/device-gpu.sh OUT_DIR [BIN_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash scripts/device-gpu.sh OUT_DIR [BIN_DIR]}
bin=${2:-build/bin}
mkdir -p "$out"
export PATH=/usr/local/cuda/bin:$PATH
declare -A result

run_step() {  # run_step NAME TIMEOUT_S COMMAND...: output to OUT/NAME.log, verdict from the exit code
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  result[$name]="rc=$rc $((SECONDS - start))s"
  echo "== $name: rc=$rc ($((SECONDS - start)) s)"
}

{
  date -u +%Y-%m-%dT%H:%M:%SZ
  git rev-parse HEAD 2>/dev/null || cat COMMIT 2>/dev/null
  nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader
} | tee "$out/env.txt"

for t in ${GPU_TESTS:-e2e_gpu_test linrec_runtime_gpu_tests linrec_kernel_gpu_test}; do
  [ -x "$bin/$t" ] && run_step "$t" 900 "$bin/$t"
done

# compute-sanitizer: one small config per variant (prefill with initial state, then a few decode steps).
for v in ${SANITIZE_VARIANTS-linear_attn retention simple_gla gla delta_rule gated_delta_rule kda based hedgehog}; do
  dims=(--K 64 --V 64)
  [ "$v" = based ] && dims=(--K 16 --V 64)
  for tool in memcheck racecheck; do
    run_step "sanitize_${tool}_$v" 300 compute-sanitizer --tool "$tool" --error-exitcode 3 \
      "$bin/linrec" check "variants/$v.toml" --T 70 --B 1 --H 2 "${dims[@]}" --varlen "" --decode-steps 3 --dtype bf16
  done
done

echo
echo "==== device summary ===="
for k in $(printf '%s\n' "${!result[@]}" | sort); do printf '  %-40s %s\n' "$k" "${result[$k]}"; done
grep -hE "^\[.*\] [0-9]+ cases, [0-9]+ failed" "$out/e2e_gpu_test.log" 2>/dev/null
grep -hE "ERROR SUMMARY|RACECHECK SUMMARY" "$out"/sanitize_*.log 2>/dev/null | sort | uniq -c
