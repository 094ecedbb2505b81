// linrec/kernel/feature_map.cuh: per-token work of one warp: raw q/k rows, the variant's pre-expressions, feature maps.
#pragma once

#include "linrec/kernel/dtype.cuh"
#include "linrec/kernel/warp.cuh"

namespace linrec {
namespace kern {

/// exp for the kernels' own decay factors: accurate for fp32 inputs (1e-5 target), the fast intrinsic
/// otherwise (its error is far below bf16/fp16 rounding of the products it feeds).
template <DType D>
LINREC_DEV float kexp(float x) {
  if constexpr (D == DType::FP32) {
    return expf(x);
  } else {
    return __expf(x);
  }
}

template <class...>
using void_t = void;
/// Variant::kVecInputs (bit i: input i is per key, [B,T,H,K]), 0 for a Variant that does not declare it.
template <class Variant, class = void>
struct VecInputMask {
  static constexpr unsigned value = 0;
};
template <class Variant>
struct VecInputMask<Variant, void_t<decltype(Variant::kVecInputs)>> {
  static constexpr unsigned value = Variant::kVecInputs;
};

/// Compile-time facts about a Variant, checked once.
template <class Variant>
struct VariantTraits {
  static constexpr int K = Variant::K;
  static constexpr int V = Variant::V;
  static constexpr int KF = Variant::KF;
  static constexpr int KR = round_up(K, 32);  ///< per-warp scratch row (floats)
  static constexpr int R = KR / 32;           ///< key elements per lane
  static constexpr bool kVec = Variant::kDecay == DecayKind::Vector;
  static constexpr bool kHasDecay = Variant::kDecay != DecayKind::None;
  static_assert(K >= 1 && K <= 256, "linrec kernels: key width K must be in [1, 256]");
  static_assert(V >= 1, "linrec kernels: value width V must be positive");
  static_assert(KF == feature_width(Variant::kQMap, K), "Variant::KF does not match the q feature map");
  static_assert(KF == feature_width(Variant::kKMap, K), "q and k feature maps must have the same width");
  static_assert(!kVec || KF == K, "a per-key vector decay needs a width-preserving feature map");
  static_assert(Variant::kNumInputs >= 0 && Variant::kNumInputs <= kMaxInputs, "too many declared inputs");
  static_assert(Variant::kNumParams >= 0 && Variant::kNumParams <= kMaxParams, "too many declared params");
};

/// Writes the feature row map(x) of width KF, zero-padded to KFP, as elements of D, where lane l holds
/// x[l + 32 r] in x[r] (entries beyond K are ignored). Every lane of the warp must call it.
template <FeatureMapKind M, int K, int KF, int KFP, int R, DType D>
LINREC_DEV void feature_map_row(const float (&x)[R], typename Storage<D>::type* out) {
  const int lane = lane_id();
  if constexpr (M == FeatureMapKind::Identity || M == FeatureMapKind::L2Norm) {
    float mul = 1.0f;
    if constexpr (M == FeatureMapKind::L2Norm) {
      float ss = 0.0f;
#pragma unroll
      for (int r = 0; r < R; ++r)
        if (lane + 32 * r < K) ss = fmaf(x[r], x[r], ss);
      mul = 1.0f / sqrtf(warp_sum(ss) + 1e-6f);
    }
#pragma unroll
    for (int r = 0; r < R; ++r)
      if (lane + 32 * r < K) out[lane + 32 * r] = from_float<D>(x[r] * mul);
  } else if constexpr (M == FeatureMapKind::Hedgehog) {
    float mx = -3.402823466e38f, mn = -3.402823466e38f;
#pragma unroll
    for (int r = 0; r < R; ++r)
      if (lane + 32 * r < K) {
        mx = fmaxf(mx, x[r]);
        mn = fmaxf(mn, -x[r]);
      }
    mx = warp_max(mx);
    mn = warp_max(mn);
    float ep[R], en[R], sp = 0.0f, sn = 0.0f;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const bool ok = lane + 32 * r < K;
      ep[r] = ok ? expf(x[r] - mx) : 0.0f;
      en[r] = ok ? expf(-x[r] - mn) : 0.0f;
      sp += ep[r];
      sn += en[r];
    }
    const float ip = 1.0f / warp_sum(sp), in = 1.0f / warp_sum(sn);
#pragma unroll
    for (int r = 0; r < R; ++r)
      if (lane + 32 * r < K) {
        out[lane + 32 * r] = from_float<D>(ep[r] * ip);
        out[K + lane + 32 * r] = from_float<D>(en[r] * in);
      }
  } else {
    static_assert(M == FeatureMapKind::Taylor2, "unknown feature map");
    // [1, x / K^(1/4), x_i x_j / (sqrt(2) sqrt(K))]: the quadratic block is (x_i / K^(1/4)) (x_j /
    // K^(1/4)) / sqrt(2), with x_i and x_j fetched from the lanes that hold them (fp32, not read back from
    // the possibly 16-bit row). The loop bound is uniform so every lane takes part in each shuffle.
    const float lin = 1.0f / sqrtf(sqrtf((float)K));
    float xl[R];
#pragma unroll
    for (int r = 0; r < R; ++r) xl[r] = x[r] * lin;
    for (int f0 = 0; f0 < K * K; f0 += 32) {
      const int f = f0 + lane < K * K ? f0 + lane : K * K - 1;
      const int i = f / K, j = f - (f / K) * K;
      float xi = 0.0f, xj = 0.0f;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float a = __shfl_sync(kFullMask, xl[r], i & 31);
        const float b = __shfl_sync(kFullMask, xl[r], j & 31);
        if ((i >> 5) == r) xi = a;
        if ((j >> 5) == r) xj = b;
      }
      if (f0 + lane < K * K) out[1 + K + f] = from_float<D>(xi * xj * 0.70710678118654752f);
    }
    if (lane == 0) out[0] = from_float<D>(1.0f);
#pragma unroll
    for (int r = 0; r < R; ++r)
      if (lane + 32 * r < K) out[1 + lane + 32 * r] = from_float<D>(xl[r]);
  }
  for (int f = KF + lane; f < KFP; f += 32) out[f] = from_float<D>(0.0f);
}

/// Whether a variant's rows can use the contiguous per-lane layout (lane l holds elements l*R .. l*R + R - 1,
/// so a row is written with one vector store per lane instead of R scattered 16-bit stores): elementwise
/// maps on both sides and K a multiple of 32.
template <class Variant>
constexpr bool kContigRows =
    (Variant::kQMap == FeatureMapKind::Identity || Variant::kQMap == FeatureMapKind::L2Norm) &&
    (Variant::kKMap == FeatureMapKind::Identity || Variant::kKMap == FeatureMapKind::L2Norm) &&
    Variant::K % 32 == 0 && Variant::K <= 256;

/// Whether q~ (kQ) or k~ is the raw row itself: codegen says so with Variant::kQRaw / kKRaw (q_pre / k_pre
/// just read the element) and the map is the identity with no padding (K a multiple of 16, so K'p = K
/// and load_tile's zero rows are the map's). The chunk kernels then skip that half of the feature-map pass:
/// the loaded tile already is the operand. Variants from older generators lack the flags and keep the pass.
template <class V, class = void>
struct RawFlags {
  static constexpr bool q = false, k = false;
};
template <class V>
struct RawFlags<V, decltype((void)V::kQRaw, (void)V::kKRaw)> {
  static constexpr bool q = V::kQRaw, k = V::kKRaw;
};
template <class Variant, bool kQ>
constexpr bool kRawOperand = (kQ ? RawFlags<Variant>::q : RawFlags<Variant>::k) &&
                             (kQ ? Variant::kQMap : Variant::kKMap) == FeatureMapKind::Identity &&
                             Variant::K % 16 == 0;

/// Whether q~ (kQ) or k~ is the raw row or its L2 normalisation: what the register-state fused kernel
/// (fused_regs.cuh) loads as is and, for l2norm, normalises in shared memory.
template <class Variant, bool kQ>
constexpr bool kRowOperand = (kQ ? RawFlags<Variant>::q : RawFlags<Variant>::k) &&
                             ((kQ ? Variant::kQMap : Variant::kKMap) == FeatureMapKind::Identity ||
                              (kQ ? Variant::kQMap : Variant::kKMap) == FeatureMapKind::L2Norm) &&
                             Variant::K % 16 == 0;

/// eval_pre in the contiguous layout.
template <class Variant, int R>
LINREC_DEV void eval_pre_contig(const TokenCtx& c, float (&xq)[R], float (&xk)[R]) {
  const int d0 = lane_id() * R;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    xq[r] = Variant::q_pre(c, d0 + r);
    xk[r] = Variant::k_pre(c, d0 + r);
  }
}

/// feature_map_row for identity / l2norm in the contiguous layout (width K, R = K / 32 in {1, 2, 4, 8}).
template <FeatureMapKind M, int R, DType D>
LINREC_DEV void feature_map_row_contig(const float (&x)[R], typename Storage<D>::type* out) {
  static_assert(M == FeatureMapKind::Identity || M == FeatureMapKind::L2Norm, "elementwise maps only");
  static_assert(R == 1 || R == 2 || R == 4 || R == 8, "R must be 1, 2, 4 or 8");
  float mul = 1.0f;
  if constexpr (M == FeatureMapKind::L2Norm) {
    float ss = 0.0f;
#pragma unroll
    for (int r = 0; r < R; ++r) ss = fmaf(x[r], x[r], ss);
    mul = 1.0f / sqrtf(warp_sum(ss) + 1e-6f);
  }
  typename Storage<D>::type* o = out + lane_id() * R;
  if constexpr (D == DType::FP32) {
    if constexpr (R == 1) {
      o[0] = x[0] * mul;
    } else if constexpr (R == 2) {
      *reinterpret_cast<float2*>(o) = make_float2(x[0] * mul, x[1] * mul);
    } else {
#pragma unroll
      for (int r = 0; r < R; r += 4)
        *reinterpret_cast<float4*>(o + r) = make_float4(x[r] * mul, x[r + 1] * mul, x[r + 2] * mul, x[r + 3] * mul);
    }
  } else if constexpr (R == 1) {
    o[0] = from_float<D>(x[0] * mul);
  } else {
    unsigned w[R / 2];
#pragma unroll
    for (int j = 0; j < R / 2; ++j)
      w[j] = pack2<D>(x[2 * j] * mul, x[2 * j + 1] * mul);
    if constexpr (R == 2) {
      *reinterpret_cast<unsigned*>(o) = w[0];
    } else if constexpr (R == 4) {
      *reinterpret_cast<uint2*>(o) = make_uint2(w[0], w[1]);
    } else {
      *reinterpret_cast<uint4*>(o) = make_uint4(w[0], w[1], w[2], w[3]);
    }
  }
}

/// Loads token `tok`'s raw q and k rows (as float) into this warp's scratch: sq[0..K), sk[0..K).
template <DType D, int K>
LINREC_DEV void load_raw_qk(const void* q, const void* k, long long row_offset, float* sq, float* sk) {
  for (int d = lane_id(); d < K; d += 32) {
    sq[d] = load_elem<D>(q, row_offset + d);
    sk[d] = load_elem<D>(k, row_offset + d);
  }
}

/// Evaluates Variant::q_pre / k_pre for this lane's key indices (0 beyond K).
template <class Variant, int R>
LINREC_DEV void eval_pre(const TokenCtx& c, float (&xq)[R], float (&xk)[R]) {
  const int lane = lane_id();
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int d = lane + 32 * r;
    xq[r] = d < Variant::K ? Variant::q_pre(c, d) : 0.0f;
    xk[r] = d < Variant::K ? Variant::k_pre(c, d) : 0.0f;
  }
}

}  // namespace kern
}  // namespace linrec
