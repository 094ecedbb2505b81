// Hand-written example of codegen output (docs/kernel-abi.md) for gla: identity maps, vector decay logsigmoid(gk)/16, additive.
#include "linrec/kernel/chunk_fwd.cuh"
#include "linrec/kernel/decode.cuh"
namespace {
struct Variant {
  static constexpr int K = 128, V = 128, KF = 128;
  static constexpr linrec::kern::FeatureMapKind kQMap = linrec::kern::FeatureMapKind::Identity;
  static constexpr linrec::kern::FeatureMapKind kKMap = linrec::kern::FeatureMapKind::Identity;
  static constexpr linrec::kern::DecayKind kDecay = linrec::kern::DecayKind::Vector;
  static constexpr bool kDelta = false, kNormalize = false, kHasBeta = false;
  static constexpr bool kQRaw = true, kKRaw = true;
  static constexpr float kNormEps = 1e-6f;
  static constexpr int kNumInputs = 1, kNumParams = 0;
  static constexpr unsigned kVecInputs = 1u;
  __device__ static float q_pre(const linrec::kern::TokenCtx& c, int d) { return c.q(d); }
  __device__ static float k_pre(const linrec::kern::TokenCtx& c, int d) { return c.k(d); }
  __device__ static float decay(const linrec::kern::TokenCtx& c, int d) { return linrec_logsigmoid(c.input_vec(0, d)) / 16.0f; }
  __device__ static float beta(const linrec::kern::TokenCtx& c) { return 1.0f; }
};
struct Config {
  static constexpr int C = 64, BK = 128, BV = 64, Warps = 4, Stages = 2;
  static constexpr linrec::kern::DType kDType = linrec::kern::DType::BF16;
};
}  // namespace
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_seg_state_3d4f6b8c0e2a_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_fwd_seg_state<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_seg_scan_3d4f6b8c0e2a_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_fwd_seg_scan<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_fwd_3d4f6b8c0e2a_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_fwd_fused<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_gates_3d4f6b8c0e2a_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_gates<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_scan_3d4f6b8c0e2a_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_state_scan<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_sp_output_3d4f6b8c0e2a_c64_bv64_w4_s2_bf16(linrec::kern::FwdParams p) { linrec::kern::chunk_output<Variant, Config>(p); }
extern "C" __global__ void __launch_bounds__(Config::Warps * 32, 1)
linrec_decode_3d4f6b8c0e2a_c64_bv64_w4_s2_bf16(linrec::kern::DecodeParams p) { linrec::kern::decode_step<Variant, Config>(p); }
