// The `linrec` dialect: registration, enum/attribute/type definitions and their verifiers.
#include "linrec/codegen/Dialect/LinrecDialect.h"

#include "llvm/ADT/TypeSwitch.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

#include "linrec/codegen/Dialect/LinrecOps.h"

using namespace mlir;
using namespace linrec::ir;

namespace linrec::ir {

/// `C`, `K`, `V` or `1` (a tile extent; see Linrec_TileDimParameter).
FailureOr<TileDim> parseTileDim(AsmParser& parser) {
  int64_t one = 0;
  OptionalParseResult number = parser.parseOptionalInteger(one);
  if (number.has_value()) {
    if (failed(*number)) return failure();
    if (one != 1) return parser.emitError(parser.getCurrentLocation(), "a tile extent is C, K, V or 1"), failure();
    return TileDim::One;
  }
  llvm::SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (failed(parser.parseKeyword(&word))) return failure();
  std::optional<TileDim> dim = symbolizeTileDim(word);
  if (!dim || *dim == TileDim::One) return parser.emitError(loc, "a tile extent is C, K, V or 1"), failure();
  return *dim;
}

void printTileDim(AsmPrinter& printer, TileDim dim) {
  printer << stringifyTileDim(dim);
}

}  // namespace linrec::ir

#include "linrec/codegen/Dialect/LinrecDialect.cpp.inc"
#include "linrec/codegen/Dialect/LinrecEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "linrec/codegen/Dialect/LinrecAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "linrec/codegen/Dialect/LinrecTypes.cpp.inc"

void LinrecDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "linrec/codegen/Dialect/LinrecOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "linrec/codegen/Dialect/LinrecAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "linrec/codegen/Dialect/LinrecTypes.cpp.inc"
      >();
}

Operation* LinrecDialect::materializeConstant(OpBuilder& builder, Attribute value, Type type, Location loc) {
  if (auto typed = llvm::dyn_cast<TypedAttr>(value); typed && arith::ConstantOp::isBuildableWith(typed, type))
    return builder.create<arith::ConstantOp>(loc, type, typed);
  return nullptr;
}

namespace linrec::ir {

int64_t featureWidth(FeatureMapKind kind, int64_t headK) {
  switch (kind) {
    case FeatureMapKind::Taylor2:
      return 1 + headK + headK * headK;
    case FeatureMapKind::Hedgehog:
      return 2 * headK;
    case FeatureMapKind::Identity:
    case FeatureMapKind::L2Norm:
      return headK;
  }
  return headK;
}

}  // namespace linrec::ir

//===----------------------------------------------------------------------===//
// Attribute and type verifiers
//===----------------------------------------------------------------------===//

// The bounds below are the hand-written kernels' static_asserts (runtime/kernels/include/linrec/kernel/
// chunk_phases.cuh, decode.cuh, feature_map.cuh): a config they would reject never reaches CUDA.

LogicalResult ProblemAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t headK, int64_t headV, DType) {
  if (headK < 1 || headK > 256)
    return emitError() << "head_k must be in [1, 256] (the kernels' key width limit), got " << headK;
  // V has no kernel limit; the bound keeps every derived size (K'·V·4 bytes per state) far from overflow.
  if (headV < 1 || headV > 4096) return emitError() << "head_v must be in [1, 4096], got " << headV;
  return success();
}

static bool isPow2In(int64_t v, int64_t lo, int64_t hi) {
  return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

LogicalResult TuningAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t chunk, int64_t blockK,
                                 int64_t blockV, int64_t warps, int64_t stages, Strategy) {
  if (!isPow2In(chunk, 16, 128))
    return emitError() << "chunk must be 16, 32, 64 or 128 (the building blocks work on 16-row MMA tiles), got "
                       << chunk;
  if (blockK < 16 || blockK > 256 || blockK % 16 != 0)
    return emitError() << "block_k must be a multiple of 16 in [16, 256], got " << blockK;
  if (!isPow2In(blockV, 16, 128)) return emitError() << "block_v must be 16, 32, 64 or 128, got " << blockV;
  if (!isPow2In(warps, 2, 8)) return emitError() << "warps must be 2, 4 or 8, got " << warps;
  if (stages < 1 || stages > 4) return emitError() << "stages must be in [1, 4], got " << stages;
  return success();
}

LogicalResult TileType::verify(function_ref<InFlightDiagnostic()> emitError, TileDim, TileDim, Type elementType) {
  if (!llvm::isa<FloatType>(elementType)) return emitError() << "tile elements must be floats, got " << elementType;
  return success();
}
