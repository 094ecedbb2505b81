// Launch-argument validation on the CPU: every kind of mismatch is an error that names the tensor.
#include "linrec/runtime/Validation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace linrec {
namespace {

// Fake device addresses: validation never dereferences them, it only checks alignment and overlap.
void* addr(uint64_t i) {
  return reinterpret_cast<void*>(uintptr_t((i + 1) << 32));
}

LaunchDescriptor gdn(DType dt = DType::BF16) {
  auto d = LaunchDescriptor::fromJson(R"J({"dtype": "bf16", "K": 128, "V": 64, "chunk": 64,
    "inputs": [{"name": "a", "kind": "scalar"}, {"name": "g", "kind": "vector"}],
    "params": [{"name": "A_log", "kind": "head"}, {"name": "w", "kind": "head_key"}],
    "constants": {"BV": 32},
    "workspace_bytes": "NC*H*KF*V*4",
    "kernels": [{"name": "f", "stage": "fused", "grid": {"x": "N*H", "y": "ceil(V/BV)"}, "block_threads": 128},
                {"name": "d", "stage": "decode", "grid": {"x": "B*H"}, "block_threads": 128}]})J");
  EXPECT_TRUE(d.ok()) << d.error();
  d->dtype = dt;
  return *d;
}

ForwardArgs goodForward(int64_t B = 2, int64_t T = 100, int64_t H = 4, DType dt = DType::BF16) {
  ForwardArgs a;
  a.q = TensorRef::contiguous(addr(0), dt, {B, T, H, 128});
  a.k = TensorRef::contiguous(addr(1), dt, {B, T, H, 128});
  a.v = TensorRef::contiguous(addr(2), dt, {B, T, H, 64});
  a.o = TensorRef::contiguous(addr(3), dt, {B, T, H, 64});
  a.inputs = {TensorRef::contiguous(addr(4), DType::FP32, {B, T, H}),
              TensorRef::contiguous(addr(5), DType::FP32, {B, T, H, 128})};
  a.params = {TensorRef::contiguous(addr(6), DType::FP32, {H}), TensorRef::contiguous(addr(7), DType::FP32, {H, 128})};
  return a;
}

void expectFail(const LaunchDescriptor& d, const ForwardArgs& a, const std::string& needle) {
  Status s = validateForward(d, a);
  ASSERT_FALSE(s.ok()) << "accepted; expected: " << needle;
  EXPECT_NE(s.error().find(needle), std::string::npos) << s.error();
}

TEST(ValidateForward, AcceptsGoodArgsAndComputesSizes) {
  auto d = gdn();
  auto a = goodForward();
  auto s = checkForward(d, a);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->B, 2);
  EXPECT_EQ(s->T, 100);
  EXPECT_EQ(s->H, 4);
  EXPECT_EQ(s->N, 2);
  EXPECT_EQ(s->NC, 4);  // 2 sequences x ceil(100/64)
  EXPECT_EQ(s->MC, 2);
  EXPECT_FLOAT_EQ(s->scale, 1.0f / std::sqrt(128.0f));
  EXPECT_EQ(s->workspace_bytes, 4 * 4 * 128 * 64 * 4);
}

TEST(ValidateForward, DTypes) {
  auto d = gdn();
  auto a = goodForward();
  a.q.dtype = DType::FP32;
  expectFail(d, a, "forward: q: expected dtype bf16 (the kernel's dtype), got fp32");
  a = goodForward();
  a.o.dtype = DType::FP16;
  expectFail(d, a, "forward: o: expected dtype bf16");
  a = goodForward();
  a.inputs[0].dtype = DType::BF16;
  expectFail(d, a, "forward: inputs[0] (a): expected dtype fp32 (gates, params and states are fp32), got bf16");
  a = goodForward();
  a.params[1].dtype = DType::FP16;
  expectFail(d, a, "params[1] (w): expected dtype fp32");
}

TEST(ValidateForward, Shapes) {
  auto d = gdn();
  auto a = goodForward();
  a.q.shape = {2, 100, 4, 64};
  a.q.strides.clear();
  expectFail(d, a, "forward: q: expected shape [B, T, H, K=128], got bf16[2, 100, 4, 64]");
  a = goodForward();
  a.q.shape = {2, 100, 4};
  a.q.strides.clear();
  expectFail(d, a, "q: expected shape [B, T, H, K=128]");
  a = goodForward();
  a.k = TensorRef::contiguous(addr(1), DType::BF16, {2, 99, 4, 128});
  expectFail(d, a, "forward: k: expected shape [B=2, T=100, H=4, K=128], got bf16[2, 99, 4, 128]");
  a = goodForward();
  a.v = TensorRef::contiguous(addr(2), DType::BF16, {2, 100, 4, 128});
  expectFail(d, a, "v: expected shape [B=2, T=100, H=4, V=64]");
  a = goodForward();
  a.inputs[1] = TensorRef::contiguous(addr(5), DType::FP32, {2, 100, 4});
  expectFail(d, a, "inputs[1] (g): expected shape [B=2, T=100, H=4, K=128], got fp32[2, 100, 4]");
  a = goodForward();
  a.params[0] = TensorRef::contiguous(addr(6), DType::FP32, {8});
  expectFail(d, a, "params[0] (A_log): expected shape [H=4], got fp32[8]");
  a = goodForward();
  a.q.shape = {0, 100, 4, 128};
  expectFail(d, a, "q: empty tensor");
}

TEST(ValidateForward, CountsOfInputsAndParams) {
  auto d = gdn();
  auto a = goodForward();
  a.inputs.pop_back();
  expectFail(d, a, "forward: inputs: the kernel declares 2 input(s), got 1");
  a = goodForward();
  a.params.push_back(a.params[0]);
  expectFail(d, a, "forward: params: the kernel declares 2 param(s), got 3");
}

TEST(ValidateForward, MissingRequiredTensors) {
  auto d = gdn();
  auto a = goodForward();
  a.o.ptr = nullptr;
  expectFail(d, a, "forward: o: required but not given (null pointer)");
  a = goodForward();
  a.q.ptr = nullptr;
  expectFail(d, a, "forward: q: required but not given");
  a = goodForward();
  a.inputs[1].ptr = nullptr;
  expectFail(d, a, "inputs[1] (g): required but not given");
}

TEST(ValidateForward, Contiguity) {
  auto d = gdn();
  auto a = goodForward();
  // A [B,T,H,K] view of a [B,H,T,K] tensor (transpose(1,2) in torch): not contiguous in T.
  a.q.strides = {100 * 4 * 128, 128, 100 * 128, 1};
  expectFail(d, a, "forward: q: not contiguous: dim 1 (T) has stride 128, expected 512");
  a = goodForward();
  a.v.strides = {100 * 4 * 64, 4 * 64, 64, 2};
  expectFail(d, a, "v: not contiguous: dim 3 (V) has stride 2, expected 1");
  a = goodForward();
  a.k.strides = {1, 2, 3};
  expectFail(d, a, "k: 3 strides for 4 dims");
  // A size-1 dim's stride is never used, so any value is fine (as in torch.is_contiguous).
  a = goodForward(1, 100, 4);
  a.q.strides[0] = 12345;
  EXPECT_TRUE(validateForward(d, a).ok()) << validateForward(d, a).error();
}

TEST(ValidateForward, Alignment) {
  auto d = gdn();
  auto a = goodForward();
  a.k.ptr = static_cast<char*>(a.k.ptr) + 8;
  expectFail(d, a, "forward: k: pointer 0x");
  expectFail(d, a, "is not 16-byte aligned");
  a = goodForward();
  a.params[0].ptr = static_cast<char*>(a.params[0].ptr) + 4;
  expectFail(d, a, "params[0] (A_log): pointer");
}

TEST(ValidateForward, States) {
  auto d = gdn();
  auto a = goodForward();
  a.h0 = TensorRef::contiguous(addr(8), DType::FP32, {2, 4, 128, 64});
  a.ht = TensorRef::contiguous(addr(9), DType::FP32, {2, 4, 128, 64});
  EXPECT_TRUE(validateForward(d, a).ok()) << validateForward(d, a).error();
  a.h0 = TensorRef::contiguous(addr(8), DType::FP32, {2, 4, 64, 128});
  expectFail(d, a, "forward: h0: expected shape [N=2, H=4, K'=128, V=64], got fp32[2, 4, 64, 128]");
  a.h0 = TensorRef::contiguous(addr(8), DType::BF16, {2, 4, 128, 64});
  expectFail(d, a, "h0: expected dtype fp32");
  a = goodForward();
  a.z0 = TensorRef::contiguous(addr(8), DType::FP32, {2, 4, 128});
  expectFail(d, a, "forward: z0: given, but the kernel has no normalizer state");
  d.normalize = true;
  EXPECT_TRUE(validateForward(d, a).ok()) << validateForward(d, a).error();
  a.zt = TensorRef::contiguous(addr(9), DType::FP32, {2, 4, 127});
  expectFail(d, a, "zt: expected shape [N=2, H=4, K'=128]");
}

TEST(ValidateForward, Aliasing) {
  auto d = gdn();
  auto a = goodForward();
  a.o.ptr = a.v.ptr;
  expectFail(d, a, "forward: o: overlaps v in memory");
  a = goodForward();
  a.o.ptr = static_cast<char*>(a.q.ptr) + 4096;  // inside q
  expectFail(d, a, "o: overlaps q");
  a = goodForward();
  a.h0 = TensorRef::contiguous(addr(8), DType::FP32, {2, 4, 128, 64});
  a.ht = a.h0;  // in place: allowed
  EXPECT_TRUE(validateForward(d, a).ok()) << validateForward(d, a).error();
  a.ht.ptr = static_cast<char*>(a.h0.ptr) + 256;  // partial overlap: not allowed
  expectFail(d, a, "ht: overlaps h0");
  a = goodForward();
  a.ht = TensorRef::contiguous(a.o.ptr, DType::FP32, {2, 4, 128, 64});
  expectFail(d, a, "forward: o: overlaps ht");
}

TEST(ValidateForward, VariableLength) {
  auto d = gdn();
  auto a = goodForward(1, 300, 4);
  int64_t cu[] = {0, 10, 10, 200, 300};
  a.cu_seqlens = TensorRef::contiguous(addr(10), DType::I64, {5});
  a.cu_seqlens_host = cu;
  auto s = checkForward(d, a);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->N, 4);
  EXPECT_EQ(s->NC, 1 + 0 + 3 + 2);
  EXPECT_EQ(s->MC, 3);
  // Without the host copy the chunk count (and so the workspace size) is unknown, and that is fine here.
  a.cu_seqlens_host = nullptr;
  s = checkForward(d, a);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->NC, -1);
  EXPECT_EQ(s->MC, -1);
  EXPECT_EQ(s->workspace_bytes, -1);

  a.cu_seqlens_host = cu;
  a.h0 = TensorRef::contiguous(addr(8), DType::FP32, {1, 4, 128, 64});
  expectFail(d, a, "h0: expected shape [N=4, H=4, K'=128, V=64]");
  a.h0 = {};
  int64_t bad_end[] = {0, 10, 10, 200, 299};
  a.cu_seqlens_host = bad_end;
  expectFail(d, a, "forward: cu_seqlens: must end at T=300, ends at 299");
  int64_t bad_start[] = {1, 10, 10, 200, 300};
  a.cu_seqlens_host = bad_start;
  expectFail(d, a, "cu_seqlens: must start at 0");
  int64_t decreasing[] = {0, 10, 5, 200, 300};
  a.cu_seqlens_host = decreasing;
  expectFail(d, a, "cu_seqlens: must not decrease: [1]=10 > [2]=5");
  a.cu_seqlens_host = cu;
  a.cu_seqlens.dtype = DType::FP32;
  expectFail(d, a, "cu_seqlens: expected dtype int64, got fp32");
  a.cu_seqlens = TensorRef::contiguous(addr(10), DType::I64, {1});
  expectFail(d, a, "cu_seqlens: expected shape [N+1] with N >= 1");

  auto b = goodForward(2, 100, 4);
  b.cu_seqlens = TensorRef::contiguous(addr(10), DType::I64, {3});
  expectFail(d, b, "forward: cu_seqlens: given with B=2; variable-length input packs all sequences into B=1");
  b = goodForward();
  b.cu_seqlens_host = cu;
  expectFail(d, b, "cu_seqlens_host: given without cu_seqlens");
}

TEST(ValidateForward, ScaleAndWorkspace) {
  auto d = gdn();
  auto a = goodForward();
  a.scale = 0.5f;
  auto s = checkForward(d, a);
  ASSERT_TRUE(s.ok());
  EXPECT_FLOAT_EQ(s->scale, 0.5f);
  a.scale = std::nanf("");
  expectFail(d, a, "forward: scale: must be finite");
  a = goodForward();
  a.workspace = addr(20);
  a.workspace_bytes = 100;
  expectFail(d, a, "forward: workspace: 100 bytes given, 524288 needed");
  a.workspace_bytes = 524288;
  EXPECT_TRUE(validateForward(d, a).ok());
  a.workspace = static_cast<char*>(addr(20)) + 16;
  expectFail(d, a, "workspace: pointer");
}

TEST(ValidateForward, RejectsDecodeOnlyModules) {
  auto d = gdn();
  d.kernels.erase(d.kernels.begin());
  expectFail(d, goodForward(), "forward: this module has no forward kernel");
}

TEST(ValidateForward, SizesMustFitTheKernelsInts) {
  auto d = gdn();
  auto a = goodForward(1 << 20, 1 << 12, 4);
  expectFail(d, a, "q: too large");
}

StepArgs goodStep(bool rank4, int64_t B = 3, int64_t H = 4) {
  auto tok = [&](std::vector<int64_t> rest) {
    std::vector<int64_t> s = {B};
    if (rank4) s.push_back(1);
    s.push_back(H);
    s.insert(s.end(), rest.begin(), rest.end());
    return s;
  };
  StepArgs a;
  a.q = TensorRef::contiguous(addr(0), DType::BF16, tok({128}));
  a.k = TensorRef::contiguous(addr(1), DType::BF16, tok({128}));
  a.v = TensorRef::contiguous(addr(2), DType::BF16, tok({64}));
  a.o = TensorRef::contiguous(addr(3), DType::BF16, tok({64}));
  a.inputs = {TensorRef::contiguous(addr(4), DType::FP32, tok({})),
              TensorRef::contiguous(addr(5), DType::FP32, tok({128}))};
  a.params = {TensorRef::contiguous(addr(6), DType::FP32, {H}), TensorRef::contiguous(addr(7), DType::FP32, {H, 128})};
  a.state = TensorRef::contiguous(addr(8), DType::FP32, {B, H, 128, 64});
  return a;
}

void expectStepFail(const LaunchDescriptor& d, const StepArgs& a, const std::string& needle) {
  Status s = validateStep(d, a);
  ASSERT_FALSE(s.ok()) << "accepted; expected: " << needle;
  EXPECT_NE(s.error().find(needle), std::string::npos) << s.error();
}

TEST(ValidateStep, AcceptsBothTokenLayouts) {
  auto d = gdn();
  for (bool rank4 : {true, false}) {
    auto s = checkStep(d, goodStep(rank4));
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ(s->B, 3);
    EXPECT_EQ(s->H, 4);
  }
}

TEST(ValidateStep, Mismatches) {
  auto d = gdn();
  auto a = goodStep(true);
  a.q.shape[1] = 2;
  a.q.strides = contiguousStrides(a.q.shape);
  expectStepFail(d, a, "step: q: expected shape [B, 1, H, K=128] or [B, H, K=128] (one token per sequence)");
  a = goodStep(true);
  a.k = TensorRef::contiguous(addr(1), DType::BF16, {3, 4, 128});  // mixes the two layouts
  expectStepFail(d, a, "step: k: expected shape [B=3, 1, H=4, K=128]");
  a = goodStep(false);
  a.state.ptr = nullptr;
  expectStepFail(d, a, "step: state: required but not given");
  a = goodStep(false);
  a.state = TensorRef::contiguous(addr(8), DType::FP32, {3, 4, 64, 128});
  expectStepFail(d, a, "state: expected shape [B=3, H=4, K'=128, V=64]");
  a = goodStep(false);
  a.v.ptr = static_cast<char*>(a.state.ptr) + 1024;  // an input inside the state being written
  expectStepFail(d, a, "step: state: overlaps v");
  a = goodStep(false);
  a.inputs[0] = TensorRef::contiguous(addr(4), DType::FP32, {3, 4, 1});
  expectStepFail(d, a, "inputs[0] (a): expected shape [B=3, H=4]");
  a = goodStep(false);
  a.o.ptr = a.state.ptr;
  expectStepFail(d, a, "overlaps");
  a = goodStep(false);
  a.z = TensorRef::contiguous(addr(9), DType::FP32, {3, 4, 128});
  expectStepFail(d, a, "step: z: given, but the kernel has no normalizer state");
  d.normalize = true;
  EXPECT_TRUE(validateStep(d, a).ok()) << validateStep(d, a).error();
  a.z = TensorRef::contiguous(addr(9), DType::FP32, {3, 4});
  expectStepFail(d, a, "step: z: expected shape [B=3, H=4, K'=128]");
  a.z.ptr = nullptr;
  expectStepFail(d, a, "step: z: required but not given");
  d.normalize = false;
  a = goodStep(false);
  a.v.ptr = static_cast<char*>(a.v.ptr) + 2;
  expectStepFail(d, a, "v: pointer");
  d.kernels.pop_back();
  expectStepFail(d, goodStep(false), "step: this module has no decode kernel");
}

TEST(LaunchVars, ForwardAndDecode) {
  auto d = gdn();
  ForwardShape f;
  f.B = 2;
  f.T = 100;
  f.H = 4;
  f.N = 2;
  f.NC = 4;
  auto e = d.kernels[0].grid[1].evaluate(forwardLaunchVars(d, f));
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(*e, 2);
  StepShape s;
  s.B = 5;
  s.H = 4;
  auto g = d.kernels[1].grid[0].evaluate(stepLaunchVars(d, s));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, 20);
}

}  // namespace
}  // namespace linrec
