// NVRTC: CUDA C++ source -> cubin for one arch, with ptxas statistics; needs no GPU.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "linrec/Expected.h"

namespace linrec {

/// What ptxas reported for one kernel (from the `--ptxas-options=-v` log).
struct KernelStats {
  std::string name;  ///< entry (mangled unless extern "C")
  std::string arch;  ///< e.g. "sm_90a"
  int registers = 0;
  int barriers = 0;
  long long stack_bytes = 0;
  long long spill_stores = 0;  ///< bytes
  long long spill_loads = 0;   ///< bytes
  long long smem_bytes = 0;    ///< static shared memory
  long long cmem_bytes = 0;    ///< constant bank 0 (absent on some archs: 0)
};

/// Options of one NVRTC compile.
struct NvrtcOptions {
  /// Target, "sm_80", "sm_90", "sm_90a", ... (cubin only; the runtime never JITs PTX).
  std::string arch = "sm_90";
  /// The name errors refer to the source by.
  std::string source_name = "generated.cu";
  /// Hand the embedded linrec kernel headers to NVRTC (include them as "linrec/kernel/<x>.cuh").
  bool embedded_headers = true;
  /// Further in-memory headers: {include name, contents}; they take precedence over embedded ones.
  std::vector<std::pair<std::string, std::string>> extra_headers;
  /// Directories for the CUDA toolkit's own headers (cuda_bf16.h, ...). Empty: $LINREC_CUDA_INCLUDE,
  /// else $CUDA_HOME/include, else the toolkit linrec was built against, whichever exists.
  std::vector<std::string> include_dirs;
  /// Emit -lineinfo (for profilers and compute-sanitizer).
  bool line_info = false;
  /// Extra NVRTC options, passed last.
  std::vector<std::string> extra;
};

/// A compiled module.
struct CubinResult {
  std::vector<char> cubin;
  std::string arch;
  std::vector<std::string> options;  ///< the exact NVRTC options used
  std::string log;                   ///< NVRTC's log (warnings and ptxas lines)
  std::vector<KernelStats> stats;    ///< one per kernel, in log order
  double compile_ms = 0;
  /// The stats of the kernel named `name`, or null.
  const KernelStats* find(const std::string& name) const;
};

/// Compiles `source` to a cubin. On failure the error carries NVRTC's log with every referenced source
/// line quoted ("generated.cu:12: error: ...\n     12 | <line>").
Expected<CubinResult> compileToCubin(const std::string& source, const NvrtcOptions& options);

/// The NVRTC options `compileToCubin` would pass (before `extra`): the part of a cache key that is not
/// the source.
std::vector<std::string> nvrtcOptionList(const NvrtcOptions& options);

/// Parses ptxas `-v` lines into per-kernel statistics.
std::vector<KernelStats> parsePtxasLog(const std::string& log);

/// Rewrites an NVRTC error log so every "file(line): ..." diagnostic reads "file:line: ..." followed by
/// the quoted line from `source` (named `source_name`) or from the named in-memory header.
std::string formatNvrtcLog(const std::string& log, const std::string& source_name, const std::string& source,
                           const std::vector<std::pair<std::string, std::string>>& headers = {});

/// "13.0"; empty if NVRTC cannot be queried.
std::string nvrtcVersionString();

/// The archs this NVRTC can target, as numbers (75, 80, 86, 89, 90, 100, ...).
std::vector<int> nvrtcSupportedArchs();

/// "sm_<major><minor>", with the "a" suffix when `arch_specific` (wgmma etc.; sm_90 and newer only).
std::string archForComputeCapability(int major, int minor, bool arch_specific);

/// True when the source uses instructions that exist only on arch-specific targets (wgmma, setmaxnreg).
bool sourceNeedsArchSpecific(const std::string& source);

}  // namespace linrec
