// The embedded header table matches runtime/kernels/include/linrec/kernel/**.cuh byte for byte.
#include "linrec/runtime/EmbeddedHeaders.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "linrec/runtime/NvrtcCompiler.h"

namespace linrec {
namespace {

namespace fs = std::filesystem;

const fs::path kIncludeRoot = fs::path(LINREC_SOURCE_DIR) / "runtime" / "kernels" / "include";

std::set<std::string> headersOnDisk() {
  std::set<std::string> out;
  fs::path dir = kIncludeRoot / "linrec" / "kernel";
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".cuh")
      out.insert(fs::relative(e.path(), kIncludeRoot).generic_string());
  return out;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(EmbeddedHeaders, TableHasEveryHeaderWithItsContents) {
  std::set<std::string> disk = headersOnDisk();
  std::set<std::string> table;
  for (const EmbeddedHeader& h : embeddedKernelHeaders()) {
    table.insert(h.name);
    ASSERT_TRUE(disk.count(h.name)) << h.name << " is embedded but not on disk (rebuild to refresh the table)";
    // Not EXPECT_EQ: on failure it would print both whole headers.
    EXPECT_TRUE(h.text() == readFile(kIncludeRoot / h.name))
        << h.name << ": the embedded copy differs from the file (stale build? rebuild linrec_runtime)";
    EXPECT_EQ(h.data[h.size], 0) << h.name << " is not NUL-terminated";
  }
  for (const auto& d : disk) EXPECT_TRUE(table.count(d)) << d << " is on disk but not embedded";
  auto t = embeddedKernelHeaders();
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end(), [](const EmbeddedHeader& a, const EmbeddedHeader& b) {
    return std::string(a.name) < std::string(b.name);
  }));
}

TEST(EmbeddedHeaders, DigestIsHex) {
  std::string d = embeddedKernelHeadersDigest();
  EXPECT_EQ(d.size(), 64u);
  EXPECT_EQ(d.find_first_not_of("0123456789abcdef"), std::string::npos) << d;
}

TEST(EmbeddedHeaders, FindByIncludeName) {
  EXPECT_EQ(findEmbeddedKernelHeader("linrec/kernel/does_not_exist.cuh"), nullptr);
  for (const EmbeddedHeader& h : embeddedKernelHeaders()) EXPECT_EQ(findEmbeddedKernelHeader(h.name), &h);
}

// Each header must compile on its own from memory: it includes what it uses, by the names it is embedded
// under ("linrec/kernel/x.cuh"), and needs nothing from the host's file system but the CUDA toolkit.
TEST(EmbeddedHeaders, EachCompilesAloneWithNvrtc) {
  auto table = embeddedKernelHeaders();
  if (table.size() == 0) GTEST_SKIP() << "no kernel headers under " << kIncludeRoot << " yet";
  for (const EmbeddedHeader& h : table) {
    NvrtcOptions o;
    o.arch = "sm_90";
    auto r =
        compileToCubin(std::string("#include \"") + h.name + "\"\nextern \"C\" __global__ void header_check() {}\n", o);
    EXPECT_TRUE(r.ok()) << h.name << ":\n" << r.error();
  }
}

}  // namespace
}  // namespace linrec
