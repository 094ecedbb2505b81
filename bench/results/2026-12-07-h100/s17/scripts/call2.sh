#!/usr/bin/env bash
# Session 17, call 2: fla, then linrec bench with call 1's tuned configs (--db, carried in .devbin), side by
# side in this one call: gla, kda, delta_rule, gated_delta_rule at the four shapes.
set -u
O=$OUT/s17c2; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s17c2.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
T0=$SECONDS
cp .devbin/kernels.db $O/kernels.db
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla NO_DECODE=1 FLA_TIMEOUT_S=330 LINREC_TIMEOUT_S=200 \
 BENCH_ARGS="--db $O/kernels.db variants/gla.toml variants/kda.toml variants/delta_rule.toml variants/gated_delta_rule.toml" \
 timeout 570 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
echo "bench rc=$? $((SECONDS-T0)) s"
grep -E "=== .*exit" $O/bench_console.txt
tail -24 $O/bench_console.txt | grep -E "^\||Geomean|below"
pack
