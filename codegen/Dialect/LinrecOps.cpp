// The `linrec` ops: verifiers (the invariants that ODS traits cannot state), folders and helpers.
#include "linrec/codegen/Dialect/LinrecOps.h"

#include <cmath>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace linrec::ir;

#define GET_OP_CLASSES
#include "linrec/codegen/Dialect/LinrecOps.cpp.inc"

namespace {

/// Region numbers of linrec.recurrence, in ODS order.
enum RecurrenceRegion : unsigned { kQPre = 0, kKPre = 1, kDecay = 2, kBeta = 3 };

const char* regionName(unsigned n) {
  switch (n) {
    case kQPre:
      return "q_pre";
    case kKPre:
      return "k_pre";
    case kDecay:
      return "decay";
    case kBeta:
      return "beta";
  }
  return "?";
}

/// The ops an expression region may hold: exactly what linrec-lower-to-emitc knows how to emit.
bool isExpressionOp(Operation* op) {
  return isa<arith::ConstantOp, arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp, arith::NegFOp,
             arith::MinNumFOp, arith::MaxNumFOp, math::ExpOp, math::LogOp, math::Log1pOp, math::SqrtOp, math::RsqrtOp,
             math::TanhOp, math::AbsFOp, math::PowFOp, FnOp, InputOp, ParamOp, HeadOp, QKElemOp, YieldOp>(op);
}

LogicalResult verifyExpressionRegion(RecurrenceOp rec, Region& region, unsigned number) {
  if (region.empty()) return success();
  Block& block = region.front();
  if (block.getNumArguments() != 0)
    return rec.emitOpError() << "region '" << regionName(number) << "' must not have block arguments";
  for (Operation& op : block) {
    if (!isExpressionOp(&op))
      return op.emitOpError() << "is not an elementwise f32 operation linrec can lower (in region '"
                              << regionName(number) << "' of @" << rec.getSymName() << ")";
    for (Type t : op.getResultTypes())
      if (!t.isF32()) return op.emitOpError() << "must produce f32 in an expression region, got " << t;
  }
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield || yield.getValues().size() != 1 || !yield.getValues()[0].getType().isF32())
    return rec.emitOpError() << "region '" << regionName(number) << "' must end in `linrec.yield` of one f32";
  return success();
}

/// The rows a body tile has in its kernel: C in a chunk, 1 in a decode step.
TileDim expectedRows(Operation* op) {
  return isa<StepOp>(op->getParentOp()) ? TileDim::One : TileDim::C;
}

LogicalResult expectTile(Operation* op, Type t, TileDim rows, ArrayRef<TileDim> cols, StringRef what) {
  auto tile = llvm::dyn_cast<TileType>(t);
  bool colsOk = tile && llvm::is_contained(cols, tile.getCols());
  if (tile && tile.getRows() == rows && colsOk) return success();
  auto diag = op->emitOpError() << "expects " << what << " of type !linrec.tile<" << stringifyTileDim(rows) << ", ";
  for (size_t i = 0; i < cols.size(); ++i) diag << (i ? "|" : "") << stringifyTileDim(cols[i]);
  diag << ", ...>, got " << t;
  return diag;
}

template <class KernelOp>
LogicalResult verifyKernelBody(KernelOp op) {
  Block& body = op.getBody().front();
  auto state = TileType::get(op.getContext(), TileDim::K, TileDim::V, Float32Type::get(op.getContext()));
  if (body.getNumArguments() != 1 || body.getArgument(0).getType() != state)
    return op.emitOpError() << "body must take the state entering it as its only argument, of type " << state;
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  TileDim rows = std::is_same_v<KernelOp, StepOp> ? TileDim::One : TileDim::C;
  auto out = TileType::get(op.getContext(), rows, TileDim::V, Float32Type::get(op.getContext()));
  if (!yield || yield.getValues().size() != 2 || yield.getValues()[0].getType() != out ||
      yield.getValues()[1].getType() != state)
    return op.emitOpError() << "body must end in `linrec.yield` of the output " << out << " and the next state "
                            << state;
  return success();
}

}  // namespace

//===----------------------------------------------------------------------===//
// RecurrenceOp
//===----------------------------------------------------------------------===//

InputDeclAttr RecurrenceOp::lookupInput(StringRef name) {
  for (Attribute a : getInputs())
    if (auto d = llvm::cast<InputDeclAttr>(a); d.getName() == name) return d;
  return {};
}

ParamDeclAttr RecurrenceOp::lookupParam(StringRef name) {
  for (Attribute a : getParams())
    if (auto d = llvm::cast<ParamDeclAttr>(a); d.getName() == name) return d;
  return {};
}

int RecurrenceOp::inputIndex(StringRef name) {
  for (auto [i, a] : llvm::enumerate(getInputs()))
    if (llvm::cast<InputDeclAttr>(a).getName() == name) return static_cast<int>(i);
  return -1;
}

int RecurrenceOp::paramIndex(StringRef name) {
  for (auto [i, a] : llvm::enumerate(getParams()))
    if (llvm::cast<ParamDeclAttr>(a).getName() == name) return static_cast<int>(i);
  return -1;
}

Value RecurrenceOp::yieldedValue(Region& region) {
  if (region.empty()) return {};
  auto yield = dyn_cast<YieldOp>(region.front().getTerminator());
  return yield && yield.getValues().size() == 1 ? yield.getValues()[0] : Value();
}

LogicalResult RecurrenceOp::verifyRegions() {
  // Canonical order is what the kernel ABI passes pointers in, so it is an invariant, not a nicety.
  llvm::SmallVector<StringRef> names;
  StringRef prev;
  for (Attribute a : getInputs()) {
    StringRef n = llvm::cast<InputDeclAttr>(a).getName();
    if (!prev.empty() && n <= prev)
      return emitOpError() << "inputs must be sorted by name and unique ('" << n << "' after '" << prev << "')";
    prev = n;
    names.push_back(n);
  }
  prev = "";
  for (Attribute a : getParams()) {
    StringRef n = llvm::cast<ParamDeclAttr>(a).getName();
    if (!prev.empty() && n <= prev)
      return emitOpError() << "params must be sorted by name and unique ('" << n << "' after '" << prev << "')";
    if (llvm::is_contained(names, n)) return emitOpError() << "'" << n << "' is declared as an input and a param";
    prev = n;
  }
  for (StringRef n : names)
    if (n == "q" || n == "k" || n == "v" || n == "head")
      return emitOpError() << "'" << n << "' is reserved and cannot name an input";
  if (getQPre().empty() || getKPre().empty()) return emitOpError() << "q_pre and k_pre must not be empty";
  if (getDecay().empty() != (getDecayKind() == DecayKind::None))
    return emitOpError() << "decay region must be empty exactly when decay_kind is none (decay_kind = "
                         << stringifyDecayKind(getDecayKind()) << ")";
  for (unsigned i = 0; i < getNumRegions(); ++i)
    if (failed(verifyExpressionRegion(*this, getRegion(i), i))) return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Leaves
//===----------------------------------------------------------------------===//

LogicalResult InputOp::verify() {
  auto rec = (*this)->getParentOfType<RecurrenceOp>();
  if (!rec.lookupInput(getName()))
    return emitOpError() << "reads '" << getName() << "', which is not a declared input of @" << rec.getSymName();
  return success();
}

LogicalResult ParamOp::verify() {
  auto rec = (*this)->getParentOfType<RecurrenceOp>();
  if (!rec.lookupParam(getName()))
    return emitOpError() << "reads '" << getName() << "', which is not a declared param of @" << rec.getSymName();
  return success();
}

LogicalResult QKElemOp::verify() {
  unsigned region = (*this)->getParentRegion()->getRegionNumber();
  QK allowed = region == kQPre ? QK::Q : QK::K;
  if ((region != kQPre && region != kKPre) || getWhich() != allowed)
    return emitOpError() << "'" << stringifyQK(getWhich()) << "' cannot be read in region '" << regionName(region)
                         << "' (q_pre reads only q, k_pre only k; gates read neither)";
  return success();
}

//===----------------------------------------------------------------------===//
// FnOp
//===----------------------------------------------------------------------===//

namespace linrec::ir {

/// The value of `fn` at `x`, evaluated as the DSL's float64 reference does (dsl::applyFunction).
double evaluateFn(Fn fn, double x) {
  auto sigmoid = [](double a) { return a >= 0 ? 1.0 / (1.0 + std::exp(-a)) : std::exp(a) / (1.0 + std::exp(a)); };
  switch (fn) {
    case Fn::Sigmoid:
      return sigmoid(x);
    case Fn::LogSigmoid:
      return -(std::max(-x, 0.0) + std::log1p(std::exp(-std::fabs(x))));
    case Fn::Softplus:
      return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
    case Fn::Relu:
      return x > 0 ? x : 0.0;
    case Fn::Elu:
      return x > 0 ? x : std::expm1(x);
    case Fn::Silu:
      return x * sigmoid(x);
  }
  return x;
}

}  // namespace linrec::ir

OpFoldResult FnOp::fold(FoldAdaptor adaptor) {
  auto c = llvm::dyn_cast_if_present<FloatAttr>(adaptor.getOperand());
  if (!c) return {};
  return FloatAttr::get(getType(), static_cast<float>(evaluateFn(getFn(), c.getValueAsDouble())));
}

//===----------------------------------------------------------------------===//
// Kernels and their bodies
//===----------------------------------------------------------------------===//

LogicalResult ChunkwiseOp::verifyRegions() {
  return verifyKernelBody(*this);
}
LogicalResult StepOp::verifyRegions() {
  return verifyKernelBody(*this);
}

LogicalResult FeaturesOp::verify() {
  return expectTile(*this, getType(), expectedRows(*this), {TileDim::K}, "a result");
}

LogicalResult ValuesOp::verify() {
  return expectTile(*this, getType(), expectedRows(*this), {TileDim::V}, "a result");
}

LogicalResult GateOp::verify() {
  if (getGate() == Gate::Beta) return expectTile(*this, getType(), expectedRows(*this), {TileDim::One}, "a result");
  return expectTile(*this, getType(), expectedRows(*this), {TileDim::One, TileDim::K}, "a result");
}

LogicalResult IntraScoresOp::verify() {
  if (getLhs().getType() != getRhs().getType())
    return emitOpError() << "operands must have the same type, got " << getLhs().getType() << " and "
                         << getRhs().getType();
  if (failed(expectTile(*this, getLhs().getType(), TileDim::C, {TileDim::K}, "operands"))) return failure();
  return expectTile(*this, getType(), TileDim::C, {TileDim::C}, "a result");
}

LogicalResult SolveTrilOp::verify() {
  if (failed(expectTile(*this, getScores().getType(), TileDim::C, {TileDim::C}, "scores"))) return failure();
  return expectTile(*this, getType(), TileDim::C, {TileDim::C}, "a result");
}
