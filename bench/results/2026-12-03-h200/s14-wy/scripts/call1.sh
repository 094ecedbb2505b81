#!/usr/bin/env bash
# Session 14, call 1 (b510ff6): GPU tests of the delta families at head; ncu of the WY kernel (T=1k, fused path)
# and of the state-passing kernels (T=16k); fla's per-kernel times at T=1k.
set -u
O=$OUT/s14c1; mkdir -p $O
pack() { (cd $O && tar czf $OUT/s14c1.tgz .); }
F='*/kda_*:*/delta_rule_*:*/gated_delta_rule_*:*/delta_retention_*'
timeout 150 .devbin/linrec_kernel_gpu_test --gtest_filter="$F" > $O/kernel_gpu.txt 2>&1; echo "kernel_gpu rc=$?"
tail -3 $O/kernel_gpu.txt
timeout 150 .devbin/e2e_gpu_test --gtest_filter='*delta*:*kda*' > $O/e2e_gpu.txt 2>&1; echo "e2e rc=$?"
tail -3 $O/e2e_gpu.txt
pack
NCU="ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis_Tables --section WarpStateStats --section InstructionStats --section Occupancy --section LaunchStats --section SchedulerStats"
timeout 120 $NCU --kernel-name regex:linrec_wy --launch-skip 2 --launch-count 1 .devbin/linrec bench --db .devbin/kernels.db --shapes 32,1024,16,128,128 --min-reps 3 --max-reps 3 --warmup 1 variants/gated_delta_rule.toml > $O/ncu_wy_1k.txt 2>&1; echo "ncu wy rc=$?"
timeout 150 $NCU --launch-skip 6 --launch-count 3 .devbin/linrec bench --db .devbin/kernels.db --shapes 2,16384,16,128,128 --min-reps 3 --max-reps 3 --warmup 1 variants/gated_delta_rule.toml > $O/ncu_sp_16k.txt 2>&1; echo "ncu sp rc=$?"
pack
SHAPE=32,1024,16,128,128 OPS=gated_delta_rule,delta_rule PYTHONPATH=.peer timeout 120 python3 scripts/fla-profile.py > $O/fla_prof_1k.txt 2>&1; echo "fla prof rc=$?"
pack
grep -E "Duration|Registers Per|Achieved Occ|L1/TEX Cache Thr|DRAM Thr|Shared.*Bank|linrec_" $O/ncu_*.txt | cut -c1-160 | head -40
tail -25 $O/fla_prof_1k.txt
