// Tests of KernelDb in one process: schema, keys, round trips, upserts, checksums, claims, getOrCompute.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "TestUtil.h"
#include "linrec/kdb/KernelDb.h"

namespace linrec::kdb {
namespace {

using test::TempDir;

KernelDb openOk(const std::string& path, OpenMode mode = OpenMode::ReadWrite) {
  Expected<KernelDb> db = KernelDb::open(path, mode);
  EXPECT_TRUE(db.ok()) << (db ? "" : db.error());
  return std::move(*db);
}

TEST(KernelDb, CreatesTheSchemaWithVersionAndApplicationId) {
  TempDir dir;
  KernelDb db = openOk(dir.file("k.db"));
  Database& raw = db.database();
  EXPECT_EQ(*raw.queryInt("PRAGMA application_id"), kKernelDbApplicationId);
  EXPECT_EQ(*raw.queryInt("PRAGMA user_version"), kKernelDbSchemaVersion);
  EXPECT_EQ(*raw.queryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                          "('kernels', 'tunings', 'claims')"),
            3);
  Expected<Statement> mode = raw.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode->step().ok());
  EXPECT_EQ(mode->columnText(0), "wal");
  EXPECT_EQ(*raw.queryInt("PRAGMA busy_timeout"), 10000);
  EXPECT_EQ(*raw.queryInt("PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(*raw.queryInt("PRAGMA foreign_keys"), 1);
  EXPECT_FALSE(db.inMemory());
}

TEST(KernelDb, MigratesAFileThatHasOurIdButNoSchemaYet) {
  TempDir dir;
  std::string path = dir.file("k.db");
  {
    Expected<Database> raw = Database::open(path);
    ASSERT_TRUE(raw->exec("PRAGMA application_id = " + std::to_string(kKernelDbApplicationId)).ok());
  }
  KernelDb db = openOk(path);
  EXPECT_EQ(*db.database().queryInt("PRAGMA user_version"), kKernelDbSchemaVersion);
  EXPECT_TRUE(db.putKernel(test::sampleKernel(1)).ok());
}

TEST(KernelDb, DataSurvivesReopening) {
  TempDir dir;
  std::string path = dir.file("k.db");
  ASSERT_TRUE(openOk(path).putKernel(test::sampleKernel(3)).ok());
  KernelDb db = openOk(path);
  Expected<std::optional<KernelRecord>> got = db.getKernel(test::sampleKernelKey(3));
  ASSERT_TRUE(got.ok() && got->has_value());
}

TEST(KernelDb, BucketOfIsTheNextPowerOfTwo) {
  EXPECT_EQ(bucketOf(-5), 1);
  EXPECT_EQ(bucketOf(0), 1);
  EXPECT_EQ(bucketOf(1), 1);
  EXPECT_EQ(bucketOf(2), 2);
  EXPECT_EQ(bucketOf(3), 4);
  EXPECT_EQ(bucketOf(1000), 1024);
  EXPECT_EQ(bucketOf(1024), 1024);
  EXPECT_EQ(bucketOf(1025), 2048);
  TuningKey k = TuningKey::forShape("h", test::sampleGpu(), "bf16", 128, 64, 48, 5000, TuningMode::Decode);
  EXPECT_EQ(k.bh_bucket, 64);
  EXPECT_EQ(k.t_bucket, 8192);
  EXPECT_EQ(k.key_dim, 128);
  EXPECT_EQ(k.value_dim, 64);
}

TEST(KernelDb, TuningModeNamesRoundTrip) {
  for (TuningMode m : {TuningMode::Forward, TuningMode::Backward, TuningMode::Decode})
    EXPECT_EQ(*parseTuningMode(tuningModeName(m)), m);
  EXPECT_FALSE(parseTuningMode("forward").ok());
}

TEST(KernelDb, KernelKeysDifferInEveryField) {
  KernelKey base = test::sampleKernelKey(0);
  std::vector<KernelKey> keys = {base};
  auto vary = [&](auto change) {
    KernelKey k = base;
    change(k);
    keys.push_back(k);
  };
  vary([](KernelKey& k) { k.source_sha256[0] = 'b'; });
  vary([](KernelKey& k) { k.nvrtc_version = "12.9"; });
  vary([](KernelKey& k) { k.options[0] = "--gpu-architecture=sm_80"; });
  vary([](KernelKey& k) { std::swap(k.options[1], k.options[2]); });                          // order matters to NVRTC
  vary([](KernelKey& k) { k.options = {k.options[0] + " " + k.options[1], k.options[2]}; });  // no joining
  vary([](KernelKey& k) { k.options.push_back("-lineinfo"); });
  vary([](KernelKey& k) { k.linrec_version = "0.1.1"; });

  std::set<std::string> texts;
  for (const KernelKey& k : keys) texts.insert(k.text());
  EXPECT_EQ(texts.size(), keys.size());

  TempDir dir;
  KernelDb db = openOk(dir.file("k.db"));
  for (size_t i = 0; i < keys.size(); ++i) {
    KernelRecord r = test::sampleKernel(0, "sm_90a", static_cast<int>(i));
    r.key = keys[i];
    ASSERT_TRUE(db.putKernel(r).ok());
  }
  EXPECT_EQ(test::countRows(db, "kernels"), static_cast<int64_t>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    Expected<std::optional<KernelRecord>> got = db.getKernel(keys[i]);
    ASSERT_TRUE(got.ok() && got->has_value()) << i;
    EXPECT_EQ((*got)->cubin, test::sampleKernel(0, "sm_90a", static_cast<int>(i)).cubin) << i;
    EXPECT_EQ((*got)->key, keys[i]);
  }
}

TEST(KernelDb, TuningKeysDifferInEveryField) {
  TuningKey base = test::sampleTuningKey(0);
  std::vector<TuningKey> keys = {base};
  auto vary = [&](auto change) {
    TuningKey k = base;
    change(k);
    keys.push_back(k);
  };
  vary([](TuningKey& k) { k.spec_hash = "other"; });
  vary([](TuningKey& k) { k.gpu.name = "NVIDIA H200"; });
  vary([](TuningKey& k) { k.gpu.cc_major = 10; });
  vary([](TuningKey& k) { k.gpu.cc_minor = 1; });
  vary([](TuningKey& k) { k.gpu.sm_count = 114; });
  vary([](TuningKey& k) { k.gpu.driver_version = 13000; });
  vary([](TuningKey& k) { k.dtype = "fp16"; });
  vary([](TuningKey& k) { k.key_dim = 64; });
  vary([](TuningKey& k) { k.value_dim = 256; });
  vary([](TuningKey& k) { k.bh_bucket = 128; });
  vary([](TuningKey& k) { k.t_bucket = 8192; });
  vary([](TuningKey& k) { k.mode = TuningMode::Backward; });
  vary([](TuningKey& k) { k.mode = TuningMode::Decode; });

  std::set<std::string> texts;
  for (const TuningKey& k : keys) texts.insert(k.text());
  EXPECT_EQ(texts.size(), keys.size());

  TempDir dir;
  KernelDb db = openOk(dir.file("k.db"));
  for (size_t i = 0; i < keys.size(); ++i) {
    TuningRecord r = test::sampleTuning(0, static_cast<int>(i));
    r.key = keys[i];
    ASSERT_TRUE(db.putTuning(r).ok());
  }
  EXPECT_EQ(test::countRows(db, "tunings"), static_cast<int64_t>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    Expected<std::optional<TuningRecord>> got = db.getTuning(keys[i]);
    ASSERT_TRUE(got.ok() && got->has_value()) << i;
    EXPECT_EQ((*got)->config_json, test::sampleTuning(0, static_cast<int>(i)).config_json) << i;
    EXPECT_EQ((*got)->key, keys[i]);
  }
}

TEST(KernelDb, KernelRoundTripKeepsEveryField) {
  Expected<KernelDb> db = KernelDb::openInMemory();
  ASSERT_TRUE(db.ok()) << db.error();
  KernelRecord in = test::sampleKernel(7);
  in.cubin.push_back('\0');  // binary-safe
  ASSERT_TRUE(db->putKernel(in).ok());
  Expected<std::optional<KernelRecord>> out = db->getKernel(in.key);
  ASSERT_TRUE(out.ok()) << out.error();
  ASSERT_TRUE(out->has_value());
  const KernelRecord& r = **out;
  EXPECT_EQ(r.key, in.key);
  EXPECT_EQ(r.cubin, in.cubin);
  EXPECT_EQ(r.kernel_names, in.kernel_names);
  EXPECT_EQ(r.registers, in.registers);
  EXPECT_EQ(r.spill_bytes, in.spill_bytes);
  EXPECT_EQ(r.smem_bytes, in.smem_bytes);
  EXPECT_EQ(r.created_at, in.created_at);
  EXPECT_EQ(r.cubin_sha256.size(), 64u);

  Expected<std::optional<KernelRecord>> missing = db->getKernel(test::sampleKernelKey(8));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(db->deleteKernel(in.key).ok());
  EXPECT_FALSE(db->getKernel(in.key)->has_value());
}

TEST(KernelDb, TuningRoundTripKeepsEveryField) {
  Expected<KernelDb> db = KernelDb::openInMemory();
  TuningRecord in = test::sampleTuning(2);
  ASSERT_TRUE(db->putTuning(in).ok());
  Expected<std::optional<TuningRecord>> out = db->getTuning(in.key);
  ASSERT_TRUE(out.ok() && out->has_value());
  EXPECT_EQ((*out)->key, in.key);
  EXPECT_EQ((*out)->config_json, in.config_json);
  EXPECT_EQ((*out)->candidates_json, in.candidates_json);
  EXPECT_EQ((*out)->created_at, in.created_at);
  ASSERT_TRUE(db->deleteTuning(in.key).ok());
  EXPECT_FALSE(db->getTuning(in.key)->has_value());
}

TEST(KernelDb, UpsertKeepsOneRowPerKey) {
  Expected<KernelDb> db = KernelDb::openInMemory();
  ASSERT_TRUE(db->putKernel(test::sampleKernel(1, "sm_90a", 0)).ok());
  KernelRecord second = test::sampleKernel(1, "sm_90a", 5);
  second.registers = 200;
  second.created_at = 0;  // "now"
  ASSERT_TRUE(db->putKernel(second).ok());
  EXPECT_EQ(test::countRows(*db, "kernels"), 1);
  KernelRecord got = **db->getKernel(second.key);
  EXPECT_EQ(got.cubin, second.cubin);
  EXPECT_EQ(got.registers, 200);
  EXPECT_GT(got.created_at, 1700000000);

  ASSERT_TRUE(db->putTuning(test::sampleTuning(1, 0)).ok());
  ASSERT_TRUE(db->putTuning(test::sampleTuning(1, 9)).ok());
  EXPECT_EQ(test::countRows(*db, "tunings"), 1);
  EXPECT_EQ((*db->getTuning(test::sampleTuningKey(1)))->config_json, test::sampleTuning(1, 9).config_json);
}

TEST(KernelDb, ChecksumMismatchIsAnErrorAndTheRowIsNotReplaced) {
  TempDir dir;
  KernelDb db = openOk(dir.file("k.db"));
  KernelRecord r = test::sampleKernel(4);
  ASSERT_TRUE(db.putKernel(r).ok());
  // Flip one byte of the stored cubin behind the API's back.
  // (|| yields text, whose length() stops at the NUL; the cast keeps every byte.)
  Status damaged = db.database().exec("UPDATE kernels SET cubin = CAST(X'00' || substr(cubin, 2) AS BLOB)");
  ASSERT_TRUE(damaged.ok()) << damaged.error();
  ASSERT_EQ(*db.database().queryInt("SELECT length(cubin) FROM kernels"), static_cast<int64_t>(r.cubin.size()));
  Expected<std::optional<KernelRecord>> got = db.getKernel(r.key);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().find("checksum"), std::string::npos) << got.error();
  EXPECT_NE(got.error().find(r.key.text()), std::string::npos) << got.error();

  int computed = 0;
  Expected<KernelRecord> again = db.getOrCompute(r.key, [&]() -> Expected<KernelRecord> {
    ++computed;
    return test::sampleKernel(4);
  });
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(computed, 0);
  EXPECT_EQ(test::countRows(db, "kernels"), 1);
  EXPECT_EQ(*db.database().queryInt("SELECT hex(substr(cubin, 1, 1)) = '00' FROM kernels"), 1);  // still damaged
  EXPECT_EQ(test::countRows(db, "claims"), 0);
}

TEST(KernelDb, InvalidRecordsAreRefused) {
  Expected<KernelDb> db = KernelDb::openInMemory();
  KernelRecord empty = test::sampleKernel(1);
  empty.cubin.clear();
  EXPECT_FALSE(db->putKernel(empty).ok());
  KernelRecord no_options = test::sampleKernel(1);
  no_options.key.options.clear();
  EXPECT_FALSE(db->putKernel(no_options).ok());

  TuningRecord bad_json = test::sampleTuning(1);
  bad_json.config_json = "{chunk: 64";
  Status s = db->putTuning(bad_json);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("config is not a JSON object"), std::string::npos) << s.error();
  TuningRecord bad_bucket = test::sampleTuning(1);
  bad_bucket.key.t_bucket = 1000;
  EXPECT_FALSE(db->putTuning(bad_bucket).ok());
  EXPECT_EQ(test::countRows(*db, "kernels") + test::countRows(*db, "tunings"), 0);
}

TEST(KernelDb, ClaimsAreExclusiveAndReleasedOnlyByTheirOwner) {
  TempDir dir;
  KernelDb db = openOk(dir.file("k.db"));
  auto ttl = std::chrono::minutes(5);
  EXPECT_EQ(*db.claim("key", "alice", ttl), ClaimState::Acquired);
  EXPECT_EQ(*db.claim("key", "alice", ttl), ClaimState::Acquired);  // refresh
  EXPECT_EQ(*db.claim("key", "bob", ttl), ClaimState::HeldByOther);
  ASSERT_TRUE(db.release("key", "bob").ok());  // not bob's: no effect
  EXPECT_EQ(*db.claim("key", "bob", ttl), ClaimState::HeldByOther);
  ASSERT_TRUE(db.release("key", "alice").ok());
  EXPECT_EQ(*db.claim("key", "bob", ttl), ClaimState::Acquired);
  EXPECT_EQ(*db.claim("other", "alice", ttl), ClaimState::Acquired);
}

TEST(KernelDb, StaleClaimsAreTakenOver) {
  TempDir dir;
  KernelDb db = openOk(dir.file("k.db"));
  // Expired ttl.
  EXPECT_EQ(*db.claim("expired", "alice", std::chrono::milliseconds(-1)), ClaimState::Acquired);
  EXPECT_EQ(*db.claim("expired", "bob", std::chrono::minutes(5)), ClaimState::Acquired);

  // Owner process gone (a reaped child's pid), ttl still far away.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_EQ(test::reap(child), 0);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  Expected<Statement> insert = db.database().prepare(
      "INSERT INTO claims (key_text, owner, host, pid, claimed_at, expires_at) VALUES ('dead', 'ghost', ?1, ?2, 0, "
      "?3)");
  ASSERT_TRUE(insert->bindAll(std::string(host), static_cast<int64_t>(child), int64_t{1} << 50).ok());
  ASSERT_TRUE(insert->run().ok());
  EXPECT_EQ(*db.claim("dead", "bob", std::chrono::minutes(5)), ClaimState::Acquired);

  // Same dead pid on another host proves nothing: only the ttl counts there.
  ASSERT_TRUE(db.database()
                  .exec("INSERT INTO claims VALUES ('remote', 'ghost', 'elsewhere', " + std::to_string(child) +
                        ", 0, " + std::to_string(int64_t{1} << 50) + ")")
                  .ok());
  EXPECT_EQ(*db.claim("remote", "bob", std::chrono::minutes(5)), ClaimState::HeldByOther);
}

TEST(KernelDb, GetOrComputeComputesOnceAndReleasesItsClaim) {
  TempDir dir;
  KernelDb db = openOk(dir.file("k.db"));
  int computed = 0;
  auto compute = [&]() -> Expected<KernelRecord> {
    ++computed;
    KernelRecord r = test::sampleKernel(9);
    r.key = test::sampleKernelKey(1000);  // overwritten with the requested key
    return r;
  };
  Expected<KernelRecord> first = db.getOrCompute(test::sampleKernelKey(9), compute);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->key, test::sampleKernelKey(9));
  EXPECT_EQ(first->cubin_sha256.size(), 64u);
  Expected<KernelRecord> second = db.getOrCompute(test::sampleKernelKey(9), compute);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->cubin, first->cubin);
  EXPECT_EQ(second->cubin_sha256, first->cubin_sha256);
  EXPECT_EQ(computed, 1);
  EXPECT_EQ(test::countRows(db, "claims"), 0);

  int tuned = 0;
  auto tune = [&]() -> Expected<TuningRecord> {
    ++tuned;
    return test::sampleTuning(3);
  };
  ASSERT_TRUE(db.getOrComputeTuning(test::sampleTuningKey(3), tune).ok());
  ASSERT_TRUE(db.getOrComputeTuning(test::sampleTuningKey(3), tune).ok());
  EXPECT_EQ(tuned, 1);
}

TEST(KernelDb, GetOrComputePassesErrorsOnAndReleasesItsClaim) {
  Expected<KernelDb> db = KernelDb::openInMemory();
  Expected<KernelRecord> r = db->getOrCompute(
      test::sampleKernelKey(1), []() -> Expected<KernelRecord> { return Error{"generated.cu:3: error: boom"}; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "generated.cu:3: error: boom");
  EXPECT_EQ(test::countRows(*db, "claims"), 0);
  EXPECT_EQ(test::countRows(*db, "kernels"), 0);
}

TEST(KernelDb, GetOrComputeWaitsForALiveHolderInsteadOfComputing) {
  TempDir dir;
  std::string path = dir.file("k.db");
  KernelDb holder = openOk(path);
  KernelDb waiter = openOk(path);
  KernelKey key = test::sampleKernelKey(5);
  ASSERT_EQ(*holder.claim(key.text(), holder.owner(), std::chrono::minutes(5)), ClaimState::Acquired);
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_TRUE(holder.putKernel(test::sampleKernel(5)).ok());
    EXPECT_TRUE(holder.release(key.text(), holder.owner()).ok());
  });
  std::atomic<int> computed{0};
  Expected<KernelRecord> got = waiter.getOrCompute(key, [&]() -> Expected<KernelRecord> {
    ++computed;
    return test::sampleKernel(5, "sm_90a", 1);
  });
  finisher.join();
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(computed.load(), 0);
  EXPECT_EQ(got->cubin, test::sampleKernel(5).cubin);
}

TEST(KernelDb, GetOrComputeStopsWaitingAfterMaxWait) {
  TempDir dir;
  std::string path = dir.file("k.db");
  KernelDb holder = openOk(path);
  KernelDb waiter = openOk(path);
  KernelKey key = test::sampleKernelKey(6);
  ASSERT_EQ(*holder.claim(key.text(), holder.owner(), std::chrono::minutes(5)), ClaimState::Acquired);
  ClaimOptions options;
  options.max_wait = std::chrono::milliseconds(100);
  int computed = 0;
  Expected<KernelRecord> got = waiter.getOrCompute(
      key,
      [&]() -> Expected<KernelRecord> {
        ++computed;
        return test::sampleKernel(6);
      },
      options);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(computed, 1);
  EXPECT_EQ(test::countRows(waiter, "kernels"), 1);
  EXPECT_EQ(test::countRows(waiter, "claims"), 1);  // the holder's claim is not ours to drop
}

TEST(KernelDb, ReadOnlyOpenServesHitsAndNeverWrites) {
  TempDir dir;
  std::string path = dir.file("k.db");
  ASSERT_TRUE(openOk(path).putKernel(test::sampleKernel(1)).ok());
  KernelDb db = openOk(path, OpenMode::ReadOnly);
  EXPECT_TRUE(db.readOnly());
  EXPECT_TRUE(db.getKernel(test::sampleKernelKey(1))->has_value());
  Status put = db.putKernel(test::sampleKernel(2));
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.error().find("read-only"), std::string::npos) << put.error();
  int computed = 0;
  Expected<KernelRecord> r = db.getOrCompute(test::sampleKernelKey(2), [&]() -> Expected<KernelRecord> {
    ++computed;
    return test::sampleKernel(2);
  });
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(computed, 1);
  EXPECT_FALSE(db.getKernel(test::sampleKernelKey(2))->has_value());
  EXPECT_FALSE(KernelDb::open(dir.file("missing.db"), OpenMode::ReadOnly).ok());
  EXPECT_FALSE(test::exists(dir.file("missing.db")));
}

TEST(KernelDb, DefaultPathFollowsEnvThenXdgThenHome) {
  TempDir dir;
  auto saved = [](const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
  };
  std::optional<std::string> env = saved("LINREC_KERNEL_DB"), xdg = saved("XDG_CACHE_HOME"), home = saved("HOME");

  ::setenv("LINREC_KERNEL_DB", (dir.path() + "/env/sub/x.db").c_str(), 1);
  EXPECT_EQ(*KernelDb::defaultPath(), dir.path() + "/env/sub/x.db");
  EXPECT_TRUE(test::exists(dir.path() + "/env/sub"));
  ::setenv("LINREC_KERNEL_DB", "", 1);
  ::setenv("XDG_CACHE_HOME", (dir.path() + "/xdg").c_str(), 1);
  EXPECT_EQ(*KernelDb::defaultPath(), dir.path() + "/xdg/linrec/kernels.db");
  EXPECT_TRUE(test::exists(dir.path() + "/xdg/linrec"));
  ::setenv("XDG_CACHE_HOME", "relative", 1);  // ignored, as the XDG spec says
  ::setenv("HOME", (dir.path() + "/home").c_str(), 1);
  EXPECT_EQ(*KernelDb::defaultPath(), dir.path() + "/home/.cache/linrec/kernels.db");
  EXPECT_TRUE(KernelDb::open(*KernelDb::defaultPath()).ok());

  auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v)
      ::setenv(name, v->c_str(), 1);
    else
      ::unsetenv(name);
  };
  restore("LINREC_KERNEL_DB", env);
  restore("XDG_CACHE_HOME", xdg);
  restore("HOME", home);
}

}  // namespace
}  // namespace linrec::kdb
