#!/usr/bin/env bash
# Session 16, call 3 (H100): gla and kda beside fla (their kernels did not change; the H100 rows the table
# lacks), then the e2e GPU tests.
set -u
O=$OUT/s16c3; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s16c3.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,delta_rule,gated_delta_rule NO_DECODE=1 FLA_TIMEOUT_S=170 \
 LINREC_TIMEOUT_S=150 BENCH_ARGS="--db $O/kernels.db --tune-budget-s 8 variants/gla.toml variants/kda.toml" \
 timeout 340 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
grep -E "=== .*exit" $O/bench_console.txt
tail -14 $O/bench_console.txt | grep -E "^\|"
pack
timeout 150 .devbin/e2e_gpu_test > $O/e2e_gpu.txt 2>&1; echo "e2e rc=$?"
tail -1 $O/e2e_gpu.txt; grep -E "FAILED|Failure" $O/e2e_gpu.txt | head -5
pack
