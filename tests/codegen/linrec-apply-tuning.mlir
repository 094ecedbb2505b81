// linrec-apply-tuning: kernels get #linrec.problem and #linrec.tuning, checked against the hand-written
// kernels' constraints and their exact shared-memory layouts.
// RUN: split-file %s %t
// RUN: linrec-opt %t/kernels.mlir --linrec-apply-tuning="head-k=64 head-v=128 dtype=fp16 chunk=32 block-k=64 block-v=32 warps=8 stages=3" \
// RUN:   | FileCheck %s
// RUN: linrec-opt %t/kernels.mlir --linrec-apply-tuning | FileCheck %s --check-prefix=DEFAULT
// RUN: linrec-opt %t/delta.mlir --linrec-apply-tuning="strategy=state_passing" | FileCheck %s --check-prefix=DELTA
// RUN: linrec-opt %t/smem.mlir --linrec-apply-tuning="chunk=128 block-v=128 dtype=fp32" -verify-diagnostics
// RUN: not linrec-opt %t/kernels.mlir --linrec-apply-tuning="chunk=48" 2>&1 | FileCheck %s --check-prefix=CHUNK
// RUN: not linrec-opt %t/kernels.mlir --linrec-apply-tuning="dtype=fp8" 2>&1 | FileCheck %s --check-prefix=DTYPE
// RUN: not linrec-opt %t/kernels.mlir --linrec-apply-tuning="head-k=512" 2>&1 | FileCheck %s --check-prefix=HEADK

// CHECK-LABEL: linrec.chunkwise @r_prefill of @r
// CHECK-SAME:    problem = #linrec.problem<head_k = 64, head_v = 128, dtype = fp16>
// CHECK-SAME:    tuning = #linrec.tuning<chunk = 32, block_k = 64, block_v = 32, warps = 8, stages = 3, strategy = fused>
// CHECK-LABEL: linrec.step @r_decode of @r
// CHECK-SAME:    problem = #linrec.problem<head_k = 64, head_v = 128, dtype = fp16>
// DEFAULT:     problem = #linrec.problem<head_k = 128, head_v = 128, dtype = bf16>
// DEFAULT-SAME: tuning = #linrec.tuning<chunk = 64, block_k = 128, block_v = 64, warps = 4, stages = 2, strategy = fused>
// CHUNK: error: linrec-apply-tuning: chunk must be 16, 32, 64 or 128
// DTYPE: error: linrec-apply-tuning: unknown dtype 'fp8' (expected bf16, fp16 or fp32)
// HEADK: error: linrec-apply-tuning: head_k must be in [1, 256]

//--- kernels.mlir
linrec.recurrence @r attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}
linrec.chunkwise @r_prefill of @r attributes {decay_kind = #linrec.decay<none>, rule = #linrec.rule<additive>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  %q = linrec.chunk.features q : !linrec.tile<C, K, f32>
  %k = linrec.chunk.features k : !linrec.tile<C, K, f32>
  %v = linrec.chunk.values : !linrec.tile<C, V, f32>
  %a = linrec.chunk.intra_scores %q, %k mask inclusive : (!linrec.tile<C, K, f32>, !linrec.tile<C, K, f32>) -> !linrec.tile<C, C, f32>
  %o = linrec.chunk.output %q, %S, %a, %v : (!linrec.tile<C, K, f32>, !linrec.tile<K, V, f32>, !linrec.tile<C, C, f32>, !linrec.tile<C, V, f32>) -> !linrec.tile<C, V, f32>
  %s = linrec.chunk.state_update %S, %k, %v : (!linrec.tile<K, V, f32>, !linrec.tile<C, K, f32>, !linrec.tile<C, V, f32>) -> !linrec.tile<K, V, f32>
  linrec.yield %o, %s : !linrec.tile<C, V, f32>, !linrec.tile<K, V, f32>
}
linrec.step @r_decode of @r attributes {decay_kind = #linrec.decay<none>, rule = #linrec.rule<additive>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  %q = linrec.chunk.features q : !linrec.tile<1, K, f32>
  %k = linrec.chunk.features k : !linrec.tile<1, K, f32>
  %v = linrec.chunk.values : !linrec.tile<1, V, f32>
  %s = linrec.step.rank1_update %S, %k, %v : (!linrec.tile<K, V, f32>, !linrec.tile<1, K, f32>, !linrec.tile<1, V, f32>) -> !linrec.tile<K, V, f32>
  %o = linrec.step.readout %s, %q : (!linrec.tile<K, V, f32>, !linrec.tile<1, K, f32>) -> !linrec.tile<1, V, f32>
  linrec.yield %o, %s : !linrec.tile<1, V, f32>, !linrec.tile<K, V, f32>
}

//--- delta.mlir
linrec.recurrence @d attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<l2norm>, k_map = #linrec.feature_map<l2norm>, rule = #linrec.rule<delta>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}
// Delta rules pass state too (a WY prep kernel, then a scan without key slices).
// DELTA: linrec.chunkwise @d_prefill of @d
// DELTA-SAME: strategy = state_passing
linrec.chunkwise @d_prefill of @d attributes {decay_kind = #linrec.decay<none>, rule = #linrec.rule<delta>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  %q = linrec.chunk.features q : !linrec.tile<C, K, f32>
  %k = linrec.chunk.features k : !linrec.tile<C, K, f32>
  %v = linrec.chunk.values : !linrec.tile<C, V, f32>
  %akk = linrec.chunk.intra_scores %k, %k mask strict : (!linrec.tile<C, K, f32>, !linrec.tile<C, K, f32>) -> !linrec.tile<C, C, f32>
  %t = linrec.chunk.solve_tril %akk : (!linrec.tile<C, C, f32>) -> !linrec.tile<C, C, f32>
  %w, %ut = linrec.chunk.wy %t, %k, %v : (!linrec.tile<C, C, f32>, !linrec.tile<C, K, f32>, !linrec.tile<C, V, f32>) -> (!linrec.tile<C, K, f32>, !linrec.tile<C, V, f32>)
  %u = linrec.chunk.correct_values %ut, %w, %S : (!linrec.tile<C, V, f32>, !linrec.tile<C, K, f32>, !linrec.tile<K, V, f32>) -> !linrec.tile<C, V, f32>
  %a = linrec.chunk.intra_scores %q, %k mask inclusive : (!linrec.tile<C, K, f32>, !linrec.tile<C, K, f32>) -> !linrec.tile<C, C, f32>
  %o = linrec.chunk.output %q, %S, %a, %u : (!linrec.tile<C, K, f32>, !linrec.tile<K, V, f32>, !linrec.tile<C, C, f32>, !linrec.tile<C, V, f32>) -> !linrec.tile<C, V, f32>
  %s = linrec.chunk.state_update %S, %k, %u : (!linrec.tile<K, V, f32>, !linrec.tile<C, K, f32>, !linrec.tile<C, V, f32>) -> !linrec.tile<K, V, f32>
  linrec.yield %o, %s : !linrec.tile<C, V, f32>, !linrec.tile<K, V, f32>
}

//--- smem.mlir
linrec.recurrence @r attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}
// C = 128 keeps fp32 [C][K'] q and k tiles and [C][C] scores on chip: over an H100's 227 KiB.
// expected-error @+1 {{bytes of shared memory in its fused kernel (K = 128, K' = 128), more than the limit of 232448 (reduce chunk or block_v)}}
linrec.chunkwise @r_prefill of @r attributes {decay_kind = #linrec.decay<none>, rule = #linrec.rule<additive>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  %q = linrec.chunk.features q : !linrec.tile<C, K, f32>
  %k = linrec.chunk.features k : !linrec.tile<C, K, f32>
  %v = linrec.chunk.values : !linrec.tile<C, V, f32>
  %a = linrec.chunk.intra_scores %q, %k mask inclusive : (!linrec.tile<C, K, f32>, !linrec.tile<C, K, f32>) -> !linrec.tile<C, C, f32>
  %o = linrec.chunk.output %q, %S, %a, %v : (!linrec.tile<C, K, f32>, !linrec.tile<K, V, f32>, !linrec.tile<C, C, f32>, !linrec.tile<C, V, f32>) -> !linrec.tile<C, V, f32>
  %s = linrec.chunk.state_update %S, %k, %v : (!linrec.tile<K, V, f32>, !linrec.tile<C, K, f32>, !linrec.tile<C, V, f32>) -> !linrec.tile<K, V, f32>
  linrec.yield %o, %s : !linrec.tile<C, V, f32>, !linrec.tile<K, V, f32>
}
