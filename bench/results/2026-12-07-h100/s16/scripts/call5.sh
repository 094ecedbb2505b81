#!/usr/bin/env bash
# Session 16, call 5 (H100, the session's last ~4 device minutes): how much the 7-8 s in-run tuning budget
# costs. gla at 1k and 4k re-tuned with 30 s (calls 3/4: C=64 BV=64 W=4 at 8 s; 16k found C=64 BV=128 W=8 at
# 30 s, 1.344 against 1.809 ms), and delta_rule / gated_delta_rule at B = 1, T = 64k with 25 s.
set -u
O=$OUT/s16c5; mkdir -p $O
pack() { (cd $O && tar czf $OUT/s16c5.tgz .); }
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 75 .devbin/linrec bench --db $O/kernels.db --tune-budget-s 30 --shapes 32,1024,16,128,128 8,4096,16,128,128 \
  --json-out $O/lin_gla.json variants/gla.toml > $O/lin_gla.txt 2>&1; echo "gla rc=$?"
pack
timeout 70 .devbin/linrec bench --db $O/kernels.db --tune-budget-s 25 --shapes 1,65536,16,128,128 \
  --json-out $O/lin_64k.json variants/delta_rule.toml variants/gated_delta_rule.toml > $O/lin_64k.txt 2>&1; echo "64k rc=$?"
grep -hE "tuned" $O/lin_gla.txt $O/lin_64k.txt | grep -v "^\[" | cut -c1-190
pack
