#!/usr/bin/env bash
# Session 12, call 5: kda prep A/B with the fast 16-bit gate math: linrec = octet references (9d183e5 +
# LINREC_FAST_EXPR), linrec_stripe = stripe references (fd85354's wy.cuh + LINREC_FAST_EXPR). Then the e2e
# GPU tests of every family (the gate math changed for all 16-bit kernels).
set -u
O=$OUT/s12c5; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s12c5.tgz .); }
for v in linrec linrec_stripe; do
  rm -f $O/one_$v.db*
  timeout 90 .devbin/$v tune variants/kda.toml --shapes 32,1024,16,128,128 --strategies state_passing --budget-s 30 \
    --chunks 16,32 --block-vs 64 --warps 4 --stages 2 --db $O/one_$v.db > $O/one_$v.txt 2>&1
  grep -E "^ +[0-9]+ +C=" $O/one_$v.txt | sed "s/^/$v /"
  timeout 30 ncu --clock-control none --launch-skip 3 --launch-count 3 --section SpeedOfLight --section InstructionStats --section Occupancy \
    .devbin/$v bench --db $O/one_$v.db --shapes 32,1024,16,128,128 --min-reps 2 --max-reps 2 --warmup 0 variants/kda.toml > $O/ncu_$v.txt 2>&1
  grep -E "^  linrec_|Duration|Executed Instructions  |Registers Per|Theoretical Occ" $O/ncu_$v.txt | sed 's/(.*//' | tr -s ' ' | paste - - - - - | sed "s/^/$v /"
done
pack
timeout 240 .devbin/e2e_gpu_test --gtest_color=no > $O/e2e_gpu_test.log 2>&1; echo "e2e rc=$?"
grep -E "PASSED|FAILED|tests ran" $O/e2e_gpu_test.log | head
pack
