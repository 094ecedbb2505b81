// Kernel DB schema v2: migrating a v1 file in place, the kernel index (upserts, foreign key, cascade),
// and format-2 packs (index round trip, import, atomic write when an entry is bad).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "TunerTestUtil.h"
#include "linrec/kdb/KernelDb.h"
#include "linrec/kdb/KernelIndex.h"
#include "linrec/kdb/Pack.h"

namespace linrec::kdb {
namespace {

using tuner::test::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The version-1 schema exactly as kernels-db/README.md documents it (what files written by linrec 0.1.0
// before the index existed contain).
const char* kV1Schema = R"sql(
CREATE TABLE kernels (
  id INTEGER PRIMARY KEY, source_sha256 TEXT NOT NULL, nvrtc_version TEXT NOT NULL, options TEXT NOT NULL,
  linrec_version TEXT NOT NULL, cubin BLOB NOT NULL CHECK (length(cubin) > 0),
  cubin_sha256 TEXT NOT NULL CHECK (length(cubin_sha256) = 64), kernel_names TEXT NOT NULL,
  registers INTEGER NOT NULL CHECK (registers >= 0), spill_bytes INTEGER NOT NULL CHECK (spill_bytes >= 0),
  smem_bytes INTEGER NOT NULL CHECK (smem_bytes >= 0), created_at INTEGER NOT NULL,
  UNIQUE (source_sha256, nvrtc_version, options, linrec_version));
CREATE TABLE tunings (
  id INTEGER PRIMARY KEY, spec_hash TEXT NOT NULL, gpu_name TEXT NOT NULL, cc_major INTEGER NOT NULL,
  cc_minor INTEGER NOT NULL, sm_count INTEGER NOT NULL, driver_version INTEGER NOT NULL, dtype TEXT NOT NULL,
  key_dim INTEGER NOT NULL CHECK (key_dim > 0), value_dim INTEGER NOT NULL CHECK (value_dim > 0),
  bh_bucket INTEGER NOT NULL CHECK (bh_bucket > 0), t_bucket INTEGER NOT NULL CHECK (t_bucket > 0),
  mode TEXT NOT NULL CHECK (mode IN ('fwd', 'bwd', 'decode')), config TEXT NOT NULL, candidates TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (spec_hash, gpu_name, cc_major, cc_minor, sm_count, driver_version, dtype, key_dim, value_dim,
          bh_bucket, t_bucket, mode));
CREATE TABLE claims (
  key_text TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
  claimed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
)sql";

KernelRecord kernel(int i, const std::string& arch = "sm_90") {
  KernelRecord r;
  r.key.source_sha256 = std::string(60, 'c') + std::to_string(1000 + i);
  r.key.nvrtc_version = "13.0";
  r.key.options = {"-std=c++17", "--gpu-architecture=" + arch};
  r.key.linrec_version = "0.1.0+h0123456789ab";
  std::string bytes = "cubin-" + std::to_string(i) + "-" + arch;
  r.cubin.assign(bytes.begin(), bytes.end());
  r.kernel_names = {"linrec_fwd_" + std::to_string(i)};
  return r;
}

IndexEntry indexFor(const KernelRecord& k, int chunk, bool is_default, const std::string& arch = "sm_90") {
  IndexEntry e;
  e.spec_hash = "spec-a";
  e.variant = "gla";
  e.key_dim = 128;
  e.value_dim = 128;
  e.dtype = "bf16";
  e.mode = TuningMode::Forward;
  KernelConfig c;
  c.chunk = chunk;
  e.config_json = c.toJson();
  e.arch = arch;
  e.is_default = is_default;
  e.kernel = k.key;
  e.descriptor_json = R"({"name":"gla"})";
  return e;
}

PackManifest manifest() {
  PackManifest m;
  m.linrec_version = "0.1.0+h0123456789ab";
  m.nvrtc_version = "13.0";
  m.archs = {"sm_90"};
  m.spec_hashes = {"spec-a"};
  return m;
}

TEST(KernelDbSchema, AVersion1FileIsMigratedInPlaceKeepingItsRows) {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    Expected<Database> raw = Database::open(path);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw->exec(kV1Schema).ok());
    ASSERT_TRUE(
        raw->exec("PRAGMA application_id = " + std::to_string(kKernelDbApplicationId) + "; PRAGMA user_version = 1")
            .ok());
    ASSERT_TRUE(raw->exec("INSERT INTO kernels (source_sha256, nvrtc_version, options, linrec_version, cubin, "
                          "cubin_sha256, kernel_names, registers, spill_bytes, smem_bytes, created_at) VALUES "
                          "('s', '12.8', '[\"--gpu-architecture=sm_90\"]', '0.1.0', x'00ff', "
                          "'3ec3d0e4e0e4d3a8ce52d92d43b6c0fbb6e8b4d3e0f1dc6a6b01d0a0a0cdcf5c', '[]', 1, 0, 0, 1)")
                    .ok());
  }
  // A read-only open never migrates: it says what to do instead.
  Expected<KernelDb> ro = KernelDb::open(path, OpenMode::ReadOnly);
  ASSERT_FALSE(ro.ok());
  EXPECT_TRUE(contains(ro.error(), "schema version 1")) << ro.error();

  Expected<KernelDb> db = KernelDb::open(path);
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(*db->database().queryInt("PRAGMA user_version"), 2);
  EXPECT_EQ(kKernelDbSchemaVersion, 2);
  EXPECT_EQ(*db->database().queryInt("SELECT count(*) FROM kernels"), 1);
  EXPECT_EQ(*db->database().queryInt("SELECT count(*) FROM sqlite_master WHERE name = 'kernel_index'"), 1);
  KernelRecord k = kernel(1);
  ASSERT_TRUE(db->putIndexedKernel(k, {indexFor(k, 64, true)}).ok());
  EXPECT_EQ(db->indexEntries()->size(), 1u);
  // Opening again (now v2) changes nothing.
  Expected<KernelDb> again = KernelDb::open(path, OpenMode::ReadOnly);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->indexEntries()->size(), 1u);
}

TEST(KernelDbSchema, IndexEntriesRoundTripAndUpsert) {
  Expected<KernelDb> db = KernelDb::openInMemory();
  ASSERT_TRUE(db.ok());
  KernelRecord k1 = kernel(1), k2 = kernel(2);
  IndexEntry def = indexFor(k1, 64, true);
  def.config_json = R"({"strategy":"fused","warps":4,"stages":2,"chunk":64,"block_v":64,"block_k":128})";
  ASSERT_TRUE(db->putIndexedKernel(k1, {def}).ok());
  auto got = db->indexEntries("spec-a");
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_EQ(got->size(), 1u);
  const IndexEntry& e = (*got)[0];
  EXPECT_EQ(e.config_json, KernelConfig{}.toJson());  // stored canonical
  EXPECT_EQ(e.kernel, k1.key);
  EXPECT_TRUE(e.is_default);
  EXPECT_EQ(e.descriptor_json, def.descriptor_json);
  EXPECT_EQ(e.variant, "gla");
  // The same config again, tuned, from another kernel: one row, pointed at the new kernel, still default.
  IndexEntry tuned = indexFor(k2, 64, false);
  ASSERT_TRUE(db->putIndexedKernel(k2, {tuned}).ok());
  got = db->indexEntries();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].kernel, k2.key);
  EXPECT_TRUE((*got)[0].is_default);
  EXPECT_TRUE(db->indexEntries("other-spec")->empty());
}

TEST(KernelDbSchema, IndexEntriesNeedTheirKernelAndGoWithIt) {
  Expected<KernelDb> db = KernelDb::openInMemory();
  ASSERT_TRUE(db.ok());
  KernelRecord k1 = kernel(1), k2 = kernel(2);
  // An entry naming another kernel than the one stored with it is refused before anything is written.
  Status mismatched = db->putIndexedKernel(k1, {indexFor(k2, 64, true)});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_TRUE(contains(mismatched.error(), "not the one stored with it")) << mismatched.error();
  EXPECT_EQ(*db->database().queryInt("SELECT count(*) FROM kernels"), 0);
  // The foreign key: a bare entry for a missing kernel cannot exist.
  Status fk = db->database().exec(
      "INSERT INTO kernel_index (spec_hash, variant, key_dim, value_dim, dtype, mode, config, arch, is_default, "
      "source_sha256, nvrtc_version, options, linrec_version, descriptor, created_at) VALUES ('s', 'v', 1, 1, "
      "'bf16', 'fwd', '{}', 'sm_90', 0, 'missing', '13.0', '[]', '0.1.0', '{}', 1)");
  EXPECT_FALSE(fk.ok());
  // Deleting a kernel takes its entries along.
  ASSERT_TRUE(db->putIndexedKernel(k1, {indexFor(k1, 64, true), indexFor(k1, 32, false)}).ok());
  ASSERT_EQ(db->indexEntries()->size(), 2u);
  ASSERT_TRUE(db->deleteKernel(k1.key).ok());
  EXPECT_TRUE(db->indexEntries()->empty());
}

TEST(KernelDbSchema, InvalidIndexEntriesAreRefused) {
  Expected<KernelDb> db = KernelDb::openInMemory();
  ASSERT_TRUE(db.ok());
  KernelRecord k = kernel(1);
  IndexEntry bad = indexFor(k, 64, true);
  bad.config_json = R"({"chunk":64})";
  Status s = db->putIndexedKernel(k, {bad});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error(), "block_k")) << s.error();
  bad = indexFor(k, 64, true);
  bad.descriptor_json = "not json";
  EXPECT_FALSE(db->putIndexedKernel(k, {bad}).ok());
  // The failed transaction left nothing, not even the kernel.
  EXPECT_EQ(*db->database().queryInt("SELECT count(*) FROM kernels"), 0);
}

TEST(KernelDbSchema, ConnectionsWritingIndexedKernelsAtOnceLoseNothing) {
  // Several tuning runs (threads here, processes in practice) storing into one DB file at the same time.
  TempDir dir;
  const std::string path = dir.file("shared.db");
  ASSERT_TRUE(KernelDb::open(path).ok());
  constexpr int kWriters = 4, kEach = 10;
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Expected<KernelDb> db = KernelDb::open(path);  // one connection per thread
      if (!db) {
        ++failures;
        return;
      }
      for (int i = 0; i < kEach; ++i) {
        KernelRecord k = kernel(w * 100 + i);
        if (!db->putIndexedKernel(k, {indexFor(k, 16 << (i % 4), i == 0)}).ok()) ++failures;
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  Expected<KernelDb> db = KernelDb::open(path, OpenMode::ReadOnly);
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(*db->database().queryInt("SELECT count(*) FROM kernels"), kWriters * kEach);
  // Entries share (spec, config, arch): the UPSERT keeps one row per config, pointing at the last writer's kernel.
  auto entries = db->indexEntries();
  ASSERT_TRUE(entries.ok()) << entries.error();
  EXPECT_EQ(entries->size(), 4u);
}

TEST(PackFormat2, TheIndexRoundTripsAndImports) {
  TempDir dir;
  const std::string path = dir.file("x.pack");
  KernelRecord k1 = kernel(1), k2 = kernel(2);
  std::vector<IndexEntry> index = {indexFor(k1, 64, true), indexFor(k2, 32, false)};
  ASSERT_TRUE(writePack(path, manifest(), {k1, k2}, {}, index).ok());
  Expected<Pack> pack = openPack(path);
  ASSERT_TRUE(pack.ok()) << pack.error();
  EXPECT_EQ(pack->formatVersion(), kPackFormatVersion);
  auto got = pack->index();
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[1].kernel, k2.key);
  EXPECT_FALSE((*got)[1].is_default);

  Expected<KernelDb> db = KernelDb::openInMemory();
  ASSERT_TRUE(db.ok());
  auto imported = importPack(*db, *pack);
  ASSERT_TRUE(imported.ok()) << imported.error();
  EXPECT_EQ(imported->index_added, 2);
  EXPECT_EQ(imported->kernels_added, 2);
  auto again = importPack(*db, *pack);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->index_present, 2);
  EXPECT_EQ(db->indexEntries()->size(), 2u);
}

TEST(PackFormat2, ABadIndexEntryLeavesThePreviousPackUntouched) {
  TempDir dir;
  const std::string path = dir.file("x.pack");
  KernelRecord k1 = kernel(1), k2 = kernel(2);
  ASSERT_TRUE(writePack(path, manifest(), {k1}, {}, {indexFor(k1, 64, true)}).ok());
  const std::string before = tuner::test::readBytes(path);
  // Names k2, which is not in the pack: refused, and the old pack stays byte for byte.
  Status s = writePack(path, manifest(), {k1}, {}, {indexFor(k1, 64, true), indexFor(k2, 32, false)});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error(), "not in the pack")) << s.error();
  EXPECT_EQ(tuner::test::readBytes(path), before);
  EXPECT_EQ(tuner::test::dirEntries(dir.path()), std::vector<std::string>{"x.pack"});
  // An entry for a spec the manifest does not list is refused too.
  IndexEntry stray = indexFor(k1, 32, false);
  stray.spec_hash = "spec-b";
  EXPECT_FALSE(writePack(path, manifest(), {k1}, {}, {stray}).ok());
  EXPECT_EQ(tuner::test::readBytes(path), before);
}

TEST(PackFormat2, FormatOnePacksStillOpenWithAnEmptyIndex) {
  TempDir dir;
  const std::string path = dir.file("old.pack");
  ASSERT_TRUE(writePack(path, manifest(), {kernel(1)}).ok());
  {
    // Turn it into what linrec 0.1.0 wrote: no index table, format 1.
    Expected<Database> raw = Database::open(path);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw->exec("DROP TABLE kernel_index; PRAGMA user_version = 1").ok());
  }
  Expected<Pack> pack = openPack(path);
  ASSERT_TRUE(pack.ok()) << pack.error();
  EXPECT_EQ(pack->formatVersion(), 1);
  EXPECT_TRUE(pack->index()->empty());
  EXPECT_EQ(pack->kernels()->size(), 1u);
  {
    Expected<Database> raw = Database::open(path);
    ASSERT_TRUE(raw->exec("PRAGMA user_version = 2").ok());  // claims format 2 without the table
  }
  Expected<Pack> broken = openPack(path);
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(contains(broken.error(), "kernel_index")) << broken.error();
}

}  // namespace
}  // namespace linrec::kdb
