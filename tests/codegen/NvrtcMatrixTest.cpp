// Every bundled variant's generated source x a representative set of TuningConfigs x {sm_80, sm_90} compiles
// with NVRTC, and the default configuration reports no register spills.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "linrec/codegen/Codegen.h"
#include "linrec/dsl/Parser.h"
#include "linrec/runtime/NvrtcCompiler.h"

namespace linrec::codegen {
namespace {

struct Job {
  std::string variant, what, arch;
  bool is_default = false;
  dsl::Spec spec;
  HeadDims dims;
  TuningConfig config;
  Mode mode = Mode::Prefill;
  DType dtype = DType::BF16;
};

std::vector<Job> jobs() {
  std::vector<Job> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(LINREC_SOURCE_DIR) + "/variants")) {
    if (e.path().extension() != ".toml") continue;
    auto r = dsl::parseSpecFile(e.path().string());
    EXPECT_TRUE(r.ok()) << r.errorText();
    if (!r.ok()) continue;
    const dsl::Spec& spec = *r.spec;
    // based's K' = 1 + K + K^2: K = 16 is the width it is meant for.
    const HeadDims dims = spec.q_map.kind == dsl::FeatureMap::Kind::Taylor2 ? HeadDims{16, 64} : HeadDims{128, 128};
    for (const char* arch : {"sm_80", "sm_90"}) {
      auto add = [&](const std::string& what, TuningConfig c, Mode m, DType d, bool is_default) {
        out.push_back({spec.name, what, arch, is_default, spec, dims, c, m, d});
      };
      for (DType d : {DType::BF16, DType::FP32}) {
        auto def = defaultConfig(spec, dims, Mode::Prefill, d);
        EXPECT_TRUE(bool(def)) << spec.name;
        if (!def) {
          llvm::consumeError(def.takeError());
          continue;
        }
        add(std::string("default ") + dtypeName(d), *def, Mode::Prefill, d, true);
        add(std::string("decode ") + dtypeName(d), *def, Mode::Decode, d, false);
      }
      TuningConfig small;
      small.chunk = 32;
      small.block_v = 32;
      small.warps = 4;
      add("C=32 BV=32 bf16", small, Mode::Prefill, DType::BF16, false);
      TuningConfig wide = small;
      wide.chunk = 16;
      wide.warps = 2;
      add("C=16 BV=32 W=2 fp16", wide, Mode::Prefill, DType::FP16, false);
      if (spec.rule == dsl::UpdateRule::Additive) {
        TuningConfig sp = small;
        sp.strategy = Strategy::StatePassing;
        add("state_passing bf16", sp, Mode::Prefill, DType::BF16, false);
      }
    }
  }
  return out;
}

TEST(NvrtcMatrix, EveryVariantConfigAndArchCompiles) {
  std::vector<Job> all = jobs();
  ASSERT_GE(all.size(), 9u * 2 * 6);
  struct Outcome {
    std::string failure;
    long long spills = 0;
    int regs = 0;
  };
  std::vector<Outcome> outcomes(all.size());
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < all.size();) {
        const Job& j = all[i];
        auto gen = generate(j.spec, j.dims, j.config, j.mode, j.dtype);
        if (!gen) {
          outcomes[i].failure = "codegen: " + llvm::toString(gen.takeError());
          continue;
        }
        NvrtcOptions o;
        o.arch = j.arch;
        auto cubin = compileToCubin(gen->source, o);
        if (!cubin) {
          outcomes[i].failure = cubin.error();
          continue;
        }
        for (const auto& s : cubin->stats) {
          outcomes[i].spills += s.spill_stores + s.spill_loads;
          outcomes[i].regs = std::max(outcomes[i].regs, s.registers);
        }
        if (cubin->stats.empty()) outcomes[i].failure = "no ptxas statistics in the NVRTC log:\n" + cubin->log;
      }
    });
  }
  for (auto& t : pool) t.join();
  for (size_t i = 0; i < all.size(); ++i) {
    const Job& j = all[i];
    std::printf("%-18s %-6s %-22s regs %3d spills %lld %s\n", j.variant.c_str(), j.arch.c_str(), j.what.c_str(),
                outcomes[i].regs, outcomes[i].spills, outcomes[i].failure.empty() ? "ok" : "FAILED");
    EXPECT_EQ(outcomes[i].failure, "") << j.variant << " " << j.arch << " " << j.what;
    if (j.is_default) {
      EXPECT_EQ(outcomes[i].spills, 0) << j.variant << " " << j.arch << " " << j.what;
    }
  }
}

}  // namespace
}  // namespace linrec::codegen
