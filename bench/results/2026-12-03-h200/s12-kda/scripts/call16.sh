#!/usr/bin/env bash
# Session 12, call 6 (final, fb65d7f): kda GPU kernel tests, tune kda from s11c5's DB, per-kernel times at
# 1k, side-by-side bench of kda vs fla.
set -u
O=$OUT/s12c6; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s12c6.tgz .); }
timeout 60 .devbin/linrec_kernel_gpu_test --gtest_color=no '--gtest_filter=*/kda_*' > $O/kernel_gpu_test.log 2>&1; echo "kernel_gpu_test rc=$?"
grep -E "PASSED|FAILED" $O/kernel_gpu_test.log | head
cp .devbin/kernels-s11c5.db $O/kernels.db
timeout 120 .devbin/linrec tune variants/kda.toml \
  --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
  --strategies state_passing --budget-s 6 --chunks 32 --block-vs 16,32,64 --warps 4 --stages 2 \
  --db $O/kernels.db > $O/tune_kda.txt 2>&1; echo "tune rc=$?"
grep -E "<- winner" $O/tune_kda.txt
pack
timeout 25 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section InstructionStats --section Occupancy \
  .devbin/linrec bench --db $O/kernels.db --shapes 32,1024,16,128,128 --min-reps 2 --max-reps 2 --warmup 0 variants/kda.toml > $O/ncu_kda_1k.txt 2>&1
grep -E "^  linrec_|Duration|Executed Instructions  |Theoretical Occ" $O/ncu_kda_1k.txt | sed 's/(.*//' | tr -s ' ' | paste - - - -
pack
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,delta_rule,gated_delta_rule NO_DECODE=1 FLA_TIMEOUT_S=140 LINREC_TIMEOUT_S=50 \
 BENCH_ARGS="--db $O/kernels.db variants/kda.toml" \
 timeout 200 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -10 $O/bench_console.txt
pack
