// Kernel packs: atomic writing (temp file, fsync, rename), verified opening, compatibility checks, import.
#include "linrec/kdb/Pack.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <regex>

#include <nlohmann/json.hpp>

#include "SqliteError.h"
#include "Storage.h"
#include "linrec/kdb/Statement.h"
#include "linrec/kdb/Transaction.h"

namespace linrec::kdb {

namespace {

constexpr const char* kManifestTableSql = R"sql(
CREATE TABLE manifest (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  linrec_version TEXT    NOT NULL,
  nvrtc_version  TEXT    NOT NULL,
  archs          TEXT    NOT NULL,
  spec_hashes    TEXT    NOT NULL,
  created_at     INTEGER NOT NULL
);
)sql";

const std::regex& archPattern() {
  static const std::regex re("sm_([0-9]+)([af]?)");
  return re;
}

/// "sm_90a" -> "sm_90": the family a cubin runs on (arch-specific cubins run on exactly that cc).
std::string baseArch(const std::string& arch) {
  std::smatch m;
  if (std::regex_match(arch, m, archPattern())) return "sm_" + m[1].str();
  return arch;
}

/// The arch named by NVRTC options ("--gpu-architecture=sm_90a", "-arch=sm_80"), or "".
std::string archOfOptions(const std::vector<std::string>& options) {
  static const std::regex re("^-{1,2}(gpu-architecture|arch)[= ](sm_[0-9]+[af]?)$");
  std::string arch;
  for (const std::string& o : options) {
    std::smatch m;
    if (std::regex_match(o, m, re)) arch = m[2].str();
  }
  return arch;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& x) {
  for (const std::string& s : items)
    if (s == x) return true;
  return false;
}

/// {major, minor} of "12.8" or "0.1.0"; -1 where absent or not a number.
std::pair<int, int> majorMinor(const std::string& version) {
  int major = -1, minor = -1;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) < 1) return {-1, -1};
  return {major, minor};
}

Status validateManifest(const PackManifest& m) {
  if (m.linrec_version.empty() || m.nvrtc_version.empty())
    return Error{"pack manifest: linrec_version and nvrtc_version must be set"};
  if (m.archs.empty()) return Error{"pack manifest: no archs (e.g. sm_90a)"};
  for (const std::string& a : m.archs)
    if (!std::regex_match(a, archPattern()))
      return Error{"pack manifest: '" + a + "' is not an arch like sm_80 or sm_90a"};
  return Status::success();
}

Status checkKernelAgainstManifest(size_t index, const KernelRecord& r, const PackManifest& m) {
  std::string which = "pack kernel #" + std::to_string(index) + " (" + r.key.text() + ")";
  if (r.key.linrec_version != m.linrec_version)
    return Error{which + " was built by linrec " + r.key.linrec_version + ", the manifest says " + m.linrec_version};
  if (r.key.nvrtc_version != m.nvrtc_version)
    return Error{which + " was built by NVRTC " + r.key.nvrtc_version + ", the manifest says " + m.nvrtc_version};
  std::string arch = archOfOptions(r.key.options);
  if (arch.empty())
    return Error{which +
                 ": its NVRTC options name no arch (--gpu-architecture=sm_XY), so the pack could not "
                 "promise where it runs"};
  if (!contains(m.archs, arch))
    return Error{which + " targets " + arch + ", which is not among the manifest's archs (" + joined(m.archs) + ")"};
  return Status::success();
}

Status fsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Error{"kernel pack: cannot open " + path + " to fsync it: " + std::strerror(errno)};
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory (EINVAL); the rename itself is still atomic there.
  if (rc != 0 && !(directory && (err == EINVAL || err == EBADF)))
    return Error{"kernel pack: fsync " + path + ": " + std::strerror(err)};
  return Status::success();
}

std::string directoryOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Status fillPack(Database& db, const PackManifest& manifest, const std::vector<KernelRecord>& kernels,
                const std::vector<TuningRecord>& tunings, const std::vector<IndexEntry>& index) {
  Expected<Transaction> tx = Transaction::begin(db, Transaction::Kind::Immediate);
  if (!tx) return Error{tx.error()};
  for (const char* ddl :
       {detail::kKernelsTableSql, detail::kTuningsTableSql, kManifestTableSql, detail::kKernelIndexTableSql})
    if (Status s = db.exec(ddl); !s) return s;
  if (Status s = db.exec("PRAGMA application_id = " + std::to_string(kPackApplicationId) +
                         "; PRAGMA user_version = " + std::to_string(kPackFormatVersion));
      !s)
    return s;
  Expected<Statement> stmt = db.prepare(
      "INSERT INTO manifest (id, linrec_version, nvrtc_version, archs, spec_hashes, created_at) "
      "VALUES (1, ?1, ?2, ?3, ?4, ?5)");
  if (!stmt) return Error{stmt.error()};
  if (Status s = stmt->bindAll(manifest.linrec_version, manifest.nvrtc_version, nlohmann::json(manifest.archs).dump(),
                               nlohmann::json(manifest.spec_hashes).dump(),
                               manifest.created_at != 0 ? manifest.created_at : detail::unixSeconds());
      !s)
    return s;
  if (Status s = stmt->run(); !s) return s;
  // Checked record by record as written: a bad record fails the whole pack, and nothing reaches `path`.
  for (size_t i = 0; i < kernels.size(); ++i) {
    if (Status s = checkKernelAgainstManifest(i, kernels[i], manifest); !s) return s;
    Expected<bool> stored = detail::insertKernel(db, kernels[i], detail::OnConflict::Replace);
    if (!stored) return Error{stored.error()};
  }
  for (size_t i = 0; i < tunings.size(); ++i) {
    const TuningRecord& t = tunings[i];
    if (!manifest.spec_hashes.empty() && !contains(manifest.spec_hashes, t.key.spec_hash))
      return Error{"pack tuning record #" + std::to_string(i) + " is for spec " + t.key.spec_hash +
                   ", which is not among the manifest's spec hashes"};
    Expected<bool> stored = detail::insertTuning(db, t, detail::OnConflict::Replace);
    if (!stored) return Error{stored.error()};
  }
  // Packs are written with foreign_keys off (readers open them read-only anyway), so the index's
  // reference to its kernel is checked here.
  for (size_t i = 0; i < index.size(); ++i) {
    const IndexEntry& e = index[i];
    bool found = false;
    for (const KernelRecord& k : kernels) found = found || k.key == e.kernel;
    if (!found)
      return Error{"pack index entry #" + std::to_string(i) + " (" + e.describe() +
                   ") names a kernel that is not in the pack (" + e.kernel.text() + ")"};
    if (!manifest.spec_hashes.empty() && !contains(manifest.spec_hashes, e.spec_hash))
      return Error{"pack index entry #" + std::to_string(i) + " (" + e.describe() + ") is for spec " + e.spec_hash +
                   ", which is not among the manifest's spec hashes"};
    Expected<bool> stored = detail::insertIndex(db, e, detail::OnConflict::Replace);
    if (!stored) return Error{stored.error()};
  }
  return tx->commit();
}

Expected<PackManifest> readManifest(Database& db, const std::string& path) {
  Expected<int64_t> tables = db.queryInt(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('manifest', 'kernels', 'tunings')");
  if (!tables) return Error{tables.error()};
  if (*tables != 3) return Error{"kernel pack " + path + " lacks its manifest, kernels or tunings table"};
  Expected<Statement> stmt =
      db.prepare("SELECT linrec_version, nvrtc_version, archs, spec_hashes, created_at FROM manifest WHERE id = 1");
  if (!stmt) return Error{stmt.error()};
  Expected<bool> row = stmt->step();
  if (!row) return Error{row.error()};
  if (!*row) return Error{"kernel pack " + path + " has an empty manifest"};
  PackManifest m;
  m.linrec_version = stmt->columnText(0);
  m.nvrtc_version = stmt->columnText(1);
  m.created_at = stmt->columnInt(4);
  auto strings = [](const std::string& text, std::vector<std::string>& out) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) return false;
    for (const auto& x : j) {
      if (!x.is_string()) return false;
      out.push_back(x.get<std::string>());
    }
    return true;
  };
  if (!strings(stmt->columnText(2), m.archs) || !strings(stmt->columnText(3), m.spec_hashes))
    return Error{"kernel pack " + path + ": the manifest's archs or spec_hashes are not JSON string arrays"};
  if (Status s = validateManifest(m); !s) return Error{"kernel pack " + path + ": " + s.error()};
  return m;
}

}  // namespace

Status writePack(const std::string& path, const PackManifest& manifest, const std::vector<KernelRecord>& kernels,
                 const std::vector<TuningRecord>& tunings, const std::vector<IndexEntry>& index) {
  if (path.empty()) return Error{"kernel pack: empty path"};
  if (Status s = validateManifest(manifest); !s) return s;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  auto removeTmp = [&] {
    std::remove(tmp.c_str());
    std::remove((tmp + "-journal").c_str());
  };
  removeTmp();  // left by an earlier crash of a process that had our pid
  Status s;
  {
    // Scoped so the connection is closed (and the rollback journal gone) before the file is renamed.
    Expected<Database> db = Database::open(tmp, DbAccess::ReadWriteCreate);
    if (!db) {
      s = Error{"kernel pack " + path + ": " + detail::explainOpenFailure(tmp, db.error())};
    } else {
      // A pack is one self-contained file: a rollback journal (deleted on commit), never WAL side files.
      s = db->exec("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL");
      if (s) s = fillPack(*db, manifest, kernels, tunings, index);
      if (!s) s = Error{"kernel pack " + path + " not written: " + s.error()};
    }
  }
  if (s) s = fsyncPath(tmp, false);
  if (s && std::rename(tmp.c_str(), path.c_str()) != 0)
    s = Error{"kernel pack: cannot rename " + tmp + " to " + path + ": " + std::strerror(errno)};
  if (!s) {
    removeTmp();
    return s;
  }
  return fsyncPath(directoryOf(path), true);
}

Expected<Pack> openPack(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return Error{"kernel pack " + path + " does not exist"};
  Expected<Database> opened = Database::open(path, DbAccess::ReadOnly);
  if (!opened) return Error{detail::explainOpenFailure(path, opened.error())};
  Database db = std::move(*opened);
  const char* hint = "; rebuild it with `linrec pack`";
  Expected<detail::FileInfo> info = detail::inspectFile(db, "kernel pack");
  if (!info) return Error{info.error() + hint};
  if (info->application_id != kPackApplicationId) {
    if (info->application_id == kKernelDbApplicationId)
      return Error{"kernel pack " + path + " is a kernel DB, not a pack; export a pack from it with `linrec pack`"};
    return Error{"kernel pack " + path + " is not a linrec kernel pack (application_id " +
                 detail::describeApplicationId(info->application_id) + ", a pack's is " +
                 detail::describeApplicationId(kPackApplicationId) + ")"};
  }
  if (info->user_version > kPackFormatVersion)
    return Error{"kernel pack " + path + " has format version " + std::to_string(info->user_version) +
                 ", newer than this linrec reads (" + std::to_string(kPackFormatVersion) + "); upgrade linrec"};
  if (info->user_version < 1) return Error{"kernel pack " + path + " has no format version; it is incomplete" + hint};
  if (Status s = db.exec("PRAGMA query_only = ON"); !s) return Error{s.error()};

  Expected<PackManifest> manifest = readManifest(db, path);
  if (!manifest) return Error{manifest.error() + hint};
  if (info->user_version >= 2) {
    Expected<bool> indexed = detail::hasIndexTable(db);
    if (!indexed) return Error{indexed.error()};
    if (!*indexed) return Error{"kernel pack " + path + " (format 2) lacks its kernel_index table" + hint};
  }
  return Pack(std::move(db), std::move(*manifest), static_cast<int>(info->user_version));
}

Expected<std::vector<IndexEntry>> Pack::index() {
  std::vector<IndexEntry> out;
  if (format_version_ < 2) return out;
  Status s = detail::forEachIndex(db_, "", [&](IndexEntry&& e) {
    out.push_back(std::move(e));
    return Status::success();
  });
  if (!s) return Error{s.error()};
  return out;
}

Expected<std::vector<KernelRecord>> Pack::kernels() {
  std::vector<KernelRecord> out;
  Status s = detail::forEachKernel(db_, [&](KernelRecord&& r) {
    out.push_back(std::move(r));
    return Status::success();
  });
  if (!s) return Error{s.error()};
  return out;
}

Expected<std::vector<TuningRecord>> Pack::tunings() {
  std::vector<TuningRecord> out;
  Status s = detail::forEachTuning(db_, [&](TuningRecord&& r) {
    out.push_back(std::move(r));
    return Status::success();
  });
  if (!s) return Error{s.error()};
  return out;
}

Expected<std::optional<KernelRecord>> Pack::getKernel(const KernelKey& key) {
  return detail::selectKernel(db_, key);
}

Expected<std::optional<TuningRecord>> Pack::getTuning(const TuningKey& key) {
  return detail::selectTuning(db_, key);
}

Status checkCompatible(const PackManifest& manifest, const std::string& device_arch, const std::string& nvrtc_version,
                       const std::string& linrec_version) {
  std::vector<std::string> problems;
  const std::string device = baseArch(device_arch);
  bool arch_ok = false;
  for (const std::string& a : manifest.archs) arch_ok = arch_ok || baseArch(a) == device;
  if (!arch_ok) {
    problems.push_back("pack targets " + (manifest.archs.empty() ? std::string("no arch") : joined(manifest.archs)) +
                       ", this GPU is " + device + "; rebuild with --arch " + device);
  }
  auto [pack_major, pack_minor] = majorMinor(manifest.linrec_version);
  auto [our_major, our_minor] = majorMinor(linrec_version);
  // Before 1.0 the kernel ABI and launch descriptors may change with every minor version.
  bool linrec_ok = pack_major >= 0 && pack_major == our_major && (our_major > 0 || pack_minor == our_minor);
  if (!linrec_ok) {
    problems.push_back("pack was made by linrec " + manifest.linrec_version + ", this is linrec " + linrec_version +
                       "; rebuild the pack with this linrec");
  }
  if (!nvrtc_version.empty()) {
    // A cubin needs a driver of its toolkit's major version; within a major, minor versions interoperate.
    auto [pack_nvrtc, pack_nvrtc_minor] = majorMinor(manifest.nvrtc_version);
    auto [our_nvrtc, our_nvrtc_minor] = majorMinor(nvrtc_version);
    (void)pack_nvrtc_minor;
    (void)our_nvrtc_minor;
    if (pack_nvrtc < 0 || pack_nvrtc != our_nvrtc) {
      problems.push_back("pack was compiled with NVRTC " + manifest.nvrtc_version + ", this machine has NVRTC " +
                         nvrtc_version + "; rebuild the pack with CUDA " + std::to_string(our_nvrtc) + ".x");
    }
  }
  if (problems.empty()) return Status::success();
  std::string msg = "incompatible kernel pack: ";
  for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
  return Error{msg};
}

Expected<PackImport> importPack(KernelDb& db, Pack& pack) {
  PackImport result;
  // One transaction: a failed import leaves the DB as it was.
  Status s = db.writeTransaction([&]() -> Status {
    result = PackImport{};  // the body may run again after a lock timeout
    Status k = detail::forEachKernel(pack.db_, [&](KernelRecord&& r) -> Status {
      Expected<bool> added = detail::insertKernel(db.database(), r, detail::OnConflict::Keep);
      if (!added) return Error{added.error()};
      ++(*added ? result.kernels_added : result.kernels_present);
      return Status::success();
    });
    if (!k) return k;
    Status t = detail::forEachTuning(pack.db_, [&](TuningRecord&& r) -> Status {
      Expected<bool> added = detail::insertTuning(db.database(), r, detail::OnConflict::Keep);
      if (!added) return Error{added.error()};
      ++(*added ? result.tunings_added : result.tunings_present);
      return Status::success();
    });
    if (!t || pack.format_version_ < 2) return t;
    return detail::forEachIndex(pack.db_, "", [&](IndexEntry&& e) -> Status {
      Expected<bool> added = detail::insertIndex(db.database(), e, detail::OnConflict::Keep);
      if (!added) return Error{added.error()};
      ++(*added ? result.index_added : result.index_present);
      return Status::success();
    });
  });
  if (!s) return Error{"importing kernel pack " + pack.path() + ": " + s.error()};
  return result;
}

}  // namespace linrec::kdb
