// linrec-import-spec: a TOML variant file becomes a linrec.recurrence whose locations point into the file.
// RUN: linrec-opt %s --linrec-import-spec="spec=%S/Inputs/gated_delta_rule.toml" | FileCheck %s
// RUN: linrec-opt %s --linrec-import-spec="spec=%S/Inputs/gated_delta_rule.toml" --mlir-print-debuginfo \
// RUN:   | FileCheck %s --check-prefix=LOC
// RUN: not linrec-opt %s --linrec-import-spec="spec=%S/Inputs/undefined_name.toml" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=PARSE
// RUN: not linrec-opt %s --linrec-import-spec 2>&1 | FileCheck %s --check-prefix=NOFILE
// Round trip: the imported IR prints in a form that parses back to the same IR.
// RUN: linrec-opt %s --linrec-import-spec="spec=%S/Inputs/gated_delta_rule.toml" | linrec-opt | FileCheck %s

module {}

// CHECK-LABEL: linrec.recurrence @gdn attributes {
// CHECK-SAME:    decay_kind = #linrec.decay<scalar>
// CHECK-SAME:    hash = "{{[0-9a-f]+}}"
// CHECK-SAME:    inputs = [#linrec.input<"a", scalar>, #linrec.input<"b", scalar>]
// CHECK-SAME:    k_map = #linrec.feature_map<l2norm>
// CHECK-SAME:    params = [#linrec.param<"A_log", head>, #linrec.param<"dt_bias", head>]
// CHECK-SAME:    q_map = #linrec.feature_map<l2norm>
// CHECK-SAME:    rule = #linrec.rule<delta>
// CHECK:       q_pre {
// CHECK-NEXT:    %[[Q:.*]] = linrec.qk_elem q : f32
// CHECK-NEXT:    linrec.yield %[[Q]] : f32
// CHECK:       } k_pre {
// CHECK-NEXT:    %[[K:.*]] = linrec.qk_elem k : f32
// CHECK-NEXT:    linrec.yield %[[K]] : f32
// CHECK:       } decay {
// CHECK-NEXT:    %[[A:.*]] = linrec.param "A_log" : f32
// CHECK-NEXT:    %[[E:.*]] = math.exp %[[A]] : f32
// CHECK-NEXT:    %[[N:.*]] = arith.negf %[[E]] : f32
// CHECK-NEXT:    %[[X:.*]] = linrec.input "a" : f32
// CHECK-NEXT:    %[[DT:.*]] = linrec.param "dt_bias" : f32
// CHECK-NEXT:    %[[S:.*]] = arith.addf %[[X]], %[[DT]] : f32
// CHECK-NEXT:    %[[SP:.*]] = linrec.fn softplus %[[S]] : f32
// CHECK-NEXT:    %[[G:.*]] = arith.mulf %[[N]], %[[SP]] : f32
// CHECK-NEXT:    linrec.yield %[[G]] : f32
// CHECK:       } beta {
// CHECK-NEXT:    %[[B:.*]] = linrec.input "b" : f32
// CHECK-NEXT:    %[[SIG:.*]] = linrec.fn sigmoid %[[B]] : f32
// CHECK-NEXT:    linrec.yield %[[SIG]] : f32

// Each node of an expression is located at its character in the TOML string:
// log = "-exp(A_log) * softplus(a + dt_bias)" is on line 18, its text starts at column 8.
// LOC-DAG: #[[EXP:loc[0-9]*]] = loc("{{.*}}gated_delta_rule.toml":18:9)
// LOC-DAG: #[[SOFTPLUS:loc[0-9]*]] = loc("{{.*}}gated_delta_rule.toml":18:22)
// LOC-DAG: math.exp {{.*}} loc(#[[EXP]])
// LOC-DAG: linrec.fn softplus {{.*}} loc(#[[SOFTPLUS]])

// PARSE: undefined_name.toml:6:18: error: in decay.log: undefined name 'x'
// NOFILE: error: linrec-import-spec needs a file
