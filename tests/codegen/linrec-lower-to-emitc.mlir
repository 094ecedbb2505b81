// linrec-lower-to-emitc: expression regions -> EmitC device functions of `Variant`, tuning -> `Config`,
// kernels -> extern "C" __global__ instantiations, plus the launch descriptor attribute.
// RUN: split-file %s %t
// RUN: linrec-opt %t/all_leaves.mlir --linrec-derive-chunkwise="mode=prefill" --linrec-apply-tuning --linrec-lower-to-emitc \
// RUN:   | FileCheck %s
// RUN: linrec-opt %t/all_leaves.mlir --linrec-derive-chunkwise="mode=decode" --linrec-apply-tuning="block-v=32 warps=2" \
// RUN:   --linrec-lower-to-emitc | FileCheck %s --check-prefix=DECODE
// RUN: linrec-opt %t/untuned.mlir --linrec-lower-to-emitc -verify-diagnostics
// The register-state fused kernel (16-bit, additive, raw q/k, scalar decay) splits long sequences into
// segments: two stages run before it, its grid z is the segment count, and the module has a workspace.
// RUN: linrec-opt %t/empty.mlir --linrec-import-spec="spec=%variants/simple_gla.toml" --linrec-canonicalize-exprs \
// RUN:   --linrec-derive-chunkwise="mode=prefill" --linrec-apply-tuning --linrec-lower-to-emitc | FileCheck %s --check-prefix=SEG
// fp32 inputs (and every variant outside that kernel) keep the one fused kernel.
// RUN: linrec-opt %t/empty.mlir --linrec-import-spec="spec=%variants/simple_gla.toml" --linrec-canonicalize-exprs \
// RUN:   --linrec-derive-chunkwise="mode=prefill" --linrec-apply-tuning="dtype=fp32" --linrec-lower-to-emitc \
// RUN:   | FileCheck %s --check-prefix=SEG32
// A per-key decay (gla) takes it with bf16 inputs: per-key decay tables in both layouts, K' log decays per
// segment in the workspace; fp16 keeps the one fused kernel.
// RUN: linrec-opt %t/empty.mlir --linrec-import-spec="spec=%variants/gla.toml" --linrec-canonicalize-exprs \
// RUN:   --linrec-derive-chunkwise="mode=prefill" --linrec-apply-tuning --linrec-lower-to-emitc | FileCheck %s --check-prefix=SEGV
// RUN: linrec-opt %t/empty.mlir --linrec-import-spec="spec=%variants/gla.toml" --linrec-canonicalize-exprs \
// RUN:   --linrec-derive-chunkwise="mode=prefill" --linrec-apply-tuning="dtype=fp16" --linrec-lower-to-emitc \
// RUN:   | FileCheck %s --check-prefix=SEG32

// The module holds EmitC only, and the launch descriptor.
// CHECK-LABEL: module attributes {linrec.launch_descriptor = {
// CHECK-SAME:    K = 128 : i64, KF = 128 : i64, V = 128 : i64, arch_specific = false, chunk = 64 : i64,
// CHECK-SAME:    constants = {BK = 128 : i64, BV = 64 : i64}, dtype = "bf16",
// CHECK-SAME:    inputs = [{kind = "scalar", name = "a"}, {kind = "vector", name = "g"}],
// CHECK-SAME:    kernels = [{block_threads = 128 : i64, grid = {x = "N*H", y = "cdiv(V,BV)", z = "1"},
// CHECK-SAME:      name = "linrec_fwd_0123456789ab_k128_v128_c64_bk128_bv64_w4_s2_bf16", smem_bytes = {{[0-9]+}} : i64, stage = "fused"}]
// CHECK-SAME:    name = "leaves", normalize = false,
// CHECK-SAME:    params = [{kind = "head_key", name = "dt"}, {kind = "head", name = "w"}],
// CHECK-SAME:    spec_hash = "0123456789abcdef", strategy = "fused", version = 1 : i64, workspace_bytes = "0"}}
// CHECK-NOT:   linrec.
// CHECK:       emitc.include "linrec/kernel/chunk_fwd.cuh"
// CHECK:       emitc.verbatim "namespace {"
// Only the accessors the expressions use, in a fixed order.
// CHECK:       emitc.verbatim "// Token-context accessors{{.*}}float ctx_q({{.*}}float ctx_k({{.*}}float ctx_input({{.*}}float ctx_input_vec({{.*}}float ctx_param({{.*}}float ctx_param_vec({{.*}}float ctx_head(
// CHECK:       emitc.verbatim "struct Variant {
// CHECK-SAME:    kDecay = linrec::kern::DecayKind::Vector;
// CHECK-SAME:    kDelta = false, kNormalize = false, kHasBeta = true;
// CHECK-SAME:    kNumInputs = 2, kNumParams = 2;\0A  static constexpr unsigned kVecInputs = 2u;"
// q_pre = relu(q) * w[h] with w at param index 1.
// CHECK:       emitc.func @q_pre(%[[C:.*]]: !emitc.opaque<"const linrec::kern::TokenCtx&">, %[[D:.*]]: !emitc.opaque<"int">) -> f32
// CHECK-SAME:    specifiers = ["__device__", "static"]
// CHECK-NEXT:    %[[Q:.*]] = emitc.call_opaque "ctx_q"(%[[C]], %[[D]]) {args = [0 : index, 1 : index]}
// CHECK-NEXT:    %[[R:.*]] = emitc.call_opaque "linrec_relu"(%[[Q]])
// CHECK-NEXT:    %[[W:.*]] = emitc.call_opaque "ctx_param"(%[[C]]) {args = [0 : index, 1 : i32]}
// CHECK-NEXT:    %[[M:.*]] = emitc.mul %[[R]], %[[W]]
// CHECK-NEXT:    emitc.return %[[M]] : f32
// CHECK:       emitc.func @k_pre
// CHECK:         emitc.call_opaque "linrec_elu"
// CHECK:         emitc.call_opaque "linrec_silu"
// CHECK:         emitc.call_opaque "linrec_tanh"
// decay = -softplus(g[d] + dt[h, d]) * min(1, abs(head)) with pow, rsqrt, max folded in.
// CHECK:       emitc.func @decay(%[[C:.*]]: !emitc.opaque<"const linrec::kern::TokenCtx&">, %[[D:.*]]: !emitc.opaque<"int">) -> f32
// CHECK-DAG:     emitc.call_opaque "ctx_input_vec"(%[[C]], %[[D]]) {args = [0 : index, 1 : i32, 1 : index]}
// CHECK-DAG:     emitc.call_opaque "ctx_param_vec"(%[[C]], %[[D]]) {args = [0 : index, 0 : i32, 1 : index]}
// CHECK-DAG:     emitc.call_opaque "ctx_head"(%[[C]]) {args = [0 : index]}
// CHECK-DAG:     emitc.call_opaque "linrec_softplus"
// CHECK-DAG:     emitc.call_opaque "linrec_abs"
// CHECK-DAG:     emitc.call_opaque "linrec_min"
// CHECK-DAG:     emitc.call_opaque "linrec_pow"
// CHECK-DAG:     emitc.call_opaque "linrec_rsqrt"
// CHECK-DAG:     emitc.call_opaque "linrec_max"
// CHECK-DAG:     emitc.unary_minus
// CHECK:       emitc.func @beta(%[[C:.*]]: !emitc.opaque<"const linrec::kern::TokenCtx&">) -> f32
// CHECK-NEXT:    emitc.call_opaque "ctx_input"(%[[C]]) {args = [0 : index, 0 : i32]}
// CHECK-NEXT:    emitc.call_opaque "linrec_sigmoid"
// CHECK:       emitc.verbatim "};"
// CHECK-NEXT:  emitc.verbatim "struct Config {\0A  static constexpr int C = 64, BK = 128, BV = 64, Warps = 4, Stages = 2;\0A  static constexpr linrec::kern::DType kDType = linrec::kern::DType::BF16;\0A};"
// CHECK-NEXT:  emitc.verbatim "}  // namespace"
// CHECK-NEXT:  emitc.func @linrec_fwd_0123456789ab_k128_v128_c64_bk128_bv64_w4_s2_bf16(%[[P:.*]]: !emitc.opaque<"linrec::kern::FwdParams">)
// CHECK-SAME:    specifiers = ["extern \22C\22", "__global__", "__launch_bounds__(Config::Warps * 32, 1)"]
// CHECK-NEXT:    emitc.call_opaque "linrec::kern::chunk_fwd_fused"(%[[P]]) {template_args = [#emitc.opaque<"Variant">, #emitc.opaque<"Config">]}

// A decode-only module has no chunk and no strategy in its descriptor.
// DECODE-NOT:  chunk =
// DECODE-NOT:  strategy =
// DECODE:      kernels = [{block_threads = 64 : i64, grid = {x = "N*H", y = "cdiv(V,BV)", z = "1"}, name = "linrec_dec_0123456789ab_k128_v128_c64_bk128_bv32_w2_s2_bf16", smem_bytes = {{[0-9]+}} : i64, stage = "decode"}]
// DECODE:      emitc.include "linrec/kernel/decode.cuh"
// DECODE:      emitc.call_opaque "linrec::kern::decode_step"(%{{.*}}) {template_args = [#emitc.opaque<"Variant">, #emitc.opaque<"Config">]} : (!emitc.opaque<"linrec::kern::DecodeParams">) -> ()

//--- all_leaves.mlir
linrec.recurrence @leaves attributes {decay_kind = #linrec.decay<vector>, hash = "0123456789abcdef", inputs = [#linrec.input<"a", scalar>, #linrec.input<"g", vector>], params = [#linrec.param<"dt", head_key>, #linrec.param<"w", head>], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  %r = linrec.fn relu %q : f32
  %w = linrec.param "w" : f32
  %m = arith.mulf %r, %w : f32
  linrec.yield %m : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  %e = linrec.fn elu %k : f32
  %s = linrec.fn silu %e : f32
  %t = math.tanh %s : f32
  linrec.yield %t : f32
} decay {
  %g = linrec.input "g" : f32
  %dt = linrec.param "dt" : f32
  %x = arith.addf %g, %dt : f32
  %sp = linrec.fn softplus %x : f32
  %n = arith.negf %sp : f32
  %h = linrec.head : f32
  %ah = math.absf %h : f32
  %one = arith.constant 1.0 : f32
  %mn = arith.minnumf %one, %ah : f32
  %two = arith.constant 2.0 : f32
  %p = math.powf %mn, %two : f32
  %rs = math.rsqrt %two : f32
  %mx = arith.maxnumf %p, %rs : f32
  %r = arith.mulf %n, %mx : f32
  linrec.yield %r : f32
} beta {
  %a = linrec.input "a" : f32
  %b = linrec.fn sigmoid %a : f32
  linrec.yield %b : f32
}

// SEG:       kernels = [{block_threads = 128 : i64,
// SEG-SAME:    grid = {x = "N*H", y = "cdiv(V,BV)", z = "max(1,min(floor(MC/16),floor(2*SMS/(N*H*cdiv(V,BV)))))-1"},
// SEG-SAME:    name = "linrec_fwdsegstate_{{[0-9a-f]+}}_k128_v128_c64_bk128_bv64_w4_s2_bf16", smem_bytes = 109568 : i64, stage = "segment_state"},
// SEG-SAME:    {block_threads = 128 : i64,
// SEG-SAME:    grid = {x = "N*H*min(1,max(1,min(floor(MC/16),floor(2*SMS/(N*H*cdiv(V,BV)))))-1)", y = "cdiv(KF*V,128)", z = "1"},
// SEG-SAME:    name = "linrec_fwdsegscan_{{[0-9a-f]+}}_k128_v128_c64_bk128_bv64_w4_s2_bf16", smem_bytes = 0 : i64, stage = "segment_scan"},
// SEG-SAME:    {block_threads = 128 : i64,
// SEG-SAME:    grid = {x = "N*H", y = "cdiv(V,BV)", z = "max(1,min(floor(MC/16),floor(2*SMS/(N*H*cdiv(V,BV)))))"},
// SEG-SAME:    name = "linrec_fwd_{{[0-9a-f]+}}_k128_v128_c64_bk128_bv64_w4_s2_bf16", smem_bytes = 107008 : i64, stage = "fused"}]
// SEG-SAME:    strategy = "fused"
// SEG-SAME:    workspace_bytes = "min(1,(max(1,floor(MC/16))-1))*(256+4*N*(max(1,floor(MC/16))-1)*H*(KF*V+1))"
// SEG:         emitc.call_opaque "linrec::kern::chunk_fwd_seg_state"
// SEG:         emitc.call_opaque "linrec::kern::chunk_fwd_seg_scan"
// SEG:         emitc.call_opaque "linrec::kern::chunk_fwd_fused"

// SEGV:        name = "linrec_fwdsegstate_{{[0-9a-f]+}}_k128_v128_c64_bk128_bv64_w4_s2_bf16", smem_bytes = 111616 : i64, stage = "segment_state"},
// SEGV:        name = "linrec_fwd_{{[0-9a-f]+}}_k128_v128_c64_bk128_bv64_w4_s2_bf16", smem_bytes = 110592 : i64, stage = "fused"}]
// SEGV-SAME:   workspace_bytes = "min(1,(max(1,floor(MC/16))-1))*(256+4*N*(max(1,floor(MC/16))-1)*H*(KF*V+KF))"

// SEG32:       kernels = [{block_threads = 128 : i64, grid = {x = "N*H", y = "cdiv(V,BV)", z = "1"},
// SEG32-SAME:    stage = "fused"}]
// SEG32-SAME:    workspace_bytes = "0"
// SEG32-NOT:     chunk_fwd_seg_

//--- empty.mlir
module {}

//--- untuned.mlir
linrec.recurrence @r attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}
// expected-error @+1 {{kernel is not tuned: run linrec-apply-tuning before linrec-lower-to-emitc}}
linrec.step @r_decode of @r attributes {decay_kind = #linrec.decay<none>, rule = #linrec.rule<additive>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  %q = linrec.chunk.features q : !linrec.tile<1, K, f32>
  %k = linrec.chunk.features k : !linrec.tile<1, K, f32>
  %v = linrec.chunk.values : !linrec.tile<1, V, f32>
  %s = linrec.step.rank1_update %S, %k, %v : (!linrec.tile<K, V, f32>, !linrec.tile<1, K, f32>, !linrec.tile<1, V, f32>) -> !linrec.tile<K, V, f32>
  %o = linrec.step.readout %s, %q : (!linrec.tile<K, V, f32>, !linrec.tile<1, K, f32>) -> !linrec.tile<1, V, f32>
  linrec.yield %o, %s : !linrec.tile<1, V, f32>, !linrec.tile<K, V, f32>
}
