// The search space: enumeration, rule pruning, codegen validation, ptxas verdicts, defaults, tie-break order.
#include "linrec/tuner/SearchSpace.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "linrec/runtime/Runtime.h"

namespace linrec::tuner {

namespace {

std::string firstLine(const std::string& s) {
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// Codegen messages start with "file:line:col: error: "; the location says nothing here.
std::string codegenReason(const std::string& msg) {
  std::string line = firstLine(msg);
  size_t at = line.find("error: ");
  return at == std::string::npos ? line : line.substr(at + 7);
}

auto orderKey(const codegen::TuningConfig& c) {
  return std::make_tuple(c.strategy == codegen::Strategy::Fused ? 0 : 1, c.chunk, c.block_v, c.warps, c.stages,
                         c.block_k);
}

// The smallest option that covers V, so odd V still gets one tile.
int coveringTile(const std::vector<int>& block_vs, int V) {
  int best = 0;
  for (int bv : block_vs)
    if (bv >= V && (best == 0 || bv < best)) best = bv;
  return best;
}

// Why a config is dropped before codegen ("" when it is not).
std::string ruleVerdict(const dsl::Spec& spec, const codegen::HeadDims& dims, codegen::Mode mode,
                        const codegen::TuningConfig& c, const DeviceLimits& limits, int covering) {
  const bool decode = mode == codegen::Mode::Decode;
  if (c.block_v > dims.V && c.block_v != covering)
    return "BV=" + std::to_string(c.block_v) + " is wider than V=" + std::to_string(dims.V);
  if (c.block_v != covering && dims.V % c.block_v != 0)
    return "V=" + std::to_string(dims.V) + " is not a multiple of BV=" + std::to_string(c.block_v) +
           " (the last value tile would be partial)";
  if (c.warps * 32 > limits.max_threads_per_block)
    return std::to_string(c.warps * 32) + " threads exceed the device's " +
           std::to_string(limits.max_threads_per_block) + " per block";
  if (!decode) {
    // mma.sync m16n8k16: a C×BV output has (C/16)·(BV/8) warp tiles; fewer tiles than warps leaves warps
    // idle in every product of the chunk, which never pays for the extra threads.
    const int tiles = (c.chunk / 16) * (c.block_v / 8);
    if (tiles < c.warps)
      return "the " + std::to_string(c.chunk) + "x" + std::to_string(c.block_v) + " output has only " +
             std::to_string(tiles) + " m16n8 tensor-core tiles for " + std::to_string(c.warps) + " warps";
  }
  return "";
}

}  // namespace

DeviceLimits DeviceLimits::forArch(const std::string& arch) {
  DeviceLimits l;
  std::string a = arch;
  while (!a.empty() && (a.back() == 'a' || a.back() == 'f')) a.pop_back();
  l.arch = a;
  if (a == "sm_80") {
    l.smem_per_block_optin = 166912;  // 163 KiB
    l.sm_count = 108;
  } else if (a == "sm_90" || a == "sm_100") {
    l.smem_per_block_optin = 232448;  // 227 KiB
    l.sm_count = a == "sm_90" ? 132 : 148;
  } else {
    l.smem_per_block_optin = 101376;  // 99 KiB: sm_86, sm_89, sm_120 and anything unknown
    l.sm_count = 84;
  }
  return l;
}

DeviceLimits DeviceLimits::fromDevice(const DeviceInfo& d) {
  DeviceLimits l = forArch(d.arch());
  l.arch = d.arch();
  l.smem_per_block_optin = d.smem_per_block_optin;
  l.max_threads_per_block = d.max_threads_per_block > 0 ? d.max_threads_per_block : 1024;
  l.sm_count = d.sm_count;
  return l;
}

DeviceLimits DeviceLimits::fromRuntime(Runtime& rt) {
  DeviceLimits l = fromDevice(rt.device());
  const CudaDriver& d = rt.driver();
  CUdevice dev = 0;
  int v = 0;
  if (d.cuDeviceGet(&dev, rt.device().ordinal) != CUDA_SUCCESS) return l;
  if (d.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, dev) == CUDA_SUCCESS && v > 0)
    l.regs_per_sm = v;
  if (d.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, dev) == CUDA_SUCCESS && v > 0)
    l.regs_per_block = v;
  return l;
}

bool simplerThan(const codegen::TuningConfig& a, const codegen::TuningConfig& b) {
  return orderKey(a) < orderKey(b);
}

SearchSpace enumerateSearchSpace(const dsl::Spec& spec, const codegen::HeadDims& dims, codegen::DType dtype,
                                 codegen::Mode mode, const DeviceLimits& limits, const SearchSpaceOptions& options) {
  const bool decode = mode == codegen::Mode::Decode;
  SearchSpace out;
  std::vector<codegen::TuningConfig> configs;
  std::set<std::tuple<int, int, int, int, int, int>> seen;
  // Decode has neither chunks nor strategies: one value each, so the space is block_v × warps.
  const std::vector<int> chunks = decode ? std::vector<int>{codegen::TuningConfig{}.chunk} : options.chunks;
  const std::vector<codegen::Strategy> strategies =
      decode ? std::vector<codegen::Strategy>{codegen::Strategy::Fused} : options.strategies;
  for (codegen::Strategy st : strategies)
    for (int c : chunks)
      for (int bv : options.block_vs)
        for (int w : options.warps)
          for (int s : options.stages)
            for (int bk : options.block_ks) {
              codegen::TuningConfig cfg;
              cfg.strategy = st;
              cfg.chunk = c;
              cfg.block_v = bv;
              cfg.warps = w;
              // Only the delta rule's state scan has a ring whose depth is a knob (chunk_delta_scan_regs).
              cfg.stages = st == codegen::Strategy::StatePassing && spec.rule == dsl::UpdateRule::Delta
                               ? s
                               : codegen::TuningConfig{}.stages;
              // BK only slices an additive state scan (the delta scan holds every key row).
              cfg.block_k = st == codegen::Strategy::Fused || spec.rule == dsl::UpdateRule::Delta
                                ? codegen::TuningConfig{}.block_k
                                : bk;
              cfg.smem_limit = limits.smem_per_block_optin;
              if (seen.insert(orderKey(cfg)).second) configs.push_back(cfg);
            }
  std::sort(configs.begin(), configs.end(), simplerThan);
  out.enumerated = configs.size();

  // Defaults are marked so the tuner can time them first and the DB can serve them as fallbacks.
  std::vector<codegen::TuningConfig> defaults;
  for (codegen::Strategy st : {codegen::Strategy::Fused, codegen::Strategy::StatePassing}) {
    if (decode && st == codegen::Strategy::StatePassing) continue;
    Expected<Candidate> d = pickDefault(spec, dims, dtype, mode, st, limits);
    if (d) defaults.push_back(d->config);
  }
  const int covering = coveringTile(options.block_vs, dims.V);
  for (const codegen::TuningConfig& cfg : configs) {
    if (std::string why = ruleVerdict(spec, dims, mode, cfg, limits, covering); !why.empty()) {
      out.pruned.push_back({cfg, "rule", why});
      continue;
    }
    llvm::Expected<codegen::GeneratedKernel> gen = codegen::generate(spec, dims, cfg, mode, dtype);
    if (!gen) {
      out.pruned.push_back({cfg, "codegen", codegenReason(llvm::toString(gen.takeError()))});
      continue;
    }
    Candidate cand{cfg, std::move(*gen), false};
    for (const auto& d : defaults) cand.is_default = cand.is_default || orderKey(d) == orderKey(cfg);
    out.candidates.push_back(std::move(cand));
  }
  return out;
}

std::string ptxasVerdict(const CubinResult& cubin, const codegen::TuningConfig& config, const DeviceLimits& limits) {
  for (const KernelStats& s : cubin.stats) {
    if (s.spill_stores > 0 || s.spill_loads > 0)
      return s.name + " spills " + std::to_string(s.spill_stores) + " B stores / " + std::to_string(s.spill_loads) +
             " B loads to local memory";
    const int64_t regs = static_cast<int64_t>(s.registers) * config.warps * 32;
    const int64_t cap = std::min(limits.regs_per_sm, limits.regs_per_block);
    if (regs > cap)
      return s.name + " needs " + std::to_string(s.registers) + " registers x " + std::to_string(config.warps * 32) +
             " threads, more than the " + std::to_string(cap) + " a block may use";
  }
  return "";
}

std::vector<codegen::TuningConfig> defaultPreferences(const std::string& arch, codegen::Mode mode,
                                                      codegen::Strategy strategy) {
  auto make = [&](int c, int bv, int w) {
    codegen::TuningConfig t;
    t.chunk = c;
    t.block_v = bv;
    t.warps = w;
    t.strategy = strategy;
    // State passing: two key slices per (sequence, head, V-tile) double the scan's blocks, which is
    // what it lacks at small N*H (its chunks are walked in order).
    if (strategy == codegen::Strategy::StatePassing) t.block_k = 64;
    return t;
  };
  if (mode == codegen::Mode::Decode) {
    // Decode is bandwidth bound: narrow value tiles give more CTAs per (sequence, head).
    return {make(64, 32, 4), make(64, 16, 4), make(64, 16, 2)};
  }
  // Every arch starts from C = 64, BV = 64 on 4 warps (the size the kernels were written around); the
  // fallbacks shrink the chunk and value tile until large feature widths (based, hedgehog) fit the
  // arch's shared memory, which codegen checks.
  (void)arch;
  return {make(64, 64, 4), make(64, 32, 4), make(32, 64, 4), make(32, 32, 4),
          make(16, 32, 4), make(32, 16, 2), make(16, 16, 2)};
}

Expected<Candidate> pickDefault(const dsl::Spec& spec, const codegen::HeadDims& dims, codegen::DType dtype,
                                codegen::Mode mode, codegen::Strategy strategy, const DeviceLimits& limits) {
  std::string first_error;
  std::vector<codegen::TuningConfig> prefs = defaultPreferences(limits.arch, mode, strategy);
  const bool delta_sp = mode == codegen::Mode::Prefill && strategy == codegen::Strategy::StatePassing &&
                        spec.rule == dsl::UpdateRule::Delta;
  if (delta_sp) {
    if (dtype != codegen::DType::FP32) {
      // The warp-per-columns scan (delta_scan.cuh), the WY prep and the register output kernel (16-bit):
      // C = 32, BV = 32 on 4 warps with a 3-deep ring was first in delta_rule's and gated_delta_rule's 16k
      // rows and within 6 % of the first (BV = 16) at 64k on the H200 (dc85f02,
      // bench/results/2026-12-03-h200/s13-delta-scan-warp, call 8); every 2-stage config was slower there.
      // kda (per-key decay; its prep holds more tiles): C = 32, BV = 32 was first at 16k and within 12 % at
      // 1k-64k (BV = 64 first at 1k and 4k, BV = 16 at 64k; rings of 3 not timed), where C = 64, BV = 32 took
      // twice as long (fd85354, s12-kda: its prep keeps one block per SM).
      const bool vec = spec.decay == dsl::DecayKind::Vector;
      codegen::TuningConfig first;
      first.chunk = 32;
      first.block_v = 32;
      first.warps = 4;
      first.stages = vec ? 2 : 3;
      first.strategy = strategy;
      prefs.insert(prefs.begin(), first);
    } else {
      // The delta scan has no key slices, so its blocks come from V-tiles alone: start from BV = 32.
      std::stable_partition(prefs.begin(), prefs.end(),
                            [](const codegen::TuningConfig& c) { return c.chunk == 64 && c.block_v == 32; });
    }
    for (codegen::TuningConfig& c : prefs) c.block_k = codegen::TuningConfig{}.block_k;
  }
  // codegen::defaultConfig's order for the fused strategy.
  if (strategy == codegen::Strategy::Fused && codegen::prefersNarrowChunkDefault(spec, mode, dtype))
    std::stable_partition(prefs.begin(), prefs.end(),
                          [](const codegen::TuningConfig& c) { return c.chunk == 32 && c.block_v == 64; });
  // GLA-like rules (codegen::wideFusedDefault): C = 64, BV = 128 on 8 warps first. The tuner always times
  // the defaults, and its 7-8 s runs time little else: on the H100 they kept C = 64, BV = 64, 4 warps, where
  // longer runs chose this one at every T.
  if (strategy == codegen::Strategy::Fused)
    if (std::optional<codegen::TuningConfig> wide = codegen::wideFusedDefault(spec, mode, dtype)) {
      wide->strategy = strategy;
      prefs.insert(prefs.begin(), *wide);
    }
  for (codegen::TuningConfig cfg : prefs) {
    cfg.smem_limit = limits.smem_per_block_optin;
    llvm::Expected<codegen::GeneratedKernel> gen = codegen::generate(spec, dims, cfg, mode, dtype);
    if (gen) return Candidate{cfg, std::move(*gen), true};
    std::string why = codegenReason(llvm::toString(gen.takeError()));
    if (first_error.empty()) first_error = why;
  }
  return Error{first_error};
}

kdb::KernelConfig toKernelConfig(const codegen::TuningConfig& c) {
  kdb::KernelConfig k;
  k.chunk = c.chunk;
  k.block_k = c.block_k;
  k.block_v = c.block_v;
  k.warps = c.warps;
  k.stages = c.stages;
  k.strategy = codegen::strategyName(c.strategy);
  return k;
}

codegen::TuningConfig fromKernelConfig(const kdb::KernelConfig& k, int64_t smem_limit) {
  codegen::TuningConfig c;
  c.chunk = k.chunk;
  c.block_k = k.block_k;
  c.block_v = k.block_v;
  c.warps = k.warps;
  c.stages = k.stages;
  c.strategy = k.isStatePassing() ? codegen::Strategy::StatePassing : codegen::Strategy::Fused;
  c.smem_limit = smem_limit;
  return c;
}

std::string describeConfig(const codegen::TuningConfig& c) {
  return toKernelConfig(c).brief();
}

bool parseDType(const std::string& s, codegen::DType& out) {
  if (s == "bf16" || s == "bfloat16")
    out = codegen::DType::BF16;
  else if (s == "fp16" || s == "float16" || s == "half")
    out = codegen::DType::FP16;
  else if (s == "fp32" || s == "float32" || s == "float")
    out = codegen::DType::FP32;
  else
    return false;
  return true;
}

kdb::TuningMode tuningModeOf(codegen::Mode mode) {
  return mode == codegen::Mode::Decode ? kdb::TuningMode::Decode : kdb::TuningMode::Forward;
}

}  // namespace linrec::tuner
