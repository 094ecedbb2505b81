#!/usr/bin/env bash
# The tuner's device run, in one call on a GPU machine with prebuilt binaries in build/bin (no cmake):
# a full `linrec tune` of simple_gla, gated_delta_rule and kda at B=8 T=4096 H=16 K=V=128 bf16, a pack
# built from that DB, the startup path measured from the pack and from the DB (first launch per variant,
# cold NVRTC compile per kernel), and the gpu-labelled tuner tests. Ends with a short summary table.
#
#   bash scripts/device-tune.sh OUT_DIR          (BUDGET_S=60 per variant by default)
#
# Everything lands in OUT_DIR: kernels.db, tuned.pack, *.txt (what was printed), *.json (the same, parsed).
set -uo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: bash scripts/device-tune.sh OUT_DIR}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
bin=${LINREC_BIN:-build/bin}
budget=${BUDGET_S:-60}
variants=(variants/simple_gla.toml variants/gated_delta_rule.toml variants/kda.toml)
shape=8,4096,16,128,128
declare -A rc

if [ ! -x "$bin/linrec" ]; then
  echo "device-tune.sh: $bin/linrec is missing: build first (cmake --build build --target linrec tuner_gpu_test)" >&2
  exit 1
fi
# A fresh DB and pack, so the numbers below are this run's.
rm -f "$out/kernels.db" "$out/kernels.db-wal" "$out/kernels.db-shm" "$out/tuned.pack"

# step NAME COMMAND...: runs a step with its output in OUT/NAME.txt (and on the console), records its rc.
step() {
  local name=$1
  shift
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$out/$name.txt"
  rc[$name]=${PIPESTATUS[0]}
  echo "=== $name: exit ${rc[$name]} after $((SECONDS - start)) s"
}

{
  echo "device-tune.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  "$bin/linrec" --version
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "budget ${budget} s per variant; shape B,T,H,K,V = $shape; nproc $(nproc)"
} 2>&1 | tee "$out/env.txt"

# 1. Tune: progress on stderr (one line per timed candidate here, since this is not a terminal), tables
#    on stdout, JSON to tune.json, records and kernels to kernels.db.
step tune "$bin/linrec" tune "${variants[@]}" --shapes "$shape" --dtype bf16 --budget-s "$budget" \
  --db "$out/kernels.db" --json-out "$out/tune.json"

# 2. A pack for this GPU's arch with the tuned records and their cubins (the defaults come along).
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | head -1 | tr -d ' .')
arch=sm_${cc:-90}
step pack "$bin/linrec" pack "${variants[@]}" --arch "$arch" --tuned-from "$out/kernels.db" -o "$out/tuned.pack"

# 3. Startup: one process per library, so each measures a real first launch.
step startup_pack "$bin/linrec" startup "${variants[@]}" --pack "$out/tuned.pack" --shape "$shape" \
  --json-out "$out/startup_pack.json"
step startup_db "$bin/linrec" startup "${variants[@]}" --db "$out/kernels.db" --shape "$shape" \
  --json-out "$out/startup_db.json"

# 4. The gpu-labelled tuner tests (a small tuning run, a pack's first launch, a foreign-arch pack refused).
if [ -x "$bin/tuner_gpu_test" ]; then
  step gpu_tests "$bin/tuner_gpu_test" --gtest_color=no
else
  echo "device-tune.sh: $bin/tuner_gpu_test not built; skipping the gpu tests" | tee "$out/gpu_tests.txt"
  rc[gpu_tests]=skipped
fi

# errors NAME: the error lines a step printed, so a failure is explained in the summary too.
errors() { grep -E '^linrec [a-z]+: |^--[a-z-]+: ' "$out/$1.txt" 2> /dev/null | sed 's/^/  ! /'; }

{
  echo
  echo "==================== summary (details in $out) ===================="
  tail -n +2 "$out/env.txt"
  echo
  echo "tune, $shape bf16, budget ${budget} s each (exit ${rc[tune]}):"
  grep -E '^[a-z_]+  B=|^  [0-9]+ configs:|^  winner|^  no candidate' "$out/tune.txt" | sed 's/^/  /'
  errors tune
  echo
  echo "pack (exit ${rc[pack]}):"
  grep -E '^total|^wrote' "$out/pack.txt" | sed 's/^/  /'
  errors pack
  for lib in pack db; do
    echo
    echo "startup from the $lib (exit ${rc[startup_$lib]}):"
    grep -E '^startup on|^variant|^(simple_gla|gated_delta_rule|kda) |^first launch|^cold NVRTC' "$out/startup_$lib.txt" |
      sed 's/^/  /'
    errors "startup_$lib"
  done
  echo
  echo "gpu tests (exit ${rc[gpu_tests]}):"
  grep -E '^\[ (startup|tune) \]|^\[  (PASSED|FAILED) +\]|^\[  SKIPPED \] [0-9]+ test' "$out/gpu_tests.txt" 2> /dev/null |
    sed 's/^/  /'
} 2>&1 | tee "$out/summary.txt"

status=0
for k in tune pack startup_pack startup_db; do [ "${rc[$k]}" = 0 ] || status=1; done
exit $status
