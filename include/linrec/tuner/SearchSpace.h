// The tuner's search space: TuningConfigs per variant and GPU, pruned by constraints before anything is
// compiled (rules, then codegen's own validation incl. shared memory), and by ptxas statistics after.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/codegen/Codegen.h"
#include "linrec/dsl/Spec.h"
#include "linrec/kdb/KernelIndex.h"
#include "linrec/runtime/NvrtcCompiler.h"

namespace linrec {
struct DeviceInfo;
class Runtime;
}  // namespace linrec

namespace linrec::tuner {

/// The limits a candidate must respect to launch: read from the device when there is one, else taken from
/// the table of known archs (so packs and CI tests prune exactly as a tuning run on that GPU would).
struct DeviceLimits {
  std::string arch = "sm_90";             ///< NVRTC target family, no suffix
  int64_t smem_per_block_optin = 232448;  ///< bytes a CTA may opt in to
  int max_threads_per_block = 1024;
  int regs_per_sm = 65536;     ///< 32-bit registers per SM (every arch since sm_50)
  int regs_per_block = 65536;  ///< 32-bit registers one CTA may use
  int sm_count = 132;
  /// The table: sm_80 (A100: 163 KiB, 108 SMs), sm_86/sm_89 (99 KiB), sm_90 (H100 SXM: 227 KiB, 132 SMs),
  /// sm_100 (227 KiB), sm_120 (99 KiB). Unknown archs get the most conservative entry (99 KiB).
  static DeviceLimits forArch(const std::string& arch);
  /// The limits in DeviceInfo (shared memory, threads, SMs); the register file from the table.
  static DeviceLimits fromDevice(const DeviceInfo& device);
  /// fromDevice plus what only the driver knows: registers per SM and per block.
  static DeviceLimits fromRuntime(Runtime& rt);
};

/// The values each knob may take. The defaults cover what the hand-written kernels accept
/// (docs/kernel-abi.md), except that stages has two values by default: only the delta rules' register-state
/// scans use it (their ring depth; `linrec tune --stages 2,3,4`; 3 won every long delta row on the H200 once
/// the scan's chunk fell below 1 us), and other configs keep the default. BK only splits the
/// state-passing scan's key rows; fused configs keep TuningConfig's default BK (they hold all of K' on chip).
struct SearchSpaceOptions {
  std::vector<int> chunks{16, 32, 64, 128};
  std::vector<int> block_vs{16, 32, 64, 128};
  std::vector<int> warps{2, 4, 8};
  std::vector<int> stages{2, 3};
  std::vector<int> block_ks{32, 64, 128};
  std::vector<codegen::Strategy> strategies{codegen::Strategy::Fused, codegen::Strategy::StatePassing};
};

/// A config that survived the rules and codegen, with the source codegen made for it.
struct Candidate {
  codegen::TuningConfig config;
  codegen::GeneratedKernel kernel;
  bool is_default = false;  ///< the per-arch default (defaultConfig) for its strategy
};

/// A config that was dropped, and why.
struct PrunedConfig {
  codegen::TuningConfig config;
  std::string stage;   ///< "rule", "codegen" or "ptxas"
  std::string reason;  ///< one line
};

/// The result of enumerating one (variant, dims, dtype, mode) on one device.
struct SearchSpace {
  std::vector<Candidate> candidates;  ///< in simplicity order (see simplerThan)
  std::vector<PrunedConfig> pruned;   ///< in enumeration order
  size_t enumerated = 0;              ///< distinct configs considered
};

/// Enumerates the options' cross product (decode: block_v × warps only, since decode has no chunk or
/// strategy), drops configs by rule (BV must divide V or be the one tile
/// covering it; Warps·32 within the block limit; enough m16n8 tensor-core tiles in the C×BV output to
/// give every warp work), then runs codegen with smem_limit = the device's opt-in limit and drops what it
/// rejects. Deterministic: the same inputs give the same candidates in the same order.
SearchSpace enumerateSearchSpace(const dsl::Spec& spec, const codegen::HeadDims& dims, codegen::DType dtype,
                                 codegen::Mode mode, const DeviceLimits& limits,
                                 const SearchSpaceOptions& options = {});

/// Why a compiled candidate cannot be used ("" when it can): it spills registers to local memory (slow,
/// and a sign the tile is too large), or registers × threads exceed the SM's register file (cannot launch).
std::string ptxasVerdict(const CubinResult& cubin, const codegen::TuningConfig& config, const DeviceLimits& limits);

/// The tie-break order: fused before state passing, then smaller chunk, block_v, warps, stages, block_k.
/// True when `a` comes strictly before `b`.
bool simplerThan(const codegen::TuningConfig& a, const codegen::TuningConfig& b);

/// The preference list a default is taken from, for an arch family ("sm_80", "sm_90", ...), mode and
/// strategy: the first entry codegen accepts becomes the default (large-K' variants need the later ones).
std::vector<codegen::TuningConfig> defaultPreferences(const std::string& arch, codegen::Mode mode,
                                                      codegen::Strategy strategy);

/// The default config and its generated kernel: the first of defaultPreferences that codegen accepts
/// within `limits`. An error (with codegen's reason for the first preference) when none fits, or when the
/// strategy does not apply (state passing for a delta rule).
Expected<Candidate> pickDefault(const dsl::Spec& spec, const codegen::HeadDims& dims, codegen::DType dtype,
                                codegen::Mode mode, codegen::Strategy strategy, const DeviceLimits& limits);

/// codegen::TuningConfig <-> the DB's KernelConfig (the smem limit is not part of a config's identity).
kdb::KernelConfig toKernelConfig(const codegen::TuningConfig& c);
codegen::TuningConfig fromKernelConfig(const kdb::KernelConfig& c, int64_t smem_limit);
/// "C=64 BV=64 W=4 fused".
std::string describeConfig(const codegen::TuningConfig& c);

/// "bf16" -> DType; false for anything else.
bool parseDType(const std::string& s, codegen::DType& out);
/// Prefill -> fwd, Decode -> decode.
kdb::TuningMode tuningModeOf(codegen::Mode mode);

}  // namespace linrec::tuner
