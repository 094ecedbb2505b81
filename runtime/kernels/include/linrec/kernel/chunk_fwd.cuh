// linrec/kernel/chunk_fwd.cuh: prefill kernels: fused sequential, and the three state-passing stages (DESIGN.md §3).
//
// Every kernel is a __device__ function template the generated translation unit calls from its own
// extern "C" __global__ entry, launched with Config::Warps * 32 threads and the dynamic shared memory the
// matching *_smem_bytes function returns (raise the function's limit first when that exceeds 48 KiB).
//
// Fused sequential (any variant):
//   grid  x = N * H, y = ceil(V / BV)
//   smem  chunk_fwd_fused_smem_bytes<Variant, Config>()
// State passing (additive update rules only; a delta-rule variant fails to compile with a static_assert,
// use the fused kernel for those). z = ceil(T / C) bounds any sequence's chunk count (with cu_seqlens T is
// the total token count); CTAs past the end of their sequence return at once:
//   1. chunk_state_local   grid (N * H, ceil(V / BV), ceil(T / C))   smem chunk_state_local_smem_bytes<...>()
//      writes each chunk's local contribution H_c, its log decay b_last and (normalizer) its z term to ws.
//   2. chunk_state_scan    grid (N * H, ceil(V / BV))                smem 0 (static only)
//      walks the chunks of each sequence in order: replaces H_c by the state entering the chunk, writes ht/zt.
//   3. chunk_output        grid (N * H, ceil(V / BV), ceil(T / C))   smem chunk_output_smem_bytes<...>()
//      the outputs of each chunk from the state entering it.
//   ws holds state_passing_ws(num_chunks_total, H, K', V, kNormalize).floats floats (layout.cuh); the three
//   launches must be stream-ordered; ws needs no initialisation.
#pragma once

#include "linrec/kernel/chunk_phases.cuh"

namespace linrec {
namespace kern {

/// Dynamic shared memory of chunk_fwd_fused for this Variant and Config.
template <class Variant, class Config>
LINREC_HD constexpr int chunk_fwd_fused_smem_bytes() {
  return chunk_layout(ChunkKernel::Fused, Variant::K, Variant::KF, Config::C, Config::BV, Config::Warps,
                      Variant::kDecay == DecayKind::Vector, Variant::kDelta, Variant::kNormalize)
      .bytes();
}

/// Dynamic shared memory of chunk_state_local (state passing, stage 1).
template <class Variant, class Config>
LINREC_HD constexpr int chunk_state_local_smem_bytes() {
  return chunk_layout(ChunkKernel::LocalState, Variant::K, Variant::KF, Config::C, Config::BV, Config::Warps,
                      Variant::kDecay == DecayKind::Vector, Variant::kDelta, Variant::kNormalize)
      .bytes();
}

/// Dynamic shared memory of chunk_output (state passing, stage 3).
template <class Variant, class Config>
LINREC_HD constexpr int chunk_output_smem_bytes() {
  return chunk_layout(ChunkKernel::Output, Variant::K, Variant::KF, Config::C, Config::BV, Config::Warps,
                      Variant::kDecay == DecayKind::Vector, Variant::kDelta, Variant::kNormalize)
      .bytes();
}

/// Fused sequential prefill: one CTA per (sequence, head, V-tile) walks its chunks in order with the state
/// on chip. Reads h0/z0 when given, writes o, and ht/zt when given.
template <class Variant, class Config>
LINREC_DEV void chunk_fwd_fused(const FwdParams& p) {
  using X = Chunk<Variant, Config, ChunkKernel::Fused>;
  X x(p);
  const long long sbase = ((long long)x.n * p.H + x.h) * X::KF * (long long)X::V;
  const long long zbase = ((long long)x.n * p.H + x.h) * X::KF;
  x.init_state(p.h0, sbase, X::V, p.z0, zbase);
  block_sync();
#pragma unroll 1
  for (int t0 = 0; t0 < x.len; t0 += X::C) {
    const int rows = x.len - t0 < X::C ? x.len - t0 : X::C;
    x.load_chunk(t0, rows);
    block_sync();
    x.cumsum();
    block_sync();
    x.scores();
    block_sync();
    if constexpr (X::kHasDecay) {
      x.scale_decay();
      block_sync();
    }
    if constexpr (X::kDelta) x.delta_rhs();
    x.denominators();
    block_sync();
    if constexpr (X::kDelta) x.delta_solve();
    x.outputs(t0, rows);
    block_sync();
    if constexpr (X::kHasDecay) {
      x.prepare_update();
      block_sync();
    }
    x.update_state();
    block_sync();
  }
  x.store_state(p.ht, sbase, X::V, p.zt, zbase);
}

/// The global index of sequence n's first chunk: n * ceil(T / C), or with cu_seqlens the sum of
/// ceil(len_m / C) over m < n (a block-wide sum; every thread gets it). `slot`: shared memory, one value per warp.
template <int C, int NT>
LINREC_DEV long long first_chunk_index(const FwdParams& p, int n, long long* slot) {
  if (p.cu_seqlens == nullptr) return (long long)n * ceil_div(p.T, C);
  long long s = 0;
  for (int m = (int)threadIdx.x; m < n; m += NT) s += (p.cu_seqlens[m + 1] - p.cu_seqlens[m] + C - 1) / C;
  return block_sum_ll<NT>(s, slot);
}

/// State passing, stage 1: for chunk blockIdx.z of its sequence, H_c = (k~ exp(b_last - b))^T (beta v)
/// (this V-tile's columns) into ws.states, b_last into ws.decays and sum_j k~_j exp(b_last - b_j) into
/// ws.zs (both from V-tile 0).
template <class Variant, class Config>
LINREC_DEV void chunk_state_local(const FwdParams& p) {
  static_assert(!Variant::kDelta,
                "state passing supports additive update rules only: use chunk_fwd_fused for delta rules");
  using X = Chunk<Variant, Config, ChunkKernel::LocalState>;
  X x(p);
  const int c = (int)blockIdx.z;
  const int t0 = c * X::C;
  if (t0 >= x.len) return;  // this sequence has fewer chunks (uniform over the block)
  const long long gc = first_chunk_index<X::C, X::NT>(p, x.n, reinterpret_cast<long long*>(x.misc())) + c;
  const int rows = x.len - t0 < X::C ? x.len - t0 : X::C;
  const StatePassingWs ws = state_passing_ws(p.num_chunks_total, p.H, X::KF, X::V, X::kNorm);
  const long long slot = gc * p.H + x.h;
  x.load_chunk(t0, rows);
  block_sync();
  x.cumsum();
  block_sync();
  if constexpr (X::kVec) {
    x.scale_decay();
    block_sync();
  }
  if constexpr (X::kHasDecay) {
    x.prepare_update();
    block_sync();
  }
  float* hc = p.ws + ws.states + slot * X::KF * (long long)X::V;
  constexpr TileShape ts = pick_tile(X::KFP, X::BV, X::W);
  for_each_warp_tile<X::KFP, X::BV, ts.MT, ts.NT, X::W>([&](int m0, int n0) {
    WarpAcc<ts.MT, ts.NT> acc;
    acc.zero();
    x.state_increment(acc, m0, n0);
    acc.for_each([&](int m, int nn, float& v) {
      const int d = m0 + m, col = x.v0 + n0 + nn;
      if (d < X::KF && col < X::V) hc[(long long)d * X::V + col] = v;
    });
  });
  if (blockIdx.y == 0) {
    for (int d = (int)threadIdx.x; d < X::KF; d += X::NT) {
      p.ws[ws.decays + slot * X::KF + d] = x.log_gamma_last(d);
      if constexpr (X::kNorm) {
        float s = 0.0f;
        for (int j = 0; j < X::C; ++j) s += x.kl(j, d);
        p.ws[ws.zs + slot * X::KF + d] = s;
      }
    }
  }
}

/// State passing, stage 2: per (sequence, head, V-tile), S_{c+1} = Gamma_c S_c + H_c over the sequence's
/// chunks, starting from h0 (or zeros); each H_c slot is overwritten with S_c, the state entering chunk c.
/// Writes ht (and zt from V-tile 0) when given. Each thread keeps its share of the state in registers.
template <class Variant, class Config>
LINREC_DEV void chunk_state_scan(const FwdParams& p) {
  static_assert(!Variant::kDelta,
                "state passing supports additive update rules only: use chunk_fwd_fused for delta rules");
  using VT = VariantTraits<Variant>;
  using CT = ConfigTraits<Config>;
  constexpr int KF = VT::KF, V = VT::V, C = CT::C, BV = CT::BV, NT = CT::W * 32;
  // Thread t owns columns t % TPR + TPR * j (j < CPT) of rows t / TPR + RP * e (e < E): all of its
  // addresses are one base plus compile-time offsets, so the state stays in registers. At most 48 state
  // values per thread at a time (with the loaded H_c and the decay factors that is ~150 registers; 64
  // spilled on sm_80): larger tiles are scanned in PASSES equal slabs of EP row steps each, the chunk chain
  // walked once per slab. More warps per block (Config::Warps) make a single slab more likely.
  constexpr int TPR = NT < BV ? NT : BV, RP = NT / TPR, CPT = BV / TPR, E = ceil_div(KF, RP);
  constexpr int kCap = 48 / CPT > 0 ? 48 / CPT : 1;
  constexpr int PASSES = ceil_div(E, kCap), EP = ceil_div(E, PASSES);
  // H_c is loaded one chunk ahead when the registers allow (EP * CPT <= 32): the scan is a chain of
  // dependent chunks, and this keeps a load in flight while the previous chunk is stored.
  constexpr bool kPrefetch = EP * CPT <= 32;
  constexpr bool kNorm = Variant::kNormalize;
  __shared__ long long slot_smem[8];
  __shared__ float gamma_smem[2][KF];
  const int nh = (int)blockIdx.x, n = nh / p.H, h = nh - n * p.H;
  const int d0 = (int)threadIdx.x / TPR, col0 = (int)blockIdx.y * BV + (int)threadIdx.x % TPR;
  const SeqRange seq = sequence_range(p, n);
  const long long c0 = first_chunk_index<C, NT>(p, n, slot_smem);
  const int nc = ceil_div(seq.len, C);
  const StatePassingWs ws = state_passing_ws(p.num_chunks_total, p.H, KF, V, kNorm);
  const long long sbase = ((long long)n * p.H + h) * KF * (long long)V + (long long)d0 * V + col0;
  auto ok = [&](int e, int j) { return e < E && d0 + RP * e < KF && col0 + TPR * j < V; };
  auto off = [&](int e, int j) { return (long long)(RP * e) * V + TPR * j; };
  auto hc_of = [&](int c) {
    return p.ws + ws.states + ((c0 + c) * p.H + h) * KF * (long long)V + (long long)d0 * V + col0;
  };
  // The normalizer column rides along in V-tile 0 (first slab): thread t owns z[t], z[t + NT], ...
  constexpr int EZ = kNorm ? ceil_div(KF, NT) : 0;
  float zr[EZ > 0 ? EZ : 1];
  const bool do_z = kNorm && blockIdx.y == 0;
  const long long zbase = ((long long)n * p.H + h) * KF;
#pragma unroll
  for (int e = 0; e < EZ; ++e) {
    const int d = (int)threadIdx.x + e * NT;
    zr[e] = (do_z && p.z0 != nullptr && d < KF) ? p.z0[zbase + d] : 0.0f;
  }
#pragma unroll 1
  for (int pass = 0; pass < PASSES; ++pass) {
    const int e0 = pass * EP;
    if (pass > 0) block_sync();  // the previous slab's last chunk may still read gamma_smem
    float s[EP][CPT], hv[EP][CPT];
#pragma unroll
    for (int e = 0; e < EP; ++e)
#pragma unroll
      for (int j = 0; j < CPT; ++j)
        s[e][j] = (p.h0 != nullptr && ok(e0 + e, j)) ? p.h0[sbase + off(e0 + e, j)] : 0.0f;
    auto load_h = [&](int c, float(&dst)[EP][CPT]) {
      const float* src = hc_of(c);
#pragma unroll
      for (int e = 0; e < EP; ++e)
#pragma unroll
        for (int j = 0; j < CPT; ++j) dst[e][j] = ok(e0 + e, j) ? src[off(e0 + e, j)] : 0.0f;
    };
    if (kPrefetch && nc > 0) load_h(0, hv);
#pragma unroll 1
    for (int c = 0; c < nc; ++c) {
      const long long slot = (c0 + c) * p.H + h;
      float* hc = hc_of(c);
      const float* dec = p.ws + ws.decays + slot * KF;
      // Gamma of this chunk, double-buffered so that one barrier per chunk suffices.
      float* gam = gamma_smem[c & 1];
      for (int d = (int)threadIdx.x; d < KF; d += NT) gam[d] = expf(dec[d]);
      float hn[kPrefetch ? EP : 1][CPT];
      if constexpr (kPrefetch) {
        if (c + 1 < nc) load_h(c + 1, hn);
      } else {
        load_h(c, hv);
      }
      block_sync();
#pragma unroll
      for (int e = 0; e < EP; ++e) {
        const int d = d0 + RP * (e0 + e);
        const float gd = d < KF ? gam[d] : 0.0f;
#pragma unroll
        for (int j = 0; j < CPT; ++j) {
          if (ok(e0 + e, j)) hc[off(e0 + e, j)] = s[e][j];
          s[e][j] = gd * s[e][j] + hv[e][j];
        }
      }
      if constexpr (kPrefetch) {
#pragma unroll
        for (int e = 0; e < EP; ++e)
#pragma unroll
          for (int j = 0; j < CPT; ++j) hv[e][j] = hn[e][j];
      }
      if (do_z && pass == 0) {
        float* zc = p.ws + ws.zs + slot * KF;
#pragma unroll
        for (int e = 0; e < EZ; ++e) {
          const int d = (int)threadIdx.x + e * NT;
          if (d < KF) {
            const float hz = zc[d];
            zc[d] = zr[e];
            zr[e] = gam[d] * zr[e] + hz;
          }
        }
      }
    }
    if (p.ht != nullptr) {
#pragma unroll
      for (int e = 0; e < EP; ++e)
#pragma unroll
        for (int j = 0; j < CPT; ++j)
          if (ok(e0 + e, j)) p.ht[sbase + off(e0 + e, j)] = s[e][j];
    }
  }
  if (do_z && p.zt != nullptr) {
#pragma unroll
    for (int e = 0; e < EZ; ++e) {
      const int d = (int)threadIdx.x + e * NT;
      if (d < KF) p.zt[zbase + d] = zr[e];
    }
  }
}

/// State passing, stage 3: the outputs of chunk blockIdx.z of its sequence from the state entering it
/// (ws.states after stage 2), exactly as the fused kernel computes them.
template <class Variant, class Config>
LINREC_DEV void chunk_output(const FwdParams& p) {
  static_assert(!Variant::kDelta,
                "state passing supports additive update rules only: use chunk_fwd_fused for delta rules");
  using X = Chunk<Variant, Config, ChunkKernel::Output>;
  X x(p);
  const int c = (int)blockIdx.z;
  const int t0 = c * X::C;
  if (t0 >= x.len) return;
  const long long gc = first_chunk_index<X::C, X::NT>(p, x.n, reinterpret_cast<long long*>(x.misc())) + c;
  const int rows = x.len - t0 < X::C ? x.len - t0 : X::C;
  const StatePassingWs ws = state_passing_ws(p.num_chunks_total, p.H, X::KF, X::V, X::kNorm);
  const long long slot = gc * p.H + x.h;
  x.init_state(p.ws + ws.states, slot * X::KF * (long long)X::V, X::V, X::kNorm ? p.ws + ws.zs : nullptr, slot * X::KF);
  x.load_chunk(t0, rows);
  block_sync();
  x.cumsum();
  block_sync();
  x.scores();
  block_sync();
  if constexpr (X::kHasDecay) {
    x.scale_decay();
    block_sync();
  }
  if constexpr (X::kNorm) {
    x.denominators();
    block_sync();
  }
  x.outputs(t0, rows);
}

}  // namespace kern
}  // namespace linrec
