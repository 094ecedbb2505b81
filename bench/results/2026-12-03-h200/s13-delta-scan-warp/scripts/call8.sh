#!/usr/bin/env bash
# Session 13, call 8: chunk_delta_scan_warp with 32-bit shared addresses and a split W S chain (C <= 32).
# GPU tests (delta families, kda; e2e of those), tuning of the rows the side-by-side bench (call 9) reads.
set -u
O=$OUT/s13c8; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s13c8.tgz .); }
timeout 90 .devbin/linrec_kernel_gpu_test --gtest_color=no '--gtest_filter=*/kda_*:*/delta_rule_*:*/gated_delta_rule_*:*/delta_retention_*' > $O/kernel_gpu_test.log 2>&1; echo "kernel_gpu_test rc=$?"
timeout 90 .devbin/e2e_gpu_test --gtest_color=no '--gtest_filter=*/delta_rule:*/gated_delta_rule:*/kda' > $O/e2e_gpu_test.log 2>&1; echo "e2e rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $O/*.log | head -20
pack
for fam in gated_delta_rule delta_rule; do
  timeout 100 .devbin/linrec tune variants/$fam.toml --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
    --strategies state_passing --budget-s 30 --chunks 32,64 --block-vs 16,32,64 --warps 4,8 --stages 2,3 \
    --db $O/kernels.db > $O/tune_${fam}_long.txt 2>&1; echo "tune $fam long rc=$?"
  grep -E "time [0-9]+/|<- winner" $O/tune_${fam}_long.txt | sed 's/.*time/time/' | head -50
  pack
done
timeout 70 .devbin/linrec tune variants/gated_delta_rule.toml --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 \
    --budget-s 25 --chunks 32,64 --block-vs 32,64 --warps 4 --stages 2 \
    --db $O/kernels.db > $O/tune_gated_delta_rule_short.txt 2>&1; echo "tune gdr short rc=$?"
grep -E "time [0-9]+/|<- winner" $O/tune_gated_delta_rule_short.txt | sed 's/.*time/time/' | head -30
pack
timeout 70 .devbin/linrec tune variants/kda.toml \
  --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
  --strategies state_passing --budget-s 14 --chunks 32 --block-vs 16,32,64 --warps 4 --stages 2 \
  --db $O/kernels.db > $O/tune_kda.txt 2>&1; echo "tune kda rc=$?"
grep -E "<- winner" $O/tune_kda.txt
pack
