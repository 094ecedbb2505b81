// linrec::kdb::Transaction: BEGIN on construction, ROLLBACK on destruction unless committed.
#pragma once

#include <memory>

#include "linrec/Expected.h"

namespace linrec::kdb {

class Database;
namespace detail {
struct Connection;
}

/// An RAII transaction. Writers use `Immediate` so the write lock is taken (waiting up to the busy
/// timeout) before anything is read: a deferred reader that later writes can fail with SQLITE_BUSY at
/// once, without waiting, when another writer got in between.
///
///     auto tx = Transaction::begin(db);
///     if (!tx) return Error{tx.error()};
///     ... statements ...
///     return tx->commit();           // leaving without commit() rolls everything back
class Transaction {
 public:
  enum class Kind { Deferred, Immediate, Exclusive };

  static Expected<Transaction> begin(Database& db, Kind kind = Kind::Immediate);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  /// Rolls back if neither commit() nor rollback() succeeded.
  ~Transaction();

  /// COMMIT. On failure the transaction is still open (or SQLite already rolled it back); the destructor
  /// rolls back whatever is left.
  Status commit();
  /// ROLLBACK now instead of in the destructor.
  Status rollback();

 private:
  explicit Transaction(std::shared_ptr<detail::Connection> conn) : conn_(std::move(conn)) {}
  std::shared_ptr<detail::Connection> conn_;
  bool open_ = true;
};

}  // namespace linrec::kdb
