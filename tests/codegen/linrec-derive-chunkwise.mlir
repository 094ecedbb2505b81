// linrec-derive-chunkwise: the chunkwise (prefill) and step (decode) kernels of DESIGN.md §3 / §1, and
// diagnostics for constructs no kernel implements.
// RUN: split-file %s %t
// RUN: linrec-opt %t/derive.mlir -split-input-file --linrec-derive-chunkwise | FileCheck %s
// RUN: linrec-opt %t/derive.mlir -split-input-file --linrec-derive-chunkwise="mode=prefill" \
// RUN:   | FileCheck %s --check-prefix=PREFILL
// Round trip of the derived kernels.
// RUN: linrec-opt %t/derive.mlir -split-input-file --linrec-derive-chunkwise | linrec-opt -split-input-file \
// RUN:   | FileCheck %s
// RUN: linrec-opt %t/errors.mlir -split-input-file --linrec-derive-chunkwise -verify-diagnostics
// RUN: not linrec-opt %t/derive.mlir --linrec-derive-chunkwise="mode=train" 2>&1 | FileCheck %s --check-prefix=MODE
// MODE: unknown mode 'train' (expected prefill, decode or all)

//--- derive.mlir
// Delta rule with a scalar decay and β: cumulative log-decay, strict K Kᵀ scores, the triangular solve, the
// WY form, values corrected by the state, inclusive Q Kᵀ scores, output, state update.
// CHECK-LABEL: linrec.chunkwise @gdn_prefill of @gdn
// CHECK-SAME:    decay_kind = #linrec.decay<scalar>, rule = #linrec.rule<delta>
// CHECK:       ^bb0(%[[S:.*]]: !linrec.tile<K, V, f32>):
// CHECK-NEXT:    %[[Q:.*]] = linrec.chunk.features q : !linrec.tile<C, K, f32>
// CHECK-NEXT:    %[[K:.*]] = linrec.chunk.features k : !linrec.tile<C, K, f32>
// CHECK-NEXT:    %[[V:.*]] = linrec.chunk.values : !linrec.tile<C, V, f32>
// CHECK-NEXT:    %[[G:.*]] = linrec.chunk.gate decay : !linrec.tile<C, 1, f32>
// CHECK-NEXT:    %[[BETA:.*]] = linrec.chunk.gate beta : !linrec.tile<C, 1, f32>
// CHECK-NEXT:    %[[B:.*]] = linrec.chunk.cumsum_decay %[[G]] : !linrec.tile<C, 1, f32>
// CHECK-NEXT:    %[[AKK:.*]] = linrec.chunk.intra_scores %[[K]], %[[K]] decay %[[B]] mask strict
// CHECK-NEXT:    %[[T:.*]] = linrec.chunk.solve_tril %[[AKK]] beta %[[BETA]]
// CHECK-NEXT:    %[[W:.*]], %[[UT:.*]] = linrec.chunk.wy %[[T]], %[[K]], %[[V]] beta %[[BETA]] decay %[[B]]
// CHECK-NEXT:    %[[U:.*]] = linrec.chunk.correct_values %[[UT]], %[[W]], %[[S]]
// CHECK-NEXT:    %[[AQK:.*]] = linrec.chunk.intra_scores %[[Q]], %[[K]] decay %[[B]] mask inclusive
// CHECK-NEXT:    %[[O:.*]] = linrec.chunk.output %[[Q]], %[[S]], %[[AQK]], %[[U]] decay %[[B]]
// CHECK-NEXT:    %[[S1:.*]] = linrec.chunk.state_update %[[S]], %[[K]], %[[U]] decay %[[B]]
// CHECK-NEXT:    linrec.yield %[[O]], %[[S1]] : !linrec.tile<C, V, f32>, !linrec.tile<K, V, f32>
// The decode step: decay the state, u = β (v − Sᵀk), rank-1 update, readout.
// CHECK-LABEL: linrec.step @gdn_decode of @gdn
// CHECK:       ^bb0(%[[S:.*]]: !linrec.tile<K, V, f32>):
// CHECK:         %[[G:.*]] = linrec.chunk.gate decay : !linrec.tile<1, 1, f32>
// CHECK-NEXT:    %[[BETA:.*]] = linrec.chunk.gate beta : !linrec.tile<1, 1, f32>
// CHECK-NEXT:    %[[SD:.*]] = linrec.step.decay_state %[[S]], %[[G]]
// CHECK-NEXT:    %[[U:.*]] = linrec.step.delta_values %[[SD]], %{{.*}}, %{{.*}} beta %[[BETA]]
// CHECK-NEXT:    %[[S1:.*]] = linrec.step.rank1_update %[[SD]], %{{.*}}, %[[U]]
// CHECK-NEXT:    %[[O:.*]] = linrec.step.readout %[[S1]], %{{.*}}
// CHECK-NEXT:    linrec.yield %[[O]], %[[S1]] : !linrec.tile<1, V, f32>, !linrec.tile<K, V, f32>
// PREFILL:     linrec.chunkwise @gdn_prefill
// PREFILL-NOT: linrec.step
linrec.recurrence @gdn attributes {decay_kind = #linrec.decay<scalar>, hash = "", inputs = [#linrec.input<"a", scalar>, #linrec.input<"b", scalar>], params = [], q_map = #linrec.feature_map<l2norm>, k_map = #linrec.feature_map<l2norm>, rule = #linrec.rule<delta>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %a = linrec.input "a" : f32
  %g = linrec.fn logsigmoid %a : f32
  linrec.yield %g : f32
} beta {
  %b = linrec.input "b" : f32
  %s = linrec.fn sigmoid %b : f32
  linrec.yield %s : f32
}

// -----

// Additive rule, vector decay, no β: no solve; the decay tiles are K wide.
// CHECK-LABEL: linrec.chunkwise @gla_prefill of @gla
// CHECK:         %[[G:.*]] = linrec.chunk.gate decay : !linrec.tile<C, K, f32>
// CHECK-NEXT:    %[[B:.*]] = linrec.chunk.cumsum_decay %[[G]] : !linrec.tile<C, K, f32>
// CHECK-NOT:     solve_tril
// CHECK:         linrec.chunk.intra_scores %{{.*}}, %{{.*}} decay %[[B]] mask inclusive
// CHECK-LABEL: linrec.step @gla_decode of @gla
// CHECK:         linrec.step.decay_state %{{.*}}, %{{.*}} : (!linrec.tile<K, V, f32>, !linrec.tile<1, K, f32>)
linrec.recurrence @gla attributes {decay_kind = #linrec.decay<vector>, hash = "", inputs = [#linrec.input<"gk", vector>], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %g = linrec.input "gk" : f32
  %l = linrec.fn logsigmoid %g : f32
  linrec.yield %l : f32
} beta {}

// -----

// No decay, additive with β (scaled values), normalizer carried to the kernels.
// CHECK-LABEL: linrec.chunkwise @linear_prefill of @linear
// CHECK-SAME:    normalize
// CHECK:         %[[V:.*]] = linrec.chunk.values
// CHECK-NEXT:    %[[BETA:.*]] = linrec.chunk.gate beta
// CHECK-NEXT:    %[[BV:.*]] = linrec.chunk.scale_rows %[[V]], %[[BETA]]
// CHECK-NEXT:    linrec.chunk.intra_scores %{{.*}}, %{{.*}} mask inclusive : (!linrec.tile<C, K, f32>, !linrec.tile<C, K, f32>)
// CHECK-NOT:     cumsum_decay
// CHECK:         linrec.chunk.state_update %{{.*}}, %{{.*}}, %[[BV]] :
linrec.recurrence @linear attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [#linrec.input<"b", scalar>], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>, normalize}
q_pre {
  %q = linrec.qk_elem q : f32
  %e = linrec.fn elu %q : f32
  %one = arith.constant 1.0 : f32
  %p = arith.addf %e, %one : f32
  linrec.yield %p : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {
  %b = linrec.input "b" : f32
  linrec.yield %b : f32
}

//--- errors.mlir
linrec.recurrence @hedgehog_vector attributes {decay_kind = #linrec.decay<vector>, hash = "", inputs = [#linrec.input<"g", vector>], params = [], q_map = #linrec.feature_map<hedgehog>, k_map = #linrec.feature_map<hedgehog>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %g = linrec.input "g" : f32
  // expected-error @+1 {{a vector decay varies over the key width K, but the hedgehog feature map gives the state 2K rows; no kernel can apply it (use a scalar decay)}}
  %l = linrec.fn logsigmoid %g : f32
  linrec.yield %l : f32
} beta {}

// -----

// expected-error @+1 {{the normalizer (readout.normalize) is defined for the additive rule only}}
linrec.recurrence @normalized_delta attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<l2norm>, k_map = #linrec.feature_map<l2norm>, rule = #linrec.rule<delta>, normalize}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}

// -----

// expected-error @+1 {{q and k feature maps have different widths (q: taylor2, k: identity)}}
linrec.recurrence @mixed_widths attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<taylor2>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}

// -----

// expected-error @+1 {{@many declares 9 inputs; the kernel ABI passes at most 8}}
linrec.recurrence @many attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [#linrec.input<"a", scalar>, #linrec.input<"b", scalar>, #linrec.input<"c", scalar>, #linrec.input<"d", scalar>, #linrec.input<"e", scalar>, #linrec.input<"f", scalar>, #linrec.input<"g", scalar>, #linrec.input<"h", scalar>, #linrec.input<"i", scalar>], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}
