// The pure part of KernelLibrary: which index entry serves a request (tuned bucket, nearest bucket or
// per-arch default), pack compatibility, and requests derived from launch arguments. No device needed.
#include <algorithm>
#include <cstdio>
#include <set>

#include "linrec/kdb/KernelIndex.h"
#include "linrec/kdb/Pack.h"
#include "linrec/runtime/KernelLibrary.h"

namespace linrec {

namespace {

/// "sm_90a" -> "sm_90": a cubin built for either runs on a cc 9.0 GPU.
std::string baseArch(const std::string& arch) {
  std::string a = arch;
  while (!a.empty() && (a.back() == 'a' || a.back() == 'f')) a.pop_back();
  return a;
}

int log2Bucket(int64_t n) {
  int64_t b = kdb::bucketOf(n);
  int l = 0;
  while ((int64_t{1} << l) < b) ++l;
  return l;
}

bool sameGpu(const kdb::GpuIdentity& a, const kdb::GpuIdentity& b) {
  return a.name == b.name && a.cc_major == b.cc_major && a.cc_minor == b.cc_minor && a.sm_count == b.sm_count;
}

bool isHex(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

int64_t ceilDiv(int64_t a, int64_t b) {
  return b <= 0 ? 0 : (a + b - 1) / b;
}

}  // namespace

std::string KernelRequest::describe() const {
  std::string s = variant + " " + dtype + " K=" + std::to_string(K) + " V=" + std::to_string(V) + " " +
                  kdb::tuningModeName(mode) + " B*H=" + std::to_string(batch_heads);
  if (mode != kdb::TuningMode::Decode) s += " T=" + std::to_string(seq_len);
  return s;
}

const char* resolutionSourceName(ResolutionSource s) {
  switch (s) {
    case ResolutionSource::TunedExact:
      return "tuned";
    case ResolutionSource::TunedNearest:
      return "tuned-nearest";
    case ResolutionSource::Default:
      return "default";
  }
  return "default";
}

int bucketDistance(int64_t bh_a, int64_t t_a, int64_t bh_b, int64_t t_b) {
  return std::abs(log2Bucket(bh_a) - log2Bucket(bh_b)) + std::abs(log2Bucket(t_a) - log2Bucket(t_b));
}

LibraryIndex::LibraryIndex(std::vector<kdb::IndexEntry> entries, std::vector<kdb::TuningRecord> tunings)
    : entries_(std::move(entries)), tunings_(std::move(tunings)) {}

std::vector<std::string> LibraryIndex::variants() const {
  std::set<std::string> names;
  for (const auto& e : entries_) names.insert(e.variant);
  return {names.begin(), names.end()};
}

Expected<std::string> LibraryIndex::specHashFor(const std::string& variant) const {
  std::set<std::string> by_name, by_hash;
  for (const auto& e : entries_) {
    if (e.variant == variant) by_name.insert(e.spec_hash);
    if (e.spec_hash == variant || (variant.size() >= 8 && isHex(variant) && e.spec_hash.rfind(variant, 0) == 0))
      by_hash.insert(e.spec_hash);
  }
  const std::set<std::string>& hits = !by_name.empty() ? by_name : by_hash;
  if (hits.size() == 1) return *hits.begin();
  std::string have;
  for (const auto& e : entries_) {
    std::string item = e.variant + " (" + e.spec_hash.substr(0, 12) + ")";
    if (have.find(item) == std::string::npos) have += (have.empty() ? "" : ", ") + item;
  }
  if (hits.empty())
    return Error{"no variant '" + variant + "' in this library; it has: " + (have.empty() ? "nothing" : have)};
  std::string list;
  for (const auto& h : hits) list += (list.empty() ? "" : ", ") + h;
  return Error{"variant name '" + variant + "' is ambiguous: specs " + list + " share it; pass the spec hash instead"};
}

Expected<Resolution> LibraryIndex::resolve(const KernelRequest& req, const LibraryDevice& dev) const {
  Expected<std::string> spec = specHashFor(req.variant);
  if (!spec) return Error{spec.error()};
  const std::string arch = baseArch(dev.arch);
  const bool decode = req.mode == kdb::TuningMode::Decode;

  // 1. Entries that could serve the request at all.
  std::vector<size_t> usable;
  std::set<std::string> elsewhere;  // what the library has for this spec instead, for the error
  for (size_t i = 0; i < entries_.size(); ++i) {
    const kdb::IndexEntry& e = entries_[i];
    if (e.spec_hash != *spec) continue;
    if (e.key_dim == req.K && e.value_dim == req.V && e.dtype == req.dtype && e.mode == req.mode &&
        baseArch(e.arch) == arch) {
      usable.push_back(i);
    } else {
      elsewhere.insert(e.dtype + " K=" + std::to_string(e.key_dim) + " V=" + std::to_string(e.value_dim) + " " +
                       kdb::tuningModeName(e.mode) + " " + baseArch(e.arch));
    }
  }
  if (usable.empty()) {
    std::string have;
    for (const auto& s : elsewhere) have += (have.empty() ? "" : "; ") + s;
    return Error{"no kernel for " + req.describe() + " on " + arch + (have.empty() ? "" : "; the library has " + have) +
                 " (build one with `linrec pack --arch " + arch + " --dtypes " + req.dtype + " --dims " +
                 std::to_string(req.K) + "x" + std::to_string(req.V) + "`)"};
  }
  auto entryWithConfig = [&](const std::string& config) -> std::optional<size_t> {
    Expected<std::string> canon = kdb::canonicalConfigJson(config);
    if (!canon) return std::nullopt;
    std::optional<size_t> best;
    for (size_t i : usable) {
      // Several archs of one family (sm_90, sm_90a) may hold the config: prefer the exact arch, then the
      // first stored, so the choice is deterministic.
      if (entries_[i].config_json != *canon) continue;
      if (!best || (entries_[i].arch == dev.arch && entries_[*best].arch != dev.arch)) best = i;
    }
    return best;
  };

  // 2. The nearest tuning record for this GPU.
  const int64_t req_t = decode ? 1 : req.seq_len;
  const kdb::TuningRecord* best = nullptr;
  int best_d = 0;
  auto better = [&](const kdb::TuningRecord& a, int da, const kdb::TuningRecord& b, int db) {
    if (da != db) return da < db;
    bool a_driver = a.key.gpu.driver_version == dev.gpu.driver_version;
    bool b_driver = b.key.gpu.driver_version == dev.gpu.driver_version;
    if (a_driver != b_driver) return a_driver;
    if (a.key.t_bucket != b.key.t_bucket) return a.key.t_bucket > b.key.t_bucket;
    if (a.key.bh_bucket != b.key.bh_bucket) return a.key.bh_bucket > b.key.bh_bucket;
    return a.created_at > b.created_at;
  };
  std::string skipped;  // a nearer record whose config has no kernel here, for the explanation
  for (const kdb::TuningRecord& r : tunings_) {
    const kdb::TuningKey& k = r.key;
    if (k.spec_hash != *spec || k.dtype != req.dtype || k.key_dim != req.K || k.value_dim != req.V ||
        k.mode != req.mode || !sameGpu(k.gpu, dev.gpu))
      continue;
    int d = bucketDistance(k.bh_bucket, decode ? 1 : k.t_bucket, req.batch_heads, req_t);
    if (d > kMaxBucketDistance) continue;
    if (!entryWithConfig(r.config_json)) {
      skipped = "the tuned config " + r.config_json + " has no " + arch + " kernel here";
      continue;
    }
    if (!best || better(r, d, *best, best_d)) {
      best = &r;
      best_d = d;
    }
  }
  Resolution res;
  res.spec_hash = *spec;
  if (best) {
    res.entry = *entryWithConfig(best->config_json);
    res.source = best_d == 0 ? ResolutionSource::TunedExact : ResolutionSource::TunedNearest;
    res.explanation = std::string(best_d == 0 ? "tuned" : "nearest tuned bucket") + " (B*H bucket " +
                      std::to_string(best->key.bh_bucket) +
                      (decode ? "" : ", T bucket " + std::to_string(best->key.t_bucket)) + ") on " +
                      best->key.gpu.name + ": " + entries_[res.entry].describe();
    return res;
  }

  // 3. The default for this arch.
  std::optional<size_t> fused, sp;
  for (size_t i : usable) {
    if (!entries_[i].is_default) continue;
    Expected<kdb::KernelConfig> c = kdb::KernelConfig::fromJson(entries_[i].config_json);
    if (!c) continue;
    auto& slot = c->isStatePassing() ? sp : fused;
    if (!slot || (entries_[i].arch == dev.arch && entries_[*slot].arch != dev.arch)) slot = i;
  }
  res.source = ResolutionSource::Default;
  std::string why = "no tuning record for " + req.describe() + " on " +
                    (dev.gpu.name.empty() ? std::string("this GPU") : dev.gpu.name) +
                    (skipped.empty() ? "" : " (" + skipped + ")");
  if (sp && !decode) {
    Expected<kdb::KernelConfig> sc = kdb::KernelConfig::fromJson(entries_[*sp].config_json);
    int64_t fused_bv = 64;
    if (fused)
      if (Expected<kdb::KernelConfig> fc = kdb::KernelConfig::fromJson(entries_[*fused].config_json); fc)
        fused_bv = fc->block_v;
    const int64_t ctas = req.batch_heads * ceilDiv(req.V, fused_bv);
    const int64_t chunks = sc ? ceilDiv(req.seq_len, sc->chunk) : 0;
    if (!fused || (dev.gpu.sm_count > 0 && ctas < dev.gpu.sm_count && chunks >= 8)) {
      res.entry = *sp;
      res.explanation = why + "; using the " + arch + " state-passing default (" + std::to_string(ctas) +
                        " fused CTAs cannot fill " + std::to_string(dev.gpu.sm_count) +
                        " SMs): " + entries_[res.entry].describe();
      return res;
    }
  }
  if (fused) {
    res.entry = *fused;
    res.explanation = why + "; using the " + arch + " default: " + entries_[res.entry].describe();
    return res;
  }
  res.entry = usable.front();
  res.explanation = why + "; the library marks no default, using its first entry: " + entries_[res.entry].describe();
  return res;
}

Status checkPackForDevice(const kdb::PackManifest& manifest, const std::string& device_arch,
                          const std::string& nvrtc_version, const std::string& linrec_version, int driver_version) {
  Status base = kdb::checkCompatible(manifest, device_arch, nvrtc_version, linrec_version);
  std::string problems = base ? "" : base.error();
  int pack_major = -1;
  if (driver_version > 0 && std::sscanf(manifest.nvrtc_version.c_str(), "%d", &pack_major) == 1 &&
      driver_version / 1000 < pack_major) {
    // The driver loads cubins of its own CUDA major and older ones, not newer ones.
    std::string drv = std::to_string(driver_version / 1000) + "." + std::to_string(driver_version % 1000 / 10);
    std::string msg = "pack was compiled with NVRTC " + manifest.nvrtc_version + ", but this driver supports CUDA " +
                      drv + "; update the driver, or rebuild the pack with CUDA " +
                      std::to_string(driver_version / 1000) + ".x";
    problems = problems.empty() ? "incompatible kernel pack: " + msg : problems + "; " + msg;
  }
  if (problems.empty()) return Status::success();
  return Error{problems};
}

Expected<KernelRequest> requestForForward(const std::string& variant, const ForwardArgs& a) {
  if (a.q.shape.size() != 4) return Error{"forward: q must be [B,T,H,K], got " + a.q.describe()};
  if (a.v.shape.size() != 4) return Error{"forward: v must be [B,T,H,V], got " + a.v.describe()};
  KernelRequest r;
  r.variant = variant;
  r.mode = kdb::TuningMode::Forward;
  r.K = a.q.shape[3];
  r.V = a.v.shape[3];
  r.dtype = dtypeName(a.q.dtype);
  const int64_t B = a.q.shape[0], T = a.q.shape[1], H = a.q.shape[2];
  int64_t N = B, len = T;
  if (a.cu_seqlens.defined() && a.cu_seqlens.shape.size() == 1 && a.cu_seqlens.shape[0] >= 2) {
    N = a.cu_seqlens.shape[0] - 1;
    len = ceilDiv(T, N);  // the mean length stands for the batch: buckets are coarse anyway
  }
  r.batch_heads = std::max<int64_t>(1, N * H);
  r.seq_len = std::max<int64_t>(1, len);
  return r;
}

Expected<KernelRequest> requestForStep(const std::string& variant, const StepArgs& a) {
  const size_t rank = a.q.shape.size();
  if (rank != 3 && rank != 4) return Error{"step: q must be [B,1,H,K] or [B,H,K], got " + a.q.describe()};
  if (a.v.shape.empty()) return Error{"step: v is missing"};
  KernelRequest r;
  r.variant = variant;
  r.mode = kdb::TuningMode::Decode;
  r.K = a.q.shape.back();
  r.V = a.v.shape.back();
  r.dtype = dtypeName(a.q.dtype);
  const int64_t B = a.q.shape[0], H = a.q.shape[rank - 2];
  r.batch_heads = std::max<int64_t>(1, B * H);
  r.seq_len = 1;
  return r;
}

}  // namespace linrec
