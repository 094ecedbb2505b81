// safetensors: round trips for every dtype, and a clear error for each kind of malformed file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "Safetensors.h"

using namespace linrec::io;

namespace {

std::vector<uint8_t> image(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> b(8);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(n >> (8 * i));
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}

std::string errorOf(const std::string& header, size_t data_bytes) {
  auto r = parseSafetensors(image(header, data_bytes), "f.safetensors");
  EXPECT_FALSE(r.ok()) << header;
  return r.ok() ? "" : r.error();
}

}  // namespace

TEST(Safetensors, RoundTripEveryDtype) {
  std::string path = ::testing::TempDir() + "rt.safetensors";
  std::vector<double> vals = {1.0, -2.5, 0.15625, 3.0e-3, -7.0, 65504.0};
  TensorMap m;
  for (const char* d : {"F64", "F32", "BF16", "F16", "I64", "I32"}) m[std::string("t_") + d] = fromDouble(vals, {2, 3}, d);
  ASSERT_TRUE(writeSafetensors(path, m).ok());
  auto back = readSafetensors(path);
  ASSERT_TRUE(back.ok()) << back.error();
  ASSERT_EQ(back->size(), m.size());
  for (auto& [name, t] : *back) {
    EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
    std::vector<double> got = toDouble(t);
    for (size_t i = 0; i < vals.size(); ++i) {
      double tol = t.dtype == "BF16" ? std::fabs(vals[i]) / 128 : t.dtype == "F16" ? std::fabs(vals[i]) / 1024 : 1e-6;
      if (t.dtype[0] == 'I') EXPECT_EQ(got[i], std::trunc(vals[i])) << name;
      else EXPECT_NEAR(got[i], vals[i], tol) << name << " " << i;
    }
  }
}

TEST(Safetensors, HalfPrecisionConversionsAreExactWhereRepresentable) {
  std::vector<double> exact = {0.0, 1.0, -1.0, 0.5, 1024.0, 6.103515625e-05, 5.960464477539063e-08};
  for (const char* d : {"F16", "BF16"}) {
    auto got = toDouble(fromDouble(exact, {static_cast<int64_t>(exact.size())}, d));
    for (size_t i = 0; i < exact.size(); ++i)
      if (std::string(d) == "F16" || i < 5) EXPECT_EQ(got[i], exact[i]) << d << " " << exact[i];
  }
  // bf16 rounds to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7.
  EXPECT_EQ(toDouble(fromDouble({1.0 + std::ldexp(1.0, -8)}, {1}, "BF16"))[0], 1.0);
  EXPECT_EQ(toDouble(fromDouble({1e6}, {1}, "F16"))[0], INFINITY);
}

TEST(Safetensors, MalformedFilesAreRefusedWithReasons) {
  EXPECT_NE(errorOf("", 0).find("header is not a JSON object"), std::string::npos);
  auto tiny = parseSafetensors({1, 2, 3}, "f");
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.error().find("too short"), std::string::npos);
  std::vector<uint8_t> huge(16, 0);
  huge[6] = 1;  // header size 2^48
  EXPECT_NE(parseSafetensors(huge, "f").error().find("does not fit"), std::string::npos);
  EXPECT_NE(errorOf("{not json", 0).find("not a JSON object"), std::string::npos);
  EXPECT_NE(errorOf(R"({"q":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1).find("unsupported dtype U8"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"q":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4).find("needs 8"), std::string::npos);
  EXPECT_NE(errorOf(R"({"q":{"dtype":"F32","shape":[1],"data_offsets":[0,400]}})", 4).find("outside the data"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"q":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4).find("integers >= 0"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"q":{"dtype":"F32","shape":[1]}})", 4).find("needs dtype, shape and data_offsets"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4)
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8).find("gap"), std::string::npos);
  EXPECT_NE(errorOf(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12).find("trailing"),
            std::string::npos);
  auto missing = readSafetensors("/nonexistent/x.safetensors");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("cannot open"), std::string::npos);
}

TEST(Safetensors, WriteIsAtomicAndChecksSizes) {
  std::string path = ::testing::TempDir() + "bad.safetensors";
  std::remove(path.c_str());
  TensorMap m;
  m["x"] = fromDouble({1, 2, 3}, {3}, "F32");
  m["x"].shape = {4};
  EXPECT_FALSE(writeSafetensors(path, m).ok());
  EXPECT_FALSE(std::ifstream(path).good());  // nothing was left behind
  EXPECT_FALSE(writeSafetensors("/nonexistent/dir/x.safetensors", {}).ok());
}
