// NVRTC compiles without a GPU: cubins for sm_80/sm_90/sm_90a, ptxas stats, and error logs with source lines.
#include "linrec/runtime/NvrtcCompiler.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace linrec {
namespace {

const char* kSmallKernel = R"J(struct P { const float* x; float* y; int n; };
extern "C" __global__ void __launch_bounds__(256) reverse_double(P p) {
  __shared__ float s[256];
  int i = threadIdx.x;
  s[i] = i < p.n ? p.x[i] : 0.f;
  __syncthreads();
  if (i < p.n) p.y[i] = s[255 - i] * 2.f;
}
extern "C" __global__ void tiny(float* y) { y[threadIdx.x] = 1.f; }
)J";

bool isElf(const std::vector<char>& b) {
  return b.size() > 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
}

class NvrtcArch : public ::testing::TestWithParam<const char*> {};

TEST_P(NvrtcArch, CompilesSmallKernelWithPtxasStats) {
  NvrtcOptions o;
  o.arch = GetParam();
  auto r = compileToCubin(kSmallKernel, o);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(isElf(r->cubin));
  EXPECT_EQ(r->arch, GetParam());
  ASSERT_EQ(r->stats.size(), 2u) << r->log;
  const KernelStats* s = r->find("reverse_double");
  ASSERT_NE(s, nullptr) << r->log;
  EXPECT_EQ(s->arch, GetParam());
  EXPECT_GT(s->registers, 0);
  EXPECT_EQ(s->barriers, 1);
  EXPECT_EQ(s->smem_bytes, 1024);
  EXPECT_EQ(s->spill_stores, 0);
  EXPECT_EQ(s->spill_loads, 0);
  ASSERT_NE(r->find("tiny"), nullptr);
  EXPECT_EQ(r->find("tiny")->smem_bytes, 0);
  EXPECT_NE(std::find(r->options.begin(), r->options.end(), std::string("--gpu-architecture=") + GetParam()),
            r->options.end());
}

INSTANTIATE_TEST_SUITE_P(Archs, NvrtcArch, ::testing::Values("sm_80", "sm_90", "sm_90a"));

TEST(Nvrtc, ParsesPtxasLog) {
  const std::string log = R"J(ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k2' for 'sm_80'
ptxas info    : Function properties for k2
ptxas         .     16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 8 registers, used 0 barriers, 360 bytes cmem[0]
ptxas info    : Compile time = 2.033 ms
ptxas info    : Function properties for _Z6helperv
ptxas         .     99 bytes stack frame, 99 bytes spill stores, 99 bytes spill loads
ptxas info    : Compiling entry function 'k1' for 'sm_80'
ptxas info    : Function properties for k1
ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 168 registers, used 1 barriers, 1024 bytes smem, 376 bytes cmem[0]
)J";
  auto s = parsePtxasLog(log);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "k2");
  EXPECT_EQ(s[0].registers, 8);
  EXPECT_EQ(s[0].stack_bytes, 16);
  EXPECT_EQ(s[0].spill_stores, 8);
  EXPECT_EQ(s[0].spill_loads, 4);
  EXPECT_EQ(s[0].cmem_bytes, 360);
  EXPECT_EQ(s[0].smem_bytes, 0);
  EXPECT_EQ(s[1].name, "k1");
  EXPECT_EQ(s[1].registers, 168);
  EXPECT_EQ(s[1].barriers, 1);
  EXPECT_EQ(s[1].smem_bytes, 1024);
  EXPECT_EQ(s[1].cmem_bytes, 376);
  EXPECT_EQ(s[1].spill_stores, 0);
}

TEST(Nvrtc, ErrorQuotesTheOffendingSourceLines) {
  const std::string src =
      "extern \"C\" __global__ void k(float* y) {\n"
      "  float ok = 1.f;\n"
      "  y[0] = undefined_thing + ok;\n"
      "  int x = \"not an int\";\n"
      "}\n";
  NvrtcOptions o;
  o.arch = "sm_80";
  auto r = compileToCubin(src, o);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error();
  EXPECT_NE(m.find("NVRTC failed to compile generated.cu for sm_80"), std::string::npos) << m;
  EXPECT_NE(m.find("generated.cu:3: error: identifier \"undefined_thing\" is undefined"), std::string::npos) << m;
  EXPECT_NE(m.find("  3 |   y[0] = undefined_thing + ok;\n"), std::string::npos) << m;
  // The caret sits under the offending token of our quote.
  size_t quote = m.find("  3 |   y[0] = undefined_thing");
  size_t caretLine = m.find('\n', quote) + 1;
  size_t caret = m.find('^', caretLine);
  ASSERT_NE(caret, std::string::npos) << m;
  EXPECT_EQ(caret - caretLine, m.find("undefined_thing", quote) - quote) << m;
  EXPECT_NE(m.find("generated.cu:4: error:"), std::string::npos) << m;
  EXPECT_NE(m.find("  4 |   int x = \"not an int\";"), std::string::npos) << m;
}

TEST(Nvrtc, ErrorInAHeaderQuotesTheHeaderAndTheInstantiation) {
  NvrtcOptions o;
  o.arch = "sm_90";
  o.extra_headers = {{"linrec/kernel/test_only.cuh",
                      "#pragma once\n"
                      "template <class T> __device__ float twice(T x) {\n"
                      "  return 2 * x.no_such_member;\n"
                      "}\n"}};
  const std::string src =
      "#include \"linrec/kernel/test_only.cuh\"\n"
      "extern \"C\" __global__ void k(float* y) { y[0] = twice(y[0]); }\n";
  auto r = compileToCubin(src, o);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error();
  EXPECT_NE(m.find("linrec/kernel/test_only.cuh:3: error:"), std::string::npos) << m;
  EXPECT_NE(m.find("  3 |   return 2 * x.no_such_member;"), std::string::npos) << m;
  // Where the template was instantiated from, quoted from the generated source.
  EXPECT_NE(m.find("at line 2 of generated.cu\n"), std::string::npos) << m;
  EXPECT_NE(m.find("2 | extern \"C\" __global__ void k(float* y) { y[0] = twice(y[0]); }"), std::string::npos) << m;
}

TEST(Nvrtc, CompilesAgainstInMemoryHeaders) {
  NvrtcOptions o;
  o.arch = "sm_90";
  o.extra_headers = {
      {"linrec/kernel/test_only.cuh", "#pragma once\n__device__ inline float three() { return 3.f; }\n"}};
  auto r = compileToCubin(
      "#include \"linrec/kernel/test_only.cuh\"\n"
      "extern \"C\" __global__ void k(float* y) { y[0] = three(); }\n",
      o);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_NE(r->find("k"), nullptr);
}

TEST(Nvrtc, FindsTheToolkitHeadersForBf16AndFp16) {
  NvrtcOptions o;
  o.arch = "sm_90";
  auto r = compileToCubin(
      "#include <cuda_bf16.h>\n#include <cuda_fp16.h>\n"
      "extern \"C\" __global__ void k(__nv_bfloat16* a, __half* b) {\n"
      "  a[0] = __float2bfloat16(__half2float(b[0]));\n}\n",
      o);
  ASSERT_TRUE(r.ok()) << r.error();
}

TEST(Nvrtc, UnknownArchIsAnError) {
  NvrtcOptions o;
  o.arch = "sm_1";
  auto r = compileToCubin(kSmallKernel, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("sm_1"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("--gpu-architecture=sm_1"), std::string::npos) << r.error();
}

TEST(Nvrtc, ArchNamesAndDetection) {
  EXPECT_EQ(archForComputeCapability(9, 0, true), "sm_90a");
  EXPECT_EQ(archForComputeCapability(9, 0, false), "sm_90");
  EXPECT_EQ(archForComputeCapability(8, 0, true), "sm_80");  // no arch-specific variant before sm_90
  EXPECT_EQ(archForComputeCapability(10, 0, true), "sm_100a");
  EXPECT_TRUE(sourceNeedsArchSpecific("asm volatile(\"wgmma.fence.sync.aligned;\");"));
  EXPECT_TRUE(sourceNeedsArchSpecific("asm volatile(\"setmaxnreg.inc.sync.aligned.u32 240;\");"));
  EXPECT_FALSE(sourceNeedsArchSpecific(kSmallKernel));
}

TEST(Nvrtc, VersionAndArchs) {
  EXPECT_FALSE(nvrtcVersionString().empty());
  auto archs = nvrtcSupportedArchs();
  EXPECT_NE(std::find(archs.begin(), archs.end(), 80), archs.end());
  EXPECT_NE(std::find(archs.begin(), archs.end(), 90), archs.end());
}

TEST(Nvrtc, FormatLogKeepsUnreferencedLinesAndQuotesInstantiationSites) {
  const std::string src = "line one\nline two\nline three\n";
  const std::string log =
      "generated.cu(2): warning #177-D: variable \"x\" was declared but never referenced\n"
      "            detected during instantiation of \"f<3>\" at line 3 of generated.cu\n"
      "1 warning detected";
  std::string f = formatNvrtcLog(log, "generated.cu", src);
  EXPECT_NE(f.find("generated.cu:2: warning #177-D"), std::string::npos) << f;
  EXPECT_NE(f.find("  2 | line two\n"), std::string::npos) << f;
  EXPECT_NE(f.find("at line 3 of generated.cu\n              3 | line three\n"), std::string::npos) << f;
  EXPECT_NE(f.find("1 warning detected"), std::string::npos) << f;
}

}  // namespace
}  // namespace linrec
