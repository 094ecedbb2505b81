// linrec::kdb::Transaction: RAII BEGIN/COMMIT/ROLLBACK.
#include "linrec/kdb/Transaction.h"

#include "SqliteError.h"
#include "linrec/kdb/Database.h"

namespace linrec::kdb {

namespace {

Status execOn(detail::Connection& conn, const char* sql) {
  int rc = sqlite3_exec(conn.db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return detail::sqliteError(conn, rc, sql);
  return Status::success();
}

}  // namespace

Expected<Transaction> Transaction::begin(Database& db, Kind kind) {
  const char* sql = kind == Kind::Immediate   ? "BEGIN IMMEDIATE"
                    : kind == Kind::Exclusive ? "BEGIN EXCLUSIVE"
                                              : "BEGIN DEFERRED";
  if (Status s = execOn(*db.conn_, sql); !s) return Error{s.error()};
  return Transaction(db.conn_);
}

Transaction::Transaction(Transaction&& other) noexcept : conn_(std::move(other.conn_)), open_(other.open_) {
  other.open_ = false;
}

Transaction::~Transaction() {
  // A destructor cannot report; if ROLLBACK fails the connection is closing or broken, and SQLite rolls
  // back an unfinished transaction when the connection closes (or the next opener recovers the WAL).
  if (open_ && conn_ && sqlite3_get_autocommit(conn_->db) == 0)
    sqlite3_exec(conn_->db, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::commit() {
  if (!open_ || !conn_) return Error{"SQLite: commit() on a transaction that is already finished"};
  Status s = execOn(*conn_, "COMMIT");
  // Some failures (SQLITE_FULL, IOERR, ...) end the transaction by themselves; then there is nothing to keep open.
  if (s.ok() || sqlite3_get_autocommit(conn_->db) != 0) open_ = false;
  return s;
}

Status Transaction::rollback() {
  if (!open_ || !conn_) return Status::success();
  open_ = false;
  if (sqlite3_get_autocommit(conn_->db) != 0) return Status::success();
  return execOn(*conn_, "ROLLBACK");
}

}  // namespace linrec::kdb
