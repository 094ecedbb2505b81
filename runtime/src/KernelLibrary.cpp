// KernelLibrary: opens a pack or a kernel DB, checks it against the device, and serves launches from its
// cubins (loaded lazily, once each), choosing per shape bucket with LibraryIndex::resolve.
#include "linrec/runtime/KernelLibrary.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "linrec/kdb/KernelDb.h"
#include "linrec/runtime/EmbeddedHeaders.h"
#include "linrec/runtime/NvrtcCompiler.h"
#include "linrec/runtime/Runtime.h"

#ifndef LINREC_VERSION_STRING
#define LINREC_VERSION_STRING "unknown"
#endif

namespace linrec {

std::string linrecVersion() {
  return LINREC_VERSION_STRING;
}

std::string kernelBuildTag() {
  return std::string(LINREC_VERSION_STRING) + "+h" + std::string(embeddedKernelHeadersDigest()).substr(0, 12);
}

namespace {

bool debugLogging() {
  static const bool on = [] {
    const char* v = std::getenv("LINREC_LOG");
    return v != nullptr && (std::strcmp(v, "debug") == 0 || std::strcmp(v, "DEBUG") == 0);
  }();
  return on;
}

kdb::GpuIdentity identityOf(const DeviceInfo& d) {
  return {d.name, d.cc_major, d.cc_minor, d.sm_count, d.driver_version};
}

// The part of a request that decides its resolution: one resolve (and one debug line) per bucket.
std::string bucketKey(const KernelRequest& r) {
  return r.variant + "|" + std::to_string(r.K) + "|" + std::to_string(r.V) + "|" + r.dtype + "|" +
         kdb::tuningModeName(r.mode) + "|" + std::to_string(kdb::bucketOf(r.batch_heads)) + "|" +
         std::to_string(r.mode == kdb::TuningMode::Decode ? 1 : kdb::bucketOf(r.seq_len));
}

}  // namespace

/// The open pack or DB the cubins come from (one SQLite connection: used under the library's mutex).
struct KernelLibrary::Source {
  std::optional<kdb::Pack> pack;
  std::optional<kdb::KernelDb> db;
  Expected<std::optional<kdb::KernelRecord>> get(const kdb::KernelKey& key) {
    return pack ? pack->getKernel(key) : db->getKernel(key);
  }
};

KernelLibrary::KernelLibrary(Runtime& rt, std::string path, std::unique_ptr<Source> source, LibraryIndex index,
                             LibraryDevice device, std::optional<kdb::PackManifest> manifest)
    : rt_(rt),
      path_(std::move(path)),
      source_(std::move(source)),
      index_(std::move(index)),
      device_(std::move(device)),
      manifest_(std::move(manifest)) {}

KernelLibrary::~KernelLibrary() = default;

Expected<std::shared_ptr<KernelLibrary>> KernelLibrary::openPack(Runtime& rt, const std::string& path) {
  Expected<kdb::Pack> pack = kdb::openPack(path);
  if (!pack) return Error{pack.error()};
  const DeviceInfo& info = rt.device();
  if (Status s =
          checkPackForDevice(pack->manifest(), info.arch(), nvrtcVersionString(), linrecVersion(), info.driver_version);
      !s)
    return Error{path + ": " + s.error()};
  if (pack->formatVersion() < 2)
    return Error{"kernel pack " + path + " has format " + std::to_string(pack->formatVersion()) +
                 ", which has no kernel index for the runtime to serve launches from; rebuild it with `linrec pack`"};
  Expected<std::vector<kdb::IndexEntry>> entries = pack->index();
  if (!entries) return Error{entries.error()};
  Expected<std::vector<kdb::TuningRecord>> tunings = pack->tunings();
  if (!tunings) return Error{tunings.error()};
  if (entries->empty()) return Error{"kernel pack " + path + " has no kernels in its index"};
  auto source = std::make_unique<Source>();
  kdb::PackManifest manifest = pack->manifest();
  source->pack.emplace(std::move(*pack));
  LibraryDevice dev{info.arch(), identityOf(info)};
  return std::shared_ptr<KernelLibrary>(new KernelLibrary(rt, path, std::move(source),
                                                          LibraryIndex(std::move(*entries), std::move(*tunings)),
                                                          std::move(dev), std::move(manifest)));
}

Expected<std::shared_ptr<KernelLibrary>> KernelLibrary::openDb(Runtime& rt, const std::string& path) {
  Expected<kdb::KernelDb> db = kdb::KernelDb::open(path, kdb::OpenMode::ReadOnly);
  if (!db) return Error{db.error()};
  Expected<std::vector<kdb::IndexEntry>> all = db->indexEntries();
  if (!all) return Error{all.error()};
  Expected<std::vector<kdb::TuningRecord>> tunings = db->tunings();
  if (!tunings) return Error{tunings.error()};
  const DeviceInfo& info = rt.device();
  // A DB is a cache shared by every linrec build on this machine: only this build's kernels (same kernel
  // headers, same NVRTC) are known to match what this runtime expects.
  const std::string tag = kernelBuildTag(), nvrtc = nvrtcVersionString();
  std::vector<kdb::IndexEntry> entries;
  size_t other_builds = 0;
  for (auto& e : *all) {
    if (e.kernel.linrec_version != tag || (!nvrtc.empty() && e.kernel.nvrtc_version != nvrtc)) {
      ++other_builds;
      continue;
    }
    entries.push_back(std::move(e));
  }
  if (entries.empty())
    return Error{"kernel DB " + path + " has no kernels built by this linrec (" + tag + ", NVRTC " + nvrtc + ")" +
                 (other_builds ? " (" + std::to_string(other_builds) + " from other builds)" : "") +
                 "; run `linrec tune` or import a pack"};
  auto source = std::make_unique<Source>();
  source->db.emplace(std::move(*db));
  LibraryDevice dev{info.arch(), identityOf(info)};
  return std::shared_ptr<KernelLibrary>(new KernelLibrary(
      rt, path, std::move(source), LibraryIndex(std::move(entries), std::move(*tunings)), std::move(dev), {}));
}

size_t KernelLibrary::loadedKernels() const {
  std::lock_guard<std::mutex> lock(mu_);
  return loaded_.size();
}

Expected<Kernel> KernelLibrary::loadEntry(size_t entry) {
  // Called with mu_ held.
  auto it = loaded_.find(entry);
  if (it != loaded_.end()) return it->second;
  const kdb::IndexEntry& e = index_.entries()[entry];
  Expected<std::optional<kdb::KernelRecord>> rec = source_->get(e.kernel);
  if (!rec) return Error{rec.error()};
  if (!*rec) return Error{path_ + ": the index names a kernel that is not stored (" + e.describe() + ")"};
  Expected<Kernel> k = rt_.loadCubinKernel((*rec)->cubin, e.descriptor_json);
  if (!k) return Error{e.describe() + " from " + path_ + ": " + k.error()};
  loaded_.emplace(entry, *k);
  return *k;
}

Expected<Kernel> KernelLibrary::kernelFor(const KernelRequest& req, Resolution* how) {
  const std::string key = bucketKey(req);
  std::lock_guard<std::mutex> lock(mu_);
  auto hit = resolved_.find(key);
  if (hit != resolved_.end() && how == nullptr) return loadEntry(hit->second);
  Expected<Resolution> res = index_.resolve(req, device_);
  if (!res) return Error{res.error()};
  if (hit == resolved_.end() && res->source == ResolutionSource::Default && debugLogging())
    std::fprintf(stderr, "linrec[debug]: %s\n", res->explanation.c_str());
  Expected<Kernel> k = loadEntry(res->entry);
  if (!k) return k;
  resolved_[key] = res->entry;
  if (how) *how = std::move(*res);
  return k;
}

Status KernelLibrary::forward(const std::string& variant, const ForwardArgs& args, CUstream stream) {
  Expected<KernelRequest> req = requestForForward(variant, args);
  if (!req) return Error{req.error()};
  Expected<Kernel> k = kernelFor(*req);
  if (!k) return Error{k.error()};
  return k->forward(args, stream);
}

Status KernelLibrary::step(const std::string& variant, const StepArgs& args, CUstream stream) {
  Expected<KernelRequest> req = requestForStep(variant, args);
  if (!req) return Error{req.error()};
  Expected<Kernel> k = kernelFor(*req);
  if (!k) return Error{k.error()};
  return k->step(args, stream);
}

Expected<std::shared_ptr<KernelLibrary>> loadPack(Runtime& rt, const std::string& path) {
  return KernelLibrary::openPack(rt, path);
}

}  // namespace linrec
