// End to end on the GPU: TOML -> codegen -> NVRTC -> launch, compared with the float64 reference for every
// bundled variant at awkward shapes, both strategies, fp32 and bf16, varlen, initial state, and decode.
#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <mutex>

#include "Check.h"
#include "linrec/dsl/Parser.h"

using namespace linrec;

namespace {

// One runtime for the whole binary: creating a context per case would dominate the run time.
Runtime* sharedRuntime(std::string* why) {
  static std::once_flag once;
  static std::unique_ptr<Runtime> rt;
  static std::string error;
  std::call_once(once, [] {
    auto r = Runtime::create();
    if (r) rt = std::move(*r);
    else error = r.error();
  });
  if (why) *why = error;
  return rt.get();
}

dsl::Spec loadVariant(const std::string& name) {
  auto r = dsl::parseSpecFile(std::string(LINREC_SOURCE_DIR) + "/variants/" + name + ".toml");
  EXPECT_TRUE(r.ok()) << r.errorText();
  return *r.spec;
}

// The cases of one variant (issue 4's matrix, trimmed where the CPU reference would dominate).
std::vector<check::CheckCase> casesFor(const std::string& name, const dsl::Spec& spec) {
  std::vector<check::CheckCase> out;
  const bool based = spec.q_map.kind == dsl::FeatureMap::Kind::Taylor2;
  // based's K' = 1 + K + K^2 makes K = 16 the realistic size (K' = 273).
  const std::vector<int> Ks = based ? std::vector<int>{16} : std::vector<int>{64, 128};
  uint64_t seed = 11;
  for (auto dtype : {codegen::DType::FP32, codegen::DType::BF16}) {
    for (int K : Ks) {
      const int V = based ? 64 : K;
      auto add = [&](int B, int T, int H, bool h0, codegen::Strategy st = codegen::Strategy::Fused) {
        check::CheckCase c;
        c.B = B;
        c.T = T;
        c.H = H;
        c.K = K;
        c.V = V;
        c.initial_state = h0;
        c.dtype = dtype;
        c.config.strategy = st;
        c.seed = seed++;
        out.push_back(c);
      };
      // T = 1 with several heads: with one head the max-relative error of a single token measures how close
      // one random q̃·k̃ is to zero, not the kernel.
      add(1, 1, 4, false);
      add(2, 63, 4, true);
      add(2, 64, 4, false);
      add(1, 1000, 8, true);
      if (dtype == codegen::DType::BF16) add(1, 4096, 8, true);
      add(4, 100, 16, true);  // B·H = 64
      add(2, 200, 4, true, codegen::Strategy::StatePassing);
      add(1, 1, 4, false, codegen::Strategy::StatePassing);
      if (dtype == codegen::DType::BF16) add(1, 4096, 8, true, codegen::Strategy::StatePassing);
      check::CheckCase v;
      v.B = 1;
      v.H = 4;
      v.K = K;
      v.V = V;
      v.dtype = dtype;
      v.cu_seqlens = {0, 1, 64, 64, 300, 307};
      v.T = 307;
      v.initial_state = true;
      v.seed = seed++;
      out.push_back(v);
      v.config.strategy = codegen::Strategy::StatePassing;
      v.seed = seed++;
      out.push_back(v);
    }
  }
  // Decode: a prefill followed by 1000 steps equals the reference over the whole sequence.
  check::CheckCase d;
  d.B = 2;
  d.T = 24;
  d.H = 2;
  d.K = based ? 16 : 64;
  d.V = 64;
  d.decode_steps = 1000;
  d.initial_state = true;
  d.dtype = codegen::DType::FP32;
  d.seed = seed++;
  out.push_back(d);
  (void)name;
  return out;
}

class EndToEnd : public ::testing::TestWithParam<std::string> {};

TEST_P(EndToEnd, MatchesReference) {
  std::string why;
  Runtime* rt = sharedRuntime(&why);
  if (!rt) GTEST_SKIP() << "no GPU: " << why;
  const dsl::Spec spec = loadVariant(GetParam());
  auto cases = casesFor(GetParam(), spec);
  // Compile every distinct kernel in parallel first: NVRTC dominates otherwise.
  std::vector<std::future<void>> warm;
  for (const auto& c : cases) {
    warm.push_back(std::async(std::launch::async, [&, c] {
      codegen::TuningConfig config = c.config;
      auto d = codegen::defaultConfig(spec, {c.K, c.V}, codegen::Mode::Prefill, c.dtype);
      if (!d) return llvm::consumeError(d.takeError());
      codegen::applyDefaultTiles(config, *d);
      for (auto mode : {codegen::Mode::Prefill, codegen::Mode::Decode}) {
        if (mode == codegen::Mode::Decode && !c.decode_steps) continue;
        auto gen = codegen::generate(spec, {c.K, c.V}, config, mode, c.dtype);
        if (gen) (void)rt->compile(gen->source);
        else llvm::consumeError(gen.takeError());
      }
    }));
  }
  for (auto& f : warm) f.get();
  int failed = 0;
  for (const auto& c : cases) {
    auto res = check::runCheck(*rt, spec, c);
    ASSERT_TRUE(res.ok()) << GetParam() << " " << c.label() << ": " << res.error();
    check::CheckCase shown = c;
    shown.config = res->config;
    std::printf("[%s] %-64s o %.2e  state %.2e  z %.2e  tol %.0e  %s\n", GetParam().c_str(), shown.label().c_str(),
                res->o_err, res->state_err, res->z_err, res->tolerance, res->pass ? "ok" : "FAIL");
    if (!res->pass) {
      ++failed;
      ADD_FAILURE() << GetParam() << " " << c.label() << ": " << res->detail;
    }
  }
  std::printf("[%s] %zu cases, %d failed\n", GetParam().c_str(), cases.size(), failed);
}

INSTANTIATE_TEST_SUITE_P(Variants, EndToEnd,
                         ::testing::Values("linear_attn", "retention", "simple_gla", "gla", "delta_rule",
                                           "gated_delta_rule", "kda", "based", "hedgehog"),
                         [](const auto& info) { return info.param; });

// The delta rules' state passing with its kernels side by side (programmatic stream serialization on sm_90;
// each waits for the chunks it reads): the same answers as the reference, repeated on fresh inputs so that a
// chunk read before it was written would show. Lead cases with long sequences and few heads put the scan
// first and the prep beside it; the many short sequences of the last case do not fit, and keep the prep first.
// Beside cases run the output kernel beside the scan whatever its grid.
TEST(EndToEndOverlap, DeltaStatePassingWithProgrammaticLaunchMatchesReference) {
  std::string why;
  Runtime* rt = sharedRuntime(&why);
  if (!rt) GTEST_SKIP() << "no GPU: " << why;
  const ProgrammaticLaunch was = programmaticLaunch();
  int failed = 0, ran = 0;
  for (const char* name : {"delta_rule", "gated_delta_rule", "kda"}) {
    const dsl::Spec spec = loadVariant(name);
    for (int chunk : {32, 64}) {
      codegen::TuningConfig config;
      config.strategy = codegen::Strategy::StatePassing;
      config.chunk = chunk;
      config.block_v = chunk == 32 ? 64 : 32;
      config.warps = 4;
      config.stages = 3;
      auto gen = codegen::generate(spec, {128, 128}, config, codegen::Mode::Prefill, codegen::DType::BF16);
      ASSERT_TRUE(bool(gen)) << name << ": " << llvm::toString(gen.takeError());
      // The test is about the overlapped launch: the config must take it.
      ASSERT_NE(gen->descriptor_json.find("\"programmatic\": true"), std::string::npos) << name << " C=" << chunk;
      ASSERT_NE(gen->descriptor_json.find("\"leads\": true"), std::string::npos) << name << " C=" << chunk;
      for (uint64_t seed = 1; seed <= 5; ++seed) {
        check::CheckCase c;
        c.B = seed == 5 ? 48 : seed % 2 ? 1 : 2;
        c.T = seed == 5 ? 192 : seed % 2 ? 8192 : 3000;  // 3000: a partial last chunk
        c.H = seed == 5 ? 8 : 4;
        c.K = c.V = 128;
        c.dtype = codegen::DType::BF16;
        c.config = config;
        c.auto_tiles = false;
        c.initial_state = seed > 2;
        c.seed = 100 * seed + chunk;
        // Odd seeds: the scan ahead of its prep where it fits (Lead); even: the output kernel beside the scan
        // only (Beside, the order Auto takes where it overlaps).
        setProgrammaticLaunch(seed % 2 ? ProgrammaticLaunch::Lead : ProgrammaticLaunch::Beside);
        auto res = check::runCheck(*rt, spec, c);
        ASSERT_TRUE(res.ok()) << name << " " << c.label() << ": " << res.error();
        ++ran;
        std::printf("[overlap %s] %-64s %-6s o %.2e  state %.2e  tol %.0e  %s\n", name, c.label().c_str(),
                    seed % 2 ? "lead" : "beside", res->o_err, res->state_err, res->tolerance,
                    res->pass ? "ok" : "FAIL");
        if (!res->pass) {
          ++failed;
          ADD_FAILURE() << name << " " << c.label() << ": " << res->detail;
        }
      }
    }
  }
  setProgrammaticLaunch(was);
  std::printf("[overlap] %d cases, %d failed (programmatic launches %s on this device)\n", ran, failed,
              rt->device().cc_major >= 9 ? "used" : "not available");
}

TEST(EndToEndErrors, BadShapesAreRefusedBeforeLaunch) {
  std::string why;
  Runtime* rt = sharedRuntime(&why);
  if (!rt) GTEST_SKIP() << "no GPU: " << why;
  const dsl::Spec spec = loadVariant("gated_delta_rule");
  io::TensorMap in;
  in["q"] = io::fromDouble(std::vector<double>(2 * 8 * 2 * 64, 0.5), {2, 8, 2, 64}, "BF16");
  in["k"] = io::fromDouble(std::vector<double>(2 * 8 * 2 * 32, 0.5), {2, 8, 2, 32}, "BF16");
  in["v"] = io::fromDouble(std::vector<double>(2 * 8 * 2 * 64, 0.5), {2, 8, 2, 64}, "BF16");
  auto r = check::runOnTensors(*rt, spec, in, {}, codegen::DType::BF16);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("tensor 'k' has shape [2,8,2,32], expected [B,T,H,K] [2,8,2,64]"), std::string::npos)
      << r.error();
}

}  // namespace
