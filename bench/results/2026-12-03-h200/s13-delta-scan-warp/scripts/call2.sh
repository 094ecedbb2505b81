#!/usr/bin/env bash
# Session 13, call 2: chunk_delta_scan_warp (one warp per 16 value columns). GPU tests (delta families, kda;
# e2e of those), tune state passing at T = 16k / 64k, per-kernel times at 16k.
set -u
O=$OUT/s13c2; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s13c2.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv > $O/gpu.txt 2>&1
timeout 120 .devbin/linrec_kernel_gpu_test --gtest_color=no '--gtest_filter=*/kda_*:*/delta_rule_*:*/gated_delta_rule_*:*/delta_retention_*' > $O/kernel_gpu_test.log 2>&1; echo "kernel_gpu_test rc=$?"
timeout 120 .devbin/e2e_gpu_test --gtest_color=no '--gtest_filter=*/delta_rule:*/gated_delta_rule:*/kda' > $O/e2e_gpu_test.log 2>&1; echo "e2e rc=$?"
grep -E "^\[  (PASSED|FAILED) |tests ran|FAILED  \]" $O/*.log | head -20
pack
for fam in gated_delta_rule delta_rule; do
  timeout 150 .devbin/linrec tune variants/$fam.toml --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
    --strategies state_passing --budget-s 30 --chunks 32,64 --block-vs 16,32,64 --warps 4 --stages 2 --all \
    --db $O/kernels.db > $O/tune_$fam.txt 2>&1; echo "tune $fam rc=$?"
  grep -E "<- winner|ms" $O/tune_$fam.txt | head -30
  pack
done
timeout 40 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section LaunchStats --section Occupancy \
  .devbin/linrec bench --db $O/kernels.db --shapes 2,16384,16,128,128 --min-reps 2 --max-reps 2 --warmup 0 variants/gated_delta_rule.toml > $O/ncu_gdr_16k.txt 2>&1
grep -E "^  linrec_|Duration|Registers Per|Achieved Occ" $O/ncu_gdr_16k.txt | sed 's/(.*//' | tr -s ' ' | paste - - - -
pack
