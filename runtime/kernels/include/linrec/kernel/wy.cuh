// linrec/kernel/wy.cuh: the WY form of every chunk of a delta rule, for the register-state fused kernel
// (chunk_fwd_wy: fused_regs.cuh then streams W and U like k and v) and for state passing (chunk_delta_prep
// takes it where delta_prep_in_wy holds: the scan and output kernels read W, k^, U, Gamma_last and b).
//
// Per chunk of C tokens, with k~ the (l2-normalised) keys, beta and the in-chunk cumsum b of the log decay:
//   A = strictly lower (diag(beta) k~ k~^T (.) e^{b_i - b_j}),  T = (I + A)^-1,
//   W = T diag(beta e^b) k~,  U = T diag(beta) v,
// written in token rows to the workspace (layout.cuh fused_wy_ws). Why a kernel of its own: the state-passing
// prep (chunk_delta_prep) solves the right-hand sides slice by slice with one column per thread and two
// barriers per 16 rows, and took 0.45 ms of 1.39 at B = 32, T = 1k (ncu, H200). Here T is formed once, in
// fp32: the 16 x 16 diagonal blocks by forward substitution (one lane per column), the blocks below them
// row of blocks by row of blocks, T_IJ = -T_II sum_{J <= m < I} A_Im T_mJ (one warp per block); W and U are
// then plain tensor-core products of the raw k and v rows with T diag(beta e^b / |k|) and T diag(beta),
// rounded to the input type: the row factors (and the l2norm) sit on the C x C matrix, so no pass rewrites
// the C x K and C x V tiles (three such passes kept L1 86 % busy at b510ff6, docs/performance.md).
// For state passing (kSp) the chunk's results go to its slot of the state-passing workspace (layout.cuh
// state_passing_ws) in full C rows, zero past the sequence (the scan reads whole chunks and ws is never
// cleared): W [C][K] (-W with kNegW, chunk_fwd.cuh delta_ws_neg_w), k^ = k~ e^{b_last - b} [C][K], U [C][vn_ld]
// with zero columns past V, and with a decay b [C] and Gamma_last = e^{b_last} ([K], one per key as the scan loads it).
//
// A per-key decay (kda; state passing only, layout.cuh vec_wy_applies) gives every key its own cumsum b_id, so
// A_ij = beta_i sum_d k_id k_jd e^{b_id - b_jd} is no masked product of k~ with itself. It factors through
// octets (8-row halves of the 16-row stripes), whose first and last rows f(o), l(o) are references:
// k+ = k~ e^{b - b_f(o)} and k- = k~ e^{b_l(o) - b} are <= 1 for any decay. An mma's A fragment holds rows of
// two octets (rows g and g + 8) and its B fragment columns of two (the n8 tiles), so per key the product
// over block (I, J < I) takes the common reference R = b_f(2I): rows of octet 2I + 1 scaled by
// e^{b_f(2I+1) - R}, columns of octet o by e^{R - b_l(o)}, all <= 1. A diagonal block's octet pairs
// (2I, 2I) and (2I+1, 2I+1) need factors e^{b_f(o) - b_l(o)} >= 1 (two mma, one per n8 tile, each with its
// own reference); an octet whose span exceeds what the input type holds (kSpan) has its stripe's diagonal
// block summed exactly instead, every warp on a share of its columns (the slow path, only for such stripes).
// The same products give the output kernel's scores q~ k~^T (.) e^{b_i - b_j} (j <= i), which the prep
// writes with q~ e^b to the chunk's gate slot (layout.cuh state_passing_ws): chunk_output_regs then needs no
// per-key decay at all. W's rows k~ beta e^b, k^ and q~ e^b come from the same per-element pass.
#pragma once

#include "linrec/kernel/fused_regs.cuh"

namespace linrec {
namespace kern {

template <class Variant, class Config, bool kSp = false, bool kNegW = false, bool kFlags = false>
LINREC_DEV void chunk_fwd_wy_body(const FwdParams& p) {
  static_assert(kSp || !kNegW, "chunk_fwd_wy_body: -W is a state-passing workspace convention");
  static_assert(kSp || !kFlags, "chunk_fwd_wy_body: chunk flags are a state-passing workspace convention");
  constexpr DType D = Config::kDType;
  using E = typename Storage<D>::type;
  constexpr int K = Variant::K, V = Variant::V, C = Config::C, W = Config::Warps, NT = W * 32, NB = C / 16;
  // A constant decay is a per-token one that does not vary (Variant::decay gives it per token as well).
  // kDecay: a scalar log decay per token (warp 0's gate path); kVec: one per token and key.
  constexpr bool kVec = Variant::kDecay == DecayKind::Vector;
  static_assert(!kVec || kSp, "chunk_fwd_wy_body: per-key decays in state passing only");
  constexpr bool kDecay = Variant::kDecay != DecayKind::None && !kVec;
  constexpr WyLayout L = wy_layout(K, V, C, W, kVec);
  constexpr int LDK = L.ld_k, LDV = L.ld_v, LDA = L.ld_a, LDT = L.ld_t;
  unsigned char* const sm = reinterpret_cast<unsigned char*>(dynamic_smem());
  E* const ks = reinterpret_cast<E*>(sm + L.k);
  E* const vs = reinterpret_cast<E*>(sm + L.v);
  float* const A = reinterpret_cast<float*>(sm + L.a);
  float* const Tf = reinterpret_cast<float*>(sm + L.tf);
  E* const Tw = reinterpret_cast<E*>(sm + L.tb);  // T diag(fw), W's left factor
  E* const Tu = Tw + C * LDT;                      // T diag(fu), U's
  float* const bq = reinterpret_cast<float*>(sm + L.g);  // b
  float* const be = bq + C;                              // beta
  float* const nrm = be + C;                             // 1 / |k_i| (l2norm keys, no per-key decay)
  float* const fw = nrm + C;                             // W's column factors: beta e^b / |k| (kVec: 1)
  float* const fu = fw + C;                              // U's: beta
  // Per-key decay: q~ (then q~ e^{b - b_f}), k+ = k~ e^{b - b_f(o)}, k- = k~ e^{b_l(o) - b}, b [C][LDB], the
  // warps' stripe flags, and the tables (layout.cuh WyLayout), per key d: for octet o e^{b_f(o)} and
  // e^{b_last - b_l(o)}; for stripe I e^{b_f(2I+1) - b_f(2I)}; for stripe I and octet o <= 2I + 1 the column
  // factor e^{b_f(2I) - b_l(o)} (o = 2I + 1: e^{b_f(2I+1) - b_l(2I+1)}).
  constexpr int LDB = L.ld_b, NBLK = NB * (NB + 1) / 2, NO = C / 8;
  E* const qs = reinterpret_cast<E*>(sm + L.q);
  E* const kp = reinterpret_cast<E*>(sm + L.kp);
  E* const km = reinterpret_cast<E*>(sm + L.km);
  float* const bt = reinterpret_cast<float*>(sm + L.bt);
  unsigned* const wflag = reinterpret_cast<unsigned*>(sm + L.flag);
  float* const tef = reinterpret_cast<float*>(sm + L.tab);  // [NO][K]
  float* const tel = tef + NO * K;                           // [NO][K]
  float* const txa = tel + NO * K;                           // [NB][K]
  float* const txb = txa + NB * K;                           // [I (I + 1) + o][K], o <= 2I + 1
  const int warp = warp_id(), lane = lane_id(), g = lane >> 2, t = lane & 3;

  const int nh = (int)blockIdx.x, n = nh / p.H, h = nh - n * p.H;
  const SeqRange seq = sequence_range(p, n);
  const int t0 = (int)blockIdx.y * C;
  if (t0 >= seq.len) return;
  const int rows = seq.len - t0 < C ? seq.len - t0 : C;
  const long long row0 = (seq.bos + t0) * p.H + h;
  unsigned char* const wsb = reinterpret_cast<unsigned char*>(p.ws);
  long long slot = 0;  // state passing: the chunk's slot, gc * H + h
  StatePassingWs sw{};
  if constexpr (kSp) {
    // The scratch region is free until the T solve; the block sum passes barriers, so it comes first.
    slot = (first_chunk_index<C, NT>(p, n, reinterpret_cast<long long*>(sm + L.scratch)) + blockIdx.y) * p.H + h;
    sw = sp_ws<Variant, Config>(p);
  }
  load_tile_async<D, C, K, NT>(p.k, row0 * K, (long long)p.H * K, rows, K, ks, LDK);
  load_tile_async<D, C, V, NT>(p.v, row0 * V, (long long)p.H * V, rows, V, vs, LDV);
  if constexpr (kVec) load_tile_async<D, C, K, NT>(p.q, row0 * K, (long long)p.H * K, rows, K, qs, LDK);
  cp_async_commit();
  // Warp 0, while the tiles land: beta and the log decays of the chunk's tokens, lane l holding tokens
  // l * EPL ..., and their cumsum b (0 past the sequence: those rows are zero anyway).
  if (warp == 0) {
    constexpr int EPL = C < 32 ? 1 : C / 32;
    float gv[EPL], bv[EPL];
#pragma unroll
    for (int j = 0; j < EPL; ++j) {
      const int i = lane * EPL + j;
      const bool ok = i < rows;
      const TokenCtx ctx{nullptr, nullptr, p.inputs, p.params, seq.bos + t0 + (ok ? i : 0), h, p.H, K, D};
      float x = 0.0f, bt = 1.0f;
      if constexpr (kDecay) x = Variant::decay(ctx, 0);
      if constexpr (Variant::kHasBeta) bt = Variant::beta(ctx);
      gv[j] = ok ? x : 0.0f;
      bv[j] = ok ? bt : 0.0f;
    }
    float run = 0.0f;
#pragma unroll
    for (int j = 0; j < EPL; ++j) {
      run += gv[j];
      gv[j] = run;
    }
    const float incl = warp_inclusive_scan(run);
#pragma unroll
    for (int j = 0; j < EPL; ++j) {
      const int i = lane * EPL + j;
      if (i < C) {
        bq[i] = incl - run + gv[j];
        be[i] = bv[j];
      }
    }
  }
  // Per-key decay, every thread while the tiles land: whole key columns, b their in-chunk cumsum (rows past
  // the sequence add 0), the tables, Gamma_last to the workspace, and the stripes with an octet whose span
  // is beyond kSpan as a mask per warp. kSpan keeps a diagonal factor e^{b_f(o) - b_l(o)} times a key of up
  // to e^8 below the input type's largest value and e^{b - b_f} above its smallest normal one: e^80 in bf16
  // (e^88.7 and e^-87.3), e^9 in fp16 (which also keeps e^-9 of normal fp16 precision). On the bench's kda
  // inputs 80 flags 10 % of the stripes where 64 flagged 13 % (a host estimate at C = 32).
  if constexpr (kVec) {
    constexpr float kSpan = D == DType::BF16 ? 80.0f : 9.0f;
    constexpr int GR = C < 16 ? C : 16;
    float* const gl = reinterpret_cast<float*>(wsb + sw.gl + slot * sw.gl_chunk);
    unsigned mask = 0;
#pragma unroll 1
    for (int d = (int)threadIdx.x; d < K; d += NT) {
      float run = 0.0f;
#pragma unroll 1
      for (int r0 = 0; r0 < C; r0 += GR) {
        float b[GR];
        vec_log_decays<Variant, D, GR>(p, seq.bos + t0, rows, h, d, r0, b);
#pragma unroll
        for (int r = 0; r < GR; ++r) {
          run += b[r];
          bt[(r0 + r) * LDB + d] = run;
        }
      }
      gl[d] = kexp<D>(run);
#pragma unroll
      for (int o = 0; o < NO; ++o) {
        const float bf = bt[8 * o * LDB + d], bl = bt[(8 * o + 7) * LDB + d];
        if (bf - bl > kSpan) mask |= 1u << (o / 2);
        tef[o * K + d] = kexp<D>(bf);
        tel[o * K + d] = kexp<D>(run - bl);
      }
#pragma unroll
      for (int I = 0; I < NB; ++I) {
        const float r0 = bt[16 * I * LDB + d], r1 = bt[(16 * I + 8) * LDB + d];
        txa[I * K + d] = kexp<D>(r1 - r0);
#pragma unroll
        for (int o = 0; o <= 2 * I + 1; ++o)
          txb[(I * (I + 1) + o) * K + d] = kexp<D>((o == 2 * I + 1 ? r1 : r0) - bt[(8 * o + 7) * LDB + d]);
      }
    }
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) mask |= __shfl_xor_sync(kFullMask, mask, o);
    if (lane == 0) wflag[warp] = mask;
  }
  cp_async_wait_group<0>();
  block_sync();
  // An l2norm k: without a per-key decay the rows stay raw and 1 / |k_i| becomes a factor of A's entries,
  // of W's columns of T and of k^; the per-key decay's element pass below needs the normalised rows.
  constexpr bool kL2K = Variant::kKMap == FeatureMapKind::L2Norm;
  if constexpr (kL2K || (kVec && Variant::kQMap == FeatureMapKind::L2Norm)) {
    if constexpr (kL2K && !kVec) row_inv_norms<D, K, NT>(ks, LDK, C, nrm);
    if constexpr (kL2K && kVec) l2norm_rows_inplace<D, K, NT>(ks, LDK, C);
    if constexpr (kVec && Variant::kQMap == FeatureMapKind::L2Norm) l2norm_rows_inplace<D, K, NT>(qs, LDK, C);
    block_sync();
  }
  constexpr bool kNrm = kL2K && !kVec;
  if constexpr (kVec) {
    unsigned flagged = 0;  // stripes whose diagonal block is summed exactly
    E* const qg = reinterpret_cast<E*>(wsb + sw.gates + slot * sw.gate_chunk);  // [C][K] q~ e^b
    E* const aqk = qg + C * K;                                                   // [C][C] scores
    E* const kh = reinterpret_cast<E*>(wsb + sw.kh + slot * sw.wy_chunk);
#pragma unroll
    for (int w2 = 0; w2 < W; ++w2) flagged |= wflag[w2];
    if (flagged) {
      // The exact diagonal blocks of the flagged stripes, every warp on each: warp w takes the block's column
      // pairs w, w + W, ... (columns 2 (w + W m) and the next), lane l row l % 16 and half the keys, its
      // columns in registers (A_ij for j < i, the scores for j <= i, the rest of the block zero); the halves
      // meet by one shuffle. One warp per stripe over all 16 columns left the block's other warps waiting
      // at the next barrier for four times as long.
      constexpr int VE = kVecElems<D>, NPW = 16 / (2 * W);
      static_assert(NPW >= 1 && NPW * 2 * W == 16,
                    "chunk_fwd_wy_body: the exact blocks split 16 columns over 2, 4 or 8 warps");
      const int r = lane & 15, k0 = (lane >> 4) * (K / 2);
#pragma unroll 1
      for (int I = 0; I < NB; ++I) {
        if (!((flagged >> I) & 1u)) continue;
        const int i = 16 * I + r;
        float akk[2 * NPW] = {}, aq[2 * NPW] = {};
#pragma unroll 1
        for (int c = k0; c < k0 + K / 2; c += VE) {
          float qi[VE], ki[VE], bi[VE];
          unpack_vec<D>(*reinterpret_cast<const uint4*>(qs + i * LDK + c), qi);
          unpack_vec<D>(*reinterpret_cast<const uint4*>(ks + i * LDK + c), ki);
#pragma unroll
          for (int e = 0; e < VE; ++e) bi[e] = bt[i * LDB + c + e];
#pragma unroll
          for (int jj = 0; jj < 2 * NPW; ++jj) {
            const int j = 16 * I + 2 * (warp + W * (jj >> 1)) + (jj & 1);
            float kj[VE];
            unpack_vec<D>(*reinterpret_cast<const uint4*>(ks + j * LDK + c), kj);
#pragma unroll
            for (int e = 0; e < VE; ++e) {
              // j > i may overflow; those entries are dropped below, not multiplied away.
              const float x = kj[e] * kexp<D>(bi[e] - bt[j * LDB + c + e]);
              akk[jj] = fmaf(ki[e], x, akk[jj]);
              aq[jj] = fmaf(qi[e], x, aq[jj]);
            }
          }
        }
#pragma unroll
        for (int jj = 0; jj < 2 * NPW; ++jj) {
          akk[jj] += __shfl_xor_sync(kFullMask, akk[jj], 16);
          aq[jj] += __shfl_xor_sync(kFullMask, aq[jj], 16);
        }
        if (lane < 16)
#pragma unroll
          for (int m = 0; m < NPW; ++m) {
            const int jj = 2 * (warp + W * m), j = 16 * I + jj;
            A[i * LDA + j] = jj < r ? be[i] * akk[2 * m] : 0.0f;
            A[i * LDA + j + 1] = jj + 1 < r ? be[i] * akk[2 * m + 1] : 0.0f;
            store_pair<D>(aqk, (long long)i * C + j, jj <= r ? aq[2 * m] : 0.0f, jj + 1 <= r ? aq[2 * m + 1] : 0.0f);
          }
      }
      block_sync();
    }
    // Every element once: q~ e^b (the output kernel's state-term rows) and k^ = k~ e^{b_last - b} to the
    // workspace; q~ <- q~ e^{b - b_f(o)}, k+ and k- for the products; k~ <- k~ beta e^b, W's right-hand side.
    constexpr int VE = kVecElems<D>, PR = K / VE;
    for (int e2 = (int)threadIdx.x; e2 < C * PR; e2 += NT) {
      const int i = e2 / PR, d = (e2 - i * PR) * VE, o = i >> 3;
      float q[VE], k[VE], x1[VE], x2[VE], x3[VE], x4[VE], x5[VE];
      unpack_vec<D>(*reinterpret_cast<const uint4*>(qs + i * LDK + d), q);
      unpack_vec<D>(*reinterpret_cast<const uint4*>(ks + i * LDK + d), k);
#pragma unroll
      for (int j = 0; j < VE; ++j) {
        const float b = bt[i * LDB + d + j];
        const float e1 = kexp<D>(b - bt[8 * o * LDB + d + j]), e2x = kexp<D>(bt[(8 * o + 7) * LDB + d + j] - b);
        const float ef = tef[o * K + d + j];
        x1[j] = q[j] * e1 * ef;                  // q~ e^b
        x2[j] = k[j] * e2x * tel[o * K + d + j];  // k^
        q[j] *= e1;
        x3[j] = k[j] * e1;
        x4[j] = k[j] * e2x;
        x5[j] = x3[j] * ef * be[i];
      }
      *reinterpret_cast<uint4*>(qg + i * K + d) = pack_vec<D>(x1);
      *reinterpret_cast<uint4*>(kh + i * K + d) = pack_vec<D>(x2);
      *reinterpret_cast<uint4*>(qs + i * LDK + d) = pack_vec<D>(q);
      *reinterpret_cast<uint4*>(kp + i * LDK + d) = pack_vec<D>(x3);
      *reinterpret_cast<uint4*>(km + i * LDK + d) = pack_vec<D>(x4);
      *reinterpret_cast<uint4*>(ks + i * LDK + d) = pack_vec<D>(x5);
    }
    block_sync();
    // A and the scores, one warp per block J <= I (but the flagged diagonal ones): both products share the
    // fragments, scaled per key as the header says.
    for (int blk = warp; blk < NBLK; blk += W) {
      int I = 0;
      while ((I + 1) * (I + 2) / 2 <= blk) ++I;
      const int J = blk - I * (I + 1) / 2;
      const bool diag = J == I;
      if (diag && ((flagged >> I) & 1u)) continue;
      float ak[2][4] = {}, aq[2][4] = {};
      const RowsView<D> kpv{kp + 16 * I * LDK, LDK}, qpv{qs + 16 * I * LDK, LDK};
      const ColsView<D> kmv{km + 16 * J * LDK, LDK};  // (d, j) = k-[j][d]
      const float* xa = txa + I * K;
      const float* x0 = txb + (I * (I + 1) + 2 * J) * K;  // column factors of octets 2J and 2J + 1
      const float* x1 = x0 + K;
#pragma unroll 2
      for (int kk = 0; kk < K; kk += 16) {
        unsigned a[4], a2[4], b[4];
        frag_a(kpv, a, 0, kk);
        frag_a(qpv, a2, 0, kk);
        frag_b2(kmv, b, kk, 0);
        const int d = kk + 2 * t;
        // Diagonal blocks: the second n8 tile (octet 2I + 1) takes rows of octet 2I + 1 as they are.
        const unsigned ad[4] = {0u, a[1], 0u, a[3]}, a2d[4] = {0u, a2[1], 0u, a2[3]};
        a[1] = scale_pair<D>(a[1], xa[d], xa[d + 1]);
        a[3] = scale_pair<D>(a[3], xa[d + 8], xa[d + 9]);
        a2[1] = scale_pair<D>(a2[1], xa[d], xa[d + 1]);
        a2[3] = scale_pair<D>(a2[3], xa[d + 8], xa[d + 9]);
        const unsigned b0[2] = {scale_pair<D>(b[0], x0[d], x0[d + 1]), scale_pair<D>(b[1], x0[d + 8], x0[d + 9])};
        const unsigned b1[2] = {scale_pair<D>(b[2], x1[d], x1[d + 1]), scale_pair<D>(b[3], x1[d + 8], x1[d + 9])};
        mma_m16n8k16<D>(ak[0], a, b0);
        mma_m16n8k16<D>(aq[0], a2, b0);
        if (diag) {
          mma_m16n8k16<D>(ak[1], ad, b1);
          mma_m16n8k16<D>(aq[1], a2d, b1);
        } else {
          mma_m16n8k16<D>(ak[1], a, b1);
          mma_m16n8k16<D>(aq[1], a2, b1);
        }
      }
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
          const int i = 16 * I + g + 8 * hf, j = 16 * J + 8 * nt + 2 * t;
          A[i * LDA + j] = j < i ? be[i] * ak[nt][2 * hf] : 0.0f;
          A[i * LDA + j + 1] = j + 1 < i ? be[i] * ak[nt][2 * hf + 1] : 0.0f;
          store_pair<D>(aqk, (long long)i * C + j, j <= i ? aq[nt][2 * hf] : 0.0f,
                        j + 1 <= i ? aq[nt][2 * hf + 1] : 0.0f);
        }
    }
    block_sync();
  }
  if constexpr (kSp && !kVec) {
    const float blast = kDecay ? bq[C - 1] : 0.0f;  // g is 0 past the sequence: b_{C-1} = b at its last row
    E* const kh = reinterpret_cast<E*>(wsb + sw.kh + slot * sw.wy_chunk);
    constexpr int VE = kVecElems<D>, PR = K / VE;
    for (int e2 = (int)threadIdx.x; e2 < C * PR; e2 += NT) {
      const int i = e2 / PR, d = (e2 - i * PR) * VE;
      float x[VE];
      unpack_vec<D>(*reinterpret_cast<const uint4*>(ks + i * LDK + d), x);
      if constexpr (kDecay || kNrm) {
        const float s = (kDecay ? kexp<D>(blast - bq[i]) : 1.0f) * (kNrm ? nrm[i] : 1.0f);
#pragma unroll
        for (int j = 0; j < VE; ++j) x[j] *= s;
      }
      *reinterpret_cast<uint4*>(kh + i * K + d) = pack_vec<D>(x);
    }
    if constexpr (kDecay) {
      float* const gates = reinterpret_cast<float*>(wsb + sw.gates + slot * sw.gate_chunk);
      float* const gl = reinterpret_cast<float*>(wsb + sw.gl + slot * sw.gl_chunk);
      const float glast = kexp<D>(blast);
      for (int i = (int)threadIdx.x; i < C; i += NT) gates[i] = bq[i];
      for (int d = (int)threadIdx.x; d < K; d += NT) gl[d] = glast;
    }
  }

  // T's column factors for W and U: W = T diag(beta e^b / |k|) k and U = T diag(beta) v take the factors on
  // the C x C matrix T instead of on the C x K and C x V tiles (a per-key decay has scaled the key rows).
  for (int j = (int)threadIdx.x; j < C; j += NT) {
    const float f = kVec ? 1.0f : be[j] * (kDecay ? kexp<D>(bq[j]) : 1.0f) * (kNrm ? nrm[j] : 1.0f);
    fw[j] = kNegW ? -f : f;
    fu[j] = be[j];
  }
  // A, one warp per 16 x 16 block on or below the diagonal: beta_i e^{b_i - b_j} k~_i . k~_j for j < i
  // (k~ = k / |k| by the row factors).
  for (int blk = warp; blk < (kVec ? 0 : NB * (NB + 1) / 2); blk += W) {
    int I = 0;
    while ((I + 1) * (I + 2) / 2 <= blk) ++I;
    const int J = blk - I * (I + 1) / 2;
    float acc[2][4] = {};
    const RowsView<D> av{ks + 16 * I * LDK, LDK};
    const ColsView<D> bv{ks + 16 * J * LDK, LDK};  // (d, j) = k[j][d]
#pragma unroll
    for (int kk = 0; kk < K; kk += 16) {
      unsigned a[4], b[4];
      frag_a(av, a, 0, kk);
      frag_b2(bv, b, kk, 0);
      mma_pair<D>(acc[0], acc[1], a, b);
    }
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int i = 16 * I + g + 8 * (r >> 1), j = 16 * J + 8 * nt + 2 * t + (r & 1);
        float x = 0.0f;
        if (j < i) {
          x = be[i] * acc[nt][r];
          if constexpr (kNrm) x *= nrm[i] * nrm[j];
          if constexpr (kDecay) x *= kexp<D>(bq[i] - bq[j]);
        }
        A[i * LDA + j] = x;
      }
  }
  block_sync();

  // Diagonal blocks T_II = (I + A_II)^-1, lane c of warp I % W solving column c.
  for (int I = warp; I < NB; I += W) {
    if (lane < 16) {
      const int c = lane;
      const float* a = A + 16 * I * LDA + 16 * I;
      float x[16];
#pragma unroll
      for (int r = 0; r < 16; ++r) {
        float s = r == c ? 1.0f : 0.0f;
#pragma unroll
        for (int m = 0; m < r; ++m) s = fmaf(-a[r * LDA + m], x[m], s);
        x[r] = s;
      }
#pragma unroll
      for (int r = 0; r < 16; ++r) {
        Tf[(16 * I + r) * LDA + 16 * I + c] = x[r];
      }
    }
  }
  block_sync();

  // Blocks below the diagonal, one row of blocks at a time (each needs the rows above): warp per block,
  // P = sum_{J <= m < I} A_Im T_mJ into the warp's scratch, then T_IJ = -T_II P. Lane l holds row l / 2,
  // columns 8 (l % 2) ...
  float* const scratch = reinterpret_cast<float*>(sm + L.scratch) + warp * 16 * 17;
#pragma unroll 1
  for (int I = 1; I < NB; ++I) {
    for (int J = warp; J < I; J += W) {
      const int r = lane >> 1, c0 = 8 * (lane & 1);
      float acc[8] = {};
      const float* arow = A + (16 * I + r) * LDA;
      for (int m = 16 * J; m < 16 * I; ++m) {
        const float a = arow[m];
        const float* trow = Tf + m * LDA + 16 * J + c0;
#pragma unroll
        for (int c = 0; c < 8; ++c) acc[c] = fmaf(a, trow[c], acc[c]);
      }
#pragma unroll
      for (int c = 0; c < 8; ++c) scratch[r * 17 + c0 + c] = acc[c];
      __syncwarp();
      const float* drow = Tf + (16 * I + r) * LDA + 16 * I;
      float out[8] = {};
#pragma unroll
      for (int m = 0; m < 16; ++m) {
        const float dm = drow[m];
#pragma unroll
        for (int c = 0; c < 8; ++c) out[c] = fmaf(-dm, scratch[m * 17 + c0 + c], out[c]);
      }
#pragma unroll
      for (int c = 0; c < 8; ++c) Tf[(16 * I + r) * LDA + 16 * J + c0 + c] = out[c];
      __syncwarp();  // the scratch is reused by this warp's next block
    }
    block_sync();
  }

  // T diag(fw) and T diag(fu) in the input type, blocks J <= I. A pass of their own: the column factors in
  // the solves' stores took ptxas from 76 to 154 registers at C = 32 (half the blocks per SM).
  for (int e = (int)threadIdx.x; e < C * C / 2; e += NT) {
    const int i = e / (C / 2), j = 2 * (e - i * (C / 2));
    if (j >= 16 * (i / 16 + 1)) continue;
    const float x0 = Tf[i * LDA + j], x1 = Tf[i * LDA + j + 1];
    *reinterpret_cast<unsigned*>(Tw + i * LDT + j) = pack2<D>(x0 * fw[j], x1 * fw[j + 1]);
    *reinterpret_cast<unsigned*>(Tu + i * LDT + j) = pack2<D>(x0 * fu[j], x1 * fu[j + 1]);
  }
  block_sync();

  // W = T diag(fw) k and U = T diag(fu) v: tiles of 16 rows x 16 columns over [W | U], T lower triangular by
  // blocks (stripe I reads the key and value rows of stripes J <= I). Stripes go last to first, so once
  // every warp has formed stripe I its results can replace the rows of stripe I, which no stripe after it
  // reads; the tiles then leave as 16-byte rows (the accumulators' own layout wrote 16 of every 32 bytes).
  constexpr int NCOL = K / 16 + (V + 15) / 16;  // a last U tile of 8 columns reads and writes the row padding
  constexpr int IPW = (NCOL + W - 1) / W;
#pragma unroll 1
  for (int I = NB - 1; I >= 0; --I) {
    float acc[IPW][2][4] = {};
#pragma unroll
    for (int it = 0; it < IPW; ++it) {
      const int col = warp + it * W;
      if (col >= NCOL) continue;
      const bool isw = col < K / 16;
      const int n0 = isw ? 16 * col : 16 * col - K;
      const RowsView<D> tv{(isw ? Tw : Tu) + 16 * I * LDT, LDT};
      const RowsBView<D> rv{isw ? ks : vs, isw ? LDK : LDV};  // (j, d)
#pragma unroll 1
      for (int J = 0; J <= I; ++J) {
        unsigned a[4], b[4];
        frag_a(tv, a, 0, 16 * J);
        frag_b2(rv, b, 16 * J, n0);
        mma_pair<D>(acc[it][0], acc[it][1], a, b);
      }
    }
    block_sync();
#pragma unroll
    for (int it = 0; it < IPW; ++it) {
      const int col = warp + it * W;
      if (col >= NCOL) continue;
      const bool isw = col < K / 16;
      E* const dst = isw ? ks + 16 * I * LDK + 16 * col : vs + 16 * I * LDV + 16 * col - K;
      const int ld = isw ? LDK : LDV;
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf)
          store_pair<D>(dst, (long long)(g + 8 * hf) * ld + 8 * nt + 2 * t, acc[it][nt][2 * hf], acc[it][nt][2 * hf + 1]);
    }
  }
  block_sync();

  // Out, in 16-byte vectors. Token rows: rows past the sequence are not written. State passing: every row
  // of the chunk's slot is (zero past the sequence), and U's columns up to vn_ld (zero past V).
  const FusedWyWs ws = fused_wy_ws((long long)p.B * p.T, p.H, K, V, (int)sizeof(E));
  E* const wdst = reinterpret_cast<E*>(wsb + (kSp ? sw.wy + slot * sw.wy_chunk : ws.w));
  E* const udst = reinterpret_cast<E*>(wsb + (kSp ? sw.vn + slot * sw.vn_chunk : ws.u));
  constexpr int VE = kVecElems<D>, PRW = K / VE;
  constexpr int VLD = (V + 15) / 16 * 16;  // state_passing_ws's vn_ld
  constexpr int PRU = (kSp ? VLD : V) / VE;
  constexpr uint4 zero{0u, 0u, 0u, 0u};
  for (int e = (int)threadIdx.x; e < C * PRW; e += NT) {
    const int i = e / PRW, d = (e - i * PRW) * VE;
    const uint4 x = *reinterpret_cast<const uint4*>(ks + i * LDK + d);
    if constexpr (kSp)
      *reinterpret_cast<uint4*>(wdst + (long long)i * K + d) = i < rows ? x : zero;
    else if (i < rows)
      *reinterpret_cast<uint4*>(wdst + (row0 + (long long)i * p.H) * K + d) = x;
  }
  for (int e = (int)threadIdx.x; e < C * PRU; e += NT) {
    const int i = e / PRU, d = (e - i * PRU) * VE;
    const uint4 x = *reinterpret_cast<const uint4*>(vs + i * LDV + (d < V ? d : 0));
    if constexpr (kSp)
      *reinterpret_cast<uint4*>(udst + (long long)i * VLD + d) = i < rows && d < V ? x : zero;
    else if (i < rows)
      *reinterpret_cast<uint4*>(udst + (row0 + (long long)i * p.H) * V + d) = x;
  }
  if constexpr (kFlags) prep_publish(p, sw, slot);
}

}  // namespace kern
}  // namespace linrec
