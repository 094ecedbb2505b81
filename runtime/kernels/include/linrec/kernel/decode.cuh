// linrec/kernel/decode.cuh: one recurrence step per sequence (T = 1) for the whole batch in one launch (DESIGN.md §1).
//
//   grid  x = B * H, y = ceil(V / BV) — normalizing variants: y = 1 (decode_grid_y): z is read and written in
//         place, so one CTA per (sequence, head) does every V-tile (CTAs with y > 0 return at once).
//   block Config::Warps * 32 threads; smem decode_step_smem_bytes<Variant, Config>().
// Pure bandwidth: every state element is read once and written once, four consecutive columns per
// thread (16-byte accesses when V % 4 == 0), coalesced along V; no host sync, no allocation (CUDA-graph
// friendly). The state is updated in place: each thread reads its elements before writing them.
#pragma once

#include "linrec/kernel/feature_map.cuh"
#include "linrec/kernel/layout.cuh"

namespace linrec {
namespace kern {

/// Dynamic shared memory of decode_step.
template <class Variant, class Config>
LINREC_HD constexpr int decode_step_smem_bytes() {
  return decode_smem_bytes(Variant::K, Variant::KF, Config::Warps);
}

/// Grid y for decode_step: V-tiles, or 1 for normalizing variants (z is shared by all V-tiles).
template <class Variant, class Config>
LINREC_HD constexpr int decode_grid_y(int V) {
  return Variant::kNormalize ? 1 : ceil_div(V, Config::BV);
}

/// Applies one step of the recurrence to every (sequence, head): S <- update(S), o = readout(S).
template <class Variant, class Config>
LINREC_DEV void decode_step(const DecodeParams& p) {
  using VT = VariantTraits<Variant>;
  constexpr int K = VT::K, V = VT::V, KF = VT::KF, R = VT::R, KR = VT::KR;
  constexpr int KFP = padded_feature_width(KF);
  constexpr int BV = Config::BV, W = Config::Warps, NT = W * 32;
  static_assert(BV == 16 || BV == 32 || BV == 64 || BV == 128, "Config::BV must be 16, 32, 64 or 128");
  static_assert(W == 2 || W == 4 || W == 8, "Config::Warps must be 2, 4 or 8");
  constexpr int NCG = BV / 4;            // groups of four columns
  constexpr int RG = NT / NCG;           // row groups
  constexpr int RPT = ceil_div(KF, RG);  // state rows per thread
  constexpr DType D = Config::kDType;
  constexpr bool kVec = VT::kVec, kHasDecay = VT::kHasDecay;
  constexpr bool kDelta = Variant::kDelta, kNorm = Variant::kNormalize;
  constexpr DecodeLayout L = decode_layout(K, KF, W);
  static_assert(RG * NCG == NT, "threads must split into whole row groups");

  float* sm = dynamic_smem();
  float* qf = sm + L.qf;
  float* kf = sm + L.kf;
  float* alpha = sm + L.alpha;
  float* red = sm + L.red;
  float* misc = sm + L.misc;  // [0] scalar alpha, [1] beta, [3] normalizer denominator
  const int nh = (int)blockIdx.x, n = nh / p.H, h = nh - n * p.H;
  const long long row = (long long)n * p.H + h;
  if (kNorm && blockIdx.y != 0) return;  // the y = 0 CTA owns z and does all V-tiles

  const int tid = (int)threadIdx.x, cg = tid % NCG, rg = tid / NCG;
  const long long sbase = row * KF * (long long)V;
  const int vt0 = kNorm ? 0 : (int)blockIdx.y, vstep = kNorm ? 1 : (int)gridDim.y;
  // This thread's state rows rg, rg + RG, ... and columns c0..c0+3 of V-tile vt (raw, not yet decayed).
  auto load_state = [&](int vt, float (&s)[RPT][4]) {
    const int c0 = vt * BV + 4 * cg;
#pragma unroll
    for (int r = 0; r < RPT; ++r) {
      const int d = rg + RG * r;
      if constexpr (V % 4 == 0) {
        float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (d < KF && c0 < V) x = *reinterpret_cast<const float4*>(p.state + sbase + (long long)d * V + c0);
        s[r][0] = x.x;
        s[r][1] = x.y;
        s[r][2] = x.z;
        s[r][3] = x.w;
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) s[r][j] = (d < KF && c0 + j < V) ? p.state[sbase + (long long)d * V + c0 + j] : 0.0f;
      }
    }
  };
  // The first tile's state loads are issued before the per-token work so that their latency overlaps it.
  float s[RPT][4];
  if (vt0 < ceil_div(V, BV)) load_state(vt0, s);

  if (warp_id() == 0) {
    const int lane = lane_id();
    float* sq = sm + L.scratch;
    float* sk = sq + KR;
    load_raw_qk<D, K>(p.q, p.k, row * K, sq, sk);
    warp_sync();
    const TokenCtx c{sq, sk, p.inputs, p.params, (long long)n, h, p.H, K, DType::FP32};
    float xq[R], xk[R];
    eval_pre<Variant, R>(c, xq, xk);
    warp_sync();
    feature_map_row<Variant::kQMap, K, KF, KFP, R, DType::FP32>(xq, qf);
    feature_map_row<Variant::kKMap, K, KF, KFP, R, DType::FP32>(xk, kf);
    if constexpr (kVec) {
      for (int d = lane; d < KFP; d += 32) alpha[d] = d < KF ? expf(Variant::decay(c, d)) : 1.0f;
    } else if constexpr (kHasDecay) {
      if (lane == 0) misc[0] = expf(Variant::decay(c, 0));
    } else {
      if (lane == 0) misc[0] = 1.0f;
    }
    if (lane == 0) {
      if constexpr (Variant::kHasBeta) {
        misc[1] = Variant::beta(c);
      } else {
        misc[1] = 1.0f;
      }
    }
    warp_sync();
    float qz = 0.0f;
    for (int d = lane; d < KF; d += 32) {
      if constexpr (kNorm) {
        const float a = kVec ? alpha[d] : misc[0];
        const float zi = p.z[row * KF + d];
        const float zn = a * zi + kf[d];
        qz = fmaf(qf[d], zn, qz);
        p.z[row * KF + d] = zn;
      }
    }
    qz = warp_sum(qz);
    if (lane == 0) misc[3] = p.scale * qz + Variant::kNormEps;
  }
  block_sync();

  const float bt = misc[1];
#pragma unroll 1
  for (int vt = vt0; vt < ceil_div(V, BV); vt += vstep) {
    const int c0 = vt * BV + 4 * cg;
    if (vt != vt0) load_state(vt, s);
    // Decay the thread's rows.
#pragma unroll
    for (int r = 0; r < RPT; ++r) {
      const int d = rg + RG * r;
      const float a = kVec ? (d < KF ? alpha[d] : 1.0f) : misc[0];
#pragma unroll
      for (int j = 0; j < 4; ++j) s[r][j] *= a;
    }
    float vv[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) vv[j] = c0 + j < V ? load_elem<D>(p.v, row * V + c0 + j) : 0.0f;

    // delta: u = beta (v - S^T k) needs the column sums over all rows first.
    float u[4];
    if constexpr (kDelta) {
      float pk[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
      for (int r = 0; r < RPT; ++r) {
        const int d = rg + RG * r;
        const float kd = d < KF ? kf[d] : 0.0f;
#pragma unroll
        for (int j = 0; j < 4; ++j) pk[j] = fmaf(kd, s[r][j], pk[j]);
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) red[rg * BV + 4 * cg + j] = pk[j];
      block_sync();
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        float t = 0.0f;
        for (int g = 0; g < RG; ++g) t += red[g * BV + 4 * cg + j];
        u[j] = bt * (vv[j] - t);
      }
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j) u[j] = bt * vv[j];
    }

    // S <- S + k u^T, the readout partials, and the write-back.
    float pq[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < RPT; ++r) {
      const int d = rg + RG * r;
      const float kd = d < KF ? kf[d] : 0.0f;
      const float qd = d < KF ? qf[d] : 0.0f;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        s[r][j] = fmaf(kd, u[j], s[r][j]);
        pq[j] = fmaf(qd, s[r][j], pq[j]);
      }
      if (d < KF) {
        float* dst = p.state + sbase + (long long)d * V + c0;
        if constexpr (V % 4 == 0) {
          if (c0 < V) *reinterpret_cast<float4*>(dst) = make_float4(s[r][0], s[r][1], s[r][2], s[r][3]);
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j)
            if (c0 + j < V) dst[j] = s[r][j];
        }
      }
    }
    float* red2 = red + RG * BV;
#pragma unroll
    for (int j = 0; j < 4; ++j) red2[rg * BV + 4 * cg + j] = pq[j];
    block_sync();
    if (rg == 0) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        float t = 0.0f;
        for (int g = 0; g < RG; ++g) t += red2[g * BV + 4 * cg + j];
        float o = p.scale * t;
        if constexpr (kNorm) o /= misc[3];
        if (c0 + j < V) store_elem<D>(p.o, row * V + c0 + j, o);
      }
    }
    block_sync();  // red is reused by the next V-tile
  }
}

}  // namespace kern
}  // namespace linrec
