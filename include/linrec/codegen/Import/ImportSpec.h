// Spec -> `linrec.recurrence`: the bridge from the DSL's validated Spec to the dialect.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include "linrec/codegen/Dialect/LinrecOps.h"
#include "linrec/dsl/Spec.h"

namespace linrec::ir {

/// Appends the recurrence `spec` describes to `module` (symbol name: the variant name made a valid
/// identifier, `variant` when empty). Expressions become arith/math/linrec ops whose locations point at
/// the TOML source. Emits a diagnostic and fails on anything the dialect cannot represent (a constant
/// outside f32, an undefined name, q/k read outside its pre-map) rather than building invalid IR.
mlir::FailureOr<RecurrenceOp> importSpec(const dsl::Spec& spec, mlir::ModuleOp module);

}  // namespace linrec::ir
