#!/usr/bin/env bash
# Session 13, call 7 (and 9): delta_rule, gated_delta_rule, kda side by side with fla (fla first), linrec from the
# tuned DB of calls 5-6.
set -u
O=$OUT/${TAG:-s13c7}; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/${TAG:-s13c7}.tgz .); }
cp .devbin/kernels.db $O/kernels.db
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla NO_DECODE=1 FLA_TIMEOUT_S=300 LINREC_TIMEOUT_S=150 \
 BENCH_ARGS="--db $O/kernels.db --tune-budget-s 8 variants/delta_rule.toml variants/gated_delta_rule.toml variants/kda.toml" \
 timeout 540 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -16 $O/bench_console.txt
pack
