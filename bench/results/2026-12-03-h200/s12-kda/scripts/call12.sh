#!/usr/bin/env bash
# Session 12, call 2: kda on the per-key WY prep + chunk_output_regs. GPU tests (kda all dtypes, the 16-bit
# delta families), e2e kda, tune kda from s11c5's DB, per-kernel times, side-by-side bench vs fla.
set -u
O=$OUT/s12c2; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s12c2.tgz .); }
timeout 100 .devbin/linrec_kernel_gpu_test --gtest_color=no '--gtest_filter=*/kda_*:*/delta_rule_*BF16:*/gated_delta_rule_*BF16:*/delta_retention_*' > $O/kernel_gpu_test.log 2>&1; echo "kernel_gpu_test rc=$?"
timeout 70 .devbin/e2e_gpu_test --gtest_color=no '--gtest_filter=*/kda' > $O/e2e_gpu_test.log 2>&1; echo "e2e rc=$?"
grep -E "PASSED|FAILED" $O/*.log | head -20
pack
cp .devbin/kernels-s11c5.db $O/kernels.db
timeout 150 .devbin/linrec tune variants/kda.toml \
  --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
  --strategies state_passing --budget-s 10 --chunks 32,64 --block-vs 16,32,64 --warps 4,8 --stages 2 \
  --db $O/kernels.db > $O/tune_kda.txt 2>&1; echo "tune rc=$?"
grep -E "<- winner" $O/tune_kda.txt
pack
for S in 32,1024,16,128,128 2,16384,16,128,128; do
timeout 25 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section LaunchStats --section Occupancy \
  .devbin/linrec bench --db $O/kernels.db --shapes $S --min-reps 2 --max-reps 2 --warmup 0 variants/kda.toml > $O/ncu_kda_$S.txt 2>&1
grep -E "^  linrec_|Duration" $O/ncu_kda_$S.txt | sed 's/(.*//' | tr -s ' ' | paste - -
done
pack
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,delta_rule,gated_delta_rule NO_DECODE=1 FLA_TIMEOUT_S=140 LINREC_TIMEOUT_S=50 \
 BENCH_ARGS="--db $O/kernels.db variants/kda.toml" \
 timeout 200 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -10 $O/bench_console.txt
pack
