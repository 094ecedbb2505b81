#!/usr/bin/env bash
# Session 17, call 1 (tuning only; the timings that count come in call 2, beside fla): the runtime's gpu
# tests (the disk cache of cubins), then linrec tune of gla, kda, delta_rule and gated_delta_rule at the four
# bench shapes with 16 s per shape, in one process (each family's compiles carry over its shapes).
set -u
O=$OUT/s17c1; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s17c1.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader; nproc
T0=$SECONDS
timeout 60 .devbin/linrec_runtime_gpu_tests --gtest_color=no > $O/runtime_gpu.txt 2>&1; echo "runtime gpu rc=$?"
tail -3 $O/runtime_gpu.txt
SH="--shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128"
timeout 400 .devbin/linrec tune variants/gla.toml variants/kda.toml variants/delta_rule.toml variants/gated_delta_rule.toml \
  $SH --budget-s 16 --db $O/kernels.db --json-out $O/tune_heavy.json > $O/tune_heavy.txt 2>&1
echo "tune heavy rc=$? $((SECONDS-T0)) s"
grep -hE "^(gla|kda|delta|gated)" $O/tune_heavy.txt | cut -c1-160 | head -40
pack
