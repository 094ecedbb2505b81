// Compiling generated kernels in parallel with NVRTC, and turning the results into kernel DB rows (cubin +
// index entry with its launch descriptor): shared by `linrec tune` and `linrec pack`.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/codegen/Codegen.h"
#include "linrec/dsl/Spec.h"
#include "linrec/kdb/KernelIndex.h"
#include "linrec/runtime/NvrtcCompiler.h"

namespace linrec::tuner {

/// Compiles one source for one NVRTC target (the default is compileToCubin; tests inject fakes).
using CompileFn = std::function<Expected<CubinResult>(const std::string& source, const NvrtcOptions& options)>;

/// One compile: a generated kernel for a target arch.
struct BuildJob {
  std::string source;
  NvrtcOptions options;
};

/// Calls fn(0) .. fn(n-1) on `threads` threads (0: one per hardware thread; the caller's thread is one
/// of them), each index exactly once, and returns when all are done.
void parallelFor(size_t n, int threads, const std::function<void(size_t)>& fn);

/// Compiles `jobs` on `threads` worker threads (0: one per hardware thread), results in job order.
/// `stop` (optional) is polled before each job starts: once it returns true the remaining jobs fail
/// with "not compiled: stopped" (the tuner's budget). `done` (optional) is called after each job, from
/// the worker thread, serialized.
std::vector<Expected<CubinResult>> compileParallel(const std::vector<BuildJob>& jobs, int threads,
                                                   const CompileFn& compile = {},
                                                   const std::function<bool()>& stop = {},
                                                   const std::function<void(size_t done, size_t total)>& done = {});

/// The NVRTC target for `kernel` on an arch family: "sm_90a" when the descriptor or the source needs
/// arch-specific instructions (sm_90 and newer), else the family itself.
std::string targetArch(const std::string& arch_family, const codegen::GeneratedKernel& kernel);

/// The kernel DB key of a compiled source: sha256 of the source, NVRTC's version, the options it used
/// without include directories (machine-specific paths that do not change the cubin), and
/// kernelBuildTag() as the linrec version.
kdb::KernelKey kernelKeyFor(const std::string& source, const CubinResult& cubin);
/// A kernel row: the key plus the cubin and its largest per-entry register/spill/static-smem figures.
kdb::KernelRecord kernelRecordFor(const std::string& source, const CubinResult& cubin,
                                  const std::vector<std::string>& kernel_names);
/// The index entry that maps (spec, dims, dtype, mode, config, arch) to that kernel and its descriptor.
kdb::IndexEntry indexEntryFor(const dsl::Spec& spec, const codegen::HeadDims& dims, codegen::DType dtype,
                              codegen::Mode mode, const codegen::TuningConfig& config,
                              const codegen::GeneratedKernel& kernel, const kdb::KernelKey& key,
                              const std::string& arch, bool is_default);

}  // namespace linrec::tuner
