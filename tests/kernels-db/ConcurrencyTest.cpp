// Several processes on one kernel DB: one row and one compute per key, no lock errors, and kill -9 safety.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "TestUtil.h"
#include "linrec/kdb/KernelDb.h"

namespace linrec::kdb {
namespace {

using test::TempDir;

void appendLine(const std::string& path, const std::string& line) {
  // O_APPEND makes each short write land whole, whichever process writes.
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string text = line + "\n";
  ssize_t n = ::write(fd, text.data(), text.size());
  (void)n;
  ::close(fd);
}

int childFail(const std::string& what) {
  std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), what.c_str());
  return 1;
}

constexpr int kProcs = 8;
constexpr int kKernelKeys = 6;
constexpr int kTuningKeys = 3;

// One forked worker: every key through getOrCompute, starting at a different key in each process.
int eightProcessWorker(int index, const std::string& path, const std::string& log) {
  Expected<KernelDb> db = KernelDb::open(path);
  if (!db) return childFail("open: " + db.error());
  for (int n = 0; n < kKernelKeys; ++n) {
    int i = (n + index) % kKernelKeys;
    Expected<KernelRecord> r = db->getOrCompute(test::sampleKernelKey(i), [&]() -> Expected<KernelRecord> {
      appendLine(log, "kernel " + std::to_string(i));
      ::usleep(40000);  // a compile takes a while: the others must wait, not compile too
      return test::sampleKernel(i);
    });
    if (!r) return childFail("kernel " + std::to_string(i) + ": " + r.error());
    if (r->cubin != test::sampleKernel(i).cubin) return childFail("kernel " + std::to_string(i) + ": wrong cubin");
  }
  for (int n = 0; n < kTuningKeys; ++n) {
    int i = (n + index) % kTuningKeys;
    Expected<TuningRecord> r = db->getOrComputeTuning(test::sampleTuningKey(i), [&]() -> Expected<TuningRecord> {
      appendLine(log, "tuning " + std::to_string(i));
      ::usleep(40000);
      return test::sampleTuning(i);
    });
    if (!r) return childFail("tuning " + std::to_string(i) + ": " + r.error());
    if (r->config_json != test::sampleTuning(i).config_json) return childFail("wrong tuning record");
  }
  // Plain writes from every process at once as well: each must get through the lock.
  for (int n = 0; n < 10; ++n) {
    TuningRecord own = test::sampleTuning(100 + index * 10 + n);
    if (Status s = db->putTuning(own); !s) return childFail("putTuning: " + s.error());
  }
  return 0;
}

TEST(KernelDbConcurrency, EightProcessesStoreOneRowAndComputeOncePerKey) {
  TempDir dir;
  const std::string path = dir.file("k.db");  // created by the children, racing each other
  const std::string log = dir.file("computed.log");
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }  // EOF when the parent closes its end: all start together
      ::_exit(eightProcessWorker(p, path, log));
    }
    kids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (pid_t pid : kids) EXPECT_EQ(test::reap(pid), 0) << "child " << pid << " failed (its stderr says why)";

  std::map<std::string, int> computed;
  std::istringstream lines(test::readBytes(log));
  for (std::string line; std::getline(lines, line);) ++computed[line];
  EXPECT_EQ(computed.size(), static_cast<size_t>(kKernelKeys + kTuningKeys));
  for (const auto& [key, times] : computed) EXPECT_EQ(times, 1) << key << " was computed " << times << " times";

  Expected<KernelDb> db = KernelDb::open(path);
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(test::countRows(*db, "kernels"), kKernelKeys);
  EXPECT_EQ(test::countRows(*db, "tunings"), kTuningKeys + kProcs * 10);
  EXPECT_EQ(test::countRows(*db, "claims"), 0);
  for (int i = 0; i < kKernelKeys; ++i) EXPECT_TRUE(db->getKernel(test::sampleKernelKey(i))->has_value());
}

// A pipe the child writes one byte to when it has reached the point the parent waits for.
struct Signal {
  int fds[2] = {-1, -1};
  Signal() { EXPECT_EQ(::pipe(fds), 0); }
  ~Signal() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  void notify() const { (void)!::write(fds[1], "x", 1); }
  bool wait() const {
    char c;
    ssize_t n;
    while ((n = ::read(fds[0], &c, 1)) < 0 && errno == EINTR) {
    }
    return n == 1;
  }
};

TEST(KernelDbConcurrency, KillDuringAWriteTransactionLosesNothingAndLeavesNoPartialRow) {
  TempDir dir;
  const std::string path = dir.file("k.db");
  {
    Expected<KernelDb> db = KernelDb::open(path);
    ASSERT_TRUE(db.ok()) << db.error();
    ASSERT_TRUE(db->putKernel(test::sampleKernel(1)).ok());
    ASSERT_TRUE(db->putKernel(test::sampleKernel(2)).ok());
    ASSERT_TRUE(db->putTuning(test::sampleTuning(1)).ok());
  }
  Signal ready;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Expected<KernelDb> db = KernelDb::open(path);
    if (!db) ::_exit(childFail(db.error()));
    Status s = db->writeTransaction([&]() -> Status {
      // Big enough (8 MiB) that SQLite spills uncommitted pages into the WAL before the kill.
      KernelRecord big = test::sampleKernel(3, "sm_90a", 0, 8u << 20);
      Expected<Statement> insert = db->database().prepare(
          "INSERT INTO kernels (source_sha256, nvrtc_version, options, linrec_version, cubin, cubin_sha256, "
          "kernel_names, registers, spill_bytes, smem_bytes, created_at) "
          "VALUES ('partial', '12.8', '[]', '0.1.0', ?1, ?2, '[]', 1, 0, 0, 0)");
      if (!insert) return Error{insert.error()};
      if (Status b = insert->bindBlob(1, big.cubin); !b) return b;
      if (Status b = insert->bind(2, std::string(64, '0')); !b) return b;
      if (Status r = insert->run(); !r) return r;
      // Damage the rows that were there before, too: none of it may survive.
      if (Status r = db->database().exec("UPDATE kernels SET cubin = X'00' WHERE source_sha256 <> 'partial'"); !r)
        return r;
      if (Status r = db->database().exec("DELETE FROM tunings"); !r) return r;
      ready.notify();
      ::sleep(60);
      return Error{"not killed"};
    });
    ::_exit(childFail(s.ok() ? "committed" : s.error()));
  }
  ASSERT_TRUE(ready.wait());
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_EQ(test::reap(pid), 128 + SIGKILL);

  Expected<KernelDb> db = KernelDb::open(path);
  ASSERT_TRUE(db.ok()) << db.error();
  Expected<Statement> check = db->database().prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check->step().ok());
  EXPECT_EQ(check->columnText(0), "ok");
  EXPECT_EQ(test::countRows(*db, "kernels"), 2);
  EXPECT_EQ(test::countRows(*db, "tunings"), 1);
  for (int i : {1, 2}) {
    Expected<std::optional<KernelRecord>> r = db->getKernel(test::sampleKernelKey(i));
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->cubin, test::sampleKernel(i).cubin);
  }
}

TEST(KernelDbConcurrency, AClaimOfAKilledProcessIsTakenOverAtOnce) {
  TempDir dir;
  const std::string path = dir.file("k.db");
  ASSERT_TRUE(KernelDb::open(path).ok());
  const KernelKey key = test::sampleKernelKey(4);
  Signal ready;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Expected<KernelDb> db = KernelDb::open(path);
    if (!db) ::_exit(childFail(db.error()));
    Expected<ClaimState> c = db->claim(key.text(), db->owner(), std::chrono::minutes(5));
    if (!c || *c != ClaimState::Acquired) ::_exit(childFail("no claim"));
    ready.notify();
    ::sleep(60);  // "compiling"
    ::_exit(0);
  }
  ASSERT_TRUE(ready.wait());
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  test::reap(pid);

  Expected<KernelDb> db = KernelDb::open(path);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(test::countRows(*db, "claims"), 1);
  int computed = 0;
  auto start = std::chrono::steady_clock::now();
  Expected<KernelRecord> r = db->getOrCompute(key, [&]() -> Expected<KernelRecord> {
    ++computed;
    return test::sampleKernel(4);
  });
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(computed, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));  // not the 5 minute ttl
  EXPECT_EQ(test::countRows(*db, "claims"), 0);
}

TEST(KernelDbConcurrency, RepeatedKillsDuringWritesLeaveEveryRowValid) {
  TempDir dir;
  const std::string path = dir.file("k.db");  // the first child may be killed while creating it
  for (int round = 0; round < 5; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      Expected<KernelDb> db = KernelDb::open(path);
      if (!db) ::_exit(childFail(db.error()));
      for (int n = 0;; ++n) {
        Status s = db->putKernel(test::sampleKernel(n % 16, "sm_90a", round * 1000 + n, 64u << 10));
        if (s) s = db->putTuning(test::sampleTuning(n % 16, n));
        if (!s) ::_exit(childFail(s.error()));
      }
    }
    ::usleep(static_cast<useconds_t>(20000 + 15000 * round));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_EQ(test::reap(pid), 128 + SIGKILL) << "the writer failed before it was killed";

    Expected<KernelDb> db = KernelDb::open(path);
    ASSERT_TRUE(db.ok()) << "round " << round << ": " << db.error();
    Expected<Statement> check = db->database().prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check->step().ok());
    EXPECT_EQ(check->columnText(0), "ok");
    for (int i = 0; i < 16; ++i) {
      Expected<std::optional<KernelRecord>> r = db->getKernel(test::sampleKernelKey(i));
      EXPECT_TRUE(r.ok()) << "round " << round << ": " << r.error();  // a checksum failure would show here
    }
  }
}

}  // namespace
}  // namespace linrec::kdb
