#!/usr/bin/env bash
# Session 16, call 2 (H100): the families whose register kernel changed (delta_rule, gated_delta_rule,
# linear_attn, retention, simple_gla) beside fla, tuned in-run; then db59a34's linrec (.devbin/base/linrec) on
# a copy of that DB, so both binaries run the same configs at T = 1k and 4k (A/B of one W buffer +
# __launch_bounds__(128, 3)).
set -u
O=$OUT/s16c2; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s16c2.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
V="variants/delta_rule.toml variants/gated_delta_rule.toml variants/linear_attn.toml variants/retention.toml variants/simple_gla.toml"
FLA_FIRST=1 FLA_SKIP_OPS=gla,kda NO_DECODE=1 FLA_TIMEOUT_S=230 LINREC_TIMEOUT_S=250 \
 BENCH_ARGS="--db $O/kernels.db --tune-budget-s 7 $V" \
 timeout 500 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
pack
cp $O/kernels.db $O/kernels_base.db
timeout 80 .devbin/base/linrec bench --db $O/kernels_base.db --shapes 32,1024,16,128,128 8,4096,16,128,128 \
  --json-out $O/base_bench.json $V > $O/base_bench.txt 2>&1; echo "base rc=$?"
grep -E "^(delta|gated|linear|retention|simple)" $O/base_bench.txt
tail -24 $O/bench_console.txt | grep -E "^\||Geomean"
pack
