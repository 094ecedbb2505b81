// JIT at startup: a variant file (or Spec) to a launchable Kernel in one call — codegen, NVRTC, load.
#pragma once

#include <string>

#include "linrec/Expected.h"
#include "linrec/codegen/Codegen.h"
#include "linrec/runtime/Runtime.h"

namespace linrec::codegen {

/// What to build. `auto_tiles` replaces config's chunk, block_v and warps by defaultConfig's.
struct JitOptions {
  HeadDims dims;
  DType dtype = DType::BF16;
  Mode mode = Mode::Prefill;
  TuningConfig config;
  bool auto_tiles = true;
};

/// Parses `toml_path`, generates the kernel and compiles it for `rt`'s device (cached in `rt` by source).
/// Errors carry the file:line:col diagnostics of the DSL or compiler, or NVRTC's log with source lines.
Expected<Kernel> jitLoad(Runtime& rt, const std::string& toml_path, const JitOptions& options = {});
/// The same from a parsed Spec.
Expected<Kernel> jitLoad(Runtime& rt, const dsl::Spec& spec, const JitOptions& options = {});

}  // namespace linrec::codegen
