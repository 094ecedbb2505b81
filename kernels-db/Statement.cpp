// linrec::kdb::Statement: checked binds, steps and column reads over sqlite3_stmt.
#include "linrec/kdb/Statement.h"

#include <utility>

#include "SqliteError.h"

namespace linrec::kdb {

void Statement::Finalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

Statement::Statement(std::shared_ptr<detail::Connection> conn, sqlite3_stmt* stmt, std::string sql)
    : conn_(std::move(conn)), stmt_(stmt), sql_(std::move(sql)) {}

// Members are destroyed in reverse order: the statement is finalized before the connection reference goes.
Statement::~Statement() = default;

Error Statement::failure(int rc, const std::string& action) const {
  return detail::sqliteError(*conn_, rc, action + " `" + detail::abbreviateSql(sql_) + "`");
}

Status Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) return failure(rc, "bind ?" + std::to_string(index) + " of");
  return Status::success();
}

Status Statement::bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_.get(), index, value);
  if (rc != SQLITE_OK) return failure(rc, "bind ?" + std::to_string(index) + " of");
  return Status::success();
}

Status Statement::bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) return failure(rc, "bind ?" + std::to_string(index) + " of");
  return Status::success();
}

Status Statement::bindBlob(int index, const void* data, size_t size) {
  // A null pointer would bind NULL, which NOT NULL columns reject; an empty blob is still a blob.
  static const char kEmpty = 0;
  int rc = sqlite3_bind_blob64(stmt_.get(), index, size == 0 ? &kEmpty : data, size, SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return failure(rc, "bind ?" + std::to_string(index) + " of");
  return Status::success();
}

Status Statement::bindNull(int index) {
  int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK) return failure(rc, "bind ?" + std::to_string(index) + " of");
  return Status::success();
}

Expected<bool> Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error err = failure(rc, "step");
  // Reset so the statement does not keep a read snapshot (and the lock with it) after the failure.
  sqlite3_reset(stmt_.get());
  return err;
}

Status Statement::run() {
  for (;;) {
    Expected<bool> row = step();
    if (!row) return Error{row.error()};
    if (!*row) return Status::success();
  }
}

Status Statement::reset() {
  // sqlite3_reset repeats the last step's error; that error was already reported by step().
  sqlite3_reset(stmt_.get());
  int rc = sqlite3_clear_bindings(stmt_.get());
  if (rc != SQLITE_OK) return failure(rc, "clear bindings of");
  return Status::success();
}

int Statement::columnCount() const {
  return sqlite3_column_count(stmt_.get());
}
bool Statement::isNull(int column) const {
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}
int64_t Statement::columnInt(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}
double Statement::columnDouble(int column) const {
  return sqlite3_column_double(stmt_.get(), column);
}

std::string Statement::columnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  int size = sqlite3_column_bytes(stmt_.get(), column);  // after _text(), as the SQLite docs require
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::vector<char> Statement::columnBlob(int column) const {
  const void* data = sqlite3_column_blob(stmt_.get(), column);
  int size = sqlite3_column_bytes(stmt_.get(), column);
  if (data == nullptr || size <= 0) return {};
  const char* bytes = static_cast<const char*>(data);
  return std::vector<char>(bytes, bytes + size);
}

}  // namespace linrec::kdb
