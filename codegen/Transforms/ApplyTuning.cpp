// linrec-apply-tuning: specialise kernels to (K, V, dtype) and a TuningConfig, and check that they fit.
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include "linrec/codegen/Dialect/Passes.h"
#include "linrec/codegen/Transforms/KernelLayout.h"

namespace linrec::ir {

#define GEN_PASS_DEF_APPLYTUNING
#include "linrec/codegen/Dialect/Passes.h.inc"

namespace {

using namespace mlir;

template <class KernelOp>
LogicalResult tune(KernelOp op, ProblemAttr problem, TuningAttr tuning, int64_t smemLimit) {
  auto rec = SymbolTable::lookupNearestSymbolFrom<RecurrenceOp>(op, op.getRecurrenceAttr());
  if (!rec) return op.emitOpError() << "refers to @" << op.getRecurrence() << ", which is not a linrec.recurrence";
  KernelTraits traits = kernelTraits(op, rec, problem);
  for (const StagePlan& stage : planStages(traits, tuning))
    if (stage.smemBytes > smemLimit)
      return op.emitError() << "tuning " << tuning << " needs " << stage.smemBytes << " bytes of shared memory in its "
                            << stageName(stage.stage) << " kernel (K = " << traits.K << ", K' = " << traits.KF
                            << "), more than the limit of " << smemLimit << " (reduce chunk or block_v)";
  op.setProblemAttr(problem);
  op.setTuningAttr(tuning);
  return success();
}

class ApplyTuningPass : public impl::ApplyTuningBase<ApplyTuningPass> {
 public:
  using ApplyTuningBase::ApplyTuningBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitErr = [&]() { return emitError(module.getLoc()) << "linrec-apply-tuning: "; };
    std::optional<DType> dt = symbolizeDType(dtype);
    if (!dt) {
      emitErr() << "unknown dtype '" << dtype << "' (expected bf16, fp16 or fp32)";
      return signalPassFailure();
    }
    std::optional<Strategy> st = symbolizeStrategy(strategy);
    if (!st) {
      emitErr() << "unknown strategy '" << strategy << "' (expected fused or state_passing)";
      return signalPassFailure();
    }
    ProblemAttr problem = ProblemAttr::getChecked(emitErr, &getContext(), int64_t(headK), int64_t(headV), *dt);
    TuningAttr tuning = TuningAttr::getChecked(emitErr, &getContext(), int64_t(chunk), int64_t(blockK), int64_t(blockV),
                                               int64_t(warps), int64_t(stages), *st);
    if (!problem || !tuning) return signalPassFailure();

    for (Operation& op : module.getOps()) {
      LogicalResult r = success();
      if (auto c = dyn_cast<ChunkwiseOp>(op)) r = tune(c, problem, tuning, smemLimit);
      if (auto s = dyn_cast<StepOp>(op)) r = tune(s, problem, tuning, smemLimit);
      if (failed(r)) return signalPassFailure();
    }
  }
};

}  // namespace

}  // namespace linrec::ir
