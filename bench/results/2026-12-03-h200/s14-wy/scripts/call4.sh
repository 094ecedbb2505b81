#!/usr/bin/env bash
# Session 14, call 4 (e20b675, GPU tests passed in call 3): gated_delta_rule at T = 1k / 4k retuned with the
# faster WY kernel, then gated_delta_rule and kda beside fla (fla first).
set -u
O=$OUT/s14c4; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s14c4.tgz .); }
cp .devbin/kernels.db $O/kernels.db
timeout 70 .devbin/linrec tune variants/gated_delta_rule.toml --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 \
    --budget-s 30 --chunks 32 --block-vs 32,64,128 --warps 4,8 --stages 2,3 \
    --db $O/kernels.db > $O/tune_gdr_short.txt 2>&1; echo "tune rc=$?"
grep -E "<- winner" $O/tune_gdr_short.txt | head -4
pack
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,delta_rule NO_DECODE=1 FLA_TIMEOUT_S=150 LINREC_TIMEOUT_S=100 \
 BENCH_ARGS="--db $O/kernels.db variants/gated_delta_rule.toml variants/kda.toml" \
 timeout 280 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -16 $O/bench_console.txt
(cd $O/bench && tar czf $OUT/s14c4-bench.tgz .)
pack
