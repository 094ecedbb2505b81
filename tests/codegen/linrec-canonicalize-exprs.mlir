// linrec-canonicalize-exprs: fold the expressions, then classify the decay (none/constant/scalar/vector)
// and drop a β that is 1; a vector β or a non-finite constant is an error.
// RUN: split-file %s %t
// RUN: linrec-opt %t/fold.mlir -split-input-file --linrec-canonicalize-exprs | FileCheck %s
// The canonical forms are accepted by the rest of the pipeline.
// RUN: linrec-opt %t/fold.mlir -split-input-file --linrec-canonicalize-exprs --linrec-derive-chunkwise \
// RUN:   --linrec-apply-tuning --linrec-lower-to-emitc -o /dev/null
// RUN: linrec-opt %t/errors.mlir -split-input-file --linrec-canonicalize-exprs -verify-diagnostics

//--- fold.mlir
// A decay that only reads per-head values folds and becomes `constant`; β = 2 * sigmoid(0) folds to 1 and
// is dropped; duplicate subexpressions are merged.
// CHECK-LABEL: linrec.recurrence @constant_decay
// CHECK-SAME:    decay_kind = #linrec.decay<constant>
// CHECK:       decay {
// Folding materializes constants at the top of the region.
// CHECK-NEXT:    %[[C:.*]] = arith.constant -5.000000e-01 : f32
// CHECK-NEXT:    %[[A:.*]] = linrec.param "A_log" : f32
// CHECK-NEXT:    %[[E:.*]] = math.exp %[[A]] : f32
// CHECK-NEXT:    %[[M:.*]] = arith.mulf %[[E]], %[[E]] : f32
// CHECK-NEXT:    %[[R:.*]] = arith.mulf %[[M]], %[[C]] : f32
// CHECK-NEXT:    linrec.yield %[[R]] : f32
// CHECK-NEXT:  } beta {
// CHECK-NEXT:  }
linrec.recurrence @constant_decay attributes {decay_kind = #linrec.decay<scalar>, hash = "", inputs = [], params = [#linrec.param<"A_log", head>], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<delta>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %a = linrec.param "A_log" : f32
  %e1 = math.exp %a : f32
  %e2 = math.exp %a : f32
  %m = arith.mulf %e1, %e2 : f32
  %half = arith.constant 0.25 : f32
  %two = arith.constant 2.0 : f32
  %h = arith.mulf %half, %two : f32
  %nh = arith.negf %h : f32
  %r = arith.mulf %m, %nh : f32
  linrec.yield %r : f32
} beta {
  %z = arith.constant 0.0 : f32
  %s = linrec.fn sigmoid %z : f32
  %two = arith.constant 2.0 : f32
  %b = arith.mulf %two, %s : f32
  linrec.yield %b : f32
}

// -----

// g = 0 * a folds to 0 (a is finite): no decay at all, the region is emptied.
// CHECK-LABEL: linrec.recurrence @zero_decay
// CHECK-SAME:    decay_kind = #linrec.decay<none>
// CHECK:       } decay {
// CHECK-NEXT:  } beta {
linrec.recurrence @zero_decay attributes {decay_kind = #linrec.decay<constant>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %one = arith.constant 1.0 : f32
  %l = math.log %one : f32
  linrec.yield %l : f32
} beta {}

// -----

// A per-token scalar input makes a scalar decay (even if the spec said vector: the expression decides).
// CHECK-LABEL: linrec.recurrence @scalar_decay
// CHECK-SAME:    decay_kind = #linrec.decay<scalar>
linrec.recurrence @scalar_decay attributes {decay_kind = #linrec.decay<vector>, hash = "", inputs = [#linrec.input<"a", scalar>], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
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
} beta {}

// -----

// A head_key parameter makes the decay a vector over K, even with only scalar inputs.
// CHECK-LABEL: linrec.recurrence @vector_decay
// CHECK-SAME:    decay_kind = #linrec.decay<vector>
linrec.recurrence @vector_decay attributes {decay_kind = #linrec.decay<scalar>, hash = "", inputs = [#linrec.input<"a", scalar>], params = [#linrec.param<"dt_bias", head_key>], q_map = #linrec.feature_map<l2norm>, k_map = #linrec.feature_map<l2norm>, rule = #linrec.rule<delta>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %a = linrec.input "a" : f32
  %dt = linrec.param "dt_bias" : f32
  %s = arith.addf %a, %dt : f32
  %sp = linrec.fn softplus %s : f32
  %g = arith.negf %sp : f32
  linrec.yield %g : f32
} beta {
  %a = linrec.input "a" : f32
  %b = linrec.fn sigmoid %a : f32
  linrec.yield %b : f32
}

// -----

// Elementwise feature pre-maps fold too: relu(q) * 1 + 0 -> relu(q) (x * 1 folds; x + 0.0 does not, since
// -0.0 + 0.0 = +0.0, and the pass keeps every value bit-exact).
// CHECK-LABEL: linrec.recurrence @premap
// CHECK:       q_pre {
// CHECK-NEXT:    %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[Q:.*]] = linrec.qk_elem q : f32
// CHECK-NEXT:    %[[R:.*]] = linrec.fn relu %[[Q]] : f32
// CHECK-NEXT:    %[[S:.*]] = arith.addf %[[R]], %[[Z]] : f32
// CHECK-NEXT:    linrec.yield %[[S]] : f32
linrec.recurrence @premap attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  %r = linrec.fn relu %q : f32
  %one = arith.constant 1.0 : f32
  %m = arith.mulf %r, %one : f32
  %zero = arith.constant 0.0 : f32
  %s = arith.addf %m, %zero : f32
  linrec.yield %s : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {}

//--- errors.mlir
linrec.recurrence @vector_beta attributes {decay_kind = #linrec.decay<none>, hash = "", inputs = [#linrec.input<"x", vector>], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<delta>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {} beta {
  // expected-note @+1 {{it reads a per-key value here}}
  %x = linrec.input "x" : f32
  // expected-error @+1 {{β must be a scalar per token, but this expression varies over the key index}}
  %b = linrec.fn sigmoid %x : f32
  linrec.yield %b : f32
}

// -----

linrec.recurrence @log_zero attributes {decay_kind = #linrec.decay<constant>, hash = "", inputs = [], params = [], q_map = #linrec.feature_map<identity>, k_map = #linrec.feature_map<identity>, rule = #linrec.rule<additive>}
q_pre {
  %q = linrec.qk_elem q : f32
  linrec.yield %q : f32
} k_pre {
  %k = linrec.qk_elem k : f32
  linrec.yield %k : f32
} decay {
  %z = arith.constant 0.0 : f32
  // expected-error @+1 {{expression folds to a non-finite constant (-inf); the kernels cannot evaluate it}}
  %l = math.log %z : f32
  linrec.yield %l : f32
} beta {}
