// linrec::KernelLibrary: prebuilt kernels from a pack or a kernel DB, chosen per call by the tuned config of
// the call's shape bucket (or a per-arch default); no compiler and no NVRTC compile on this path.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/kdb/KernelIndex.h"
#include "linrec/kdb/Pack.h"
#include "linrec/runtime/Kernel.h"
#include "linrec/runtime/LaunchArgs.h"

namespace linrec {

class Runtime;

/// "0.1.0": the linrec release this runtime belongs to (packs are compatible within a major.minor).
std::string linrecVersion();
/// "0.1.0+h<12 hex>": the release plus a digest of the embedded kernel headers. Kernels in the DB and in
/// packs carry it as their KernelKey::linrec_version, because the same generated source compiles to a
/// different cubin when a header changes; semver's "+build" suffix keeps major.minor comparisons working.
std::string kernelBuildTag();

// ---- pure resolution (no device needed; unit-tested on the CPU) ------------------------------------------

/// The device facts resolution depends on.
struct LibraryDevice {
  std::string arch;      ///< "sm_90" (a suffix such as "a" is ignored when matching entries)
  kdb::GpuIdentity gpu;  ///< for matching tuning records
};

/// What a forward()/step() call asks for, derived from its arguments.
struct KernelRequest {
  std::string variant;  ///< variant name, spec hash, or a unique prefix of at least 8 hex digits of one
  int64_t K = 0, V = 0;
  std::string dtype;  ///< "bf16", "fp16", "fp32"
  kdb::TuningMode mode = kdb::TuningMode::Forward;
  int64_t batch_heads = 1;  ///< B·H (N·H with cu_seqlens)
  int64_t seq_len = 1;      ///< T (the mean sequence length with cu_seqlens; 1 for decode)
  /// "gated_delta_rule bf16 K=128 V=128 fwd B·H=128 T=4096".
  std::string describe() const;
};

/// How a request was served.
enum class ResolutionSource {
  TunedExact,    ///< a tuning record for exactly this (B·H, T) bucket
  TunedNearest,  ///< the record of the nearest tuned bucket (see LibraryIndex::resolve)
  Default,       ///< no usable record: the library's default entry for the device's arch
};
const char* resolutionSourceName(ResolutionSource s);

/// The outcome of LibraryIndex::resolve.
struct Resolution {
  size_t entry = 0;  ///< position in LibraryIndex::entries()
  ResolutionSource source = ResolutionSource::Default;
  std::string spec_hash;
  std::string explanation;  ///< one line: which record or default, and why
};

/// Tuning records further apart than this many powers of two (summed over B·H and T) are not used.
inline constexpr int kMaxBucketDistance = 4;
/// |log2 a − log2 b| + |log2 c − log2 d| over buckets (powers of two).
int bucketDistance(int64_t bh_a, int64_t t_a, int64_t bh_b, int64_t t_b);

/// The entries and tuning records of a library, held in memory, and the rule that picks an entry.
class LibraryIndex {
 public:
  LibraryIndex() = default;
  LibraryIndex(std::vector<kdb::IndexEntry> entries, std::vector<kdb::TuningRecord> tunings);

  const std::vector<kdb::IndexEntry>& entries() const { return entries_; }
  const std::vector<kdb::TuningRecord>& tunings() const { return tunings_; }
  /// Distinct variant names, sorted.
  std::vector<std::string> variants() const;

  /// The spec hash a variant name, hash or unique hash prefix stands for. Unknown or ambiguous names
  /// are errors that list what the library has.
  Expected<std::string> specHashFor(const std::string& variant) const;

  /// Picks the entry for `req` on `dev`:
  ///  1. entries of the spec with the request's K, V, dtype and mode whose arch is the device's (ignoring
  ///     an "a"/"f" suffix); none is an error naming what the library has instead;
  ///  2. tuning records of the spec, dtype, K, V and mode for this GPU (same name, compute capability and
  ///     SM count; a record from another driver version counts, one from this driver wins ties); the
  ///     record of the request's bucket (bucketOf(B·H), bucketOf(T); T is ignored for decode) wins, else
  ///     the nearest by bucketDistance up to kMaxBucketDistance, ties going to the larger T bucket, then
  ///     the larger B·H bucket, then the newer record; its config must have an entry from step 1;
  ///  3. otherwise the default entry: the state-passing default when there is one and the call cannot fill
  ///     the GPU (B·H·⌈V/BV⌉ of the fused default < SM count) while having at least 8 chunks per sequence,
  ///     else the fused default; with no default at all, the first entry from step 1.
  Expected<Resolution> resolve(const KernelRequest& req, const LibraryDevice& dev) const;

 private:
  std::vector<kdb::IndexEntry> entries_;
  std::vector<kdb::TuningRecord> tunings_;
};

/// Whether a pack can serve this device: kdb::checkCompatible (arch, linrec major.minor, NVRTC major;
/// `nvrtc_version` empty skips that) plus the driver: a cubin from NVRTC X.Y needs a driver for CUDA X
/// or newer (`driver_version` 0 skips that). The error names every mismatch and how to fix it.
Status checkPackForDevice(const kdb::PackManifest& manifest, const std::string& device_arch,
                          const std::string& nvrtc_version, const std::string& linrec_version, int driver_version);

/// Derives the request of a forward call (mode fwd) or a decode step (mode decode) from its arguments.
Expected<KernelRequest> requestForForward(const std::string& variant, const ForwardArgs& args);
Expected<KernelRequest> requestForStep(const std::string& variant, const StepArgs& args);

// ---- the library -------------------------------------------------------------------------------------

/// Prebuilt kernels served by name: open a pack (or a kernel DB), then call forward()/step() with the
/// variant's name. Each call resolves its shape bucket once (LibraryIndex::resolve), loads that cubin
/// once (lazily, on first use) and launches it; later calls with the same bucket cost a map look-up.
/// Thread-safe. The Runtime must outlive the library.
///
///     auto rt = linrec::Runtime::create();
///     auto lib = linrec::loadPack(**rt, "h100.pack");   // refused with a reason on another arch/version
///     Status s = (*lib)->forward("gated_delta_rule", args, stream);
///
/// With LINREC_LOG=debug, each request that falls back to a default says so once on stderr.
class KernelLibrary {
 public:
  /// Opens a pack and checks it against the runtime's device (checkPackForDevice). Reads the manifest,
  /// the index and the tuning records; cubins are read when first used.
  static Expected<std::shared_ptr<KernelLibrary>> openPack(Runtime& rt, const std::string& path);
  /// Opens a kernel DB read-only and serves its index entries built by this linrec build
  /// (kernelBuildTag()) for the device's arch (what `linrec tune` stored).
  static Expected<std::shared_ptr<KernelLibrary>> openDb(Runtime& rt, const std::string& path);

  ~KernelLibrary();
  KernelLibrary(const KernelLibrary&) = delete;
  KernelLibrary& operator=(const KernelLibrary&) = delete;

  /// Prefill with the kernel chosen for `args`' bucket (validated by Kernel::forward).
  Status forward(const std::string& variant, const ForwardArgs& args, CUstream stream);
  /// One decode step with the kernel chosen for `args` (validated by Kernel::step).
  Status step(const std::string& variant, const StepArgs& args, CUstream stream);
  /// The (loaded) kernel for a request, and how it was chosen.
  Expected<Kernel> kernelFor(const KernelRequest& req, Resolution* how = nullptr);

  const LibraryIndex& index() const { return index_; }
  const LibraryDevice& device() const { return device_; }
  /// The pack or DB path.
  const std::string& path() const { return path_; }
  /// The manifest (packs only).
  const std::optional<kdb::PackManifest>& manifest() const { return manifest_; }
  /// Cubins loaded so far.
  size_t loadedKernels() const;

 private:
  struct Source;
  KernelLibrary(Runtime& rt, std::string path, std::unique_ptr<Source> source, LibraryIndex index, LibraryDevice device,
                std::optional<kdb::PackManifest> manifest);
  Expected<Kernel> loadEntry(size_t entry);

  Runtime& rt_;
  std::string path_;
  std::unique_ptr<Source> source_;  // the open pack or DB; guarded by mu_
  LibraryIndex index_;
  LibraryDevice device_;
  std::optional<kdb::PackManifest> manifest_;
  mutable std::mutex mu_;
  std::map<size_t, Kernel> loaded_;         // by entry
  std::map<std::string, size_t> resolved_;  // request bucket key -> entry
};

/// KernelLibrary::openPack: what DESIGN.md §4 calls `rt.load_pack(path)`.
Expected<std::shared_ptr<KernelLibrary>> loadPack(Runtime& rt, const std::string& path);

}  // namespace linrec
