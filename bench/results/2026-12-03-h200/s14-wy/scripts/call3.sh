#!/usr/bin/env bash
# Session 14, call 3 (e20b675: WY kernel back to 78 registers): GPU tests of the delta families, ncu of the
# WY kernel (1k) and the sp prep (16k), then delta_rule and gated_delta_rule beside fla.
set -u
O=$OUT/s14c3; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s14c3.tgz .); }
F='*/kda_*:*/delta_rule_*:*/gated_delta_rule_*:*/delta_retention_*'
timeout 150 .devbin/linrec_kernel_gpu_test --gtest_filter="$F" > $O/kernel_gpu.txt 2>&1; echo "kernel_gpu rc=$?"
tail -1 $O/kernel_gpu.txt; grep -E "FAILED|Failure" $O/kernel_gpu.txt | head -5
timeout 120 .devbin/e2e_gpu_test --gtest_filter='*delta*:*kda*' > $O/e2e_gpu.txt 2>&1; echo "e2e rc=$?"
tail -1 $O/e2e_gpu.txt
pack
NCU="ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis_Tables --section WarpStateStats --section InstructionStats --section Occupancy --section LaunchStats --section SchedulerStats"
timeout 60 $NCU --kernel-name regex:linrec_wy --launch-skip 2 --launch-count 1 .devbin/linrec bench --db .devbin/kernels.db --shapes 32,1024,16,128,128 --min-reps 3 --max-reps 3 --warmup 1 variants/gated_delta_rule.toml > $O/ncu_wy_1k.txt 2>&1; echo "ncu wy rc=$?"
timeout 60 $NCU --kernel-name regex:linrec_fwdprep --launch-skip 2 --launch-count 1 .devbin/linrec bench --db .devbin/kernels.db --shapes 2,16384,16,128,128 --min-reps 3 --max-reps 3 --warmup 1 variants/gated_delta_rule.toml > $O/ncu_prep_16k.txt 2>&1; echo "ncu prep rc=$?"
pack
grep -E "Duration|Registers Per|L1/TEX Cache Thr|DRAM Thr|  linrec_|Executed Instructions  |Achieved Occ" $O/ncu_*.txt | cut -c1-150 | head -30
cp .devbin/kernels.db $O/kernels.db
FLA_FIRST=1 FLA_SKIP_OPS=linear_attn,retention,simple_gla,gla,kda NO_DECODE=1 FLA_TIMEOUT_S=90 LINREC_TIMEOUT_S=120 \
 BENCH_ARGS="--db $O/kernels.db --tune-budget-s 8 variants/delta_rule.toml variants/gated_delta_rule.toml" \
 timeout 220 bash scripts/device-bench.sh $O/bench > $O/bench_console.txt 2>&1
tail -16 $O/bench_console.txt
(cd $O/bench && tar czf $OUT/s14c3-bench.tgz .)
pack
