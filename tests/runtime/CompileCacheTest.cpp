// The disk cache of cubins without a GPU: round trip of a real NVRTC cubin with its ptxas stats, and every
// damaged, foreign or misplaced entry read as a miss, never as a cubin.
#include "linrec/runtime/CompileCache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "linrec/dsl/Sha256.h"

namespace linrec {
namespace {

namespace fs = std::filesystem;

const char* kKernel = R"J(extern "C" __global__ void __launch_bounds__(128) twice(float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] *= 2.f;
}
)J";

class CompileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/linrec-cache-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
    NvrtcOptions o;
    o.arch = "sm_90";
    auto r = compileToCubin(kKernel, o);
    ASSERT_TRUE(r.ok()) << r.error();
    compiled = std::move(*r);
    key = sha256Hex(std::string("key for ") + kKernel);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void write(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  std::string root, key;
  CubinResult compiled;
};

TEST_F(CompileCacheTest, RoundTripKeepsTheCubinAndItsPtxasStats) {
  CompileCache cache(root + "/a/b/nvrtc");  // created on the first store
  EXPECT_FALSE(cache.load(key).has_value());
  Status s = cache.store(key, compiled);
  ASSERT_TRUE(s.ok()) << s.error();
  auto hit = cache.load(key);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->cubin, compiled.cubin);
  EXPECT_EQ(hit->arch, "sm_90");
  EXPECT_EQ(hit->options, compiled.options);
  EXPECT_EQ(hit->log, compiled.log);
  EXPECT_DOUBLE_EQ(hit->compile_ms, compiled.compile_ms);
  ASSERT_EQ(hit->stats.size(), compiled.stats.size());
  for (size_t i = 0; i < hit->stats.size(); ++i) {
    EXPECT_EQ(hit->stats[i].name, compiled.stats[i].name);
    EXPECT_EQ(hit->stats[i].registers, compiled.stats[i].registers);
  }
  // Only the entry is left: the temporary file was renamed, not copied.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(cache.directory())) {
    ++files;
    EXPECT_EQ(e.path().string(), cache.path(key));
  }
  EXPECT_EQ(files, 1u);
  // Storing again (another process compiled the same source) replaces it whole.
  ASSERT_TRUE(cache.store(key, compiled).ok());
  EXPECT_TRUE(cache.load(key).has_value());
}

TEST_F(CompileCacheTest, DamagedOrForeignEntriesAreMisses) {
  CompileCache cache(root);
  ASSERT_TRUE(cache.store(key, compiled).ok());
  const std::string good = read(cache.path(key));
  ASSERT_GT(good.size(), compiled.cubin.size());

  write(cache.path(key), good.substr(0, good.size() - 7));  // truncated (a crash before the rename cannot
  EXPECT_FALSE(cache.load(key).has_value());                // do this; a copy cut short can)
  std::string flipped = good;
  flipped[flipped.size() - 100] ^= 0x20;  // a bit flip inside the cubin
  write(cache.path(key), flipped);
  EXPECT_FALSE(cache.load(key).has_value());
  std::string meta = good;
  meta[meta.find("\"compile_ms\"") + 1] = 'X';  // metadata that no longer parses as ours
  write(cache.path(key), meta);
  EXPECT_FALSE(cache.load(key).has_value());
  write(cache.path(key), "not a cache entry at all");
  EXPECT_FALSE(cache.load(key).has_value());
  write(cache.path(key), "");
  EXPECT_FALSE(cache.load(key).has_value());

  // A whole entry copied under another key is not that key's cubin.
  const std::string other = sha256Hex("another source");
  write(cache.path(other), good);
  EXPECT_FALSE(cache.load(other).has_value());

  // A store repairs the damaged entry.
  write(cache.path(key), "garbage");
  ASSERT_TRUE(cache.store(key, compiled).ok());
  auto hit = cache.load(key);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->cubin, compiled.cubin);
}

TEST_F(CompileCacheTest, BadKeysAndUnwritableDirectoriesAreErrorsNotCrashes) {
  CompileCache cache(root);
  EXPECT_FALSE(cache.store("../escape", compiled).ok());
  EXPECT_FALSE(cache.load("../escape").has_value());
  EXPECT_FALSE(cache.store(std::string(64, 'G'), compiled).ok());
  CubinResult empty;
  EXPECT_FALSE(cache.store(key, empty).ok());

  write(root + "/file", "x");  // a path through a regular file cannot be created
  CompileCache blocked(root + "/file/nvrtc");
  Status s = blocked.store(key, compiled);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("cannot create"), std::string::npos) << s.error();
  EXPECT_FALSE(blocked.load(key).has_value());
}

TEST(CompileCacheDirectory, FollowsTheEnvironment) {
  const char* saved_dir = std::getenv("LINREC_CACHE_DIR");
  const char* saved_xdg = std::getenv("XDG_CACHE_HOME");
  const std::string keep_dir = saved_dir ? saved_dir : "", keep_xdg = saved_xdg ? saved_xdg : "";

  ::setenv("LINREC_CACHE_DIR", "/somewhere/cubins", 1);
  EXPECT_EQ(CompileCache::defaultDirectory().value_or(""), "/somewhere/cubins");
  for (const char* off : {"off", "0", ""}) {
    ::setenv("LINREC_CACHE_DIR", off, 1);
    EXPECT_FALSE(CompileCache::defaultDirectory().has_value()) << "'" << off << "'";
  }
  ::unsetenv("LINREC_CACHE_DIR");
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(CompileCache::defaultDirectory().value_or(""), "/xdg/linrec/nvrtc");
  ::unsetenv("XDG_CACHE_HOME");
  if (const char* home = std::getenv("HOME"); home && home[0] == '/') {
    EXPECT_EQ(CompileCache::defaultDirectory().value_or(""), std::string(home) + "/.cache/linrec/nvrtc");
  }

  if (saved_dir) ::setenv("LINREC_CACHE_DIR", keep_dir.c_str(), 1);
  if (saved_xdg) ::setenv("XDG_CACHE_HOME", keep_xdg.c_str(), 1);
}

}  // namespace
}  // namespace linrec
