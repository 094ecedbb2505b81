#!/usr/bin/env bash
# Session 14, call 5 (3ad508f; kernels as f3082f3: for_rows_l2 shared by the l2norm helpers): GPU tests of the
# l2norm families (delta_rule, gated_delta_rule, kda) and delta_retention; e2e for gated_delta_rule.
set -u
O=$OUT/s14c5; mkdir -p $O
F='*/kda_*:*/delta_rule_*:*/gated_delta_rule_*:*/delta_retention_*'
timeout 115 .devbin/linrec_kernel_gpu_test --gtest_filter="$F" > $O/kernel_gpu.txt 2>&1; echo "kernel_gpu rc=$?"
tail -1 $O/kernel_gpu.txt; grep -E "FAILED|Failure" $O/kernel_gpu.txt | head -5
(cd $O && tar czf $OUT/s14c5.tgz .)
timeout 40 .devbin/e2e_gpu_test --gtest_filter='*gated_delta*' > $O/e2e_gpu.txt 2>&1; echo "e2e rc=$?"
tail -1 $O/e2e_gpu.txt
(cd $O && tar czf $OUT/s14c5.tgz .)
