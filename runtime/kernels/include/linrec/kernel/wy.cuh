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
// then plain tensor-core products with T rounded to the input type.
// For state passing (kSp) the chunk's results go to its slot of the state-passing workspace (layout.cuh
// state_passing_ws) in full C rows, zero past the sequence (the scan reads whole chunks and ws is never
// cleared): W [C][K], k^ = k~ e^{b_last - b} [C][K] (before the rows are rescaled for W), U [C][vn_ld] with
// zero columns past V, and with a decay b [C] and Gamma_last = e^{b_last} ([K], one per key as the scan loads it).
//
// A per-key decay (kda; state passing only, layout.cuh vec_wy_applies) gives every key its own cumsum b_id, so
// A_ij = beta_i sum_d k_id k_jd e^{b_id - b_jd} is no masked product of k~ with itself. Per block (I, J <= I) of
// 16-row stripes it factors through the first row f of stripe I and the last row e of stripe J:
//   A_IJ = diag(beta) (k~ e^{b - b_f(I)})_I (k~ e^{b_e(J) - b} (.) e^{b_f(I) - b_e(J)})_J^T,
// where the first two factors are <= 1 for any decay and the third is <= 1 for J < I. Only a diagonal block's
// third factor grows (e^{span of the stripe}); a stripe whose span exceeds what the input type holds
// (kSpan) has its diagonal block summed exactly, element by element (the slow path, only for such chunks).
// The same products give the output kernel's scores q~ k~^T (.) e^{b_i - b_j} (j <= i), which the prep
// writes with q~ e^b to the chunk's gate slot (layout.cuh state_passing_ws): chunk_output_regs then needs no
// per-key decay at all. W's rows k~ beta e^b, k^ and q~ e^b come from the same per-element pass.
#pragma once

#include "linrec/kernel/fused_regs.cuh"

namespace linrec {
namespace kern {

template <class Variant, class Config, bool kSp = false>
LINREC_DEV void chunk_fwd_wy_body(const FwdParams& p) {
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
  E* const Tb = reinterpret_cast<E*>(sm + L.tb);
  float* const bq = reinterpret_cast<float*>(sm + L.g);  // b, then beta e^b
  float* const be = bq + C;                              // beta
  // Per-key decay: q~ (then q~ e^{b - b_f}), k+ = k~ e^{b - b_f}, k- = k~ e^{b_e - b}, b [C][LDB], the warps'
  // stripe flags, and the tables (layout.cuh WyLayout).
  constexpr int LDB = L.ld_b, NBLK = NB * (NB + 1) / 2;
  E* const qs = reinterpret_cast<E*>(sm + L.q);
  E* const kp = reinterpret_cast<E*>(sm + L.kp);
  E* const km = reinterpret_cast<E*>(sm + L.km);
  float* const bt = reinterpret_cast<float*>(sm + L.bt);
  unsigned* const wflag = reinterpret_cast<unsigned*>(sm + L.flag);
  float* const tef = reinterpret_cast<float*>(sm + L.tab);  // [NB][K] e^{b_f(I)}
  float* const tel = tef + NB * K;                           // [NB][K] e^{b_last - b_e(I)}
  float* const txf = tel + NB * K;                           // [NBLK][K] e^{b_f(I) - b_e(J)}
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
  // the sequence add 0), the stripe tables, Gamma_last to the workspace, and the stripes whose span is beyond
  // kSpan (their diagonal block's factor e^{b_f - b_e} would leave the input type's range: e^64 in bf16,
  // e^9 in fp16, which also keeps e^{b - b_f} >= e^-9 of normal fp16 precision) as a mask per warp.
  if constexpr (kVec) {
    constexpr float kSpan = D == DType::BF16 ? 64.0f : 9.0f;
    constexpr int GR = C < 32 ? C : 32;
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
      for (int I = 0; I < NB; ++I) {
        const float bf = bt[16 * I * LDB + d], be_ = bt[(16 * I + 15) * LDB + d];
        if (bf - be_ > kSpan) mask |= 1u << I;
        tef[I * K + d] = kexp<D>(bf);
        tel[I * K + d] = kexp<D>(run - be_);
#pragma unroll
        for (int J = 0; J <= I; ++J) txf[(I * (I + 1) / 2 + J) * K + d] = kexp<D>(bf - bt[(16 * J + 15) * LDB + d]);
      }
    }
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) mask |= __shfl_xor_sync(kFullMask, mask, o);
    if (lane == 0) wflag[warp] = mask;
  }
  cp_async_wait_group<0>();
  block_sync();
  if constexpr (Variant::kKMap == FeatureMapKind::L2Norm || (kVec && Variant::kQMap == FeatureMapKind::L2Norm)) {
    if constexpr (Variant::kKMap == FeatureMapKind::L2Norm) l2norm_rows_inplace<D, K, NT>(ks, LDK, C);
    if constexpr (kVec && Variant::kQMap == FeatureMapKind::L2Norm) l2norm_rows_inplace<D, K, NT>(qs, LDK, C);
    block_sync();
  }
  if constexpr (kVec) {
    unsigned flagged = 0;  // stripes whose diagonal block is summed exactly
    E* const qg = reinterpret_cast<E*>(wsb + sw.gates + slot * sw.gate_chunk);  // [C][K] q~ e^b
    E* const aqk = qg + C * K;                                                   // [C][C] scores
    E* const kh = reinterpret_cast<E*>(wsb + sw.kh + slot * sw.wy_chunk);
#pragma unroll
    for (int w2 = 0; w2 < W; ++w2) flagged |= wflag[w2];
    if (flagged) {
      // The exact diagonal blocks of the flagged stripes: A_ij (j < i) and the scores (j <= i), one thread
      // per element, the rest of the block zero.
      for (int e2 = (int)threadIdx.x; e2 < NB * 256; e2 += NT) {
        const int I = e2 >> 8;
        if (!((flagged >> I) & 1u)) continue;
        const int i = 16 * I + ((e2 >> 4) & 15), j = 16 * I + (e2 & 15);
        float akk = 0.0f, aq = 0.0f;
        if (j <= i)
          for (int d = 0; d < K; ++d) {
            const float x = to_float<D>(ks[j * LDK + d]) * kexp<D>(bt[i * LDB + d] - bt[j * LDB + d]);
            akk = fmaf(to_float<D>(ks[i * LDK + d]), x, akk);
            aq = fmaf(to_float<D>(qs[i * LDK + d]), x, aq);
          }
        A[i * LDA + j] = j < i ? be[i] * akk : 0.0f;
        aqk[i * C + j] = from_float<D>(j <= i ? aq : 0.0f);
      }
      block_sync();
    }
    // Every element once: q~ e^b (the output kernel's state-term rows) and k^ = k~ e^{b_last - b} to the
    // workspace; q~ <- q~ e^{b - b_f}, k+ and k- for the products; k~ <- k~ beta e^b, W's right-hand side.
    constexpr int VE = kVecElems<D>, PR = K / VE;
    for (int e2 = (int)threadIdx.x; e2 < C * PR; e2 += NT) {
      const int i = e2 / PR, d = (e2 - i * PR) * VE, I = i >> 4;
      float q[VE], k[VE], x1[VE], x2[VE], x3[VE], x4[VE], x5[VE];
      unpack_vec<D>(*reinterpret_cast<const uint4*>(qs + i * LDK + d), q);
      unpack_vec<D>(*reinterpret_cast<const uint4*>(ks + i * LDK + d), k);
#pragma unroll
      for (int j = 0; j < VE; ++j) {
        const float b = bt[i * LDB + d + j];
        const float e1 = kexp<D>(b - bt[16 * I * LDB + d + j]), e2x = kexp<D>(bt[(16 * I + 15) * LDB + d + j] - b);
        const float ef = tef[I * K + d + j];
        x1[j] = q[j] * e1 * ef;                  // q~ e^b
        x2[j] = k[j] * e2x * tel[I * K + d + j];  // k^
        q[j] *= e1;
        x3[j] = k[j] * e1;
        x4[j] = k[j] * e2x;
        x5[j] = k[j] * e1 * ef * be[i];
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
    // B fragment, k- of stripe J scaled per key by e^{b_f(I) - b_e(J)}.
    for (int blk = warp; blk < NBLK; blk += W) {
      int I = 0;
      while ((I + 1) * (I + 2) / 2 <= blk) ++I;
      const int J = blk - I * (I + 1) / 2;
      if (J == I && ((flagged >> I) & 1u)) continue;
      float ak[2][4] = {}, aq[2][4] = {};
      const RowsView<D> kpv{kp + 16 * I * LDK, LDK}, qpv{qs + 16 * I * LDK, LDK};
      const ColsView<D> kmv{km + 16 * J * LDK, LDK};  // (d, j) = k-[j][d]
      const float* xf = txf + blk * K;
#pragma unroll
      for (int kk = 0; kk < K; kk += 16) {
        unsigned a[4], a2[4], b[4];
        frag_a(kpv, a, 0, kk);
        frag_a(qpv, a2, 0, kk);
        frag_b2(kmv, b, kk, 0);
        const int d = kk + 2 * t;
        const float f0 = xf[d], f1 = xf[d + 1], f2 = xf[d + 8], f3 = xf[d + 9];
        b[0] = scale_pair<D>(b[0], f0, f1);
        b[1] = scale_pair<D>(b[1], f2, f3);
        b[2] = scale_pair<D>(b[2], f0, f1);
        b[3] = scale_pair<D>(b[3], f2, f3);
        mma_pair<D>(ak[0], ak[1], a, b);
        mma_pair<D>(aq[0], aq[1], a2, b);
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
      if constexpr (kDecay) {
        const float s = kexp<D>(blast - bq[i]);
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

  // A, one warp per 16 x 16 block on or below the diagonal: beta_i e^{b_i - b_j} k_i . k_j for j < i.
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
          if constexpr (kDecay) x *= kexp<D>(bq[i] - bq[j]);
        }
        A[i * LDA + j] = x;
      }
  }
  block_sync();

  // Diagonal blocks T_II = (I + A_II)^-1, lane c of warp I % W solving column c; then the right-hand sides'
  // row factors, in place: k~_j beta_j e^{b_j} and v_j beta_j.
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
        Tb[(16 * I + r) * LDT + 16 * I + c] = from_float<D>(x[r]);
      }
    }
  }
  if constexpr (!kVec)  // per-key decays: the element pass above scaled k~
    map_tile<D, C, K, NT>(ks, LDK, [&](int i, int, float(&x)[kVecElems<D>]) {
      const float s = kDecay ? be[i] * kexp<D>(bq[i]) : be[i];
#pragma unroll
      for (int j = 0; j < kVecElems<D>; ++j) x[j] *= s;
    });
  map_tile<D, C, V, NT>(vs, LDV, [&](int i, int, float(&x)[kVecElems<D>]) {
#pragma unroll
    for (int j = 0; j < kVecElems<D>; ++j) x[j] *= be[i];
  });
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
      for (int c = 0; c < 8; ++c) {
        Tf[(16 * I + r) * LDA + 16 * J + c0 + c] = out[c];
        Tb[(16 * I + r) * LDT + 16 * J + c0 + c] = from_float<D>(out[c]);
      }
      __syncwarp();  // the scratch is reused by this warp's next block
    }
    block_sync();
  }

  // W = T (k~ beta e^b) and U = T (v beta): tiles of 16 rows x 16 columns over [W | U], T lower triangular
  // by blocks (stripe I reads blocks J <= I). Token rows: rows past the sequence are not written; state
  // passing: they are (zero), and so are U's columns past V.
  const FusedWyWs ws = fused_wy_ws((long long)p.B * p.T, p.H, K, V, (int)sizeof(E));
  E* const wdst = reinterpret_cast<E*>(wsb + (kSp ? sw.wy + slot * sw.wy_chunk : ws.w));
  E* const udst = reinterpret_cast<E*>(wsb + (kSp ? sw.vn + slot * sw.vn_chunk : ws.u));
  constexpr int NCOL = K / 16 + (V + 15) / 16;  // a last U tile of 8 columns reads the row padding
  for (int item = warp; item < NB * NCOL; item += W) {
    const int I = item / NCOL, col = item - I * NCOL;
    const bool isw = col < K / 16;
    const int n0 = isw ? 16 * col : 16 * col - K;
    const RowsView<D> tv{Tb + 16 * I * LDT, LDT};
    const RowsBView<D> rv{isw ? ks : vs, isw ? LDK : LDV};  // (j, d)
    float acc[2][4] = {};
    for (int J = 0; J <= I; ++J) {
      unsigned a[4], b[4];
      frag_a(tv, a, 0, 16 * J);
      frag_b2(rv, b, 16 * J, n0);
      mma_pair<D>(acc[0], acc[1], a, b);
    }
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      const int i = 16 * I + g + 8 * hf;
      if constexpr (kSp) {
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
          const int d = n0 + 8 * nt + 2 * t;
          const bool live = i < rows;
          if (isw)
            store_pair<D>(wdst, (long long)i * K + d, live ? acc[nt][2 * hf] : 0.0f, live ? acc[nt][2 * hf + 1] : 0.0f);
          else if (d < sw.vn_ld)  // V % 8 == 0: a pair is wholly inside V or wholly past it
            store_pair<D>(udst, (long long)i * sw.vn_ld + d, live && d < V ? acc[nt][2 * hf] : 0.0f,
                          live && d < V ? acc[nt][2 * hf + 1] : 0.0f);
        }
        continue;
      }
      if (i >= rows) continue;
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        const int d = n0 + 8 * nt + 2 * t;
        if (!isw && d >= V) continue;
        if (isw)
          store_pair<D>(wdst, (row0 + (long long)i * p.H) * K + d, acc[nt][2 * hf], acc[nt][2 * hf + 1]);
        else
          store_pair<D>(udst, (row0 + (long long)i * p.H) * V + d, acc[nt][2 * hf], acc[nt][2 * hf + 1]);
      }
    }
  }
}

}  // namespace kern
}  // namespace linrec
