// Without a GPU, creating a Runtime fails cleanly with "no CUDA device: <why>" (no crash, no exit).
#include <gtest/gtest.h>

#include <cstdlib>

#include "linrec/runtime/Runtime.h"
#include "linrec/runtime/linrec.h"

namespace linrec {
namespace {

// ctest runs this suite twice: as is (CI has no libcuda.so.1, so dlopen fails) and with the driver stub
// as libcuda.so.1 on LD_LIBRARY_PATH (cuInit fails). LINREC_TEST_EXPECT_NO_DEVICE names the failure
// expected: "dlopen" or "cuInit"; unset, any "no CUDA device" error will do.
const char* expectedReason() {
  return std::getenv("LINREC_TEST_EXPECT_NO_DEVICE");
}

TEST(NoDevice, RuntimeCreateReportsNoCudaDevice) {
  auto rt = Runtime::create(0);
  if (rt.ok() && !expectedReason()) GTEST_SKIP() << "a CUDA device is present: " << (*rt)->device().name;
  ASSERT_FALSE(rt.ok()) << "a device was found although LINREC_TEST_EXPECT_NO_DEVICE is set";
  EXPECT_EQ(rt.error().rfind("no CUDA device: ", 0), 0u) << rt.error();
  if (const char* why = expectedReason()) {
    std::string w = why;
    if (w == "dlopen") {
      EXPECT_NE(rt.error().find("cannot load the CUDA driver libcuda.so.1"), std::string::npos) << rt.error();
    }
    if (w == "cuInit") {
      EXPECT_NE(rt.error().find("cuInit failed: CUDA_ERROR_"), std::string::npos) << rt.error();
    }
  }
  // The failure is remembered, and asking again gives the same answer.
  auto again = Runtime::create(0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), rt.error());
}

TEST(NoDevice, CApiReportsNoDevice) {
  linrec_runtime* rt = reinterpret_cast<linrec_runtime*>(0x1);
  int st = linrec_runtime_create(0, &rt);
  if (st == LINREC_OK) {
    linrec_runtime_destroy(rt);
    if (!expectedReason()) GTEST_SKIP() << "a CUDA device is present";
    FAIL() << "a device was found although LINREC_TEST_EXPECT_NO_DEVICE is set";
  }
  EXPECT_EQ(st, LINREC_ERROR_NO_DEVICE) << linrec_status_name(st);
  EXPECT_EQ(rt, nullptr);
  EXPECT_EQ(std::string(linrec_last_error()).rfind("no CUDA device: ", 0), 0u) << linrec_last_error();
}

TEST(NoDevice, DriverLoadErrorIsCached) {
  auto d = CudaDriver::load();
  if (d.ok()) GTEST_SKIP() << "the CUDA driver loaded (" << (*d)->library << ")";
  EXPECT_EQ(d.error().rfind("no CUDA device: ", 0), 0u) << d.error();
}

}  // namespace
}  // namespace linrec
