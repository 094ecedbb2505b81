// linrec::kdb::Database and the SQLite error formatting shared by the wrapper classes.
#include "linrec/kdb/Database.h"

#include <algorithm>
#include <utility>

#include "SqliteError.h"

namespace linrec::kdb {
namespace detail {

std::string abbreviateSql(const std::string& sql) {
  // Schema scripts run to kilobytes; the first line or so is enough to know which statement failed.
  constexpr size_t kMax = 160;
  std::string out;
  out.reserve(std::min(sql.size(), kMax + 3));
  bool space = false;
  for (char c : sql) {
    bool ws = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
    if (out.size() >= kMax) {
      out += "...";
      break;
    }
  }
  return out;
}

Error sqliteError(Connection& conn, int rc, const std::string& action) {
  conn.last_error = rc & 0xff;
  // sqlite3_errmsg describes the latest failure on the handle, which is `rc` unless nothing failed on the
  // handle itself (e.g. open failed before one existed); fall back to the generic text then.
  const char* msg =
      conn.db != nullptr && sqlite3_extended_errcode(conn.db) == rc ? sqlite3_errmsg(conn.db) : sqlite3_errstr(rc);
  std::string text = conn.path + ": " + action + ": " + msg;
  text += " (SQLite code " + std::to_string(rc) + ")";
  return Error{text};
}

}  // namespace detail

namespace {

Status openWith(const std::string& path, int flags, detail::Connection& conn) {
  // Even a failed open may allocate a handle (for its message); the Connection closes it either way.
  int rc = sqlite3_open_v2(path.c_str(), &conn.db, flags, nullptr);
  if (rc != SQLITE_OK) return detail::sqliteError(conn, rc, "cannot open");
  sqlite3_extended_result_codes(conn.db, 1);
  return Status::success();
}

}  // namespace

Database::~Database() = default;

Expected<Database> Database::open(const std::string& path, DbAccess access) {
  auto conn = std::make_shared<detail::Connection>();
  conn->path = path;
  int flags = 0;
  switch (access) {
    case DbAccess::ReadOnly:
      flags = SQLITE_OPEN_READONLY;
      break;
    case DbAccess::ReadWrite:
      flags = SQLITE_OPEN_READWRITE;
      break;
    case DbAccess::ReadWriteCreate:
      flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
  }
  // NOFOLLOW is not used: a symlinked cache directory is a normal setup.
  if (Status s = openWith(path, flags, *conn); !s) return Error{s.error()};
  return Database(std::move(conn));
}

Expected<Database> Database::openInMemory() {
  auto conn = std::make_shared<detail::Connection>();
  conn->path = ":memory:";
  if (Status s = openWith(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY, *conn); !s)
    return Error{s.error()};
  return Database(std::move(conn));
}

Status Database::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(conn_->db, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);  // the same text is available from sqlite3_errmsg
  if (rc != SQLITE_OK) return detail::sqliteError(*conn_, rc, "`" + detail::abbreviateSql(sql) + "`");
  return Status::success();
}

Expected<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(conn_->db, sql.c_str(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return detail::sqliteError(*conn_, rc, "prepare `" + detail::abbreviateSql(sql) + "`");
  }
  if (stmt == nullptr) return Error{conn_->path + ": prepare: empty SQL"};
  return Statement(conn_, stmt, sql);
}

Expected<int64_t> Database::queryInt(const std::string& sql) {
  Expected<Statement> stmt = prepare(sql);
  if (!stmt) return Error{stmt.error()};
  Expected<bool> row = stmt->step();
  if (!row) return Error{row.error()};
  if (!*row) return Error{conn_->path + ": `" + detail::abbreviateSql(sql) + "` returned no row"};
  return stmt->columnInt(0);
}

Status Database::setBusyTimeout(std::chrono::milliseconds timeout) {
  int rc = sqlite3_busy_timeout(conn_->db, static_cast<int>(timeout.count()));
  if (rc != SQLITE_OK) return detail::sqliteError(*conn_, rc, "busy_timeout");
  return Status::success();
}

const std::string& Database::path() const {
  return conn_->path;
}
bool Database::isReadOnly() const {
  return sqlite3_db_readonly(conn_->db, "main") == 1;
}
bool Database::inTransaction() const {
  return sqlite3_get_autocommit(conn_->db) == 0;
}
int64_t Database::lastInsertRowId() const {
  return sqlite3_last_insert_rowid(conn_->db);
}
int Database::changes() const {
  return sqlite3_changes(conn_->db);
}
int Database::lastErrorCode() const {
  return conn_->last_error;
}
bool Database::lastErrorWasBusy() const {
  return detail::isBusyCode(conn_->last_error);
}
void Database::clearLastError() {
  conn_->last_error = 0;
}
sqlite3* Database::handle() const {
  return conn_->db;
}

}  // namespace linrec::kdb
