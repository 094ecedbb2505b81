// generate(): every variant compiles, output is deterministic, and unlowerable input gets a diagnostic.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "linrec/codegen/Codegen.h"
#include "linrec/dsl/Parser.h"

#ifdef LINREC_HAVE_RUNTIME
#include "linrec/kernel/layout.cuh"
#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/runtime/NvrtcCompiler.h"
#endif

namespace linrec::codegen {
namespace {

namespace fs = std::filesystem;

dsl::Spec parse(const std::string& toml) {
  dsl::ParseResult r = dsl::parseSpec(toml, "test.toml");
  EXPECT_TRUE(r.ok()) << r.errorText();
  return r.ok() ? *r.spec : dsl::Spec{};
}

dsl::Spec variant(const std::string& name) {
  dsl::ParseResult r = dsl::parseSpecFile(std::string(LINREC_SOURCE_DIR) + "/variants/" + name + ".toml");
  EXPECT_TRUE(r.ok()) << r.errorText();
  return r.ok() ? *r.spec : dsl::Spec{};
}

/// The error text of a generate() call that must fail.
std::string errorOf(const dsl::Spec& spec, const TuningConfig& cfg, Mode mode = Mode::Prefill, HeadDims dims = {}) {
  llvm::Expected<GeneratedKernel> k = generate(spec, dims, cfg, mode, DType::BF16);
  if (k) {
    ADD_FAILURE() << "generate() succeeded but should have failed";
    return "";
  }
  return llvm::toString(k.takeError());
}

std::vector<std::string> variantNames() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(std::string(LINREC_SOURCE_DIR) + "/variants"))
    if (e.path().extension() == ".toml") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

const char* kGdn = R"toml(
[variant]
name = "gdn"
[inputs]
a = "scalar"
b = "scalar"
[params]
A_log = "head"
dt_bias = "head"
[feature_map]
q = "l2norm"
k = "l2norm"
[decay]
log = "-exp(A_log) * softplus(a + dt_bias)"
[update]
rule = "delta"
beta = "sigmoid(b)"
)toml";

TEST(Codegen, SameSpecAndConfigGiveByteIdenticalOutput) {
  dsl::Spec spec = parse(kGdn);
  TuningConfig cfg;
  auto a = generate(spec, {}, cfg, Mode::Prefill, DType::BF16);
  auto b = generate(spec, {}, cfg, Mode::Prefill, DType::BF16);
  ASSERT_TRUE(bool(a)) << llvm::toString(a.takeError());
  ASSERT_TRUE(bool(b)) << llvm::toString(b.takeError());
  EXPECT_EQ(a->source, b->source);
  EXPECT_EQ(a->descriptor_json, b->descriptor_json);
  EXPECT_EQ(a->kernel_names, b->kernel_names);
}

TEST(Codegen, EquivalentSpellingsGiveTheSameSource) {
  // Different key order, whitespace, comments and variant name: the same recurrence.
  std::string other = R"toml(
[variant]
name = "renamed"   # the name is informational
[update]
beta = "sigmoid( b )"
rule = "delta"
[decay]
log = "-exp(A_log)*softplus(a+dt_bias)"
[feature_map]
k = "l2norm"
q = "l2norm"
[params]
dt_bias = "head"
A_log = "head"
[inputs]
b = "scalar"
a = "scalar"
)toml";
  auto a = generate(parse(kGdn), {}, {}, Mode::Prefill, DType::BF16);
  auto b = generate(parse(other), {}, {}, Mode::Prefill, DType::BF16);
  ASSERT_TRUE(bool(a)) << llvm::toString(a.takeError());
  ASSERT_TRUE(bool(b)) << llvm::toString(b.takeError());
  EXPECT_EQ(a->source, b->source);
  EXPECT_EQ(a->kernel_names, b->kernel_names);
}

TEST(Codegen, SourceFollowsTheKernelAbi) {
  auto k = generate(parse(kGdn), {128, 128}, {}, Mode::Prefill, DType::BF16);
  ASSERT_TRUE(bool(k)) << llvm::toString(k.takeError());
  const std::string& s = k->source;
  EXPECT_NE(s.find("#include \"linrec/kernel/chunk_fwd.cuh\""), std::string::npos);
  EXPECT_NE(s.find("static constexpr linrec::kern::DecayKind kDecay = linrec::kern::DecayKind::Scalar;"),
            std::string::npos);
  EXPECT_NE(s.find("static constexpr bool kDelta = true, kNormalize = false, kHasBeta = true;"), std::string::npos);
  EXPECT_NE(s.find("__device__ static float decay(const linrec::kern::TokenCtx& v1, int v2)"), std::string::npos);
  EXPECT_NE(s.find("linrec_softplus("), std::string::npos);  // the variant's expression, inlined
  EXPECT_NE(s.find("linrec::kern::chunk_fwd_fused<Variant, Config>(v1);"), std::string::npos);
  // A delta rule on the register-state kernel: the WY prep first (layout.cuh fused_regs_applies).
  EXPECT_NE(s.find("linrec::kern::chunk_fwd_wy<Variant, Config>(v1);"), std::string::npos);
  ASSERT_EQ(k->kernel_names.size(), 2u);
  const std::string tail = parse(kGdn).hash().substr(0, 12) + "_k128_v128_c64_bk128_bv64_w4_s2_bf16";
  EXPECT_EQ(k->kernel_names[0].rfind("linrec_wy_" + tail, 0), 0u);
  EXPECT_EQ(k->kernel_names[1].rfind("linrec_fwd_" + tail, 0), 0u);
  for (const std::string& name : k->kernel_names)
    EXPECT_NE(s.find("extern \"C\" __global__ __launch_bounds__(Config::Warps * 32, 1) void " + name),
              std::string::npos);
}

/// kQRaw / kKRaw say whether q_pre / k_pre only read the element (the kernels then skip the identity
/// map's pass); a pre-activation such as elu + 1 is not raw.
TEST(Codegen, RawOperandFlagsFollowThePreActivations) {
  auto plain = generate(variant("simple_gla"), {}, {}, Mode::Prefill, DType::BF16);
  ASSERT_TRUE(bool(plain)) << llvm::toString(plain.takeError());
  EXPECT_NE(plain->source.find("static constexpr bool kQRaw = true, kKRaw = true;"), std::string::npos);
  auto elu = generate(parse(R"toml(
[variant]
name = "elu_q"
[feature_map]
q = "elu1"
[update]
rule = "additive"
)toml"),
                      {}, {}, Mode::Prefill, DType::BF16);
  ASSERT_TRUE(bool(elu)) << llvm::toString(elu.takeError());
  EXPECT_NE(elu->source.find("static constexpr bool kQRaw = false, kKRaw = true;"), std::string::npos);
}

TEST(Codegen, StatePassingEmitsGatesScanThenOutput) {
  TuningConfig cfg;
  cfg.strategy = Strategy::StatePassing;
  cfg.block_k = 64;
  auto k = generate(variant("simple_gla"), {}, cfg, Mode::Prefill, DType::FP16);
  ASSERT_TRUE(bool(k)) << llvm::toString(k.takeError());
  ASSERT_EQ(k->kernel_names.size(), 3u);
  EXPECT_EQ(k->kernel_names[0].rfind("linrec_fwdgates_", 0), 0u);
  EXPECT_EQ(k->kernel_names[1].rfind("linrec_fwdscan_", 0), 0u);
  EXPECT_EQ(k->kernel_names[2].rfind("linrec_fwdout_", 0), 0u);
  // fp16 states (2 bytes per element, 16-byte aligned), then the scalar decay's b (fp32 per token).
  EXPECT_NE(k->descriptor_json.find("\"workspace_bytes\": \"16*cdiv(2*NC*H*KF*V,16)+4*NC*H*C\""), std::string::npos)
      << k->descriptor_json;
  EXPECT_NE(k->descriptor_json.find("cdiv(KF,BK)"), std::string::npos);
  // Without a decay there is no gate pre-pass.
  auto la = generate(variant("linear_attn"), {}, cfg, Mode::Prefill, DType::BF16);
  ASSERT_TRUE(bool(la)) << llvm::toString(la.takeError());
  ASSERT_EQ(la->kernel_names.size(), 2u);
  EXPECT_EQ(la->kernel_names[0].rfind("linrec_fwdscan_", 0), 0u);
}

// Delta rules pass state through a WY prep kernel (in the gate pre-pass's place) and a scan without key
// slices; the workspace formula the runtime evaluates must equal the kernels' own layout.
TEST(Codegen, DeltaRuleStatePassingEmitsPrepScanThenOutput) {
  struct Want {
    const char* variant;
    DType dtype;
    bool decay, vec;
  };
  for (const Want& w : {Want{"delta_rule", DType::BF16, false, false},
                        Want{"gated_delta_rule", DType::BF16, true, false}, Want{"kda", DType::FP32, true, true}}) {
    TuningConfig cfg;
    cfg.strategy = Strategy::StatePassing;
    cfg.chunk = 32;
    cfg.block_v = 32;
    cfg.block_k = 64;  // ignored: the delta scan holds every key row
    auto k = generate(variant(w.variant), {}, cfg, Mode::Prefill, w.dtype);
    ASSERT_TRUE(bool(k)) << w.variant << ": " << llvm::toString(k.takeError());
    ASSERT_EQ(k->kernel_names.size(), 3u) << w.variant;
    EXPECT_EQ(k->kernel_names[0].rfind("linrec_fwdprep_", 0), 0u);
    EXPECT_EQ(k->kernel_names[1].rfind("linrec_fwdscan_", 0), 0u);
    EXPECT_EQ(k->kernel_names[2].rfind("linrec_fwdout_", 0), 0u);
    EXPECT_NE(k->source.find("linrec::kern::chunk_delta_prep<Variant, Config>"), std::string::npos);
    EXPECT_EQ(k->descriptor_json.find("cdiv(KF,BK)"), std::string::npos) << k->descriptor_json;
#ifdef LINREC_HAVE_RUNTIME
    auto d = LaunchDescriptor::fromJson(k->descriptor_json);
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(d->kernels[1].grid[2].evaluate({{"KF", 128}, {"BK", 64}}).value(), 1);
    const int eb = w.dtype == DType::FP32 ? 4 : 2;
    // 16-bit delta rules launch the prep on the WY body and the output kernel on the register body (layout.cuh
    // wy_prep_applies, output_regs_applies; kda too, with the per-key layout); kda in fp32 keeps the phase kernels.
    const int W = cfg.warps, outBV = kern::output_block_v(128, 128, 32, 32, 128, W, w.vec, false, eb);
    const bool regs =
        w.dtype != DType::FP32 && (!w.vec || kern::vec_wy_applies(eb, true, true, false, 128, 128, 128, 32, outBV, W));
    if (w.vec && w.dtype != DType::FP32) {
      EXPECT_TRUE(regs) << W;
    }
    EXPECT_EQ(d->kernels[0].smem_bytes,
              regs ? kern::wy_layout(128, 128, 32, W, w.vec).total
                   : kern::chunk_layout(kern::ChunkKernel::Prep, 128, 128, 32, kern::delta_prep_block_v(128, 128), W,
                                        w.vec, true, false, eb)
                         .bytes())
        << w.variant;
    EXPECT_EQ(d->kernels[2].smem_bytes,
              regs ? kern::output_regs_layout(128, 32, outBV, W).total
                   : kern::chunk_layout(kern::ChunkKernel::Output, 128, 128, 32, outBV, W, w.vec, true, false, eb)
                         .bytes())
        << w.variant;
    // 16-bit: the warp-per-columns scan, one warp per 16 value columns and its own launch size; the prep and
    // output kernels keep the tuning's warps.
    EXPECT_EQ(d->kernels[1].block_threads, w.dtype == DType::FP32 ? W * 32 : 2 * 32) << w.variant;
    EXPECT_EQ(d->kernels[0].block_threads, W * 32);
    EXPECT_EQ(d->kernels[2].block_threads, W * 32);
    if (w.dtype != DType::FP32) {
      EXPECT_EQ(d->kernels[1].smem_bytes, kern::delta_warpscan_layout(128, 32, 32, cfg.stages).total) << w.variant;
    }
    // The warp scan flags each chunk for the register output kernel, which may then overlap it; the phase
    // kernels (fp32) do not, and the prep and scan are never programmatic.
    EXPECT_EQ(d->kernels[2].programmatic, regs && w.dtype != DType::FP32) << w.variant;
    EXPECT_EQ(d->kernels[1].leads, regs && w.dtype != DType::FP32) << w.variant;
    EXPECT_FALSE(d->kernels[0].programmatic);
    EXPECT_FALSE(d->kernels[1].programmatic);
    EXPECT_FALSE(d->kernels[0].leads);
    EXPECT_FALSE(d->kernels[2].leads);
    for (int64_t nc : {1, 7, 513}) {
      auto bytes = d->workspace_bytes.evaluate({{"NC", nc}, {"H", 3}, {"KF", 128}, {"V", 128}, {"C", 32}});
      ASSERT_TRUE(bytes.ok()) << bytes.error();
      EXPECT_EQ(bytes.value(), kern::state_passing_ws(nc, 3, 128, 128, false, eb, 32, w.decay, w.vec, true).bytes())
          << w.variant << " NC=" << nc;
    }
#endif
  }
}

TEST(Codegen, DecodeUsesTheDecodeStep) {
  auto k = generate(parse(kGdn), {}, {}, Mode::Decode, DType::BF16);
  ASSERT_TRUE(bool(k)) << llvm::toString(k.takeError());
  EXPECT_NE(k->source.find("#include \"linrec/kernel/decode.cuh\""), std::string::npos);
  EXPECT_NE(k->source.find("linrec::kern::decode_step<Variant, Config>(v1);"), std::string::npos);
  ASSERT_EQ(k->kernel_names.size(), 1u);
  EXPECT_EQ(k->kernel_names[0].rfind("linrec_dec_", 0), 0u);
  EXPECT_NE(k->descriptor_json.find("\"stage\": \"decode\""), std::string::npos);
}

TEST(Codegen, MlirStagesAreInspectable) {
  auto chunkwise = generateMlir(parse(kGdn), {}, {}, Mode::Prefill, DType::BF16, "chunkwise");
  ASSERT_TRUE(bool(chunkwise)) << llvm::toString(chunkwise.takeError());
  EXPECT_NE(chunkwise->find("linrec.chunk.solve_tril"), std::string::npos);
  auto bad = generateMlir(parse(kGdn), {}, {}, Mode::Prefill, DType::BF16, "nope");
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("unknown stage"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Diagnostics: never an assert, never invalid CUDA
//===----------------------------------------------------------------------===//

TEST(CodegenErrors, UnsupportedChunkNamesTheField) {
  TuningConfig cfg;
  cfg.chunk = 48;
  EXPECT_NE(errorOf(parse(kGdn), cfg).find("chunk must be 16, 32, 64 or 128"), std::string::npos);
}

TEST(CodegenErrors, SharedMemoryOverTheLimitIsReported) {
  TuningConfig cfg;
  cfg.chunk = 128;
  cfg.block_v = 128;
  std::string e = errorOf(parse(kGdn), cfg);
  EXPECT_NE(e.find("bytes of shared memory"), std::string::npos) << e;
  EXPECT_NE(e.find("more than the limit of 232448"), std::string::npos) << e;
}

TEST(CodegenErrors, KeyWidthBeyondTheKernelsIsReported) {
  std::string e = errorOf(parse(kGdn), {}, Mode::Prefill, HeadDims{512, 128});
  EXPECT_NE(e.find("head_k must be in [1, 256]"), std::string::npos) << e;
}

TEST(CodegenErrors, VectorDecayOnAWideningFeatureMapPointsAtTheDecay) {
  // The parser refuses this too; the compiler must not rely on it (Specs can be built in code).
  dsl::Spec spec = parse(R"toml(
[variant]
name = "gla_like"
[inputs]
g = "vector"
[decay]
log = "logsigmoid(g)"
[update]
rule = "additive"
)toml");
  spec.q_map.kind = spec.k_map.kind = dsl::FeatureMap::Kind::Hedgehog;
  std::string e = errorOf(spec, {});
  EXPECT_NE(e.find("test.toml:7:"), std::string::npos) << e;
  EXPECT_NE(e.find("a vector decay varies over the key width K"), std::string::npos) << e;
  EXPECT_EQ(e.find("see current operation"), std::string::npos) << e;
}

TEST(CodegenErrors, VectorBetaIsRefused) {
  dsl::Spec spec = parse(kGdn);
  spec.inputs.push_back({"c", dsl::InputDecl::Kind::Vector, {}});
  spec.beta = dsl::makeCall(dsl::Fn::Sigmoid, {dsl::makeRef("c")});
  std::string e = errorOf(spec, {});
  EXPECT_NE(e.find("β must be a scalar per token"), std::string::npos) << e;
}

TEST(CodegenErrors, TooManyInputsForTheAbi) {
  dsl::Spec spec = parse(kGdn);
  for (int i = 0; i < 7; ++i) spec.inputs.push_back({"x" + std::to_string(i), dsl::InputDecl::Kind::Scalar, {}});
  std::string e = errorOf(spec, {});
  EXPECT_NE(e.find("the kernel ABI passes at most 8"), std::string::npos) << e;
}

TEST(CodegenErrors, NonFiniteConstantIsRefused) {
  dsl::Spec spec = parse(kGdn);
  spec.decay_log = dsl::makeCall(dsl::Fn::Log, {dsl::makeConst(0.0)});  // log(0) = -inf
  spec.decay = dsl::DecayKind::Constant;
  std::string e = errorOf(spec, {});
  EXPECT_NE(e.find("non-finite"), std::string::npos) << e;
}

TEST(CodegenErrors, NormalizerWithTheDeltaRuleIsRefused) {
  dsl::Spec spec = parse(kGdn);
  spec.normalize = true;
  std::string e = errorOf(spec, {});
  EXPECT_NE(e.find("normalizer"), std::string::npos) << e;
}

//===----------------------------------------------------------------------===//
// Every variant file, every kernel kind
//===----------------------------------------------------------------------===//

struct Case {
  std::string variant;
  Mode mode;
  Strategy strategy;
};

std::string caseName(const testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return c.variant + "_" + modeName(c.mode) +
         (c.mode == Mode::Prefill ? std::string("_") + strategyName(c.strategy) : "");
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  for (const std::string& v : variantNames()) {
    dsl::Spec spec = variant(v);
    cases.push_back({v, Mode::Prefill, Strategy::Fused});
    cases.push_back({v, Mode::Prefill, Strategy::StatePassing});
    cases.push_back({v, Mode::Decode, Strategy::Fused});
  }
  return cases;
}

class EveryVariant : public testing::TestWithParam<Case> {};

TEST_P(EveryVariant, Generates) {
  const Case& c = GetParam();
  dsl::Spec spec = variant(c.variant);
  TuningConfig cfg;
  cfg.strategy = c.strategy;
  // Taylor features are 1 + K + K² wide: use the width based is meant for.
  HeadDims dims = spec.q_map.kind == dsl::FeatureMap::Kind::Taylor2 ? HeadDims{16, 64} : HeadDims{128, 128};
  // Widening feature maps keep K'-wide tiles on chip: smaller chunks fit the 227 KiB of an H100.
  if (spec.q_map.kind == dsl::FeatureMap::Kind::Taylor2 || spec.q_map.kind == dsl::FeatureMap::Kind::Hedgehog)
    cfg.chunk = 32;
  auto k = generate(spec, dims, cfg, c.mode, DType::BF16);
  ASSERT_TRUE(bool(k)) << llvm::toString(k.takeError());
  EXPECT_FALSE(k->kernel_names.empty());
  for (const std::string& n : k->kernel_names) EXPECT_NE(k->source.find("void " + n + "("), std::string::npos) << n;
#ifdef LINREC_HAVE_RUNTIME
  auto d = LaunchDescriptor::fromJson(k->descriptor_json);
  ASSERT_TRUE(d.ok()) << d.error() << "\n" << k->descriptor_json;
  ASSERT_EQ(d->kernels.size(), k->kernel_names.size());
  for (size_t i = 0; i < d->kernels.size(); ++i) EXPECT_EQ(d->kernels[i].name, k->kernel_names[i]);
  NvrtcOptions opts;
  opts.arch = "sm_90";
  auto cubin = compileToCubin(k->source, opts);
  ASSERT_TRUE(cubin.ok()) << cubin.error() << "\n----- source -----\n" << k->source;
#endif
}

INSTANTIATE_TEST_SUITE_P(Variants, EveryVariant, testing::ValuesIn(allCases()), caseName);

}  // namespace
}  // namespace linrec::codegen
