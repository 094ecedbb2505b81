#!/usr/bin/env bash
# Session 16, call 1: the register kernel with one W buffer and __launch_bounds__(128, 3) at C = 32 (delta and
# additive rules without a per-key decay). GPU tests of the affected families, then delta_rule and
# gated_delta_rule beside fla (tuned in-run).
set -u
O=$OUT/s16c1; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s16c1.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
F='*/delta_rule_*:*/gated_delta_rule_*:*/linear_attn_*:*/retention_*:*/simple_gla_*'
timeout 150 .devbin/linrec_kernel_gpu_test --gtest_filter="$F" > $O/kernel_gpu.txt 2>&1; echo "kernel_gpu rc=$?"
tail -1 $O/kernel_gpu.txt; grep -E "FAILED|Failure" $O/kernel_gpu.txt | head -5
pack
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,kda NO_DECODE=1 FLA_TIMEOUT_S=120 LINREC_TIMEOUT_S=200 \
 BENCH_ARGS="--db $O/kernels.db --tune-budget-s 8 variants/delta_rule.toml variants/gated_delta_rule.toml" \
 timeout 340 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -14 $O/bench_console.txt
pack
