#!/usr/bin/env bash
# Session 11, call 5 (final): GPU tests (16-bit delta families + the delta_retention test family), per-kernel
# times (ncu) at the 16k winner config, tunes from call 4's DB, side-by-side bench vs fla.
set -u
O=$OUT/s11c5; mkdir -p $O
export LINREC_COMMIT=$(cat .devbin/commit)
pack() { (cd $O && tar czf $OUT/s11c5.tgz .); }
timeout 75 .devbin/linrec_kernel_gpu_test --gtest_color=no '--gtest_filter=*/delta_rule_*BF16:*/gated_delta_rule_*BF16:*/kda_*BF16:*/delta_retention_*' > $O/kernel_gpu_test.log 2>&1; echo "kernel_gpu_test rc=$?"
timeout 30 .devbin/e2e_gpu_test --gtest_color=no '--gtest_filter=*/delta_rule:*/gated_delta_rule' > $O/e2e_gpu_test.log 2>&1; echo "e2e rc=$?"
grep -E "PASSED|FAILED" $O/*.log | head
pack
cp .devbin/kernels-s11c4.db $O/kernels.db
timeout 60 .devbin/linrec tune variants/delta_rule.toml variants/gated_delta_rule.toml \
  --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 --strategies state_passing \
  --budget-s 8 --chunks 32,64 --block-vs 16,32 --warps 4,8 --stages 2 --db $O/kernels.db > $O/tune_long.txt 2>&1; echo "tune long rc=$?"
timeout 60 .devbin/linrec tune variants/delta_rule.toml variants/gated_delta_rule.toml \
  --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --strategies fused,state_passing \
  --budget-s 8 --chunks 32,64 --block-vs 16,32,64 --warps 4 --stages 2 --db $O/kernels.db > $O/tune_short.txt 2>&1; echo "tune short rc=$?"
grep -E "<- winner" $O/tune_long.txt $O/tune_short.txt
pack
timeout 25 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section LaunchStats --section Occupancy \
  .devbin/linrec bench --db $O/kernels.db --shapes 2,16384,16,128,128 --min-reps 2 --max-reps 2 --warmup 0 variants/gated_delta_rule.toml > $O/ncu_gdr_16k.txt 2>&1
grep -E "^  linrec_|Duration" $O/ncu_gdr_16k.txt | sed 's/(.*//' | tr -s ' ' | paste - -
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,kda NO_DECODE=1 FLA_TIMEOUT_S=140 LINREC_TIMEOUT_S=50 \
 BENCH_ARGS="--db $O/kernels.db variants/delta_rule.toml variants/gated_delta_rule.toml" \
 timeout 200 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -14 $O/bench_console.txt
pack
