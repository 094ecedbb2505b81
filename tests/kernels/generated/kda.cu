// Hand-written example of codegen output (docs/kernel-abi.md) for kda: l2norm maps, vector decay -exp(A_log) softplus(g + dt_bias[k]), delta rule.
#include "linrec/kernel/chunk_fwd.cuh"
#include "linrec/kernel/decode.cuh"
namespace {
struct Variant {
  static constexpr int K = 128, V = 128, KF = 128;
  static constexpr linrec::kern::FeatureMapKind kQMap = linrec::kern::FeatureMapKind::L2Norm;
  static constexpr linrec::kern::FeatureMapKind kKMap = linrec::kern::FeatureMapKind::L2Norm;
  static constexpr linrec::kern::DecayKind kDecay = linrec::kern::DecayKind::Vector;
  static constexpr bool kDelta = true, kNormalize = false, kHasBeta = true;
  static constexpr bool kQRaw = true, kKRaw = true;
  static constexpr float kNormEps = 1e-6f;
  static constexpr int kNumInputs = 2, kNumParams = 2;
  static constexpr unsigned kVecInputs = 2u;
  __device__ static float q_pre(const linrec::kern::TokenCtx& c, int d) { return c.q(d); }
  __device__ static float k_pre(const linrec::kern::TokenCtx& c, int d) { return c.k(d); }
  __device__ static float decay(const linrec::kern::TokenCtx& c, int d) { return -linrec_exp(c.param(0)) * linrec_softplus(c.input_vec(1, d) + c.param_vec(1, d)); }
  __device__ static float beta(const linrec::kern::TokenCtx& c) { return linrec_sigmoid(c.input(0)); }
};
struct Config {
  static constexpr int C = 64, BK = 128, BV = 64, Warps = 4, Stages = 2;
  static constexpr linrec::kern::DType kDType = linrec::kern::DType::BF16;
};
}  // namespace
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_fwd_6a7c9e1f3b5d_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_fwd_fused<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_prep_6a7c9e1f3b5d_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_delta_prep<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_scan_6a7c9e1f3b5d_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_state_scan<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_output_6a7c9e1f3b5d_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_output<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_decode_6a7c9e1f3b5d_c64_bv64_w4_s2_bf16(linrec::kern::DecodeParams p) { linrec::kern::decode_step<Variant, Config>(p); }
