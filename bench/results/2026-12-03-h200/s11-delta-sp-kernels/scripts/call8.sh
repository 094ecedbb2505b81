#!/usr/bin/env bash
# Session 11, call 3: full ncu sections (stall reasons, instruction counts, memory) of the three
# state-passing delta kernels, gated_delta_rule B=2 T=16k, C=64 BV=32 W=4 and C=32 BV=32 W=4.
set -u
O=$OUT/s11c3; mkdir -p $O
export LINREC_COMMIT=$(cat .devbin/commit)
pack() { (cd $O && tar czf $OUT/s11c3.tgz .); }
sh=2,16384,16,128,128
for cfg in "64 32 4" "32 32 4"; do
  set -- $cfg
  db=$O/k_c$1.db
  timeout 40 .devbin/linrec tune variants/gated_delta_rule.toml --shapes $sh --strategies state_passing --budget-s 2 \
    --chunks $1 --block-vs $2 --warps $3 --stages 2 --db $db > $O/tune_c$1.txt 2>&1
  timeout 150 ncu --set full --import-source no --clock-control none --launch-skip 3 --launch-count 3 \
    .devbin/linrec bench --db $db --shapes $sh --min-reps 2 --max-reps 2 --warmup 0 variants/gated_delta_rule.toml > $O/ncu_full_c$1.txt 2>&1
  echo "== C=$1 rc=$?"; grep -E "^  linrec_|Duration  |Executed Ipc A|Issue Slots Busy|Warp Cycles Per Issued|Executed Instructions  |Achieved Occupancy" $O/ncu_full_c$1.txt | sed 's/(.*//' | tr -s ' '
  rm -f $db*
  pack
done
