// Hand-written example of codegen output (docs/kernel-abi.md) for gated_delta_rule: l2norm maps, scalar decay -exp(A_log) softplus(a + dt_bias), delta rule.
#include "linrec/kernel/chunk_fwd.cuh"
#include "linrec/kernel/decode.cuh"
namespace {
struct Variant {
  static constexpr int K = 128, V = 128, KF = 128;
  static constexpr linrec::kern::FeatureMapKind kQMap = linrec::kern::FeatureMapKind::L2Norm;
  static constexpr linrec::kern::FeatureMapKind kKMap = linrec::kern::FeatureMapKind::L2Norm;
  static constexpr linrec::kern::DecayKind kDecay = linrec::kern::DecayKind::Scalar;
  static constexpr bool kDelta = true, kNormalize = false, kHasBeta = true;
  static constexpr bool kQRaw = true, kKRaw = true;
  static constexpr float kNormEps = 1e-6f;
  static constexpr int kNumInputs = 2, kNumParams = 2;
  __device__ static float q_pre(const linrec::kern::TokenCtx& c, int d) { return c.q(d); }
  __device__ static float k_pre(const linrec::kern::TokenCtx& c, int d) { return c.k(d); }
  __device__ static float decay(const linrec::kern::TokenCtx& c, int d) { return -linrec_exp(c.param(0)) * linrec_softplus(c.input(0) + c.param(1)); }
  __device__ static float beta(const linrec::kern::TokenCtx& c) { return linrec_sigmoid(c.input(1)); }
};
struct Config {
  static constexpr int C = 64, BK = 128, BV = 64, Warps = 4, Stages = 2;
  static constexpr linrec::kern::DType kDType = linrec::kern::DType::BF16;
};
}  // namespace
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_fwd_5f6b8d0e2a4c_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_fwd_fused<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_wy_5f6b8d0e2a4c_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_fwd_wy<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_prep_5f6b8d0e2a4c_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_delta_prep<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_scan_5f6b8d0e2a4c_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_state_scan<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_output_5f6b8d0e2a4c_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_output<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_decode_5f6b8d0e2a4c_c64_bv64_w4_s2_bf16(linrec::kern::DecodeParams p) { linrec::kern::decode_step<Variant, Config>(p); }
