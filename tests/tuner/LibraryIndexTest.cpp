// The runtime's pure resolution (no device): which index entry serves a request — exact tuned bucket,
// nearest tuned bucket, or the per-arch default — plus variant names and request derivation.
#include <gtest/gtest.h>

#include "linrec/kdb/KernelIndex.h"
#include "linrec/runtime/KernelLibrary.h"

namespace linrec {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const kdb::GpuIdentity kH100{"NVIDIA H100 80GB HBM3", 9, 0, 132, 13000};
const kdb::GpuIdentity kA100{"NVIDIA A100-SXM4-80GB", 8, 0, 108, 13000};

kdb::KernelConfig cfg(int chunk, int bv, int warps, const std::string& strategy = "fused") {
  kdb::KernelConfig c;
  c.chunk = chunk;
  c.block_v = bv;
  c.warps = warps;
  c.strategy = strategy;
  return c;
}

kdb::IndexEntry entry(const std::string& spec, const std::string& variant, const kdb::KernelConfig& c,
                      const std::string& arch, bool is_default, kdb::TuningMode mode = kdb::TuningMode::Forward,
                      int K = 128, int V = 128) {
  kdb::IndexEntry e;
  e.spec_hash = spec;
  e.variant = variant;
  e.key_dim = K;
  e.value_dim = V;
  e.dtype = "bf16";
  e.mode = mode;
  e.config_json = c.toJson();
  e.arch = arch;
  e.is_default = is_default;
  e.kernel.source_sha256 = spec + c.toJson() + arch;
  e.descriptor_json = "{}";
  return e;
}

kdb::TuningRecord record(const std::string& spec, const kdb::GpuIdentity& gpu, int64_t bh, int64_t T,
                         const kdb::KernelConfig& c, kdb::TuningMode mode = kdb::TuningMode::Forward) {
  kdb::TuningRecord r;
  r.key = kdb::TuningKey::forShape(spec, gpu, "bf16", 128, 128, bh, T, mode);
  r.config_json = c.toJson();
  r.candidates_json = "[]";
  r.created_at = 1;
  return r;
}

const std::string kSpec = "aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888";

// gla on sm_80 and sm_90: fused and state-passing defaults, decode, and two tuned configs on the H100.
LibraryIndex sampleIndex() {
  std::vector<kdb::IndexEntry> e = {
      entry(kSpec, "gla", cfg(64, 64, 4), "sm_90", true),
      entry(kSpec, "gla", cfg(64, 64, 4, "state_passing"), "sm_90", true),
      entry(kSpec, "gla", cfg(64, 32, 4), "sm_90", true, kdb::TuningMode::Decode),
      entry(kSpec, "gla", cfg(128, 128, 8), "sm_90a", false),
      entry(kSpec, "gla", cfg(32, 64, 4), "sm_90", false),
      entry(kSpec, "gla", cfg(64, 16, 2), "sm_90", false, kdb::TuningMode::Decode),
      entry(kSpec, "gla", cfg(64, 64, 4), "sm_80", true),
  };
  std::vector<kdb::TuningRecord> t = {
      record(kSpec, kH100, 128, 4096, cfg(128, 128, 8)), record(kSpec, kH100, 8, 65536, cfg(32, 64, 4)),
      record(kSpec, kH100, 256, 1, cfg(64, 16, 2), kdb::TuningMode::Decode),
      record(kSpec, kA100, 128, 4096, cfg(32, 64, 4)),  // another GPU: never used on the H100
  };
  return LibraryIndex(std::move(e), std::move(t));
}

KernelRequest request(int64_t bh, int64_t T, kdb::TuningMode mode = kdb::TuningMode::Forward) {
  KernelRequest r;
  r.variant = "gla";
  r.K = 128;
  r.V = 128;
  r.dtype = "bf16";
  r.mode = mode;
  r.batch_heads = bh;
  r.seq_len = T;
  return r;
}

std::string configOf(const LibraryIndex& idx, const Expected<Resolution>& r) {
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error());
  if (!r) return "error";
  auto c = kdb::KernelConfig::fromJson(idx.entries()[r->entry].config_json);
  return c ? c->brief() : "bad config";
}

TEST(LibraryIndex, TheExactBucketUsesItsTunedConfig) {
  LibraryIndex idx = sampleIndex();
  LibraryDevice h100{"sm_90", kH100};
  auto r = idx.resolve(request(8 * 16, 4096), h100);
  EXPECT_EQ(configOf(idx, r), "C=128 BV=128 W=8 fused");
  EXPECT_EQ(r->source, ResolutionSource::TunedExact);
  EXPECT_EQ(idx.entries()[r->entry].arch, "sm_90a");  // sm_90a cubins serve an sm_90 device
  // T = 3000 and B·H = 100 fall in the same buckets (4096, 128).
  auto same = idx.resolve(request(100, 3000), h100);
  EXPECT_EQ(same->source, ResolutionSource::TunedExact);
  EXPECT_EQ(same->entry, r->entry);
}

TEST(LibraryIndex, NearbyBucketsUseTheNearestRecord) {
  LibraryIndex idx = sampleIndex();
  LibraryDevice h100{"sm_90", kH100};
  auto r = idx.resolve(request(128, 8192), h100);  // one power of two from (128, 4096)
  EXPECT_EQ(configOf(idx, r), "C=128 BV=128 W=8 fused");
  EXPECT_EQ(r->source, ResolutionSource::TunedNearest);
  auto far = idx.resolve(request(16, 65536), h100);  // one from (8, 65536), many from (128, 4096)
  EXPECT_EQ(configOf(idx, far), "C=32 BV=64 W=4 fused");
  // Equidistant from both records (2 + 2 powers of two each): the larger T bucket wins.
  EXPECT_EQ(bucketDistance(32, 16384, 8, 65536), 4);
  EXPECT_EQ(bucketDistance(32, 16384, 128, 4096), 4);
  auto tie = idx.resolve(request(32, 16384), h100);
  EXPECT_EQ(configOf(idx, tie), "C=32 BV=64 W=4 fused");
  EXPECT_EQ(tie->source, ResolutionSource::TunedNearest);
}

TEST(LibraryIndex, FarBucketsAndOtherGpusFallBackToTheDefault) {
  LibraryIndex idx = sampleIndex();
  LibraryDevice h100{"sm_90", kH100};
  // B·H = 2, T = 64: five or more powers of two from every record; too few chunks for state passing.
  auto r = idx.resolve(request(2, 64), h100);
  EXPECT_EQ(configOf(idx, r), "C=64 BV=64 W=4 fused");
  EXPECT_EQ(r->source, ResolutionSource::Default);
  EXPECT_TRUE(contains(r->explanation, "no tuning record")) << r->explanation;
  EXPECT_TRUE(idx.entries()[r->entry].is_default);
  // On the A100 the H100's records do not count: the sm_80 default serves.
  LibraryDevice a100{"sm_80", kA100};
  auto a = idx.resolve(request(8 * 16, 4096 * 2), a100);
  EXPECT_EQ(a->source, ResolutionSource::Default);
  EXPECT_EQ(idx.entries()[a->entry].arch, "sm_80");
}

TEST(LibraryIndex, ATunedConfigWithoutAKernelForThisArchFallsBack) {
  LibraryIndex idx = sampleIndex();
  LibraryDevice a100{"sm_80", kA100};
  // The A100 record names C=32 BV=64, which the library only has for sm_90: the sm_80 default serves.
  auto r = idx.resolve(request(128, 4096), a100);
  EXPECT_EQ(r->source, ResolutionSource::Default);
  EXPECT_EQ(configOf(idx, r), "C=64 BV=64 W=4 fused");
  EXPECT_TRUE(contains(r->explanation, "has no sm_80 kernel")) << r->explanation;
}

TEST(LibraryIndex, StatePassingDefaultForLowParallelismAndLongSequences) {
  LibraryIndex idx = sampleIndex();
  LibraryDevice other{"sm_90", {"NVIDIA H100 PCIe", 9, 0, 114, 13000}};  // no records for this GPU
  // B·H = 4: 4 x 2 fused CTAs cannot fill 114 SMs, and T = 8192 gives 128 chunks: state passing.
  auto sp = idx.resolve(request(4, 8192), other);
  EXPECT_EQ(configOf(idx, sp), "C=64 BV=64 W=4 sp");
  EXPECT_TRUE(contains(sp->explanation, "state-passing")) << sp->explanation;
  // B·H = 128 fills the GPU: fused.
  EXPECT_EQ(configOf(idx, idx.resolve(request(128, 8192), other)), "C=64 BV=64 W=4 fused");
}

TEST(LibraryIndex, DriverVersionsDoNotSeparateRecordsButWinTies) {
  LibraryIndex idx = sampleIndex();
  kdb::GpuIdentity newer = kH100;
  newer.driver_version = 13010;
  auto r = idx.resolve(request(128, 4096), {"sm_90", newer});
  EXPECT_EQ(r->source, ResolutionSource::TunedExact);
}

TEST(LibraryIndex, DecodeIgnoresTheSequenceLength) {
  LibraryIndex idx = sampleIndex();
  LibraryDevice h100{"sm_90", kH100};
  auto r = idx.resolve(request(256, 99999, kdb::TuningMode::Decode), h100);
  EXPECT_EQ(configOf(idx, r), "C=64 BV=16 W=2 fused");
  EXPECT_EQ(r->source, ResolutionSource::TunedExact);
  auto d = idx.resolve(request(4, 1, kdb::TuningMode::Decode), h100);  // 6 powers of two away
  EXPECT_EQ(configOf(idx, d), "C=64 BV=32 W=4 fused");
  EXPECT_EQ(d->source, ResolutionSource::Default);
}

TEST(LibraryIndex, MissingArchDimsOrDtypeIsAnErrorThatSaysWhatExists) {
  LibraryIndex idx = sampleIndex();
  auto r = idx.resolve(request(128, 4096), {"sm_86", kH100});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "on sm_86")) << r.error();
  EXPECT_TRUE(contains(r.error(), "bf16 K=128 V=128 fwd sm_90")) << r.error();
  EXPECT_TRUE(contains(r.error(), "linrec pack --arch sm_86")) << r.error();
  KernelRequest k64 = request(128, 4096);
  k64.K = 64;
  auto e = idx.resolve(k64, {"sm_90", kH100});
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.error(), "--dims 64x128")) << e.error();
}

TEST(LibraryIndex, VariantsAreFoundByNameHashOrHashPrefix) {
  std::vector<kdb::IndexEntry> e = {entry(kSpec, "gla", cfg(64, 64, 4), "sm_90", true),
                                    entry("9999" + kSpec.substr(4), "kda", cfg(64, 64, 4), "sm_90", true),
                                    entry("7777" + kSpec.substr(4), "kda", cfg(64, 64, 4), "sm_90", true)};
  LibraryIndex idx(std::move(e), {});
  EXPECT_EQ(*idx.specHashFor("gla"), kSpec);
  EXPECT_EQ(*idx.specHashFor(kSpec), kSpec);
  EXPECT_EQ(*idx.specHashFor(kSpec.substr(0, 12)), kSpec);
  auto amb = idx.specHashFor("kda");
  ASSERT_FALSE(amb.ok());
  EXPECT_TRUE(contains(amb.error(), "ambiguous")) << amb.error();
  auto none = idx.specHashFor("retnet");
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(contains(none.error(), "gla (aaaa1111bbbb)")) << none.error();
  EXPECT_FALSE(idx.specHashFor("aaaa").ok());  // prefixes need 8 hex digits
  EXPECT_EQ(idx.variants(), (std::vector<std::string>{"gla", "kda"}));
}

TEST(LibraryIndex, RequestsComeFromLaunchArguments) {
  ForwardArgs a;
  a.q = TensorRef::contiguous(uint64_t{256}, DType::BF16, {1, 1000, 16, 128});
  a.v = TensorRef::contiguous(uint64_t{256}, DType::BF16, {1, 1000, 16, 64});
  a.cu_seqlens = TensorRef::contiguous(uint64_t{256}, DType::I64, {5});  // 4 sequences
  auto r = requestForForward("gla", a);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->K, 128);
  EXPECT_EQ(r->V, 64);
  EXPECT_EQ(r->dtype, "bf16");
  EXPECT_EQ(r->batch_heads, 4 * 16);
  EXPECT_EQ(r->seq_len, 250);
  StepArgs s;
  s.q = TensorRef::contiguous(uint64_t{256}, DType::FP16, {8, 1, 16, 128});
  s.v = TensorRef::contiguous(uint64_t{256}, DType::FP16, {8, 1, 16, 128});
  auto d = requestForStep("gla", s);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->mode, kdb::TuningMode::Decode);
  EXPECT_EQ(d->batch_heads, 128);
  EXPECT_EQ(d->dtype, "fp16");
  a.q.shape = {1000, 16, 128};
  EXPECT_FALSE(requestForForward("gla", a).ok());
}

TEST(LibraryIndex, ConfigTextIsCanonical) {
  auto a = kdb::canonicalConfigJson(
      R"({"warps":4,"strategy":"fused","chunk":64,"block_v":64,"block_k":128,"stages":2,"x":1})");
  auto b = kdb::canonicalConfigJson(cfg(64, 64, 4).toJson());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(kdb::canonicalConfigJson(R"({"chunk":64})").ok());
  EXPECT_FALSE(
      kdb::canonicalConfigJson(R"({"chunk":64,"block_v":64,"block_k":128,"warps":4,"stages":2,"strategy":"magic"})")
          .ok());
}

}  // namespace
}  // namespace linrec
