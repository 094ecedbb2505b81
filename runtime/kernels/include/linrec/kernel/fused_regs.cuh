// linrec/kernel/fused_regs.cuh: fused sequential prefill with the state in registers, for 16-bit variants
// whose q~ and k~ are the raw rows or their L2 normalisation, with an additive rule whose decay is none, a
// constant, one scalar per token (linear attention, retention, simple GLA / Mamba2-style gates) or, with bf16
// inputs, one per token and key (GLA), or a delta rule with no decay or a scalar one (DeltaNet, Gated
// DeltaNet; chunk_fwd_wy, wy.cuh, solves their WY form first). chunk_fwd_fused dispatches here when
// fused_in_registers<Variant, Config>() holds (layout.cuh fused_regs_applies); everything else takes the
// phase-by-phase kernel.
//
// Why a second fused kernel: the phase kernel (chunk_phases.cuh) passes 5-7 barriers per chunk and
// round-trips the scores and the fp32 state through shared memory; ncu had it latency bound with HMMA at
// ~3 % of the issued instructions (docs/performance.md). Here, per chunk:
//   - each warp owns 16-row stripes of the chunk: the scores q k^T and q Sb share one pass over q's
//     fragments; the scores stay in registers, are decayed and masked there, and feed the A U product as
//     A fragments directly (the accumulator layout of m16n8 is the A layout of m16n8k16);
//   - the state S^T (V-tile x K) lives in mma accumulators across the whole sequence; the update
//     S^T <- Gamma_last S^T + (U e^{b_last - b})^T k applies its decay to the loaded U fragments;
//   - q, k, v of the next chunk and its decay arrive during this one (cp.async into a ring of
//     FusedRegsLayout::ns = 2 stages, so two blocks share an SM; layout.cuh says why not deeper); warp 0
//     issues the gate loads early and writes their cumsum at the end of the chunk;
//   - two barriers: one before the chunk (its tiles and the state copy Sb visible), one before Sb is
//     rewritten from the registers;
//   - a per-key decay instead rescales the chunk's q and k in place (vec_transform, all threads, one more
//     barrier), and the products apply per-key factors to their fragments (see vec_transform);
//   - a delta rule's V-tile holds U; before the chunk's products each warp replaces its part by
//     v_new = U - W Sb (delta_values, one more barrier, shared with the l2norm pass); W has one buffer,
//     refilled for the next chunk after that barrier, which lets three blocks share an SM at C = 32
//     (layout.cuh fused_regs_min_blocks).
#pragma once

#include "linrec/kernel/chunk_phases.cuh"

namespace linrec {
namespace kern {

/// b[r] <- the log decay at key d of row r0 + r of the chunk whose first token is tok0 (0 for rows >= rows, past
/// the sequence). The batch's vector inputs are loaded first, at clamped indices and with no branch between
/// them, so the loads overlap; the decay expression (a latency chain per row) then reads them from the context.
template <class Variant, DType D, int GR>
LINREC_DEV void vec_log_decays(const FwdParams& p, long long tok0, int rows, int h, int d, int r0, float (&b)[GR]) {
  constexpr unsigned VM = VecInputMask<Variant>::value;
  float pre[GR][kMaxInputs];
  auto ctx_at = [&](int i) {
    return TokenCtx{nullptr, nullptr, p.inputs, p.params, tok0 + (i < rows ? i : 0), h, p.H, Variant::K, D};
  };
#pragma unroll
  for (int r = 0; r < GR; ++r) {
    const TokenCtx ctx = ctx_at(r0 + r);
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
      if ((VM >> j) & 1u) pre[r][j] = ctx.input_vec(j, d);
  }
#pragma unroll
  for (int r = 0; r < GR; ++r) {
    TokenCtx ctx = ctx_at(r0 + r);
    ctx.vin_mask = VM;
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
      if ((VM >> j) & 1u) ctx.vin[j] = pre[r][j];
    const float x = Variant::decay(ctx, d);
    b[r] = r0 + r < rows ? x : 0.0f;
  }
}

/// The l2norm factor mul = 1 / sqrt(|x|^2 + 1e-6) of every row of a 16-bit [nrows][ld] tile (feature_map_row's
/// l2norm), TPR threads per row in 16-byte vectors; then f(r, part, mul) for each of the thread's rows, whose
/// vectors part, part + TPR, ... are this thread's. All NT threads call it: the trip count is uniform, so every
/// lane of a warp takes part in each shuffle.
template <DType D, int K>
struct RowVecs {
  static constexpr int VE = kVecElems<D>, VPR = K / VE;
  static_assert(K % VE == 0, "l2norm rows: K must be a multiple of the vector width");
  static constexpr int TPR = VPR % 4 == 0 ? 4 : VPR % 2 == 0 ? 2 : 1;
};
template <DType D, int K, int NT, class F>
LINREC_DEV void for_rows_l2(const typename Storage<D>::type* tile, int ld, int nrows, F&& f) {
  using R = RowVecs<D, K>;
  const int total = nrows * R::TPR;
  for (int base = 0; base < total; base += NT) {
    const int idx = base + (int)threadIdx.x, r = idx / R::TPR, part = idx - (idx / R::TPR) * R::TPR;
    const bool ok = idx < total;
    const typename Storage<D>::type* row = tile + (ok ? r : 0) * ld;
    float ss = 0.0f;
    if (ok) {
#pragma unroll
      for (int v = part; v < R::VPR; v += R::TPR) {
        float x[R::VE];
        unpack_vec<D>(*reinterpret_cast<const uint4*>(row + v * R::VE), x);
#pragma unroll
        for (int j = 0; j < R::VE; ++j) ss = fmaf(x[j], x[j], ss);
      }
    }
#pragma unroll
    for (int o = 1; o < R::TPR; o <<= 1) ss += __shfl_xor_sync(kFullMask, ss, o);
    if (ok) f(r, part, 1.0f / sqrtf(ss + 1e-6f));
  }
}

/// Normalises whole rows of a 16-bit [rows][ld] tile in place (zero rows stay zero). A barrier must follow
/// before other threads read the rows.
template <DType D, int K, int NT>
LINREC_DEV void l2norm_rows_inplace(typename Storage<D>::type* tile, int ld, int nrows) {
  using R = RowVecs<D, K>;
  for_rows_l2<D, K, NT>(tile, ld, nrows, [&](int r, int part, float mul) {
#pragma unroll
    for (int v = part; v < R::VPR; v += R::TPR) {
      float x[R::VE];
      uint4* at = reinterpret_cast<uint4*>(tile + r * ld + v * R::VE);
      unpack_vec<D>(*at, x);
#pragma unroll
      for (int j = 0; j < R::VE; ++j) x[j] *= mul;
      *at = pack_vec<D>(x);
    }
  });
}

/// inv[r] <- the l2norm factor of row r, for kernels that fold it into later products instead of rewriting
/// the rows. A barrier must follow before other threads read inv.
template <DType D, int K, int NT>
LINREC_DEV void row_inv_norms(const typename Storage<D>::type* tile, int ld, int nrows, float* inv) {
  for_rows_l2<D, K, NT>(tile, ld, nrows, [&](int r, int part, float mul) {
    if (part == 0) inv[r] = mul;
  });
}

/// How the warps split the work of one chunk (layout.cuh fused_regs_split).
template <class Variant, class Config>
struct FusedRegsShape {
  static constexpr int K = Variant::K, C = Config::C, BV = Config::BV, W = Config::Warps;
  static constexpr FusedRegsSplit S = fused_regs_split(K, C, BV, W);
  /// 16-row stripes of the chunk, warps along them, and column groups (warps sharing a stripe split
  /// the V-tile's output columns and each recompute the stripe's scores).
  static constexpr int RS = S.rs, RW = S.rw, CG = S.cg, SPW = S.spw, BVW = S.bvw;
  /// The state S^T (BV x K) in WM x WN warp tiles of (16 MT) x (8 NTS).
  static constexpr int WM = S.wm, WN = S.wn, MT = S.mt, NTS = S.nts;
  static constexpr bool kOk = fused_regs_shape_ok(K, C, BV, W);
};

/// Whether chunk_fwd_fused takes chunk_fwd_fused_regs for this Variant and Config.
template <class Variant, class Config>
LINREC_HD constexpr bool fused_in_registers() {
  return fused_regs_applies(Config::kDType == DType::FP32 ? 4 : 2, Config::kDType == DType::BF16, Variant::kDelta,
                            Variant::kHasBeta, Variant::kNormalize, kRowOperand<Variant, true>,
                            kRowOperand<Variant, false>, Variant::kDecay == DecayKind::Vector, Variant::K, Variant::KF,
                            Variant::V, Config::C, Config::BV, Config::Warps);
}

/// One block's walk over the chunks of tokens [bos, bos + len) of head h, V-tile vt: the state starts
/// from h0 (the [K][V] state of this (sequence, head), or null for zeros) and ends in ht (same form, or null).
/// kOut: write the outputs (the fused kernel); without it only the state is carried (chunk_fwd_seg_state),
/// q is never loaded, and gtotal (when not null) receives the range's total log decay (K values for a
/// per-key decay, else one).
template <class Variant, class Config, bool kOut>
LINREC_DEV void fused_regs_walk(const FwdParams& p, int h, int vt, long long bos, int len, const float* h0,
                                float* ht, float* gtotal) {
  using Sh = FusedRegsShape<Variant, Config>;
  constexpr DType D = Config::kDType;
  using E = typename Storage<D>::type;
  constexpr int K = Sh::K, V = Variant::V, C = Sh::C, BV = Sh::BV, W = Sh::W, NT = W * 32;
  constexpr int MT = Sh::MT, NTS = Sh::NTS, NC = C / 8, NO = Sh::BVW / 8;
  constexpr int EPL = C < 32 ? 1 : C / 32;  // tokens per lane of warp 0's gate evaluation
  // kDecay: a scalar log decay per token (warp 0's gate path); kVec: one per token and key (the transform).
  constexpr bool kVec = Variant::kDecay == DecayKind::Vector;
  constexpr bool kDecay = Variant::kDecay != DecayKind::None && !kVec;
  constexpr int RS = Sh::RS;
  // Delta rules: the V-tile holds U (chunk_fwd_wy), replaced per chunk by v_new = U - W S_c, which then takes
  // v's place in the outputs and the state update.
  constexpr bool kWy = Variant::kDelta;
  static_assert(!kWy || kOut, "fused_regs_walk: delta rules have no state-only walk (no segments)");
  // Delta rules with one stripe per warp form q Sb next to W Sb, before the barrier that publishes v_new: the
  // two products share Sb's fragments, nothing reads Sb after that barrier, so Sb is rewritten from the
  // registers without a third one, and an l2norm q becomes a factor on the output rows (each warp normalises
  // its own stripe), not a pass over q.
  constexpr bool kEarly = kWy && !kVec && Sh::SPW == 1;
  // l2norm maps: the loaded rows are normalised in place (q: unless kEarly).
  constexpr bool kL2Q = kOut && Variant::kQMap == FeatureMapKind::L2Norm && !kEarly;
  constexpr bool kRq = kEarly && Variant::kQMap == FeatureMapKind::L2Norm;
  constexpr bool kL2K = Variant::kKMap == FeatureMapKind::L2Norm;
  // The state-only walk has its own launch size (fused_regs_state_layout): no q, no Sb, a deeper ring.
  constexpr FusedRegsLayout L = kOut ? fused_regs_layout(K, C, BV, kVec, kWy) : fused_regs_state_layout(K, C, BV, kVec);
  static_assert(L.total <= 227 * 1024, "chunk_fwd_fused_regs: its layout must fit an SM");
  constexpr int LDK = L.ld_k, LDU = L.ld_u, NS = L.ns;
  constexpr bool kLate = NS >= 3;
  unsigned char* const sm = reinterpret_cast<unsigned char*>(dynamic_smem());
  const int v0 = vt * BV;
  const int vcols = V - v0 < BV ? V - v0 : BV;
  const int warp = warp_id(), lane = lane_id(), g = lane >> 2, t = lane & 3;

  auto qs = [&](int s) { return reinterpret_cast<E*>(sm + s * L.stage + L.q); };
  auto ks = [&](int s) { return reinterpret_cast<E*>(sm + s * L.stage + L.k); };
  auto us = [&](int s) { return reinterpret_cast<E*>(sm + s * L.stage + L.u); };
  E* const wt = reinterpret_cast<E*>(sm + L.w);  // delta rules: chunk c's W, one buffer (fused_regs_layout)
  const FusedWyWs wyws = fused_wy_ws((long long)p.B * p.T, p.H, K, V, 2);
  const E* const wsrc = reinterpret_cast<const E*>(reinterpret_cast<const unsigned char*>(p.ws) + wyws.w);
  const E* const usrc = reinterpret_cast<const E*>(reinterpret_cast<const unsigned char*>(p.ws) + wyws.u);
  auto gs = [&](int s) { return reinterpret_cast<float*>(sm + s * L.stage + L.g); };
  E* const sb = reinterpret_cast<E*>(sm + L.sb);
  // Per-key decay tables: bref(I, d) = b at stripe I's reference row, blast(d) = b at the chunk's last row,
  // gtot(d) = the state-only walk's running total, gpart(j, d) = the sum over thread j's rows (vec_transform).
  float* const vtab = reinterpret_cast<float*>(sm + L.vt);
  auto bref = [&](int I, int d) -> float& { return vtab[I * K + d]; };
  auto blast = [&](int d) -> float& { return vtab[RS * K + d]; };
  auto gtot = [&](int d) -> float& { return vtab[(RS + 1) * K + d]; };
  auto gpart = [&](int j, int d) -> float& { return vtab[(RS + 2 + j) * K + d]; };

  auto rows_at = [&](int t0) { return len - t0 < C ? len - t0 : C; };
  const int nchunks = (len + C - 1) / C;
  // Chunk c's q, k and V-tile into stage s as one cp.async group (rows past the sequence are zero); past
  // the last chunk the group is empty, so that every iteration commits one and wait_group counts chunks.
  auto fetch = [&](int c, int s) {
    if (c < nchunks) {
      const int t0 = c * C, rows = rows_at(t0);
      const long long row0 = (bos + t0) * p.H + h;
      if constexpr (kOut) load_tile_async<D, C, K, NT>(p.q, row0 * K, (long long)p.H * K, rows, K, qs(s), LDK);
      load_tile_async<D, C, K, NT>(p.k, row0 * K, (long long)p.H * K, rows, K, ks(s), LDK);
      if constexpr (kWy) {
        load_tile_async<D, C, BV, NT>(usrc, row0 * V + v0, (long long)p.H * V, rows, vcols, us(s), LDU);
      } else {
        load_tile_async<D, C, BV, NT>(p.v, row0 * V + v0, (long long)p.H * V, rows, vcols, us(s), LDU);
      }
    }
    cp_async_commit();
  };
  // Delta rules: chunk c's W into its single buffer as a group of its own, issued once every warp has read
  // the previous chunk's (after the barrier that follows delta_values); the next iteration's wait_group<0>
  // covers it with the stage's group.
  static_assert(!kWy || NS == 2, "fused_regs_walk: a delta rule's single W buffer assumes two stages");
  auto fetch_w = [&](int c) {
    if constexpr (kWy) {
      if (c < nchunks) {
        const int t0 = c * C;
        const long long row0 = (bos + t0) * p.H + h;
        load_tile_async<D, C, K, NT>(wsrc, row0 * K, (long long)p.H * K, rows_at(t0), K, wt, LDK);
      }
      cp_async_commit();
    }
  };
  // Warp 0: the log decay of chunk c's tokens, lane l holding tokens l * EPL ... (0 past the sequence).
  // Evaluated at clamped indices with no branch around the expression, so all its loads issue at once.
  auto gate_eval = [&](int c, float(&gv)[EPL]) {
    if constexpr (kDecay) {  // variants without a decay have no decay()
      const int t0 = c * C, rows = rows_at(t0);
#pragma unroll
      for (int j = 0; j < EPL; ++j) {
        const int i = lane * EPL + j;
        const bool ok = i < rows;
        const TokenCtx ctx{nullptr, nullptr, p.inputs, p.params, bos + t0 + (ok ? i : 0), h, p.H, K, D};
        const float x = Variant::decay(ctx, 0);
        gv[j] = ok ? x : 0.0f;
      }
    }
  };
  // Warp 0: the in-chunk cumsum b, e^b and e^{b_last - b} into stage s.
  auto gate_store = [&](const float(&gv)[EPL], int s) {
    float v[EPL], sum = 0.0f;
#pragma unroll
    for (int j = 0; j < EPL; ++j) {
      sum += gv[j];
      v[j] = sum;
    }
    const float incl = warp_inclusive_scan(sum);
    const float last = __shfl_sync(kFullMask, incl, 31);
    float* gb = gs(s);
#pragma unroll
    for (int j = 0; j < EPL; ++j) {
      const int i = lane * EPL + j;
      if (i < C) {
        const float b = incl - sum + v[j];
        gb[i] = b;
        gb[C + i] = kexp<D>(b);
        gb[2 * C + i] = kexp<D>(last - b);
      }
    }
  };

  // Per-key decay: every thread takes whole key columns of chunk c (stage s), evaluates their log decays
  // and in-chunk cumsum b, and rescales q and k in place around each 16-row stripe's reference row m
  // (row 7): q_i <- q_i e^{b_i - b_m}, k_j <- k_j e^{b_m - b_j}. A score within a stripe is then a plain
  // product, one across stripes I > J a product with k scaled by e^{b_m(I) - b_m(J)} (<= 1), and q e^{b_i},
  // k e^{b_last - b_j} for the state terms are per-key factors on these rows; the factors stay within
  // e^{+-kSpan} because they span at most 8 rows. A log decay beyond that span (a factor below e^{-kSpan}
  // over 8 tokens) would overflow bf16, so such elements become NaN instead of a wrong finite value.
  auto vec_transform = [&](int c, int s) {
    if constexpr (kVec) {
      constexpr float kSpan = 64.0f;
      const int t0 = c * C, rows = rows_at(t0);
      E* const q = qs(s);
      E* const k = ks(s);
      // Threads per key: with at least twice as many threads as keys, the rows of a key are split among
      // TPK threads of 16-row-aligned ranges of at most 32 rows (a cross-thread cumsum through the tables),
      // so that every thread evaluates decays: the expression is a latency chain per row.
      constexpr int TPK = NT >= 4 * K && C / 4 >= 16 && C / 4 <= 32   ? 4
                          : NT >= 2 * K && C / 2 >= 16 && C / 2 <= 32 ? 2
                                                                      : 1;
      constexpr int RPT = C / TPK;  // rows per thread
      // Up to 32 rows per batch (the state's accumulators leave room for them).
      constexpr int GR = RPT < 32 ? RPT : 32;
      auto eval_batch = [&](int d, int r0, float(&b)[GR]) {
        vec_log_decays<Variant, D, GR>(p, bos + t0, rows, h, d, r0, b);
      };
      // Rows r0 .. r0 + GR - 1 (whole stripes) rescaled, b the in-chunk cumsum of their log decays.
      auto rescale = [&](int d, int r0, const float(&b)[GR]) {
        const float nan = nanf("");
#pragma unroll
        for (int i0 = 0; i0 < GR; i0 += 16) {
          const float m = b[i0 + 7];
          bref((r0 + i0) / 16, d) = m;
#pragma unroll
          for (int r = i0; r < i0 + 16; ++r) {
            const float dl = b[r] - m;
            const bool ok = fabsf(dl) <= kSpan;
            const int at = (r0 + r) * LDK + d;
            if constexpr (kOut) q[at] = from_float<D>(ok ? to_float<D>(q[at]) * kexp<D>(dl) : nan);
            k[at] = from_float<D>(ok ? to_float<D>(k[at]) * kexp<D>(-dl) : nan);
          }
        }
      };
      if constexpr (TPK == 1) {
#pragma unroll 1
        for (int d = threadIdx.x; d < K; d += NT) {
          float run = 0.0f;
#pragma unroll 1
          for (int r0 = 0; r0 < C; r0 += GR) {
            float b[GR];
            eval_batch(d, r0, b);
#pragma unroll
            for (int r = 0; r < GR; ++r) {
              run += b[r];
              b[r] = run;
            }
            rescale(d, r0, b);
          }
          blast(d) = run;
          if constexpr (!kOut) gtot(d) += run;
        }
      } else {
        const int d = (int)threadIdx.x % K, grp = (int)threadIdx.x / K;
        const bool act = grp < TPK;
        float b[GR];
        if (act) {
          eval_batch(d, grp * RPT, b);
#pragma unroll
          for (int r = 1; r < GR; ++r) b[r] += b[r - 1];
          gpart(grp, d) = b[GR - 1];
        }
        block_sync();  // every range's total is visible
        if (act) {
          float off = 0.0f;
          for (int j = 0; j < grp; ++j) off += gpart(j, d);
#pragma unroll
          for (int r = 0; r < GR; ++r) b[r] += off;
          rescale(d, grp * RPT, b);
          if (grp == TPK - 1) {
            blast(d) = b[GR - 1];
            if constexpr (!kOut) gtot(d) += b[GR - 1];
          }
        }
      }
    }
  };

  // l2norm maps: the rows of q and k (stage s) normalised in place.
  auto l2norm_rows = [&](int s) {
    if constexpr (kL2Q) l2norm_rows_inplace<D, K, NT>(qs(s), LDK, C);
    if constexpr (kL2K) l2norm_rows_inplace<D, K, NT>(ks(s), LDK, C);
  };

  // This warp's tile of S^T: V-tile rows sm0.., key columns sn0...
  const int sm0 = (warp % Sh::WM) * MT * 16, sn0 = (warp / Sh::WM) * NTS * 8;
  float st[MT][NTS][4];
  // f(element, v, d) for every state element this lane holds (v within the V-tile, d the key).
  auto for_state = [&](auto&& f) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < NTS; ++nt)
#pragma unroll
        for (int r = 0; r < 4; ++r)
          f(st[mt][nt][r], sm0 + 16 * mt + g + 8 * (r >> 1), sn0 + 8 * nt + 2 * t + (r & 1));
  };
  for_state([&](float& x, int v, int d) {
    x = (h0 != nullptr && v0 + v < V) ? h0[(long long)d * V + v0 + v] : 0.0f;
  });
  // Sb[v][d] from the registers: key pairs are adjacent in both.
  auto store_sb = [&]() {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < NTS; ++nt)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
          const int v = sm0 + 16 * mt + g + 8 * hf, d = sn0 + 8 * nt + 2 * t;
          store_pair<D>(sb, v * LDK + d, st[mt][nt][2 * hf], st[mt][nt][2 * hf + 1]);
        }
  };

  const int rw = warp % Sh::RW, c0 = (warp / Sh::RW) * Sh::BVW;  // stripe lane and output columns
  // Stripes of this warp; with two, a short and a long one (the causal work of stripe I grows with I).
  auto stripe = [&](int si) { return Sh::SPW == 2 ? (si == 0 ? rw : Sh::RS - 1 - rw) : rw + Sh::RW * si; };

  // Delta rules: U <- v_new = U - W Sb in place (stage s), each warp its stripes' rows and its columns (the
  // split the outputs use, so every element has one writer). kEarly: also q Sb into qsb, and with an l2norm q
  // the inverse norms of rows g and g + 8 of the stripe into rq.
  float qsb[NO][4], rq[2] = {1.0f, 1.0f};
  auto delta_values = [&](int s) {
    if constexpr (kWy) {
      E* const u = us(s);
#pragma unroll 1
      for (int si = 0; si < Sh::SPW; ++si) {
        const int I = stripe(si);
        float xa[NO][4];
#pragma unroll
        for (int j = 0; j < NO; ++j)
#pragma unroll
          for (int r = 0; r < 4; ++r) xa[j][r] = qsb[j][r] = 0.0f;
        const RowsView<D> wv{wt + 16 * I * LDK, LDK};
        const RowsView<D> qv{qs(s) + 16 * I * LDK, LDK};
        const ColsView<D> sv{sb + c0 * LDK, LDK};  // (d, v) = Sb[v][d]
#pragma unroll
        for (int kk = 0; kk < K; kk += 16) {
          unsigned a[4], aq[4];
          frag_a(wv, a, 0, kk);
          if constexpr (kEarly) frag_a(qv, aq, 0, kk);
#pragma unroll
          for (int np = 0; np < NO / 2; ++np) {
            unsigned b[4];
            frag_b2(sv, b, kk, 16 * np);
            mma_pair<D>(xa[2 * np], xa[2 * np + 1], a, b);
            if constexpr (kEarly) mma_pair<D>(qsb[2 * np], qsb[2 * np + 1], aq, b);
          }
        }
        if constexpr (kRq) {  // lane l: half l % 2 of row l / 2 of the stripe
          constexpr int VE = kVecElems<D>, HV = K / 2 / VE;
          const E* row = qs(s) + (16 * I + (lane >> 1)) * LDK + (lane & 1) * (K / 2);
          float ss = 0.0f;
#pragma unroll
          for (int v = 0; v < HV; ++v) {
            float x[VE];
            unpack_vec<D>(*reinterpret_cast<const uint4*>(row + v * VE), x);
#pragma unroll
            for (int j = 0; j < VE; ++j) ss = fmaf(x[j], x[j], ss);
          }
          ss += __shfl_xor_sync(kFullMask, ss, 1);
          const float r0 = __shfl_sync(kFullMask, ss, 2 * g), r1 = __shfl_sync(kFullMask, ss, 2 * (g + 8));
          rq[0] = 1.0f / sqrtf(r0 + 1e-6f);
          rq[1] = 1.0f / sqrtf(r1 + 1e-6f);
        }
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
          const int i = 16 * I + g + 8 * hf;
#pragma unroll
          for (int nt = 0; nt < NO; ++nt) {
            const int at = i * LDU + c0 + 8 * nt + 2 * t;
            const unsigned x = *reinterpret_cast<const unsigned*>(u + at);
            store_pair<D>(u, at, to_float<D>((E)(x & 0xffffu)) - xa[nt][2 * hf],
                          to_float<D>((E)(x >> 16)) - xa[nt][2 * hf + 1]);
          }
        }
      }
    }
  };

  float gv[EPL] = {};
#pragma unroll
  for (int c = 0; c < NS - 1; ++c) {
    fetch(c, c);
    if (c == 0) fetch_w(0);
    if constexpr (kDecay)
      if (warp == 0 && c < nchunks) {
        gate_eval(c, gv);
        gate_store(gv, c);
      }
  }
  if constexpr (kOut) store_sb();
  float gacc = 0.0f;  // the range's total log decay (state-only walks)
  if constexpr (kVec && !kOut)
    for (int d = threadIdx.x; d < K; d += NT) gtot(d) = 0.0f;  // each thread keeps its own keys' totals
#pragma unroll 1
  for (int c = 0, s = 0; c < nchunks; ++c, s = s + 1 == NS ? 0 : s + 1) {
    const int t0 = c * C, rows = rows_at(t0);
    // Chunk c + NS - 1 goes to the stage chunk c - 1 used.
    const int ahead = c + NS - 1, sa = s == 0 ? NS - 1 : s - 1;
    cp_async_wait_group<NS - 2>();
    block_sync();  // chunk c's tiles, its gates and Sb = S_c are visible; stage sa is free
    fetch(ahead, sa);
    if constexpr (kDecay)
      if (warp == 0) {
        // With three or more stages the gates of a chunk are stored one iteration after their loads issue
        // (chunk c + NS - 2's, evaluated last iteration, into the stage chunk c - 2 left), so warp 0 never
        // waits on a global load inside an iteration; the state-only walk has nothing else to hide it behind.
        if constexpr (kLate)
          if (c >= 1 && ahead - 1 < nchunks) gate_store(gv, sa == 0 ? NS - 1 : sa - 1);
        if (ahead < nchunks) gate_eval(ahead, gv);
      }
    if constexpr (kL2Q || kL2K || kWy) {
      l2norm_rows(s);
      delta_values(s);
      block_sync();  // the normalised rows and v_new are visible; W is free
      fetch_w(c + 1);
    }
    if constexpr (kVec) {
      vec_transform(c, s);
      block_sync();  // the rescaled q and k and the decay tables are visible
    }
    const E* q = qs(s);
    const E* k = ks(s);
    const E* u = us(s);
    const float* gb = gs(s);
    if constexpr (!kOut && kDecay) gacc += gb[C - 1];  // rows past the end hold log decay 0

    // ---- outputs: o = scale (e^b q Sb + (q k^T . decay, causal) U) for each stripe
#pragma unroll 1
    for (int si = 0; si < (kOut ? Sh::SPW : 0); ++si) {
      const int I = stripe(si);
      float pa[NC][4], oa[NO][4];
#pragma unroll
      for (int j = 0; j < NC; ++j)
#pragma unroll
        for (int r = 0; r < 4; ++r) pa[j][r] = 0.0f;
#pragma unroll
      for (int j = 0; j < NO; ++j)
#pragma unroll
        for (int r = 0; r < 4; ++r) oa[j][r] = kEarly ? qsb[j][r] : 0.0f;
      const RowsView<D> qv{q + 16 * I * LDK, LDK};
      const ColsView<D> kv{k, LDK};              // (d, j) = k[j][d]
      const ColsView<D> sv{sb + c0 * LDK, LDK};  // (d, v) = Sb[v][d]
#pragma unroll
      for (int kk = 0; kk < K; kk += 16) {
        unsigned a[4];
        frag_a(qv, a, 0, kk);
        // Per-key decay: b at this stripe's reference row for the lane's four keys (a's and b's key pairs).
        float bi[4] = {};
        if constexpr (kVec) {
          const int d = kk + 2 * t;
          bi[0] = bref(I, d), bi[1] = bref(I, d + 1), bi[2] = bref(I, d + 8), bi[3] = bref(I, d + 9);
        }
#pragma unroll
        for (int np = 0; np < NC / 2; ++np)
          if (np <= I) {
            unsigned b[4];
            frag_b2(kv, b, kk, 16 * np);
            if constexpr (kVec)
              if (np < I) {  // stripe np's rows from its reference row to stripe I's
                const int d = kk + 2 * t;
                const float f0 = kexp<D>(bi[0] - bref(np, d)), f1 = kexp<D>(bi[1] - bref(np, d + 1));
                const float f2 = kexp<D>(bi[2] - bref(np, d + 8)), f3 = kexp<D>(bi[3] - bref(np, d + 9));
                b[0] = scale_pair<D>(b[0], f0, f1);
                b[1] = scale_pair<D>(b[1], f2, f3);
                b[2] = scale_pair<D>(b[2], f0, f1);
                b[3] = scale_pair<D>(b[3], f2, f3);
              }
            mma_pair<D>(pa[2 * np], pa[2 * np + 1], a, b);
          }
        if constexpr (kVec) {  // q e^{b_i} for the state term
          const float e0 = kexp<D>(bi[0]), e1 = kexp<D>(bi[1]), e2 = kexp<D>(bi[2]), e3 = kexp<D>(bi[3]);
          a[0] = scale_pair<D>(a[0], e0, e1);
          a[1] = scale_pair<D>(a[1], e0, e1);
          a[2] = scale_pair<D>(a[2], e2, e3);
          a[3] = scale_pair<D>(a[3], e2, e3);
        }
        if constexpr (!kEarly)
#pragma unroll
          for (int np = 0; np < NO / 2; ++np) {
            unsigned b[4];
            frag_b2(sv, b, kk, 16 * np);
            mma_pair<D>(oa[2 * np], oa[2 * np + 1], a, b);
          }
      }
      const int i0 = 16 * I + g, i1 = i0 + 8;
      if constexpr (kDecay) {
        const float e0 = gb[C + i0], e1 = gb[C + i1];
#pragma unroll
        for (int j = 0; j < NO; ++j) {
          oa[j][0] *= e0;
          oa[j][1] *= e0;
          oa[j][2] *= e1;
          oa[j][3] *= e1;
        }
      }
      const float b0 = kDecay ? gb[i0] : 0.0f, b1 = kDecay ? gb[i1] : 0.0f;
#pragma unroll
      for (int nt = 0; nt < NC; ++nt)
        if (nt / 2 <= I) {
          const int j = 8 * nt + 2 * t;
          float bj0 = 0.0f, bj1 = 0.0f;
          if constexpr (kDecay) bj0 = gb[j], bj1 = gb[j + 1];
          pa[nt][0] = j > i0 ? 0.0f : kDecay ? pa[nt][0] * kexp<D>(b0 - bj0) : pa[nt][0];
          pa[nt][1] = j + 1 > i0 ? 0.0f : kDecay ? pa[nt][1] * kexp<D>(b0 - bj1) : pa[nt][1];
          pa[nt][2] = j > i1 ? 0.0f : kDecay ? pa[nt][2] * kexp<D>(b1 - bj0) : pa[nt][2];
          pa[nt][3] = j + 1 > i1 ? 0.0f : kDecay ? pa[nt][3] * kexp<D>(b1 - bj1) : pa[nt][3];
        }
      const RowsBView<D> uv{u + c0, LDU};  // (j, v) = U[j][v]
#pragma unroll
      for (int kq = 0; kq < NC / 2; ++kq)
        if (kq <= I) {
          const unsigned a[4] = {pack2<D>(pa[2 * kq][0], pa[2 * kq][1]), pack2<D>(pa[2 * kq][2], pa[2 * kq][3]),
                                 pack2<D>(pa[2 * kq + 1][0], pa[2 * kq + 1][1]),
                                 pack2<D>(pa[2 * kq + 1][2], pa[2 * kq + 1][3])};
#pragma unroll
          for (int np = 0; np < NO / 2; ++np) {
            unsigned b[4];
            frag_b2(uv, b, 16 * kq, 16 * np);
            mma_pair<D>(oa[2 * np], oa[2 * np + 1], a, b);
          }
        }
      // Adjacent columns go out as one 4-byte store (V % 8 == 0 and v0 + c even keep them aligned).
#pragma unroll
      for (int hf = 0; hf < 2; ++hf) {
        const int i = hf ? i1 : i0;
        if (i >= rows) continue;
        const long long row = ((bos + t0 + i) * p.H + h) * V + v0 + c0;
#pragma unroll
        for (int nt = 0; nt < NO; ++nt) {
          const int cc = 8 * nt + 2 * t;
          const float sc = kRq ? p.scale * rq[hf] : p.scale;
          if (c0 + cc < vcols) store_pair<D>(p.o, row + cc, sc * oa[nt][2 * hf], sc * oa[nt][2 * hf + 1]);
        }
      }
    }

    // ---- state: S^T <- Gamma_last S^T + (U e^{b_last - b})^T k
    if constexpr (kDecay) {
      const float gam = gb[C + C - 1];
      for_state([&](float& x, int, int) { x *= gam; });
    }
    if constexpr (kVec) for_state([&](float& x, int, int d) { x *= kexp<D>(blast(d)); });
    const TransRowsView<D> ut{u + sm0, LDU};  // (v, j) = U[j][v]
    const RowsBView<D> kb{k + sn0, LDK};      // (j, d) = k[j][d]
#pragma unroll
    for (int kk = 0; kk < C; kk += 16) {
      unsigned a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) frag_a(ut, a[mt], 16 * mt, kk);
      if constexpr (kDecay) {
        const float* f = gb + 2 * C + kk + 2 * t;
        const float f0 = f[0], f1 = f[1], f2 = f[8], f3 = f[9];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          a[mt][0] = scale_pair<D>(a[mt][0], f0, f1);
          a[mt][1] = scale_pair<D>(a[mt][1], f0, f1);
          a[mt][2] = scale_pair<D>(a[mt][2], f2, f3);
          a[mt][3] = scale_pair<D>(a[mt][3], f2, f3);
        }
      }
#pragma unroll
      for (int np = 0; np < NTS / 2; ++np) {
        unsigned b[4];
        frag_b2(kb, b, kk, 16 * np);
        if constexpr (kVec) {  // k_j e^{b_last - b_j}: rows kk.. are stripe kk / 16, columns the lane's two keys
          const int d0 = sn0 + 16 * np + g, d1 = d0 + 8, J = kk / 16;
          const float f0 = kexp<D>(blast(d0) - bref(J, d0)), f1 = kexp<D>(blast(d1) - bref(J, d1));
          b[0] = scale_pair<D>(b[0], f0, f0);
          b[1] = scale_pair<D>(b[1], f0, f0);
          b[2] = scale_pair<D>(b[2], f1, f1);
          b[3] = scale_pair<D>(b[3], f1, f1);
        }
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) mma_pair<D>(st[mt][2 * np], st[mt][2 * np + 1], a[mt], b);
      }
    }
    if constexpr (kOut) {
      if constexpr (!kEarly) block_sync();  // every warp has read Sb = S_c (kEarly: before the last barrier)
      store_sb();
    }
    if constexpr (kDecay && !kLate)
      if (warp == 0 && ahead < nchunks) gate_store(gv, sa);
  }
  if (ht != nullptr)
    for_state([&](float x, int v, int d) {
      if (v0 + v < V) ht[(long long)d * V + v0 + v] = x;
    });
  if constexpr (kVec) {
    if (gtotal != nullptr)
      for (int d = threadIdx.x; d < K; d += NT) gtotal[d] = gtot(d);
  } else if (gtotal != nullptr && threadIdx.x == 0) {
    *gtotal = gacc;
  }
}

/// The (sequence, head, V-tile) of a block. The V-tiles of one (sequence, head) are adjacent in launch order,
/// so they run together and all but the first read q and k from L2 (grid.y walking the V-tiles would schedule
/// them a whole wave apart). Grid z is the segment.
struct RegsBlock {
  int n, h, vt;
};
LINREC_DEV RegsBlock regs_block(const FwdParams& p) {
  const int nvt = (int)gridDim.y;
  const int lin = (int)blockIdx.x + (int)gridDim.x * (int)blockIdx.y;
  const int nh = lin / nvt;
  return {nh / p.H, nh - (nh / p.H) * p.H, lin - nh * nvt};
}

/// Log decays per segment in the workspace's gsum (layout.cuh SegmentWs): one per key for a per-key decay.
template <class Variant>
constexpr int kSegGateWidth = Variant::kDecay == DecayKind::Vector ? Variant::K : 1;

/// Segment seg's slot in the workspace (layout.cuh SegmentWs), for nseg segments.
LINREC_DEV long long segment_slot(const FwdParams& p, int n, int h, int nseg, int seg) {
  return ((long long)n * (nseg - 1) + seg) * p.H + h;
}

/// Fused sequential prefill, state in registers (see the file comment). Same launch size and contract as
/// chunk_fwd_fused; grid (N * H, ceil(V / BV), nseg). With nseg > 1 block z walks segment z of its sequence
/// (layout.cuh segment_span), starting from the state chunk_fwd_seg_scan left in the workspace; the last
/// segment writes ht.
template <class Variant, class Config>
LINREC_DEV void chunk_fwd_fused_regs(const FwdParams& p) {
  constexpr int K = Variant::K, V = Variant::V, C = Config::C;
  const RegsBlock b = regs_block(p);
  const SeqRange seq = sequence_range(p, b.n);
  const int nseg = (int)gridDim.z, seg = (int)blockIdx.z;
  const SegmentSpan sp = segment_span((seq.len + C - 1) / C, nseg, seg);
  const int t1 = sp.c1 * C < seq.len ? sp.c1 * C : seq.len, t0 = sp.c0 * C < t1 ? sp.c0 * C : t1;
  const long long sbase = ((long long)b.n * p.H + b.h) * K * (long long)V;
  const float* h0 = seg == 0 ? (p.h0 != nullptr ? p.h0 + sbase : nullptr)
                             : p.ws + segment_ws(p.N, nseg, p.H, K, V, kSegGateWidth<Variant>).states / 4 +
                                   segment_slot(p, b.n, b.h, nseg, seg - 1) * K * V;
  float* ht = seg == nseg - 1 && p.ht != nullptr ? p.ht + sbase : nullptr;
  fused_regs_walk<Variant, Config, true>(p, b.h, b.vt, seq.bos + t0, t1 - t0, h0, ht, nullptr);
}

/// Segment stage 1, grid (N * H, ceil(V / BV), nseg - 1), shared memory fused_regs_state_layout(K, C, BV).total:
/// segment z's own final state (from zero) and total log decay into the workspace. Block (0, 0, 0) records
/// nseg for chunk_fwd_seg_scan.
template <class Variant, class Config>
LINREC_DEV void chunk_fwd_seg_state(const FwdParams& p) {
  if constexpr (!fused_in_registers<Variant, Config>() || Variant::kDelta) {
    __trap();  // codegen plans segment stages only for additive variants fused_regs_applies accepts
  } else {
    constexpr int K = Variant::K, V = Variant::V, C = Config::C;
    const RegsBlock b = regs_block(p);
    const SeqRange seq = sequence_range(p, b.n);
    const int nseg = (int)gridDim.z + 1, seg = (int)blockIdx.z;
    if (blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0 && threadIdx.x == 0)
      *reinterpret_cast<int*>(p.ws) = nseg;
    const SegmentSpan sp = segment_span((seq.len + C - 1) / C, nseg, seg);
    const int t1 = sp.c1 * C < seq.len ? sp.c1 * C : seq.len, t0 = sp.c0 * C < t1 ? sp.c0 * C : t1;
    const SegmentWs w = segment_ws(p.N, nseg, p.H, K, V, kSegGateWidth<Variant>);
    const long long slot = segment_slot(p, b.n, b.h, nseg, seg);
    fused_regs_walk<Variant, Config, false>(p, b.h, b.vt, seq.bos + t0, t1 - t0, nullptr,
                                            p.ws + w.states / 4 + slot * K * V,
                                            b.vt == 0 ? p.ws + w.gsum / 4 + slot * kSegGateWidth<Variant> : nullptr);
  }
}

/// Segment stage 2, grid (N * H, ceil(K * V / threads)): one thread per state element walks the segments in
/// order, S_in(s + 1) = e^{G_s} S_in(s) + S_local(s) from S_in(0) = h0, and leaves S_in(s + 1) in segment
/// s's slot for chunk_fwd_fused_regs.
template <class Variant, class Config>
LINREC_DEV void chunk_fwd_seg_scan(const FwdParams& p) {
  if constexpr (!fused_in_registers<Variant, Config>() || Variant::kDelta) {
    __trap();
  } else {
    constexpr long long KV = (long long)Variant::K * Variant::V;
    const int nh = (int)blockIdx.x, n = nh / p.H, h = nh - n * p.H;
    const long long e = (long long)blockIdx.y * blockDim.x + threadIdx.x;
    if (e >= KV) return;
    const int nseg = *reinterpret_cast<const int*>(p.ws);
    constexpr int GW = kSegGateWidth<Variant>;
    const SegmentWs w = segment_ws(p.N, nseg, p.H, Variant::K, Variant::V, GW);
    float* states = p.ws + w.states / 4;
    const float* gsum = p.ws + w.gsum / 4;
    float x = p.h0 != nullptr ? p.h0[(long long)nh * KV + e] : 0.0f;
    for (int s = 0; s + 1 < nseg; ++s) {
      const long long slot = segment_slot(p, n, h, nseg, s);
      x = linrec_exp(gsum[slot * GW + (GW == 1 ? 0 : e / Variant::V)]) * x + states[slot * KV + e];
      states[slot * KV + e] = x;
    }
  }
}

}  // namespace kern
}  // namespace linrec
