// Search-space enumeration and pruning (no GPU): nothing codegen rejects or that exceeds shared memory
// survives, the order is deterministic, and ptxas statistics drop spilling or unlaunchable kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "TunerTestUtil.h"
#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/tuner/KernelBuild.h"
#include "linrec/tuner/SearchSpace.h"

namespace linrec::tuner {
namespace {

using codegen::DType;
using codegen::Mode;
using codegen::Strategy;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The largest dynamic shared memory any kernel of a generated module asks for.
int64_t maxSmem(const codegen::GeneratedKernel& k) {
  auto d = LaunchDescriptor::fromJson(k.descriptor_json);
  EXPECT_TRUE(d.ok()) << (d ? "" : d.error());
  int64_t m = 0;
  if (d)
    for (const auto& s : d->kernels) m = std::max(m, s.smem_bytes);
  return m;
}

std::vector<std::string> configsOf(const SearchSpace& s) {
  std::vector<std::string> out;
  for (const auto& c : s.candidates) out.push_back(describeConfig(c.config));
  return out;
}

TEST(SearchSpace, EveryCandidateIsAcceptedByCodegenAndFitsSharedMemory) {
  for (const char* name : {"gated_delta_rule", "simple_gla", "kda"}) {
    dsl::Spec spec = test::variant(name);
    for (const char* arch : {"sm_80", "sm_90"}) {
      DeviceLimits limits = DeviceLimits::forArch(arch);
      SearchSpace s = enumerateSearchSpace(spec, {128, 128}, DType::BF16, Mode::Prefill, limits);
      ASSERT_FALSE(s.candidates.empty()) << name << " " << arch;
      EXPECT_EQ(s.enumerated, s.candidates.size() + s.pruned.size());
      for (const auto& c : s.candidates) {
        // Codegen accepts it again with the same limit, and every kernel fits the arch's shared memory.
        auto again = codegen::generate(spec, {128, 128}, c.config, Mode::Prefill, DType::BF16);
        ASSERT_TRUE(static_cast<bool>(again)) << llvm::toString(again.takeError());
        EXPECT_LE(maxSmem(c.kernel), limits.smem_per_block_optin) << name << " " << describeConfig(c.config);
        EXPECT_EQ(c.kernel.source, again->source);
      }
      // Whatever codegen turned down, it turned down for a reason the user can read.
      for (const auto& p : s.pruned) EXPECT_FALSE(p.reason.empty()) << describeConfig(p.config);
    }
  }
}

TEST(SearchSpace, DeltaRulesSearchStatePassingWithoutKeySlices) {
  // The delta scan reads every key row (v_new = U - W S): BK is not searched, so each (C, BV, warps) has
  // one state-passing candidate per ring depth; the 16-bit state-passing default is C = 32, BV = 32 with a
  // 3-deep ring (pickDefault says why).
  dsl::Spec spec = test::variant("gated_delta_rule");
  SearchSpace s = enumerateSearchSpace(spec, {128, 128}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_90"));
  std::set<std::tuple<int, int, int, int>> seen;
  int sp = 0;
  bool sp_default = false;
  for (const auto& c : s.candidates) {
    if (c.config.strategy != Strategy::StatePassing) continue;
    ++sp;
    EXPECT_TRUE(seen.insert({c.config.chunk, c.config.block_v, c.config.warps, c.config.stages}).second)
        << describeConfig(c.config);
    if (c.is_default) {
      sp_default = true;
      EXPECT_EQ(c.config.chunk, 32);
      EXPECT_EQ(c.config.block_v, 32);
      EXPECT_EQ(c.config.stages, 3);
    }
  }
  EXPECT_GT(sp, 0);
  EXPECT_TRUE(sp_default);

  dsl::Spec additive = test::variant("simple_gla");
  SearchSpace a =
      enumerateSearchSpace(additive, {128, 128}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_90"));
  std::set<int> bks;
  for (const auto& c : a.candidates)
    if (c.config.strategy == Strategy::StatePassing) bks.insert(c.config.block_k);
  EXPECT_GT(bks.size(), 1u);  // additive scans are sliced by key rows
}

TEST(SearchSpace, StagesWidenOnlyTheDeltaStateScan) {
  // Only chunk_delta_scan_regs reads Config::Stages (its ring depth); other configs keep the default, so
  // asking for 2,3,4 must not triple them.
  SearchSpaceOptions o;
  o.chunks = {64};
  o.block_vs = {32};
  o.warps = {4};
  o.stages = {2, 3, 4};
  const auto limits = DeviceLimits::forArch("sm_90");
  SearchSpace d =
      enumerateSearchSpace(test::variant("gated_delta_rule"), {128, 128}, DType::BF16, Mode::Prefill, limits, o);
  std::set<int> sp_stages, fused_stages;
  for (const auto& c : d.candidates)
    (c.config.strategy == Strategy::StatePassing ? sp_stages : fused_stages).insert(c.config.stages);
  EXPECT_EQ(sp_stages, (std::set<int>{2, 3, 4}));
  EXPECT_EQ(fused_stages, (std::set<int>{2}));
  SearchSpace a = enumerateSearchSpace(test::variant("simple_gla"), {128, 128}, DType::BF16, Mode::Prefill, limits, o);
  for (const auto& c : a.candidates) EXPECT_EQ(c.config.stages, 2) << describeConfig(c.config);
}

TEST(SearchSpace, SharedMemoryLimitsOfTheArchPrune) {
  // based: K' = 273 at K = 16, so chunk and BV decide whether a CTA fits.
  dsl::Spec spec = test::variant("based");
  SearchSpace h100 = enumerateSearchSpace(spec, {16, 64}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_90"));
  SearchSpace a100 = enumerateSearchSpace(spec, {16, 64}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_80"));
  SearchSpace small = enumerateSearchSpace(spec, {16, 64}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_89"));
  ASSERT_FALSE(small.candidates.empty());
  EXPECT_LT(small.candidates.size(), a100.candidates.size());
  EXPECT_LE(a100.candidates.size(), h100.candidates.size());
  std::vector<std::string> big = configsOf(h100);
  for (const std::string& c : configsOf(a100))
    EXPECT_NE(std::find(big.begin(), big.end(), c), big.end()) << c << " fits sm_80 but not sm_90";
  bool smem_reason = false;
  for (const auto& p : a100.pruned)
    smem_reason = smem_reason || (p.stage == "codegen" && contains(p.reason, "shared memory"));
  EXPECT_TRUE(smem_reason);
  for (const auto& c : small.candidates) EXPECT_LE(maxSmem(c.kernel), 101376);
}

TEST(SearchSpace, RulesPruneTilesWiderThanVAndIdleWarps) {
  dsl::Spec spec = test::variant("simple_gla");
  SearchSpace s = enumerateSearchSpace(spec, {64, 64}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_90"));
  for (const auto& c : s.candidates) {
    EXPECT_LE(c.config.block_v, 64);
    EXPECT_GE((c.config.chunk / 16) * (c.config.block_v / 8), c.config.warps) << describeConfig(c.config);
  }
  bool wide = false, idle = false;
  for (const auto& p : s.pruned) {
    wide = wide || contains(p.reason, "wider than V");
    idle = idle || contains(p.reason, "tensor-core tiles");
  }
  EXPECT_TRUE(wide);
  EXPECT_TRUE(idle);
}

TEST(SearchSpace, OddValueWidthsKeepTheTileThatCoversThem) {
  dsl::Spec spec = test::variant("simple_gla");
  SearchSpaceOptions o;
  o.chunks = {64};
  o.warps = {4};
  o.strategies = {Strategy::Fused};
  SearchSpace s = enumerateSearchSpace(spec, {64, 48}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_90"), o);
  std::set<int> bvs;
  for (const auto& c : s.candidates) bvs.insert(c.config.block_v);
  EXPECT_EQ(bvs, (std::set<int>{16, 64}));  // 16 divides 48; 64 is the one tile covering it
}

TEST(SearchSpace, DecodeSpaceIsBlockVTimesWarps) {
  dsl::Spec spec = test::variant("gated_delta_rule");
  SearchSpace s = enumerateSearchSpace(spec, {128, 128}, DType::BF16, Mode::Decode, DeviceLimits::forArch("sm_90"));
  EXPECT_EQ(s.enumerated, 4u * 3u);
  std::set<std::pair<int, int>> seen;
  for (const auto& c : s.candidates) {
    EXPECT_EQ(c.config.strategy, Strategy::Fused);
    EXPECT_EQ(c.config.chunk, 64);
    EXPECT_TRUE(seen.insert({c.config.block_v, c.config.warps}).second);
  }
  EXPECT_TRUE(std::any_of(s.candidates.begin(), s.candidates.end(), [](const Candidate& c) { return c.is_default; }));
}

TEST(SearchSpace, EnumerationIsDeterministicAndInTieBreakOrder) {
  dsl::Spec spec = test::variant("simple_gla");
  auto a = enumerateSearchSpace(spec, {128, 128}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_90"));
  auto b = enumerateSearchSpace(spec, {128, 128}, DType::BF16, Mode::Prefill, DeviceLimits::forArch("sm_90"));
  EXPECT_EQ(configsOf(a), configsOf(b));
  for (size_t i = 0; i < a.candidates.size(); ++i)
    EXPECT_EQ(a.candidates[i].kernel.source, b.candidates[i].kernel.source);
  for (size_t i = 1; i < a.candidates.size(); ++i)
    EXPECT_TRUE(simplerThan(a.candidates[i - 1].config, a.candidates[i].config))
        << describeConfig(a.candidates[i - 1].config) << " before " << describeConfig(a.candidates[i].config);
  // Exactly one fused and one state-passing default, and they are the per-arch defaults.
  int fused = 0, sp = 0;
  for (const auto& c : a.candidates)
    if (c.is_default) ++(c.config.strategy == Strategy::Fused ? fused : sp);
  EXPECT_EQ(fused, 1);
  EXPECT_EQ(sp, 1);
}

TEST(SearchSpace, DefaultsFallBackUntilTheyFit) {
  dsl::Spec hedgehog = test::variant("hedgehog");  // K' = 256 at K = 128 in fp32: C=64 BV=64 does not fit
  auto d =
      pickDefault(hedgehog, {128, 128}, DType::FP32, Mode::Prefill, Strategy::Fused, DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_TRUE(d->is_default);
  EXPECT_FALSE(d->config.chunk == 64 && d->config.block_v == 64);
  auto based = pickDefault(test::variant("based"), {128, 128}, DType::BF16, Mode::Prefill, Strategy::Fused,
                           DeviceLimits::forArch("sm_90"));
  ASSERT_FALSE(based.ok());
  EXPECT_TRUE(contains(based.error(), "shared memory")) << based.error();
  // kda (per-key decay) in 16 bits: C = 32, BV = 32 on 4 warps (its WY prep keeps three blocks per SM at
  // C = 32, one at 64); in fp32 the delta state-passing default of C = 64, BV = 32 (no key slices).
  auto sp = pickDefault(test::variant("kda"), {128, 128}, DType::BF16, Mode::Prefill, Strategy::StatePassing,
                        DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(sp.ok()) << sp.error();
  EXPECT_EQ(sp->config.chunk, 32);
  EXPECT_EQ(sp->config.block_v, 32);
  EXPECT_EQ(sp->config.warps, 4);
  EXPECT_EQ(sp->config.block_k, codegen::TuningConfig{}.block_k);
  auto sp32 = pickDefault(test::variant("kda"), {128, 128}, DType::FP32, Mode::Prefill, Strategy::StatePassing,
                          DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(sp32.ok()) << sp32.error();
  EXPECT_EQ(sp32->config.chunk, 64);
  EXPECT_EQ(sp32->config.block_v, 32);
  // 16-bit delta rules without a per-key decay (the warp scan, WY prep and register output kernel):
  // C = 32, BV = 32 on 4 warps with 3 stages, measured best or near it at T = 16k and 64k; fp32 keeps
  // C = 64, BV = 32.
  for (const char* v : {"delta_rule", "gated_delta_rule"}) {
    auto d16 = pickDefault(test::variant(v), {128, 128}, DType::BF16, Mode::Prefill, Strategy::StatePassing,
                           DeviceLimits::forArch("sm_90"));
    ASSERT_TRUE(d16.ok()) << d16.error();
    EXPECT_EQ(d16->config.chunk, 32) << v;
    EXPECT_EQ(d16->config.block_v, 32) << v;
    EXPECT_EQ(d16->config.warps, 4) << v;
    EXPECT_EQ(d16->config.stages, 3) << v;
    EXPECT_EQ(d16->config.block_k, codegen::TuningConfig{}.block_k) << v;
    auto d32 = pickDefault(test::variant(v), {128, 128}, DType::FP32, Mode::Prefill, Strategy::StatePassing,
                           DeviceLimits::forArch("sm_90"));
    ASSERT_TRUE(d32.ok()) << d32.error();
    EXPECT_EQ(d32->config.chunk, 64) << v;
    EXPECT_EQ(d32->config.block_v, 32) << v;
  }
  // 16-bit delta rules without a per-key decay take the register-state kernel: C = 32, BV = 64 first, as
  // codegen::defaultConfig orders them; fp32 keeps C = 64.
  for (const char* v : {"delta_rule", "gated_delta_rule"}) {
    auto fused = pickDefault(test::variant(v), {128, 128}, DType::BF16, Mode::Prefill, Strategy::Fused,
                             DeviceLimits::forArch("sm_90"));
    ASSERT_TRUE(fused.ok()) << fused.error();
    EXPECT_EQ(fused->config.chunk, 32) << v;
    EXPECT_EQ(fused->config.block_v, 64) << v;
    auto cfg = codegen::defaultConfig(test::variant(v), {128, 128}, Mode::Prefill, DType::BF16, 227 * 1024);
    ASSERT_TRUE(bool(cfg)) << llvm::toString(cfg.takeError());
    EXPECT_EQ(cfg->chunk, 32) << v;
  }
  auto f32 = pickDefault(test::variant("gated_delta_rule"), {128, 128}, DType::FP32, Mode::Prefill, Strategy::Fused,
                         DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(f32.ok()) << f32.error();
  EXPECT_EQ(f32->config.chunk, 64);
  auto kda = pickDefault(test::variant("kda"), {128, 128}, DType::BF16, Mode::Prefill, Strategy::Fused,
                         DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(kda.ok()) << kda.error();
  EXPECT_EQ(kda->config.chunk, 64);
  // GLA (bf16, additive, per-key decay) on the register-state kernel: C = 64, BV = 128 on 8 warps; fp16
  // (which that kernel does not take with a per-key decay) and state passing keep the general order.
  auto gla = pickDefault(test::variant("gla"), {128, 128}, DType::BF16, Mode::Prefill, Strategy::Fused,
                         DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(gla.ok()) << gla.error();
  EXPECT_EQ(gla->config.chunk, 64);
  EXPECT_EQ(gla->config.block_v, 128);
  EXPECT_EQ(gla->config.warps, 8);
  auto gla16 = pickDefault(test::variant("gla"), {128, 128}, DType::FP16, Mode::Prefill, Strategy::Fused,
                           DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(gla16.ok()) << gla16.error();
  EXPECT_EQ(gla16->config.block_v, 64);
  EXPECT_EQ(gla16->config.warps, 4);
  auto glasp = pickDefault(test::variant("gla"), {128, 128}, DType::BF16, Mode::Prefill, Strategy::StatePassing,
                           DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(glasp.ok()) << glasp.error();
  EXPECT_EQ(glasp->config.warps, 4);
  // The JIT path (codegen::defaultConfig, auto tiles) starts from the same block shape, and only
  // applyDefaultTiles's keep_warps keeps warps the user chose.
  auto jit = codegen::defaultConfig(test::variant("gla"), {128, 128}, Mode::Prefill, DType::BF16, 227 * 1024);
  ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
  EXPECT_EQ(jit->chunk, 64);
  EXPECT_EQ(jit->block_v, 128);
  EXPECT_EQ(jit->warps, 8);
  auto jit16 = codegen::defaultConfig(test::variant("gla"), {128, 128}, Mode::Prefill, DType::FP16, 227 * 1024);
  ASSERT_TRUE(bool(jit16)) << llvm::toString(jit16.takeError());
  EXPECT_EQ(jit16->block_v, 64);
  EXPECT_EQ(jit16->warps, 4);
  codegen::TuningConfig user;
  user.warps = 2;
  user.stages = 3;
  codegen::applyDefaultTiles(user, *jit, /*keep_warps=*/true);
  EXPECT_EQ(user.chunk, 64);
  EXPECT_EQ(user.block_v, 128);
  EXPECT_EQ(user.warps, 2);
  EXPECT_EQ(user.stages, 3);
  codegen::applyDefaultTiles(user, *jit);
  EXPECT_EQ(user.warps, 8);
  auto sgla = pickDefault(test::variant("simple_gla"), {128, 128}, DType::BF16, Mode::Prefill, Strategy::Fused,
                          DeviceLimits::forArch("sm_90"));
  ASSERT_TRUE(sgla.ok()) << sgla.error();
  EXPECT_EQ(sgla->config.block_v, 64);
}

TEST(SearchSpace, PtxasStatisticsDropSpillsAndUnlaunchableRegisterCounts) {
  codegen::TuningConfig cfg;
  cfg.warps = 8;
  DeviceLimits limits = DeviceLimits::forArch("sm_90");
  CubinResult clean;
  clean.stats.push_back({"k", "sm_90", 128, 1, 0, 0, 0, 0, 0});
  EXPECT_EQ(ptxasVerdict(clean, cfg, limits), "");
  CubinResult spills = clean;
  spills.stats[0].spill_stores = 16;
  EXPECT_TRUE(contains(ptxasVerdict(spills, cfg, limits), "spills")) << ptxasVerdict(spills, cfg, limits);
  CubinResult regs = clean;
  regs.stats[0].registers = 255;  // 255 x 256 threads fits 65536 ...
  EXPECT_EQ(ptxasVerdict(regs, cfg, limits), "");
  limits.regs_per_block = 32768;  // ... but not a register file half that size
  EXPECT_TRUE(contains(ptxasVerdict(regs, cfg, limits), "registers")) << ptxasVerdict(regs, cfg, limits);
  cfg.warps = 4;
  EXPECT_EQ(ptxasVerdict(regs, cfg, limits), "");
}

TEST(SearchSpace, CandidatesCompileWithNvrtcAndSpillsAreDropped) {
  // Real NVRTC on the CPU for a few candidates: the survivors of the pruning really compile, in parallel.
  dsl::Spec spec = test::variant("gated_delta_rule");
  SearchSpaceOptions o;
  o.chunks = {64};
  o.block_vs = {32, 64};
  o.warps = {4};
  o.stages = {2};
  DeviceLimits limits = DeviceLimits::forArch("sm_90");
  SearchSpace s = enumerateSearchSpace(spec, {128, 128}, DType::BF16, Mode::Prefill, limits, o);
  ASSERT_EQ(s.candidates.size(), 4u);  // fused and state passing, BV 32 and 64
  std::vector<BuildJob> jobs;
  for (const auto& c : s.candidates) {
    BuildJob j;
    j.source = c.kernel.source;
    j.options.arch = targetArch("sm_90", c.kernel);
    jobs.push_back(j);
  }
  auto results = compileParallel(jobs, 2);
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].error();
    EXPECT_FALSE(results[i]->cubin.empty());
    ASSERT_FALSE(results[i]->stats.empty());
    // The verdict follows ptxas: a kernel that spills is dropped, one that does not is kept.
    long long spills = 0;
    for (const auto& st : results[i]->stats) spills += st.spill_stores + st.spill_loads;
    const std::string verdict = ptxasVerdict(*results[i], s.candidates[i].config, limits);
    EXPECT_EQ(spills > 0, contains(verdict, "spills")) << describeConfig(s.candidates[i].config) << ": " << verdict;
    if (spills == 0) {
      EXPECT_EQ(verdict, "");
    }
    std::printf("[ ptxas ] %s: %d registers, %lld spill bytes%s\n", describeConfig(s.candidates[i].config).c_str(),
                results[i]->stats[0].registers, spills, verdict.empty() ? "" : " -> dropped");
  }
}

}  // namespace
}  // namespace linrec::tuner
