// GPU test (label gpu): every generated TU, NVRTC-compiled for the device, on random inputs vs the float64 reference.
//
// The driver API is dlopen'ed ("libcuda.so.1"), never linked: on a machine without a GPU (or without the
// driver) every test skips with the reason. Outputs are poisoned with NaN before each launch and NaN never
// passes. Covered per family and K = V in {64, 128} (based: K = 16), bf16 and fp32: T in {1, 63, 64, 1000},
// with and without an initial state, a ragged varlen batch, fused and state passing, and a
// prefill followed by decode steps against the reference over the whole sequence.
#include <cuda.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <nvrtc.h>

#include <map>
#include <memory>
#include <mutex>

#include "KernelHarness.h"
#include "linrec/dsl/Parser.h"
#include "linrec/kernel/layout.cuh"

namespace linrec::kerneltest {
namespace {

/// The driver entry points this test uses, resolved from libcuda.so.1.
struct Driver {
  void* lib = nullptr;
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice*, int) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int*, CUdevice_attribute, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuModuleLoadData)(CUmodule*, const void*) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction, CUfunction_attribute, int) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream,
                             void**, void**) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char**) = nullptr;
  CUcontext ctx = nullptr;
  CUdevice dev = 0;
  std::string arch;         ///< e.g. sm_90
  std::string unavailable;  ///< why there is no GPU to test on ("" when there is)

  std::string err(CUresult r, const char* what) const {
    if (r == CUDA_SUCCESS) return {};
    const char* s = nullptr;
    if (cuGetErrorString) cuGetErrorString(r, &s);
    return std::string(what) + ": " + (s ? s : "CUDA error " + std::to_string(static_cast<int>(r)));
  }
};

template <class F>
bool resolve(void* lib, F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  return f != nullptr;
}

Driver& driver() {
  static Driver d;
  static std::once_flag once;
  std::call_once(once, [] {
    d.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!d.lib) {
      d.unavailable = std::string("libcuda.so.1 cannot be loaded (no NVIDIA driver): ") + dlerror();
      return;
    }
    bool ok =
        resolve(d.lib, d.cuInit, "cuInit") && resolve(d.lib, d.cuDeviceGet, "cuDeviceGet") &&
        resolve(d.lib, d.cuDeviceGetAttribute, "cuDeviceGetAttribute") &&
        resolve(d.lib, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") &&
        resolve(d.lib, d.cuCtxSetCurrent, "cuCtxSetCurrent") &&
        resolve(d.lib, d.cuModuleLoadData, "cuModuleLoadData") && resolve(d.lib, d.cuModuleUnload, "cuModuleUnload") &&
        resolve(d.lib, d.cuModuleGetFunction, "cuModuleGetFunction") &&
        resolve(d.lib, d.cuFuncSetAttribute, "cuFuncSetAttribute") &&
        resolve(d.lib, d.cuLaunchKernel, "cuLaunchKernel") && resolve(d.lib, d.cuCtxSynchronize, "cuCtxSynchronize") &&
        resolve(d.lib, d.cuMemAlloc, "cuMemAlloc_v2") && resolve(d.lib, d.cuMemFree, "cuMemFree_v2") &&
        resolve(d.lib, d.cuMemcpyHtoD, "cuMemcpyHtoD_v2") && resolve(d.lib, d.cuMemcpyDtoH, "cuMemcpyDtoH_v2") &&
        resolve(d.lib, d.cuGetErrorString, "cuGetErrorString");
    if (!ok) {
      d.unavailable = "libcuda.so.1 lacks a driver API entry point this test needs";
      return;
    }
    if (CUresult r = d.cuInit(0); r != CUDA_SUCCESS) {
      d.unavailable = d.err(r, "cuInit (no usable GPU)");
      return;
    }
    if (CUresult r = d.cuDeviceGet(&d.dev, 0); r != CUDA_SUCCESS) {
      d.unavailable = d.err(r, "cuDeviceGet(0)");
      return;
    }
    int major = 0, minor = 0;
    d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d.dev);
    d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d.dev);
    if (major < 8) {
      d.unavailable = "the GPU is sm_" + std::to_string(major * 10 + minor) + "; linrec kernels need sm_80+";
      return;
    }
    d.arch = "sm_" + std::to_string(major * 10 + minor);
    if (CUresult r = d.cuDevicePrimaryCtxRetain(&d.ctx, d.dev); r != CUDA_SUCCESS) {
      d.unavailable = d.err(r, "cuDevicePrimaryCtxRetain");
      return;
    }
    if (CUresult r = d.cuCtxSetCurrent(d.ctx); r != CUDA_SUCCESS) d.unavailable = d.err(r, "cuCtxSetCurrent");
  });
  return d;
}

/// NVRTC: the TU with the kernel headers from memory, to a cubin for `arch`.
std::string compileCubin(const std::string& src, const std::string& arch, std::string& cubin) {
  static const auto headers = kernelHeaders();
  std::vector<const char*> text, names;
  for (const auto& h : headers) {
    names.push_back(h.first.c_str());
    text.push_back(h.second.c_str());
  }
  nvrtcProgram prog = nullptr;
  if (nvrtcCreateProgram(&prog, src.c_str(), "tu.cu", static_cast<int>(headers.size()), text.data(), names.data()) !=
      NVRTC_SUCCESS)
    return "nvrtcCreateProgram failed";
  const std::string a = "--gpu-architecture=" + arch;
  const char* opts[] = {"-std=c++17", a.c_str(), "-default-device"};
  const nvrtcResult r = nvrtcCompileProgram(prog, 3, opts);
  std::string log;
  size_t n = 0;
  nvrtcGetProgramLogSize(prog, &n);
  log.resize(n);
  if (n) nvrtcGetProgramLog(prog, log.data());
  std::string error;
  if (r != NVRTC_SUCCESS) {
    error = "NVRTC: " + log;
  } else {
    size_t bytes = 0;
    nvrtcGetCUBINSize(prog, &bytes);
    cubin.resize(bytes);
    nvrtcGetCUBIN(prog, cubin.data());
  }
  nvrtcDestroyProgram(&prog);
  return error;
}

/// Device memory and launches through the driver API, for one loaded module.
class GpuDevice : public Device {
 public:
  explicit GpuDevice(Driver& d) : d_(d) {}
  ~GpuDevice() override {
    if (module_) d_.cuModuleUnload(module_);
  }
  std::string load(const std::string& tu) {
    // Prefill and PrefillThenDecode of one parameter share the TU: compile it once.
    static std::map<std::string, std::string> cache;
    auto it = cache.find(tu);
    if (it == cache.end()) {
      std::string cubin;
      if (std::string e = compileCubin(tu, d_.arch, cubin); !e.empty()) return e;
      it = cache.emplace(tu, std::move(cubin)).first;
    }
    return d_.err(d_.cuModuleLoadData(&module_, it->second.data()), "cuModuleLoadData");
  }
  std::string alloc(size_t bytes, void** out) override {
    CUdeviceptr p = 0;
    std::string e = d_.err(d_.cuMemAlloc(&p, bytes), "cuMemAlloc");
    *out = reinterpret_cast<void*>(p);
    return e;
  }
  std::string upload(void* dst, const void* src, size_t n) override {
    return d_.err(d_.cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(dst), src, n), "cuMemcpyHtoD");
  }
  std::string download(void* dst, const void* src, size_t n) override {
    return d_.err(d_.cuMemcpyDtoH(dst, reinterpret_cast<CUdeviceptr>(src), n), "cuMemcpyDtoH");
  }
  void release(void* p) override { d_.cuMemFree(reinterpret_cast<CUdeviceptr>(p)); }
  std::string launch(const std::string& kernel, unsigned gx, unsigned gy, unsigned gz, unsigned threads, unsigned smem,
                     const void* params, size_t) override {
    CUfunction f = nullptr;
    if (std::string e = d_.err(d_.cuModuleGetFunction(&f, module_, kernel.c_str()), kernel.c_str()); !e.empty())
      return e;
    if (smem > 48 * 1024)
      if (std::string e =
              d_.err(d_.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(smem)),
                     "cuFuncSetAttribute(max dynamic smem)");
          !e.empty())
        return e + " (" + std::to_string(smem) + " bytes)";
    void* args[] = {const_cast<void*>(params)};
    return d_.err(d_.cuLaunchKernel(f, gx, gy, gz, threads, 1, 1, smem, nullptr, args, nullptr),
                  ("cuLaunchKernel " + kernel).c_str());
  }
  std::string synchronize() override { return d_.err(d_.cuCtxSynchronize(), "cuCtxSynchronize"); }

 private:
  Driver& d_;
  CUmodule module_ = nullptr;
};

/// One module under test: a family at key width K (V = K, based: V = 64 or 128 with K = 16) in a dtype.
struct GpuCase {
  std::string family;
  int KV;
  std::string dtype;
};

void PrintTo(const GpuCase& c, std::ostream* os) { *os << c.family << " K=V=" << c.KV << " " << c.dtype; }

std::string caseName(const testing::TestParamInfo<GpuCase>& i) {
  return i.param.family + "_kv" + std::to_string(i.param.KV) + "_" + i.param.dtype;
}

/// The spec, shape and specialised TU of a case (no GPU needed); error says what went wrong.
struct GpuModule {
  dsl::Spec spec;
  TuShape shape;
  std::string tu, error;
};
GpuModule prepare(const GpuCase& c) {
  GpuModule m;
  const Family* f = findFamily(c.family);
  if (f == nullptr) {
    m.error = "unknown family " + c.family;
    return m;
  }
  auto parsed = dsl::parseSpec(f->toml, c.family + ".toml");
  if (!parsed.ok()) {
    m.error = parsed.errorText();
    return m;
  }
  m.spec = *parsed.spec;
  bool ok = false;
  const std::string tu = readFile(tuPath(c.family), &ok);
  if (!ok || !parseTuShape(tu, m.shape)) {
    m.error = "cannot read the TU shape of " + tuPath(c.family);
    return m;
  }
  TuShape& s = m.shape;
  if (s.K != 16) s.K = c.KV;  // based keeps K = 16 (K' = 273)
  s.V = c.KV;
  s.KF = featureWidthOf(tu, s.K);
  s.dtype = c.dtype;
  // Wide feature maps at K = 128 (hedgehog: K' = 256) do not fit the TU's chunk in shared memory:
  // halve C, then BV, until the fused kernel fits a Hopper SM, as the tuner would.
  const bool vec = m.spec.decay == dsl::DecayKind::Vector, delta = m.spec.rule == dsl::UpdateRule::Delta;
  auto bytes = [&] { return kern::fused_smem_bytes(s.K, s.KF, s.C, s.BV, s.Warps, vec, delta, m.spec.normalize); };
  while (bytes() > 227 * 1024 && s.C > 16) s.C /= 2;
  while (bytes() > 227 * 1024 && s.BV > 16) s.BV /= 2;
  m.tu = specialize(tu, s);
  return m;
}

class Gpu : public testing::TestWithParam<GpuCase> {
 protected:
  void SetUp() override {
    Driver& d = driver();
    if (!d.unavailable.empty()) GTEST_SKIP() << d.unavailable;
    GpuModule m = prepare(GetParam());
    ASSERT_TRUE(m.error.empty()) << m.error;
    spec_ = m.spec;
    shape_ = m.shape;
    tu_ = m.tu;
    dev_ = std::make_unique<GpuDevice>(d);
    const std::string e = dev_->load(tu_);
    ASSERT_TRUE(e.empty()) << e;
  }

  void check(const Outcome& o, const std::string& what) {
    const double tol = tolerance(shape_.dtype);
    ASSERT_TRUE(o.error.empty()) << what << ": " << o.error;
    EXPECT_LE(o.err_o, tol) << what << ": o";
    EXPECT_LE(o.err_state, tol) << what << ": final state";
    if (spec_.normalize) {
      EXPECT_LE(o.err_z, tol) << what << ": final z";
    }
  }

  dsl::Spec spec_;
  TuShape shape_;
  std::string tu_;
  std::unique_ptr<GpuDevice> dev_;
};

TEST_P(Gpu, Prefill) {
  for (bool sp : {false, true}) {
    for (int T : {1, 63, 64, 1000})
      for (bool h0 : {false, true}) {
        Case c;
        c.B = 2;
        c.H = 4;
        c.T = T;
        c.initial_state = h0;
        c.state_passing = sp;
        c.seed = static_cast<uint64_t>(T) * 2 + h0;
        check(runPrefill(*dev_, spec_, tu_, shape_, c), c.describe());
      }
    Case v;
    v.H = 4;
    v.cu_seqlens = {0, 1, 64, 64 + 63, 64 + 63 + 200, 64 + 63 + 200 + 700};
    v.T = static_cast<int>(v.cu_seqlens.back());
    v.initial_state = true;
    v.state_passing = sp;
    v.seed = 7;
    check(runPrefill(*dev_, spec_, tu_, shape_, v), v.describe());
  }
}

// Sequence segments of the register-state fused kernel: 2..7 segments of uneven sequences (16 chunks of
// 64 in a T = 1000 sequence), varlen with segments past the short sequences' ends, with and without h0.
/// The cases that run the register-state fused kernel (segmentCases()).
class GpuSegments : public Gpu {};

TEST_P(GpuSegments, Prefill) {
  for (int segs : {2, 3, 7})
    for (bool h0 : {false, true}) {
      Case c;
      c.B = 2;
      c.H = 4;
      c.T = 1000;
      c.segments = segs;
      c.initial_state = h0;
      c.seed = 100 + static_cast<uint64_t>(segs) * 2 + h0;
      check(runPrefill(*dev_, spec_, tu_, shape_, c), c.describe());
    }
  Case v;
  v.H = 4;
  v.cu_seqlens = {0, 1, 64, 64 + 63, 64 + 63 + 200, 64 + 63 + 200 + 700};
  v.T = static_cast<int>(v.cu_seqlens.back());
  v.initial_state = true;
  v.segments = 5;
  v.seed = 9;
  check(runPrefill(*dev_, spec_, tu_, shape_, v), v.describe());
}

TEST_P(Gpu, PrefillThenDecode) {
  Case c;
  c.B = 3;
  c.H = 4;
  c.T = 100;
  c.initial_state = true;
  c.seed = 11;
  check(runPrefillThenDecode(*dev_, spec_, tu_, shape_, c, 70), "prefill 70 then 30 decode steps: " + c.describe());
  c.T = 5;
  c.initial_state = false;
  check(runPrefillThenDecode(*dev_, spec_, tu_, shape_, c, 0), "5 decode steps from zeros: " + c.describe());
}

std::vector<GpuCase> gpuCases() {
  std::vector<GpuCase> out;
  for (const Family& f : families())
    for (int kv : {64, 128})
      for (const char* dt : {"BF16", "FP32"}) out.push_back({f.name, kv, dt});
  return out;
}

/// The cases whose module takes the register-state fused kernel (layout.cuh fused_regs_applies), decided
/// from the TU and spec when the tests are registered; a case that cannot be prepared stays in, so that
/// its test fails and says why.
std::vector<GpuCase> segmentCases() {
  std::vector<GpuCase> out;
  for (const GpuCase& c : gpuCases()) {
    const GpuModule m = prepare(c);
    if (!m.error.empty() || takesRegisterPath(m.tu, m.shape, m.spec.normalize, m.spec.decay == dsl::DecayKind::Vector))
      out.push_back(c);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Families, Gpu, testing::ValuesIn(gpuCases()), caseName);
INSTANTIATE_TEST_SUITE_P(Families, GpuSegments, testing::ValuesIn(segmentCases()), caseName);

}  // namespace
}  // namespace linrec::kerneltest
