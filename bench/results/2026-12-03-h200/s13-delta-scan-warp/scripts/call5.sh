#!/usr/bin/env bash
# Session 13, call 5: chunk_delta_scan_warp with stmatrix staging and unrolled copies. GPU tests (delta
# families, kda), tune gated_delta_rule 16k/64k, per-kernel times at 16k, SASS of the scan.
set -u
O=$OUT/s13c5; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s13c5.tgz .); }
for f in .devbin/*.cubin; do cuobjdump -sass $f > $O/$(basename $f .cubin).sass 2>&1; done
timeout 120 .devbin/linrec_kernel_gpu_test --gtest_color=no '--gtest_filter=*/kda_*:*/delta_rule_*:*/gated_delta_rule_*:*/delta_retention_*' > $O/kernel_gpu_test.log 2>&1; echo "kernel_gpu_test rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $O/*.log | head -20
pack
timeout 150 .devbin/linrec tune variants/gated_delta_rule.toml --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
    --strategies state_passing --budget-s 30 --chunks 32,64 --block-vs 16,32,64 --warps 4 --stages 2 \
    --db $O/kernels.db > $O/tune_gdr.txt 2>&1; echo "tune rc=$?"
grep -E "time [0-9]+/|<- winner" $O/tune_gdr.txt | sed 's/.*time/time/' | head -30
pack
timeout 40 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section WarpStateStats --section InstructionStats \
  .devbin/linrec bench --db $O/kernels.db --shapes 2,16384,16,128,128 --min-reps 2 --max-reps 2 --warmup 0 variants/gated_delta_rule.toml > $O/ncu_gdr_16k.txt 2>&1
grep -E "^  linrec_|Duration|Warp Cycles Per Issued|Executed Instructions  " $O/ncu_gdr_16k.txt | sed 's/(.*//' | tr -s ' ' | head -30
pack
