// linrec::kdb packs: one SQLite file of prebuilt kernels (and tuning records) with a manifest, for machines
// that have no compiler; written atomically, refused when built for another arch or version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/kdb/Database.h"
#include "linrec/kdb/KernelDb.h"
#include "linrec/kdb/KernelIndex.h"

namespace linrec::kdb {

/// PRAGMA application_id of a pack: 'LNRP' (a kernel DB is 'LNRC': the two are not interchangeable).
inline constexpr int32_t kPackApplicationId = 0x4C4E5250;
/// The pack layout this build writes (PRAGMA user_version). Format 2 added the kernel index; format 1
/// packs still open (and import), but have no index, so a runtime cannot serve launches from them.
inline constexpr int kPackFormatVersion = 2;

/// What a pack was built for.
struct PackManifest {
  std::string linrec_version;            ///< "0.1.0"
  std::string nvrtc_version;             ///< "12.8"
  std::vector<std::string> archs;        ///< "sm_80", "sm_90a", ...
  std::vector<std::string> spec_hashes;  ///< the variants inside
  int64_t created_at = 0;                ///< unix seconds; 0 on write means "now"
};

/// Writes a pack to `path`: first to `path.tmp-<pid>`, fsynced, then renamed over `path`, so `path` is
/// either the complete new pack or whatever was there before. Every kernel must have been built by the
/// manifest's linrec and NVRTC versions for one of its archs, and every index entry must name one of
/// `kernels` (both checked as it is written).
Status writePack(const std::string& path, const PackManifest& manifest, const std::vector<KernelRecord>& kernels,
                 const std::vector<TuningRecord>& tunings = {}, const std::vector<IndexEntry>& index = {});

/// What importPack did.
struct PackImport {
  int kernels_added = 0;
  int kernels_present = 0;  ///< already in the DB: kept, not replaced
  int tunings_added = 0;
  int tunings_present = 0;  ///< already in the DB: the local measurement is kept
  int index_added = 0;
  int index_present = 0;
};

/// An open pack (read-only).
class Pack {
 public:
  const std::string& path() const { return db_.path(); }
  const PackManifest& manifest() const { return manifest_; }
  /// The file's format version (1 or 2).
  int formatVersion() const { return format_version_; }
  /// Every kernel, checksums verified.
  Expected<std::vector<KernelRecord>> kernels();
  /// Every tuning record.
  Expected<std::vector<TuningRecord>> tunings();
  Expected<std::optional<KernelRecord>> getKernel(const KernelKey& key);
  Expected<std::optional<TuningRecord>> getTuning(const TuningKey& key);
  /// Every kernel index entry (none in a format-1 pack).
  Expected<std::vector<IndexEntry>> index();

 private:
  friend Expected<Pack> openPack(const std::string& path);
  friend Expected<PackImport> importPack(KernelDb& db, Pack& pack);
  Pack(Database db, PackManifest manifest, int format_version)
      : db_(std::move(db)), manifest_(std::move(manifest)), format_version_(format_version) {}
  Database db_;
  PackManifest manifest_;
  int format_version_ = kPackFormatVersion;
};

/// Opens a pack, verifying that it is one (application_id, format version, a one-row manifest). Does not
/// check compatibility with this machine: call checkCompatible.
Expected<Pack> openPack(const std::string& path);

/// Whether a pack can serve this machine: its archs must include `device_arch` ("sm_90"; an "a"/"f" suffix
/// on either side is ignored, since a cubin for sm_90a runs on any cc 9.0 GPU), and it must come from a
/// compatible linrec (same major, and same minor before 1.0) and NVRTC (same major; skipped when
/// `nvrtc_version` is empty, i.e. no NVRTC here). The error names every mismatch and how to fix it.
Status checkCompatible(const PackManifest& manifest, const std::string& device_arch, const std::string& nvrtc_version,
                       const std::string& linrec_version);

/// Copies a pack's kernels and tuning records into `db` in one transaction. Rows already there are kept:
/// a pack never overwrites what this machine compiled or measured.
Expected<PackImport> importPack(KernelDb& db, Pack& pack);

}  // namespace linrec::kdb
