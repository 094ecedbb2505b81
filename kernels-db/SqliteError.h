// Internal to kernels-db/: the shared connection state and how SQLite failures become linrec::Errors.
#pragma once

#include <sqlite3.h>

#include <string>

#include "linrec/Expected.h"

namespace linrec::kdb::detail {

/// Shared by a Database and its Statements and Transactions, so none of them can outlive the handle.
struct Connection {
  sqlite3* db = nullptr;
  std::string path;
  int last_error = 0;  ///< primary result code of the last failure reported through the wrapper
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  // close_v2 never fails for a live handle; it defers the close if a statement is somehow still alive.
  ~Connection() { sqlite3_close_v2(db); }
};

/// "SQL text" cut to a readable length for messages.
std::string abbreviateSql(const std::string& sql);

/// Records `rc` on `conn` and builds "kernel DB <path>: <action>: <sqlite message> (<code name>)".
Error sqliteError(Connection& conn, int rc, const std::string& action);

/// True for the result codes that mean "another connection holds the lock".
inline bool isBusyCode(int rc) {
  return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

}  // namespace linrec::kdb::detail
