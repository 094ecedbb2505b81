// linrec-canonicalize-exprs: fold the recurrence's expressions, then classify the decay and β by shape.
#include <cmath>

#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "linrec/codegen/Dialect/Passes.h"

namespace linrec::ir {

#define GEN_PASS_DEF_CANONICALIZEEXPRS
#include "linrec/codegen/Dialect/Passes.h.inc"

namespace {

using namespace mlir;

/// How an expression varies, from the leaves it reads (DESIGN.md §1: per head at least, maybe per token,
/// maybe per key index). `vectorLeaf` is the first leaf that makes it a vector, for diagnostics.
struct ExprShape {
  bool perToken = false;
  bool vector = false;
  Operation* vectorLeaf = nullptr;
};

ExprShape shapeOf(Region& region, RecurrenceOp rec) {
  ExprShape s;
  auto markVector = [&](Operation* op) {
    if (!s.vector) s.vectorLeaf = op;
    s.vector = true;
  };
  region.walk([&](Operation* op) {
    if (auto in = dyn_cast<InputOp>(op)) {
      s.perToken = true;
      if (InputDeclAttr d = rec.lookupInput(in.getName()); d && d.getKind() == InputKind::Vector) markVector(op);
    } else if (auto p = dyn_cast<ParamOp>(op)) {
      if (ParamDeclAttr d = rec.lookupParam(p.getName()); d && d.getKind() == ParamKind::HeadKey) markVector(op);
    } else if (isa<QKElemOp>(op)) {
      s.perToken = true;
      markVector(op);
    }
  });
  return s;
}

/// The constant a region yields, if it folded to one.
std::optional<double> yieldedConstant(Region& region) {
  Value v = RecurrenceOp::yieldedValue(region);
  if (!v) return std::nullopt;
  auto c = v.getDefiningOp<arith::ConstantOp>();
  if (!c) return std::nullopt;
  return llvm::cast<FloatAttr>(c.getValue()).getValueAsDouble();
}

void clearRegion(Region& region) {
  for (Block& b : region) b.dropAllDefinedValueUses();
  region.getBlocks().clear();
}

class CanonicalizeExprsPass : public impl::CanonicalizeExprsBase<CanonicalizeExprsPass> {
 public:
  void runOnOperation() override {
    // Only folding (op folders, dead-op removal) and CSE: every rewrite keeps IEEE values bit-exact,
    // so the expressions mean exactly what the float64 reference evaluates.
    FrozenRewritePatternSet noPatterns{RewritePatternSet(&getContext())};
    GreedyRewriteConfig config;
    config.useTopDownTraversal = true;
    config.enableRegionSimplification = GreedySimplifyRegionLevel::Disabled;

    WalkResult r = getOperation().walk([&](RecurrenceOp rec) {
      for (Region& region : rec->getRegions())
        if (!region.empty()) (void)applyPatternsAndFoldGreedily(region, noPatterns, config);
      IRRewriter rewriter(&getContext());
      DominanceInfo dom(rec);
      eliminateCommonSubExpressions(rewriter, dom, rec);
      return succeeded(classify(rec)) ? WalkResult::advance() : WalkResult::interrupt();
    });
    if (r.wasInterrupted()) signalPassFailure();
  }

 private:
  LogicalResult classify(RecurrenceOp rec) {
    // Constants the kernels could not evaluate (log(0) = -inf, 0/0) are errors here rather than an
    // INFINITY in the CUDA source.
    WalkResult nonFinite = rec.walk([&](arith::ConstantOp c) {
      double v = llvm::cast<FloatAttr>(c.getValue()).getValueAsDouble();
      if (std::isfinite(v)) return WalkResult::advance();
      const char* what = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
      c.emitError() << "expression folds to a non-finite constant (" << what << "); the kernels cannot evaluate it";
      return WalkResult::interrupt();
    });
    if (nonFinite.wasInterrupted()) return failure();

    Region& decay = rec.getDecay();
    if (!decay.empty()) {
      ExprShape s = shapeOf(decay, rec);
      std::optional<double> c = yieldedConstant(decay);
      if (c && *c == 0.0) {
        clearRegion(decay);  // g = 0: α = 1 everywhere, i.e. no decay at all.
        rec.setDecayKind(DecayKind::None);
      } else if (s.vector) {
        rec.setDecayKind(DecayKind::Vector);
      } else {
        rec.setDecayKind(s.perToken ? DecayKind::Scalar : DecayKind::Constant);
      }
    } else {
      rec.setDecayKind(DecayKind::None);
    }

    Region& beta = rec.getBeta();
    if (!beta.empty()) {
      ExprShape s = shapeOf(beta, rec);
      if (s.vector) {
        InFlightDiagnostic d = emitError(RecurrenceOp::yieldedValue(beta).getLoc())
                               << "β must be a scalar per token, but this expression varies over the key index";
        d.attachNote(s.vectorLeaf->getLoc()) << "it reads a per-key value here";
        return d;
      }
      if (std::optional<double> c = yieldedConstant(beta); c && *c == 1.0) clearRegion(beta);
    }
    return success();
  }
};

}  // namespace

}  // namespace linrec::ir
