// The linrec compiler passes (declared in Passes.td) and the pipeline that chains them.
#pragma once

#include <memory>
#include <string>

#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include "linrec/codegen/Dialect/LinrecOps.h"

namespace linrec::ir {

#define GEN_PASS_DECL
#include "linrec/codegen/Dialect/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "linrec/codegen/Dialect/Passes.h.inc"

/// Options of the whole pipeline after import (one TuningConfig for every derived kernel).
struct PipelineOptions {
  std::string mode = "all";  ///< prefill, decode or all
  ApplyTuningOptions tuning;
};

/// Adds, in order: linrec-canonicalize-exprs, linrec-derive-chunkwise, linrec-apply-tuning,
/// linrec-lower-to-emitc. The module must already hold a `linrec.recurrence` (import first).
void buildLinrecPipeline(mlir::OpPassManager& pm, const PipelineOptions& options);

/// Registers the linrec dialect's dependencies and everything the passes create.
void registerLinrecDialects(mlir::DialectRegistry& registry);

}  // namespace linrec::ir
