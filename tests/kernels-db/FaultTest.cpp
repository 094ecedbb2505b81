// Damaged, foreign, newer and unreachable kernel DB files: clear errors, untouched files, in-memory fallback.
#include <gtest/gtest.h>

#include "TestUtil.h"
#include "linrec/kdb/KernelDb.h"

namespace linrec::kdb {
namespace {

using test::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A valid kernel DB with a few hundred KiB of cubins, checkpointed and closed (so the main file is complete).
void makeValidDb(const std::string& path) {
  Expected<KernelDb> db = KernelDb::open(path);
  ASSERT_TRUE(db.ok()) << db.error();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(db->putKernel(test::sampleKernel(i, "sm_90a", 0, 64u << 10)).ok());
}

/// Opens `path` (read-write) expecting an error that contains every one of `parts`; checks the bytes of the
/// file did not change and openOrFallback falls back to memory without touching it either.
void expectRefusedAndUntouched(const std::string& path, const std::vector<std::string>& parts) {
  const std::string before = test::readBytes(path);
  Expected<KernelDb> db = KernelDb::open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(contains(db.error(), path)) << db.error();
  for (const std::string& p : parts) EXPECT_TRUE(contains(db.error(), p)) << "missing '" << p << "' in: " << db.error();
  EXPECT_EQ(test::readBytes(path), before) << "the file was modified";

  Expected<KernelDb::Opened> fallback = KernelDb::openOrFallback(path);
  ASSERT_TRUE(fallback.ok()) << fallback.error();
  EXPECT_TRUE(fallback->db.inMemory());
  EXPECT_TRUE(contains(fallback->warning, db.error())) << fallback->warning;
  EXPECT_TRUE(contains(fallback->warning, "in-memory")) << fallback->warning;
  EXPECT_EQ(test::readBytes(path), before) << "the fallback modified the file";
}

TEST(KernelDbFaults, GarbageFileIsRefusedAndLeftUntouched) {
  TempDir dir;
  std::string path = dir.file("k.db");
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage.push_back(static_cast<char>((i * 2654435761u) >> 13));
  test::writeBytes(path, garbage);
  expectRefusedAndUntouched(path, {"not a SQLite database", "untouched"});

  test::writeBytes(path, "a text file someone pointed LINREC_KERNEL_DB at\n");
  expectRefusedAndUntouched(path, {"not a SQLite database"});
}

TEST(KernelDbFaults, TruncatedDbIsRefusedAndLeftUntouched) {
  TempDir dir;
  std::string valid = dir.file("valid.db");
  makeValidDb(valid);
  ASSERT_FALSE(test::exists(valid + "-wal"));  // the last close checkpointed everything into the main file
  std::string bytes = test::readBytes(valid);
  ASSERT_GT(bytes.size(), 256u << 10);
  std::string path = dir.file("k.db");
  test::writeBytes(path, bytes.substr(0, bytes.size() / 2));
  expectRefusedAndUntouched(path, {"damaged", "truncated or corrupt"});
}

TEST(KernelDbFaults, DatabaseOfAnotherProgramIsRefused) {
  TempDir dir;
  std::string path = dir.file("k.db");
  {
    Expected<Database> raw = Database::open(path);
    ASSERT_TRUE(raw->exec("PRAGMA application_id = 1234; CREATE TABLE photos (id INTEGER)").ok());
  }
  expectRefusedAndUntouched(path, {"another program", "0x000004D2"});

  std::string plain = dir.file("plain.db");  // application_id 0 but not empty: someone's data
  {
    Expected<Database> raw = Database::open(plain);
    ASSERT_TRUE(raw->exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('keep me')").ok());
  }
  expectRefusedAndUntouched(plain, {"another program", "0x00000000"});
}

TEST(KernelDbFaults, NewerSchemaIsRefused) {
  TempDir dir;
  std::string path = dir.file("k.db");
  makeValidDb(path);
  {
    Expected<Database> raw = Database::open(path);
    ASSERT_TRUE(raw->exec("PRAGMA user_version = 99").ok());
  }
  expectRefusedAndUntouched(path, {"schema version 99", "newer", "upgrade linrec"});
  Expected<KernelDb> ro = KernelDb::open(path, OpenMode::ReadOnly);
  ASSERT_FALSE(ro.ok());
  EXPECT_TRUE(contains(ro.error(), "schema version 99")) << ro.error();
}

TEST(KernelDbFaults, PathUnderANonDirectoryFallsBackToMemory) {
  // Works for root too, unlike permission bits: nothing can be created under /dev/null.
  const std::string path = "/dev/null/linrec/kernels.db";
  Expected<KernelDb> db = KernelDb::open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(contains(db.error(), "not a directory")) << db.error();
  Expected<KernelDb::Opened> fallback = KernelDb::openOrFallback(path);
  ASSERT_TRUE(fallback.ok()) << fallback.error();
  EXPECT_TRUE(fallback->db.inMemory());
  EXPECT_EQ(fallback->db.path(), ":memory:");
  EXPECT_TRUE(contains(fallback->warning, "not persist")) << fallback->warning;
  ASSERT_TRUE(fallback->db.putKernel(test::sampleKernel(1)).ok());
  EXPECT_TRUE(fallback->db.getKernel(test::sampleKernelKey(1))->has_value());
}

TEST(KernelDbFaults, MissingDirectoryIsNamed) {
  TempDir dir;
  Expected<KernelDb> db = KernelDb::open(dir.file("no/such/dir/k.db"));
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(contains(db.error(), "does not exist")) << db.error();
  EXPECT_TRUE(contains(db.error(), dir.file("no/such/dir"))) << db.error();
}

/// True when permission bits bind this process (not root, no CAP_DAC_OVERRIDE).
bool permissionsApply(const TempDir& dir) {
  std::string probe_dir = dir.file("probe");
  ::mkdir(probe_dir.c_str(), 0555);
  std::string probe = probe_dir + "/x";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
  return fd < 0;
}

TEST(KernelDbFaults, ReadOnlyDirectoryFallsBackToMemory) {
  TempDir dir;
  if (!permissionsApply(dir))
    GTEST_SKIP() << "running with permission override (root): a 0555 directory is still writable here; "
                    "PathUnderANonDirectoryFallsBackToMemory covers the fallback instead";
  std::string ro_dir = dir.file("ro");
  ASSERT_EQ(::mkdir(ro_dir.c_str(), 0555), 0);
  std::string path = ro_dir + "/k.db";
  Expected<KernelDb::Opened> fallback = KernelDb::openOrFallback(path);
  ASSERT_TRUE(fallback.ok()) << fallback.error();
  EXPECT_TRUE(fallback->db.inMemory());
  EXPECT_TRUE(contains(fallback->warning, "not writable")) << fallback->warning;
  EXPECT_FALSE(test::exists(path));

  // An existing DB in a directory that became read-only: WAL needs its side files, so the same applies.
  std::string rw_dir = dir.file("rw");
  ASSERT_EQ(::mkdir(rw_dir.c_str(), 0755), 0);
  makeValidDb(rw_dir + "/k.db");
  ASSERT_EQ(::chmod(rw_dir.c_str(), 0555), 0);
  std::string before = test::readBytes(rw_dir + "/k.db");
  Expected<KernelDb::Opened> again = KernelDb::openOrFallback(rw_dir + "/k.db");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->db.inMemory()) << "opened a DB in a read-only directory for writing";
  EXPECT_EQ(test::readBytes(rw_dir + "/k.db"), before);
}

TEST(KernelDbFaults, ReadOnlyFileIsRefusedForWriting) {
  TempDir dir;
  if (!permissionsApply(dir))
    GTEST_SKIP() << "running with permission override (root): a 0444 file is still writable here";
  std::string path = dir.file("k.db");
  makeValidDb(path);
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  Expected<KernelDb> db = KernelDb::open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(contains(db.error(), "read-only")) << db.error();
}

}  // namespace
}  // namespace linrec::kdb
