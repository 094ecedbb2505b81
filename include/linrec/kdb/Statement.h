// linrec::kdb::Statement: a prepared SQLite statement, finalized by RAII, with every bind and step checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "linrec/Expected.h"

struct sqlite3_stmt;

namespace linrec::kdb {

namespace detail {
struct Connection;
}

/// One compiled statement. Made by `Database::prepare`; move-only. Parameters are 1-based (`?1`, `?2`, ...),
/// columns 0-based, as in the SQLite C API. Errors name the SQL and SQLite's message.
class Statement {
 public:
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Status bind(int index, int64_t value);
  Status bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Status bind(int index, double value);
  /// Binds text (copied by SQLite, so the argument may die before step()).
  Status bind(int index, std::string_view text);
  Status bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Status bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  /// Binds a blob (copied); an empty blob is stored as a zero-length blob, not NULL.
  Status bindBlob(int index, const void* data, size_t size);
  Status bindBlob(int index, const std::vector<char>& bytes) { return bindBlob(index, bytes.data(), bytes.size()); }
  Status bindNull(int index);
  /// Binds `args` to ?1, ?2, ... in order; stops at the first failure.
  template <class... Args>
  Status bindAll(const Args&... args) {
    Status status;
    int index = 0;
    // A fold over && stops at the first failed bind, keeping its error.
    (void)((status = bind(++index, args), status.ok()) && ...);
    return status;
  }

  /// Advances: true when a row is ready to read, false when the statement is done.
  Expected<bool> step();
  /// Steps until done, discarding rows (INSERT/UPDATE/DELETE, PRAGMA assignments).
  Status run();
  /// Makes the statement runnable again and clears its bindings.
  Status reset();

  int columnCount() const;
  bool isNull(int column) const;
  int64_t columnInt(int column) const;
  double columnDouble(int column) const;
  std::string columnText(int column) const;
  std::vector<char> columnBlob(int column) const;

  /// The SQL this statement was prepared from.
  const std::string& sql() const { return sql_; }

 private:
  friend class Database;
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  Statement(std::shared_ptr<detail::Connection> conn, sqlite3_stmt* stmt, std::string sql);
  Error failure(int rc, const std::string& action) const;

  std::shared_ptr<detail::Connection> conn_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  std::string sql_;
};

}  // namespace linrec::kdb
