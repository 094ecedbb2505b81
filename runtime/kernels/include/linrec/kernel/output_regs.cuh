// linrec/kernel/output_regs.cuh: chunk_output_regs, the state-passing output kernel of the delta rules with
// the products in registers (layout.cuh output_regs_applies says for which variants and configs).
//
// Per (sequence, head, value tile, chunk): o = scale (diag(e^b) q~ S_c + (q~ k~^T (.) e^{b_i - b_j}, j <= i) v_new),
// with S_c the state entering the chunk and v_new its corrected values, both from the scan (ws.states,
// ws.vn), and b the in-chunk cumsum of the log decay from the prep (ws.gates). Why a kernel of its own:
// the phase kernel runs this in six barrier-separated phases with the scores round-tripping through shared
// memory, at 12 % occupancy (574 us of gated_delta_rule's 1.73 ms at B = 2, T = 16k, H200). Here every
// tile lands with one cp.async group and one barrier (two with l2norm maps); then each warp owns 16-row
// stripes and a column group: it keeps its stripe's q~ fragments in registers, forms q~ S_c, and streams
// the score blocks one 16 x 16 block at a time (masked and decayed in the accumulators, which are the A
// fragments of the next product as they stand) into the v_new product. No scores are stored.
// A per-key decay (kda) has no such product: its prep (wy.cuh) formed the scores and q~ e^b, and left them in
// the chunk's gate slot; here they replace q~ and k~, the state term needs no factor, and each score block is
// an A fragment read from shared memory.
#pragma once

#include "linrec/kernel/fused_regs.cuh"

namespace linrec {
namespace kern {

template <class Variant, class Config, bool kWaitScan = false>
LINREC_DEV void chunk_output_regs(const FwdParams& p) {
  constexpr DType D = Config::kDType;
  using E = typename Storage<D>::type;
  constexpr int K = Variant::K, V = Variant::V, C = Config::C, BV = Config::BV, W = Config::Warps, NT = W * 32;
  constexpr bool kVec = Variant::kDecay == DecayKind::Vector;
  constexpr bool kDecay = Variant::kDecay != DecayKind::None && !kVec;
  static_assert(output_regs_applies(D == DType::FP32 ? 4 : 2, Variant::kDelta, kRowOperand<Variant, true>,
                                    kRowOperand<Variant, false>, Variant::kDecay == DecayKind::Vector,
                                    Variant::kNormalize, K, Variant::KF, V, C, BV, W),
                "chunk_output_regs: the variant or config is outside output_regs_applies");
  constexpr OutputRegsSplit S = output_regs_split(C, BV, W);
  constexpr OutputRegsLayout L = output_regs_layout(K, C, BV, W);
  constexpr int LDK = L.ld_k, LDV = L.ld_v, BVW = S.bvw, NP = BVW / 16, LDA = smem_row_stride(C, 2);
  unsigned char* const sm = reinterpret_cast<unsigned char*>(dynamic_smem());
  E* const qs = reinterpret_cast<E*>(sm + L.q);
  E* const ks = reinterpret_cast<E*>(sm + L.k);
  E* const vs = reinterpret_cast<E*>(sm + L.v);
  E* const ss = reinterpret_cast<E*>(sm + L.s);
  float* const bs = reinterpret_cast<float*>(sm + L.g);
  const int warp = warp_id(), lane = lane_id(), g = lane >> 2, t = lane & 3;

  const int nh = (int)blockIdx.x, n = nh / p.H, h = nh - n * p.H;
  const int v0 = (int)blockIdx.y * BV;
  const SeqRange seq = sequence_range(p, n);
  const int c = (int)blockIdx.z, t0 = c * C;
  if (t0 >= seq.len) return;
  const int rows = seq.len - t0 < C ? seq.len - t0 : C;
  const long long row0 = (seq.bos + t0) * p.H + h;
  const long long slot = (first_chunk_index<C, NT>(p, n, reinterpret_cast<long long*>(sm + L.misc)) + c) * p.H + h;
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  const unsigned char* const w = reinterpret_cast<const unsigned char*>(p.ws);
  // kWaitScan (chunk_fwd.cuh sp_chunk_flags) and p.epoch: this launch may run beside the scan (and the
  // prep), so nothing of the workspace is read before the scan has flagged the tile's 16-column groups of
  // this chunk. It flags them after it has seen the prep's flag of the chunk, so the prep's gates (kda: the
  // scores and q~ e^b) are visible then too.
  if (kWaitScan && p.epoch != 0) {
    if (threadIdx.x == 0) {
      const int g0 = v0 / 16, g1 = (int)((ws.vn_ld < v0 + BV ? ws.vn_ld : v0 + BV) / 16);
      flags_wait<(BV + 15) / 16>(reinterpret_cast<const unsigned long long*>(w + ws.flags) + slot * ws.flag_groups + g0,
                                 1, g1 - g0, p.epoch);
    }
    block_sync();
  }
  if constexpr (kVec) {  // q~ e^b [C][K], then the scores [C][C] (over k~'s region: C <= K)
    const unsigned char* src = w + ws.gates + slot * ws.gate_chunk;
    load_tile_async<D, C, K, NT>(src, 0, K, C, K, qs, LDK);
    load_tile_async<D, C, C, NT>(src + 2LL * C * K, 0, C, C, C, ks, LDA);
  } else {
    load_tile_async<D, C, K, NT>(p.q, row0 * K, (long long)p.H * K, rows, K, qs, LDK);
    load_tile_async<D, C, K, NT>(p.k, row0 * K, (long long)p.H * K, rows, K, ks, LDK);
  }
  // v_new of every row of the chunk (zero past the sequence), this tile's columns; the state's rows are
  // the tile's values ([V][K] per slot).
  load_tile_async<D, C, BV, NT>(w + ws.vn + slot * ws.vn_chunk, v0, ws.vn_ld, C,
                                ws.vn_ld - v0 < BV ? (int)(ws.vn_ld - v0) : BV, vs, LDV);
  load_tile_async<D, BV, K, NT>(w + ws.states, slot * (long long)K * V + (long long)v0 * K, K,
                                V - v0 < BV ? V - v0 : BV, K, ss, LDK);
  if constexpr (kDecay) {
    const float* src = reinterpret_cast<const float*>(w + ws.gates + slot * ws.gate_chunk);
    for (int e2 = (int)threadIdx.x; e2 < C / 4; e2 += NT) cp_async16(bs + 4 * e2, src + 4 * e2, true);
  }
  cp_async_commit();
  cp_async_wait_group<0>();
  block_sync();
  if constexpr (!kVec && (Variant::kQMap == FeatureMapKind::L2Norm || Variant::kKMap == FeatureMapKind::L2Norm)) {
    if constexpr (Variant::kQMap == FeatureMapKind::L2Norm) l2norm_rows_inplace<D, K, NT>(qs, LDK, C);
    if constexpr (Variant::kKMap == FeatureMapKind::L2Norm) l2norm_rows_inplace<D, K, NT>(ks, LDK, C);
    block_sync();
  }

  const int rw = warp % S.rw, cg = warp / S.rw, col0 = cg * BVW;
  const RowsView<D> qv{qs, LDK};
  const ColsView<D> kv{ks, LDK};  // (d, j) = k~[j][d]
  const ColsView<D> sv{ss, LDK};  // (d, v) = S_c[d][v], stored [v][d]
  const RowsBView<D> vv{vs, LDV};  // (j, v) = v_new[j][v]
#pragma unroll 1
  for (int si = 0; si < S.spw; ++si) {
    const int I = rw + si * S.rw, r0 = 16 * I;
    unsigned qa[K / 16][4];
#pragma unroll
    for (int kk = 0; kk < K / 16; ++kk) frag_a(qv, qa[kk], r0, 16 * kk);
    float acc[NP][2][4] = {};
#pragma unroll
    for (int kk = 0; kk < K / 16; ++kk)
#pragma unroll
      for (int np = 0; np < NP; ++np) {
        unsigned b[4];
        frag_b2(sv, b, 16 * kk, col0 + 16 * np);
        mma_pair<D>(acc[np][0], acc[np][1], qa[kk], b);
      }
    // Rows g and g + 8 of the stripe: the state term decays by e^{b_i}.
    const int i0 = r0 + g, i1 = i0 + 8;
    const float b0 = kDecay ? bs[i0] : 0.0f, b1 = kDecay ? bs[i1] : 0.0f;
    if constexpr (kDecay) {
      const float e0 = kexp<D>(b0), e1 = kexp<D>(b1);
#pragma unroll
      for (int np = 0; np < NP; ++np)
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
          acc[np][nt][0] *= e0;
          acc[np][nt][1] *= e0;
          acc[np][nt][2] *= e1;
          acc[np][nt][3] *= e1;
        }
    }
#pragma unroll 1
    for (int J = 0; J <= I; ++J) {
      unsigned a[4];
      if constexpr (kVec) {
        frag_a(RowsView<D>{ks, LDA}, a, r0, 16 * J);  // the prep's scores, masked and decayed already
      } else {
        float s[2][4] = {};
#pragma unroll
        for (int kk = 0; kk < K / 16; ++kk) {
          unsigned b[4];
          frag_b2(kv, b, 16 * kk, 16 * J);
          mma_pair<D>(s[0], s[1], qa[kk], b);
        }
        // Element r of n8 tile nt: row i0 (r < 2) or i1, column j = 16 J + 8 nt + 2 t + (r & 1).
#pragma unroll
        for (int nt = 0; nt < 2; ++nt)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const int i = r < 2 ? i0 : i1, j = 16 * J + 8 * nt + 2 * t + (r & 1);
            float x = j <= i ? s[nt][r] : 0.0f;
            if constexpr (kDecay) x = j <= i ? x * kexp<D>((r < 2 ? b0 : b1) - bs[j]) : 0.0f;
            s[nt][r] = x;
          }
        // The m16n8 accumulators of the block's two n8 tiles are its m16n8k16 A fragment.
        a[0] = pack2<D>(s[0][0], s[0][1]);
        a[1] = pack2<D>(s[0][2], s[0][3]);
        a[2] = pack2<D>(s[1][0], s[1][1]);
        a[3] = pack2<D>(s[1][2], s[1][3]);
      }
#pragma unroll
      for (int np = 0; np < NP; ++np) {
        unsigned b[4];
        frag_b2(vv, b, 16 * J, col0 + 16 * np);
        mma_pair<D>(acc[np][0], acc[np][1], a, b);
      }
    }
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      const int i = hf ? i1 : i0;
      if (i >= rows) continue;
#pragma unroll
      for (int np = 0; np < NP; ++np)
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
          const int col = v0 + col0 + 16 * np + 8 * nt + 2 * t;
          if (col < V)  // V % 8 == 0: a pair is wholly inside V or wholly past it
            store_pair<D>(p.o, (row0 + (long long)i * p.H) * V + col, p.scale * acc[np][nt][2 * hf],
                          p.scale * acc[np][nt][2 * hf + 1]);
        }
    }
  }
}

}  // namespace kern
}  // namespace linrec
