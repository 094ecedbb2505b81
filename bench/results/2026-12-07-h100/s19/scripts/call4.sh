#!/usr/bin/env bash
# Session 19, call 4: the new default (LINREC_PDL unset = Auto, flag batches of 512 tokens). (1) retune
# delta_rule and gated_delta_rule at B=2 T=16k under Auto between the two scan tiles session 17 found tied in
# sequence (C=32 W=4 S=3, BV 32 or 64), into a copy of session 17's DB; (2) linrec bench of the three delta
# families at 16k and 64k beside fla's ops (fla_bench.py) in this call; (3) EndToEndOverlap with what time is left.
set -u
O=$OUT/s19c4; mkdir -p $O
export LINREC_COMMIT=$(head -c 7 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s19c4.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
cp .devbin/kernels.db $O/kernels.db
T0=$SECONDS
timeout 80 .devbin/linrec tune variants/delta_rule.toml variants/gated_delta_rule.toml --shapes 2,16384,16,128,128 \
  --budget-s 15 --chunks 32 --block-vs 32,64 --warps 4 --stages 3 --all --db $O/kernels.db > $O/tune.txt 2>&1
echo "tune rc=$? $((SECONDS-T0)) s"; grep -E "time [0-9]+/" $O/tune.txt | sed 's/  best.*//' | head -8
pack
S2='2,16384,16,128,128;1,65536,16,128,128'
NO_FLA_LAYERS=1 NO_DECODE=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla LINREC_TIMEOUT_S=60 FLA_TIMEOUT_S=200 \
  BENCH_SHAPES="$S2" BENCH_ARGS="--db $O/kernels.db --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 variants/delta_rule.toml variants/gated_delta_rule.toml variants/kda.toml" \
  timeout 280 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
echo "bench rc=$? $((SECONDS-T0)) s"
grep -E "=== .*exit" $O/bench_console.txt
tail -30 $O/bench_console.txt | grep -E "^\|"
pack
left=$((300 - SECONDS + T0)); [ $left -gt 20 ] || left=20
timeout $left .devbin/e2e_gpu_test --gtest_filter='EndToEndOverlap.*' --gtest_color=no > $O/overlap_test.txt 2>&1
echo "overlap test rc=$? (limit $left s) $((SECONDS-T0)) s"; grep -cE " ok$" $O/overlap_test.txt; grep -E "^\[overlap\]|FAIL" $O/overlap_test.txt | tail -5
pack
