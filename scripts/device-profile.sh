#!/usr/bin/env bash
# Nsight Compute profile of the prefill kernels on the GPU machine, in one call: for each variant, one
# `linrec check` launch under ncu (line info on, so stalls map back to the kernel headers), then the
# details page and the per-instruction source counters as text. What limits a kernel (memory, tensor-core
# issue, barriers, latency, occupancy) is read off these.
#
#   bash scripts/device-profile.sh OUT_DIR      env: LINREC_BIN (.devbin), VARIANTS, SHAPE_ARGS, CONFIG_ARGS
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash scripts/device-profile.sh OUT_DIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
bin=${LINREC_BIN:-.devbin}
variants=${VARIANTS:-"simple_gla gated_delta_rule kda"}
shape=${SHAPE_ARGS:-"--B 8 --T 1024 --H 16"}
config=${CONFIG_ARGS:-"--chunk 64 --block-v 128 --warps 8"}
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
sections="--section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
  --section LaunchStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis --section SourceCounters"
for v in $variants; do
  echo "=== $v"
  # shellcheck disable=SC2086
  LINREC_LINEINFO=1 "$ncu" -k regex:linrec_ --launch-count 1 $sections -f -o "$out/$v" \
    "$bin/linrec" check "variants/$v.toml" $shape $config --decode-steps 0 > "$out/$v.run.txt" 2>&1
  echo "ncu exit $?"
  tail -3 "$out/$v.run.txt"
  "$ncu" -i "$out/$v.ncu-rep" --page details > "$out/$v.details.txt" 2>&1
  "$ncu" -i "$out/$v.ncu-rep" --page source --csv --print-source sass > "$out/$v.sass.csv" 2>&1 ||
    "$ncu" -i "$out/$v.ncu-rep" --page source --csv > "$out/$v.sass.csv" 2>&1
  # Per source line of the kernel headers (NVRTC records them as linrec/kernel/*.cuh, found under the
  # include folder), when this ncu can resolve them.
  "$ncu" -i "$out/$v.ncu-rep" --page source --csv --print-source cuda \
    --source-folders "$PWD/runtime/kernels/include" > "$out/$v.cuda.csv" 2>&1 || true
  grep -E "Duration|Registers Per|Achieved Occupancy|Compute \(SM\) Throughput|Memory Throughput|Warp Cycles Per Issued|Issue Slots Busy|Stall|One or More Eligible" \
    "$out/$v.details.txt" | head -30
done
