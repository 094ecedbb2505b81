// Internal to kernels-db/: the tables the kernel DB and packs share, their row codecs, and file verification.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/kdb/Database.h"
#include "linrec/kdb/KernelDb.h"
#include "linrec/kdb/KernelIndex.h"

namespace linrec::kdb::detail {

/// DDL of the kernels table (one row = one cubin with all its metadata).
extern const char* const kKernelsTableSql;
/// DDL of the tuning records table.
extern const char* const kTuningsTableSql;

/// DDL of the kernel index (schema v2) and its look-up index by spec.
extern const char* const kKernelIndexTableSql;

/// What an insert does when the key is already present.
enum class OnConflict {
  Replace,  ///< UPSERT: the new row wins (a fresh compile or tuning run for the same key)
  Keep,     ///< the existing row wins (imports never overwrite local results)
};

/// Inserts a kernel row; false when the key was present and kept. The cubin's sha256 and `created_at`
/// (0: now) are stored with it.
Expected<bool> insertKernel(Database& db, const KernelRecord& record, OnConflict on_conflict);
/// The kernel for `key`; its cubin is checked against the stored sha256.
Expected<std::optional<KernelRecord>> selectKernel(Database& db, const KernelKey& key);
/// Calls `visit` for every kernel (checksums verified), in insertion order.
Status forEachKernel(Database& db, const std::function<Status(KernelRecord&&)>& visit);
Status deleteKernelRow(Database& db, const KernelKey& key);

Expected<bool> insertTuning(Database& db, const TuningRecord& record, OnConflict on_conflict);
Expected<std::optional<TuningRecord>> selectTuning(Database& db, const TuningKey& key);
Status forEachTuning(Database& db, const std::function<Status(TuningRecord&&)>& visit);
Status deleteTuningRow(Database& db, const TuningKey& key);

/// Inserts an index entry (its config canonicalized); false when the key was present and kept. With
/// Replace, an existing entry is pointed at the new kernel and keeps is_default if either had it.
Expected<bool> insertIndex(Database& db, const IndexEntry& entry, OnConflict on_conflict);
/// Calls `visit` for every index entry (of `spec_hash` when not empty), in insertion order.
Status forEachIndex(Database& db, const std::string& spec_hash, const std::function<Status(IndexEntry&&)>& visit);
/// True when the database has the kernel_index table (kernel DB v2, pack format v2).
Expected<bool> hasIndexTable(Database& db);

/// What a file's header and catalogue say, read in one statement (so in one snapshot).
struct FileInfo {
  int64_t application_id = 0;
  int64_t user_version = 0;
  int64_t schema_objects = 0;  ///< rows of sqlite_master
  /// An empty database (a new or zero-length file): nothing to protect, fine to create a schema in.
  bool isEmpty() const { return application_id == 0 && user_version == 0 && schema_objects == 0; }
};

/// Reads FileInfo. "Not a database" and "corrupt" become messages that say what the file seems to be and
/// that it was left untouched; `what` is "kernel DB" or "kernel pack".
Expected<FileInfo> inspectFile(Database& db, const std::string& what);

/// Why SQLite could not open or create `path`: looks at the directory (missing, not a directory, not
/// writable) to say something more useful than "unable to open database file".
std::string explainOpenFailure(const std::string& path, const std::string& sqlite_error);

/// "0x4C4E5243 ('LNRC')".
std::string describeApplicationId(int64_t id);

int64_t unixSeconds();
int64_t unixMillis();

/// Runs `attempt` again (with backoff) while it fails because another connection holds the lock past the
/// busy timeout; gives up after a bounded number of tries. Works for Status and Expected<T>.
template <class F>
auto retryOnBusy(Database& db, F attempt) -> decltype(attempt());
void sleepForRetry(int attempt);
constexpr int kBusyRetries = 8;

template <class F>
auto retryOnBusy(Database& db, F attempt) -> decltype(attempt()) {
  for (int i = 0;; ++i) {
    db.clearLastError();
    auto result = attempt();
    if (result.ok() || !db.lastErrorWasBusy() || i + 1 >= kBusyRetries) return result;
    sleepForRetry(i);
  }
}

}  // namespace linrec::kdb::detail
