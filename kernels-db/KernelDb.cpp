// linrec::kdb::KernelDb: opening and verifying the kernel DB, migrations, records, and the claim protocol.
#include "linrec/kdb/KernelDb.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "SqliteError.h"
#include "Storage.h"
#include "linrec/dsl/Sha256.h"
#include "linrec/kdb/KernelIndex.h"
#include "linrec/kdb/Statement.h"
#include "linrec/kdb/Transaction.h"

namespace linrec::kdb {

namespace {

constexpr std::chrono::milliseconds kBusyTimeout{10000};

// Claims live only in the kernel DB (packs have none): a row per key someone is computing right now.
// Times are unix milliseconds, since the processes comparing them share only the wall clock.
constexpr const char* kClaimsTableSql = R"sql(
CREATE TABLE claims (
  key_text   TEXT    PRIMARY KEY,
  owner      TEXT    NOT NULL,
  host       TEXT    NOT NULL,
  pid        INTEGER NOT NULL,
  claimed_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// migrations[i] takes a database from user_version i to i + 1; a new file runs them all. Append only:
// a released entry is never edited, since files already carry its result.
std::vector<std::vector<const char*>> migrations() {
  return {
      /* 0 -> 1 */ {detail::kKernelsTableSql, detail::kTuningsTableSql, kClaimsTableSql},
      /* 1 -> 2 */ {detail::kKernelIndexTableSql},
  };
}

std::string hostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

bool processAlive(int64_t pid) {
  if (pid <= 0) return false;
  // EPERM: it exists but belongs to someone else; only ESRCH proves it is gone.
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

std::string makeOwnerId() {
  std::random_device rd;
  uint64_t nonce = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(nonce));
  return hostName() + ":" + std::to_string(::getpid()) + ":" + hex;
}

std::string fieldsHash(const char* prefix, const std::vector<std::string>& fields) {
  // Length-prefixed, so no two different field lists serialize alike (no separator can be forged).
  Sha256 h;
  for (const std::string& f : fields) {
    std::string len = std::to_string(f.size()) + ":";
    h.update(len);
    h.update(f);
  }
  return std::string(prefix) + h.hexDigest();
}

// What a read would have filled in, so a computed record looks like a stored one.
void fillDerived(KernelRecord& r) {
  Sha256 h;
  h.update(r.cubin.data(), r.cubin.size());
  r.cubin_sha256 = h.hexDigest();
}
void fillDerived(TuningRecord&) {}

const char* const kDbHint =
    "; move it away (linrec then creates a new one) or choose another file with LINREC_KERNEL_DB";

Status applyMigrations(Database& db, const std::string& path) {
  // Re-read inside the write transaction: another process may have created or migrated the file since
  // this one looked.
  Expected<detail::FileInfo> info = detail::inspectFile(db, "kernel DB");
  if (!info) return Error{info.error()};
  if (!info->isEmpty() && info->application_id != kKernelDbApplicationId)
    return Error{"kernel DB " + path + " was claimed by another program while opening it (application_id " +
                 detail::describeApplicationId(info->application_id) + ")" + kDbHint};
  auto steps = migrations();
  if (info->user_version > static_cast<int64_t>(steps.size()))
    return Error{"kernel DB " + path + " has schema version " + std::to_string(info->user_version) +
                 ", newer than this linrec understands (" + std::to_string(steps.size()) +
                 "); upgrade linrec, or use another file with LINREC_KERNEL_DB"};
  if (info->application_id == kKernelDbApplicationId && info->user_version == static_cast<int64_t>(steps.size()))
    return Status::success();  // done by another process in the meantime
  for (size_t v = static_cast<size_t>(info->user_version); v < steps.size(); ++v) {
    for (const char* sql : steps[v]) {
      if (Status s = db.exec(sql); !s) return s;
    }
  }
  // Both header fields are written inside the transaction, so they appear together with the tables.
  if (Status s = db.exec("PRAGMA application_id = " + std::to_string(kKernelDbApplicationId)); !s) return s;
  return db.exec("PRAGMA user_version = " + std::to_string(steps.size()));
}

}  // namespace

// ---- keys ----------------------------------------------------------------------------------------------

std::string KernelKey::text() const {
  std::vector<std::string> fields = {source_sha256, nvrtc_version, linrec_version, std::to_string(options.size())};
  fields.insert(fields.end(), options.begin(), options.end());
  return fieldsHash("kernel:", fields);
}

const char* tuningModeName(TuningMode mode) {
  switch (mode) {
    case TuningMode::Forward:
      return "fwd";
    case TuningMode::Backward:
      return "bwd";
    case TuningMode::Decode:
      return "decode";
  }
  return "fwd";
}

Expected<TuningMode> parseTuningMode(std::string_view name) {
  if (name == "fwd") return TuningMode::Forward;
  if (name == "bwd") return TuningMode::Backward;
  if (name == "decode") return TuningMode::Decode;
  return Error{"unknown tuning mode '" + std::string(name) + "' (expected fwd, bwd or decode)"};
}

int64_t bucketOf(int64_t n) {
  int64_t b = 1;
  while (b < n && b < (int64_t{1} << 62)) b <<= 1;
  return b;
}

TuningKey TuningKey::forShape(std::string spec_hash, GpuIdentity gpu, std::string dtype, int64_t key_dim,
                              int64_t value_dim, int64_t batch_times_heads, int64_t seq_len, TuningMode mode) {
  TuningKey k;
  k.spec_hash = std::move(spec_hash);
  k.gpu = std::move(gpu);
  k.dtype = std::move(dtype);
  k.key_dim = key_dim;
  k.value_dim = value_dim;
  k.bh_bucket = bucketOf(batch_times_heads);
  k.t_bucket = bucketOf(seq_len);
  k.mode = mode;
  return k;
}

std::string TuningKey::text() const {
  return fieldsHash("tuning:", {spec_hash, gpu.name, std::to_string(gpu.cc_major), std::to_string(gpu.cc_minor),
                                std::to_string(gpu.sm_count), std::to_string(gpu.driver_version), dtype,
                                std::to_string(key_dim), std::to_string(value_dim), std::to_string(bh_bucket),
                                std::to_string(t_bucket), tuningModeName(mode)});
}

// ---- opening -------------------------------------------------------------------------------------------

KernelDb::KernelDb(Database db, bool in_memory, bool read_only)
    : db_(std::move(db)), owner_(makeOwnerId()), in_memory_(in_memory), read_only_(read_only) {}

KernelDb::~KernelDb() = default;

Expected<KernelDb> KernelDb::open(const std::string& path, OpenMode mode) {
  if (path.empty()) return Error{"kernel DB: empty path"};
  const bool read_only = mode == OpenMode::ReadOnly;
  if (read_only && ::access(path.c_str(), F_OK) != 0)
    return Error{"kernel DB " + path + " does not exist (read-only open never creates one)"};
  Expected<Database> opened = Database::open(path, read_only ? DbAccess::ReadOnly : DbAccess::ReadWriteCreate);
  if (!opened) return Error{detail::explainOpenFailure(path, opened.error())};
  Database db = std::move(*opened);
  if (Status s = db.setBusyTimeout(kBusyTimeout); !s) return Error{s.error()};

  // Look before writing anything: a file that is not ours must come out of this byte for byte unchanged.
  Expected<detail::FileInfo> info = detail::retryOnBusy(db, [&] { return detail::inspectFile(db, "kernel DB"); });
  if (!info) return Error{info.error() + kDbHint};
  const int64_t current = kKernelDbSchemaVersion;
  if (!info->isEmpty() && info->application_id != kKernelDbApplicationId) {
    return Error{"kernel DB " + path + " is a SQLite database of another program (application_id " +
                 detail::describeApplicationId(info->application_id) + ", linrec's is " +
                 detail::describeApplicationId(kKernelDbApplicationId) + "); linrec left it untouched" + kDbHint};
  }
  if (info->user_version > current) {
    return Error{"kernel DB " + path + " has schema version " + std::to_string(info->user_version) +
                 ", newer than this linrec understands (" + std::to_string(current) +
                 "); linrec left it untouched: upgrade linrec, or use another file with LINREC_KERNEL_DB"};
  }

  if (read_only) {
    if (info->user_version < current)
      return Error{"kernel DB " + path + " has schema version " + std::to_string(info->user_version) + ", not " +
                   std::to_string(current) + "; open it read-write once to create or migrate it"};
    if (Status s = db.exec("PRAGMA query_only = ON; PRAGMA foreign_keys = ON"); !s) return Error{s.error()};
    return KernelDb(std::move(db), false, true);
  }

  // SQLite quietly opens a file it may not write as read-only; for a cache that must store, say so now.
  if (db.isReadOnly())
    return Error{"cannot open " + path +
                 " for writing: the file is read-only (open it with OpenMode::ReadOnly, "
                 "or choose another file with LINREC_KERNEL_DB)"};
  Status s = detail::retryOnBusy(db, [&] { return db.exec("PRAGMA journal_mode = WAL"); });
  if (s) s = db.exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
  if (!s) {
    if (db.lastErrorCode() == SQLITE_CANTOPEN || db.lastErrorCode() == SQLITE_READONLY)
      return Error{detail::explainOpenFailure(path, s.error())};
    return Error{s.error()};
  }
  KernelDb kdb(std::move(db), false, false);
  if (info->user_version < current) {
    if (Status m = kdb.writeTransaction([&] { return applyMigrations(kdb.db_, path); }); !m) {
      if (kdb.db_.lastErrorCode() == SQLITE_CANTOPEN || kdb.db_.lastErrorCode() == SQLITE_READONLY)
        return Error{detail::explainOpenFailure(path, m.error())};
      return Error{m.error()};
    }
  }
  return kdb;
}

Expected<KernelDb> KernelDb::openInMemory() {
  Expected<Database> db = Database::openInMemory();
  if (!db) return Error{db.error()};
  if (Status s = db->exec("PRAGMA foreign_keys = ON"); !s) return Error{s.error()};
  KernelDb kdb(std::move(*db), true, false);
  if (Status s = kdb.writeTransaction([&] { return applyMigrations(kdb.db_, ":memory:"); }); !s)
    return Error{s.error()};
  return kdb;
}

Expected<KernelDb::Opened> KernelDb::openOrFallback(const std::string& path) {
  Expected<KernelDb> db = open(path, OpenMode::ReadWrite);
  if (db) return Opened{std::move(*db), ""};
  Expected<KernelDb> memory = openInMemory();
  if (!memory) return Error{db.error() + "; and no in-memory fallback either: " + memory.error()};
  return Opened{std::move(*memory), "warning: " + db.error() +
                                        "\nwarning: using an in-memory kernel DB instead: compiled kernels and "
                                        "tuning results will not persist after this process"};
}

Expected<std::string> KernelDb::defaultPath() {
  namespace fs = std::filesystem;
  fs::path path;
  const char* env = std::getenv("LINREC_KERNEL_DB");
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (env != nullptr && *env != '\0') {
    path = env;
  } else if (xdg != nullptr && xdg[0] == '/') {  // the XDG spec says to ignore relative values
    path = fs::path(xdg) / "linrec" / "kernels.db";
  } else {
    const char* home = std::getenv("HOME");
    std::string home_dir = home != nullptr ? home : "";
    if (home_dir.empty()) {
      const passwd* pw = ::getpwuid(::getuid());
      if (pw != nullptr && pw->pw_dir != nullptr) home_dir = pw->pw_dir;
    }
    if (home_dir.empty())
      return Error{
          "kernel DB: no home directory (HOME unset) to put ~/.cache/linrec/kernels.db in; set "
          "LINREC_KERNEL_DB or XDG_CACHE_HOME"};
    path = fs::path(home_dir) / ".cache" / "linrec" / "kernels.db";
  }
  if (path.has_parent_path()) {
    std::error_code ec;  // a failure here is reported, with its reason, by open()
    fs::create_directories(path.parent_path(), ec);
  }
  return path.string();
}

// ---- records -------------------------------------------------------------------------------------------

Status KernelDb::requireWritable(const char* what) const {
  if (read_only_) return Error{"kernel DB " + db_.path() + " is open read-only; cannot " + what};
  return Status::success();
}

Status KernelDb::writeTransaction(const std::function<Status()>& body) {
  if (Status s = requireWritable("write"); !s) return s;
  return detail::retryOnBusy(db_, [&]() -> Status {
    Expected<Transaction> tx = Transaction::begin(db_, Transaction::Kind::Immediate);
    if (!tx) return Error{tx.error()};
    if (Status s = body(); !s) return s;  // ~Transaction rolls back
    return tx->commit();
  });
}

Status KernelDb::putKernel(const KernelRecord& record) {
  return writeTransaction([&]() -> Status {
    Expected<bool> stored = detail::insertKernel(db_, record, detail::OnConflict::Replace);
    if (!stored) return Error{stored.error()};
    return Status::success();
  });
}

Expected<std::optional<KernelRecord>> KernelDb::getKernel(const KernelKey& key) {
  return detail::retryOnBusy(db_, [&] { return detail::selectKernel(db_, key); });
}

Status KernelDb::deleteKernel(const KernelKey& key) {
  return writeTransaction([&] { return detail::deleteKernelRow(db_, key); });
}

Status KernelDb::putTuning(const TuningRecord& record) {
  return writeTransaction([&]() -> Status {
    Expected<bool> stored = detail::insertTuning(db_, record, detail::OnConflict::Replace);
    if (!stored) return Error{stored.error()};
    return Status::success();
  });
}

Expected<std::optional<TuningRecord>> KernelDb::getTuning(const TuningKey& key) {
  return detail::retryOnBusy(db_, [&] { return detail::selectTuning(db_, key); });
}

Status KernelDb::deleteTuning(const TuningKey& key) {
  return writeTransaction([&] { return detail::deleteTuningRow(db_, key); });
}

Expected<std::vector<TuningRecord>> KernelDb::tunings(const std::string& spec_hash) {
  return detail::retryOnBusy(db_, [&]() -> Expected<std::vector<TuningRecord>> {
    std::vector<TuningRecord> out;
    Status s = detail::forEachTuning(db_, [&](TuningRecord&& r) {
      if (spec_hash.empty() || r.key.spec_hash == spec_hash) out.push_back(std::move(r));
      return Status::success();
    });
    if (!s) return Error{s.error()};
    return out;
  });
}

Status KernelDb::putIndexedKernel(const KernelRecord& record, const std::vector<IndexEntry>& entries) {
  for (const IndexEntry& e : entries)
    if (e.kernel != record.key)
      return Error{"index entry " + e.describe() + " names kernel " + e.kernel.text() +
                   ", not the one stored with it (" + record.key.text() + ")"};
  return writeTransaction([&]() -> Status {
    Expected<bool> stored = detail::insertKernel(db_, record, detail::OnConflict::Replace);
    if (!stored) return Error{stored.error()};
    for (const IndexEntry& e : entries) {
      Expected<bool> added = detail::insertIndex(db_, e, detail::OnConflict::Replace);
      if (!added) return Error{added.error()};
    }
    return Status::success();
  });
}

Expected<std::vector<IndexEntry>> KernelDb::indexEntries(const std::string& spec_hash) {
  return detail::retryOnBusy(db_, [&]() -> Expected<std::vector<IndexEntry>> {
    std::vector<IndexEntry> out;
    Status s = detail::forEachIndex(db_, spec_hash, [&](IndexEntry&& e) {
      out.push_back(std::move(e));
      return Status::success();
    });
    if (!s) return Error{s.error()};
    return out;
  });
}

// ---- claims --------------------------------------------------------------------------------------------

Expected<ClaimState> KernelDb::claim(const std::string& key_text, const std::string& owner,
                                     std::chrono::milliseconds ttl) {
  ClaimState state = ClaimState::HeldByOther;
  const std::string host = hostName();
  const int64_t pid = ::getpid();
  Status s = writeTransaction([&]() -> Status {
    const int64_t now = detail::unixMillis();
    const int64_t expires = now + ttl.count();
    Expected<Statement> insert = db_.prepare(
        "INSERT OR IGNORE INTO claims (key_text, owner, host, pid, claimed_at, expires_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!insert) return Error{insert.error()};
    if (Status b = insert->bindAll(key_text, owner, host, pid, now, expires); !b) return b;
    if (Status r = insert->run(); !r) return r;
    if (db_.changes() == 1) {
      state = ClaimState::Acquired;
      return Status::success();
    }
    Expected<Statement> select = db_.prepare("SELECT owner, host, pid, expires_at FROM claims WHERE key_text = ?1");
    if (!select) return Error{select.error()};
    if (Status b = select->bind(1, key_text); !b) return b;
    Expected<bool> row = select->step();
    if (!row) return Error{row.error()};
    if (!*row)
      return Error{"kernel DB " + db_.path() + ": claim row for " + key_text + " vanished inside a transaction"};
    const std::string holder = select->columnText(0);
    const std::string holder_host = select->columnText(1);
    const int64_t holder_pid = select->columnInt(2);
    const int64_t holder_expires = select->columnInt(3);
    // The holder's pid is only meaningful on its own host; elsewhere the ttl is the only evidence.
    const bool stale = holder != owner && (holder_expires <= now || (holder_host == host && !processAlive(holder_pid)));
    if (holder != owner && !stale) {
      state = ClaimState::HeldByOther;
      return Status::success();
    }
    Expected<Statement> take = db_.prepare(
        "UPDATE claims SET owner = ?2, host = ?3, pid = ?4, claimed_at = ?5, expires_at = ?6 "
        "WHERE key_text = ?1 AND owner = ?7");
    if (!take) return Error{take.error()};
    if (Status b = take->bindAll(key_text, owner, host, pid, now, expires, holder); !b) return b;
    if (Status r = take->run(); !r) return r;
    state = ClaimState::Acquired;
    return Status::success();
  });
  if (!s) return Error{s.error()};
  return state;
}

Status KernelDb::release(const std::string& key_text, const std::string& owner) {
  return writeTransaction([&]() -> Status {
    Expected<Statement> del = db_.prepare("DELETE FROM claims WHERE key_text = ?1 AND owner = ?2");
    if (!del) return Error{del.error()};
    if (Status b = del->bindAll(key_text, owner); !b) return b;
    return del->run();
  });
}

template <class Record, class Key, class Get, class Put>
Expected<Record> KernelDb::getOrComputeImpl(const Key& key, const std::string& key_text, Get get, Put put,
                                            const std::function<Expected<Record>()>& compute,
                                            const ClaimOptions& options) {
  // Computes (outside any transaction) and stores; the caller holds the claim, or gave up waiting for it.
  auto computeAndStore = [&]() -> Expected<Record> {
    Expected<Record> made = compute();
    if (!made) return made;
    made->key = key;
    if (made->created_at == 0) made->created_at = detail::unixSeconds();
    fillDerived(*made);
    if (read_only_) return made;  // a read-only cache serves hits but keeps nothing new
    if (Status s = put(*made); !s) return Error{s.error()};
    return made;
  };

  if (read_only_) {
    Expected<std::optional<Record>> found = get();
    if (!found) return Error{found.error()};
    if (*found) return std::move(**found);
    return computeAndStore();
  }

  const auto deadline = std::chrono::steady_clock::now() + options.max_wait;
  auto backoff = options.poll_initial;
  for (;;) {
    Expected<std::optional<Record>> found = get();
    if (!found) return Error{found.error()};
    if (*found) return std::move(**found);

    Expected<ClaimState> claimed = claim(key_text, owner_, options.ttl);
    if (!claimed) return Error{claimed.error()};
    if (*claimed == ClaimState::Acquired) {
      // The previous holder may have stored the result between our look-up and our claim.
      Expected<std::optional<Record>> again = get();
      Expected<Record> result = !again   ? Expected<Record>(Error{again.error()})
                                : *again ? Expected<Record>(std::move(**again))
                                         : computeAndStore();
      // A failed release only delays others until the claim goes stale; the result is already safe.
      (void)release(key_text, owner_);
      return result;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      // The holder is alive but has been at it longer than we wait: compute rather than fail. The UPSERT
      // keeps one row whichever of us stores last.
      return computeAndStore();
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, options.poll_max);
  }
}

Expected<KernelRecord> KernelDb::getOrCompute(const KernelKey& key,
                                              const std::function<Expected<KernelRecord>()>& compute,
                                              const ClaimOptions& options) {
  return getOrComputeImpl<KernelRecord>(
      key, key.text(), [&] { return getKernel(key); }, [&](const KernelRecord& r) { return putKernel(r); }, compute,
      options);
}

Expected<TuningRecord> KernelDb::getOrComputeTuning(const TuningKey& key,
                                                    const std::function<Expected<TuningRecord>()>& compute,
                                                    const ClaimOptions& options) {
  return getOrComputeImpl<TuningRecord>(
      key, key.text(), [&] { return getTuning(key); }, [&](const TuningRecord& r) { return putTuning(r); }, compute,
      options);
}

}  // namespace linrec::kdb
