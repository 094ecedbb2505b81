// linrec-derive-chunkwise: the chunkwise (prefill) and recurrent (decode) kernels of each recurrence.
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include "linrec/codegen/Dialect/Passes.h"

namespace linrec::ir {

#define GEN_PASS_DEF_DERIVECHUNKWISE
#include "linrec/codegen/Dialect/Passes.h.inc"

namespace {

using namespace mlir;

/// Most declared inputs / params the kernel ABI passes (FwdParams::inputs / params, docs/kernel-abi.md).
constexpr size_t kMaxInputs = 8;
constexpr size_t kMaxParams = 8;

bool changesWidth(FeatureMapKind k) {
  return k == FeatureMapKind::Taylor2 || k == FeatureMapKind::Hedgehog;
}

/// Constructs no kernel implements, reported before any kernel is built.
LogicalResult checkLowerable(RecurrenceOp rec) {
  if (rec.getInputs().size() > kMaxInputs)
    return rec.emitError() << "@" << rec.getSymName() << " declares " << rec.getInputs().size()
                           << " inputs; the kernel ABI passes at most " << kMaxInputs;
  if (rec.getParams().size() > kMaxParams)
    return rec.emitError() << "@" << rec.getSymName() << " declares " << rec.getParams().size()
                           << " params; the kernel ABI passes at most " << kMaxParams;
  if (featureWidth(rec.getQMap(), 16) != featureWidth(rec.getKMap(), 16))
    return rec.emitError() << "q and k feature maps have different widths (q: "
                           << stringifyFeatureMapKind(rec.getQMap())
                           << ", k: " << stringifyFeatureMapKind(rec.getKMap())
                           << "); the state's rows are indexed by both";
  if (rec.getDecayKind() == DecayKind::Vector && changesWidth(rec.getKMap())) {
    Value g = RecurrenceOp::yieldedValue(rec.getDecay());
    return emitError(g ? g.getLoc() : rec.getLoc())
           << "a vector decay varies over the key width K, but the " << stringifyFeatureMapKind(rec.getKMap())
           << " feature map gives the state " << (rec.getKMap() == FeatureMapKind::Hedgehog ? "2K" : "1+K+K²")
           << " rows; no kernel can apply it (use a scalar decay)";
  }
  if (rec.getNormalize() && rec.getRule() == UpdateRule::Delta)
    return rec.emitError() << "the normalizer (readout.normalize) is defined for the additive rule only; the "
                              "delta rule's state is not a sum of keys";
  return success();
}

/// Builds kernel bodies with the symbolic tile types of one kernel form.
class BodyBuilder {
 public:
  BodyBuilder(OpBuilder& b, Location loc, RecurrenceOp rec, TileDim rows)
      : b_(b), loc_(loc), rec_(rec), rows_(rows), f32_(b.getF32Type()) {}

  TileType tile(TileDim r, TileDim c) { return TileType::get(b_.getContext(), r, c, f32_); }

  struct Loads {
    Value q, k, v, g, beta;
  };

  Loads loads() {
    Loads l;
    l.q = b_.create<FeaturesOp>(loc_, tile(rows_, TileDim::K), QK::Q);
    l.k = b_.create<FeaturesOp>(loc_, tile(rows_, TileDim::K), QK::K);
    l.v = b_.create<ValuesOp>(loc_, tile(rows_, TileDim::V));
    if (rec_.getDecayKind() != DecayKind::None) {
      TileDim cols = rec_.getDecayKind() == DecayKind::Vector ? TileDim::K : TileDim::One;
      l.g = b_.create<GateOp>(loc_, tile(rows_, cols), Gate::Decay);
    }
    if (!rec_.getBeta().empty()) l.beta = b_.create<GateOp>(loc_, tile(rows_, TileDim::One), Gate::Beta);
    return l;
  }

  /// DESIGN.md §3: additive and delta (WY/UT) chunkwise forms.
  void chunkwise(Value state) {
    Loads l = loads();
    Value b = l.g ? b_.create<CumsumDecayOp>(loc_, l.g.getType(), l.g).getResult() : Value();
    Value values;
    if (rec_.getRule() == UpdateRule::Delta) {
      Value akk = b_.create<IntraScoresOp>(loc_, tile(TileDim::C, TileDim::C), l.k, l.k, b, ScoreMask::Strict);
      Value t = b_.create<SolveTrilOp>(loc_, tile(TileDim::C, TileDim::C), akk, l.beta);
      auto wy =
          b_.create<WYOp>(loc_, tile(TileDim::C, TileDim::K), tile(TileDim::C, TileDim::V), t, l.k, l.v, l.beta, b);
      values = b_.create<CorrectValuesOp>(loc_, tile(TileDim::C, TileDim::V), wy.getU(), wy.getW(), state);
    } else {
      values = l.beta ? b_.create<ScaleRowsOp>(loc_, l.v.getType(), l.v, l.beta).getResult() : l.v;
    }
    Value aqk = b_.create<IntraScoresOp>(loc_, tile(TileDim::C, TileDim::C), l.q, l.k, b, ScoreMask::Inclusive);
    Value o = b_.create<OutputOp>(loc_, tile(TileDim::C, TileDim::V), l.q, state, aqk, values, b);
    Value next = b_.create<StateUpdateOp>(loc_, state.getType(), state, l.k, values, b);
    b_.create<YieldOp>(loc_, ValueRange{o, next});
  }

  /// DESIGN.md §1 for one token.
  void step(Value state) {
    Loads l = loads();
    Value s = l.g ? b_.create<DecayStateOp>(loc_, state.getType(), state, l.g).getResult() : state;
    Value u;
    if (rec_.getRule() == UpdateRule::Delta)
      u = b_.create<DeltaValuesOp>(loc_, l.v.getType(), s, l.k, l.v, l.beta);
    else
      u = l.beta ? b_.create<ScaleRowsOp>(loc_, l.v.getType(), l.v, l.beta).getResult() : l.v;
    Value next = b_.create<Rank1UpdateOp>(loc_, state.getType(), s, l.k, u);
    Value o = b_.create<ReadoutOp>(loc_, tile(TileDim::One, TileDim::V), next, l.q);
    b_.create<YieldOp>(loc_, ValueRange{o, next});
  }

 private:
  OpBuilder& b_;
  Location loc_;
  RecurrenceOp rec_;
  TileDim rows_;
  Type f32_;
};

template <class KernelOp>
void buildKernel(OpBuilder& b, RecurrenceOp rec, StringRef suffix) {
  Location loc = rec.getLoc();
  auto op = b.create<KernelOp>(
      loc, b.getStringAttr((rec.getSymName() + suffix).str()), FlatSymbolRefAttr::get(rec.getSymNameAttr()),
      UpdateRuleAttr::get(b.getContext(), rec.getRule()), DecayKindAttr::get(b.getContext(), rec.getDecayKind()),
      rec.getNormalize() ? b.getUnitAttr() : UnitAttr(), ProblemAttr(), TuningAttr());
  OpBuilder::InsertionGuard guard(b);
  Block* body = b.createBlock(&op.getBody());
  auto stateType = TileType::get(b.getContext(), TileDim::K, TileDim::V, b.getF32Type());
  Value state = body->addArgument(stateType, loc);
  constexpr bool isStep = std::is_same_v<KernelOp, StepOp>;
  BodyBuilder bb(b, loc, rec, isStep ? TileDim::One : TileDim::C);
  if constexpr (isStep)
    bb.step(state);
  else
    bb.chunkwise(state);
}

class DeriveChunkwisePass : public impl::DeriveChunkwiseBase<DeriveChunkwisePass> {
 public:
  using DeriveChunkwiseBase::DeriveChunkwiseBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool prefill = mode == "prefill" || mode == "all";
    bool decode = mode == "decode" || mode == "all";
    if (!prefill && !decode) {
      emitError(module.getLoc()) << "linrec-derive-chunkwise: unknown mode '" << mode
                                 << "' (expected prefill, decode or all)";
      return signalPassFailure();
    }
    SymbolTable symbols(module);
    llvm::SmallVector<RecurrenceOp> recs(module.getOps<RecurrenceOp>());
    for (RecurrenceOp rec : recs) {
      if (failed(checkLowerable(rec))) return signalPassFailure();
      for (StringRef suffix : {StringRef("_prefill"), StringRef("_decode")}) {
        if (symbols.lookup((rec.getSymName() + suffix).str())) {
          rec.emitError() << "@" << rec.getSymName() << suffix << " already exists (derived twice?)";
          return signalPassFailure();
        }
      }
      OpBuilder b(rec->getContext());
      b.setInsertionPointAfter(rec);
      // Decode first so that, after both insertions, the module reads recurrence, prefill, decode.
      if (decode) buildKernel<StepOp>(b, rec, "_decode");
      b.setInsertionPointAfter(rec);
      if (prefill) buildKernel<ChunkwiseOp>(b, rec, "_prefill");
    }
  }
};

}  // namespace

}  // namespace linrec::ir
