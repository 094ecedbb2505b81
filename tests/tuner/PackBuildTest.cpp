// Building packs on the CPU (a fake NVRTC for the full matrix, the real one for two variants), resolving
// requests through the pack's index as the runtime does, and refusing packs built for something else.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "TunerTestUtil.h"
#include "linrec/kdb/KernelDb.h"
#include "linrec/kdb/Pack.h"
#include "linrec/runtime/KernelLibrary.h"
#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/tuner/KernelBuild.h"
#include "linrec/tuner/PackBuilder.h"
#include "linrec/tuner/SearchSpace.h"

namespace linrec::tuner {
namespace {

using test::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const kdb::GpuIdentity kH100{"NVIDIA H100 80GB HBM3", 9, 0, 132, 13000};

KernelRequest request(const std::string& variant, int K, int V, int64_t bh, int64_t T,
                      kdb::TuningMode mode = kdb::TuningMode::Forward) {
  KernelRequest r;
  r.variant = variant;
  r.K = K;
  r.V = V;
  r.dtype = "bf16";
  r.mode = mode;
  r.batch_heads = bh;
  r.seq_len = T;
  return r;
}

LibraryIndex indexOf(const std::string& path) {
  Expected<kdb::Pack> pack = kdb::openPack(path);
  EXPECT_TRUE(pack.ok()) << (pack ? "" : pack.error());
  if (!pack) return {};
  return LibraryIndex(*pack->index(), *pack->tunings());
}

TEST(PackBuild, EveryCombinationGetsItsDefaultsAndResolvesPerArch) {
  TempDir dir;
  PackOptions o;
  o.archs = {"sm_80", "sm_90"};
  o.compile = test::fakeCompile;
  std::vector<std::string> notes;
  o.note = [&](const std::string& n) { notes.push_back(n); };
  std::vector<dsl::Spec> specs = {test::variant("simple_gla"), test::variant("gated_delta_rule")};
  const std::string path = dir.file("two.pack");
  Expected<PackSummary> sum = buildPack(specs, o, path);
  ASSERT_TRUE(sum.ok()) << sum.error();
  EXPECT_TRUE(notes.empty());
  ASSERT_EQ(sum->variants.size(), 2u);
  // Per arch: fused, state-passing and decode for both (delta rules pass state through the WY prep).
  EXPECT_EQ(sum->variants[0].kernels, 6);
  EXPECT_EQ(sum->variants[1].kernels, 6);
  EXPECT_EQ(sum->compiles, 12);
  EXPECT_GT(sum->file_bytes, 0u);
  EXPECT_EQ(sum->manifest.linrec_version, kernelBuildTag());
  EXPECT_EQ(sum->manifest.archs, (std::vector<std::string>{"sm_80", "sm_90"}));

  LibraryIndex idx = indexOf(path);
  ASSERT_EQ(idx.entries().size(), 12u);
  for (const auto& e : idx.entries()) {
    EXPECT_TRUE(e.is_default);
    EXPECT_TRUE(LaunchDescriptor::fromJson(e.descriptor_json).ok()) << e.describe();
    EXPECT_NE(std::find(e.kernel.options.begin(), e.kernel.options.end(), "--gpu-architecture=" + e.arch),
              e.kernel.options.end())
        << e.describe();
  }
  for (const char* arch : {"sm_80", "sm_90"}) {
    LibraryDevice dev{arch, kH100};
    auto r = idx.resolve(request("gated_delta_rule", 128, 128, 128, 4096), dev);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->source, ResolutionSource::Default);
    EXPECT_EQ(idx.entries()[r->entry].arch, arch);
    EXPECT_EQ(idx.entries()[r->entry].variant, "gated_delta_rule");
    auto d = idx.resolve(request("simple_gla", 128, 128, 64, 1, kdb::TuningMode::Decode), dev);
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(idx.entries()[d->entry].mode, kdb::TuningMode::Decode);
  }
  auto missing = idx.resolve(request("simple_gla", 128, 128, 128, 4096), {"sm_86", kH100});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.error(), "sm_86")) << missing.error();
}

TEST(PackBuild, WideFeatureMapsFallBackToSmallDimsWithOneNoteEach) {
  PackOptions o;
  o.archs = {"sm_90"};
  o.compile = test::fakeCompile;
  std::vector<std::string> notes;
  o.note = [&](const std::string& n) { notes.push_back(n); };
  PackSummary sum;
  Expected<PackContents> c = buildPackContents({test::variant("based")}, o, &sum);
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_TRUE(contains(notes[0], "based bf16 128x128 sm_90: skipped")) << notes[0];
  EXPECT_TRUE(contains(notes[0], "shared memory")) << notes[0];
  EXPECT_TRUE(contains(notes[1], "16x64")) << notes[1];
  for (const auto& e : c->index) {
    EXPECT_EQ(e.key_dim, 16);
    EXPECT_EQ(e.value_dim, 64);
  }
  EXPECT_EQ(c->index.size(), 3u);  // fused, state passing, decode
  // Dims the user asks for are kept: then based has nothing, which is an error naming it.
  o.dims = {{128, 128}};
  Expected<PackContents> none = buildPackContents({test::variant("based"), test::variant("gla")}, o);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(contains(none.error(), "no kernel could be built for based")) << none.error();
}

TEST(PackBuild, NvrtcFailuresAreNotesAndParallelCompilesAllRun) {
  PackOptions o;
  o.archs = {"sm_90"};
  o.threads = 4;
  std::atomic<int> calls{0};
  o.compile = [&](const std::string& src, const NvrtcOptions& opts) -> Expected<CubinResult> {
    ++calls;
    if (src.find("linrec_dec_") != std::string::npos) return Error{"generated.cu:1: error: pretend failure"};
    return test::fakeCompile(src, opts);
  };
  std::vector<std::string> notes;
  o.note = [&](const std::string& n) { notes.push_back(n); };
  Expected<PackContents> c = buildPackContents({test::variant("gla"), test::variant("kda")}, o);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(calls.load(), 6);  // gla and kda: fused, state passing, decode
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_TRUE(contains(notes[0], "decode: skipped, NVRTC rejects it: generated.cu:1: error: pretend failure"))
      << notes[0];
  EXPECT_EQ(c->index.size(), 4u);
}

TEST(PackBuild, TunedRecordsComeWithTheirKernels) {
  TempDir dir;
  const std::string db_path = dir.file("tuned.db");
  dsl::Spec gla = test::variant("gla");
  {
    Expected<kdb::KernelDb> db = kdb::KernelDb::open(db_path);
    ASSERT_TRUE(db.ok()) << db.error();
    kdb::TuningRecord rec;
    rec.key = kdb::TuningKey::forShape(gla.hash(), kH100, "bf16", 128, 128, 128, 4096, kdb::TuningMode::Forward);
    kdb::KernelConfig c;
    c.chunk = 32;
    c.block_v = 32;
    rec.config_json = c.toJson();
    rec.candidates_json = "[]";
    ASSERT_TRUE(db->putTuning(rec).ok());
    // A record for another GPU family the pack does not target is left out with a note.
    rec.key = kdb::TuningKey::forShape(gla.hash(), {"NVIDIA L4", 8, 9, 58, 13000}, "bf16", 128, 128, 128, 4096,
                                       kdb::TuningMode::Forward);
    ASSERT_TRUE(db->putTuning(rec).ok());
  }
  PackOptions o;
  o.archs = {"sm_90"};
  o.compile = test::fakeCompile;
  o.tuned_from = db_path;
  std::vector<std::string> notes;
  o.note = [&](const std::string& n) { notes.push_back(n); };
  const std::string path = dir.file("tuned.pack");
  Expected<PackSummary> sum = buildPack({gla}, o, path);
  ASSERT_TRUE(sum.ok()) << sum.error();
  EXPECT_EQ(sum->variants[0].tunings, 1);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(contains(notes[0], "NVIDIA L4")) << notes[0];
  LibraryIndex idx = indexOf(path);
  EXPECT_EQ(idx.tunings().size(), 1u);
  auto r = idx.resolve(request("gla", 128, 128, 8 * 16, 4096), {"sm_90", kH100});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->source, ResolutionSource::TunedExact);
  EXPECT_EQ(kdb::KernelConfig::fromJson(idx.entries()[r->entry].config_json)->brief(), "C=32 BV=32 W=4 fused");
  EXPECT_FALSE(idx.entries()[r->entry].is_default);
}

TEST(PackBuild, RealNvrtcBuildsTwoVariantsThatResolve) {
  TempDir dir;
  PackOptions o;
  o.archs = {"sm_90"};
  o.decode = false;
  o.state_passing = false;
  o.dims = {{64, 64}};
  o.threads = 2;
  const std::string path = dir.file("real.pack");
  Expected<PackSummary> sum = buildPack({test::variant("simple_gla"), test::variant("gated_delta_rule")}, o, path);
  ASSERT_TRUE(sum.ok()) << sum.error();
  EXPECT_TRUE(sum->notes.empty());
  Expected<kdb::Pack> pack = kdb::openPack(path);
  ASSERT_TRUE(pack.ok()) << pack.error();
  EXPECT_TRUE(checkPackForDevice(pack->manifest(), "sm_90", nvrtcVersionString(), linrecVersion(), 0).ok());
  LibraryIndex idx(*pack->index(), {});
  for (const char* v : {"simple_gla", "gated_delta_rule"}) {
    auto r = idx.resolve(request(v, 64, 64, 32, 1024), {"sm_90", kH100});
    ASSERT_TRUE(r.ok()) << r.error();
    const kdb::IndexEntry& e = idx.entries()[r->entry];
    auto k = pack->getKernel(e.kernel);
    ASSERT_TRUE(k.ok()) << k.error();
    ASSERT_TRUE(k->has_value());
    EXPECT_GT((*k)->cubin.size(), 1000u);
    EXPECT_EQ((*k)->spill_bytes, 0);
    // The descriptor names the kernels the cubin holds.
    auto d = LaunchDescriptor::fromJson(e.descriptor_json);
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(d->kernels.front().name, (*k)->kernel_names.front());
  }
}

TEST(PackRefusal, WrongArchNvrtcLinrecOrDriverIsRefusedByName) {
  kdb::PackManifest m;
  m.linrec_version = "0.1.0+h0123456789ab";
  m.nvrtc_version = "13.0";
  m.archs = {"sm_80", "sm_90a"};
  EXPECT_TRUE(checkPackForDevice(m, "sm_90", "13.2", "0.1.0", 13020).ok());
  EXPECT_TRUE(checkPackForDevice(m, "sm_80", "13.0", "0.1.5", 0).ok());

  Status arch = checkPackForDevice(m, "sm_100", "13.0", "0.1.0", 13000);
  ASSERT_FALSE(arch.ok());
  EXPECT_TRUE(contains(arch.error(), "pack targets sm_80, sm_90a, this GPU is sm_100")) << arch.error();
  EXPECT_TRUE(contains(arch.error(), "--arch sm_100")) << arch.error();

  Status nvrtc = checkPackForDevice(m, "sm_90", "12.8", "0.1.0", 0);
  ASSERT_FALSE(nvrtc.ok());
  EXPECT_TRUE(contains(nvrtc.error(), "NVRTC 13.0")) << nvrtc.error();
  EXPECT_TRUE(contains(nvrtc.error(), "NVRTC 12.8")) << nvrtc.error();

  Status linrec = checkPackForDevice(m, "sm_90", "13.0", "0.2.0", 0);
  ASSERT_FALSE(linrec.ok());
  EXPECT_TRUE(contains(linrec.error(), "linrec 0.1.0+h0123456789ab, this is linrec 0.2.0")) << linrec.error();

  Status driver = checkPackForDevice(m, "sm_90", "", "0.1.0", 12080);
  ASSERT_FALSE(driver.ok());
  EXPECT_TRUE(contains(driver.error(), "this driver supports CUDA 12.8")) << driver.error();

  // Everything wrong at once: one message naming each.
  Status all = checkPackForDevice(m, "sm_86", "12.4", "1.0.0", 12040);
  ASSERT_FALSE(all.ok());
  for (const char* part : {"sm_86", "linrec 1.0.0", "NVRTC 12.4", "CUDA 12.4"})
    EXPECT_TRUE(contains(all.error(), part)) << part << " in " << all.error();
}

TEST(PackRefusal, WritingIsAtomicWhenTheBuildFails) {
  TempDir dir;
  const std::string path = dir.file("keep.pack");
  PackOptions o;
  o.archs = {"sm_90"};
  o.compile = test::fakeCompile;
  ASSERT_TRUE(buildPack({test::variant("gla")}, o, path).ok());
  const std::string before = test::readBytes(path);
  // Every compile fails: no kernels, an error, and the old pack is untouched (no temp files either).
  o.compile = [](const std::string&, const NvrtcOptions&) -> Expected<CubinResult> { return Error{"boom"}; };
  Expected<PackSummary> failed = buildPack({test::variant("gla")}, o, path);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(test::readBytes(path), before);
  EXPECT_EQ(test::dirEntries(dir.path()), std::vector<std::string>{"keep.pack"});
}

TEST(PackBuild, DimsListsParse) {
  auto d = parseDimsList("64x64,128X128");
  ASSERT_TRUE(d.ok()) << d.error();
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[1].K, 128);
  EXPECT_FALSE(parseDimsList("64").ok());
  EXPECT_FALSE(parseDimsList("64x").ok());
  EXPECT_FALSE(parseDimsList("0x64").ok());
  EXPECT_FALSE(parseDimsList("64x64x2").ok());
}

}  // namespace
}  // namespace linrec::tuner
