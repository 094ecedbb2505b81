// invalid.mlir: verifier diagnostics of the linrec dialect (ops, attributes, types).
// RUN: linrec-opt %s -split-input-file -verify-diagnostics -allow-unregistered-dialect

linrec.recurrence @undeclared attributes {decay_kind = #linrec.decay<scalar>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  // expected-error @+1 {{reads 'a', which is not a declared input of @undeclared}}
  %a = linrec.input "a" : f32
  linrec.yield %a : f32
} beta {}

// -----

linrec.recurrence @undeclared_param attributes {decay_kind = #linrec.decay<constant>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  // expected-error @+1 {{reads 'A_log', which is not a declared param of @undeclared_param}}
  %a = linrec.param "A_log" : f32
  linrec.yield %a : f32
} beta {}

// -----

linrec.recurrence @q_in_k_pre attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  // expected-error @+1 {{'q' cannot be read in region 'k_pre' (q_pre reads only q, k_pre only k; gates read neither)}}
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} decay {} beta {}

// -----

linrec.recurrence @gate_reads_k attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<delta>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {
  // expected-error @+1 {{'k' cannot be read in region 'beta'}}
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
}

// -----

// expected-error @+1 {{decay region must be empty exactly when decay_kind is none (decay_kind = none)}}
linrec.recurrence @decay_mismatch attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %c = arith.constant -1.0 : f32
  linrec.yield %c : f32
} beta {}

// -----

// expected-error @+1 {{inputs must be sorted by name and unique ('a' after 'b')}}
linrec.recurrence @unsorted attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [#linrec.input<"b", scalar>, #linrec.input<"a", scalar>], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}

// -----

// expected-error @+1 {{'head' is reserved and cannot name an input}}
linrec.recurrence @reserved attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [#linrec.input<"head", scalar>], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}

// -----

// expected-error @+1 {{q_pre and k_pre must not be empty}}
linrec.recurrence @no_pre attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {} k_pre {} decay {} beta {}

// -----

linrec.recurrence @not_lowerable attributes {decay_kind = #linrec.decay<constant>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %h = linrec.head : f32
  // expected-error @+1 {{is not an elementwise f32 operation linrec can lower (in region 'decay' of @not_lowerable)}}
  %s = math.sin %h : f32
  linrec.yield %s : f32
} beta {}

// -----

// expected-error @+1 {{region 'beta' must end in `linrec.yield` of one f32}}
linrec.recurrence @two_results attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<delta>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {
  %h = linrec.head : f32
  linrec.yield %h, %h : f32, f32
}

// -----

// expected-error @+1 {{expects parent op 'linrec.recurrence'}}
%h = linrec.head : f32

// -----

// expected-error @+1 {{chunk must be 16, 32, 64 or 128 (the building blocks work on 16-row MMA tiles), got 48}}
"test.tuning"() {t = #linrec.tuning<chunk = 48, block_k = 128, block_v = 64, warps = 4, stages = 2, strategy = fused>} : () -> ()

// -----

// expected-error @+1 {{warps must be 2, 4 or 8, got 16}}
"test.tuning"() {t = #linrec.tuning<chunk = 64, block_k = 128, block_v = 64, warps = 16, stages = 2, strategy = fused>} : () -> ()

// -----

// expected-error @+1 {{head_k must be in [1, 256] (the kernels' key width limit), got 0}}
"test.problem"() {p = #linrec.problem<head_k = 0, head_v = 128, dtype = bf16>} : () -> ()

// -----

// expected-error @+1 {{tile elements must be floats, got 'i32'}}
"test.tile"() : () -> !linrec.tile<C, K, i32>

// -----

linrec.chunkwise @bad_features of @r attributes {decay_kind = #linrec.decay<none>, rule = #linrec.rule<additive>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  // expected-error @+1 {{expects a result of type !linrec.tile<C, K, ...>, got '!linrec.tile<C, V, f32>'}}
  %q = linrec.chunk.features q : !linrec.tile<C, V, f32>
  %o = linrec.chunk.values : !linrec.tile<C, V, f32>
  linrec.yield %o, %S : !linrec.tile<C, V, f32>, !linrec.tile<K, V, f32>
}

// -----

// expected-error @+1 {{body must end in `linrec.yield` of the output '!linrec.tile<1, V, f32>' and the next state '!linrec.tile<K, V, f32>'}}
linrec.step @bad_yield of @r attributes {decay_kind = #linrec.decay<none>, rule = #linrec.rule<additive>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  %v = linrec.chunk.values : !linrec.tile<1, V, f32>
  linrec.yield %S, %S : !linrec.tile<K, V, f32>, !linrec.tile<K, V, f32>
}

// -----

linrec.step @chunk_op_in_step of @r attributes {decay_kind = #linrec.decay<scalar>, rule = #linrec.rule<additive>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  %g = linrec.chunk.gate decay : !linrec.tile<1, 1, f32>
  // expected-error @+1 {{expects parent op 'linrec.chunkwise'}}
  %b = linrec.chunk.cumsum_decay %g : !linrec.tile<1, 1, f32>
  %o = linrec.chunk.values : !linrec.tile<1, V, f32>
  linrec.yield %o, %S : !linrec.tile<1, V, f32>, !linrec.tile<K, V, f32>
}

// -----

linrec.chunkwise @scores of @r attributes {decay_kind = #linrec.decay<none>, rule = #linrec.rule<additive>} {
^bb0(%S: !linrec.tile<K, V, f32>):
  %q = linrec.chunk.features q : !linrec.tile<C, K, f32>
  %v = linrec.chunk.values : !linrec.tile<C, V, f32>
  // expected-error @+1 {{operands must have the same type}}
  %a = linrec.chunk.intra_scores %q, %v mask inclusive : (!linrec.tile<C, K, f32>, !linrec.tile<C, V, f32>) -> !linrec.tile<C, C, f32>
  linrec.yield %v, %S : !linrec.tile<C, V, f32>, !linrec.tile<K, V, f32>
}
