// linrec::kdb::KernelDb: the on-disk cache of compiled kernels and tuning records (DESIGN.md §5), safe
// under many processes, with a per-key claim so each kernel is compiled once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/kdb/Database.h"

namespace linrec::kdb {

struct IndexEntry;

/// PRAGMA application_id of a kernel DB: 'LNRC'. A SQLite file with another id belongs to someone else.
inline constexpr int32_t kKernelDbApplicationId = 0x4C4E5243;
/// The schema this build reads and writes (PRAGMA user_version). Older files are migrated in place;
/// newer ones are refused, never downgraded. v2 added the kernel index (KernelIndex.h).
inline constexpr int kKernelDbSchemaVersion = 2;

/// Everything a cubin depends on. Two keys that differ in any field name different kernels.
struct KernelKey {
  std::string source_sha256;         ///< sha256 (hex) of the CUDA source handed to NVRTC
  std::string nvrtc_version;         ///< e.g. "12.8"
  std::vector<std::string> options;  ///< the exact NVRTC options, arch included, in order
  std::string linrec_version;        ///< e.g. "0.1.0" (embedded kernel headers change with it)
  /// A stable identifier for claims and messages: "kernel:" + sha256 of every field.
  std::string text() const;
  friend bool operator==(const KernelKey& a, const KernelKey& b) {
    return a.source_sha256 == b.source_sha256 && a.nvrtc_version == b.nvrtc_version && a.options == b.options &&
           a.linrec_version == b.linrec_version;
  }
  friend bool operator!=(const KernelKey& a, const KernelKey& b) { return !(a == b); }
};

/// A compiled module and the ptxas statistics the tuner prunes with. The cubin and its metadata are
/// one row, so neither is ever stored without the other.
struct KernelRecord {
  KernelKey key;
  std::vector<char> cubin;
  std::vector<std::string> kernel_names;  ///< the __global__ entries in the cubin
  int registers = 0;                      ///< per thread (the largest over the entries)
  int spill_bytes = 0;                    ///< spill stores + loads (the largest over the entries)
  int smem_bytes = 0;                     ///< static shared memory (the largest over the entries)
  int64_t created_at = 0;                 ///< unix seconds; 0 on put means "now"
  std::string cubin_sha256;               ///< filled on read (verified); ignored on put (recomputed)
};

/// The GPU identity of a tuning record: timings do not carry over between any of these.
struct GpuIdentity {
  std::string name;  ///< "NVIDIA H100 80GB HBM3"
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  int driver_version = 0;  ///< cuDriverGetVersion, e.g. 12080
};

/// Which pass a tuning record is for.
enum class TuningMode { Forward, Backward, Decode };
/// "fwd", "bwd", "decode" (the spelling stored in the DB).
const char* tuningModeName(TuningMode mode);
/// Inverse of tuningModeName.
Expected<TuningMode> parseTuningMode(std::string_view name);

/// The smallest power of two >= n (1 for n <= 1): shapes in one bucket share a tuning record.
int64_t bucketOf(int64_t n);

/// Everything a tuning result depends on.
struct TuningKey {
  std::string spec_hash;  ///< the canonical spec's hash (dsl/)
  GpuIdentity gpu;
  std::string dtype;      ///< "bf16", "fp16", "fp32"
  int64_t key_dim = 0;    ///< K
  int64_t value_dim = 0;  ///< V
  int64_t bh_bucket = 1;  ///< bucketOf(B·H)
  int64_t t_bucket = 1;   ///< bucketOf(T)
  TuningMode mode = TuningMode::Forward;
  /// A key for a concrete shape: B·H and T are bucketed here.
  static TuningKey forShape(std::string spec_hash, GpuIdentity gpu, std::string dtype, int64_t key_dim,
                            int64_t value_dim, int64_t batch_times_heads, int64_t seq_len, TuningMode mode);
  /// "tuning:" + sha256 of every field.
  std::string text() const;
  friend bool operator==(const TuningKey& a, const TuningKey& b) { return a.text() == b.text(); }
  friend bool operator!=(const TuningKey& a, const TuningKey& b) { return !(a == b); }
};

/// The tuner's verdict for one key.
struct TuningRecord {
  TuningKey key;
  std::string config_json;      ///< the chosen TuningConfig (a JSON object)
  std::string candidates_json;  ///< every candidate tried with its timing (a JSON array)
  int64_t created_at = 0;       ///< unix seconds; 0 on put means "now"
};

/// How `KernelDb::open` may touch the file.
enum class OpenMode {
  ReadWrite,  ///< create the file (with the schema) if missing; migrate an older schema
  ReadOnly,   ///< lookups only; the file must exist with the current schema
};

/// Whether `claim` got the key.
enum class ClaimState { Acquired, HeldByOther };

/// Timing of the claim protocol in `getOrCompute`.
struct ClaimOptions {
  /// A claim older than this is stale and may be taken over even if its owner still runs (hung compile).
  std::chrono::milliseconds ttl = std::chrono::minutes(5);
  /// Waiting for another owner's result stops after this; then the caller computes the result itself.
  std::chrono::milliseconds max_wait = std::chrono::minutes(10);
  std::chrono::milliseconds poll_initial = std::chrono::milliseconds(5);
  std::chrono::milliseconds poll_max = std::chrono::milliseconds(250);
};

/// The kernel DB. One object per thread (it wraps one SQLite connection); any number of processes may
/// open the same file at once. Every write is one short IMMEDIATE transaction, retried when another
/// process holds the lock, so lock contention never surfaces as an error.
///
///     auto path = KernelDb::defaultPath();
///     auto opened = KernelDb::openOrFallback(*path);
///     if (!opened->warning.empty()) std::cerr << opened->warning << "\n";
///     auto rec = opened->db.getOrCompute(key, [&] { return compileWithNvrtc(...); });
class KernelDb {
 public:
  /// Opens (or, in ReadWrite mode, creates) the kernel DB at `path`. A file that is not SQLite, is
  /// truncated or corrupt, belongs to another program or has a newer schema gives an Error naming the
  /// path and the problem; such a file is never written to.
  static Expected<KernelDb> open(const std::string& path, OpenMode mode = OpenMode::ReadWrite);
  /// A private in-memory kernel DB (nothing persists).
  static Expected<KernelDb> openInMemory();

  /// The result of openOrFallback.
  struct Opened;
  /// open(path); if that fails (read-only location, damaged file, ...), an in-memory DB and a warning
  /// that says why and what it costs. The file at `path` is left as it was.
  static Expected<Opened> openOrFallback(const std::string& path);

  /// $LINREC_KERNEL_DB, else $XDG_CACHE_HOME/linrec/kernels.db, else ~/.cache/linrec/kernels.db. Creates
  /// the directory (failures to do so are reported by open()). An error only when no home is known.
  static Expected<std::string> defaultPath();

  KernelDb(KernelDb&&) noexcept = default;
  KernelDb& operator=(KernelDb&&) noexcept = default;
  ~KernelDb();

  /// The file, or ":memory:".
  const std::string& path() const { return db_.path(); }
  bool inMemory() const { return in_memory_; }
  bool readOnly() const { return read_only_; }
  /// This object's claim owner id ("host:pid:random").
  const std::string& owner() const { return owner_; }
  /// The underlying connection (tools and tests; keep writes to the documented tables).
  Database& database() { return db_; }

  /// Stores a kernel (UPSERT on its key: one row per key). The cubin's sha256 is stored with it.
  Status putKernel(const KernelRecord& record);
  /// The kernel for `key`, or nullopt. A cubin that fails its checksum is an Error (the row is kept for
  /// inspection; deleteKernel removes it).
  Expected<std::optional<KernelRecord>> getKernel(const KernelKey& key);
  /// Removes the kernel for `key` (no error if absent).
  Status deleteKernel(const KernelKey& key);

  /// Stores a tuning record (UPSERT on its key). config and candidates must be JSON.
  Status putTuning(const TuningRecord& record);
  /// The tuning record for `key`, or nullopt.
  Expected<std::optional<TuningRecord>> getTuning(const TuningKey& key);
  Status deleteTuning(const TuningKey& key);
  /// Every tuning record (of one spec when `spec_hash` is not empty), in insertion order.
  Expected<std::vector<TuningRecord>> tunings(const std::string& spec_hash = "");

  /// Stores a kernel and the index entries that name it, in one transaction (UPSERTs: an entry that
  /// exists is pointed at this kernel; `is_default` once set stays set). Every entry's `kernel` must be
  /// `record.key`.
  Status putIndexedKernel(const KernelRecord& record, const std::vector<IndexEntry>& entries);
  /// Index entries (of one spec when `spec_hash` is not empty), in insertion order.
  Expected<std::vector<IndexEntry>> indexEntries(const std::string& spec_hash = "");

  /// Takes the claim row for `key_text` for `owner`, in its own short transaction. A claim held by
  /// `owner` is refreshed; a stale one (ttl passed, or its owner process on this host is gone) is taken over.
  Expected<ClaimState> claim(const std::string& key_text, const std::string& owner, std::chrono::milliseconds ttl);
  /// Drops `owner`'s claim on `key_text` (someone else's claim is left alone).
  Status release(const std::string& key_text, const std::string& owner);

  /// The kernel for `key`: looked up; if missing, computed by `compute` under this process's claim (after a
  /// second look-up, since the previous holder may just have stored it) and stored. While another live
  /// process holds the claim this waits (polling with backoff, at most `options.max_wait`) for its result.
  /// `compute` runs outside any transaction; its record's key is set to `key`. In a read-only DB the
  /// result is computed and returned but not stored. Errors from `compute` are returned as they are.
  Expected<KernelRecord> getOrCompute(const KernelKey& key, const std::function<Expected<KernelRecord>()>& compute,
                                      const ClaimOptions& options = {});
  /// The same protocol for tuning records (a tuning run is far more expensive than a compile).
  Expected<TuningRecord> getOrComputeTuning(const TuningKey& key,
                                            const std::function<Expected<TuningRecord>()>& compute,
                                            const ClaimOptions& options = {});

  /// Runs `body` in one IMMEDIATE transaction, retrying the whole transaction (with backoff) when
  /// another connection holds the lock past the busy timeout. `body` must be safe to run again.
  Status writeTransaction(const std::function<Status()>& body);

 private:
  KernelDb(Database db, bool in_memory, bool read_only);
  Status requireWritable(const char* what) const;
  template <class Record, class Key, class Get, class Put>
  Expected<Record> getOrComputeImpl(const Key& key, const std::string& key_text, Get get, Put put,
                                    const std::function<Expected<Record>()>& compute, const ClaimOptions& options);

  Database db_;
  std::string owner_;
  bool in_memory_ = false;
  bool read_only_ = false;
};

/// See KernelDb::openOrFallback.
struct KernelDb::Opened {
  KernelDb db;
  /// Empty when the file was opened; otherwise why it was not and that results will not persist.
  std::string warning;
};

}  // namespace linrec::kdb
