// The C API without a GPU: status codes, linrec_last_error(), validation and NVRTC through C.
#include "linrec/runtime/linrec.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace {

const char* kDescriptor = R"J({"dtype": "fp16", "K": 64, "V": 64, "chunk": 64,
  "inputs": [{"name": "g", "kind": "scalar"}],
  "kernels": [{"name": "f", "stage": "fused", "grid": {"x": "N*H"}, "block_threads": 128},
              {"name": "d", "stage": "decode", "grid": {"x": "B*H"}, "block_threads": 64}]})J";

void* addr(uint64_t i) {
  return reinterpret_cast<void*>(uintptr_t((i + 1) << 32));
}

struct Forward {
  int64_t qshape[4] = {2, 16, 3, 64};
  int64_t gshape[3] = {2, 16, 3};
  linrec_tensor g{};
  linrec_forward_args a{};
  Forward() {
    a.q = {addr(0), LINREC_DTYPE_FP16, 4, qshape, nullptr};
    a.k = {addr(1), LINREC_DTYPE_FP16, 4, qshape, nullptr};
    a.v = {addr(2), LINREC_DTYPE_FP16, 4, qshape, nullptr};
    a.o = {addr(3), LINREC_DTYPE_FP16, 4, qshape, nullptr};
    g = {addr(4), LINREC_DTYPE_FP32, 3, gshape, nullptr};
    a.inputs = &g;
    a.num_inputs = 1;
  }
};

TEST(CApi, StatusNames) {
  EXPECT_STREQ(linrec_status_name(LINREC_OK), "LINREC_OK");
  EXPECT_STREQ(linrec_status_name(LINREC_ERROR_NO_DEVICE), "LINREC_ERROR_NO_DEVICE");
  EXPECT_STREQ(linrec_status_name(12345), "LINREC_UNKNOWN_STATUS");
}

TEST(CApi, ValidateForwardAcceptsGoodArgs) {
  Forward f;
  EXPECT_EQ(linrec_validate_forward(kDescriptor, &f.a), LINREC_OK) << linrec_last_error();
  EXPECT_STREQ(linrec_last_error(), "");
}

TEST(CApi, ValidateForwardNamesTheBadTensor) {
  Forward f;
  int64_t bad[4] = {2, 16, 3, 32};
  f.a.v.shape = bad;
  EXPECT_EQ(linrec_validate_forward(kDescriptor, &f.a), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(linrec_last_error()).find("forward: v: expected shape [B=2, T=16, H=3, V=64]"),
            std::string::npos)
      << linrec_last_error();

  Forward h;
  int64_t strides[4] = {16 * 3 * 64, 64, 16 * 64, 1};
  h.a.q.strides = strides;
  EXPECT_EQ(linrec_validate_forward(kDescriptor, &h.a), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(linrec_last_error()).find("q: not contiguous: dim 1 (T)"), std::string::npos)
      << linrec_last_error();

  Forward d;
  d.a.k.dtype = 77;
  EXPECT_EQ(linrec_validate_forward(kDescriptor, &d.a), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(linrec_last_error()).find("k: unknown dtype code 77"), std::string::npos)
      << linrec_last_error();

  Forward n;
  n.a.num_inputs = 0;
  EXPECT_EQ(linrec_validate_forward(kDescriptor, &n.a), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(linrec_last_error()).find("declares 1 input(s), got 0"), std::string::npos)
      << linrec_last_error();
}

TEST(CApi, BadDescriptorAndNullArguments) {
  Forward f;
  EXPECT_EQ(linrec_validate_forward("{\"dtype\": \"fp16\"}", &f.a), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(linrec_last_error()).find("launch descriptor: K: missing"), std::string::npos)
      << linrec_last_error();
  EXPECT_EQ(linrec_validate_forward(nullptr, &f.a), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(linrec_validate_forward(kDescriptor, nullptr), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(linrec_kernel_forward(nullptr, &f.a, nullptr), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(linrec_kernel_step(nullptr, nullptr, nullptr), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(linrec_runtime_create(0, nullptr), LINREC_ERROR_INVALID_ARGUMENT);
  linrec_kernel* k = nullptr;
  EXPECT_EQ(linrec_kernel_create(nullptr, "", kDescriptor, &k), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(k, nullptr);
  linrec_runtime_destroy(nullptr);  // like free(NULL)
  linrec_kernel_destroy(nullptr);
}

TEST(CApi, ValidateStep) {
  int64_t tok[3] = {5, 3, 64};
  int64_t gs[2] = {5, 3};
  int64_t st[4] = {5, 3, 64, 64};
  linrec_tensor g{addr(4), LINREC_DTYPE_FP32, 2, gs, nullptr};
  linrec_step_args a{};
  a.q = {addr(0), LINREC_DTYPE_FP16, 3, tok, nullptr};
  a.k = {addr(1), LINREC_DTYPE_FP16, 3, tok, nullptr};
  a.v = {addr(2), LINREC_DTYPE_FP16, 3, tok, nullptr};
  a.o = {addr(3), LINREC_DTYPE_FP16, 3, tok, nullptr};
  a.inputs = &g;
  a.num_inputs = 1;
  a.state = {addr(5), LINREC_DTYPE_FP32, 4, st, nullptr};
  EXPECT_EQ(linrec_validate_step(kDescriptor, &a), LINREC_OK) << linrec_last_error();
  a.state.dtype = LINREC_DTYPE_BF16;
  EXPECT_EQ(linrec_validate_step(kDescriptor, &a), LINREC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(linrec_last_error()).find("step: state: expected dtype fp32"), std::string::npos)
      << linrec_last_error();
}

TEST(CApi, LastErrorIsPerThread) {
  Forward f;
  f.a.o.data = nullptr;
  ASSERT_EQ(linrec_validate_forward(kDescriptor, &f.a), LINREC_ERROR_INVALID_ARGUMENT);
  std::string other = "unset";
  std::thread([&] { other = linrec_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(linrec_last_error()).find("o: required"), std::string::npos);
}

TEST(CApi, CompileCubinWithoutAGpu) {
  void* cubin = nullptr;
  size_t size = 0;
  ASSERT_EQ(linrec_compile_cubin("extern \"C\" __global__ void k(float* y) { y[0] = 1.f; }\n", "sm_80", &cubin, &size),
            LINREC_OK)
      << linrec_last_error();
  ASSERT_NE(cubin, nullptr);
  EXPECT_GT(size, 4u);
  EXPECT_EQ(static_cast<const char*>(cubin)[1], 'E');
  linrec_free(cubin);

  EXPECT_EQ(
      linrec_compile_cubin("extern \"C\" __global__ void k(float* y) {\n  y[0] = nope;\n}\n", "sm_90", &cubin, &size),
      LINREC_ERROR_COMPILE);
  EXPECT_EQ(cubin, nullptr);
  EXPECT_NE(std::string(linrec_last_error()).find("generated.cu:2: error"), std::string::npos) << linrec_last_error();
  EXPECT_NE(std::string(linrec_last_error()).find("  2 |   y[0] = nope;"), std::string::npos) << linrec_last_error();
}

}  // namespace
