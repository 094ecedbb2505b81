// linrec::kdb::Database: one SQLite connection, owned by RAII, whose every failure is a linrec::Error.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "linrec/Expected.h"
#include "linrec/kdb/Statement.h"

struct sqlite3;

namespace linrec::kdb {

namespace detail {
struct Connection;
}

/// How `Database::open` treats the file.
enum class DbAccess {
  ReadOnly,         ///< the file must exist; nothing is ever written
  ReadWrite,        ///< the file must exist
  ReadWriteCreate,  ///< an empty database is created when the file is missing
};

/// A SQLite connection. Move-only; the connection is closed when the Database and every Statement
/// prepared from it are gone (statements share ownership, so a statement can never outlive its handle).
/// Not for concurrent use from several threads: open one Database per thread.
///
///     auto db = Database::open("/tmp/x.db");
///     if (!db) return Error{db.error()};
///     if (Status s = db->exec("CREATE TABLE t (x INTEGER)"); !s) return Error{s.error()};
class Database {
 public:
  /// Opens `path` (no URI parsing). Extended result codes are on; nothing is read from the file yet, so
  /// a file that is not a database is only reported by the first statement that reads it.
  static Expected<Database> open(const std::string& path, DbAccess access = DbAccess::ReadWriteCreate);
  /// A private in-memory database (gone when closed).
  static Expected<Database> openInMemory();

  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  /// Runs one or more `;`-separated statements that return no rows worth keeping.
  Status exec(const std::string& sql);
  /// Compiles one statement.
  Expected<Statement> prepare(const std::string& sql);
  /// Runs a statement that yields one integer in its first row (PRAGMAs, counts); an empty result is an error.
  Expected<int64_t> queryInt(const std::string& sql);

  /// How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
  Status setBusyTimeout(std::chrono::milliseconds timeout);

  /// The path given to open(), or ":memory:".
  const std::string& path() const;
  /// True when SQLite opened the main database read-only (asked for, or the file is not writable).
  bool isReadOnly() const;
  /// True inside BEGIN ... COMMIT.
  bool inTransaction() const;
  int64_t lastInsertRowId() const;
  /// Rows changed by the last INSERT/UPDATE/DELETE.
  int changes() const;
  /// The primary SQLite result code of the last failure any wrapper reported on this connection (0 if
  /// none). Kept by the wrapper because a later ROLLBACK overwrites sqlite3_errcode().
  int lastErrorCode() const;
  /// True when the last failure was a lock timeout (SQLITE_BUSY / SQLITE_LOCKED): worth retrying.
  bool lastErrorWasBusy() const;
  /// Forgets the last failure (before an attempt whose outcome lastErrorWasBusy() will judge).
  void clearLastError();
  /// The raw handle, for what the wrapper does not cover.
  sqlite3* handle() const;

 private:
  friend class Transaction;
  explicit Database(std::shared_ptr<detail::Connection> conn) : conn_(std::move(conn)) {}
  std::shared_ptr<detail::Connection> conn_;
};

}  // namespace linrec::kdb
