// Tests of the RAII SQLite wrapper: Database, Statement, Transaction (all on :memory: or scratch files).
#include <gtest/gtest.h>

#include "TestUtil.h"
#include "linrec/kdb/Database.h"
#include "linrec/kdb/Statement.h"
#include "linrec/kdb/Transaction.h"

namespace linrec::kdb {
namespace {

Database memoryDb() {
  Expected<Database> db = Database::openInMemory();
  EXPECT_TRUE(db.ok()) << (db ? "" : db.error());
  return std::move(*db);
}

TEST(Database, BindStepAndReadEveryType) {
  Database db = memoryDb();
  ASSERT_TRUE(db.exec("CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)").ok());
  Expected<Statement> insert = db.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  ASSERT_TRUE(insert.ok()) << insert.error();
  std::vector<char> blob = {'\0', 'x', '\xff'};
  ASSERT_TRUE(insert->bindAll(int64_t{1} << 40, 2.5, std::string("h\0i", 3)).ok());
  ASSERT_TRUE(insert->bindBlob(4, blob).ok());
  ASSERT_TRUE(insert->bindNull(5).ok());
  ASSERT_TRUE(insert->run().ok());
  EXPECT_EQ(db.changes(), 1);

  Expected<Statement> select = db.prepare("SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(select.ok());
  Expected<bool> row = select->step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->columnInt(0), int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select->columnDouble(1), 2.5);
  EXPECT_EQ(select->columnText(2), std::string("h\0i", 3));
  EXPECT_EQ(select->columnBlob(3), blob);
  EXPECT_TRUE(select->isNull(4));
  row = select->step();
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
}

TEST(Database, EmptyBlobIsABlobNotNull) {
  Database db = memoryDb();
  ASSERT_TRUE(db.exec("CREATE TABLE t (b BLOB NOT NULL)").ok());
  Expected<Statement> insert = db.prepare("INSERT INTO t VALUES (?1)");
  ASSERT_TRUE(insert->bindBlob(1, nullptr, 0).ok());
  EXPECT_TRUE(insert->run().ok());
  EXPECT_EQ(*db.queryInt("SELECT length(b) FROM t"), 0);
}

TEST(Database, ErrorsNameTheSqlAndSqlitesMessage) {
  Database db = memoryDb();
  Expected<Statement> bad = db.prepare("SELEC 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("SELEC 1"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("syntax error"), std::string::npos) << bad.error();

  ASSERT_TRUE(db.exec("CREATE TABLE t (x INTEGER UNIQUE)").ok());
  ASSERT_TRUE(db.exec("INSERT INTO t VALUES (1)").ok());
  Expected<Statement> dup = db.prepare("INSERT INTO t VALUES (?1)");
  ASSERT_TRUE(dup->bind(1, 1).ok());
  Status s = dup->run();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("UNIQUE constraint failed"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("INSERT INTO t"), std::string::npos) << s.error();
  EXPECT_EQ(db.lastErrorCode(), 19);  // SQLITE_CONSTRAINT

  Status range = dup->bind(7, 1);
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.error().find("bind ?7"), std::string::npos) << range.error();
}

TEST(Database, QueryIntOnEmptyResultIsAnError) {
  Database db = memoryDb();
  ASSERT_TRUE(db.exec("CREATE TABLE t (x)").ok());
  Expected<int64_t> n = db.queryInt("SELECT x FROM t");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().find("no row"), std::string::npos);
}

TEST(Database, StatementMayOutliveItsDatabaseObject) {
  Expected<Statement> stmt = Error{"unset"};
  {
    Database db = memoryDb();
    ASSERT_TRUE(db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (42)").ok());
    stmt = db.prepare("SELECT x FROM t");
    ASSERT_TRUE(stmt.ok());
  }
  Expected<bool> row = stmt->step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(stmt->columnInt(0), 42);
}

TEST(Transaction, RollsBackUnlessCommitted) {
  Database db = memoryDb();
  ASSERT_TRUE(db.exec("CREATE TABLE t (x)").ok());
  {
    Expected<Transaction> tx = Transaction::begin(db);
    ASSERT_TRUE(tx.ok()) << tx.error();
    EXPECT_TRUE(db.inTransaction());
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (1)").ok());
  }
  EXPECT_FALSE(db.inTransaction());
  EXPECT_EQ(*db.queryInt("SELECT count(*) FROM t"), 0);
  {
    Expected<Transaction> tx = Transaction::begin(db);
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (2)").ok());
    ASSERT_TRUE(tx->commit().ok());
    EXPECT_FALSE(tx->commit().ok());  // finished transactions say so
  }
  EXPECT_EQ(*db.queryInt("SELECT count(*) FROM t"), 1);
  {
    Expected<Transaction> tx = Transaction::begin(db, Transaction::Kind::Deferred);
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (3)").ok());
    Transaction moved = std::move(*tx);  // the moved-from object must not roll back twice
    ASSERT_TRUE(moved.rollback().ok());
  }
  EXPECT_EQ(*db.queryInt("SELECT count(*) FROM t"), 1);
}

TEST(Transaction, ImmediateWaitsThenTimesOutWithBusy) {
  test::TempDir dir;
  std::string path = dir.file("busy.db");
  Expected<Database> a = Database::open(path);
  Expected<Database> b = Database::open(path);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x)").ok());
  ASSERT_TRUE(b->setBusyTimeout(std::chrono::milliseconds(50)).ok());
  Expected<Transaction> held = Transaction::begin(*a);
  ASSERT_TRUE(held.ok());
  Expected<Transaction> blocked = Transaction::begin(*b);
  ASSERT_FALSE(blocked.ok());
  EXPECT_TRUE(b->lastErrorWasBusy()) << blocked.error();
  EXPECT_NE(blocked.error().find("database is locked"), std::string::npos) << blocked.error();
  ASSERT_TRUE(held->commit().ok());
  EXPECT_TRUE(Transaction::begin(*b).ok());
}

}  // namespace
}  // namespace linrec::kdb
