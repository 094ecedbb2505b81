// The kernel headers run on the CPU emulator (emu/) against the float64 reference: every family, three shapes/dtypes.
//
// The modules are the generated TUs specialised at build time (tests/kernels/CMakeLists.txt):
//   a = bf16, C 64, BV 64, 4 warps;
//   b = fp32, C 32, BV 32, 2 warps, V = 80 (a partial V-tile);
//   c = fp16, C 16, BV 16, 8 warps, K not a multiple of 32, V = 36;
//   d and e (linear_attn, retention, simple_gla, gla and the delta rules, whose d at C = 128 takes the phase
//   kernel) are the register-state fused kernel's other warp layouts;
//   gla's f has more keys than threads (K = 96, 2 warps) and its g four threads per key (K = 32, 4 warps);
//   gated_delta_rule's f: V = 40, so the last U tile of chunk_fwd_wy is 8 columns wide, on 2 warps;
//   delta_rule's g: two stripes per warp (C = 64 on 2 warps).
//   gated_delta_rule's h and kda's d: the register-state delta scan with four key slices (BV = 16, 4 warps)
//   and rings of 3 and 4 stages; gated_delta_rule's i: C = 16 through the state-passing WY prep, the
//   register scan and the register output kernel; kda's e: the per-key WY prep in fp16, whose strongly
//   decaying stripes take the exact diagonal blocks; kda's f (C = 16) and g (8 warps): that path's other shapes.
// Each case also runs under a second fiber schedule and must give bit-identical results, which catches
// missing barriers.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "EmulatorRuntime.h"
#include "KernelHarness.h"
#include "linrec/dsl/Parser.h"
#include "linrec/kernel/layout.cuh"
#include "linrec/runtime/KernelAbi.h"

#ifndef LINREC_EMU_MODULE_DIR
#define LINREC_EMU_MODULE_DIR "."
#endif

namespace linrec::kerneltest {
namespace {

/// Host memory as device memory; launches go through the fiber emulator.
class EmuDevice : public Device {
 public:
  ~EmuDevice() override {
    if (module_) dlclose(module_);
  }
  std::string load(const std::string& path) {
    module_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    return module_ ? std::string() : std::string("dlopen ") + path + ": " + dlerror();
  }
  linrec_emu::Schedule schedule = linrec_emu::Schedule::Forward;

  std::string alloc(size_t bytes, void** out) override {
    *out = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
    return *out ? std::string() : std::string("out of memory");
  }
  std::string upload(void* dst, const void* src, size_t n) override {
    std::memcpy(dst, src, n);
    return {};
  }
  std::string download(void* dst, const void* src, size_t n) override {
    std::memcpy(dst, src, n);
    return {};
  }
  void release(void* p) override { std::free(p); }
  std::string launch(const std::string& kernel, unsigned gx, unsigned gy, unsigned gz, unsigned threads, unsigned smem,
                     const void* params, size_t params_bytes) override {
    void* sym = dlsym(module_, kernel.c_str());
    if (!sym) return "no symbol " + kernel + " in the emulated module";
    linrec_emu::LaunchConfig cfg;
    cfg.grid = {gx, gy, gz};
    cfg.block = {threads, 1, 1};
    cfg.smem_bytes = smem;
    cfg.schedule = schedule;
    if (kernel.rfind("linrec_decode_", 0) == 0) {
      if (params_bytes != sizeof(abi::DecodeParams)) return "decode params size mismatch";
      abi::DecodeParams p;
      std::memcpy(&p, params, sizeof(p));
      return linrec_emu::launchKernel(cfg, reinterpret_cast<void (*)(abi::DecodeParams)>(sym), p);
    }
    if (params_bytes != sizeof(abi::FwdParams)) return "forward params size mismatch";
    abi::FwdParams p;
    std::memcpy(&p, params, sizeof(p));
    return linrec_emu::launchKernel(cfg, reinterpret_cast<void (*)(abi::FwdParams)>(sym), p);
  }
  std::string synchronize() override { return {}; }

 private:
  void* module_ = nullptr;
};

/// The module of one family and tag, with its spec and TU text.
struct Loaded {
  std::unique_ptr<EmuDevice> dev;
  dsl::Spec spec;
  std::string tu;
  TuShape shape;
  std::string error;
};

/// Fills `l` with the spec, TU and shape of one family and tag (no module loaded); l.error says what went wrong.
void describe(Loaded& l, const std::string& family, const std::string& tag) {
  const Family* f = findFamily(family);
  if (!f) {
    l.error = "unknown family " + family;
    return;
  }
  auto parsed = dsl::parseSpec(f->toml, family + ".toml");
  if (!parsed.ok()) {
    l.error = parsed.errorText();
    return;
  }
  l.spec = *parsed.spec;
  // The module's TU is the generated one with the Variant/Config lines rewritten; its text is in the
  // module's source, next to the modules.
  bool ok = false;
  l.tu = readFile(std::string(LINREC_EMU_MODULE_DIR) + "/../emu_src/" + family + "_" + tag + ".cpp", &ok);
  if (!ok) {
    l.error = "cannot read the emulated module's source for " + family + "_" + tag;
    return;
  }
  if (!parseTuShape(l.tu, l.shape)) l.error = "bad TU shape lines";
}

/// describe, then the module itself.
void load(Loaded& l, const std::string& family, const std::string& tag) {
  describe(l, family, tag);
  if (!l.error.empty()) return;
  l.dev = std::make_unique<EmuDevice>();
  l.error = l.dev->load(std::string(LINREC_EMU_MODULE_DIR) + "/" + family + "_" + tag + ".so");
}

struct EmuCase {
  std::string family, tag;
};

void PrintTo(const EmuCase& c, std::ostream* os) { *os << c.family << " module " << c.tag; }

class Emulated : public testing::TestWithParam<EmuCase> {};
/// The modules that run the register-state fused kernel (segmentCases()).
class EmulatedSegments : public testing::TestWithParam<EmuCase> {};

std::string name(const testing::TestParamInfo<EmuCase>& i) {
  return i.param.family + "_" + i.param.tag;
}

void expectClose(const Outcome& o, const Loaded& l, const std::string& what) {
  const double tol = tolerance(l.shape.dtype);
  ASSERT_TRUE(o.error.empty()) << what << ": " << o.error;
  if (std::getenv("LINREC_TEST_VERBOSE"))
    std::printf("  %s: err o %.3g state %.3g z %.3g\n", what.c_str(), o.err_o, o.err_state, o.err_z);
  EXPECT_LE(o.err_o, tol) << what << ": o";
  EXPECT_LE(o.err_state, tol) << what << ": final state";
  if (l.spec.normalize) {
    EXPECT_LE(o.err_z, tol) << what << ": final z";
  }
}

/// Runs a prefill case under two schedules: it must match the reference and be bit-identical.
void prefill(Loaded& l, const Case& c) {
  l.dev->schedule = linrec_emu::Schedule::Forward;
  const Outcome a = runPrefill(*l.dev, l.spec, l.tu, l.shape, c);
  expectClose(a, l, c.describe());
  l.dev->schedule = linrec_emu::Schedule::Reverse;
  const Outcome b = runPrefill(*l.dev, l.spec, l.tu, l.shape, c);
  ASSERT_TRUE(b.error.empty()) << b.error;
  EXPECT_TRUE(a.raw_o == b.raw_o) << c.describe() << ": o depends on the thread schedule (a race)";
  EXPECT_TRUE(a.raw_state == b.raw_state) << c.describe() << ": state depends on the thread schedule (a race)";
}

TEST_P(Emulated, Prefill) {
  Loaded l;
  load(l, GetParam().family, GetParam().tag);
  ASSERT_TRUE(l.error.empty()) << l.error;
  for (bool sp : {false, true}) {
    Case c;
    c.state_passing = sp;
    c.B = 2;
    c.H = 2;
    c.T = 1;  // a single token
    prefill(l, c);
    c.B = 1;
    c.T = l.shape.C - 1;  // a partial chunk, with an initial state
    c.initial_state = true;
    c.seed = 2;
    prefill(l, c);
    c.T = 2 * l.shape.C + 5;  // several chunks, the last partial
    c.initial_state = sp;
    c.seed = 3;
    prefill(l, c);
    // A ragged varlen batch: empty, one token, a chunk boundary crossed, an exact chunk.
    c.cu_seqlens = {0, 0, 1, 1 + l.shape.C + 3, 1 + l.shape.C + 3 + l.shape.C};
    c.T = static_cast<int>(c.cu_seqlens.back());
    c.initial_state = true;
    c.seed = 4;
    prefill(l, c);
    if (sp && l.shape.Stages > 2) {  // the delta scan's ring of Stages chunks wraps around
      c.cu_seqlens.clear();
      c.B = 2;
      c.T = (2 * l.shape.Stages + 1) * l.shape.C + 3;
      c.seed = 6;
      prefill(l, c);
    }
  }
}

// Sequence segments of the register-state fused kernel (fused_regs.cuh): the seg_state and seg_scan stages,
// then the fused kernel with grid z = segments. Segments past a short sequence's end are empty, and an empty
// last segment still owes ht.
TEST_P(EmulatedSegments, Prefill) {
  Loaded l;
  load(l, GetParam().family, GetParam().tag);
  ASSERT_TRUE(l.error.empty()) << l.error;
  const TuShape& sh = l.shape;
  Case c;
  c.B = 2;
  c.H = 2;
  c.T = 5 * sh.C + 7;  // six chunks in three segments of two
  c.segments = 3;
  c.initial_state = true;
  c.seed = 11;
  prefill(l, c);
  c.B = 1;
  c.T = 11 * sh.C + 5;  // six chunks per segment: chunk_fwd_seg_state's ring (up to 4 stages) wraps
  c.segments = 2;
  c.seed = 14;
  prefill(l, c);
  c.T = sh.C;  // one chunk: the second (last) segment is empty
  c.segments = 2;
  c.initial_state = false;
  c.seed = 12;
  prefill(l, c);
  // Ragged varlen: 0, 1, 2 and 4 chunks in four segments.
  c.cu_seqlens = {0, 0, 1, 1 + sh.C + 3, 1 + sh.C + 3 + 4 * sh.C};
  c.T = static_cast<int>(c.cu_seqlens.back());
  c.segments = 4;
  c.initial_state = true;
  c.seed = 13;
  prefill(l, c);
}

TEST_P(Emulated, PrefillThenDecode) {
  Loaded l;
  load(l, GetParam().family, GetParam().tag);
  ASSERT_TRUE(l.error.empty()) << l.error;
  Case c;
  c.B = 2;
  c.H = 2;
  c.T = l.shape.C + 3;
  c.initial_state = true;
  c.seed = 5;
  const Outcome o = runPrefillThenDecode(*l.dev, l.spec, l.tu, l.shape, c, l.shape.C - 2);
  expectClose(o, l, "prefill " + std::to_string(l.shape.C - 2) + " then decode: " + c.describe());
  c.T = 3;
  c.initial_state = false;
  const Outcome d = runPrefillThenDecode(*l.dev, l.spec, l.tu, l.shape, c, 0);
  expectClose(d, l, "decode only: " + c.describe());
}

// Long sequences (T = 1000 and 4096) are not emulated: under the emulator they take minutes, and the
// gpu-labelled e2e_gpu_test runs them for real on the device (bench/results/).

std::vector<EmuCase> cases() {
  std::vector<EmuCase> out;
  for (const Family& f : families())
    for (const char* tag : {"a", "b", "c"}) out.push_back({f.name, tag});
  // Modules d and e exist for the families that take the register-state fused kernel (CMakeLists.txt).
  for (const char* family : {"linear_attn", "retention", "simple_gla", "gla", "delta_rule", "gated_delta_rule"})
    for (const char* tag : {"d", "e"}) out.push_back({family, tag});
  out.push_back({"gla", "f"});
  out.push_back({"gated_delta_rule", "f"});
  out.push_back({"delta_rule", "g"});
  out.push_back({"gated_delta_rule", "h"});
  out.push_back({"gated_delta_rule", "i"});
  out.push_back({"kda", "d"});
  out.push_back({"kda", "e"});
  out.push_back({"kda", "f"});
  out.push_back({"kda", "g"});
  out.push_back({"gla", "g"});
  return out;
}

/// The cases whose module takes the register-state fused kernel (layout.cuh fused_regs_applies), read from
/// the modules' sources when the tests are registered; a module whose source cannot be read stays in, so
/// that its test fails and says why.
std::vector<EmuCase> segmentCases() {
  std::vector<EmuCase> out;
  for (const EmuCase& c : cases()) {
    Loaded l;
    describe(l, c.family, c.tag);
    if (!l.error.empty() || takesRegisterPath(l.tu, l.shape, l.spec.normalize, l.spec.decay == dsl::DecayKind::Vector))
      out.push_back(c);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Families, Emulated, testing::ValuesIn(cases()), name);
INSTANTIATE_TEST_SUITE_P(Families, EmulatedSegments, testing::ValuesIn(segmentCases()), name);

}  // namespace
}  // namespace linrec::kerneltest
