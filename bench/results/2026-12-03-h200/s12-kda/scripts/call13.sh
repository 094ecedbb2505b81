#!/usr/bin/env bash
# Session 12, call 3: where the kda prep's time goes. v0 = 9d183e5; v1 = the per-key decay expression replaced
# by a cheap one (b-pass cost); v2 = exact diagonal path never taken (kSpan huge: numbers wrong, timing only).
# Then C = 16 for kda (tune, all four shapes) and the per-kernel times of its winners.
set -u
O=$OUT/s12c3; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s12c3.tgz .); }
for v in linrec linrec_v1 linrec_v2; do
  rm -f $O/one_$v.db*
  timeout 60 .devbin/$v tune variants/kda.toml --shapes 32,1024,16,128,128 --strategies state_passing --budget-s 2 \
    --chunks 32 --block-vs 64 --warps 4 --stages 2 --db $O/one_$v.db > $O/one_$v.txt 2>&1
  grep -E "<- winner" $O/one_$v.txt | sed "s/^/$v /"
  timeout 30 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section WarpStateStats --section InstructionStats \
    .devbin/$v bench --db $O/one_$v.db --shapes 32,1024,16,128,128 --min-reps 2 --max-reps 2 --warmup 0 variants/kda.toml > $O/ncu_$v.txt 2>&1
  grep -E "^  linrec_|Duration" $O/ncu_$v.txt | sed 's/(.*//' | tr -s ' ' | paste - - | sed "s/^/$v /"
done
pack
cp .devbin/kernels-s11c5.db $O/kernels.db
timeout 150 .devbin/linrec tune variants/kda.toml \
  --shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128 \
  --strategies state_passing --budget-s 8 --chunks 16,32 --block-vs 16,32,64,128 --warps 4 --stages 2 \
  --db $O/kernels.db > $O/tune_kda.txt 2>&1; echo "tune rc=$?"
grep -E "<- winner" $O/tune_kda.txt
grep -E " C=16 " $O/tune_kda.txt | head -12
pack
