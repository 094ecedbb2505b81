// The `linrec` ops (generated from LinrecOps.td).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "linrec/codegen/Dialect/LinrecDialect.h"

#define GET_OP_CLASSES
#include "linrec/codegen/Dialect/LinrecOps.h.inc"
