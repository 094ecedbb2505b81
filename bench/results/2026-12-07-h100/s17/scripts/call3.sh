#!/usr/bin/env bash
# Session 17, call 3: linear_attn, retention and simple_gla tuned with 7 s per shape, then fla beside linrec's
# bench of those configs.
set -u
O=$OUT/s17c3; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s17c3.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
T0=$SECONDS
SH="--shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128"
timeout 160 .devbin/linrec tune variants/linear_attn.toml variants/retention.toml variants/simple_gla.toml $SH \
  --budget-s 7 --db $O/kernels.db --json-out $O/tune_add.json > $O/tune_add.txt 2>&1; echo "tune rc=$? $((SECONDS-T0)) s"
pack
FLA_FIRST=1 FLA_SKIP_OPS=gla,delta_rule,gated_delta_rule,kda NO_DECODE=1 FLA_TIMEOUT_S=180 LINREC_TIMEOUT_S=100 \
 BENCH_ARGS="--db $O/kernels.db variants/linear_attn.toml variants/retention.toml variants/simple_gla.toml" \
 timeout 300 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
echo "bench rc=$? $((SECONDS-T0)) s"
grep -E "=== .*exit" $O/bench_console.txt
tail -18 $O/bench_console.txt | grep -E "^\||Geomean|below"
pack
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
SEC="--section SpeedOfLight --section Occupancy --section LaunchStats"
left=$((400 - (SECONDS - T0)))
if [ $left -gt 40 ]; then
  timeout $left $ncu -k regex:linrec_ --launch-count 3 $SEC .devbin/linrec check variants/kda.toml --B 32 --T 1024 --H 16 \
    --chunk 32 --block-v 32 --warps 4 --strategy state_passing --decode-steps 0 > $O/ncu_kda1k.txt 2>&1
  echo "ncu kda rc=$?"
  grep -hE "^  linrec_|Duration|Registers Per|Achieved Occupancy" $O/ncu_kda1k.txt | head -16
fi
pack
