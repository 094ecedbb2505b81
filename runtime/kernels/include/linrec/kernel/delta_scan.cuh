// linrec/kernel/delta_scan.cuh: chunk_delta_scan_warp, the delta rules' state-passing scan with one warp per
// 16 value columns (layout.cuh delta_warpscan_applies says for which variants and configs).
//
// Per (sequence, head, V-tile) the scan walks the chunks in order: v_new = U - W S_c, then
// S_{c+1} = Gamma_last S_c + k^T v_new, with W, k^, U and Gamma_last from the prep (ws.wy, ws.kh, ws.vn,
// ws.gl). It writes S_c (ws.states) and v_new (over U in ws.vn) for the output kernel.
//
// Why a kernel of its own: the walk is a chain of two dependent products per chunk, and the key-slice
// scans (chunk_delta_scan_regs) put a cross-warp exchange of the state and of v_new between them: two
// barriers and two shared-memory round trips per chunk, ~1,000 issued instructions per warp and chunk at
// 4 cycles each (H200, gated_delta_rule B = 2, T = 16k: 2.2 us a chunk of 64; fla's fwd_h 1.2 us). Here warp
// w owns the columns [16 w, 16 w + 16) of the V-tile and every key row of S^T as mma accumulators
// (m = value column, n = key). An accumulator pair of two adjacent n8 tiles is, packed to 16 bits, the
// A fragment of a k16 step, so
//   v_new^T = U^T - S^T W^T  takes A from the state registers and B (W rows) from shared memory;
//   S^T    <- Gamma S^T + v_new^T k^  takes A from the v_new^T registers and B (k^ rows) likewise;
// U^T lands in the accumulator layout from one ldmatrix.trans per k16 step. The only barrier per chunk
// is the cp.async ring's (W, k^, U, Gamma_last are shared by the block's warps); S_c and v_new leave
// through a per-warp staging tile as 16-byte rows, off the chain.
#pragma once

#include "linrec/kernel/chunk_phases.cuh"

// Tokens per batch of the scan's hand-over flags (a power of two). Each batch costs every warp a fence that
// waits for its last stores (~1 us on the H100, on the scan's chain); 512 measured best of 128..1024 on the
// H100 (docs/performance.md). A define so that timing runs can try others through
// LINREC_NVRTC_EXTRA="-DLINREC_FLAG_TOKENS=256" without a rebuild.
#ifndef LINREC_FLAG_TOKENS
#define LINREC_FLAG_TOKENS 512
#endif
static_assert(LINREC_FLAG_TOKENS >= 16 && (LINREC_FLAG_TOKENS & (LINREC_FLAG_TOKENS - 1)) == 0,
              "LINREC_FLAG_TOKENS: a power of two, at least 16");

namespace linrec {
namespace kern {

/// The A fragment of a k16 step from two adjacent accumulator tiles (columns 0-7 in lo, 8-15 in hi),
/// rounded to the input type: lane (g, t) holds rows g, g + 8 at columns 2t, 2t + 1 of each.
template <DType D>
LINREC_DEV void acc_to_a(const float (&lo)[4], const float (&hi)[4], unsigned (&a)[4]) {
  a[0] = pack2<D>(lo[0], lo[1]);
  a[1] = pack2<D>(lo[2], lo[3]);
  a[2] = pack2<D>(hi[0], hi[1]);
  a[3] = pack2<D>(hi[2], hi[3]);
}

/// Stage s of a register-state delta scan's ring (layout.cuh DeltaScanRing) in shared memory sm.
template <class E>
struct DeltaRingStage {
  E* w;
  E* kh;
  E* u;
  float* gl;
};
template <class E>
LINREC_DEV DeltaRingStage<E> delta_ring_stage(unsigned char* sm, DeltaScanRing r, int s) {
  unsigned char* const b = sm + s * r.stage;
  return {reinterpret_cast<E*>(b + r.w), reinterpret_cast<E*>(b + r.kh), reinterpret_cast<E*>(b + r.u),
          reinterpret_cast<float*>(b + r.gl)};
}

/// Issues the cp.async copies of workspace chunk `slot` into a ring stage: W and k^ (every row, K'p
/// columns), U's columns [v0, v0 + BV) of which `cols` are real (the rest zero), and Gamma_last (K'p floats
/// for a per-key decay, else the one the scalar decay reads). The caller commits the group.
template <DType D, int C, int KFP, int BV, int NT, bool kDecay, bool kVec>
LINREC_DEV void fetch_delta_chunk(unsigned char* wsb, const StatePassingWs& ws, long long slot, int v0, int cols,
                                  const DeltaRingStage<typename Storage<D>::type>& st, DeltaScanRing r) {
  load_rows_async<D, C, KFP, NT>(wsb + ws.wy + slot * ws.wy_chunk, 0, KFP, KFP, st.w, r.ld_k);
  load_rows_async<D, C, KFP, NT>(wsb + ws.kh + slot * ws.wy_chunk, 0, KFP, KFP, st.kh, r.ld_k);
  load_rows_async<D, C, BV, NT>(wsb + ws.vn + slot * ws.vn_chunk, v0, ws.vn_ld, cols, st.u, r.ld_u);
  if constexpr (kDecay) {
    const float* src = reinterpret_cast<const float*>(wsb + ws.gl + slot * ws.gl_chunk);
    if constexpr (kVec) {
      for (int e = (int)threadIdx.x; e < KFP / 4; e += NT) cp_async16(st.gl + 4 * e, src + 4 * e, true);
    } else if (threadIdx.x == 0) {
      cp_async16(st.gl, src, true);  // Gamma_last is gl[0]; the slot holds K'p floats
    }
  }
}

template <class Variant, class Config, bool kNegW, bool kFlags = false>
LINREC_DEV void chunk_delta_scan_warp(const FwdParams& p) {
  using X = Chunk<Variant, Config, ChunkKernel::Scan>;
  using E = typename X::E;
  constexpr DType D = X::D;
  constexpr int C = X::C, BV = X::BV, KF = X::KF, KFP = X::KFP, V = X::V;
  constexpr int WS = BV / 16, NTS = 32 * WS, NK = KFP / 8, NC = C / 8;
  static_assert(delta_warpscan_applies(D == DType::FP32 ? 4 : 2, Variant::kNormalize, KF, C, BV, Config::Warps),
                "chunk_delta_scan_warp: variant/config outside delta_warpscan_applies");
  static_assert(KFP % 16 == 0 && C % 16 == 0, "chunk_delta_scan_warp: whole k16 steps");
  constexpr DeltaWarpScanLayout SL = delta_warpscan_layout(KF, C, BV, Config::Stages);
  constexpr int NS = SL.ns, LDK = SL.ld_k, LDU = SL.ld_u, LDS = SL.ld_s, LDV = SL.ld_v;
  static_assert(SL.total <= X::L.total, "chunk_delta_scan_warp: the scan's launch size must cover its layout");
  // Side by side (FwdParams::epoch): every block of the scan is running once each has passed this, and
  // the kernel launched after it (the prep or the output kernel) may then start.
  const bool handover = kFlags && p.epoch != 0;
  if (handover) launch_dependents();
  X x(p);
  const int wid = warp_id(), lane = lane_id();
  const int vl = 16 * wid;
  const long long c0 = first_chunk_index<C, NTS>(p, x.n, reinterpret_cast<long long*>(x.sm + SL.misc));
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  unsigned char* const wsb = reinterpret_cast<unsigned char*>(p.ws);
  E* const states = reinterpret_cast<E*>(wsb + ws.states);
  const int cols = (int)(ws.vn_ld - x.v0 < BV ? ws.vn_ld - x.v0 : BV);
  // Every row of the V-tile is a real column when V is a multiple of BV (the usual case): no checks then.
  constexpr bool kFullTiles = V % BV == 0;
  // The hand-over (sp_chunk_flags_apply). A fence waits for the warp's stores (or, acquiring, for the
  // flags it read) and stalls the warp, which is the scan's critical path, so each covers kFlagEvery chunks
  // (LINREC_FLAG_TOKENS): the output kernel follows in such steps, and the scan waits for the prep likewise.
  // The flags' addresses wait in shared memory (first_chunk_index's slot, free from here on), not in
  // registers the walk needs: they are read once per kFlagEvery chunks.
  constexpr int kFlagEvery = C >= LINREC_FLAG_TOKENS ? 1 : LINREC_FLAG_TOKENS / C;
  constexpr long long G = (V + 15) / 16;  // state_passing_ws's flag_groups
  const int nch = (x.len + C - 1) / C;
  static_assert(8 * (1 + WS) <= 4 * 32, "chunk_delta_scan_warp: the flags' addresses fit the misc slot");
  unsigned long long** const fslot = reinterpret_cast<unsigned long long**>(x.sm + SL.misc);
  if (handover) {
    unsigned long long* const f = reinterpret_cast<unsigned long long*>(wsb);
    if (lane == 0) fslot[1 + wid] = f + ws.flags / 8 + (c0 * p.H + x.h) * G + (x.v0 + vl) / 16;
    if (threadIdx.x == 0) fslot[0] = f + ws.prep_flags / 8 + c0 * p.H + x.h;
  }
  // This warp's 16 columns' flags for chunks [from, upto), once their S_c rows and v_new are stored (the
  // warp's own stores: a warp barrier, then lane 0's fence and flags). Groups past V have none.
  auto publish = [&](int from, int upto) {
    if (!handover) return;
    warp_sync();
    if (lane == 0 && (kFullTiles || vl < cols)) {
      unsigned long long* const f = fslot[1 + wid] + (long long)from * p.H * G;
      fence_acq_rel();
      for (int cc = 0; cc < upto - from; ++cc) flag_store(f + (long long)cc * p.H * G, p.epoch);
    }
  };
  // Thread 0 waits for the prep's flags of chunks [from, from + kFlagEvery); a block barrier follows before
  // any thread loads them (only the fetches read what the prep wrote).
  const bool prep_beside = handover && prep_runs_beside(p);
  auto await_prep = [&](int from) {
    if (prep_beside && threadIdx.x == 0 && from < nch)
      flags_wait<kFlagEvery>(fslot[0] + (long long)from * p.H, p.H, nch - from < kFlagEvery ? nch - from : kFlagEvery,
                             p.epoch);
  };
  auto ring = [&](int s) { return delta_ring_stage<E>(x.sm, SL, s); };
  E* const stg = reinterpret_cast<E*>(x.sm + SL.stg + wid * SL.stg_warp);
  // Chunk c's operands into stage s: one cp.async group, empty past the sequence's end (so that every
  // iteration commits one and wait_group counts chunks).
  auto fetch = [&](int c, int s) {
    if (c * C < x.len)
      fetch_delta_chunk<D, C, KFP, BV, NTS, X::kHasDecay, X::kVec>(wsb, ws, (c0 + c) * p.H + x.h, x.v0, cols,
                                                                   ring(s), SL);
    cp_async_commit();
  };
  const long long sbase = ((long long)x.n * p.H + x.h) * KF * (long long)V;
  WarpAcc<1, NK> st;  // S^T: rows (value columns) v0 + vl + m, columns (keys) n
  st.for_each([&](int m, int d, float& a) {
    const int v = x.v0 + vl + m;
    a = (p.h0 != nullptr && v < V && d < KF) ? p.h0[sbase + (long long)d * V + v] : 0.0f;
  });
  unsigned short* const stg16 = reinterpret_cast<unsigned short*>(stg);
  // Fragment access. On the device every ldmatrix / stmatrix address is a 32-bit shared address: a base
  // per stage (or the warp's staging tile), this lane's row offset (the views' load_b2 / store_frag_a
  // patterns, computed once) and a compile-time offset, so the products issue no address arithmetic. The
  // emulator goes through the views.
#ifndef LINREC_KERNEL_EMULATION
  const unsigned sm0 = (unsigned)__cvta_generic_to_shared(x.sm);
  const int lr = (lane & 7) + (((lane >> 3) & 1) << 3), lc = (lane >> 4) << 3;  // RowsBView / store_frag_a
  const unsigned off_w = 2u * (((lane & 7) + ((lane >> 4) << 3)) * LDK + (((lane >> 3) & 1) << 3));  // ColsView
  const unsigned off_k = 2u * (lr * LDK + lc), off_u = 2u * (lr * LDU + lc + vl);
  const unsigned stg_s = sm0 + SL.stg + wid * SL.stg_warp;
  const unsigned off_s = 2u * (lr * LDS + lc);
  const unsigned off_v = 2u * (((lane & 7) + (((lane >> 4) & 1) << 3)) * LDV + (((lane >> 3) & 1) << 3));
#endif
  // W's rows as B (element (key, token)): the k16 step kk of keys, tokens 8 j .. 8 j + 15.
  auto frag_w = [&](unsigned (&bf)[4], int s, int kk, int j) {
#ifdef LINREC_KERNEL_EMULATION
    frag_b2(ColsView<D>{ring(s).w, LDK}, bf, 16 * kk, 8 * j);
#else
    ldsm_x4_at(bf, sm0 + s * SL.stage + SL.w + off_w + 2 * (8 * j * LDK + 16 * kk));
#endif
  };
  // k^'s rows as B (element (token, key)): the k16 step kb of tokens, keys 8 j .. 8 j + 15.
  auto frag_k = [&](unsigned (&bf)[4], int s, int kb, int j) {
#ifdef LINREC_KERNEL_EMULATION
    frag_b2(RowsBView<D>{ring(s).kh, LDK}, bf, 16 * kb, 8 * j);
#else
    ldsm_x4_trans_at(bf, sm0 + s * SL.stage + SL.kh + off_k + 2 * (16 * kb * LDK + 8 * j));
#endif
  };
  // The warp's 16 columns of U (element (token, column)) for the k16 step kb of tokens.
  auto frag_u = [&](unsigned (&bf)[4], int s, int kb) {
#ifdef LINREC_KERNEL_EMULATION
    frag_b2(RowsBView<D>{ring(s).u + vl, LDU}, bf, 16 * kb, 0);
#else
    ldsm_x4_trans_at(bf, sm0 + s * SL.stage + SL.u + off_u + 2 * (16 * kb * LDU));
#endif
  };
  // S_c's k16 step kk into the staging tile ([16][LDS]), and v_new's k16 step kb transposed ([token][LDV]).
  auto stage_s = [&](const unsigned (&a)[4], int kk) {
#if !defined(LINREC_KERNEL_EMULATION) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    stsm_x4_at(a, stg_s + off_s + 32 * kk);
#else
    store_frag_a(a, stg16 + 16 * kk, LDS);
#endif
  };
  auto stage_v = [&](const unsigned (&a)[4], int kb) {
#if !defined(LINREC_KERNEL_EMULATION) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    stsm_x4_trans_at(a, stg_s + off_v + 2 * 16 * kb * LDV);
#else
    store_frag_a_trans(a, stg16 + 16 * kb * LDV, LDV);
#endif
  };
  for (int b = 0; b < NS - 1; b += kFlagEvery) await_prep(b);
  if (prep_beside) block_sync();
#pragma unroll
  for (int s = 0; s < NS - 1; ++s) fetch(s, s);
#pragma unroll 1
  for (int c = 0; c * C < x.len; ++c) {
    const int s = c % NS;
    const long long slot = (c0 + c) * p.H + x.h;
    // S_c rounded to the input type: the A fragments of this chunk's W S, and (through the staging tile,
    // which the previous chunk's v_new copy has finished reading) the 16-byte rows to ws.states.
    unsigned sa[KFP / 16][4];
#pragma unroll
    for (int kk = 0; kk < KFP / 16; ++kk) acc_to_a<D>(st.c[0][2 * kk], st.c[0][2 * kk + 1], sa[kk]);
    warp_sync();
#pragma unroll
    for (int kk = 0; kk < KFP / 16; ++kk) stage_s(sa[kk], kk);
    warp_sync();
    {
      E* const dst = states + slot * KF * (long long)V + (long long)(x.v0 + vl) * KF;
      constexpr int VPR = KF / 8;
      if constexpr (KF % 8 == 0 && (16 * VPR) % 32 == 0 && 32 % VPR == 0) {
        const int r0 = lane / VPR, d = 8 * (lane - r0 * VPR);
#pragma unroll
        for (int it = 0; it < 16 * VPR / 32; ++it) {
          const int r = r0 + it * (32 / VPR);
          if (kFullTiles || x.v0 + vl + r < V)
            *reinterpret_cast<uint4*>(dst + (long long)r * KF + d) = *reinterpret_cast<const uint4*>(stg + r * LDS + d);
        }
      } else if constexpr (KF % 8 == 0) {
        for (int e = lane; e < 16 * VPR; e += 32) {
          const int r = e / VPR, d = 8 * (e - r * VPR);
          if (x.v0 + vl + r < V)
            *reinterpret_cast<uint4*>(dst + (long long)r * KF + d) = *reinterpret_cast<const uint4*>(stg + r * LDS + d);
        }
      } else {
        for (int e = lane; e < 16 * KF; e += 32) {
          const int r = e / KF, d = e - r * KF;
          if (x.v0 + vl + r < V) dst[(long long)r * KF + d] = stg[r * LDS + d];
        }
      }
    }
    cp_async_wait_group<NS - 2>();
    // Chunk c + NS - 1, fetched below, may start a batch of the prep's flags (the prologue waited for the
    // batches below NS - 1).
    if ((c + NS - 1) % kFlagEvery == 0) await_prep(c + NS - 1);
    // Chunk c has landed; stage (c - 1) % NS is free (every warp has passed its products).
    block_sync();
    fetch(c + NS - 1, (c + NS - 1) % NS);
    // v_new^T = U^T - S^T W^T: the accumulators start from U^T (one ldmatrix.trans per k16 step of
    // tokens gives it in their layout), A is S^T, B -W's rows (element (key, token)): the prep wrote -W
    // (kNegW), else A is -S^T.
    WarpAcc<1, NC> pv;
    {
      auto lo = [](unsigned x) { return to_float<D>((E)(x & 0xffffu)); };
      auto hi = [](unsigned x) { return to_float<D>((E)(x >> 16)); };
#pragma unroll
      for (int kb = 0; kb < C / 16; ++kb) {
        unsigned uf[4];
        frag_u(uf, s, kb);
        float* a = pv.c[0][2 * kb];
        float* b = pv.c[0][2 * kb + 1];
        a[0] = lo(uf[0]), a[1] = hi(uf[0]), a[2] = lo(uf[2]), a[3] = hi(uf[2]);
        b[0] = lo(uf[1]), b[1] = hi(uf[1]), b[2] = lo(uf[3]), b[3] = hi(uf[3]);
      }
    }
    {
      // With C <= 32 each accumulator would wait on a chain of K'p / 16 dependent products, the chunk's
      // longest stretch when a warp has its scheduler to itself (long sequences): odd k16 steps go to a
      // second set, added at the end.
      constexpr bool kSplit = C <= 32;
      WarpAcc<1, kSplit ? NC : 2> pz;
      pz.zero();
#pragma unroll
      for (int kk = 0; kk < KFP / 16; ++kk) {
        // -S^T by the sign bits of both 16-bit halves, unless the prep wrote -W.
        constexpr unsigned kFlip = kNegW ? 0u : 0x80008000u;
        const unsigned na[4] = {sa[kk][0] ^ kFlip, sa[kk][1] ^ kFlip, sa[kk][2] ^ kFlip, sa[kk][3] ^ kFlip};
#pragma unroll
        for (int j = 0; j < NC; j += 2) {
          unsigned bf[4];
          frag_w(bf, s, kk, j);
          if (kSplit && (kk & 1))
            mma_pair<D>(pz.c[0][j], pz.c[0][j + 1], na, bf);
          else
            mma_pair<D>(pv.c[0][j], pv.c[0][j + 1], na, bf);
        }
      }
      if constexpr (kSplit) {
#pragma unroll
        for (int j = 0; j < NC; ++j)
#pragma unroll
          for (int r = 0; r < 4; ++r) pv.c[0][j][r] += pz.c[0][j][r];
      }
    }
    // v_new rounded to the input type: the update's A fragments, and (transposed into the staging tile,
    // [token][16], once the S_c copy has read it) the output kernel's values.
    unsigned va[C / 16][4];
#pragma unroll
    for (int kb = 0; kb < C / 16; ++kb) acc_to_a<D>(pv.c[0][2 * kb], pv.c[0][2 * kb + 1], va[kb]);
    warp_sync();
#pragma unroll
    for (int kb = 0; kb < C / 16; ++kb) stage_v(va[kb], kb);
    // S^T <- Gamma_last S^T + v_new^T k^ (B: k^'s rows, element (token, key)).
    if constexpr (X::kHasDecay) {
      const float* gl = ring(s).gl;
      if constexpr (X::kVec) {
        st.for_each([&](int, int d, float& a) { a *= gl[d]; });
      } else {
        const float gamma = gl[0];
        st.for_each([&](int, int, float& a) { a *= gamma; });
      }
    }
    {
#pragma unroll
      for (int kb = 0; kb < C / 16; ++kb)
#pragma unroll
        for (int j = 0; j < NK; j += 2) {
          unsigned bf[4];
          frag_k(bf, s, kb, j);
          mma_pair<D>(st.c[0][j], st.c[0][j + 1], va[kb], bf);
        }
    }
    warp_sync();  // v_new is in the staging tile
    if (kFullTiles || vl < cols) {
      // Two 16-byte vectors per token row of the warp's 16 columns (cols, v0 and vn_ld are multiples of 16).
      E* const gdst = reinterpret_cast<E*>(wsb + ws.vn + slot * ws.vn_chunk) + x.v0 + vl;
      const int i0 = lane >> 1, h8 = 8 * (lane & 1);
#pragma unroll
      for (int it = 0; it < C / 16; ++it) {
        const int i = i0 + 16 * it;
        *reinterpret_cast<uint4*>(gdst + (long long)i * ws.vn_ld + h8) =
            *reinterpret_cast<const uint4*>(stg + i * LDV + h8);
      }
    }
    // Flags every kFlagEvery chunks; the last batch's wait for ht (below): the output kernel, and what
    // follows it in the stream, must not end before this grid's last stores.
    if ((c + 1) % kFlagEvery == 0 && c + 1 < nch) publish(c + 1 - kFlagEvery, c + 1);
  }
  if (p.ht != nullptr) {
    st.for_each([&](int m, int d, float& a) {
      const int v = x.v0 + vl + m;
      if (v < V && d < KF) p.ht[sbase + (long long)d * V + v] = a;
    });
  }
  if (nch > 0) publish((nch - 1) / kFlagEvery * kFlagEvery, nch);
}

}  // namespace kern
}  // namespace linrec
