// The kernels and tunings tables shared by the kernel DB and packs: DDL, row codecs, file verification.
#include "Storage.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "SqliteError.h"
#include "linrec/dsl/Sha256.h"
#include "linrec/kdb/Statement.h"

namespace linrec::kdb::detail {

// One row holds the cubin and everything known about it, so a cubin can never exist without its metadata.
// options and kernel_names are JSON arrays: the options keep NVRTC's order, since order can matter (-D).
const char* const kKernelsTableSql = R"sql(
CREATE TABLE kernels (
  id             INTEGER PRIMARY KEY,
  source_sha256  TEXT    NOT NULL,
  nvrtc_version  TEXT    NOT NULL,
  options        TEXT    NOT NULL,
  linrec_version TEXT    NOT NULL,
  cubin          BLOB    NOT NULL CHECK (length(cubin) > 0),
  cubin_sha256   TEXT    NOT NULL CHECK (length(cubin_sha256) = 64),
  kernel_names   TEXT    NOT NULL,
  registers      INTEGER NOT NULL CHECK (registers >= 0),
  spill_bytes    INTEGER NOT NULL CHECK (spill_bytes >= 0),
  smem_bytes     INTEGER NOT NULL CHECK (smem_bytes >= 0),
  created_at     INTEGER NOT NULL,
  UNIQUE (source_sha256, nvrtc_version, options, linrec_version)
);
)sql";

const char* const kTuningsTableSql = R"sql(
CREATE TABLE tunings (
  id             INTEGER PRIMARY KEY,
  spec_hash      TEXT    NOT NULL,
  gpu_name       TEXT    NOT NULL,
  cc_major       INTEGER NOT NULL,
  cc_minor       INTEGER NOT NULL,
  sm_count       INTEGER NOT NULL,
  driver_version INTEGER NOT NULL,
  dtype          TEXT    NOT NULL,
  key_dim        INTEGER NOT NULL CHECK (key_dim > 0),
  value_dim      INTEGER NOT NULL CHECK (value_dim > 0),
  bh_bucket      INTEGER NOT NULL CHECK (bh_bucket > 0),
  t_bucket       INTEGER NOT NULL CHECK (t_bucket > 0),
  mode           TEXT    NOT NULL CHECK (mode IN ('fwd', 'bwd', 'decode')),
  config         TEXT    NOT NULL,
  candidates     TEXT    NOT NULL,
  created_at     INTEGER NOT NULL,
  UNIQUE (spec_hash, gpu_name, cc_major, cc_minor, sm_count, driver_version, dtype, key_dim, value_dim,
          bh_bucket, t_bucket, mode)
);
)sql";

// Schema v2: what a runtime without the compiler needs to go from a request to a cubin. The kernel's key
// is spelled out (not its rowid) so entries survive copying between a DB and a pack; the foreign key makes
// deleting a kernel take its entries along (enforced where foreign_keys is on: the kernel DB).
const char* const kKernelIndexTableSql = R"sql(
CREATE TABLE kernel_index (
  id             INTEGER PRIMARY KEY,
  spec_hash      TEXT    NOT NULL,
  variant        TEXT    NOT NULL,
  key_dim        INTEGER NOT NULL CHECK (key_dim > 0),
  value_dim      INTEGER NOT NULL CHECK (value_dim > 0),
  dtype          TEXT    NOT NULL,
  mode           TEXT    NOT NULL CHECK (mode IN ('fwd', 'bwd', 'decode')),
  config         TEXT    NOT NULL,
  arch           TEXT    NOT NULL,
  is_default     INTEGER NOT NULL CHECK (is_default IN (0, 1)),
  source_sha256  TEXT    NOT NULL,
  nvrtc_version  TEXT    NOT NULL,
  options        TEXT    NOT NULL,
  linrec_version TEXT    NOT NULL,
  descriptor     TEXT    NOT NULL,
  created_at     INTEGER NOT NULL,
  UNIQUE (spec_hash, key_dim, value_dim, dtype, mode, config, arch, nvrtc_version, linrec_version),
  FOREIGN KEY (source_sha256, nvrtc_version, options, linrec_version)
    REFERENCES kernels (source_sha256, nvrtc_version, options, linrec_version) ON DELETE CASCADE
);
CREATE INDEX kernel_index_by_spec ON kernel_index (spec_hash);
)sql";

namespace {

constexpr const char* kIndexColumns =
    "spec_hash, variant, key_dim, value_dim, dtype, mode, config, arch, is_default, source_sha256, nvrtc_version, "
    "options, linrec_version, descriptor, created_at";

constexpr const char* kKernelColumns =
    "source_sha256, nvrtc_version, options, linrec_version, cubin, cubin_sha256, kernel_names, registers, "
    "spill_bytes, smem_bytes, created_at";
constexpr const char* kKernelKeyWhere =
    "source_sha256 = ?1 AND nvrtc_version = ?2 AND options = ?3 AND linrec_version = ?4";

constexpr const char* kTuningColumns =
    "spec_hash, gpu_name, cc_major, cc_minor, sm_count, driver_version, dtype, key_dim, value_dim, bh_bucket, "
    "t_bucket, mode, config, candidates, created_at";
constexpr const char* kTuningKeyWhere =
    "spec_hash = ?1 AND gpu_name = ?2 AND cc_major = ?3 AND cc_minor = ?4 AND sm_count = ?5 AND "
    "driver_version = ?6 AND dtype = ?7 AND key_dim = ?8 AND value_dim = ?9 AND bh_bucket = ?10 AND "
    "t_bucket = ?11 AND mode = ?12";

std::string sha256Of(const std::vector<char>& bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hexDigest();
}

Expected<std::string> encodeStrings(const std::vector<std::string>& items, const char* what) {
  // dump() throws on invalid UTF-8; the exception stays inside this function.
  try {
    return nlohmann::json(items).dump();
  } catch (const nlohmann::json::exception&) {
    return Error{std::string(what) + " must be UTF-8 text"};
  }
}

Expected<std::vector<std::string>> decodeStrings(const std::string& text, const char* what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return Error{std::string("stored ") + what + " is not a JSON array: " + text};
  std::vector<std::string> out;
  for (const auto& item : j) {
    if (!item.is_string()) return Error{std::string("stored ") + what + " holds a non-string: " + text};
    out.push_back(item.get<std::string>());
  }
  return out;
}

Status bindKernelKey(Statement& stmt, const KernelKey& key) {
  Expected<std::string> options = encodeStrings(key.options, "NVRTC options");
  if (!options) return Error{options.error()};
  return stmt.bindAll(key.source_sha256, key.nvrtc_version, *options, key.linrec_version);
}

Status validateKernel(const KernelRecord& r) {
  const KernelKey& k = r.key;
  if (k.source_sha256.empty() || k.nvrtc_version.empty() || k.linrec_version.empty() || k.options.empty())
    return Error{"kernel record " + k.text() +
                 ": source_sha256, nvrtc_version, options (with the arch) and linrec_version must all be set"};
  if (r.cubin.empty()) return Error{"kernel record " + k.text() + ": the cubin is empty"};
  if (r.registers < 0 || r.spill_bytes < 0 || r.smem_bytes < 0)
    return Error{"kernel record " + k.text() + ": negative register/spill/smem statistics"};
  return Status::success();
}

// Reads the columns of kKernelColumns; a cubin whose sha256 differs from the stored one is an error.
Expected<KernelRecord> readKernelRow(Database& db, Statement& stmt) {
  KernelRecord r;
  r.key.source_sha256 = stmt.columnText(0);
  r.key.nvrtc_version = stmt.columnText(1);
  Expected<std::vector<std::string>> options = decodeStrings(stmt.columnText(2), "options");
  if (!options) return Error{db.path() + ": " + options.error()};
  r.key.options = std::move(*options);
  r.key.linrec_version = stmt.columnText(3);
  r.cubin = stmt.columnBlob(4);
  r.cubin_sha256 = stmt.columnText(5);
  Expected<std::vector<std::string>> names = decodeStrings(stmt.columnText(6), "kernel_names");
  if (!names) return Error{db.path() + ": " + names.error()};
  r.kernel_names = std::move(*names);
  r.registers = static_cast<int>(stmt.columnInt(7));
  r.spill_bytes = static_cast<int>(stmt.columnInt(8));
  r.smem_bytes = static_cast<int>(stmt.columnInt(9));
  r.created_at = stmt.columnInt(10);
  std::string actual = sha256Of(r.cubin);
  if (actual != r.cubin_sha256) {
    return Error{db.path() + ": the cubin stored for " + r.key.text() + " (source " +
                 r.key.source_sha256.substr(0, 12) + ") fails its checksum (stored sha256 " + r.cubin_sha256 +
                 ", actual " + actual +
                 "); the row is damaged and was left in place: delete it "
                 "(KernelDb::deleteKernel) and compile again"};
  }
  return r;
}

Status bindTuningKey(Statement& stmt, const TuningKey& k) {
  return stmt.bindAll(k.spec_hash, k.gpu.name, k.gpu.cc_major, k.gpu.cc_minor, k.gpu.sm_count, k.gpu.driver_version,
                      k.dtype, k.key_dim, k.value_dim, k.bh_bucket, k.t_bucket, tuningModeName(k.mode));
}

bool isPowerOfTwo(int64_t n) {
  return n > 0 && (n & (n - 1)) == 0;
}

Status validateTuning(const TuningRecord& r) {
  const TuningKey& k = r.key;
  std::string where = "tuning record " + k.text() + ": ";
  if (k.spec_hash.empty() || k.gpu.name.empty() || k.dtype.empty())
    return Error{where + "spec_hash, gpu.name and dtype must be set"};
  if (k.key_dim <= 0 || k.value_dim <= 0) return Error{where + "K and V must be positive"};
  if (!isPowerOfTwo(k.bh_bucket) || !isPowerOfTwo(k.t_bucket))
    return Error{where + "bh_bucket and t_bucket must be powers of two (use bucketOf)"};
  nlohmann::json config = nlohmann::json::parse(r.config_json, nullptr, false);
  if (!config.is_object()) return Error{where + "config is not a JSON object: " + r.config_json.substr(0, 200)};
  nlohmann::json candidates = nlohmann::json::parse(r.candidates_json, nullptr, false);
  if (!candidates.is_array())
    return Error{where + "candidates is not a JSON array: " + r.candidates_json.substr(0, 200)};
  return Status::success();
}

Expected<TuningRecord> readTuningRow(Database& db, Statement& stmt) {
  TuningRecord r;
  TuningKey& k = r.key;
  k.spec_hash = stmt.columnText(0);
  k.gpu.name = stmt.columnText(1);
  k.gpu.cc_major = static_cast<int>(stmt.columnInt(2));
  k.gpu.cc_minor = static_cast<int>(stmt.columnInt(3));
  k.gpu.sm_count = static_cast<int>(stmt.columnInt(4));
  k.gpu.driver_version = static_cast<int>(stmt.columnInt(5));
  k.dtype = stmt.columnText(6);
  k.key_dim = stmt.columnInt(7);
  k.value_dim = stmt.columnInt(8);
  k.bh_bucket = stmt.columnInt(9);
  k.t_bucket = stmt.columnInt(10);
  Expected<TuningMode> mode = parseTuningMode(stmt.columnText(11));
  if (!mode) return Error{db.path() + ": " + mode.error()};
  k.mode = *mode;
  r.config_json = stmt.columnText(12);
  r.candidates_json = stmt.columnText(13);
  r.created_at = stmt.columnInt(14);
  return r;
}

Status validateIndex(const IndexEntry& e) {
  std::string where = "index entry " + e.describe() + ": ";
  if (e.spec_hash.empty() || e.variant.empty() || e.dtype.empty() || e.arch.empty())
    return Error{where + "spec_hash, variant, dtype and arch must be set"};
  if (e.key_dim <= 0 || e.value_dim <= 0) return Error{where + "K and V must be positive"};
  if (e.kernel.source_sha256.empty() || e.kernel.nvrtc_version.empty() || e.kernel.linrec_version.empty())
    return Error{where + "the kernel key is incomplete"};
  nlohmann::json d = nlohmann::json::parse(e.descriptor_json, nullptr, false);
  if (!d.is_object()) return Error{where + "the launch descriptor is not a JSON object"};
  return Status::success();
}

Expected<IndexEntry> readIndexRow(Database& db, Statement& stmt) {
  IndexEntry e;
  e.spec_hash = stmt.columnText(0);
  e.variant = stmt.columnText(1);
  e.key_dim = stmt.columnInt(2);
  e.value_dim = stmt.columnInt(3);
  e.dtype = stmt.columnText(4);
  Expected<TuningMode> mode = parseTuningMode(stmt.columnText(5));
  if (!mode) return Error{db.path() + ": " + mode.error()};
  e.mode = *mode;
  e.config_json = stmt.columnText(6);
  e.arch = stmt.columnText(7);
  e.is_default = stmt.columnInt(8) != 0;
  e.kernel.source_sha256 = stmt.columnText(9);
  e.kernel.nvrtc_version = stmt.columnText(10);
  Expected<std::vector<std::string>> options = decodeStrings(stmt.columnText(11), "options");
  if (!options) return Error{db.path() + ": " + options.error()};
  e.kernel.options = std::move(*options);
  e.kernel.linrec_version = stmt.columnText(12);
  e.descriptor_json = stmt.columnText(13);
  e.created_at = stmt.columnInt(14);
  return e;
}

}  // namespace

Expected<bool> insertIndex(Database& db, const IndexEntry& e, OnConflict on_conflict) {
  if (Status s = validateIndex(e); !s) return Error{s.error()};
  Expected<std::string> config = canonicalConfigJson(e.config_json);
  if (!config) return Error{"index entry " + e.describe() + ": " + config.error()};
  Expected<std::string> options = encodeStrings(e.kernel.options, "NVRTC options");
  if (!options) return Error{options.error()};
  std::string sql = std::string("INSERT INTO kernel_index (") + kIndexColumns +
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
                    "ON CONFLICT (spec_hash, key_dim, value_dim, dtype, mode, config, arch, nvrtc_version, "
                    "linrec_version) DO ";
  // A tuned entry for the default's config must not demote the default, hence max().
  sql += on_conflict == OnConflict::Replace
             ? "UPDATE SET variant = excluded.variant, is_default = max(is_default, excluded.is_default), "
               "source_sha256 = excluded.source_sha256, options = excluded.options, "
               "descriptor = excluded.descriptor, created_at = excluded.created_at"
             : "NOTHING";
  Expected<Statement> stmt = db.prepare(sql);
  if (!stmt) return Error{stmt.error()};
  Status s = stmt->bindAll(e.spec_hash, e.variant, e.key_dim, e.value_dim, e.dtype, tuningModeName(e.mode), *config,
                           e.arch, static_cast<int64_t>(e.is_default ? 1 : 0), e.kernel.source_sha256,
                           e.kernel.nvrtc_version, *options, e.kernel.linrec_version, e.descriptor_json,
                           e.created_at != 0 ? e.created_at : unixSeconds());
  if (s) s = stmt->run();
  if (!s) return Error{s.error()};
  return db.changes() > 0;
}

Status forEachIndex(Database& db, const std::string& spec_hash, const std::function<Status(IndexEntry&&)>& visit) {
  std::string sql = std::string("SELECT ") + kIndexColumns + " FROM kernel_index";
  if (!spec_hash.empty()) sql += " WHERE spec_hash = ?1";
  sql += " ORDER BY id";
  Expected<Statement> stmt = db.prepare(sql);
  if (!stmt) return Error{stmt.error()};
  if (!spec_hash.empty())
    if (Status s = stmt->bind(1, spec_hash); !s) return s;
  for (;;) {
    Expected<bool> row = stmt->step();
    if (!row) return Error{row.error()};
    if (!*row) return Status::success();
    Expected<IndexEntry> e = readIndexRow(db, *stmt);
    if (!e) return Error{e.error()};
    if (Status s = visit(std::move(*e)); !s) return s;
  }
}

Expected<bool> hasIndexTable(Database& db) {
  Expected<int64_t> n =
      db.queryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kernel_index'");
  if (!n) return Error{n.error()};
  return *n == 1;
}

Expected<bool> insertKernel(Database& db, const KernelRecord& r, OnConflict on_conflict) {
  if (Status s = validateKernel(r); !s) return Error{s.error()};
  Expected<std::string> names = encodeStrings(r.kernel_names, "kernel names");
  if (!names) return Error{names.error()};
  std::string sql = std::string("INSERT INTO kernels (") + kKernelColumns +
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                    "ON CONFLICT (source_sha256, nvrtc_version, options, linrec_version) DO ";
  sql += on_conflict == OnConflict::Replace
             ? "UPDATE SET cubin = excluded.cubin, cubin_sha256 = excluded.cubin_sha256, "
               "kernel_names = excluded.kernel_names, registers = excluded.registers, "
               "spill_bytes = excluded.spill_bytes, smem_bytes = excluded.smem_bytes, created_at = excluded.created_at"
             : "NOTHING";
  Expected<Statement> stmt = db.prepare(sql);
  if (!stmt) return Error{stmt.error()};
  if (Status s = bindKernelKey(*stmt, r.key); !s) return Error{s.error()};
  Status s = stmt->bindBlob(5, r.cubin);
  if (s) s = stmt->bind(6, sha256Of(r.cubin));
  if (s) s = stmt->bind(7, *names);
  if (s) s = stmt->bind(8, r.registers);
  if (s) s = stmt->bind(9, r.spill_bytes);
  if (s) s = stmt->bind(10, r.smem_bytes);
  if (s) s = stmt->bind(11, r.created_at != 0 ? r.created_at : unixSeconds());
  if (s) s = stmt->run();
  if (!s) return Error{s.error()};
  return db.changes() > 0;
}

Expected<std::optional<KernelRecord>> selectKernel(Database& db, const KernelKey& key) {
  Expected<Statement> stmt =
      db.prepare(std::string("SELECT ") + kKernelColumns + " FROM kernels WHERE " + kKernelKeyWhere);
  if (!stmt) return Error{stmt.error()};
  if (Status s = bindKernelKey(*stmt, key); !s) return Error{s.error()};
  Expected<bool> row = stmt->step();
  if (!row) return Error{row.error()};
  if (!*row) return std::optional<KernelRecord>();
  Expected<KernelRecord> r = readKernelRow(db, *stmt);
  if (!r) return Error{r.error()};
  return std::optional<KernelRecord>(std::move(*r));
}

Status forEachKernel(Database& db, const std::function<Status(KernelRecord&&)>& visit) {
  Expected<Statement> stmt = db.prepare(std::string("SELECT ") + kKernelColumns + " FROM kernels ORDER BY id");
  if (!stmt) return Error{stmt.error()};
  for (;;) {
    Expected<bool> row = stmt->step();
    if (!row) return Error{row.error()};
    if (!*row) return Status::success();
    Expected<KernelRecord> r = readKernelRow(db, *stmt);
    if (!r) return Error{r.error()};
    if (Status s = visit(std::move(*r)); !s) return s;
  }
}

Status deleteKernelRow(Database& db, const KernelKey& key) {
  Expected<Statement> stmt = db.prepare(std::string("DELETE FROM kernels WHERE ") + kKernelKeyWhere);
  if (!stmt) return Error{stmt.error()};
  if (Status s = bindKernelKey(*stmt, key); !s) return s;
  return stmt->run();
}

Expected<bool> insertTuning(Database& db, const TuningRecord& r, OnConflict on_conflict) {
  if (Status s = validateTuning(r); !s) return Error{s.error()};
  std::string sql = std::string("INSERT INTO tunings (") + kTuningColumns +
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
                    "ON CONFLICT (spec_hash, gpu_name, cc_major, cc_minor, sm_count, driver_version, dtype, key_dim, "
                    "value_dim, bh_bucket, t_bucket, mode) DO ";
  sql += on_conflict == OnConflict::Replace
             ? "UPDATE SET config = excluded.config, candidates = excluded.candidates, created_at = excluded.created_at"
             : "NOTHING";
  Expected<Statement> stmt = db.prepare(sql);
  if (!stmt) return Error{stmt.error()};
  Status s = bindTuningKey(*stmt, r.key);
  if (s) s = stmt->bind(13, r.config_json);
  if (s) s = stmt->bind(14, r.candidates_json);
  if (s) s = stmt->bind(15, r.created_at != 0 ? r.created_at : unixSeconds());
  if (s) s = stmt->run();
  if (!s) return Error{s.error()};
  return db.changes() > 0;
}

Expected<std::optional<TuningRecord>> selectTuning(Database& db, const TuningKey& key) {
  Expected<Statement> stmt =
      db.prepare(std::string("SELECT ") + kTuningColumns + " FROM tunings WHERE " + kTuningKeyWhere);
  if (!stmt) return Error{stmt.error()};
  if (Status s = bindTuningKey(*stmt, key); !s) return Error{s.error()};
  Expected<bool> row = stmt->step();
  if (!row) return Error{row.error()};
  if (!*row) return std::optional<TuningRecord>();
  Expected<TuningRecord> r = readTuningRow(db, *stmt);
  if (!r) return Error{r.error()};
  return std::optional<TuningRecord>(std::move(*r));
}

Status forEachTuning(Database& db, const std::function<Status(TuningRecord&&)>& visit) {
  Expected<Statement> stmt = db.prepare(std::string("SELECT ") + kTuningColumns + " FROM tunings ORDER BY id");
  if (!stmt) return Error{stmt.error()};
  for (;;) {
    Expected<bool> row = stmt->step();
    if (!row) return Error{row.error()};
    if (!*row) return Status::success();
    Expected<TuningRecord> r = readTuningRow(db, *stmt);
    if (!r) return Error{r.error()};
    if (Status s = visit(std::move(*r)); !s) return s;
  }
}

Status deleteTuningRow(Database& db, const TuningKey& key) {
  Expected<Statement> stmt = db.prepare(std::string("DELETE FROM tunings WHERE ") + kTuningKeyWhere);
  if (!stmt) return Error{stmt.error()};
  if (Status s = bindTuningKey(*stmt, key); !s) return s;
  return stmt->run();
}

Expected<FileInfo> inspectFile(Database& db, const std::string& what) {
  // One statement, so the header and the catalogue come from the same snapshot even while another process
  // is creating the schema.
  const char* sql =
      "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), "
      "(SELECT count(*) FROM sqlite_master)";
  Expected<Statement> stmt = db.prepare(sql);
  Expected<bool> row = stmt ? stmt->step() : Expected<bool>(Error{stmt.error()});
  if (!row) {
    int code = db.lastErrorCode();
    std::string head = what + " " + db.path();
    if (code == SQLITE_NOTADB)
      return Error{head +
                   " is not a SQLite database (another kind of file, encrypted, or overwritten); "
                   "linrec left it untouched"};
    if (code == SQLITE_CORRUPT)
      return Error{head + " is damaged (truncated or corrupt: " + sqlite3_errstr(code) + "); linrec left it untouched"};
    if (code == SQLITE_CANTOPEN) return Error{explainOpenFailure(db.path(), row.error())};
    return Error{head + ": cannot read it: " + row.error()};
  }
  if (!*row) return Error{what + " " + db.path() + ": cannot read its header"};
  FileInfo info;
  info.application_id = stmt->columnInt(0);
  info.user_version = stmt->columnInt(1);
  info.schema_objects = stmt->columnInt(2);
  return info;
}

std::string explainOpenFailure(const std::string& path, const std::string& sqlite_error) {
  std::string dir = path;
  size_t slash = dir.find_last_of('/');
  dir = slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
  struct stat st {};
  std::string why;
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT)
      why = "directory " + dir + " does not exist";
    else if (err == ENOTDIR)
      why = "a component of " + dir + " is not a directory";
    else
      why = "cannot reach directory " + dir + ": " + std::strerror(err);
  } else if (!S_ISDIR(st.st_mode)) {
    why = dir + " is not a directory";
  } else if (struct stat file{}; ::stat(path.c_str(), &file) == 0 && S_ISDIR(file.st_mode)) {
    why = path + " is a directory";
  } else if (::access(path.c_str(), F_OK) != 0 && ::access(dir.c_str(), W_OK) != 0) {
    why = "directory " + dir + " is not writable, so the file cannot be created";
  } else if (::access(dir.c_str(), W_OK) != 0) {
    // WAL mode needs its -wal and -shm files beside the database.
    why = "directory " + dir + " is not writable (SQLite needs to create " + path + "-wal and -shm there)";
  } else if (::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), R_OK | W_OK) != 0) {
    why = path + " is not readable and writable";
  }
  if (why.empty()) return sqlite_error;
  return "cannot open " + path + ": " + why + " [" + sqlite_error + "]";
}

std::string describeApplicationId(int64_t id) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", static_cast<unsigned>(static_cast<uint32_t>(id)));
  std::string out = hex;
  std::string ascii;
  for (int shift = 24; shift >= 0; shift -= 8) {
    char c = static_cast<char>((static_cast<uint32_t>(id) >> shift) & 0xff);
    if (c < 0x20 || c > 0x7e) return out;
    ascii.push_back(c);
  }
  return out + " ('" + ascii + "')";
}

int64_t unixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t unixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void sleepForRetry(int attempt) {
  // Jitter keeps processes that collided once from colliding again in lockstep.
  thread_local std::minstd_rand rng(static_cast<unsigned>(::getpid()) ^
                                    static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  int base_ms = std::min(2 << std::min(attempt, 8), 500);
  std::uniform_int_distribution<int> jitter(0, base_ms / 2 + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(base_ms + jitter(rng)));
}

}  // namespace linrec::kdb::detail
