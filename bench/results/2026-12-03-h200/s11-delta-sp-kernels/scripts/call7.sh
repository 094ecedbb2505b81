#!/usr/bin/env bash
# Session 11, call 2: per-kernel times (ncu) of the state-passing delta path at C = 64 (forced by one-config
# tunes into fresh DBs), and fla's own per-kernel times (torch.profiler) at the same shape.
set -u
O=$OUT/s11c2; mkdir -p $O
export LINREC_COMMIT=$(cat .devbin/commit)
pack() { (cd $O && tar czf $OUT/s11c2.tgz .); }
sh=2,16384,16,128,128
for cfg in "64 32 4" "64 16 8" "64 64 4"; do
  set -- $cfg
  db=$O/k_c$1_bv$2_w$3.db
  timeout 40 .devbin/linrec tune variants/gated_delta_rule.toml --shapes $sh --strategies state_passing --budget-s 2 \
    --chunks $1 --block-vs $2 --warps $3 --stages 2 --db $db > $O/tune_c$1_bv$2_w$3.txt 2>&1
  timeout 35 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section LaunchStats --section Occupancy \
    .devbin/linrec bench --db $db --shapes $sh --min-reps 2 --max-reps 2 --warmup 0 variants/gated_delta_rule.toml > $O/ncu_c$1_bv$2_w$3.txt 2>&1
  echo "== C=$1 BV=$2 W=$3"; grep -E "^  linrec_|Duration|Registers Per|Achieved Occupancy|DRAM Through" $O/ncu_c$1_bv$2_w$3.txt | sed 's/(.*//' | tr -s ' '
  rm -f $db*
done
pack
OPS=gated_delta_rule,delta_rule,kda PYTHONPATH=.peer timeout 200 python3 scripts/fla-profile.py > $O/fla_prof.txt 2>&1
grep -E "^==|chunk|Self CUDA time total|recompute|solve|kkt|fwd_h|fwd_o|cumsum|prepare|kernel" $O/fla_prof.txt | cut -c1-150 | head -70
pack
