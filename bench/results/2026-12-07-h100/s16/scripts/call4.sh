#!/usr/bin/env bash
# Session 16, call 4 (H100): kda beside fla (the H100 table lacked it: fla's kda autotuning outran call 3), and
# the two rows below 1.0 in calls 2-3 (gated_delta_rule and gla at B = 2, T = 16k) re-tuned with a 30 s budget
# (the 7-8 s runs timed 2 of 144 configs), fla's gated_delta_rule at 16k beside them.
set -u
O=$OUT/s16c4; mkdir -p $O/fla1 $O/fla2
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s16c4.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
ALL=linear_attn,retention,simple_gla,gla,delta_rule,gated_delta_rule,kda
S16='2,16384,16,128,128'
OUT=$O/fla1 SKIP_OPS=${ALL%,kda} NO_BWD=1 NO_DECODE=1 PYTHONPATH=.peer timeout 200 python3 .peer/fla_bench.py > $O/fla1.txt 2>&1
echo "fla kda rc=$?"; grep -c '"op": "kda"' $O/fla1.txt
OUT=$O/fla2 SHAPES=$S16 SKIP_OPS=linear_attn,retention,simple_gla,gla,delta_rule,kda NO_BWD=1 NO_DECODE=1 PYTHONPATH=.peer \
  timeout 60 python3 .peer/fla_bench.py > $O/fla2.txt 2>&1
echo "fla gdr rc=$?"
pack
timeout 90 .devbin/linrec bench --db $O/kernels.db --tune-budget-s 8 --json-out $O/lin_kda.json variants/kda.toml > $O/lin_kda.txt 2>&1
echo "kda rc=$?"
pack
timeout 110 .devbin/linrec bench --db $O/kernels.db --tune-budget-s 30 --shapes $S16 --json-out $O/lin_16k.json \
  variants/gated_delta_rule.toml variants/gla.toml > $O/lin_16k.txt 2>&1
echo "16k rc=$?"
grep -hE "tuned|db " $O/lin_kda.txt $O/lin_16k.txt | grep -v "^\[" | cut -c1-200
grep -h '"op"' $O/fla1.txt $O/fla2.txt | cut -c1-140
pack
