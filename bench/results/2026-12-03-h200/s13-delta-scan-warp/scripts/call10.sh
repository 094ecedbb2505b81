#!/usr/bin/env bash
# Session 13, call 10 (dc85f02 kernels): gated_delta_rule at T = 1k / 4k, state passing with a 3-deep ring
# against the fused register kernel, then gated_delta_rule beside fla (16k / 64k from call 8's DB).
set -u
O=$OUT/s13c10; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s13c10.tgz .); }
cp .devbin/kernels.db $O/kernels.db
timeout 45 .devbin/linrec tune variants/gated_delta_rule.toml --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 \
    --budget-s 18 --chunks 32 --block-vs 32,64 --warps 4 --stages 3 \
    --db $O/kernels.db > $O/tune_gdr_short.txt 2>&1; echo "tune rc=$?"
grep -E "time [0-9]+/|<- winner" $O/tune_gdr_short.txt | sed 's/.*time/time/' | head -12
pack
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,delta_rule,kda NO_DECODE=1 FLA_TIMEOUT_S=80 LINREC_TIMEOUT_S=60 \
 BENCH_ARGS="--db $O/kernels.db variants/gated_delta_rule.toml" \
 timeout 150 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -8 $O/bench_console.txt
pack
