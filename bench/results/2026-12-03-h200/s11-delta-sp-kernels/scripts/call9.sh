#!/usr/bin/env bash
# Session 11, call 4 (eacee63): GPU tests of the delta families; per-kernel times (ncu) at C=64 and C=32 with
# the staged stores, and the output kernel with a 64-wide value tile (an experimental build, linrec_bvo64);
# tunes; side-by-side bench vs fla.
set -u
O=$OUT/s11c4; mkdir -p $O
export LINREC_COMMIT=$(cat .devbin/commit)
pack() { (cd $O && tar czf $OUT/s11c4.tgz .); }
timeout 90 .devbin/linrec_kernel_gpu_test --gtest_color=no '--gtest_filter=*/delta_rule_*:*/gated_delta_rule_*:*/kda_*' > $O/kernel_gpu_test.log 2>&1; echo "kernel_gpu_test rc=$?"
timeout 40 .devbin/e2e_gpu_test --gtest_color=no '--gtest_filter=*/delta_rule:*/gated_delta_rule' > $O/e2e_gpu_test.log 2>&1; echo "e2e rc=$?"
grep -E "PASSED|FAILED" $O/*.log | head
pack
sh=2,16384,16,128,128
for bin in linrec linrec_bvo64; do for c in 64 32; do
  db=$O/k.db
  timeout 30 .devbin/$bin tune variants/gated_delta_rule.toml --shapes $sh --strategies state_passing --budget-s 2 \
    --chunks $c --block-vs 32 --warps 4 --stages 2 --db $db > /dev/null 2>&1
  timeout 30 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section LaunchStats --section Occupancy \
    .devbin/$bin bench --db $db --shapes $sh --min-reps 2 --max-reps 2 --warmup 0 variants/gated_delta_rule.toml > $O/ncu_${bin}_c$c.txt 2>&1
  echo "== $bin C=$c"; grep -E "^  linrec_|Duration" $O/ncu_${bin}_c$c.txt | sed 's/(.*//' | tr -s ' ' | paste - - 
  rm -f $db*
done; done
pack
cp .devbin/kernels-s10c2.db $O/kernels.db
timeout 70 .devbin/linrec tune variants/delta_rule.toml variants/gated_delta_rule.toml \
  --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 --strategies state_passing \
  --budget-s 10 --chunks 32,64 --block-vs 16,32,64 --warps 4,8 --stages 2 --db $O/kernels.db > $O/tune_long.txt 2>&1; echo "tune long rc=$?"
timeout 60 .devbin/linrec tune variants/delta_rule.toml variants/gated_delta_rule.toml \
  --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --strategies fused,state_passing \
  --budget-s 8 --chunks 32,64 --block-vs 32,64 --warps 4,8 --stages 2 --db $O/kernels.db > $O/tune_short.txt 2>&1; echo "tune short rc=$?"
grep -E "<- winner" $O/tune_long.txt $O/tune_short.txt
pack
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,kda NO_DECODE=1 FLA_TIMEOUT_S=150 LINREC_TIMEOUT_S=60 \
 BENCH_ARGS="--db $O/kernels.db variants/delta_rule.toml variants/gated_delta_rule.toml" \
 timeout 220 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -14 $O/bench_console.txt
pack
