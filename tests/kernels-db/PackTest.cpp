// Kernel packs: round trip, atomic writing, refusing non-packs, compatibility messages, importing.
#include <gtest/gtest.h>

#include <filesystem>

#include "TestUtil.h"
#include "linrec/kdb/Pack.h"

namespace linrec::kdb {
namespace {

using test::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

PackManifest sampleManifest() {
  PackManifest m;
  m.linrec_version = "0.1.0";
  m.nvrtc_version = "12.8";
  m.archs = {"sm_90a"};
  m.spec_hashes = {"spec0", "spec1"};
  m.created_at = 1700000500;
  return m;
}

std::vector<std::string> dirEntries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

TEST(Pack, WriteThenOpenRoundTrips) {
  TempDir dir;
  std::string path = dir.file("h100.pack");
  std::vector<KernelRecord> kernels = {test::sampleKernel(0), test::sampleKernel(1)};
  std::vector<TuningRecord> tunings = {test::sampleTuning(0), test::sampleTuning(1)};
  Status written = writePack(path, sampleManifest(), kernels, tunings);
  ASSERT_TRUE(written.ok()) << written.error();
  EXPECT_EQ(dirEntries(dir.path()), std::vector<std::string>{"h100.pack"});  // no temp or journal files left

  Expected<Pack> pack = openPack(path);
  ASSERT_TRUE(pack.ok()) << pack.error();
  const PackManifest& m = pack->manifest();
  EXPECT_EQ(m.linrec_version, "0.1.0");
  EXPECT_EQ(m.nvrtc_version, "12.8");
  EXPECT_EQ(m.archs, std::vector<std::string>{"sm_90a"});
  EXPECT_EQ(m.spec_hashes, (std::vector<std::string>{"spec0", "spec1"}));
  EXPECT_EQ(m.created_at, 1700000500);

  Expected<std::vector<KernelRecord>> got = pack->kernels();
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_EQ(got->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*got)[i].key, kernels[i].key);
    EXPECT_EQ((*got)[i].cubin, kernels[i].cubin);
    EXPECT_EQ((*got)[i].kernel_names, kernels[i].kernel_names);
  }
  Expected<std::vector<TuningRecord>> tuned = pack->tunings();
  ASSERT_TRUE(tuned.ok());
  ASSERT_EQ(tuned->size(), 2u);
  EXPECT_EQ((*tuned)[1].config_json, tunings[1].config_json);
  EXPECT_TRUE(pack->getKernel(kernels[1].key)->has_value());
  EXPECT_FALSE(pack->getKernel(test::sampleKernelKey(7))->has_value());
  EXPECT_TRUE(pack->getTuning(tunings[0].key)->has_value());
}

TEST(Pack, AFailureMidwayLeavesNoFileAtThePath) {
  TempDir dir;
  std::string path = dir.file("new.pack");
  // The third kernel is for an arch the manifest does not list: found only after two were written.
  std::vector<KernelRecord> kernels = {test::sampleKernel(0), test::sampleKernel(1), test::sampleKernel(2, "sm_80")};
  Status s = writePack(path, sampleManifest(), kernels);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error(), "targets sm_80, which is not among the manifest's archs (sm_90a)")) << s.error();
  EXPECT_TRUE(dirEntries(dir.path()).empty()) << "left: " << dirEntries(dir.path()).front();

  // And an existing pack survives a failed rewrite.
  std::string existing = dir.file("old.pack");
  ASSERT_TRUE(writePack(existing, sampleManifest(), {test::sampleKernel(5)}).ok());
  std::string before = test::readBytes(existing);
  TuningRecord bad = test::sampleTuning(0);
  bad.candidates_json = "not json";
  EXPECT_FALSE(writePack(existing, sampleManifest(), {test::sampleKernel(6)}, {bad}).ok());
  EXPECT_EQ(test::readBytes(existing), before);
  EXPECT_EQ(dirEntries(dir.path()), std::vector<std::string>{"old.pack"});
}

TEST(Pack, KernelsMustMatchTheManifest) {
  TempDir dir;
  KernelRecord other_nvrtc = test::sampleKernel(0);
  other_nvrtc.key.nvrtc_version = "12.4";
  Status s = writePack(dir.file("a.pack"), sampleManifest(), {other_nvrtc});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error(), "NVRTC 12.4, the manifest says 12.8")) << s.error();

  KernelRecord no_arch = test::sampleKernel(0);
  no_arch.key.options = {"-std=c++17"};
  s = writePack(dir.file("a.pack"), sampleManifest(), {no_arch});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error(), "name no arch")) << s.error();

  TuningRecord foreign_spec = test::sampleTuning(7);  // spec7 is not in the manifest
  s = writePack(dir.file("a.pack"), sampleManifest(), {}, {foreign_spec});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error(), "spec7")) << s.error();

  PackManifest bad_arch = sampleManifest();
  bad_arch.archs = {"hopper"};
  s = writePack(dir.file("a.pack"), bad_arch, {});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error(), "'hopper' is not an arch")) << s.error();
  EXPECT_TRUE(dirEntries(dir.path()).empty());
}

TEST(Pack, OpenRefusesWhatIsNotAPack) {
  TempDir dir;
  std::string db_path = dir.file("kernels.db");
  ASSERT_TRUE(KernelDb::open(db_path).ok());
  Expected<Pack> db_as_pack = openPack(db_path);
  ASSERT_FALSE(db_as_pack.ok());
  EXPECT_TRUE(contains(db_as_pack.error(), "is a kernel DB, not a pack")) << db_as_pack.error();

  std::string garbage = dir.file("garbage.pack");
  test::writeBytes(garbage, std::string(4096, '\x5a'));
  Expected<Pack> g = openPack(garbage);
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(contains(g.error(), "not a SQLite database")) << g.error();

  Expected<Pack> missing = openPack(dir.file("missing.pack"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.error(), "does not exist")) << missing.error();
  EXPECT_FALSE(test::exists(dir.file("missing.pack")));

  std::string pack = dir.file("x.pack");
  ASSERT_TRUE(writePack(pack, sampleManifest(), {test::sampleKernel(0)}).ok());
  Expected<KernelDb> pack_as_db = KernelDb::open(pack);
  ASSERT_FALSE(pack_as_db.ok());
  EXPECT_TRUE(contains(pack_as_db.error(), "'LNRP'")) << pack_as_db.error();

  {
    Expected<Database> raw = Database::open(pack);
    ASSERT_TRUE(raw->exec("PRAGMA user_version = 7").ok());
  }
  Expected<Pack> newer = openPack(pack);
  ASSERT_FALSE(newer.ok());
  EXPECT_TRUE(contains(newer.error(), "format version 7, newer")) << newer.error();
}

TEST(Pack, CompatibilityChecksNameEachMismatch) {
  PackManifest m = sampleManifest();
  EXPECT_TRUE(checkCompatible(m, "sm_90", "12.8", "0.1.0").ok());
  EXPECT_TRUE(checkCompatible(m, "sm_90a", "12.6", "0.1.3").ok());  // same NVRTC major, same 0.1 line
  EXPECT_TRUE(checkCompatible(m, "sm_90", "", "0.1.0").ok());       // no NVRTC on this machine

  m.archs = {"sm_80"};
  Status arch = checkCompatible(m, "sm_90", "12.8", "0.1.0");
  ASSERT_FALSE(arch.ok());
  EXPECT_TRUE(contains(arch.error(), "pack targets sm_80, this GPU is sm_90; rebuild with --arch sm_90"))
      << arch.error();
  EXPECT_FALSE(checkCompatible(m, "sm_86", "12.8", "0.1.0").ok());

  m.linrec_version = "0.2.0";
  m.nvrtc_version = "11.8";
  Status all = checkCompatible(m, "sm_90", "12.8", "0.1.0");
  ASSERT_FALSE(all.ok());
  EXPECT_TRUE(contains(all.error(), "pack targets sm_80, this GPU is sm_90")) << all.error();
  EXPECT_TRUE(contains(all.error(), "linrec 0.2.0, this is linrec 0.1.0")) << all.error();
  EXPECT_TRUE(contains(all.error(), "NVRTC 11.8, this machine has NVRTC 12.8")) << all.error();

  PackManifest v1 = sampleManifest();
  v1.linrec_version = "1.4.0";
  EXPECT_TRUE(checkCompatible(v1, "sm_90", "12.8", "1.2.0").ok());  // from 1.0 on only the major counts
  EXPECT_FALSE(checkCompatible(v1, "sm_90", "12.8", "2.0.0").ok());
}

TEST(Pack, ImportKeepsWhatTheDbAlreadyHas) {
  TempDir dir;
  std::string pack_path = dir.file("p.pack");
  ASSERT_TRUE(writePack(pack_path, sampleManifest(), {test::sampleKernel(0, "sm_90a", 7), test::sampleKernel(1)},
                        {test::sampleTuning(0, 7), test::sampleTuning(1)})
                  .ok());
  Expected<KernelDb> db = KernelDb::open(dir.file("k.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->putKernel(test::sampleKernel(0)).ok());
  ASSERT_TRUE(db->putTuning(test::sampleTuning(0)).ok());

  Expected<Pack> pack = openPack(pack_path);
  ASSERT_TRUE(pack.ok()) << pack.error();
  Expected<PackImport> imported = importPack(*db, *pack);
  ASSERT_TRUE(imported.ok()) << imported.error();
  EXPECT_EQ(imported->kernels_added, 1);
  EXPECT_EQ(imported->kernels_present, 1);
  EXPECT_EQ(imported->tunings_added, 1);
  EXPECT_EQ(imported->tunings_present, 1);
  EXPECT_EQ((*db->getKernel(test::sampleKernelKey(0)))->cubin, test::sampleKernel(0).cubin);
  EXPECT_EQ((*db->getTuning(test::sampleTuningKey(0)))->config_json, test::sampleTuning(0).config_json);
  EXPECT_TRUE(db->getKernel(test::sampleKernelKey(1))->has_value());
  EXPECT_TRUE(db->getTuning(test::sampleTuningKey(1))->has_value());
}

}  // namespace
}  // namespace linrec::kdb
