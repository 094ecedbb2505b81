// linrec/kernel/chunk_fwd.cuh: prefill kernels: fused sequential, and the two state-passing stages (DESIGN.md §3).
//
// Every kernel is a __device__ function template the generated translation unit calls from its own
// extern "C" __global__ entry, launched with Config::Warps * 32 threads and the dynamic shared memory the
// matching *_smem_bytes function returns (raise the function's limit first when that exceeds 48 KiB).
//
// Fused sequential (any variant):
//   grid  x = N * H, y = ceil(V / BV)
//   smem  chunk_fwd_fused_smem_bytes<Variant, Config>()
//   Variants that take the register-state body (fused_regs.cuh) may also split each sequence into z = S
//   segments: chunk_fwd_seg_state (grid (N * H, ceil(V / BV), S - 1), smem
//   fused_regs_state_layout(K', C, BV, per-key decay).total) and chunk_fwd_seg_scan (grid
//   (N * H, ceil(K' * V / threads)), no smem) run first, ws = segment_ws(N, S, H, K', V, 1 or K').bytes().
// State passing. Only the state recurrence is sequential, and it is light: a block walks
// the chunks of one (sequence, head, V-tile, key slice) with that slice of the state on chip, doing one
// C-deep product per chunk, and stores the state entering every chunk; the outputs, with the intra-chunk
// scores, are then computed for all chunks at once. z = ceil(T / C) bounds any sequence's chunk count (with
// cu_seqlens T is the total token count); output blocks past the end of their sequence return at once.
//   1. chunk_state_scan   grid (N * H, ceil(V / BV), ceil(K' / BK))  smem chunk_state_scan_smem_bytes<...>()
//      threads layout.cuh state_scan_threads (BV / 2 for the delta scan chunk_delta_scan_warp, else Warps * 32)
//      writes the state entering each chunk to ws (input type) and, for normalizers, z (fp32); ht/zt.
//   2. chunk_output       grid (N * H, ceil(V / BV), ceil(T / C))    smem chunk_output_smem_bytes<...>()
//      the outputs of each chunk from the state entering it.
//   ws holds sp_ws<Variant, Config>(p).bytes() bytes (layout.cuh state_passing_ws); the launches must be
//   stream-ordered; ws needs no initialisation. With a decay, chunk_gates (grid (N * H, ceil(T / C))) runs
//   first and writes each chunk's cumsum b.
// Delta rules: v_new = U - W S needs every key row of the state, so the scan has no key slices (grid z = 1),
// and chunk_delta_prep (grid (N * H, ceil(T / C)), in chunk_gates' place) first solves each chunk's WY form
// in parallel: W = (I + Akk)^-1 diag(beta) (k~ Gamma), U = (I + Akk)^-1 diag(beta) v, k^ = k~ exp(b_last - b),
// Gamma_last and b. The scan then does per chunk v_new = U - W S (stored over U) and S <- Gamma_last S +
// k^T v_new; the output kernel reads v_new as its values: o = q~ Gamma S + Aqk v_new.
#pragma once

#include "linrec/kernel/chunk_phases.cuh"
#include "linrec/kernel/delta_scan.cuh"
#include "linrec/kernel/fused_regs.cuh"
#include "linrec/kernel/output_regs.cuh"
#include "linrec/kernel/wy.cuh"

namespace linrec {
namespace kern {

template <class Variant, class Config>
LINREC_HD constexpr int chunk_smem_bytes(ChunkKernel kind) {
  return chunk_layout(kind, Variant::K, Variant::KF, Config::C, Config::BV, Config::Warps,
                      Variant::kDecay == DecayKind::Vector, Variant::kDelta, Variant::kNormalize,
                      Config::kDType == DType::FP32 ? 4 : 2, Config::BK, Config::Stages)
      .bytes();
}

/// Dynamic shared memory of chunk_fwd_fused for this Variant and Config.
template <class Variant, class Config>
LINREC_HD constexpr int chunk_fwd_fused_smem_bytes() {
  if constexpr (fused_in_registers<Variant, Config>())
    return fused_regs_layout(Variant::K, Config::C, Config::BV, Variant::kDecay == DecayKind::Vector, Variant::kDelta)
        .total;
  else
    return chunk_smem_bytes<Variant, Config>(ChunkKernel::Fused);
}

/// Dynamic shared memory of chunk_state_scan (state passing, stage 1).
template <class Variant, class Config>
LINREC_HD constexpr int chunk_state_scan_smem_bytes() {
  return chunk_smem_bytes<Variant, Config>(ChunkKernel::Scan);
}

/// Dynamic shared memory of chunk_output (state passing, stage 2).
template <class Variant, class Config>
LINREC_HD constexpr int chunk_output_smem_bytes() {
  return chunk_smem_bytes<Variant, Config>(ChunkKernel::Output);
}

/// Dynamic shared memory of chunk_gates (state passing, stage 0).
template <class Variant, class Config>
LINREC_HD constexpr int chunk_gates_smem_bytes() {
  return chunk_smem_bytes<Variant, Config>(ChunkKernel::Gates);
}

/// Fused sequential prefill: one CTA per (sequence, head, V-tile) walks its chunks in order with the state
/// on chip. Reads h0/z0 when given, writes o, and ht/zt when given. 16-bit additive variants with raw q/k
/// and no per-key decay take chunk_fwd_fused_regs (fused_regs.cuh) instead of the phase-by-phase body.
template <class Variant, class Config>
LINREC_DEV void chunk_fwd_fused(const FwdParams& p) {
  if constexpr (fused_in_registers<Variant, Config>()) {
    chunk_fwd_fused_regs<Variant, Config>(p);
    return;
  }
  using X = Chunk<Variant, Config, ChunkKernel::Fused>;
  X x(p);
  const long long sbase = ((long long)x.n * p.H + x.h) * X::KF * (long long)X::V;
  const long long zbase = ((long long)x.n * p.H + x.h) * X::KF;
  x.init_state(p.h0, sbase, X::V, p.z0, zbase);
  block_sync();
#pragma unroll 1
  for (int t0 = 0; t0 < x.len; t0 += X::C) {
    const int rows = x.rows_at(t0);
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

/// State passing, stage 0 (variants with a decay): for chunk blockIdx.y of its sequence, evaluates the
/// decay gates and their within-chunk cumsum b once (the scan and the output kernel's V-tiles would each
/// redo it, the scan on its critical path) and writes b to the workspace. Grid (N * H, ceil(T / C)).
template <class Variant, class Config>
LINREC_DEV void chunk_gates(const FwdParams& p) {
  static_assert(!Variant::kDelta,
                "state passing supports additive update rules only: use chunk_fwd_fused for delta rules");
  static_assert(Variant::kDecay != DecayKind::None, "chunk_gates: the variant has no decay");
  using X = Chunk<Variant, Config, ChunkKernel::Gates>;
  X x(p);
  const int c = (int)blockIdx.y;
  const int t0 = c * X::C;
  if (t0 >= x.len) return;
  const long long gc = first_chunk_index<X::C, X::NT>(p, x.n, reinterpret_cast<long long*>(x.misc())) + c;
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  x.eval_gates(t0, x.rows_at(t0));
  block_sync();
  x.cumsum();
  block_sync();
  x.store_gates(reinterpret_cast<unsigned char*>(p.ws) + ws.gates + (gc * p.H + x.h) * ws.gate_chunk);
}

/// State passing, stage 1 (additive rules): per (sequence, head, V-tile, key slice blockIdx.z),
/// S_{c+1} = Gamma_c S_c + (k~ exp(b_last - b))^T (beta v) over the sequence's chunks from h0 (or zeros),
/// storing each S_c (the state entering chunk c) in the input type to ws, z_c (fp32) too for normalizers,
/// and S/z at the end to ht/zt.
/// Key rows are independent in an additive update, so key slices need no communication.
template <class Variant, class Config>
LINREC_DEV void chunk_additive_scan(const FwdParams& p) {
  using X = Chunk<Variant, Config, ChunkKernel::Scan>;
  using E = typename X::E;
  X x(p);
  const int w0 = X::scan_window();
  x.g0 = w0;
  const long long c0 = first_chunk_index<X::C, X::NT>(p, x.n, reinterpret_cast<long long*>(x.misc()));
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  E* states = reinterpret_cast<E*>(reinterpret_cast<unsigned char*>(p.ws) + ws.states);
  float* zs = reinterpret_cast<float*>(reinterpret_cast<unsigned char*>(p.ws) + ws.zs);
  const unsigned char* gws = reinterpret_cast<const unsigned char*>(p.ws) + ws.gates;
  // Chunk c's b from the gate pre-pass, fetched with its k/v tiles (same cp.async group).
  auto fetch = [&](int c, int t0, int b) {
    if constexpr (X::kAsyncRaw) {
      if constexpr (X::kGatesWs) x.load_gates_async(gws + ((c0 + c) * p.H + x.h) * ws.gate_chunk, b);
      x.load_raw_async(t0, x.rows_at(t0), b);
    }
  };
  const long long sbase = ((long long)x.n * p.H + x.h) * X::KF * (long long)X::V;
  const long long zbase = ((long long)x.n * p.H + x.h) * X::KF;
  x.scan_init(w0, p.h0, sbase, p.z0, zbase);
  // The next chunk's raw k and v land (cp.async) in the other buffer while this one is worked on.
  if constexpr (X::kAsyncRaw)
    if (x.len > 0) fetch(0, 0, 0);
  block_sync();
#pragma unroll 1
  for (int t0 = 0, c = 0; t0 < x.len; t0 += X::C, ++c) {
    const int rows = x.rows_at(t0);
    const long long slot = (c0 + c) * p.H + x.h;
    x.buf = c & 1;
    x.scan_store(w0, states + slot * X::KF * (long long)X::V, X::kNorm ? zs + slot * X::KF : nullptr);
    if constexpr (X::kAsyncRaw) {
      cp_async_wait_all();
      block_sync();  // this chunk's tiles are visible; the other buffer's last readers are done
      if (t0 + X::C < x.len) fetch(c + 1, t0 + X::C, (c + 1) & 1);
      x.load_rest(t0, rows);
    } else {
      if constexpr (X::kGatesWs) {
        x.load_gates_async(gws + slot * ws.gate_chunk, x.buf);
        cp_async_commit();
        cp_async_wait_all();
      }
      x.load_chunk(t0, rows);
    }
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
    x.scan_update(w0);
    block_sync();
  }
  x.scan_final(w0, p.ht, sbase, p.zt, zbase);
}

/// Whether the additive state scan keeps its state in registers (chunk_additive_scan_regs): 16-bit inputs
/// whose k~ is the raw k row (no map, no k_pre), no beta, no normalizer, and 16-byte rows of v. Other
/// additive variants take chunk_additive_scan (the state in shared memory, the feature maps on chip).
template <class Variant, class Config>
LINREC_HD constexpr bool additive_scan_in_registers() {
  return !Variant::kDelta && Config::kDType != DType::FP32 && kRawOperand<Variant, false> && !Variant::kHasBeta &&
         !Variant::kNormalize && Variant::KF == Variant::K && Variant::V % kVecElems<Config::kDType> == 0;
}

/// chunk_additive_scan_regs' pipeline stages, carved out of the generic scan's shared memory (so the launch
/// size, which codegen and the tuner take from chunk_layout, is the same for both): per stage the chunk's
/// key slice [C][SR], its V-tile [C][BV] and its b (vector: the slice's columns [C][SR] fp32; scalar: [C]).
/// The generic layout holds two full-width Kt/U/G buffers and the fp32 state besides, so at least two
/// stages always fit; up to four are used.
template <class Variant, class Config>
struct RegScanLayout {
  using X = Chunk<Variant, Config, ChunkKernel::Scan>;
  static constexpr int C = Config::C, SR = X::SR;
  static constexpr int LDK = smem_row_stride(SR, 2), LDU = X::LDU, LDG = smem_row_stride(SR);
  static constexpr int kK = 0;
  static constexpr int kU = kK + round_up(2 * C * LDK, 16);
  static constexpr int kG = kU + round_up(2 * C * LDU, 16);
  static constexpr int kStage = kG + round_up(X::kVec ? 4 * C * LDG : X::kHasDecay ? 4 * C : 0, 16);
  /// Everything below the misc region (first_chunk_index's block sum lives there).
  static constexpr int kFit = X::L.misc / kStage;
  static constexpr int NS = kFit > 4 ? 4 : kFit;
  static_assert(NS >= 2, "chunk_additive_scan_regs: two pipeline stages must fit the scan's shared memory");
};

/// State passing, stage 1, with the state in registers (additive rules, additive_scan_in_registers): per
/// (sequence, head, V-tile, key slice), the warps hold S^T (BV x SR, the V-tile by the slice's key rows) as
/// mma accumulators for the whole sequence. Per chunk: store S_c from the registers (input type, [V][K'], key
/// pairs as 32-bit words), wait for the chunk's copies and pass one barrier, issue the copies NS - 1 chunks
/// ahead, then S^T <- Gamma_last S^T + (v e^{b_last - b})^T k (scalar decays) or
/// Gamma_last S^T + v^T (k e^{b_last - b}) (vector decays), the decay factors applied to the operand
/// fragments as they are gathered. The generic scan spends five barriers and two shared-memory round trips of
/// the state per chunk; this one spends one barrier and none. It is still latency bound (one block per SM at
/// the long shapes; docs/performance.md has the profile).
template <class Variant, class Config>
LINREC_DEV void chunk_additive_scan_regs(const FwdParams& p) {
  using X = Chunk<Variant, Config, ChunkKernel::Scan>;
  using E = typename X::E;
  using SL = RegScanLayout<Variant, Config>;
  constexpr DType D = X::D;
  constexpr int C = X::C, BV = X::BV, SR = X::SR, NT = X::NT, W = X::W, K = X::K, V = X::V, KF = X::KF;
  constexpr int NS = SL::NS;
  static_assert(X::KFP == K, "chunk_additive_scan_regs: the key slices must tile the raw k rows");
  constexpr TileShape ts = pick_tile(BV, SR, W);
  constexpr int TM = 16 * ts.MT, TN = 8 * ts.NT, TILES_N = SR / TN, TILES = (BV / TM) * TILES_N;
  constexpr int TPW = (TILES + W - 1) / W;  // state tiles per warp, each kept in registers
  X x(p);
  const int w0 = X::scan_window(), r0 = X::scan_rows_begin(), r1 = X::scan_rows_end();
  const long long c0 = first_chunk_index<C, NT>(p, x.n, reinterpret_cast<long long*>(x.misc()));
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  E* states = reinterpret_cast<E*>(reinterpret_cast<unsigned char*>(p.ws) + ws.states);
  const unsigned char* gws = reinterpret_cast<const unsigned char*>(p.ws) + ws.gates;
  const int vcols = V - x.v0 < BV ? V - x.v0 : BV;
  auto kbuf = [&](int s) { return reinterpret_cast<E*>(x.sm + s * SL::kStage + SL::kK); };
  auto ubuf = [&](int s) { return reinterpret_cast<E*>(x.sm + s * SL::kStage + SL::kU); };
  auto gbuf = [&](int s) { return reinterpret_cast<float*>(x.sm + s * SL::kStage + SL::kG); };
  // Chunk c's key slice, V-tile and b into stage s: one cp.async group, empty past the sequence's end (so
  // that every iteration commits one and wait_group counts chunks).
  auto fetch = [&](int c, int s) {
    const int t0 = c * C;
    if (t0 < x.len) {
      const int rows = x.rows_at(t0);
      const long long row0 = (x.bos + t0) * p.H + x.h;
      load_tile_async<D, C, SR, NT>(p.k, row0 * K + w0, (long long)p.H * K, rows, SR, kbuf(s), SL::LDK);
      load_tile_async<D, C, BV, NT>(p.v, row0 * V + x.v0, (long long)p.H * V, rows, vcols, ubuf(s), SL::LDU);
      if constexpr (X::kHasDecay) {
        const float* src = reinterpret_cast<const float*>(gws + ((c0 + c) * p.H + x.h) * ws.gate_chunk);
        float* g = gbuf(s);
        if constexpr (X::kVec) {
          constexpr int PR = SR / 4;
          for (int e2 = (int)threadIdx.x; e2 < C * PR; e2 += NT) {
            const int i = e2 / PR, j = (e2 - i * PR) * 4;
            cp_async16(g + i * SL::LDG + j, src + i * X::KFP + w0 + j, true);
          }
        } else {
          for (int e2 = (int)threadIdx.x; e2 < C / 4; e2 += NT) cp_async16(g + 4 * e2, src + 4 * e2, true);
        }
      }
    }
    cp_async_commit();
  };
  // Warp tile i of this warp: S^T rows (V-tile columns) m0.., key columns n0.. of the window.
  auto tile = [&](int i, int& m0, int& n0) {
    const int t = warp_id() + i * W;
    m0 = (t / TILES_N) * TM;
    n0 = (t - (t / TILES_N) * TILES_N) * TN;
    return t < TILES;
  };
  const long long sbase = ((long long)x.n * p.H + x.h) * KF * (long long)V;
  WarpAcc<ts.MT, ts.NT> acc[TPW];
#pragma unroll
  for (int i = 0; i < TPW; ++i) {
    int m0, n0;
    const bool own = tile(i, m0, n0);
    acc[i].for_each([&](int m, int nn, float& s) {
      const int v = x.v0 + m0 + m, d = w0 + n0 + nn;
      s = (own && p.h0 != nullptr && v < V) ? p.h0[sbase + (long long)d * V + v] : 0.0f;
    });
  }
#pragma unroll
  for (int s = 0; s < NS - 1; ++s) fetch(s, s);
#pragma unroll 1
  for (int c = 0; c * C < x.len; ++c) {
    const int s = c % NS;
    // S_c, the state entering chunk c, from the registers: key pairs (d, d + 1) are adjacent in [V][K'].
    E* dst = states + ((c0 + c) * p.H + x.h) * KF * (long long)V;
#pragma unroll
    for (int i = 0; i < TPW; ++i) {
      int m0, n0;
      if (!tile(i, m0, n0)) continue;
      acc[i].for_each_pair([&](int m, int nn, float& a, float& b) {
        const int v = x.v0 + m0 + m, d = w0 + n0 + nn;
        if (v < V && d >= r0 && d < r1) store_pair<D>(dst, (long long)v * KF + d, a, b);  // KF, d even
      });
    }
    cp_async_wait_group<NS - 2>();
    block_sync();  // chunk c has landed; stage (c - 1) % NS is free (its readers passed this barrier)
    fetch(c + NS - 1, (c + NS - 1) % NS);
    const E* kt = kbuf(s);
    const E* u = ubuf(s);
    const float* g = gbuf(s);
#pragma unroll
    for (int i = 0; i < TPW; ++i) {
      int m0, n0;
      if (!tile(i, m0, n0)) continue;
      if constexpr (X::kVec) {
        const float* gl = g + (C - 1) * SL::LDG + n0;  // b_last of the tile's key columns
        acc[i].for_each([&](int, int nn, float& a) { a *= kexp<D>(gl[nn]); });
        warp_gemm<D>(acc[i], 0, C, TransRowsView<D>{u + m0, SL::LDU}, fn_b<D>([&](int k, int n) {
                       return to_float<D>(kt[k * SL::LDK + n0 + n]) * kexp<D>(gl[n] - g[k * SL::LDG + n0 + n]);
                     }));
      } else if constexpr (X::kHasDecay) {
        const float bl = g[C - 1];
        const float gam = kexp<D>(bl);
        acc[i].for_each([&](int, int, float& a) { a *= gam; });
        warp_gemm<D>(acc[i], 0, C,
                     fn_a<D>([&](int m, int k) { return to_float<D>(u[k * SL::LDU + m0 + m]) * kexp<D>(bl - g[k]); }),
                     RowsBView<D>{kt + n0, SL::LDK});
      } else {
        warp_gemm<D>(acc[i], 0, C, TransRowsView<D>{u + m0, SL::LDU}, RowsBView<D>{kt + n0, SL::LDK});
      }
    }
  }
  if (p.ht != nullptr) {
#pragma unroll
    for (int i = 0; i < TPW; ++i) {
      int m0, n0;
      if (!tile(i, m0, n0)) continue;
      acc[i].for_each([&](int m, int nn, float& a) {
        const int v = x.v0 + m0 + m, d = w0 + n0 + nn;
        if (v < V && d >= r0 && d < r1) p.ht[sbase + (long long)d * V + v] = a;
      });
    }
  }
}

template <class Variant, class Config>
LINREC_DEV void chunk_delta_scan(const FwdParams& p);

/// Whether the delta state scan takes chunk_delta_scan_warp (delta_scan.cuh; layout.cuh
/// delta_warpscan_applies, which also sizes the scan's launch and its threads).
template <class Variant, class Config>
LINREC_HD constexpr bool delta_scan_by_warps() {
  return Variant::kDelta && delta_warpscan_applies(Config::kDType == DType::FP32 ? 4 : 2, Variant::kNormalize,
                                                   Variant::KF, Config::C, Config::BV, Config::Warps);
}

template <class Variant, class Config>
LINREC_HD constexpr bool delta_prep_in_wy();

template <class Variant, class Config>
LINREC_HD constexpr bool sp_chunk_flags();

/// Whether the state-passing workspace holds -W instead of W: where the WY body (wy.cuh) is the prep and
/// chunk_delta_scan_warp the scan, whose v_new^T = U^T - S^T W^T then takes the state's A fragments as they
/// are (at K' = 128, 32 sign flips per chunk and warp fewer; the prep's flip is a factor it applies anyway).
template <class Variant, class Config>
LINREC_HD constexpr bool delta_ws_neg_w() {
  return delta_scan_by_warps<Variant, Config>() && delta_prep_in_wy<Variant, Config>();
}

/// Whether the delta state scan keeps its state in registers (chunk_delta_scan_regs; layout.cuh
/// delta_regscan_applies, which also sizes the scan's launch).
template <class Variant, class Config>
LINREC_HD constexpr bool delta_scan_in_registers() {
  return Variant::kDelta && delta_regscan_applies(Config::kDType == DType::FP32 ? 4 : 2, Variant::kNormalize,
                                                  Variant::KF, Config::C, Config::BV, Config::Warps);
}

/// Delta-rule state passing, stage 1, with the state in registers: per (sequence, head, V-tile), warp
/// (group vg, slice ks) holds S^T for the group's 16 columns of the V-tile by the slice's key rows as mma
/// accumulators for the whole sequence (layout.cuh DeltaRegScanSplit). Per chunk:
///   1. S_c from the registers into a shared tile ([BV][K'p], the input type) and from there to ws.states
///      ([V][K']) as 16-byte rows;
///   2. one barrier once the chunk's W, k^, U and Gamma_last have landed (and the tile is whole); the copies
///      NS - 1 chunks ahead go out;
///   3. the warps of group vg split the chunk's 16-row stripes: v_new = U - W S over every key row for
///      their stripes and the group's 16 columns, rounded into shared memory; a second barrier (a warp sync
///      with one slice), then v_new to ws.vn (over U: the output kernel's values) as 16-byte rows;
///   4. S^T <- Gamma_last S^T + v_new^T k^[:, slice].
/// Splitting P by rows rather than by key slices (up to eacee63) spends no fp32 partials, no third barrier and
/// no serial sum on one warp per group.
/// The generic delta scan keeps S in shared memory and rebuilds its 16-bit copy every chunk.
template <class Variant, class Config>
LINREC_DEV void chunk_delta_scan_regs(const FwdParams& p) {
  using X = Chunk<Variant, Config, ChunkKernel::Scan>;
  using E = typename X::E;
  constexpr DType D = X::D;
  constexpr int C = X::C, BV = X::BV, NT = X::NT, W = X::W, KF = X::KF, KFP = X::KFP, V = X::V, MT = C / 16;
  constexpr DeltaRegScanSplit sp = delta_regscan_split(KF, BV, W);
  constexpr int VG = sp.vg, KS = sp.ks, SR = sp.sr;
  constexpr DeltaRegScanLayout SL = delta_regscan_layout(KF, C, BV, Config::Stages);
  constexpr int NS = SL.ns;
  static_assert(SL.total <= X::L.total, "chunk_delta_scan_regs: the scan's launch size must cover its layout");
  X x(p);
  const int wid = warp_id(), lane = lane_id();
  const int vg = wid % VG, ks = wid / VG, vl = vg * 16, kl = ks * SR;
  const long long c0 = first_chunk_index<C, NT>(p, x.n, reinterpret_cast<long long*>(x.sm + SL.misc));
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  unsigned char* const wsb = reinterpret_cast<unsigned char*>(p.ws);
  E* const states = reinterpret_cast<E*>(wsb + ws.states);
  const int cols = (int)(ws.vn_ld - x.v0 < BV ? ws.vn_ld - x.v0 : BV);
  auto ring = [&](int s) { return delta_ring_stage<E>(x.sm, SL, s); };
  E* const vn = reinterpret_cast<E*>(x.sm + SL.vn);
  E* const sst = reinterpret_cast<E*>(x.sm + SL.sst);
  // Chunk c's operands into stage s: one cp.async group, empty past the sequence's end (so that every
  // iteration commits one and wait_group counts chunks).
  auto fetch = [&](int c, int s) {
    if (c * C < x.len)
      fetch_delta_chunk<D, C, KFP, BV, NT, X::kHasDecay, X::kVec>(wsb, ws, (c0 + c) * p.H + x.h, x.v0, cols,
                                                                  ring(s), SL);
    cp_async_commit();
  };
  const long long sbase = ((long long)x.n * p.H + x.h) * KF * (long long)V;
  WarpAcc<1, SR / 8> st;  // S^T: rows v0 + vl + m, key columns kl + n
  st.for_each([&](int m, int nn, float& a) {
    const int v = x.v0 + vl + m, d = kl + nn;
    a = (p.h0 != nullptr && v < V && d < KF) ? p.h0[sbase + (long long)d * V + v] : 0.0f;
  });
#pragma unroll
  for (int s = 0; s < NS - 1; ++s) fetch(s, s);
#pragma unroll 1
  for (int c = 0; c * C < x.len; ++c) {
    const int s = c % NS;
    const long long slot = (c0 + c) * p.H + x.h;
    E* dst = states + slot * KF * (long long)V;
    // S_c into the staged tile (the B operand of this chunk's W S), then to ws.states.
    st.for_each_pair(
        [&](int m, int nn, float& a, float& b) { store_pair<D>(sst, (vl + m) * SL.ld_s + kl + nn, a, b); });
    if constexpr (KF % 8 == 0) {
      // From the tile, so the rows leave as 16-byte vectors (an accumulator pair per lane would write 16
      // of every 32 bytes of each sector it touches).
      __syncwarp();
      constexpr int VPR = SR / 8;
#pragma unroll
      for (int e = lane; e < 16 * VPR; e += 32) {
        const int r = e / VPR, j = e - r * VPR, v = x.v0 + vl + r, d = kl + 8 * j;
        if (v < V && d < KF)
          *reinterpret_cast<uint4*>(dst + (long long)v * KF + d) =
              *reinterpret_cast<const uint4*>(sst + (vl + r) * SL.ld_s + d);
      }
    } else {
      st.for_each_pair([&](int m, int nn, float& a, float& b) {
        const int v = x.v0 + vl + m, d = kl + nn;
        if (v >= V || d >= KF) return;
        if (KF % 2 == 0) {
          store_pair<D>(dst, (long long)v * KF + d, a, b);
        } else {
          store_elem<D>(dst, (long long)v * KF + d, a);
          if (d + 1 < KF) store_elem<D>(dst, (long long)v * KF + d + 1, b);
        }
      });
    }
    cp_async_wait_group<NS - 2>();
    // Chunk c has landed and the state tile is whole; stage (c - 1) % NS and vn are free (their readers
    // passed this). The tile itself was free to rewrite: its readers passed the previous v_new barrier.
    block_sync();
    fetch(c + NS - 1, (c + NS - 1) % NS);
    // v_new = U - W S for the group's 16 columns, row stripes I = ks, ks + KS, ... of the chunk: each warp
    // takes whole stripes over every key row, the B fragments from the staged state tile, so no partial
    // products cross warps.
    const ColsView<D> sv{sst + vl * SL.ld_s, SL.ld_s};  // (d, v) = S^T[vl + v][d]
    const RowsView<D> wv{ring(s).w, SL.ld_k};
    const E* const u = ring(s).u;
    const int g = lane >> 2, t4 = lane & 3;
#pragma unroll 1
    for (int I = ks; I < MT; I += KS) {
      float pc[2][4] = {};
#pragma unroll
      for (int kk = 0; kk < KFP / 16; ++kk) {
        unsigned af[4], bf[4];
        frag_a(wv, af, 16 * I, 16 * kk);
        frag_b2(sv, bf, 16 * kk, 0);
        mma_pair<D>(pc[0], pc[1], af, bf);
      }
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
          const int i = 16 * I + g + 8 * hf, col = vl + 8 * nt + 2 * t4;
          const unsigned up = *reinterpret_cast<const unsigned*>(u + i * SL.ld_u + col);
          store_pair<D>(vn, (long long)i * SL.ld_u + col, to_float<D>((E)(up & 0xffffu)) - pc[nt][2 * hf],
                        to_float<D>((E)(up >> 16)) - pc[nt][2 * hf + 1]);
        }
    }
    if constexpr (KS > 1)
      block_sync();  // v_new is visible
    else
      warp_sync();  // each group's warp wrote its own columns
    {
      // v_new to ws.vn for the output kernel: the group's 16 columns as two 16-byte vectors per row, shared
      // among its KS warps (cols, v0 and vn_ld are multiples of 16).
      E* const gdst = reinterpret_cast<E*>(wsb + ws.vn + slot * ws.vn_chunk) + x.v0;
#pragma unroll
      for (int e = ks * 32 + lane; e < 2 * C; e += KS * 32) {
        const int i = e >> 1, col = vl + 8 * (e & 1);
        if (col < cols)
          *reinterpret_cast<uint4*>(gdst + (long long)i * ws.vn_ld + col) =
              *reinterpret_cast<const uint4*>(vn + i * SL.ld_u + col);
      }
    }
    if constexpr (X::kHasDecay) {
      const float* gl = ring(s).gl;
      st.for_each([&](int, int nn, float& a) { a *= gl[X::kVec ? kl + nn : 0]; });
    }
    warp_gemm<D>(st, 0, C, TransRowsView<D>{vn + vl, SL.ld_u}, RowsBView<D>{ring(s).kh + kl, SL.ld_k});
  }
  if (p.ht != nullptr) {
    st.for_each([&](int m, int nn, float& a) {
      const int v = x.v0 + vl + m, d = kl + nn;
      if (v < V && d < KF) p.ht[sbase + (long long)d * V + v] = a;
    });
  }
}

/// State passing, stage 1: chunk_additive_scan(_regs), or chunk_delta_scan(_warp, _regs) for delta rules.
template <class Variant, class Config>
LINREC_DEV void chunk_state_scan(const FwdParams& p) {
  if constexpr (delta_scan_by_warps<Variant, Config>())
    chunk_delta_scan_warp<Variant, Config, delta_ws_neg_w<Variant, Config>(), sp_chunk_flags<Variant, Config>()>(p);
  else if constexpr (delta_scan_in_registers<Variant, Config>())
    chunk_delta_scan_regs<Variant, Config>(p);
  else if constexpr (Variant::kDelta)
    chunk_delta_scan<Variant, Config>(p);
  else if constexpr (additive_scan_in_registers<Variant, Config>())
    chunk_additive_scan_regs<Variant, Config>(p);
  else
    chunk_additive_scan<Variant, Config>(p);
}

/// The delta prep kernel's Config: Config with its right-hand-side slice width as BV.
template <class Variant, class Config>
struct DeltaPrepConfig : Config {
  static constexpr int BV = delta_prep_block_v(Variant::KF, Variant::V);
};

/// The output kernel's Config: output_block_v's value tile (grid y = ceil(V / it)).
template <class Variant, class Config>
struct OutputConfig : Config {
  static constexpr int BV =
      output_block_v(Variant::K, Variant::KF, Config::C, Config::BV, Variant::V, Config::Warps,
                     Variant::kDecay == DecayKind::Vector, Variant::kNormalize, Config::kDType == DType::FP32 ? 4 : 2);
};

/// Whether the delta prep, scan and output kernel hand chunks over through the workspace flags (layout.cuh
/// sp_chunk_flags_apply): the prep flags its chunk for the scan, the warp scan waits for that and flags its
/// 16-column groups for the output kernel, which waits for those; with FwdParams::epoch set the kernels may
/// then run side by side.
template <class Variant, class Config>
LINREC_HD constexpr bool sp_chunk_flags() {
  return sp_chunk_flags_apply(Config::kDType == DType::FP32 ? 4 : 2, Variant::kDelta, kRowOperand<Variant, true>,
                              kRowOperand<Variant, false>, Variant::kDecay == DecayKind::Vector, Variant::kNormalize,
                              Variant::K, Variant::KF, Variant::V, Config::C, Config::BV,
                              OutputConfig<Variant, Config>::BV, Config::Warps);
}

/// Whether chunk_delta_prep takes the WY kernel's body (wy.cuh; layout.cuh wy_prep_applies).
template <class Variant, class Config>
LINREC_HD constexpr bool delta_prep_in_wy() {
  return Variant::kDelta && wy_prep_applies(Config::kDType == DType::FP32 ? 4 : 2, kRowOperand<Variant, true>,
                                            kRowOperand<Variant, false>, Variant::kDecay == DecayKind::Vector,
                                            Variant::kNormalize, Variant::K, Variant::KF, Variant::V, Config::C,
                                            OutputConfig<Variant, Config>::BV, Config::Warps);
}

template <class Variant, class Config>
LINREC_DEV void chunk_delta_prep_phases(const FwdParams& p);

/// Delta-rule state passing, stage 0: for chunk blockIdx.y of its sequence, the gates and b (to ws.gates,
/// for the output kernel), W and U, plus k^ and Gamma_last for the scan. Grid (N * H, ceil(T / C)); shared
/// memory layout.cuh delta_prep_smem_bytes. The WY kernel's body where delta_prep_in_wy holds, else the
/// phase kernel's slice-by-slice solve.
template <class Variant, class Config>
LINREC_DEV void chunk_delta_prep(const FwdParams& p) {
  static_assert(Variant::kDelta, "chunk_delta_prep: delta rules only");
  // Side by side (FwdParams::epoch), the output kernel may be launched after the prep: it waits for the
  // scan's flags, not for the prep to end.
  if constexpr (sp_chunk_flags<Variant, Config>())
    if (p.epoch != 0) launch_dependents();
  if constexpr (delta_prep_in_wy<Variant, Config>())
    chunk_fwd_wy_body<Variant, Config, true, delta_ws_neg_w<Variant, Config>(), sp_chunk_flags<Variant, Config>()>(p);
  else
    chunk_delta_prep_phases<Variant, Config>(p);
}

/// chunk_delta_prep on the phase kernel: Akk, and the WY solve for W and U slice by slice
/// (DeltaPrepConfig's BV columns at a time, Akk formed once).
template <class Variant, class Config>
LINREC_DEV void chunk_delta_prep_phases(const FwdParams& p) {
  using X = Chunk<Variant, DeltaPrepConfig<Variant, Config>, ChunkKernel::Prep>;
  using E = typename X::E;
  X x(p);
  const int c = (int)blockIdx.y;
  const int t0 = c * X::C;
  if (t0 >= x.len) return;
  const long long slot =
      (first_chunk_index<X::C, X::NT>(p, x.n, reinterpret_cast<long long*>(x.misc())) + c) * p.H + x.h;
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  unsigned char* w = reinterpret_cast<unsigned char*>(p.ws);
  const int rows = x.rows_at(t0);
  x.load_chunk(t0, rows);  // k~, beta, g (no q, no v)
  block_sync();
  x.cumsum();
  block_sync();
  if constexpr (X::kHasDecay) x.store_gates(w + ws.gates + slot * ws.gate_chunk);
  x.scores();  // Akk
  block_sync();
  if constexpr (X::kVec) {
    x.scale_decay();  // G <- k^, Kt <- k~ Gamma
    block_sync();
  }
  x.store_prep_k(reinterpret_cast<E*>(w + ws.kh + slot * ws.wy_chunk),
                 reinterpret_cast<float*>(w + ws.gl + slot * ws.gl_chunk));
  constexpr int nw = ceil_div(X::KFP, X::BV), nu = ceil_div(X::V, X::BV);
#pragma unroll 1
  for (int s = 0; s < nw + nu; ++s) {
    x.prep_rhs(s, nw, t0, rows);
    block_sync();
    x.delta_solve();  // ends with a barrier
    if (s < nw) {
      const int c0 = s * X::BV;
      x.store_rhs(reinterpret_cast<E*>(w + ws.wy + slot * ws.wy_chunk) + c0, X::KFP,
                  X::KFP - c0 < X::BV ? X::KFP - c0 : X::BV);
    } else {
      const int c0 = (s - nw) * X::BV;
      x.store_rhs(reinterpret_cast<E*>(w + ws.vn + slot * ws.vn_chunk) + c0, ws.vn_ld,
                  (int)(ws.vn_ld - c0 < X::BV ? ws.vn_ld - c0 : X::BV));
    }
    block_sync();  // the next slice overwrites U
  }
  if constexpr (sp_chunk_flags<Variant, Config>()) prep_publish(p, ws, slot);
}

/// Delta rules on the register-state fused kernel, stage 0: for chunk blockIdx.y of its sequence, W =
/// (I + A)^-1 diag(beta) (k~ Gamma) and U = (I + A)^-1 diag(beta) v (wy.cuh) written to the workspace in token
/// rows (layout.cuh fused_wy_ws: W [B*T][H][K], U [B*T][H][V]), which chunk_fwd_fused_regs then streams like
/// k and v. Grid (N * H, ceil(T / C)); shared memory wy_layout(K, V, C, warps).total.
template <class Variant, class Config>
LINREC_DEV void chunk_fwd_wy(const FwdParams& p) {
  static_assert(Variant::kDelta, "chunk_fwd_wy: delta rules only");
  if constexpr (!fused_in_registers<Variant, Config>()) {
    __trap();  // codegen plans this stage only for the variants and configs fused_regs_applies accepts
  } else {
    chunk_fwd_wy_body<Variant, Config>(p);
  }
}

/// Delta-rule state passing, stage 1: per (sequence, head, V-tile), walks the chunks with all key rows of
/// the state on chip: stores S_c (as chunk_state_scan does), then v_new = U - W S_c (to ws.vn, over U) and
/// S_{c+1} = Gamma_last S_c + k^T v_new, with the next chunk's W, k^, U and Gamma_last landing (cp.async)
/// in the other buffer meanwhile. Grid (N * H, ceil(V / BV), 1).
template <class Variant, class Config>
LINREC_DEV void chunk_delta_scan(const FwdParams& p) {
  using X = Chunk<Variant, Config, ChunkKernel::Scan>;
  using E = typename X::E;
  X x(p);
  const long long c0 = first_chunk_index<X::C, X::NT>(p, x.n, reinterpret_cast<long long*>(x.misc()));
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  unsigned char* w = reinterpret_cast<unsigned char*>(p.ws);
  E* states = reinterpret_cast<E*>(w + ws.states);
  const long long sbase = ((long long)x.n * p.H + x.h) * X::KF * (long long)X::V;
  const int cols = X::V - x.v0 < X::BV ? X::V - x.v0 : X::BV;
  x.scan_init(0, p.h0, sbase, nullptr, 0);
  if (x.len > 0) x.load_delta_async(w, ws, c0 * p.H + x.h, 0);
  block_sync();
#pragma unroll 1
  for (int t0 = 0, c = 0; t0 < x.len; t0 += X::C, ++c) {
    const long long slot = (c0 + c) * p.H + x.h;
    x.buf = c & 1;
    x.scan_store(0, states + slot * X::KF * (long long)X::V, nullptr);
    cp_async_wait_all();
    block_sync();  // this chunk's tiles are visible; the other buffer's last readers are done
    if (t0 + X::C < x.len) x.load_delta_async(w, ws, slot + p.H, (c + 1) & 1);
    x.delta_vnew(reinterpret_cast<E*>(w + ws.vn + slot * ws.vn_chunk) + x.v0, ws.vn_ld, cols);
    block_sync();
    x.scan_update(0);
    block_sync();
  }
  x.scan_final(0, p.ht, sbase, nullptr, 0);
}

/// Whether chunk_output takes chunk_output_regs (output_regs.cuh; layout.cuh output_regs_applies).
template <class Variant, class Config>
LINREC_HD constexpr bool output_in_registers() {
  return output_regs_applies(Config::kDType == DType::FP32 ? 4 : 2, Variant::kDelta, kRowOperand<Variant, true>,
                             kRowOperand<Variant, false>, Variant::kDecay == DecayKind::Vector, Variant::kNormalize,
                             Variant::K, Variant::KF, Variant::V, Config::C, OutputConfig<Variant, Config>::BV,
                             Config::Warps);
}

template <class Variant, class Config>
LINREC_DEV void chunk_output_phases(const FwdParams& p);

/// State passing, stage 2: the outputs of chunk blockIdx.z of its sequence from the state entering it
/// (ws.states from stage 1), as the fused kernel computes them. Shared memory: layout.cuh output_smem_bytes.
template <class Variant, class Config>
LINREC_DEV void chunk_output(const FwdParams& p) {
  if constexpr (output_in_registers<Variant, Config>())
    chunk_output_regs<Variant, OutputConfig<Variant, Config>, sp_chunk_flags<Variant, Config>()>(p);
  else
    chunk_output_phases<Variant, Config>(p);
}

/// chunk_output on the phase kernel.
template <class Variant, class Config>
LINREC_DEV void chunk_output_phases(const FwdParams& p) {
  using X = Chunk<Variant, OutputConfig<Variant, Config>, ChunkKernel::Output>;
  X x(p);
  const int c = (int)blockIdx.z;
  const int t0 = c * X::C;
  if (t0 >= x.len) return;
  const long long gc = first_chunk_index<X::C, X::NT>(p, x.n, reinterpret_cast<long long*>(x.misc())) + c;
  const int rows = x.rows_at(t0);
  using E = typename X::E;
  const StatePassingWs ws = sp_ws<Variant, Config>(p);
  const long long slot = gc * p.H + x.h;
  const unsigned char* w = reinterpret_cast<const unsigned char*>(p.ws);
  if constexpr (X::kGatesWs) {  // lands while the tiles load; load_rest waits for it
    x.load_gates_async(w + ws.gates + slot * ws.gate_chunk, 0);
    cp_async_commit();
  }
  if constexpr (X::kDelta) {  // the values are v_new from the delta scan
    x.vn_src = reinterpret_cast<const E*>(w + ws.vn + slot * ws.vn_chunk);
    x.vn_ld = ws.vn_ld;
  }
  x.init_state_ws(reinterpret_cast<const E*>(w + ws.states) + slot * X::KF * (long long)X::V,
                  reinterpret_cast<const float*>(w + ws.zs) + slot * X::KF);
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
