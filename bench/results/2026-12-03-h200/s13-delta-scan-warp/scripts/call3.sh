#!/usr/bin/env bash
# Session 13, call 3: chunk_delta_scan_warp with deeper cp.async rings (stages 2-4), gated_delta_rule 16k/64k.
set -u
O=$OUT/s13c3; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s13c3.tgz .); }
timeout 200 .devbin/linrec tune variants/gated_delta_rule.toml --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
    --strategies state_passing --budget-s 45 --chunks 32,64 --block-vs 32,64 --warps 4 --stages 2,3,4 \
    --db $O/kernels.db > $O/tune_gdr.txt 2>&1; echo "tune rc=$?"
grep -E "time [0-9]+/|<- winner" $O/tune_gdr.txt | sed 's/.*time/time/' | head -30
pack
timeout 40 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section Occupancy --section WarpStateStats \
  .devbin/linrec bench --db $O/kernels.db --shapes 2,16384,16,128,128 --min-reps 2 --max-reps 2 --warmup 0 variants/gated_delta_rule.toml > $O/ncu_gdr_16k.txt 2>&1
grep -E "^  linrec_|Duration|Stall|Warp Cycles Per Issued" $O/ncu_gdr_16k.txt | sed 's/(.*//' | tr -s ' ' | head -30
pack
