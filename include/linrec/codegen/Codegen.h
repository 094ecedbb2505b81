// The compiler's entry point: a Spec plus a TuningConfig in, CUDA C++ source plus a launch descriptor out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llvm/Support/Error.h"

#include "linrec/dsl/Spec.h"

namespace linrec::codegen {

/// Which kernels to generate.
enum class Mode : uint8_t {
  Prefill,  ///< forward over whole sequences (chunkwise)
  Decode,   ///< one token per sequence (recurrent step)
};
const char* modeName(Mode m);

/// dtype of q, k, v and o (inputs, params and the state are always fp32).
enum class DType : uint8_t { BF16, FP16, FP32 };
const char* dtypeName(DType d);

/// How prefill chunks are scheduled (DESIGN.md §3).
enum class Strategy : uint8_t {
  Fused,         ///< one CTA per (sequence, head, V tile) walks its chunks with S on chip
  StatePassing,  ///< chunk-local terms, a scan of chunk states, then outputs (three kernels)
};
const char* strategyName(Strategy s);

/// The tunable knobs of one kernel. Validated by the compiler (linrec-apply-tuning) against what the
/// hand-written kernels accept, naming the offending field: chunk ∈ {16, 32, 64, 128}, block_k a multiple
/// of 16 in [16, 256], block_v ∈ {16, 32, 64, 128}, warps ∈ {2, 4, 8}, stages ∈ [1, 4], state passing only
/// for additive rules, and every kernel's dynamic shared memory (linrec/kernel/layout.cuh) ≤ smem_limit.
struct TuningConfig {
  int chunk = 64;     ///< C (ignored by decode)
  int block_k = 128;  ///< BK
  int block_v = 64;   ///< BV
  int warps = 4;
  int stages = 2;
  Strategy strategy = Strategy::Fused;
  int64_t smem_limit = 232448;  ///< bytes of shared memory a CTA may use (H100: 227 KiB)
};

/// The problem a kernel is specialised for (part of the tuning-record key, DESIGN.md §5).
struct HeadDims {
  int K = 128;  ///< key width of q and k
  int V = 128;  ///< value width
};

/// What `generate` produces. `source` is one self-contained CUDA translation unit that includes the
/// hand-written `linrec/kernel/*.cuh` headers; `descriptor_json` is the launch descriptor the runtime
/// reads (LaunchDescriptor::fromJson); `kernel_names` are its `extern "C"` symbols in launch order.
struct GeneratedKernel {
  std::string source;
  std::string descriptor_json;
  std::vector<std::string> kernel_names;
};

/// Compiles `spec` for one (dims, config, mode, dtype). Deterministic: the same inputs give
/// byte-identical source and descriptor. A Spec or config the compiler cannot lower is an error whose
/// message holds every diagnostic (file:line:col when the Spec has locations), never an assert.
llvm::Expected<GeneratedKernel> generate(const dsl::Spec& spec, const HeadDims& dims, const TuningConfig& config,
                                         Mode mode, DType dtype);

/// Like `generate`, but returns the textual MLIR after `stage` ("import", "canonicalize", "chunkwise",
/// "tuned", "emitc") instead of CUDA; for `linrec compile --emit-mlir` and debugging.
llvm::Expected<std::string> generateMlir(const dsl::Spec& spec, const HeadDims& dims, const TuningConfig& config,
                                         Mode mode, DType dtype, const std::string& stage);

/// Whether a problem's default starts from C = 32, BV = 64 rather than the largest tiles: a 16-bit delta rule
/// without a per-key decay, which takes the register-state kernel, whose C = 64 tiles leave one block per SM
/// (H200: 0.82-0.95 ms against 2.1-2.3 ms at B = 32, T = 1k, bench/results/2026-12-03-h200/delta-068a0b2).
bool prefersNarrowChunkDefault(const dsl::Spec& spec, Mode mode, DType dtype);

/// The block shape a problem's fused default starts from when it is not the general order's: C = 64, BV = 128
/// on 8 warps for a bf16 additive rule with a per-key decay, no normalizer and row-wise maps (GLA on the
/// register-state kernel), nullopt otherwise. On the H100 that config ran 0.89 / 1.18 / 1.43 ms at B = 32,
/// T = 1k; B = 8, T = 4k; B = 2, T = 16k where C = 64, BV = 64 on 4 warps ran 1.22 / 1.20 / 1.94
/// (bench/results/2026-12-07-h100, s16 calls 4-5), and tuned runs kept it at every T (s17).
std::optional<TuningConfig> wideFusedDefault(const dsl::Spec& spec, Mode mode, DType dtype);

/// Takes a default's block shape (chunk, value tile and, unless `keep_warps`, warps) into `config`, keeping
/// its other fields.
void applyDefaultTiles(TuningConfig& config, const TuningConfig& chosen, bool keep_warps = false);

/// The default TuningConfig for a problem: the largest chunk/value tiles (64x64 down to 16x16, 4 warps) that
/// the compiler accepts within `smem_limit` (C = 32, BV = 64 first where prefersNarrowChunkDefault; C = 64,
/// BV = 128, 8 warps first where wideFusedDefault gives it); an error naming why when none fits.
llvm::Expected<TuningConfig> defaultConfig(const dsl::Spec& spec, const HeadDims& dims, Mode mode, DType dtype,
                                           int64_t smem_limit = TuningConfig{}.smem_limit);

}  // namespace linrec::codegen
