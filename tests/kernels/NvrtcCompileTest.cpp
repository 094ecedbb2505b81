// NVRTC compiles every generated example TU with the kernel headers from memory, per arch and config (no GPU).
#include <gtest/gtest.h>
#include <nvrtc.h>

#include <map>
#include <regex>
#include <sstream>

#include "KernelSources.h"
#include "linrec/kernel/layout.cuh"

namespace linrec::kerneltest {
namespace {

/// What ptxas reported for one entry.
struct EntryStats {
  int registers = -1;
  long long stack = 0, spill_stores = 0, spill_loads = 0;
};

struct CompileResult {
  bool ok = false;
  std::string log;
  size_t cubin_bytes = 0;
  std::map<std::string, EntryStats> entries;
};

std::map<std::string, EntryStats> parsePtxas(const std::string& log) {
  static const std::regex kEntry(R"(Compiling entry function '([^']+)')");
  static const std::regex kProps(R"(Function properties for (\S+))");
  static const std::regex kFrame(R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex kRegs(R"(Used (\d+) registers)");
  std::map<std::string, EntryStats> out;
  std::istringstream in(log);
  std::string line, entry, props;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, kEntry)) {
      entry = m[1];
      out[entry];
    } else if (std::regex_search(line, m, kProps)) {
      props = m[1];
    } else if (std::regex_search(line, m, kFrame) && out.count(props)) {
      EntryStats& s = out[props];
      s.stack = std::stoll(m[1]);
      s.spill_stores = std::stoll(m[2]);
      s.spill_loads = std::stoll(m[3]);
    } else if (std::regex_search(line, m, kRegs) && out.count(entry)) {
      out[entry].registers = std::stoi(m[1]);
    }
  }
  return out;
}

CompileResult compile(const std::string& name, const std::string& source, const std::string& arch) {
  static const std::vector<std::pair<std::string, std::string>> headers = kernelHeaders();
  std::vector<const char*> hdr_text, hdr_names;
  for (const auto& h : headers) {
    hdr_names.push_back(h.first.c_str());
    hdr_text.push_back(h.second.c_str());
  }
  CompileResult r;
  nvrtcProgram prog = nullptr;
  if (nvrtcCreateProgram(&prog, source.c_str(), name.c_str(), static_cast<int>(headers.size()), hdr_text.data(),
                         hdr_names.data()) != NVRTC_SUCCESS) {
    r.log = "nvrtcCreateProgram failed";
    return r;
  }
  const std::string arch_opt = "--gpu-architecture=" + arch;
  const char* opts[] = {"-std=c++17", arch_opt.c_str(), "-default-device", "--ptxas-options=-v"};
  const nvrtcResult res = nvrtcCompileProgram(prog, 4, opts);
  size_t n = 0;
  nvrtcGetProgramLogSize(prog, &n);
  r.log.resize(n);
  if (n > 0) nvrtcGetProgramLog(prog, r.log.data());
  if (res == NVRTC_SUCCESS) {
    nvrtcGetCUBINSize(prog, &r.cubin_bytes);
    r.ok = r.cubin_bytes > 0;
  }
  nvrtcDestroyProgram(&prog);
  r.entries = parsePtxas(r.log);
  return r;
}

/// One compile: a family's TU, an arch, and a Config override (C = 0: the TU's own config).
struct CompileCase {
  std::string family;
  std::string arch;
  int C = 0, BV = 0, Warps = 0;
  std::string dtype;
};

void PrintTo(const CompileCase& c, std::ostream* os) {
  *os << c.family << " " << c.arch;
  if (c.C > 0) *os << " C=" << c.C << " BV=" << c.BV << " Warps=" << c.Warps << " " << c.dtype;
}

std::string caseName(const testing::TestParamInfo<CompileCase>& info) {
  const CompileCase& c = info.param;
  std::string s = c.family + "_" + c.arch;
  if (c.C > 0)
    s += "_c" + std::to_string(c.C) + "_bv" + std::to_string(c.BV) + "_w" + std::to_string(c.Warps) + "_" + c.dtype;
  else
    s += "_default";
  return s;
}

std::vector<CompileCase> allCases() {
  std::vector<CompileCase> out;
  // The default config on both archs (spill-checked), and per arch a sample of the tuner's space: small and
  // large chunks and V-tiles, all three dtypes, 2 to 8 warps.
  const CompileCase overrides[] = {{"", "", 32, 32, 2, "FP32"},
                                   {"", "", 32, 64, 4, "BF16"},
                                   {"", "", 64, 32, 8, "FP32"},
                                   {"", "", 16, 16, 4, "FP16"}};
  for (const Family& f : families()) {
    for (const char* arch : {"sm_80", "sm_90"}) {
      out.push_back({f.name, arch, 0, 0, 0, ""});
      for (const CompileCase& o : overrides) out.push_back({f.name, arch, o.C, o.BV, o.Warps, o.dtype});
    }
  }
  return out;
}

class NvrtcCompile : public testing::TestWithParam<CompileCase> {};

TEST_P(NvrtcCompile, CompilesWithoutErrors) {
  const CompileCase& c = GetParam();
  bool ok = false;
  const std::string tu = readFile(tuPath(c.family), &ok);
  ASSERT_TRUE(ok) << "cannot read " << tuPath(c.family);
  TuShape shape;
  ASSERT_TRUE(parseTuShape(tu, shape)) << c.family << ": TU lines not in the documented form";
  std::string src = tu;
  if (c.C > 0) {
    shape.C = c.C;
    shape.BV = c.BV;
    shape.Warps = c.Warps;
    shape.dtype = c.dtype;
    src = specialize(tu, shape);
  }
  const CompileResult r = compile(c.family + ".cu", src, c.arch);
  ASSERT_TRUE(r.ok) << "NVRTC failed for " << c.family << " on " << c.arch << ":\n" << r.log;
  EXPECT_EQ(r.log.find("error"), std::string::npos) << r.log;
  ASSERT_FALSE(r.entries.empty()) << "no ptxas report in the log:\n" << r.log;
  for (const char* kind : {"fwd", "decode"})
    EXPECT_FALSE(kernelName(src, kind).empty()) << "TU lacks a " << kind << " entry";
  for (const auto& [entry, s] : r.entries) {
    EXPECT_GT(s.registers, 0) << entry;
    RecordProperty(entry + "_registers", s.registers);
    if (c.C == 0) {
      // The default configs are what ships: no local memory traffic at all.
      EXPECT_EQ(s.spill_stores, 0) << entry << " on " << c.arch << "\n" << r.log;
      EXPECT_EQ(s.spill_loads, 0) << entry << " on " << c.arch << "\n" << r.log;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, NvrtcCompile, testing::ValuesIn(allCases()), caseName);

/// Where codegen asks for three blocks per SM (layout.cuh fused_regs_min_blocks: the register kernel with no
/// per-key decay at C = 32, BV = 64, 4 warps), ptxas must fit the walk in 168 registers without local memory.
TEST(NvrtcCompileMinBlocks, RegisterKernelAtThreeBlocksPerSmDoesNotSpill) {
  ASSERT_EQ(kern::fused_regs_min_blocks(128, 32, 64, 4, false, true), 3);
  ASSERT_EQ(kern::fused_regs_min_blocks(128, 32, 64, 4, false, false), 3);
  for (const char* family : {"delta_rule", "gated_delta_rule", "linear_attn", "retention", "simple_gla"}) {
    bool ok = false;
    const std::string tu = readFile(tuPath(family), &ok);
    ASSERT_TRUE(ok) << "cannot read " << tuPath(family);
    TuShape shape;
    ASSERT_TRUE(parseTuShape(tu, shape)) << family;
    shape.C = 32;
    shape.BV = 64;
    shape.Warps = 4;
    shape.dtype = "BF16";
    std::string src = specialize(tu, shape);
    const std::string fwd = kernelName(src, "fwd");
    ASSERT_FALSE(fwd.empty()) << family;
    const std::string bounds = "__launch_bounds__(Config::Warps * 32, 1)\n" + fwd;
    const size_t at = src.find(bounds);
    ASSERT_NE(at, std::string::npos) << family << ": the fwd entry's launch bounds are not in the documented form";
    src.replace(at, bounds.size(), "__launch_bounds__(Config::Warps * 32, 3)\n" + fwd);
    const CompileResult r = compile(std::string(family) + ".cu", src, "sm_90");
    ASSERT_TRUE(r.ok) << r.log;
    ASSERT_TRUE(r.entries.count(fwd)) << r.log;
    const EntryStats& e = r.entries.at(fwd);
    EXPECT_LE(e.registers, 168) << family;
    EXPECT_EQ(e.spill_stores, 0) << family << "\n" << r.log;
    EXPECT_EQ(e.spill_loads, 0) << family << "\n" << r.log;
  }
}

/// The default configs' shared memory must fit a Hopper SM (227 KiB per block); kernels above 48 KiB need
/// the launcher to raise the dynamic limit, which the layout functions make computable on the host.
TEST(KernelLayout, DefaultConfigsFitHopperSharedMemory) {
  for (const Family& f : families()) {
    const std::string tu = readFile(tuPath(f.name));
    TuShape s;
    ASSERT_TRUE(parseTuShape(tu, s)) << f.name;
    const bool vec = tu.find("DecayKind::Vector") != std::string::npos;
    const bool delta = tu.find("kDelta = true") != std::string::npos;
    const bool norm = tu.find("kNormalize = true") != std::string::npos;
    const int bytes =
        kern::fused_smem_bytes(s.K, s.KF, s.C, s.BV, s.Warps, vec, delta, norm, s.dtype == "FP32" ? 4 : 2);
    EXPECT_LE(bytes, 227 * 1024) << f.name << " fused kernel needs " << bytes << " bytes";
    EXPECT_LE(kern::decode_smem_bytes(s.K, s.KF, s.Warps), 48 * 1024) << f.name;
    RecordProperty(f.name + "_fused_smem", bytes);
  }
}

TEST(KernelLayout, WorkspaceSectionsDoNotOverlap) {
  // bf16 states with an odd element count: z must start 16-byte aligned past them.
  const kern::StatePassingWs w = kern::state_passing_ws(3, 1, 5, 7, true, 2);
  EXPECT_EQ(w.states, 0);
  EXPECT_EQ(w.zs, 224);  // 2 * 3 * 5 * 7 = 210 bytes, rounded up to 16
  EXPECT_EQ(w.gates, 224 + 64);  // z: 4 * 3 * 5 = 60 bytes, rounded up to 16
  EXPECT_EQ(w.bytes(), w.gates);  // no decay: no gate pre-pass
  const kern::StatePassingWs f = kern::state_passing_ws(10, 4, 128, 64, false, 4);
  EXPECT_EQ(f.zs, 4LL * 10 * 4 * 128 * 64);
  EXPECT_EQ(f.bytes(), f.zs);
  // The pre-pass's b per (chunk, head): vector [C][K'p] fp32; scalar [C], fp64 for fp32 inputs.
  const kern::StatePassingWs v = kern::state_passing_ws(10, 4, 120, 64, false, 2, 64, true, true);
  EXPECT_EQ(v.gate_chunk, 4LL * 64 * 128);
  EXPECT_EQ(v.bytes(), v.gates + 10LL * 4 * v.gate_chunk);
  EXPECT_EQ(kern::state_passing_ws(10, 4, 128, 64, false, 4, 32, true, false).gate_chunk, 8 * 32);
  EXPECT_EQ(kern::state_passing_ws(10, 4, 128, 64, false, 2, 32, true, false).gate_chunk, 4 * 32);
}

/// The state-passing output kernel widens its value tile while the layout fits an H100 block, never past V.
TEST(KernelLayout, OutputValueTile) {
  EXPECT_EQ(kern::output_block_v(128, 128, 64, 32, 128, 4, true, false, 2), 128);
  EXPECT_EQ(kern::output_block_v(128, 128, 64, 128, 128, 4, true, false, 2), 128);
  EXPECT_EQ(kern::output_block_v(128, 128, 64, 16, 36, 4, false, false, 2), 64);  // covers V = 36, no wider
  EXPECT_EQ(kern::output_block_v(128, 128, 64, 32, 32, 4, false, false, 2), 32);
  // kda in fp32 at C = 128: neither 128 nor 64 fits 227 KiB, so the tile stays BV.
  EXPECT_EQ(kern::output_block_v(128, 128, 128, 32, 128, 4, true, false, 4), 32);
  // hedgehog's K' = 2K: a tile is only widened to one whose layout (normalizer regions included) fits.
  for (int eb : {2, 4})
    for (bool norm : {false, true})
      for (int bv : {16, 32, 64, 128}) {
        const int o = kern::output_block_v(128, 256, 64, bv, 128, 8, true, norm, eb);
        EXPECT_GE(o, bv);
        if (o > bv) {
          EXPECT_LE(kern::chunk_layout(kern::ChunkKernel::Output, 128, 256, 64, o, 8, true, false, norm, eb).bytes(),
                    227 * 1024);
        }
      }
}

/// The delta scan's launch grows with its ring (Config::Stages) only where a register-state scan runs: each
/// stage holds a chunk's W, k^ and V-tile. Up to C = 64 and K' = 128 that is the warp-per-columns scan (any
/// warps that cover BV / 16 groups), at C = 128 the key-slice scan on up to 4 warps; 8-warp configs at
/// C = 128 keep the shared-memory scan.
TEST(KernelLayout, DeltaScanRingDepthSizesOnlyTheRegisterScans) {
  auto scan = [](int C, int BV, int warps, int stages) {
    return kern::chunk_layout(kern::ChunkKernel::Scan, 128, 128, C, BV, warps, false, true, false, 2, 128, stages)
        .bytes();
  };
  EXPECT_LT(scan(64, 32, 4, 2), scan(64, 32, 4, 3));
  EXPECT_LT(scan(64, 32, 4, 3), scan(64, 32, 4, 4));
  EXPECT_EQ(scan(64, 32, 4, 4), scan(64, 32, 4, 9));  // clamped to 4
  EXPECT_LT(scan(64, 32, 8, 2), scan(64, 32, 8, 4));  // the warp scan: 2 warps of the 8 launched
  EXPECT_LT(scan(128, 32, 4, 2), scan(128, 32, 4, 4));
  EXPECT_EQ(scan(128, 32, 8, 2), scan(128, 32, 8, 4));
  EXPECT_TRUE(kern::delta_regscan_shape_ok(128, 64, 32, 4));
  EXPECT_FALSE(kern::delta_regscan_shape_ok(128, 64, 32, 8));
  EXPECT_FALSE(kern::delta_regscan_shape_ok(48, 16, 16, 4));  // 4 slices of 12 keys: not whole k16 steps
}

/// Which configs the warp-per-columns delta scan takes, how many threads its launch has, and that its launch
/// size is its own layout (not the generic scan's, which would halve its blocks per SM).
TEST(KernelLayout, DeltaWarpScanPredicateThreadsAndSize) {
  // elem_bytes, normalize, KF, C, BV, warps
  EXPECT_TRUE(kern::delta_warpscan_applies(2, false, 128, 64, 64, 4));
  EXPECT_TRUE(kern::delta_warpscan_applies(2, false, 128, 16, 16, 4));
  EXPECT_TRUE(kern::delta_warpscan_applies(2, false, 48, 32, 32, 2));
  EXPECT_FALSE(kern::delta_warpscan_applies(4, false, 128, 64, 64, 4));   // fp32: no tensor cores
  EXPECT_FALSE(kern::delta_warpscan_applies(2, true, 128, 64, 64, 4));    // a normalizer
  EXPECT_FALSE(kern::delta_warpscan_applies(2, false, 256, 64, 64, 4));   // 128 state accumulators per thread
  EXPECT_FALSE(kern::delta_warpscan_applies(2, false, 128, 128, 64, 4));  // C / 2 more for v_new^T
  EXPECT_FALSE(kern::delta_warpscan_applies(2, false, 128, 64, 128, 4));  // 8 groups on 4 warps
  EXPECT_EQ(kern::state_scan_threads(2, true, false, 128, 64, 64, 4), 128);
  EXPECT_EQ(kern::state_scan_threads(2, true, false, 128, 64, 16, 4), 32);
  EXPECT_EQ(kern::state_scan_threads(2, true, false, 128, 128, 16, 4), 128);  // the key-slice scan
  EXPECT_EQ(kern::state_scan_threads(2, false, false, 128, 64, 16, 4), 128);  // additive rules
  const kern::DeltaWarpScanLayout l = kern::delta_warpscan_layout(128, 64, 64, 2);
  EXPECT_EQ(kern::chunk_layout(kern::ChunkKernel::Scan, 128, 128, 64, 64, 4, false, true, false, 2, 128, 2).bytes(),
            l.total);
  // Two stages of W, k^ (64 x 136) and U (64 x 72), Gamma_last, four staging tiles of 16 x 136.
  EXPECT_EQ(l.stage, 2 * 64 * 136 * 2 + 64 * 72 * 2 + 512);
  EXPECT_EQ(l.total, 2 * l.stage + 4 * 16 * 136 * 2 + 128);
  EXPECT_EQ(l.ld_s % 8, 0);  // 16-byte rows for stmatrix and the copies out
  EXPECT_EQ(l.ld_v % 8, 0);
}

/// The delta prep takes the WY body and the output kernel the register body only where their predicates
/// hold, and each launch is sized for the body it takes.
TEST(KernelLayout, DeltaPrepAndOutputBodies) {
  // K = V = 128, 16-bit, raw/l2norm k, no per-key decay: the WY prep up to C = 64 (wy_prep_applies's
  // arguments: elem_bytes, raw_q, raw_k, vector_decay, normalize, K, KF, V, C, out_bv, warps).
  EXPECT_TRUE(kern::wy_prep_applies(2, true, true, false, false, 128, 128, 128, 64, 128, 4));
  EXPECT_FALSE(kern::wy_prep_applies(2, true, true, false, false, 128, 128, 128, 128, 128, 4));  // fp32 A, T
  EXPECT_FALSE(kern::wy_prep_applies(4, true, true, false, false, 128, 128, 128, 64, 128, 4));   // fp32
  EXPECT_FALSE(kern::wy_prep_applies(2, true, false, false, false, 128, 128, 128, 64, 128, 4));  // a k map
  EXPECT_FALSE(kern::wy_prep_applies(2, true, true, false, false, 128, 128, 36, 64, 128, 4));    // V % 8 != 0
  // Without a per-key decay neither q's map nor the output split matters to the prep.
  EXPECT_TRUE(kern::wy_prep_applies(2, false, true, false, false, 128, 128, 128, 64, 16, 8));
  // A per-key decay (kda): the prep forms the scores for chunk_output_regs, so it takes the WY body exactly
  // where that kernel takes its register body: q raw or l2norm too, C <= K, and the output's split.
  EXPECT_TRUE(kern::wy_prep_applies(2, true, true, true, false, 128, 128, 128, 64, 128, 4));
  EXPECT_FALSE(kern::wy_prep_applies(2, false, true, true, false, 128, 128, 128, 64, 128, 4));  // a q map
  EXPECT_FALSE(kern::wy_prep_applies(2, true, true, true, false, 32, 32, 128, 64, 128, 4));     // C > K
  EXPECT_FALSE(kern::wy_prep_applies(2, true, true, true, false, 128, 128, 128, 16, 16, 8));    // no split
  for (int C : {16, 32, 64})
    for (int W : {2, 4, 8})
      for (int bv : {16, 32, 64, 128})
        for (bool rq : {false, true})
          EXPECT_EQ(kern::wy_prep_applies(2, rq, true, true, false, 128, 128, 128, C, bv, W),
                    kern::output_regs_applies(2, true, rq, true, true, false, 128, 128, 128, C, bv, W))
              << C << " " << W << " " << bv;
  EXPECT_EQ(kern::delta_prep_smem_bytes(128, 128, 128, 64, 4, true, true, false, false, 2, 128),
            kern::wy_layout(128, 128, 64, 4).total);
  EXPECT_EQ(kern::delta_prep_smem_bytes(128, 128, 128, 64, 4, true, true, true, false, 2, 128),
            kern::wy_layout(128, 128, 64, 4, true).total);
  EXPECT_EQ(kern::delta_prep_smem_bytes(128, 128, 128, 64, 4, true, true, true, false, 4, 128),
            kern::chunk_layout(kern::ChunkKernel::Prep, 128, 128, 64, kern::delta_prep_block_v(128, 128), 4, true, true,
                               false, 4)
                .bytes());
  // The per-key layout fits an H100 block at C = 64, and T lives over k+ and k- (dead once A is formed).
  const kern::WyLayout wv = kern::wy_layout(128, 128, 64, 4, true);
  EXPECT_LE(wv.total, 227 * 1024);
  // Three blocks per SM at C = 32 (228 KiB, 1 KiB reserved per block): at two the prep ran 1.12 ms against 0.95
  // for an older layout at three (B = 32, T = 1k, H200).
  EXPECT_LE(kern::wy_layout(128, 128, 32, 4, true).total, 75 * 1024);
  EXPECT_EQ(wv.scratch, wv.q);
  EXPECT_EQ(wv.tf, wv.kp);
  EXPECT_EQ(wv.tb, wv.km);
  EXPECT_GE(wv.km - wv.kp, 4 * 64 * wv.ld_a);
  // T diag(fw) and T diag(fu), W's and U's left factors, both over k- (wy.cuh).
  EXPECT_GE(wv.bt - wv.km, 2 * 2 * 64 * wv.ld_t);
  // Without a per-key decay: the two T factors, then b, beta, 1 / |k|, fw and fu ([C] fp32 each) before the
  // scratch blocks; six blocks per SM by shared memory at C = 32 (other blocks hide the solve's latency: 88f401d,
  // held to three by its registers, took 319 us against 230 at six, B = 32, T = 1k, H200).
  for (int C : {16, 32, 64}) {
    const kern::WyLayout w = kern::wy_layout(128, 128, C, 4);
    EXPECT_GE(w.g - w.tb, 2 * 2 * C * w.ld_t) << C;
    EXPECT_GE(w.scratch - w.g, 4 * 5 * C) << C;
  }
  EXPECT_LE(6 * (kern::wy_layout(128, 128, 32, 4).total + 1024), 228 * 1024);
  // The register output kernel: delta rules only, whole 16-column groups per warp.
  EXPECT_TRUE(kern::output_regs_applies(2, true, true, true, false, false, 128, 128, 128, 64, 128, 4));
  EXPECT_FALSE(kern::output_regs_applies(2, false, true, true, false, false, 128, 128, 128, 64, 128, 4));  // additive
  EXPECT_TRUE(kern::output_regs_applies(2, true, true, true, true, false, 128, 128, 128, 64, 128, 4));    // kda
  EXPECT_FALSE(kern::output_regs_applies(2, true, true, true, true, false, 128, 128, 128, 64, 128, 4) &&
               !kern::vec_wy_applies(2, true, true, false, 128, 128, 128, 64, 128, 4));
  EXPECT_FALSE(kern::output_regs_applies(2, true, true, true, false, true, 128, 128, 128, 64, 128, 4));   // normalizer
  EXPECT_FALSE(kern::output_regs_applies(2, true, false, true, false, false, 128, 128, 128, 64, 128, 4));  // q map
  // Eight warps on one stripe of a 16-wide tile: 2-column groups.
  EXPECT_FALSE(kern::output_regs_applies(2, true, true, true, false, false, 128, 128, 128, 16, 16, 8));
  const kern::OutputRegsSplit a = kern::output_regs_split(64, 128, 4), b = kern::output_regs_split(32, 128, 8),
                              c = kern::output_regs_split(128, 64, 4);
  EXPECT_EQ(a.rw * 100 + a.cg * 10 + a.spw, 411);
  EXPECT_EQ(a.bvw, 128);
  EXPECT_EQ(b.rw * 100 + b.cg * 10 + b.spw, 241);
  EXPECT_EQ(b.bvw, 32);
  EXPECT_EQ(c.rw * 100 + c.cg * 10 + c.spw, 412);
  EXPECT_EQ(kern::output_smem_bytes(128, 128, 128, 64, 128, 4, true, true, true, false, false, 2),
            kern::output_regs_layout(128, 64, 128, 4).total);
  EXPECT_EQ(kern::output_smem_bytes(128, 128, 128, 64, 128, 4, true, true, true, false, false, 4),
            kern::chunk_layout(kern::ChunkKernel::Output, 128, 128, 64, 128, 4, false, true, false, 4).bytes());
}

/// The register kernel: a delta rule's one W buffer past Sb (not one per stage), and three blocks per SM where
/// three layouts fit 228 KiB with the per-block 1 KiB reserve and there is no per-key decay.
TEST(KernelLayout, RegisterKernelWAndBlocksPerSm) {
  const kern::FusedRegsLayout d = kern::fused_regs_layout(128, 32, 64, false, true);
  const kern::FusedRegsLayout a = kern::fused_regs_layout(128, 32, 64, false, false);
  EXPECT_EQ(d.stage, a.stage);
  EXPECT_GE(d.w, d.sb + 2 * 64 * d.ld_k);
  EXPECT_EQ(d.total - a.total, 2 * 32 * d.ld_k);
  EXPECT_LE(3 * (d.total + 1024), 228 * 1024);
  EXPECT_EQ(kern::fused_regs_min_blocks(128, 32, 64, 4, false, true), 3);
  EXPECT_EQ(kern::fused_regs_min_blocks(128, 16, 64, 4, false, true), 3);
  EXPECT_EQ(kern::fused_regs_min_blocks(128, 64, 64, 4, false, true), 1);   // 124 KiB
  EXPECT_EQ(kern::fused_regs_min_blocks(128, 32, 64, 8, false, true), 1);   // three would cap 8 warps at 85 registers
  EXPECT_EQ(kern::fused_regs_min_blocks(128, 32, 64, 4, false, false), 3);  // additive, scalar decay
  EXPECT_EQ(kern::fused_regs_min_blocks(128, 64, 64, 4, false, false), 1);  // 105 KiB
  EXPECT_EQ(kern::fused_regs_min_blocks(128, 32, 64, 4, true, false), 1);   // per-key decay: spills at 168
}

/// The state scan's slice: BK rows when BK is below K'p, else all of K'p; its S holds only those rows.
TEST(KernelLayout, ScanSliceRows) {
  EXPECT_EQ(kern::scan_slice_rows(128, 64), 64);
  EXPECT_EQ(kern::scan_slice_rows(48, 128), 48);
  EXPECT_EQ(kern::scan_slice_rows(273, 32), 32);
  const kern::ChunkLayout a = kern::chunk_layout(kern::ChunkKernel::Scan, 128, 128, 64, 64, 4, false, false, false, 2, 32);
  const kern::ChunkLayout b = kern::chunk_layout(kern::ChunkKernel::Scan, 128, 128, 64, 64, 4, false, false, false, 2, 128);
  EXPECT_EQ(a.sb_rows, 32);
  EXPECT_EQ(b.sb_rows, 128);
  EXPECT_EQ(b.bytes() - a.bytes(), 4 * 96 * a.ld_s);
}

}  // namespace
}  // namespace linrec::kerneltest
