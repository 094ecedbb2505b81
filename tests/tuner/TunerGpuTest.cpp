// On the GPU (label gpu; every case skips without a device): a small tuning run lands its record and
// kernels in a DB that the runtime then serves from; a pack's first launch is timed; a pack for another
// arch is refused by the runtime.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include "TunerTestUtil.h"
#include "linrec/kdb/KernelDb.h"
#include "linrec/runtime/KernelLibrary.h"
#include "linrec/tuner/PackBuilder.h"
#include "linrec/tuner/Timer.h"
#include "linrec/tuner/Tuner.h"

namespace linrec::tuner {
namespace {

using test::TempDir;

Runtime* sharedRuntime(std::string* why) {
  static std::once_flag once;
  static std::unique_ptr<Runtime> rt;
  static std::string error;
  std::call_once(once, [] {
    auto r = Runtime::create();
    if (r)
      rt = std::move(*r);
    else
      error = r.error();
  });
  if (why) *why = error;
  return rt.get();
}

#define REQUIRE_GPU(rt)               \
  std::string why_;                   \
  Runtime* rt = sharedRuntime(&why_); \
  if (rt == nullptr) GTEST_SKIP() << why_;

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

TEST(TunerGpu, ASmallTuningRunStoresARecordTheRuntimeServes) {
  REQUIRE_GPU(rt);
  TempDir dir;
  const std::string path = dir.file("kernels.db");
  dsl::Spec spec = test::variant("simple_gla");
  Shape shape{2, 512, 4, 64, 64};
  TuneOptions o;
  o.budget_s = 60;
  o.space.chunks = {32, 64};
  o.space.block_vs = {32, 64};
  o.space.warps = {4};
  o.timing.max_reps = 20;
  {
    Expected<kdb::KernelDb> db = kdb::KernelDb::open(path);
    ASSERT_TRUE(db.ok()) << db.error();
    Expected<TuneResult> r = tune(*rt, spec, shape, o, &*db);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_TRUE(r->winner.has_value()) << resultJson(*r);
    EXPECT_TRUE(r->stored);
    std::printf("[ tune ] %s %s: winner %s %.4f ms (%zu candidates, %.1f s)\n", spec.name.c_str(),
                shape.label().c_str(), describeConfig(r->candidates[*r->winner].config).c_str(),
                r->candidates[*r->winner].timing.median_ms, r->candidates.size(), r->elapsed_s);
    for (const auto& c : r->candidates)
      EXPECT_NE(c.status, CandidateStatus::Wrong) << describeConfig(c.config) << ": " << c.reason;
    // The record landed, with the winner's config, and its kernel is in the index.
    Expected<std::optional<kdb::TuningRecord>> got = db->getTuning(r->record.key);
    ASSERT_TRUE(got.ok()) << got.error();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->config_json, toKernelConfig(r->candidates[*r->winner].config).toJson());
    // ... saying which launch mode its timings ran under (this process's).
    EXPECT_EQ(timedLaunch((*got)->candidates_json), programmaticLaunchName(rt->device()));
    Expected<std::vector<kdb::IndexEntry>> index = db->indexEntries(spec.hash());
    ASSERT_TRUE(index.ok()) << index.error();
    EXPECT_GE(index->size(), 1u);
  }
  // The runtime picks the tuned kernel for that bucket from the DB.
  auto lib = KernelLibrary::openDb(*rt, path);
  ASSERT_TRUE(lib.ok()) << lib.error();
  auto work = Workload::create(*rt, spec, shape, codegen::DType::BF16, codegen::Mode::Prefill, TimingOptions{});
  ASSERT_TRUE(work.ok()) << work.error();
  ASSERT_TRUE((*lib)->forward("simple_gla", work->forward(0), nullptr).ok());
  ASSERT_TRUE(rt->synchronize().ok());
  KernelRequest req = *requestForForward("simple_gla", work->forward(0));
  Resolution how;
  ASSERT_TRUE((*lib)->kernelFor(req, &how).ok());
  EXPECT_EQ(how.source, ResolutionSource::TunedExact) << how.explanation;
}

TEST(TunerGpu, FirstLaunchFromAPackIsFast) {
  REQUIRE_GPU(rt);
  TempDir dir;
  const std::string path = dir.file("startup.pack");
  PackOptions po;
  po.archs = {rt->device().arch()};
  po.dims = {{128, 128}};
  std::vector<dsl::Spec> specs = {test::variant("simple_gla"), test::variant("gated_delta_rule")};
  Expected<PackSummary> sum = buildPack(specs, po, path);
  ASSERT_TRUE(sum.ok()) << sum.error();

  auto t0 = std::chrono::steady_clock::now();
  auto lib = loadPack(*rt, path);
  ASSERT_TRUE(lib.ok()) << lib.error();
  const double open_ms = msSince(t0);
  for (const dsl::Spec& spec : specs) {
    auto work = Workload::create(*rt, spec, {8, 4096, 16, 128, 128}, codegen::DType::BF16, codegen::Mode::Prefill,
                                 TimingOptions{});
    ASSERT_TRUE(work.ok()) << work.error();
    t0 = std::chrono::steady_clock::now();
    Status s = (*lib)->forward(spec.name, work->forward(0), nullptr);
    if (s) s = rt->synchronize();
    const double first_ms = msSince(t0);
    ASSERT_TRUE(s.ok()) << s.error();
    t0 = std::chrono::steady_clock::now();
    s = (*lib)->forward(spec.name, work->forward(1), nullptr);
    if (s) s = rt->synchronize();
    const double warm_ms = msSince(t0);
    std::printf("[ startup ] %s: pack open %.2f ms, first launch %.2f ms, warm launch %.3f ms\n", spec.name.c_str(),
                open_ms, first_ms, warm_ms);
    EXPECT_LT(first_ms, 50.0) << "first launch from a pack must take <= 50 ms";
  }
  EXPECT_EQ((*lib)->loadedKernels(), 2u);
}

TEST(TunerGpu, APackForAnotherArchIsRefusedByTheRuntime) {
  REQUIRE_GPU(rt);
  TempDir dir;
  const std::string path = dir.file("other.pack");
  const std::string mine = rt->device().arch();
  const std::string other = mine == "sm_80" ? "sm_90" : "sm_80";
  PackOptions po;
  po.archs = {other};
  po.dims = {{64, 64}};
  po.decode = false;
  po.state_passing = false;
  ASSERT_TRUE(buildPack({test::variant("gla")}, po, path).ok());
  auto lib = loadPack(*rt, path);
  ASSERT_FALSE(lib.ok());
  EXPECT_NE(lib.error().find("this GPU is " + mine), std::string::npos) << lib.error();
  EXPECT_NE(lib.error().find(other), std::string::npos) << lib.error();
}

}  // namespace
}  // namespace linrec::tuner
