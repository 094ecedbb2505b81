// GPU tests (label gpu; skip without a device): compile, load and launch through Runtime and Kernel.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "linrec/runtime/KernelAbi.h"
#include "linrec/runtime/Runtime.h"

namespace linrec {
namespace {

// Mock kernels that take FwdParams/DecodeParams exactly as generated kernels do (the struct is spelled
// out here so these tests do not depend on abi.cuh; KernelAbiTest ties the two layouts together). They do
// simple arithmetic whose result shows every field arrived intact.
const char* kMockSource = R"J(
struct FwdParams {
  const void* q; const void* k; const void* v; void* o;
  const float* inputs[8]; const float* params[8];
  const float* h0; float* ht; const float* z0; float* zt;
  const long long* cu_seqlens; float* ws;
  int B, T, H, N; float scale; int num_chunks_total; unsigned long long epoch;
};
struct DecodeParams {
  const void* q; const void* k; const void* v; void* o;
  const float* inputs[8]; const float* params[8];
  float* state; float* z; int B, H; float scale;
};
static_assert(sizeof(FwdParams) == 240, "FwdParams size");
static_assert(sizeof(DecodeParams) == 192, "DecodeParams size");
constexpr int V = 32, KF = 32;

extern "C" __global__ void saxpy(float a, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

// One CTA per (sequence, head), one thread per value column: o = scale*q + g + A + h0[row 0];
// ht[row 0] = sum of v over the sequence + h0 + num_chunks_total.
extern "C" __global__ void __launch_bounds__(32) mock_fwd(FwdParams p) {
  int n = blockIdx.x / p.H, h = blockIdx.x % p.H, c = blockIdx.y * 32 + threadIdx.x;
  if (c >= V) return;
  long long bos = p.cu_seqlens ? p.cu_seqlens[n] : (long long)n * p.T;
  long long eos = p.cu_seqlens ? p.cu_seqlens[n + 1] : bos + p.T;
  size_t srow = ((size_t)n * p.H + h) * KF * V;
  float h0 = p.h0 ? p.h0[srow + c] : 0.f;
  float acc = 0.f;
  for (long long t = bos; t < eos; ++t) {
    size_t i = ((size_t)t * p.H + h) * V + c;
    ((float*)p.o)[i] = ((const float*)p.q)[i] * p.scale + p.inputs[0][t * p.H + h] + p.params[0][h] + h0;
    acc += ((const float*)p.v)[i];
  }
  if (p.ht) p.ht[srow + c] = acc + h0 + (float)p.num_chunks_total;
}

// Big dynamic shared memory: every thread writes its slot and reads its neighbour's.
extern "C" __global__ void mock_smem(FwdParams p) {
  extern __shared__ float s[];
  int n = 100 * 1024 / 4;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s[i] = (float)i;
  __syncthreads();
  if (threadIdx.x == 0) ((float*)p.o)[0] = s[n - 1];
}

// Two state-passing stages sharing the workspace: stage 1 writes ws[i] = i + 1 for i < NC*H, stage 2 sums.
extern "C" __global__ void mock_stage1(FwdParams p) { p.ws[blockIdx.x] = (float)(blockIdx.x + 1); }
extern "C" __global__ void mock_stage2(FwdParams p) {
  float s = 0.f;
  for (int i = 0; i < p.num_chunks_total * p.H; ++i) s += p.ws[i];
  p.ht[0] = s;
}

// Records the FwdParams::epoch it was launched with in ht (as 64 bits).
extern "C" __global__ void mock_epoch(FwdParams p) {
  if (threadIdx.x == 0) *reinterpret_cast<unsigned long long*>(p.ht) = p.epoch;
}

// Decode: state[b,h,0,c] += v; o = scale * state[b,h,0,c].
extern "C" __global__ void mock_decode(DecodeParams p) {
  int b = blockIdx.x / p.H, h = blockIdx.x % p.H, c = threadIdx.x;
  size_t srow = ((size_t)b * p.H + h) * KF * V;
  size_t i = ((size_t)b * p.H + h) * V + c;
  p.state[srow + c] += ((const float*)p.v)[i];
  ((float*)p.o)[i] = p.scale * p.state[srow + c];
}
)J";

const char* kFwdDescriptor = R"J({"dtype": "fp32", "K": 32, "V": 32, "chunk": 16,
  "inputs": [{"name": "g", "kind": "scalar"}], "params": [{"name": "A", "kind": "head"}],
  "constants": {"BV": 32}, "strategy": "fused",
  "kernels": [{"name": "mock_fwd", "stage": "fused", "grid": {"x": "N*H", "y": "ceil(V/BV)"}, "block_threads": 32}]})J";

// Runs without a device too, so CI catches a mock that no longer compiles.
TEST(RuntimeGpuSources, MockKernelsCompileWithNvrtc) {
  for (const char* arch : {"sm_80", "sm_90"}) {
    NvrtcOptions o;
    o.arch = arch;
    auto r = compileToCubin(kMockSource, o);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_FALSE(r->cubin.empty());
    // The H100 machine's NVRTC 13.0 printed no ptxas lines for --ptxas-options=-v (the CI machine's does):
    // statistics are then absent, which is reported rather than failed.
    if (r->log.find("ptxas") == std::string::npos)
      std::cout << "note: NVRTC " << nvrtcVersionString() << " printed no ptxas statistics for " << arch << "\n";
    else
      EXPECT_EQ(r->stats.size(), 7u) << r->log;
  }
}

class RuntimeGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Runtime::create(0);
    if (!r) GTEST_SKIP() << r.error();
    rt = std::move(*r);
    ASSERT_TRUE(rt->makeCurrent().ok());  // the tests call the driver directly too
    auto m = rt->compile(kMockSource);
    ASSERT_TRUE(m.ok()) << m.error();
    module = m->module;
  }
  DeviceBuffer upload(const std::vector<float>& host) {
    auto b = rt->allocate(host.size() * sizeof(float));
    EXPECT_TRUE(b.ok()) << b.error();
    EXPECT_TRUE(b->upload(host.data(), host.size() * sizeof(float)).ok());
    return std::move(*b);
  }
  std::vector<float> download(const DeviceBuffer& b) {
    std::vector<float> h(b.size() / sizeof(float));
    Status s = b.download(h.data(), b.size());
    EXPECT_TRUE(s.ok()) << s.error();
    return h;
  }
  Status ctxSync() { return rt->driver().check(rt->driver().cuCtxSynchronize(), "cuCtxSynchronize"); }
  /// Zeroed q = k = v, o and ht (fp32, K = V = 32) for the mock state-passing stages, and the args over them.
  struct StageArgs {
    DeviceBuffer buf, o, ht;
    ForwardArgs args;
  };
  StageArgs stageArgs(int B, int T, int H) {
    StageArgs r{upload(std::vector<float>(size_t(B) * T * H * 32, 0.f)),
                upload(std::vector<float>(size_t(B) * T * H * 32, 0.f)),
                upload(std::vector<float>(size_t(B) * H * 32 * 32, 0.f)), ForwardArgs{}};
    r.args.q = r.args.k = r.args.v = TensorRef::contiguous(r.buf.ptr(), DType::FP32, {B, T, H, 32});
    r.args.o = TensorRef::contiguous(r.o.ptr(), DType::FP32, {B, T, H, 32});
    r.args.ht = TensorRef::contiguous(r.ht.ptr(), DType::FP32, {B, H, 32, 32});
    return r;
  }
  /// Captures what `enqueue` queues on `stream` into a CUDA graph, replays it `times` times and waits.
  Status captureAndReplay(CUstream stream, const std::function<Status()>& enqueue, int times) {
    const CudaDriver& d = rt->driver();
    // Optional symbols in CudaDriver, but every driver that runs CUDA 13 code has them: their absence on a
    // GPU machine is a failure, not a reason to skip.
    if (!d.cuStreamBeginCapture || !d.cuStreamEndCapture || !d.cuGraphInstantiate || !d.cuGraphLaunch ||
        !d.cuGraphDestroy || !d.cuGraphExecDestroy)
      return Error{"the CUDA driver lacks the graph API (cuStreamBeginCapture ... cuGraphExecDestroy)"};
    if (Status s = d.check(d.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL), "begin capture"); !s)
      return s;
    Status queued = enqueue();
    CUgraph graph = nullptr;
    CUresult endr = d.cuStreamEndCapture(stream, &graph);
    if (!queued) return queued;
    if (Status s = d.check(endr, "end capture"); !s) return s;
    CUgraphExec exec = nullptr;
    CUresult ir = d.cuGraphInstantiate(&exec, graph, 0);
    d.cuGraphDestroy(graph);
    if (Status s = d.check(ir, "instantiate"); !s) return s;
    Status s;
    for (int i = 0; i < times && s; ++i) s = d.check(d.cuGraphLaunch(exec, stream), "graph launch");
    if (s) s = rt->synchronize(stream);
    d.cuGraphExecDestroy(exec);
    return s;
  }

  std::unique_ptr<Runtime> rt;
  std::shared_ptr<Module> module;
};

std::vector<float> ramp(size_t n, float a, float b) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = a * std::sin(float(i) * 0.37f) + b;
  return v;
}

TEST_F(RuntimeGpu, DeviceInfo) {
  const DeviceInfo& d = rt->device();
  EXPECT_FALSE(d.name.empty());
  EXPECT_GE(d.cc_major, 7);
  EXPECT_GT(d.sm_count, 0);
  EXPECT_GE(d.smem_per_block_optin, d.smem_per_block);
  EXPECT_GT(d.driver_version, 0);
  std::cout << d.name << " " << d.arch() << " SMs " << d.sm_count << " smem optin " << d.smem_per_block_optin
            << " driver " << d.driver_version << "\n";
}

TEST_F(RuntimeGpu, CompilesLaunchesAndCachesATrivialKernel) {
  const CudaDriver& drv = rt->driver();
  auto fn = module->function("saxpy");
  ASSERT_TRUE(fn.ok()) << fn.error();
  ASSERT_NE(module->compileInfo(), nullptr);
  if (module->compileInfo()->log.find("ptxas") == std::string::npos) {
    int regs = 0;
    ASSERT_TRUE(drv.check(drv.cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, *fn), "attribute").ok());
    EXPECT_GT(regs, 0);
    std::cout << "note: NVRTC printed no ptxas statistics here; the driver reports " << regs << " registers\n";
  } else {
    EXPECT_NE(module->compileInfo()->find("saxpy"), nullptr) << "NVRTC log:\n" << module->compileInfo()->log;
  }
  const int n = 1000;
  auto x = upload(ramp(n, 1, 0));
  auto y = upload(ramp(n, 2, 1));
  float a = 3;
  CUdeviceptr xp = x.address(), yp = y.address();
  int nn = n;
  void* args[] = {&a, &xp, &yp, &nn};
  ASSERT_TRUE(
      drv.check(drv.cuLaunchKernel(*fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr), "launch").ok());
  ASSERT_TRUE(ctxSync().ok());
  auto out = download(y);
  auto xs = ramp(n, 1, 0), ys = ramp(n, 2, 1);
  // The GPU contracts a*x+y into one FMA (one rounding), so allow an ulp of each term, not of the result.
  for (int i = 0; i < n; ++i)
    ASSERT_NEAR(out[i], 3 * xs[i] + ys[i], 2e-7f * (std::fabs(3 * xs[i]) + std::fabs(ys[i]))) << i;

  // A bad launch is an error with the driver's name for it, not a crash.
  Status bad = drv.check(drv.cuLaunchKernel(*fn, 1, 1, 1, 4096, 1, 1, 0, nullptr, args, nullptr), "launch");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("CUDA_ERROR_INVALID_VALUE"), std::string::npos) << bad.error();
  EXPECT_TRUE(ctxSync().ok());

  auto again = rt->compile(kMockSource);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->from_cache);
  EXPECT_EQ(again->module.get(), module.get());
  EXPECT_EQ(rt->cacheSize(), 1u);
  EXPECT_FALSE(module->function("no_such_kernel").ok());
}

TEST_F(RuntimeGpu, DiskCacheServesTheNextRuntimeAndReplacesABadEntry) {
  char tmpl[] = "/tmp/linrec-rt-cache-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string src = std::string(kMockSource) + "\n// variant for the disk cache test\n";
  // A runtime of its own (a new process, as far as the cache can tell) with the disk cache at `at`, and its
  // compile of src; the runtime lands in `holder`.
  auto compileInNewRuntime = [&](std::optional<std::string> at,
                                 std::unique_ptr<Runtime>& holder) -> Expected<CompiledModule> {
    auto r = Runtime::create(0);
    if (!r) return Error{r.error()};
    holder = std::move(*r);
    holder->setDiskCache(at);
    return holder->compile(src);
  };
  std::string key;
  {
    std::unique_ptr<Runtime> first;
    auto m = compileInNewRuntime(dir, first);
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_FALSE(m->from_disk);
    key = m->cache_key;
  }
  CompileCache cache(dir);
  ASSERT_TRUE(cache.load(key).has_value());

  // A new runtime loads the cubin and runs it.
  std::unique_ptr<Runtime> second;
  auto m = compileInNewRuntime(dir, second);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_TRUE(m->from_disk);
  EXPECT_EQ(m->cache_key, key);
  EXPECT_TRUE(m->module->function("saxpy").ok());
  ASSERT_NE(m->module->compileInfo(), nullptr);
  EXPECT_EQ(m->module->compileInfo()->stats.size(), module->compileInfo()->stats.size());

  // A cubin the driver refuses under a valid entry is compiled again, and the entry is replaced.
  CubinResult junk = *cache.load(key);
  junk.cubin.assign(64, 'x');
  ASSERT_TRUE(cache.store(key, junk).ok());
  std::unique_ptr<Runtime> third;
  auto again = compileInNewRuntime(dir, third);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_FALSE(again->from_disk);
  EXPECT_TRUE(again->module->function("saxpy").ok());
  auto repaired = cache.load(key);
  ASSERT_TRUE(repaired.has_value());
  EXPECT_NE(repaired->cubin, junk.cubin);

  // Off means off: nothing is read or written.
  std::unique_ptr<Runtime> off;
  auto fresh = compileInNewRuntime(std::nullopt, off);
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  EXPECT_FALSE(off->diskCacheDirectory().has_value());
  EXPECT_FALSE(fresh->from_disk);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_F(RuntimeGpu, ConcurrentCompilesShareOneModule) {
  const std::string src = std::string(kMockSource) + "\n// variant for the concurrency test\n";
  std::vector<std::shared_ptr<Module>> got(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto m = rt->compile(src);
      if (m) got[i] = m->module;
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    ASSERT_NE(got[i], nullptr);
    EXPECT_EQ(got[i].get(), got[0].get());
  }
}

TEST_F(RuntimeGpu, ForwardFillsFwdParams) {
  auto k = Kernel::create(module, std::string(kFwdDescriptor));
  ASSERT_TRUE(k.ok()) << k.error();
  const int B = 2, T = 37, H = 3, N = B;
  auto hq = ramp(B * T * H * 32, 1, 0), hv = ramp(B * T * H * 32, 0.5f, 0.25f), hg = ramp(B * T * H, 0.1f, 0);
  auto hA = ramp(H, 1, 2), hh0 = ramp(N * H * 32 * 32, 1, 0);
  auto q = upload(hq), kk = upload(hq), v = upload(hv), g = upload(hg), A = upload(hA), h0 = upload(hh0);
  auto o = upload(std::vector<float>(hv.size(), -1.f)), ht = upload(std::vector<float>(hh0.size(), 0.f));
  ForwardArgs a;
  a.q = TensorRef::contiguous(q.ptr(), DType::FP32, {B, T, H, 32});
  a.k = TensorRef::contiguous(kk.ptr(), DType::FP32, {B, T, H, 32});
  a.v = TensorRef::contiguous(v.ptr(), DType::FP32, {B, T, H, 32});
  a.o = TensorRef::contiguous(o.ptr(), DType::FP32, {B, T, H, 32});
  a.inputs = {TensorRef::contiguous(g.ptr(), DType::FP32, {B, T, H})};
  a.params = {TensorRef::contiguous(A.ptr(), DType::FP32, {H})};
  a.h0 = TensorRef::contiguous(h0.ptr(), DType::FP32, {N, H, 32, 32});
  a.ht = TensorRef::contiguous(ht.ptr(), DType::FP32, {N, H, 32, 32});
  a.scale = 0.5f;
  Status s = k->forward(a, nullptr);
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(ctxSync().ok());
  auto ho = download(o), hht = download(ht);
  const int nc = 2 * 3;  // per sequence ceil(37/16) = 3
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h)
      for (int c = 0; c < 32; ++c) {
        size_t srow = (size_t(n) * H + h) * 32 * 32;
        float acc = 0;
        for (int t = 0; t < T; ++t) {
          size_t tok = size_t(n) * T + t, i = (tok * H + h) * 32 + c;
          ASSERT_NEAR(ho[i], hq[i] * 0.5f + hg[tok * H + h] + hA[h] + hh0[srow + c], 1e-5) << n << " " << t;
          acc += hv[i];
        }
        ASSERT_NEAR(hht[srow + c], acc + hh0[srow + c] + nc, 1e-3);
      }
}

TEST_F(RuntimeGpu, ForwardVariableLengthReadsCuSeqlensBack) {
  auto k = Kernel::create(module, *LaunchDescriptor::fromJson(kFwdDescriptor));
  ASSERT_TRUE(k.ok()) << k.error();
  const int T = 50, H = 2;
  std::vector<int64_t> cu = {0, 7, 7, 50};
  auto hq = ramp(T * H * 32, 1, 0);
  auto q = upload(hq), v = upload(hq), g = upload(std::vector<float>(T * H, 0.f)), A = upload({0.f, 0.f});
  auto o = upload(std::vector<float>(hq.size(), 0.f)), ht = upload(std::vector<float>(3 * H * 32 * 32, 0.f));
  auto cub = rt->allocate(cu.size() * 8);
  ASSERT_TRUE(cub.ok());
  ASSERT_TRUE(cub->upload(cu.data(), cu.size() * 8).ok());
  ForwardArgs a;
  a.q = a.k = TensorRef::contiguous(q.ptr(), DType::FP32, {1, T, H, 32});
  a.v = TensorRef::contiguous(v.ptr(), DType::FP32, {1, T, H, 32});
  a.o = TensorRef::contiguous(o.ptr(), DType::FP32, {1, T, H, 32});
  a.inputs = {TensorRef::contiguous(g.ptr(), DType::FP32, {1, T, H})};
  a.params = {TensorRef::contiguous(A.ptr(), DType::FP32, {H})};
  a.ht = TensorRef::contiguous(ht.ptr(), DType::FP32, {3, H, 32, 32});
  a.cu_seqlens = TensorRef::contiguous(cub->ptr(), DType::I64, {4});
  Status s = k->forward(a, nullptr);  // no host copy: forward() reads the offsets back and checks them
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(ctxSync().ok());
  auto hht = download(ht);
  const int nc = 1 + 0 + 3;
  EXPECT_NEAR(hht[(size_t(1) * H) * 32 * 32], nc, 1e-5);  // the empty sequence: sum 0 + NC

  // Offsets that do not end at T are refused before any launch.
  std::vector<int64_t> bad = {0, 7, 7, 51};
  ASSERT_TRUE(cub->upload(bad.data(), bad.size() * 8).ok());
  s = k->forward(a, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("cu_seqlens: must end at T=50, ends at 51"), std::string::npos) << s.error();
}

TEST_F(RuntimeGpu, ValidationErrorsLaunchNothing) {
  auto k = Kernel::create(module, *LaunchDescriptor::fromJson(kFwdDescriptor));
  ASSERT_TRUE(k.ok()) << k.error();
  auto buf = upload(std::vector<float>(2 * 4 * 2 * 32, 7.f));
  ForwardArgs a;
  a.q = a.k = a.v = TensorRef::contiguous(buf.ptr(), DType::FP32, {2, 4, 2, 32});
  a.o = TensorRef::contiguous(buf.ptr(), DType::FP32, {2, 4, 2, 32});
  Status s = k->forward(a, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("declares 1 input(s), got 0"), std::string::npos) << s.error();
  ASSERT_TRUE(ctxSync().ok());
  for (float x : download(buf)) ASSERT_EQ(x, 7.f);
}

TEST_F(RuntimeGpu, KernelCreateChecksTheDescriptorAgainstTheModule) {
  auto d = *LaunchDescriptor::fromJson(kFwdDescriptor);
  d.kernels[0].name = "mock_fwd_typo";
  auto k = Kernel::create(module, d);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().find("no kernel named 'mock_fwd_typo'"), std::string::npos) << k.error();
  d = *LaunchDescriptor::fromJson(kFwdDescriptor);
  d.kernels[0].block_threads = 64;  // mock_fwd has __launch_bounds__(32)
  k = Kernel::create(module, d);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().find("the compiled kernel allows 32"), std::string::npos) << k.error();
  d = *LaunchDescriptor::fromJson(kFwdDescriptor);
  d.kernels[0].smem_bytes = 1 << 30;
  k = Kernel::create(module, d);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().find("bytes of dynamic"), std::string::npos) << k.error();
}

TEST_F(RuntimeGpu, OptsInToLargeDynamicSharedMemory) {
  if (rt->device().smem_per_block_optin < 100 * 1024) GTEST_SKIP() << "device allows less than 100 KiB";
  auto d = *LaunchDescriptor::fromJson(kFwdDescriptor);
  d.kernels[0].name = "mock_smem";
  d.kernels[0].smem_bytes = 100 * 1024;
  d.kernels[0].block_threads = 256;
  auto k = Kernel::create(module, d);
  ASSERT_TRUE(k.ok()) << k.error();
  auto buf = upload(std::vector<float>(4 * 32, 0.f));
  auto g = upload(std::vector<float>(4, 0.f)), A = upload({0.f});
  ForwardArgs a;
  a.q = a.k = a.v = TensorRef::contiguous(buf.ptr(), DType::FP32, {1, 4, 1, 32});
  auto o = upload(std::vector<float>(4 * 32, 0.f));
  a.o = TensorRef::contiguous(o.ptr(), DType::FP32, {1, 4, 1, 32});
  a.inputs = {TensorRef::contiguous(g.ptr(), DType::FP32, {1, 4, 1})};
  a.params = {TensorRef::contiguous(A.ptr(), DType::FP32, {1})};
  Status s = k->forward(a, nullptr);
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(ctxSync().ok());
  EXPECT_EQ(download(o)[0], float(100 * 1024 / 4 - 1));
}

TEST_F(RuntimeGpu, StatePassingStagesShareAPerStreamWorkspace) {
  auto d = LaunchDescriptor::fromJson(R"J({"dtype": "fp32", "K": 32, "V": 32, "chunk": 16, "strategy": "state_passing",
    "workspace_bytes": "NC*H*4",
    "kernels": [{"name": "mock_stage1", "stage": "chunk_local", "grid": {"x": "NC*H"}, "block_threads": 1},
                {"name": "mock_stage2", "stage": "chunk_output", "grid": {"x": "1"}, "block_threads": 1}]})J");
  ASSERT_TRUE(d.ok()) << d.error();
  auto k = Kernel::create(module, *d);
  ASSERT_TRUE(k.ok()) << k.error();
  for (int T : {40, 400}) {  // the second size grows the workspace
    const int B = 2, H = 3;
    StageArgs sa = stageArgs(B, T, H);
    const ForwardArgs& a = sa.args;
    auto need = k->workspaceBytes(a);
    ASSERT_TRUE(need.ok()) << need.error();
    int nch = B * ((T + 15) / 16) * H;
    EXPECT_EQ(*need, size_t(nch) * 4);
    Status s = k->forward(a, nullptr);
    ASSERT_TRUE(s.ok()) << s.error();
    ASSERT_TRUE(ctxSync().ok());
    EXPECT_EQ(download(sa.ht)[0], float(nch) * (nch + 1) / 2) << "T=" << T;
  }
}

// A forward whose last kernel is marked programmatic (as the delta rules' output kernel): launched beside the
// one before it with a nonzero epoch on sm_90, but in sequence with epoch 0 while its stream is captured
// into a graph, whose replays would reuse the epoch (Kernel.cpp, capturing).
TEST_F(RuntimeGpu, ForwardBesideUsesAnEpochExceptInAGraphCapture) {
  const CudaDriver& drv = rt->driver();
  auto d = LaunchDescriptor::fromJson(R"J({"dtype": "fp32", "K": 32, "V": 32, "chunk": 16, "strategy": "state_passing",
    "workspace_bytes": "NC*H*4",
    "kernels": [{"name": "mock_stage1", "stage": "chunk_local", "grid": {"x": "NC*H"}, "block_threads": 1},
                {"name": "mock_epoch", "stage": "chunk_output", "grid": {"x": "1"}, "block_threads": 32,
                 "programmatic": true}]})J");
  ASSERT_TRUE(d.ok()) << d.error();
  auto k = Kernel::create(module, *d);
  ASSERT_TRUE(k.ok()) << k.error();
  const int B = 1, T = 40, H = 2;
  StageArgs sa = stageArgs(B, T, H);
  ForwardArgs& a = sa.args;
  DeviceBuffer& ht = sa.ht;
  auto need = k->workspaceBytes(a);
  ASSERT_TRUE(need.ok()) << need.error();
  auto ws = rt->allocate(*need);
  ASSERT_TRUE(ws.ok()) << ws.error();
  a.workspace = ws->ptr();  // given, so that nothing is allocated inside the capture
  a.workspace_bytes = *need;
  auto epoch = [&] {
    unsigned long long e = 0;
    Status s = ht.download(&e, sizeof e);
    EXPECT_TRUE(s.ok()) << s.error();
    return e;
  };
  CUstream stream = nullptr;
  ASSERT_TRUE(drv.check(drv.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate").ok());
  struct Restore {
    const CudaDriver& d;
    CUstream s;
    ProgrammaticLaunch mode;
    ~Restore() {
      d.cuStreamDestroy(s);
      setProgrammaticLaunch(mode);
    }
  } restore{drv, stream, programmaticLaunch()};
  const bool can = rt->device().cc_major >= 9 && drv.cuLaunchKernelEx != nullptr;
  for (ProgrammaticLaunch m : {ProgrammaticLaunch::Beside, ProgrammaticLaunch::Auto, ProgrammaticLaunch::Off}) {
    setProgrammaticLaunch(m);
    ASSERT_TRUE(k->forward(a, stream).ok());
    ASSERT_TRUE(rt->synchronize(stream).ok());
    const unsigned long long e = epoch();
    // Auto: the kernel before has NC*H = 6 blocks, under half of any GPU's SMs.
    if (can && m != ProgrammaticLaunch::Off) {
      EXPECT_NE(e, 0u) << programmaticLaunchName(m);
      EXPECT_EQ(e & 1u, 0u) << "no kernel leads, so the prep does not run beside: bit 0 clear";
    } else {
      EXPECT_EQ(e, 0u) << programmaticLaunchName(m);
    }
  }
  setProgrammaticLaunch(ProgrammaticLaunch::Beside);
  std::vector<float> poison(size_t(B) * H * 32 * 32, -1.f);
  ASSERT_TRUE(ht.upload(poison.data(), poison.size() * sizeof(float)).ok());
  Status s = captureAndReplay(
      stream, [&] { return k->forward(a, stream); }, 2);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(epoch(), 0u) << "a captured forward must launch in sequence";
}

TEST_F(RuntimeGpu, StepIsCapturableInACudaGraph) {
  const CudaDriver& drv = rt->driver();
  auto d = LaunchDescriptor::fromJson(R"J({"dtype": "fp32", "K": 32, "V": 32,
    "kernels": [{"name": "mock_decode", "stage": "decode", "grid": {"x": "B*H"}, "block_threads": 32}]})J");
  ASSERT_TRUE(d.ok()) << d.error();
  auto k = Kernel::create(module, *d);
  ASSERT_TRUE(k.ok()) << k.error();
  const int B = 4, H = 2;
  auto hv = ramp(B * H * 32, 1, 0);
  auto q = upload(hv), v = upload(hv), o = upload(std::vector<float>(hv.size(), 0.f));
  auto state = upload(std::vector<float>(size_t(B) * H * 32 * 32, 0.f));
  StepArgs a;
  a.q = a.k = TensorRef::contiguous(q.ptr(), DType::FP32, {B, 1, H, 32});
  a.v = TensorRef::contiguous(v.ptr(), DType::FP32, {B, 1, H, 32});
  a.o = TensorRef::contiguous(o.ptr(), DType::FP32, {B, 1, H, 32});
  a.state = TensorRef::contiguous(state.ptr(), DType::FP32, {B, H, 32, 32});
  a.scale = 2.f;

  CUstream stream = nullptr;
  ASSERT_TRUE(drv.check(drv.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate").ok());
  struct StreamGuard {
    const CudaDriver& d;
    CUstream s;
    ~StreamGuard() { d.cuStreamDestroy(s); }
  } sg{drv, stream};
  Status s = captureAndReplay(
      stream, [&] { return k->step(a, stream); }, 3);
  ASSERT_TRUE(s.ok()) << s.error();
  auto hs = download(state), ho = download(o);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int c = 0; c < 32; ++c) {
        size_t i = (size_t(b) * H + h) * 32 + c, srow = (size_t(b) * H + h) * 32 * 32;
        ASSERT_NEAR(hs[srow + c], 3 * hv[i], 1e-5);
        ASSERT_NEAR(ho[i], 2 * 3 * hv[i], 1e-5);
      }
}

}  // namespace
}  // namespace linrec
