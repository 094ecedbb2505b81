#!/usr/bin/env bash
# Nsight Compute on a few prefill launches, in few files (a device call returns at most 8): for each profile,
# one `linrec check` launch under ncu, its details page appended to OUT/ncu-details.txt and its headline
# numbers (duration, throughput, occupancy, issue, stalls) to OUT/ncu-summary.txt.
#
#   PROFILES='linear_attn;--B 32 --T 1024 --H 16;--chunk 64 --block-v 64 --warps 4
#             simple_gla;--B 2 --T 16384 --H 16;--chunk 64 --block-v 32 --warps 4 --stages 4' \
#     bash scripts/device-ncu-summary.sh OUT_DIR          (LINREC_BIN: .devbin)
# One profile per line: variant; shape arguments of `linrec check`; config arguments.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: bash scripts/device-ncu-summary.sh OUT_DIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
bin=${LINREC_BIN:-.devbin}
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
tmp=$(mktemp -d)
sections="--section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
  --section LaunchStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis"
i=0
while IFS=';' read -r variant shape config; do
  [ -z "${variant// /}" ] && continue
  variant=${variant// /}
  i=$((i + 1))
  echo "=== [$i] $variant $shape $config" | tee -a "$out/ncu-summary.txt" >> "$out/ncu-details.txt"
  # shellcheck disable=SC2086  # argument lists on purpose
  timeout 240 "$ncu" -k regex:linrec_fwd --launch-count 1 --clock-control none $sections -f -o "$tmp/p$i" \
    "$bin/linrec" check "variants/$variant.toml" $shape $config --varlen 3 --decode-steps 0 > "$tmp/run$i.txt" 2>&1
  echo "ncu exit $?; check: $(grep -cE ' ok$| ok ' "$tmp/run$i.txt") ok lines, $(grep -c FAIL "$tmp/run$i.txt") FAIL" \
    >> "$out/ncu-summary.txt"
  "$ncu" -i "$tmp/p$i.ncu-rep" --page details > "$tmp/d$i.txt" 2>&1
  cat "$tmp/d$i.txt" >> "$out/ncu-details.txt"
  grep -E "Duration|Grid Size|Block Size|Registers Per|Dynamic Shared|Achieved Occupancy|Theoretical Occupancy|Compute \(SM\) Throughput|DRAM Throughput|Memory Throughput|L2 Hit|Warp Cycles Per Issued|Issue Slots Busy|Issued Warp|No Eligible|Eligible Warps|Stall" \
    "$tmp/d$i.txt" | head -40 >> "$out/ncu-summary.txt"
done <<< "${PROFILES:?PROFILES: one 'variant;shape;config' per line}"
rm -rf "$tmp"
cat "$out/ncu-summary.txt"
