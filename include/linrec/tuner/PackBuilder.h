// Building kernel packs without a GPU: codegen + NVRTC for every variant × dims × dtype × kernel kind × arch,
// in parallel, plus (optionally) tuning records and their kernels from a kernel DB.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/codegen/Codegen.h"
#include "linrec/dsl/Spec.h"
#include "linrec/kdb/Pack.h"
#include "linrec/tuner/KernelBuild.h"

namespace linrec::tuner {

/// What goes into a pack.
struct PackOptions {
  std::vector<std::string> archs{"sm_80", "sm_90"};  ///< arch families (an "a" suffix is added per kernel)
  std::vector<codegen::DType> dtypes{codegen::DType::BF16};
  /// Head dims. Empty: 128x128, and 16x64 for a variant that cannot be built at 128x128 at all (feature
  /// maps that widen K, e.g. based's K' = 1 + K + K^2).
  std::vector<codegen::HeadDims> dims;
  bool decode = true;         ///< include the decode kernel of every combination
  bool state_passing = true;  ///< include the state-passing default of additive variants
  std::string tuned_from;     ///< a kernel DB: add its tuning records for these variants and their kernels
  int threads = 0;            ///< NVRTC threads; 0: one per hardware thread
  CompileFn compile;          ///< empty: compileToCubin (tests inject a fake)
  /// Told about every skipped combination (one line each) as it is found.
  std::function<void(const std::string&)> note;
  /// Told after each compile (from a worker thread, serialized).
  std::function<void(size_t done, size_t total)> progress;
};

/// One variant's share of a pack.
struct PackVariantSummary {
  std::string variant, spec_hash;
  int kernels = 0;   ///< index entries (a kernel per entry)
  size_t bytes = 0;  ///< cubin bytes
  int tunings = 0;   ///< tuning records included
  int skipped = 0;   ///< combinations the compiler rejected
};

/// What buildPack wrote.
struct PackSummary {
  kdb::PackManifest manifest;
  std::vector<PackVariantSummary> variants;
  std::vector<std::string> notes;  ///< every skipped combination
  size_t total_bytes = 0;          ///< cubin bytes
  size_t file_bytes = 0;           ///< the pack file
  int compiles = 0;
  double seconds = 0;
};

/// A kernel DB row set ready for writePack: kernels (deduplicated), index entries, tuning records.
struct PackContents {
  kdb::PackManifest manifest;
  std::vector<kdb::KernelRecord> kernels;
  std::vector<kdb::IndexEntry> index;
  std::vector<kdb::TuningRecord> tunings;
};

/// Generates and compiles everything `options` asks for and returns it (no file written). For each
/// variant × dims × dtype × arch: the fused prefill default (pickDefault), the state-passing default
/// (additive rules), the decode default; a combination codegen or NVRTC rejects is skipped with a note,
/// but a variant that gets no kernel at all is an error. With `tuned_from`, every tuning record of these
/// variants for a GPU of one of the archs is added with its kernel, taken from the DB when it holds one
/// from this build and compiled otherwise.
Expected<PackContents> buildPackContents(const std::vector<dsl::Spec>& variants, const PackOptions& options,
                                         PackSummary* summary = nullptr);

/// buildPackContents + kdb::writePack (atomic: `path` is the complete new pack or what was there before).
Expected<PackSummary> buildPack(const std::vector<dsl::Spec>& variants, const PackOptions& options,
                                const std::string& path);

/// Parses "64x64,128x128" (KxV items).
Expected<std::vector<codegen::HeadDims>> parseDimsList(const std::string& text);

}  // namespace linrec::tuner
