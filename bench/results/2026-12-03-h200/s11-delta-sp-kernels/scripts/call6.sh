#!/usr/bin/env bash
# Session 11, call 1: GPU tests of the delta families with the WY prep and the register output kernel,
# tunes (long: state passing; short: both strategies), ncu per-kernel times, side-by-side bench vs fla.
set -u
O=$OUT/s11c1; mkdir -p $O
export LINREC_COMMIT=$(cat .devbin/commit)
pack() { (cd $O && tar czf $OUT/s11c1.tgz .); }
timeout 90 .devbin/linrec_kernel_gpu_test --gtest_color=no '--gtest_filter=*/delta_rule_*:*/gated_delta_rule_*' > $O/kernel_gpu_test.log 2>&1; echo "kernel_gpu_test rc=$?"
timeout 40 .devbin/e2e_gpu_test --gtest_color=no '--gtest_filter=*/delta_rule:*/gated_delta_rule' > $O/e2e_gpu_test.log 2>&1; echo "e2e rc=$?"
grep -E "PASSED|FAILED" $O/*.log | head
pack
cp .devbin/kernels-s10c2.db $O/kernels.db
timeout 70 .devbin/linrec tune variants/delta_rule.toml variants/gated_delta_rule.toml \
  --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 --strategies state_passing \
  --budget-s 10 --chunks 32,64,128 --block-vs 16,32,64 --warps 4,8 --stages 2 --db $O/kernels.db > $O/tune_long.txt 2>&1; echo "tune long rc=$?"
timeout 70 .devbin/linrec tune variants/delta_rule.toml variants/gated_delta_rule.toml \
  --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --strategies fused,state_passing \
  --budget-s 10 --chunks 32,64 --block-vs 32,64 --warps 4,8 --stages 2 --db $O/kernels.db > $O/tune_short.txt 2>&1; echo "tune short rc=$?"
grep -E "<- winner" $O/tune_long.txt $O/tune_short.txt
pack
for sh in 2,16384,16,128,128 32,1024,16,128,128; do
  timeout 35 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section LaunchStats --section Occupancy \
    .devbin/linrec bench --db $O/kernels.db --shapes $sh --min-reps 2 --max-reps 2 --warmup 0 variants/gated_delta_rule.toml > $O/ncu_gdr_${sh%%,*}.txt 2>&1
  echo "== $sh"; grep -E "^  linrec_|Duration|Registers Per|Achieved Occupancy|DRAM Through" $O/ncu_gdr_${sh%%,*}.txt | sed 's/(.*//' | tr -s ' '
done
pack
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,kda NO_DECODE=1 FLA_TIMEOUT_S=150 LINREC_TIMEOUT_S=60 \
 BENCH_ARGS="--db $O/kernels.db variants/delta_rule.toml variants/gated_delta_rule.toml" \
 timeout 220 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -14 $O/bench_console.txt
pack
