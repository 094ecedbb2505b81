// linrec/kernel/abi.cuh: the contract between generated kernels and the hand-written headers (docs/kernel-abi.md).
//
// Compiled by NVRTC from memory with no host headers, by nvcc, and (for tests) by a host C++ compiler on top
// of the CPU emulator in tests/kernels/emu/ (LINREC_KERNEL_EMULATION). Everything here is self-contained:
// no <cstdint>, no <cmath>, no cuda_bf16.h (bf16/fp16 are raw 16-bit patterns, see dtype.cuh).
#pragma once

#include "linrec/kernel/dtype.cuh"
#include "linrec/kernel/layout.cuh"

namespace linrec {
namespace kern {

/// Most declared per-token inputs / per-head params a variant may have (array sizes in the params).
constexpr int kMaxInputs = 8;
constexpr int kMaxParams = 8;

/// Feature maps that mix the K elements or change the width (elementwise maps are folded into q_pre/k_pre).
enum class FeatureMapKind : int {
  Identity = 0,  ///< width K
  L2Norm = 1,    ///< x / sqrt(sum x^2 + 1e-6), width K
  Taylor2 = 2,   ///< [1, x / K^(1/4), vec(x x^T) / (sqrt(2) sqrt(K))] (i outer, j inner), width 1 + K + K^2
  Hedgehog = 3,  ///< [softmax(x), softmax(-x)], width 2K
};

/// How the log decay g_t varies (DESIGN.md §1).
enum class DecayKind : int { None = 0, Constant = 1, Scalar = 2, Vector = 3 };

/// The feature width K' a map produces from input key width K (host and device).
LINREC_HD constexpr int feature_width(FeatureMapKind m, int K) {
  return m == FeatureMapKind::Taylor2 ? 1 + K + K * K : m == FeatureMapKind::Hedgehog ? 2 * K : K;
}

/// Arguments of every prefill kernel (fused and the state-passing stages), passed by value.
/// Layouts (fla): q, k [B,T,H,K], v, o [B,T,H,V] in Config::kDType; declared inputs fp32 [B,T,H] or
/// [B,T,H,K]; params fp32 [H] or [H,K]; states fp32 [N,H,K',V]; normalizer states fp32 [N,H,K'].
struct FwdParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  const float* inputs[kMaxInputs];  ///< declared inputs, canonical (sorted) order
  const float* params[kMaxParams];  ///< declared params, canonical (sorted) order
  const float* h0;                  ///< [N,H,K',V] initial state, or null (zeros)
  float* ht;                        ///< [N,H,K',V] final state, or null (not written)
  const float* z0;                  ///< [N,H,K'] initial normalizer state, or null (zeros)
  float* zt;                        ///< [N,H,K'] final normalizer state, or null
  const long long* cu_seqlens;      ///< [N+1] token offsets (B must be 1), or null (N = B sequences of T)
  float* ws;                        ///< state-passing workspace (layout.cuh: StatePassingWs); null for fused
  int B, T, H, N;                   ///< N = number of sequences
  float scale;                      ///< readout scale (the Spec's, K^-1/2 by default)
  int num_chunks_total;             ///< state passing: sum over sequences of ceil(len / C)
  /// State passing of the delta rules: nonzero when its kernels may run side by side (programmatic
  /// launches). The prep and the scan then flag each chunk with this value in the workspace and the scan
  /// and the output kernel wait for it (layout.cuh sp_chunk_flags_apply); a new value per forward, so no
  /// flag needs clearing. Zero: they run one after another and skip the hand-over. Bit 0 set: the scan
  /// went first and the prep runs beside it, so the prep flags its chunks and the scan waits for them;
  /// clear, the prep finished before the scan started and only the scan's flags are used
  /// (prep_runs_beside).
  unsigned long long epoch;
};

/// FwdParams::epoch's bit 0: the delta prep runs beside the scan (the scan waits for its flags).
LINREC_DEV bool prep_runs_beside(const FwdParams& p) {
  return (p.epoch & 1ull) != 0;
}

/// Arguments of decode_step: one token per sequence, the state updated in place. q, k [B,H,K], v, o [B,H,V]
/// (fla's [B,1,H,*]); inputs fp32 [B,H] or [B,H,K]; params as in FwdParams. B is the number of sequences.
struct DecodeParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  const float* inputs[kMaxInputs];
  const float* params[kMaxParams];
  float* state;  ///< [B,H,K',V] fp32, read and written
  float* z;      ///< [B,H,K'] fp32 normalizer state, read and written; normalizer only (else ignored)
  int B, H;
  float scale;
};

/// What one generated gate/pre expression sees for one token: sequence-flat token index `tok` into
/// [B*T] (decode: the sequence index), head h. q(d)/k(d) are the raw q/k elements converted to float.
struct TokenCtx {
  const void* qrow;              ///< raw q of this token, K elements of `dtype` (on chip)
  const void* krow;              ///< raw k of this token, K elements of `dtype` (on chip)
  const float* const* in_ptrs;   ///< FwdParams::inputs / DecodeParams::inputs
  const float* const* par_ptrs;  ///< FwdParams::params / DecodeParams::params
  long long tok;
  int h, H, K;
  DType dtype;  ///< storage of qrow/krow (a compile-time constant after inlining: the branches fold)
  /// Vector inputs the caller already loaded for this token at the one key it evaluates the expression at:
  /// input i is vin[i] when bit i of vin_mask is set. Loads issued together ahead of a branchy expression
  /// (logsigmoid, softplus) overlap; inside it each would wait for the previous evaluation.
  float vin[kMaxInputs] = {};
  unsigned vin_mask = 0;

  LINREC_DEV float input(int i) const { return in_ptrs[i][tok * H + h]; }
  LINREC_DEV float input_vec(int i, int d) const {
    return (vin_mask >> i) & 1u ? vin[i] : in_ptrs[i][(tok * H + h) * K + d];
  }
  LINREC_DEV float param(int i) const { return par_ptrs[i][h]; }
  LINREC_DEV float param_vec(int i, int d) const { return par_ptrs[i][(long long)h * K + d]; }
  LINREC_DEV float head() const { return (float)h; }
  LINREC_DEV float q(int d) const { return load_elem(dtype, qrow, d); }
  LINREC_DEV float k(int d) const { return load_elem(dtype, krow, d); }
};

}  // namespace kern
}  // namespace linrec

// ---- Device math the generated expressions call (float -> float). Accurate library versions, not the
// __fast intrinsics: the fp32 path promises 1e-5 relative error (16-bit translation units take the fast
// ones for exp, log and what is built on them, below). Global names, as the ABI lists them.

#ifdef LINREC_FAST_EXPR
// 16-bit kernels (codegen defines LINREC_FAST_EXPR in bf16 and fp16 translation units): the fast intrinsics,
// whose error (a few fp32 ulp, or 1e-7 absolute for the log of 1 + e^-|x|) is far below the inputs' rounding.
// The accurate versions are longer dependent chains, and a per-key gate (kda) is evaluated once per token and
// key: switching took 29 % off kda's prep kernel on the H200 (B = 32, T = 1k).
/// e^x.
LINREC_DEV float linrec_exp(float x) {
  return __expf(x);
}
/// Natural log.
LINREC_DEV float linrec_log(float x) {
  return __logf(x);
}
/// log(1 + x), accurate near 0 (what the user asked for by writing it).
LINREC_DEV float linrec_log1p(float x) {
  return log1pf(x);
}
/// log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): never overflows.
LINREC_DEV float linrec_softplus(float x) {
  return fmaxf(x, 0.0f) + __logf(1.0f + __expf(-fabsf(x)));
}
/// 1 / (1 + e^-x): e^-x = inf gives 0.
LINREC_DEV float linrec_sigmoid(float x) {
  return __fdividef(1.0f, 1.0f + __expf(-x));
}
/// log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|).
LINREC_DEV float linrec_logsigmoid(float x) {
  return fminf(x, 0.0f) - __logf(1.0f + __expf(-fabsf(x)));
}
#else
/// e^x.
LINREC_DEV float linrec_exp(float x) {
  return expf(x);
}
/// Natural log.
LINREC_DEV float linrec_log(float x) {
  return logf(x);
}
/// log(1 + x), accurate near 0.
LINREC_DEV float linrec_log1p(float x) {
  return log1pf(x);
}
/// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
LINREC_DEV float linrec_softplus(float x) {
  return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}
/// 1 / (1 + e^-x), evaluated on the side where the exponential cannot overflow.
LINREC_DEV float linrec_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}
/// log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log1p(e^-|x|).
LINREC_DEV float linrec_logsigmoid(float x) {
  return fminf(x, 0.0f) - log1pf(expf(-fabsf(x)));
}
#endif
/// max(x, 0).
LINREC_DEV float linrec_relu(float x) {
  return fmaxf(x, 0.0f);
}
/// x for x > 0, e^x - 1 otherwise (alpha = 1).
LINREC_DEV float linrec_elu(float x) {
  return x > 0.0f ? x : expm1f(x);
}
/// x * sigmoid(x).
LINREC_DEV float linrec_silu(float x) {
  return x * linrec_sigmoid(x);
}
/// Square root.
LINREC_DEV float linrec_sqrt(float x) {
  return sqrtf(x);
}
/// 1 / sqrt(x), correctly rounded division (rsqrtf is approximate).
LINREC_DEV float linrec_rsqrt(float x) {
  return 1.0f / sqrtf(x);
}
/// Hyperbolic tangent.
LINREC_DEV float linrec_tanh(float x) {
  return tanhf(x);
}
/// |x|.
LINREC_DEV float linrec_abs(float x) {
  return fabsf(x);
}
/// Smaller of a and b.
LINREC_DEV float linrec_min(float a, float b) {
  return fminf(a, b);
}
/// Larger of a and b.
LINREC_DEV float linrec_max(float a, float b) {
  return fmaxf(a, b);
}
/// a^b.
LINREC_DEV float linrec_pow(float a, float b) {
  return powf(a, b);
}
