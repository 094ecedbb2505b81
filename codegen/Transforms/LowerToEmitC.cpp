// linrec-lower-to-emitc: tuned kernels + recurrence -> the EmitC translation unit of docs/kernel-abi.md.
#include <cmath>
#include <cstdio>

#include "llvm/ADT/StringSet.h"
#include "mlir/Conversion/ArithToEmitC/ArithToEmitC.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/DialectConversion.h"

#include "linrec/codegen/Dialect/Passes.h"
#include "linrec/codegen/Transforms/KernelLayout.h"

namespace linrec::ir {

#define GEN_PASS_DEF_LOWERTOEMITC
#include "linrec/codegen/Dialect/Passes.h.inc"

namespace {

using namespace mlir;

constexpr const char* kCtxType = "const linrec::kern::TokenCtx&";

//===----------------------------------------------------------------------===//
// Expression ops -> emitc
//===----------------------------------------------------------------------===//

/// An op computed by a `linrec_*` device helper of abi.cuh (numerically stable versions, one spelling).
template <class SourceOp>
struct HelperCallPattern : OpConversionPattern<SourceOp> {
  HelperCallPattern(MLIRContext* ctx, StringRef callee)
      : OpConversionPattern<SourceOp>(ctx, /*benefit=*/2), callee(callee.str()) {}
  LogicalResult matchAndRewrite(SourceOp op, typename SourceOp::Adaptor adaptor,
                                ConversionPatternRewriter& rewriter) const override {
    rewriter.replaceOpWithNewOp<emitc::CallOpaqueOp>(op, op->getResultTypes(), callee, adaptor.getOperands());
    return success();
  }
  std::string callee;
};

struct FnPattern : OpConversionPattern<FnOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(FnOp op, OpAdaptor adaptor, ConversionPatternRewriter& rewriter) const override {
    std::string callee = ("linrec_" + stringifyFn(op.getFn())).str();
    rewriter.replaceOpWithNewOp<emitc::CallOpaqueOp>(op, op.getType(), callee, adaptor.getOperands());
    return success();
  }
};

/// Leaves read the token context: `ctx_input(c, i)`, `ctx_param_vec(c, i, d)`, `ctx_q(c, d)`, ... where c
/// and d are the enclosing device function's arguments. The forwarders are emitted with the Variant
/// (translateToCpp cannot spell a member call `c.input(i)`).
template <class LeafOp>
struct LeafPattern : OpConversionPattern<LeafOp> {
  LeafPattern(MLIRContext* ctx, RecurrenceOp rec) : OpConversionPattern<LeafOp>(ctx), rec(rec) {}

  LogicalResult matchAndRewrite(LeafOp op, typename LeafOp::Adaptor,
                                ConversionPatternRewriter& rewriter) const override {
    auto func = op->template getParentOfType<emitc::FuncOp>();
    if (!func) return rewriter.notifyMatchFailure(op, "leaf outside a device function");
    Value c = func.getArgument(0);
    Value d = func.getNumArguments() > 1 ? func.getArgument(1) : Value();
    Builder b(op.getContext());
    std::string callee;
    SmallVector<Attribute> args{b.getIndexAttr(0)};
    bool perKey = false;
    if constexpr (std::is_same_v<LeafOp, InputOp>) {
      perKey = rec.lookupInput(op.getName()).getKind() == InputKind::Vector;
      callee = perKey ? "ctx_input_vec" : "ctx_input";
      args.push_back(b.getI32IntegerAttr(rec.inputIndex(op.getName())));
    } else if constexpr (std::is_same_v<LeafOp, ParamOp>) {
      perKey = rec.lookupParam(op.getName()).getKind() == ParamKind::HeadKey;
      callee = perKey ? "ctx_param_vec" : "ctx_param";
      args.push_back(b.getI32IntegerAttr(rec.paramIndex(op.getName())));
    } else if constexpr (std::is_same_v<LeafOp, QKElemOp>) {
      perKey = true;
      callee = op.getWhich() == QK::Q ? "ctx_q" : "ctx_k";
    } else {
      callee = "ctx_head";
    }
    SmallVector<Value> operands{c};
    if (perKey) {
      if (!d) return rewriter.notifyMatchFailure(op, "per-key value in a per-token function");
      operands.push_back(d);
      args.push_back(b.getIndexAttr(1));
    }
    rewriter.replaceOpWithNewOp<emitc::CallOpaqueOp>(op, TypeRange{op.getType()}, callee, operands,
                                                     b.getArrayAttr(args), ArrayAttr());
    return success();
  }
  mutable RecurrenceOp rec;  // op handles' accessors are non-const
};

//===----------------------------------------------------------------------===//
// Text pieces
//===----------------------------------------------------------------------===//

/// A float literal that round-trips through f32 ("%.9e" always has a '.' and an exponent).
std::string floatLiteral(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.9ef", static_cast<double>(static_cast<float>(v)));
  return buf;
}

const char* featureMapCpp(FeatureMapKind k) {
  switch (k) {
    case FeatureMapKind::Identity:
      return "Identity";
    case FeatureMapKind::L2Norm:
      return "L2Norm";
    case FeatureMapKind::Taylor2:
      return "Taylor2";
    case FeatureMapKind::Hedgehog:
      return "Hedgehog";
  }
  return "Identity";
}

const char* decayCpp(DecayKind k) {
  switch (k) {
    case DecayKind::None:
      return "None";
    case DecayKind::Constant:
      return "Constant";
    case DecayKind::Scalar:
      return "Scalar";
    case DecayKind::Vector:
      return "Vector";
  }
  return "None";
}

const char* dtypeCpp(DType d) {
  switch (d) {
    case DType::BF16:
      return "BF16";
    case DType::F16:
      return "FP16";
    case DType::F32:
      return "FP32";
  }
  return "BF16";
}

/// Token-context accessors as free functions (EmitC cannot spell a member call), by the name leaves lower to.
constexpr std::pair<const char*, const char*> kContextForwarders[] = {
    {"ctx_q", "__device__ __forceinline__ float ctx_q(const linrec::kern::TokenCtx& c, int d) { return c.q(d); }"},
    {"ctx_k", "__device__ __forceinline__ float ctx_k(const linrec::kern::TokenCtx& c, int d) { return c.k(d); }"},
    {"ctx_input",
     "__device__ __forceinline__ float ctx_input(const linrec::kern::TokenCtx& c, int i) { return c.input(i); }"},
    {"ctx_input_vec",
     "__device__ __forceinline__ float ctx_input_vec(const linrec::kern::TokenCtx& c, int i, int d) {\n"
     "  return c.input_vec(i, d);\n}"},
    {"ctx_param",
     "__device__ __forceinline__ float ctx_param(const linrec::kern::TokenCtx& c, int i) { return c.param(i); }"},
    {"ctx_param_vec",
     "__device__ __forceinline__ float ctx_param_vec(const linrec::kern::TokenCtx& c, int i, int d) {\n"
     "  return c.param_vec(i, d);\n}"},
    {"ctx_head", "__device__ __forceinline__ float ctx_head(const linrec::kern::TokenCtx& c) { return c.head(); }"},
};

/// The forwarders the lowered device functions call, in table order (deterministic text).
std::string usedForwarders(ArrayRef<Operation*> funcs) {
  llvm::StringSet<> used;
  for (Operation* f : funcs) f->walk([&](emitc::CallOpaqueOp call) { used.insert(call.getCallee()); });
  std::string s = "// Token-context accessors the expressions call (free functions: EmitC has no member calls).";
  for (auto [name, text] : kContextForwarders)
    if (used.contains(name)) s += std::string("\n") + text;
  return s;
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

/// One kernel op with everything the emitter needs.
struct KernelInfo {
  Operation* op;
  ProblemAttr problem;
  TuningAttr tuning;
  DecayKind decay;
  KernelTraits traits;
};

class LowerToEmitCPass : public impl::LowerToEmitCBase<LowerToEmitCPass> {
 public:
  void runOnOperation() override {
    if (failed(lower(getOperation()))) signalPassFailure();
  }

 private:
  LogicalResult lower(ModuleOp module) {
    SmallVector<RecurrenceOp> recs(module.getOps<RecurrenceOp>());
    if (recs.size() != 1)
      return emitError(module.getLoc()) << "linrec-lower-to-emitc: a translation unit holds exactly one recurrence, "
                                           "found "
                                        << recs.size();
    RecurrenceOp rec = recs.front();
    FailureOr<SmallVector<KernelInfo>> kernels = collectKernels(module, rec);
    if (failed(kernels)) return failure();
    if (failed(checkConstants(rec))) return failure();

    const KernelInfo& first = kernels->front();
    OpBuilder b(module.getContext());
    b.setInsertionPointToStart(module.getBody());
    Location loc = rec.getLoc();
    StringRef hash = rec.getHash();
    std::string hash12 = hash.size() >= 12 ? hash.substr(0, 12).str() : (hash.empty() ? "nohash" : hash.str());

    // Everything that shapes the text is in the banner; the variant's name is not (it is not part of the
    // spec hash), so equal recurrences under different names share compiled kernels.
    b.create<emitc::VerbatimOp>(
        loc, "// Generated by linrec from spec " + (hash.empty() ? std::string("-") : hash.str()) + ". Do not edit.");
    bool hasDecode = false, hasPrefill = false;
    for (const KernelInfo& k : *kernels) (k.traits.decode ? hasDecode : hasPrefill) = true;
    // 16-bit kernels evaluate their gate expressions with the fast intrinsics (abi.cuh): their error is far
    // below the inputs' rounding, and fp32 kernels keep the accurate library functions.
    bool sixteenBit = true;
    for (const KernelInfo& k : *kernels) sixteenBit = sixteenBit && k.problem.getDtype() != DType::F32;
    if (sixteenBit) b.create<emitc::VerbatimOp>(loc, "#define LINREC_FAST_EXPR 1");
    if (hasPrefill) b.create<emitc::IncludeOp>(loc, "linrec/kernel/chunk_fwd.cuh");
    if (hasDecode) b.create<emitc::IncludeOp>(loc, "linrec/kernel/decode.cuh");
    b.create<emitc::VerbatimOp>(loc, "namespace {");
    auto forwarders = b.create<emitc::VerbatimOp>(loc, "");
    b.create<emitc::VerbatimOp>(loc, variantConstants(rec, first));

    SmallVector<Operation*> exprFuncs;
    auto addFunc = [&](StringRef name, Region& region, bool perKey) {
      exprFuncs.push_back(buildExprFunc(b, rec, name, region, perKey));
    };
    addFunc("q_pre", rec.getQPre(), true);
    addFunc("k_pre", rec.getKPre(), true);
    if (first.decay != DecayKind::None) addFunc("decay", rec.getDecay(), true);
    if (first.traits.hasBeta) addFunc("beta", rec.getBeta(), false);
    b.create<emitc::VerbatimOp>(loc, "};");
    b.create<emitc::VerbatimOp>(loc, configConstants(first));
    b.create<emitc::VerbatimOp>(loc, "}  // namespace");

    if (failed(convertExpressions(rec, exprFuncs))) return failure();
    forwarders.setValue(usedForwarders(exprFuncs));

    // Kernels and the launch descriptor.
    SmallVector<Attribute> kernelEntries;
    for (const KernelInfo& k : *kernels) {
      for (const StagePlan& stage : planStages(k.traits, k.tuning)) {
        std::string name = kernelName(stage, hash12, k);
        buildKernelFunc(b, loc, name, stage, k.traits.decode);
        kernelEntries.push_back(kernelDescriptor(b, name, stage, k.tuning));
      }
    }
    module->setAttr("linrec.launch_descriptor", descriptor(b, rec, *kernels, kernelEntries));

    // The module now holds only EmitC (plus the descriptor attribute): drop the linrec ops.
    for (const KernelInfo& k : *kernels) k.op->erase();
    rec.erase();
    return success();
  }

  FailureOr<SmallVector<KernelInfo>> collectKernels(ModuleOp module, RecurrenceOp rec) {
    SmallVector<KernelInfo> kernels;
    for (Operation& op : module.getOps()) {
      if (!isa<ChunkwiseOp, StepOp>(op)) continue;
      auto problem = op.getAttrOfType<ProblemAttr>("problem");
      auto tuning = op.getAttrOfType<TuningAttr>("tuning");
      auto recName = op.getAttrOfType<FlatSymbolRefAttr>("recurrence");
      if (!problem || !tuning)
        return op.emitError() << "kernel is not tuned: run linrec-apply-tuning before linrec-lower-to-emitc";
      if (recName.getValue() != rec.getSymName())
        return op.emitError() << "kernel of @" << recName.getValue() << ", but the module's recurrence is @"
                              << rec.getSymName();
      auto decay = op.getAttrOfType<DecayKindAttr>("decay_kind").getValue();
      kernels.push_back({&op, problem, tuning, decay, kernelTraits(&op, rec, problem)});
    }
    if (kernels.empty())
      return emitError(module.getLoc()) << "linrec-lower-to-emitc: no kernels (run linrec-derive-chunkwise and "
                                           "linrec-apply-tuning first)";
    // One Variant and one Config per translation unit (docs/kernel-abi.md); the descriptor's constants
    // (BK, BV) are shared by its kernels too.
    const KernelInfo& f = kernels.front();
    for (const KernelInfo& k : kernels) {
      if (k.problem != f.problem || k.tuning != f.tuning)
        return k.op->emitError() << "kernels of one translation unit must share #linrec.problem and #linrec.tuning";
      if (k.traits.delta != f.traits.delta || k.traits.hasBeta != f.traits.hasBeta ||
          k.traits.vectorDecay != f.traits.vectorDecay || k.traits.normalize != f.traits.normalize ||
          k.decay != f.decay)
        return k.op->emitError() << "kernels of one translation unit disagree on the Variant (update rule, β, decay "
                                    "or normalizer)";
    }
    if (f.decay != DecayKind::None && rec.getDecay().empty())
      return f.op->emitError() << "kernel decays but @" << rec.getSymName() << " has no decay expression";
    if (f.traits.hasBeta && rec.getBeta().empty())
      return f.op->emitError() << "kernel reads β but @" << rec.getSymName() << " has no β expression";
    return kernels;
  }

  /// Constants the CUDA text could not spell portably (INFINITY needs <math.h>, which NVRTC lacks).
  LogicalResult checkConstants(RecurrenceOp rec) {
    WalkResult r = rec.walk([](arith::ConstantOp c) {
      auto f = llvm::dyn_cast<FloatAttr>(c.getValue());
      if (f && std::isfinite(f.getValueAsDouble())) return WalkResult::advance();
      c.emitError() << "non-finite constant in an expression (run linrec-canonicalize-exprs for a diagnosis)";
      return WalkResult::interrupt();
    });
    return failure(r.wasInterrupted());
  }

  std::string variantConstants(RecurrenceOp rec, const KernelInfo& k) {
    const KernelTraits& t = k.traits;
    std::string s = "struct Variant {\n";
    s += "  static constexpr int K = " + std::to_string(t.K) + ", V = " + std::to_string(t.V) +
         ", KF = " + std::to_string(t.KF) + ";\n";
    s += std::string("  static constexpr linrec::kern::FeatureMapKind kQMap = linrec::kern::FeatureMapKind::") +
         featureMapCpp(rec.getQMap()) + ";\n";
    s += std::string("  static constexpr linrec::kern::FeatureMapKind kKMap = linrec::kern::FeatureMapKind::") +
         featureMapCpp(rec.getKMap()) + ";\n";
    s += std::string("  static constexpr linrec::kern::DecayKind kDecay = linrec::kern::DecayKind::") +
         decayCpp(k.decay) + ";\n";
    auto boolStr = [](bool v) { return v ? "true" : "false"; };
    s += std::string("  static constexpr bool kDelta = ") + boolStr(t.delta) +
         ", kNormalize = " + boolStr(t.normalize) + ", kHasBeta = " + boolStr(t.hasBeta) + ";\n";
    // q_pre / k_pre that only read the element: with an identity map the kernels use the loaded rows as
    // they are (feature_map.cuh kRawOperand). Canonicalisation has folded anything that reduces to it.
    auto raw = [](Region& r) {
      Block& blk = r.front();
      if (blk.getOperations().size() != 2) return false;
      auto y = dyn_cast<YieldOp>(blk.back());
      return y && y.getValues().size() == 1 && y.getValues()[0].getDefiningOp<QKElemOp>() != nullptr;
    };
    s += std::string("  static constexpr bool kQRaw = ") + boolStr(raw(rec.getQPre())) +
         ", kKRaw = " + boolStr(raw(rec.getKPre())) + ";\n";
    s += "  static constexpr float kNormEps = " + floatLiteral(rec.getNormEps().convertToDouble()) + ";\n";
    s += "  static constexpr int kNumInputs = " + std::to_string(rec.getInputs().size()) +
         ", kNumParams = " + std::to_string(rec.getParams().size()) + ";\n";
    // Which inputs are per key: kernels load those ahead of the expressions (abi.cuh TokenCtx::vin).
    unsigned vec = 0;
    for (auto [i, a] : llvm::enumerate(rec.getInputs()))
      if (llvm::cast<InputDeclAttr>(a).getKind() == InputKind::Vector) vec |= 1u << i;
    s += "  static constexpr unsigned kVecInputs = " + std::to_string(vec) + "u;";
    return s;
  }

  std::string configConstants(const KernelInfo& k) {
    TuningAttr t = k.tuning;
    return "struct Config {\n  static constexpr int C = " + std::to_string(t.getChunk()) +
           ", BK = " + std::to_string(t.getBlockK()) + ", BV = " + std::to_string(t.getBlockV()) +
           ", Warps = " + std::to_string(t.getWarps()) + ", Stages = " + std::to_string(t.getStages()) +
           ";\n  static constexpr linrec::kern::DType kDType = linrec::kern::DType::" + dtypeCpp(k.problem.getDtype()) +
           ";\n};";
  }

  /// `__device__ static float name(const TokenCtx& c[, int d])` holding a clone of `region`'s ops.
  Operation* buildExprFunc(OpBuilder& b, RecurrenceOp rec, StringRef name, Region& region, bool perKey) {
    MLIRContext* ctx = b.getContext();
    SmallVector<Type> args{emitc::OpaqueType::get(ctx, kCtxType)};
    if (perKey) args.push_back(emitc::OpaqueType::get(ctx, "int"));
    auto func = b.create<emitc::FuncOp>(rec.getLoc(), name, b.getFunctionType(args, {b.getF32Type()}));
    func.setSpecifiersAttr(b.getStrArrayAttr({"__device__", "static"}));
    Block* entry = func.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(entry);
    IRMapping map;
    for (Operation& op : region.front()) {
      if (auto y = dyn_cast<YieldOp>(op)) {
        b.create<emitc::ReturnOp>(y.getLoc(), map.lookup(y.getValues()[0]));
        continue;
      }
      b.clone(op, map);
    }
    return func;
  }

  LogicalResult convertExpressions(RecurrenceOp rec, ArrayRef<Operation*> funcs) {
    MLIRContext* ctx = &getContext();
    TypeConverter types;
    types.addConversion([](Type t) { return t; });
    RewritePatternSet patterns(ctx);
    populateArithToEmitCPatterns(types, patterns);
    patterns.add<HelperCallPattern<math::ExpOp>>(ctx, "linrec_exp");
    patterns.add<HelperCallPattern<math::LogOp>>(ctx, "linrec_log");
    patterns.add<HelperCallPattern<math::Log1pOp>>(ctx, "linrec_log1p");
    patterns.add<HelperCallPattern<math::SqrtOp>>(ctx, "linrec_sqrt");
    patterns.add<HelperCallPattern<math::RsqrtOp>>(ctx, "linrec_rsqrt");
    patterns.add<HelperCallPattern<math::TanhOp>>(ctx, "linrec_tanh");
    patterns.add<HelperCallPattern<math::AbsFOp>>(ctx, "linrec_abs");
    patterns.add<HelperCallPattern<math::PowFOp>>(ctx, "linrec_pow");
    patterns.add<HelperCallPattern<arith::MinNumFOp>>(ctx, "linrec_min");
    patterns.add<HelperCallPattern<arith::MaxNumFOp>>(ctx, "linrec_max");
    patterns.add<FnPattern>(ctx);
    patterns.add<LeafPattern<InputOp>, LeafPattern<ParamOp>, LeafPattern<HeadOp>, LeafPattern<QKElemOp>>(ctx, rec);
    ConversionTarget target(*ctx);
    target.addLegalDialect<emitc::EmitCDialect>();
    target.addIllegalDialect<arith::ArithDialect, math::MathDialect, LinrecDialect>();
    // Deliberately no emitc.expression forming (form-expressions): MLIR 19's translateToCpp drops
    // parentheses when an expression's operand has lower precedence ((a + b) * c prints as a + b * c).
    // One statement per op is verbose but exact; NVRTC inlines it all anyway.
    return applyPartialConversion(funcs, target, std::move(patterns));
  }

  static std::string kernelName(const StagePlan& stage, const std::string& hash12, const KernelInfo& k) {
    TuningAttr t = k.tuning;
    std::string dtype = stringifyDType(k.problem.getDtype()).str();
    return "linrec_" + stage.tag + "_" + hash12 + "_k" + std::to_string(k.traits.K) + "_v" +
           std::to_string(k.traits.V) + "_c" + std::to_string(t.getChunk()) + "_bk" + std::to_string(t.getBlockK()) +
           "_bv" + std::to_string(t.getBlockV()) + "_w" + std::to_string(t.getWarps()) + "_s" +
           std::to_string(t.getStages()) + "_" + dtype;
  }

  /// extern "C" __global__ void __launch_bounds__(...) name(Params p) { entry<Variant, Config>(p); }
  void buildKernelFunc(OpBuilder& b, Location loc, StringRef name, const StagePlan& stage, bool decode) {
    MLIRContext* ctx = b.getContext();
    Type params = emitc::OpaqueType::get(ctx, decode ? "linrec::kern::DecodeParams" : "linrec::kern::FwdParams");
    auto func = b.create<emitc::FuncOp>(loc, name, b.getFunctionType({params}, {}));
    const std::string bounds = "__launch_bounds__(Config::Warps * 32, " + std::to_string(stage.minBlocks) + ")";
    func.setSpecifiersAttr(b.getStrArrayAttr({"extern \"C\"", "__global__", bounds}));
    Block* entry = func.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(entry);
    ArrayAttr templateArgs =
        b.getArrayAttr({emitc::OpaqueAttr::get(ctx, "Variant"), emitc::OpaqueAttr::get(ctx, "Config")});
    b.create<emitc::CallOpaqueOp>(loc, TypeRange{}, stage.entry, ValueRange{entry->getArgument(0)}, ArrayAttr(),
                                  templateArgs);
    b.create<emitc::ReturnOp>(loc, Value());
  }

  static DictionaryAttr kernelDescriptor(OpBuilder& b, StringRef name, const StagePlan& stage, TuningAttr tuning) {
    NamedAttrList grid;
    grid.append("x", b.getStringAttr(stage.grid[0]));
    grid.append("y", b.getStringAttr(stage.grid[1]));
    grid.append("z", b.getStringAttr(stage.grid[2]));
    NamedAttrList k;
    k.append("name", b.getStringAttr(name));
    k.append("stage", b.getStringAttr(stageName(stage.stage)));
    k.append("grid", grid.getDictionary(b.getContext()));
    k.append("block_threads", b.getI64IntegerAttr(stage.threads > 0 ? stage.threads : tuning.getWarps() * 32));
    k.append("smem_bytes", b.getI64IntegerAttr(stage.smemBytes));
    if (stage.programmatic) k.append("programmatic", b.getBoolAttr(true));
    if (stage.leads) k.append("leads", b.getBoolAttr(true));
    return k.getDictionary(b.getContext());
  }

  /// The launch descriptor (runtime LaunchDescriptor::fromJson) as a dictionary attribute.
  static DictionaryAttr descriptor(OpBuilder& b, RecurrenceOp rec, ArrayRef<KernelInfo> kernels,
                                   ArrayRef<Attribute> kernelEntries) {
    const KernelInfo& f = kernels.front();
    bool hasPrefill = llvm::any_of(kernels, [](const KernelInfo& k) { return !k.traits.decode; });
    NamedAttrList d;
    d.append("version", b.getI64IntegerAttr(1));
    d.append("name", b.getStringAttr(rec.getSymName()));
    d.append("spec_hash", b.getStringAttr(rec.getHash()));
    d.append("dtype", b.getStringAttr(stringifyDType(f.problem.getDtype())));
    d.append("K", b.getI64IntegerAttr(f.traits.K));
    d.append("V", b.getI64IntegerAttr(f.traits.V));
    d.append("KF", b.getI64IntegerAttr(f.traits.KF));
    if (hasPrefill) {
      d.append("chunk", b.getI64IntegerAttr(f.tuning.getChunk()));
      d.append("strategy", b.getStringAttr(stringifyStrategy(f.tuning.getStrategy())));
    }
    d.append("normalize", b.getBoolAttr(f.traits.normalize));
    if (std::optional<APFloat> scale = rec.getScale()) d.append("scale", b.getF64FloatAttr(scale->convertToDouble()));
    SmallVector<Attribute> inputs, params;
    for (Attribute a : rec.getInputs()) {
      auto in = llvm::cast<InputDeclAttr>(a);
      inputs.push_back(
          b.getDictionaryAttr({b.getNamedAttr("name", b.getStringAttr(in.getName())),
                               b.getNamedAttr("kind", b.getStringAttr(stringifyInputKind(in.getKind())))}));
    }
    for (Attribute a : rec.getParams()) {
      auto p = llvm::cast<ParamDeclAttr>(a);
      params.push_back(b.getDictionaryAttr({b.getNamedAttr("name", b.getStringAttr(p.getName())),
                                            b.getNamedAttr("kind", b.getStringAttr(stringifyParamKind(p.getKind())))}));
    }
    d.append("inputs", b.getArrayAttr(inputs));
    d.append("params", b.getArrayAttr(params));
    d.append("arch_specific", b.getBoolAttr(false));
    d.append("constants", b.getDictionaryAttr({b.getNamedAttr("BK", b.getI64IntegerAttr(f.tuning.getBlockK())),
                                               b.getNamedAttr("BV", b.getI64IntegerAttr(f.tuning.getBlockV()))}));
    d.append("workspace_bytes", b.getStringAttr(hasPrefill ? workspaceFormula(f.traits, f.tuning) : "0"));
    d.append("kernels", b.getArrayAttr(kernelEntries));
    return d.getDictionary(b.getContext());
  }
};

}  // namespace

}  // namespace linrec::ir
