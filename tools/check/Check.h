// Compares generated kernels on the GPU against the float64 reference: the engine of `linrec check` and of
// the gpu-labelled end-to-end tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "Safetensors.h"
#include "linrec/Expected.h"
#include "linrec/codegen/Codegen.h"
#include "linrec/dsl/Spec.h"
#include "linrec/runtime/Runtime.h"

namespace linrec::check {

/// One comparison: a problem shape, the kernel's dtype and tuning, and the random inputs' seed.
struct CheckCase {
  int B = 1, T = 64, H = 2, K = 64, V = 64;
  std::vector<int64_t> cu_seqlens;  ///< varlen (B must be 1) when not empty
  bool initial_state = false;
  codegen::DType dtype = codegen::DType::BF16;
  codegen::TuningConfig config;
  bool auto_tiles = true;  ///< replace config's chunk/block_v/warps by codegen::defaultConfig's
  bool keep_warps = false;  ///< with auto_tiles: keep config's warps (the user set them)
  uint64_t seed = 1;
  int decode_steps = 0;  ///< > 0: a decode check (prefill T tokens, then this many steps), not a prefill one
  std::string label() const;
};

/// Errors relative to the reference (max |a-b| / max |b|), the tolerance used, and the verdict.
struct CheckResult {
  double o_err = 0, state_err = 0, z_err = 0;
  double tolerance = 0;
  bool pass = false;
  double compile_ms = 0;  ///< codegen + NVRTC (0 when the module came from the cache)
  codegen::TuningConfig config;  ///< the configuration that ran
  std::string detail;     ///< why it failed (NaN, which tensor), empty on success
};

/// The tolerance for a dtype: fp32 1e-5 (a true fp32 path), bf16 2e-2, fp16 5e-3, relative to max |ref|.
double toleranceFor(codegen::DType dtype);

/// Generates, compiles and runs the kernel for `spec` on fresh random inputs (outputs poisoned with NaN
/// first) and compares every output with the float64 recurrent reference run on the same, dtype-rounded
/// inputs. An Error means the check could not run (codegen, NVRTC, CUDA); a mismatch is a result with
/// pass == false.
Expected<CheckResult> runCheck(Runtime& rt, const dsl::Spec& spec, const CheckCase& c);

/// Runs the prefill kernel on user-supplied tensors (safetensors names: q, k, v, each declared input and
/// param, optional initial_state, initial_z and cu_seqlens) and returns o, final_state (and final_z).
/// Shapes are inferred from q and v and every tensor is checked against them, with errors naming the
/// tensor and the expected shape. Tensors may come in any float dtype; they are converted to the kernel's.
Expected<io::TensorMap> runOnTensors(Runtime& rt, const dsl::Spec& spec, const io::TensorMap& in,
                                     const codegen::TuningConfig& config, codegen::DType dtype,
                                     bool auto_tiles = true, bool keep_warps = false);

/// Maps runtime and codegen dtypes.
DType runtimeDType(codegen::DType d);

}  // namespace linrec::check
