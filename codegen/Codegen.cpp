// generate(): Spec + TuningConfig -> CUDA source + launch descriptor, and the pass pipeline it runs.
#include "linrec/codegen/Codegen.h"

#include <algorithm>
#include <optional>

#include "llvm/Support/raw_ostream.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include "linrec/codegen/Dialect/Passes.h"
#include "linrec/codegen/Emit/EmitCuda.h"
#include "linrec/codegen/Import/ImportSpec.h"

namespace linrec {

namespace ir {

void registerLinrecDialects(mlir::DialectRegistry& registry) {
  registry.insert<LinrecDialect, mlir::arith::ArithDialect, mlir::math::MathDialect, mlir::emitc::EmitCDialect>();
}

void buildLinrecPipeline(mlir::OpPassManager& pm, const PipelineOptions& options) {
  pm.addPass(createCanonicalizeExprs());
  pm.addPass(createDeriveChunkwise(DeriveChunkwiseOptions{options.mode}));
  pm.addPass(createApplyTuning(options.tuning));
  pm.addPass(createLowerToEmitC());
}

}  // namespace ir

namespace codegen {

const char* modeName(Mode m) {
  return m == Mode::Prefill ? "prefill" : "decode";
}

const char* dtypeName(DType d) {
  switch (d) {
    case DType::BF16:
      return "bf16";
    case DType::FP16:
      return "fp16";
    case DType::FP32:
      return "fp32";
  }
  return "bf16";
}

const char* strategyName(Strategy s) {
  return s == Strategy::Fused ? "fused" : "state_passing";
}

namespace {

/// Formats diagnostics as `file:line:col: error: message`, notes indented below.
class DiagnosticCollector {
 public:
  explicit DiagnosticCollector(mlir::MLIRContext& ctx)
      : handler_(&ctx, [this](mlir::Diagnostic& d) {
          append(d, 0);
          return mlir::success();
        }) {}

  std::string text() const { return text_.empty() ? "linrec codegen failed without a diagnostic" : text_; }

 private:
  void append(mlir::Diagnostic& d, int depth) {
    llvm::raw_string_ostream os(text_);
    if (!text_.empty()) os << "\n";
    os.indent(depth * 2);
    if (auto loc = llvm::dyn_cast<mlir::FileLineColLoc>(d.getLocation())) {
      os << loc.getFilename().getValue();
      if (loc.getLine() > 0) os << ":" << loc.getLine() << ":" << loc.getColumn();
      os << ": ";
    }
    switch (d.getSeverity()) {
      case mlir::DiagnosticSeverity::Error:
        os << "error: ";
        break;
      case mlir::DiagnosticSeverity::Warning:
        os << "warning: ";
        break;
      case mlir::DiagnosticSeverity::Note:
        os << "note: ";
        break;
      case mlir::DiagnosticSeverity::Remark:
        os << "remark: ";
        break;
    }
    os << d.str();
    for (mlir::Diagnostic& note : d.getNotes()) append(note, depth + 1);
  }

  std::string text_;
  mlir::ScopedDiagnosticHandler handler_;
};

llvm::Error fail(const std::string& message) {
  return llvm::make_error<llvm::StringError>(message, llvm::inconvertibleErrorCode());
}

ir::PipelineOptions pipelineOptions(const HeadDims& dims, const TuningConfig& config, Mode mode, DType dtype) {
  ir::PipelineOptions o;
  o.mode = modeName(mode);
  o.tuning.headK = dims.K;
  o.tuning.headV = dims.V;
  o.tuning.dtype = dtypeName(dtype);
  o.tuning.chunk = config.chunk;
  o.tuning.blockK = config.block_k;
  o.tuning.blockV = config.block_v;
  o.tuning.warps = config.warps;
  o.tuning.stages = config.stages;
  o.tuning.strategy = strategyName(config.strategy);
  o.tuning.smemLimit = config.smem_limit;
  return o;
}

/// One compilation: a fresh single-threaded context (no thread pool per call; nothing shared between
/// calls, so generate() is safe to call from several threads at once).
struct Compilation {
  Compilation() : ctx(makeRegistry(), mlir::MLIRContext::Threading::DISABLED), diags(ctx) {
    ctx.loadAllAvailableDialects();
    // Diagnostics name the construct and its TOML location; an IR dump of the failing op is noise to a
    // user who wrote a TOML file (generateMlir/linrec-opt show the IR on request).
    ctx.printOpOnDiagnostic(false);
    module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
  }
  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry r;
    ir::registerLinrecDialects(r);
    return r;
  }
  /// Imports the spec and runs the pipeline up to `stage` (all of it when empty).
  mlir::LogicalResult run(const dsl::Spec& spec, const ir::PipelineOptions& options, const std::string& stage) {
    if (mlir::failed(ir::importSpec(spec, *module))) return mlir::failure();
    if (stage == "import") return mlir::success();
    mlir::PassManager pm(&ctx);
    if (stage.empty()) {
      ir::buildLinrecPipeline(pm, options);
      return pm.run(*module);
    }
    pm.addPass(ir::createCanonicalizeExprs());
    if (stage != "canonicalize") pm.addPass(ir::createDeriveChunkwise(ir::DeriveChunkwiseOptions{options.mode}));
    if (stage != "canonicalize" && stage != "chunkwise") pm.addPass(ir::createApplyTuning(options.tuning));
    if (stage == "emitc") pm.addPass(ir::createLowerToEmitC());
    return pm.run(*module);
  }

  mlir::MLIRContext ctx;
  DiagnosticCollector diags;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

}  // namespace

llvm::Expected<GeneratedKernel> generate(const dsl::Spec& spec, const HeadDims& dims, const TuningConfig& config,
                                         Mode mode, DType dtype) {
  Compilation c;
  if (mlir::failed(c.run(spec, pipelineOptions(dims, config, mode, dtype), ""))) return fail(c.diags.text());
  GeneratedKernel out;
  llvm::raw_string_ostream os(out.source);
  if (mlir::failed(ir::translateToCuda(*c.module, os))) return fail(c.diags.text());
  mlir::FailureOr<std::string> json = ir::launchDescriptorJson(*c.module);
  if (mlir::failed(json)) return fail(c.diags.text());
  out.descriptor_json = std::move(*json);
  out.kernel_names = ir::kernelNames(*c.module);
  return out;
}

llvm::Expected<std::string> generateMlir(const dsl::Spec& spec, const HeadDims& dims, const TuningConfig& config,
                                         Mode mode, DType dtype, const std::string& stage) {
  static const char* const kStages[] = {"import", "canonicalize", "chunkwise", "tuned", "emitc"};
  if (std::find(std::begin(kStages), std::end(kStages), stage) == std::end(kStages))
    return fail("unknown stage '" + stage + "' (expected import, canonicalize, chunkwise, tuned or emitc)");
  Compilation c;
  if (mlir::failed(c.run(spec, pipelineOptions(dims, config, mode, dtype), stage))) return fail(c.diags.text());
  std::string text;
  llvm::raw_string_ostream os(text);
  c.module->print(os);
  return text;
}

bool prefersNarrowChunkDefault(const dsl::Spec& spec, Mode mode, DType dtype) {
  return mode == Mode::Prefill && dtype != DType::FP32 && spec.rule == dsl::UpdateRule::Delta &&
         spec.decay != dsl::DecayKind::Vector;
}

std::optional<TuningConfig> wideFusedDefault(const dsl::Spec& spec, Mode mode, DType dtype) {
  const auto rowMap = [](const dsl::FeatureMap& m) {
    return m.kind == dsl::FeatureMap::Kind::Identity || m.kind == dsl::FeatureMap::Kind::L2Norm;
  };
  if (!(mode == Mode::Prefill && dtype == DType::BF16 && spec.rule == dsl::UpdateRule::Additive &&
        spec.decay == dsl::DecayKind::Vector && !spec.normalize && rowMap(spec.q_map) && rowMap(spec.k_map)))
    return std::nullopt;
  TuningConfig c;
  c.chunk = 64;
  c.block_v = 128;
  c.warps = 8;
  return c;
}

void applyDefaultTiles(TuningConfig& config, const TuningConfig& chosen, bool keep_warps) {
  config.chunk = chosen.chunk;
  config.block_v = chosen.block_v;
  if (!keep_warps) config.warps = chosen.warps;
}

llvm::Expected<TuningConfig> defaultConfig(const dsl::Spec& spec, const HeadDims& dims, Mode mode, DType dtype,
                                           int64_t smem_limit) {
  // Largest tiles first: they amortize the state load best; smaller ones only when shared memory forces it
  // (wide feature maps such as taylor2 or hedgehog at large K).
  static const int kTiles[][2] = {{64, 64}, {64, 32}, {32, 64}, {32, 32}, {16, 32}, {32, 16}, {16, 16}};
  static const int kNarrowTiles[][2] = {{32, 64}, {64, 64}, {64, 32}, {32, 32}, {16, 32}, {32, 16}, {16, 16}};
  std::string last;
  auto attempt = [&](int chunk, int block_v, int warps) -> std::optional<TuningConfig> {
    TuningConfig c;
    c.chunk = chunk;
    c.block_v = block_v;
    c.warps = warps;
    c.smem_limit = smem_limit;
    auto gen = generate(spec, dims, c, mode, dtype);
    if (gen) return c;
    last = llvm::toString(gen.takeError());
    return std::nullopt;
  };
  if (auto w = wideFusedDefault(spec, mode, dtype))
    if (auto c = attempt(w->chunk, w->block_v, w->warps)) return *c;
  for (const auto& t : prefersNarrowChunkDefault(spec, mode, dtype) ? kNarrowTiles : kTiles)
    if (auto c = attempt(t[0], t[1], TuningConfig{}.warps)) return *c;
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "no tile configuration fits (K = %d, V = %d); the smallest tried failed with:\n%s",
                                 dims.K, dims.V, last.c_str());
}

}  // namespace codegen

}  // namespace linrec
