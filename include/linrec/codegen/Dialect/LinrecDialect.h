// The `linrec` dialect: its class, enums, attributes and the tile type (generated from the .td files).
#pragma once

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Types.h"

#include "linrec/codegen/Dialect/LinrecDialect.h.inc"
#include "linrec/codegen/Dialect/LinrecEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "linrec/codegen/Dialect/LinrecAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "linrec/codegen/Dialect/LinrecTypes.h.inc"

namespace linrec::ir {

/// The feature width K' of a feature map at input key width K (mirrors dsl::featureWidth).
int64_t featureWidth(FeatureMapKind kind, int64_t headK);

/// The value of `fn` at `x` in float64, as the DSL's reference evaluates it (dsl::applyFunction).
double evaluateFn(Fn fn, double x);

}  // namespace linrec::ir
