// linrec/kernel/chunk_phases.cuh: the phases of one chunk (DESIGN.md §3), shared by fused and state passing.
//
// One CTA handles one (sequence n, head h, V-tile) and one chunk of C tokens at a time; rows of the chunk
// beyond the sequence end are zero (q~ = k~ = v = g = beta = 0), which makes them contribute nothing and
// leaves b_last = b at the last valid token. Every phase is done by the whole block and is separated from
// the next by a block barrier the caller issues (phases say what they read and write).
//
// Storage: q~, k~, the values (U [C][BV]) and the score matrices are kept in the input type
// for bf16/fp16 (exactly what the tensor cores consume: fragments are single 32-bit loads) and in fp32 for
// fp32 inputs; the state S and the decay cumsums are always fp32 (scalar cumsums fp64 for fp32 inputs).
//
// Numerics: decays stay in log space; exp(b_i - b_j) is only ever evaluated for j <= i (so it is
// <= 1 when g <= 0). Vector decays never form exp(b_i)/exp(b_j): diagonal 16x16 blocks of the score
// matrices use per-dimension exponent differences, off-diagonal blocks factor through the first row r of
// the row block (q_i e^{b_i - b_r}) . (k_j e^{b_r - b_j}), both factors <= 1.
#pragma once

#include "linrec/kernel/feature_map.cuh"
#include "linrec/kernel/layout.cuh"
#include "linrec/kernel/mma.cuh"
#include "linrec/kernel/tile.cuh"

namespace linrec {
namespace kern {

/// Checks a Config against the kernels' constraints.
template <class Config>
struct ConfigTraits {
  static constexpr int C = Config::C, BV = Config::BV, W = Config::Warps;
  static_assert(C == 16 || C == 32 || C == 64 || C == 128, "Config::C must be 16, 32, 64 or 128");
  static_assert(BV == 16 || BV == 32 || BV == 64 || BV == 128, "Config::BV must be 16, 32, 64 or 128");
  static_assert(W == 2 || W == 4 || W == 8, "Config::Warps must be 2, 4 or 8");
  static_assert(Config::BK % 16 == 0 && Config::BK > 0, "Config::BK must be a positive multiple of 16");
  static_assert(Config::Stages >= 1, "Config::Stages must be >= 1");
};

/// Where sequence n lives: first flat token index and length.
struct SeqRange {
  long long bos;
  int len;
};

LINREC_DEV SeqRange sequence_range(const FwdParams& p, int n) {
  if (p.cu_seqlens != nullptr) {
    const long long b = p.cu_seqlens[n];
    return {b, (int)(p.cu_seqlens[n + 1] - b)};
  }
  return {(long long)n * p.T, p.T};
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

/// The state-passing workspace layout for this Variant and Config.
template <class Variant, class Config>
LINREC_DEV StatePassingWs sp_ws(const FwdParams& p) {
  return state_passing_ws(p.num_chunks_total, p.H, Variant::KF, Variant::V, Variant::kNormalize,
                          Config::kDType == DType::FP32 ? 4 : 2, Config::C, Variant::kDecay != DecayKind::None,
                          Variant::kDecay == DecayKind::Vector, Variant::kDelta);
}

/// The delta prep's part of the hand-over (layout.cuh sp_chunk_flags_apply, with FwdParams::epoch): once
/// every thread has issued its stores of chunk slot `slot`, flags the slot for the scan. Every thread of the
/// block calls it. Only where the scan went first (prep_runs_beside): otherwise the stream orders the scan
/// after this whole grid, and the barrier and fence would only hold each block back from its exit.
LINREC_DEV void prep_publish(const FwdParams& p, const StatePassingWs& ws, long long slot) {
  if (!prep_runs_beside(p)) return;
  block_sync();
  if (threadIdx.x == 0) {
    fence_acq_rel();
    flag_store(reinterpret_cast<unsigned long long*>(reinterpret_cast<unsigned char*>(p.ws) + ws.prep_flags) + slot,
               p.epoch);
  }
}

/// The block-wide state of one chunk kernel and its phases. Kind selects which regions exist.
template <class Variant, class Config, ChunkKernel Kind>
struct Chunk {
  using VT = VariantTraits<Variant>;
  using CT = ConfigTraits<Config>;
  static constexpr int K = VT::K, V = VT::V, KF = VT::KF, R = VT::R;
  static constexpr int C = CT::C, BV = CT::BV, W = CT::W, NT = W * 32, NB = C / 16;
  static constexpr DType D = Config::kDType;
  static constexpr bool kVec = VT::kVec, kHasDecay = VT::kHasDecay;
  static constexpr bool kDelta = Variant::kDelta, kNorm = Variant::kNormalize;
  static constexpr bool kScan = Kind == ChunkKernel::Scan;
  static constexpr bool kPrep = Kind == ChunkKernel::Prep;
  /// Which kernels hold q (the fused and output kernels: the only ones computing outputs).
  static constexpr bool kHasQ = Kind == ChunkKernel::Fused || Kind == ChunkKernel::Output;
  /// Which kernels form Akk and solve (I + Akk) U = X: the fused kernel and the delta prep kernel.
  static constexpr bool kAkk = kDelta && (Kind == ChunkKernel::Fused || kPrep);
  /// Delta-rule state scan: W, k^ and U come ready-made from the prep kernel (v_new = U - W S per chunk).
  static constexpr bool kDeltaScan = kDelta && kScan;
  /// State passing: the scan and output kernels load b from the gate pre-pass (chunk_gates) instead of
  /// evaluating the decay expressions, which were the scan's longest stall (global loads that could not be
  /// issued ahead of the chunk).
  static constexpr bool kGatesWs =
      ((Kind == ChunkKernel::Scan && !Variant::kDelta) || Kind == ChunkKernel::Output) && VT::kHasDecay;
  /// Element of the operand tiles (Q, Kt, U, Aqk, Akk): the input type, or float for fp32 inputs.
  using E = typename Storage<D>::type;
  static constexpr ChunkLayout L = chunk_layout(Kind, K, KF, C, BV, W, kVec, kDelta, kNorm, (int)sizeof(E), Config::BK,
                                                Config::Stages);
  static constexpr int KFP = L.kfp, LDK = L.ld_kf, LDU = L.ld_u, LDC = L.ld_c, LDS = L.ld_s, LDG = L.ld_g;
  static constexpr int LDSB = L.ld_sb;
  /// State scan: rows of the key slice a block owns (its S holds just those rows).
  static constexpr int SR = L.sb_rows;
  /// Key columns whose vector decay a block evaluates: all of K'p, or the state scan's window [g0, g0 + GW)
  /// (the scan sets g0; nothing reads the decay outside its window there).
  static constexpr int GW = kScan ? SR : KFP;
  /// 16-bit inputs keep a copy of the state in the input type (Sb) for the products that read it.
  static constexpr bool kSb =
      D != DType::FP32 && (Kind == ChunkKernel::Fused || Kind == ChunkKernel::Output || kDeltaScan);
  /// Scalar-decay cumsums: fp64 for fp32 inputs. exp(b_i - b_j) is then exact to fp32 rounding of the
  /// difference even when |b| is large (strong decays, long chunks): a fp32 cumsum of -300 has an ulp of
  /// 3e-5, which would cap the fp32 path's accuracy there. Vector decays keep fp32 (smem) cumsums.
  using Cum = typename Select<D == DType::FP32, double, float>::type;

  const FwdParams& p;
  unsigned char* const sm;
  int n, h, v0;
  int g0 = 0;
  /// State scan: which of the two Kt/U buffers holds the current chunk (always 0 elsewhere).
  int buf = 0;
  long long bos;
  int len;
  /// Delta-rule output kernel: this chunk's v_new in the workspace ([C][vn_ld], input type).
  const E* vn_src = nullptr;
  long long vn_ld = 0;

  LINREC_DEV explicit Chunk(const FwdParams& params) : p(params), sm(reinterpret_cast<unsigned char*>(dynamic_smem())) {
    const int nh = (int)blockIdx.x;
    n = nh / p.H;
    h = nh - n * p.H;
    v0 = (int)blockIdx.y * BV;
    const SeqRange s = sequence_range(p, n);
    bos = s.bos;
    len = s.len;
  }

  /// Valid rows of the chunk starting at token t0 of this sequence (C but for the last chunk).
  LINREC_DEV int rows_at(int t0) const { return len - t0 < C ? len - t0 : C; }

  // ---- shared-memory regions (layout.cuh)
  LINREC_DEV float* S() const { return reinterpret_cast<float*>(sm + L.S); }
  LINREC_DEV E* Sb() const { return reinterpret_cast<E*>(sm + L.Sb); }
  LINREC_DEV E* Q() const { return reinterpret_cast<E*>(sm + L.Q); }
  LINREC_DEV E* Kt() const { return reinterpret_cast<E*>(sm + (kScan && buf ? L.Kt2 : L.Kt)); }
  LINREC_DEV float* G() const { return reinterpret_cast<float*>(sm + (kScan && buf ? L.G2 : L.G)); }
  LINREC_DEV E* U() const { return reinterpret_cast<E*>(sm + (kScan && buf ? L.U2 : L.U)); }
  LINREC_DEV E* Aqk() const { return reinterpret_cast<E*>(sm + L.Aqk); }
  LINREC_DEV E* Akk() const { return reinterpret_cast<E*>(sm + L.Akk); }
  LINREC_DEV Cum* bcum() const { return reinterpret_cast<Cum*>(sm + (kScan && buf ? L.b2 : L.b)); }
  LINREC_DEV float* gq() const { return reinterpret_cast<float*>(sm + L.gq); }
  LINREC_DEV float* gl() const { return reinterpret_cast<float*>(sm + L.gl); }
  LINREC_DEV float* beta() const { return reinterpret_cast<float*>(sm + L.beta); }
  LINREC_DEV float* blast() const { return reinterpret_cast<float*>(sm + L.blast); }
  LINREC_DEV float* glast() const { return reinterpret_cast<float*>(sm + (kDeltaScan && buf ? L.glast2 : L.glast)); }
  LINREC_DEV E* Wd() const { return reinterpret_cast<E*>(sm + (buf ? L.Wd2 : L.Wd)); }
  LINREC_DEV float* den() const { return reinterpret_cast<float*>(sm + L.den); }
  LINREC_DEV float* z() const { return reinterpret_cast<float*>(sm + L.z); }
  LINREC_DEV float* misc() const { return reinterpret_cast<float*>(sm + L.misc); }

  LINREC_DEV static float f(E x) { return to_float<D>(x); }
  LINREC_DEV static E e(float x) { return from_float<D>(x); }

  // ---- decayed operands. After scale_decay: Q holds q~ Gamma (any decay); vector decays also hold
  // k~ Gamma in Kt (delta) and k~ exp(b_last - b) in G; scalar decays keep k~ in Kt and apply their row
  // factors to products (delta_rhs) or to U (prepare_update).
  LINREC_DEV float kl(int i, int d) const {
    if constexpr (kVec) return G()[i * LDG + d];
    const float x = f(Kt()[i * LDK + d]);
    if constexpr (kHasDecay) return x * gl()[i];
    return x;
  }
  /// log Gamma_last for key dim d (0 without decay).
  LINREC_DEV float log_gamma_last(int d) const {
    if constexpr (kVec) return blast()[d];
    if constexpr (kHasDecay) return blast()[0];
    return 0.0f;
  }
  /// Gamma_last for key dim d (1 without decay); cumsum() computes it once per chunk.
  LINREC_DEV float gamma_last(int d) const {
    if constexpr (kVec) return glast()[d];
    if constexpr (kHasDecay) return glast()[0];
    return 1.0f;
  }
  /// The view of q~ Gamma (rows m0...) as an A operand, and of the state as a B operand.
  LINREC_DEV RowsView<D> q_view(int m0) const { return RowsView<D>{Q() + m0 * LDK, LDK}; }
  LINREC_DEV auto s_view(int n0) const {
    if constexpr (kSb) {
      return ColsView<D>{Sb() + n0 * LDSB, LDSB};
    } else {
      const float* Sm = S() + n0;
      return fn_b<D>([=](int k, int nn) { return Sm[k * LDS + nn]; });
    }
  }
  /// The state update's A operand, element (d, i) = k~_i,d exp(b_last - b_i), from column m0: after
  /// prepare_update() it is k~ itself (no decay, and scalar decays, whose row factors went into U) or the
  /// copy of G in the Q region (vector decays), read transposed from [token][dim].
  LINREC_DEV TransRowsView<D> kl_view(int m0) const {
    if constexpr (kVec && !kScan) return TransRowsView<D>{Q() + m0, LDK};
    return TransRowsView<D>{Kt() + m0, LDK};
  }
  /// U as a B operand (element (j, c) = U[j][c]), columns from n0.
  LINREC_DEV RowsBView<D> u_view(int n0) const { return RowsBView<D>{U() + n0, LDU}; }

  // ---- phases

  /// S (and z) <- the initial state for this (n, h, V-tile); rows beyond K' and columns beyond V are 0.
  /// `base` is the offset of this (n, h)'s state, `row` its row stride.
  LINREC_DEV void init_state(const float* src, long long base, int row, const float* zsrc, long long zbase) {
    for (int e2 = (int)threadIdx.x; e2 < KFP * BV; e2 += NT) {
      const int d = e2 / BV, c = e2 - d * BV;
      float x = 0.0f;
      if (src != nullptr && d < KF && v0 + c < V) x = src[base + (long long)d * row + v0 + c];
      S()[d * LDS + c] = x;
      if constexpr (kSb) Sb()[c * LDSB + d] = e(x);
    }
    if constexpr (kNorm && !kScan) {
      for (int d = (int)threadIdx.x; d < KFP; d += NT) z()[d] = (zsrc != nullptr && d < KF) ? zsrc[zbase + d] : 0.0f;
    }
  }

  /// Writes S (rows < K', columns < V) to dst and, from V-tile 0, z to zdst.
  LINREC_DEV void store_state(float* dst, long long base, int row, float* zdst, long long zbase) const {
    if (dst != nullptr) {
      for (int e2 = (int)threadIdx.x; e2 < KF * BV; e2 += NT) {
        const int d = e2 / BV, c = e2 - d * BV;
        if (v0 + c < V) dst[base + (long long)d * row + v0 + c] = S()[d * LDS + c];
      }
    }
    if constexpr (kNorm && !kScan) {
      if (zdst != nullptr && blockIdx.y == 0)
        for (int d = (int)threadIdx.x; d < KF; d += NT) zdst[zbase + d] = z()[d];
    }
  }

  /// Output kernel: the state entering the chunk from the scan's workspace slot `src` ([V][K'], input type:
  /// rows of Sb, loaded as 16-byte vectors when K' allows), into Sb (16-bit) or S (fp32, transposed on the
  /// way), and z from zsrc ([K'] fp32) for normalizers. Columns of Sb beyond K' are zeroed.
  LINREC_DEV void init_state_ws(const E* src, const float* zsrc) {
    static_assert(Kind == ChunkKernel::Output, "init_state_ws: output kernel only");
    constexpr bool kV16 = KF % kVecElems<D> == 0;
    const int cols = V - v0 < BV ? V - v0 : BV;
    if constexpr (kSb)
      load_tile<D, BV, KFP, NT, kV16, false>(src, (long long)v0 * KF, KF, cols, KF, Sb(), LDSB);
    else
      load_tile<D, BV, KFP, NT, kV16, true>(src, (long long)v0 * KF, KF, cols, KF, S(), LDS);
    if constexpr (kNorm)
      for (int d = (int)threadIdx.x; d < KFP; d += NT) z()[d] = d < KF ? zsrc[d] : 0.0f;
  }

  /// State scan: the first key row of this block's window. Slices start at blockIdx.z * BK; the last one is
  /// moved back to end at K'p so the window never reads past the operand tiles (it then overlaps its
  /// neighbour, whose rows it computes identically but does not write).
  LINREC_DEV static int scan_window() {
    if constexpr (kDelta) return 0;  // the delta scan owns every key row
    const int s = (int)blockIdx.z * Config::BK;
    return s + SR <= KFP ? s : KFP - SR;
  }
  /// The rows this block writes: [blockIdx.z * BK, min(+BK, K')).
  LINREC_DEV static int scan_rows_begin() { return kDelta ? 0 : (int)blockIdx.z * Config::BK; }
  LINREC_DEV static int scan_rows_end() {
    if constexpr (kDelta) return KF;
    const int e2 = ((int)blockIdx.z + 1) * Config::BK;
    return e2 < KF ? e2 : KF;
  }

  /// State scan: S (window rows w0...) and z from h0/z0 (zeros when absent).
  LINREC_DEV void scan_init(int w0, const float* src, long long base, const float* zsrc, long long zbase) {
    static_assert(kScan, "scan_init: state scan only");
    for (int e2 = (int)threadIdx.x; e2 < SR * BV; e2 += NT) {
      const int r = e2 / BV, c = e2 - r * BV, d = w0 + r;
      const float x = (src != nullptr && d < KF && v0 + c < V) ? src[base + (long long)d * V + v0 + c] : 0.0f;
      S()[r * LDS + c] = x;
      if constexpr (kSb) Sb()[c * LDSB + d] = e(x);
    }
    if constexpr (kNorm)
      for (int r = (int)threadIdx.x; r < SR; r += NT) {
        const int d = w0 + r;
        z()[r] = (zsrc != nullptr && d < KF) ? zsrc[zbase + d] : 0.0f;
      }
  }

  /// State scan: this block's rows of S, rounded to the input type, to dst ([V][K']: the output kernel reads
  /// Sb rows straight from it) and (V-tile 0) z to zdst. Consecutive threads take consecutive row pairs of
  /// one column, so each warp writes one contiguous run of 4-byte words.
  LINREC_DEV void scan_store(int w0, E* dst, float* zdst) const {
    const int r0 = scan_rows_begin(), r1 = scan_rows_end();
    const int HR = (r1 - r0 + 1) / 2;
    for (int e2 = (int)threadIdx.x; e2 < HR * BV; e2 += NT) {
      const int c = e2 / HR, d = r0 + 2 * (e2 - c * HR);
      if (v0 + c >= V) continue;
      const float* s = S() + (d - w0) * LDS + c;
      const long long i = (long long)(v0 + c) * KF + d;
      if (d + 1 < r1 && (i & 1) == 0) {
        store_pair<D>(dst, i, s[0], s[LDS]);
      } else {
        dst[i] = e(s[0]);
        if (d + 1 < r1) dst[i + 1] = e(s[LDS]);
      }
    }
    if constexpr (kNorm)
      if (zdst != nullptr && blockIdx.y == 0)
        for (int d = r0 + (int)threadIdx.x; d < r1; d += NT) zdst[d] = z()[d - w0];
  }

  /// State scan: writes this block's rows of S to ht and (V-tile 0) of z to zt, when given.
  LINREC_DEV void scan_final(int w0, float* dst, long long base, float* zdst, long long zbase) const {
    const int r0 = scan_rows_begin(), r1 = scan_rows_end();
    if (dst != nullptr)
      for (int e2 = (int)threadIdx.x; e2 < (r1 - r0) * BV; e2 += NT) {
        const int d = r0 + e2 / BV, c = e2 % BV;
        if (v0 + c < V) dst[base + (long long)d * V + v0 + c] = S()[(d - w0) * LDS + c];
      }
    if constexpr (kNorm)
      if (zdst != nullptr && blockIdx.y == 0)
        for (int d = r0 + (int)threadIdx.x; d < r1; d += NT) zdst[zbase + d] = z()[d - w0];
  }

  /// State scan: S <- Gamma_last S + (k~ exp(b_last - b))^T U for the window's rows, and z likewise.
  LINREC_DEV void scan_update(int w0) {
    constexpr TileShape ts = pick_tile(SR, BV, W);
    for_each_warp_tile<SR, BV, ts.MT, ts.NT, W>([&](int m0, int n0) {
      WarpAcc<ts.MT, ts.NT> acc;
      acc.zero();
      state_increment(acc, w0 + m0, n0);
      acc.for_each([&](int m, int nn, float& v) {
        float* s = S() + (m0 + m) * LDS + n0 + nn;
        const float x = kHasDecay ? gamma_last(w0 + m0 + m) * *s + v : *s + v;
        *s = x;
        if constexpr (kSb) Sb()[(n0 + nn) * LDSB + w0 + m0 + m] = e(x);
      });
    });
    if constexpr (kNorm) {
      for (int r = (int)threadIdx.x; r < SR; r += NT) {
        float s = 0.0f;
        for (int j = 0; j < C; ++j) s += kl(j, w0 + r);
        z()[r] = gamma_last(w0 + r) * z()[r] + s;
      }
    }
  }

  /// The TokenCtx of chunk row i (raw q/k rows in Q/Kt until load_chunk's last step replaces them).
  LINREC_DEV TokenCtx token(int t0, int i) const {
    return TokenCtx{Q() + i * LDK, Kt() + i * LDK, p.inputs, p.params, bos + t0 + i, h, p.H, K, D};
  }

  /// Reads the chunk's tokens [t0, t0 + rows) (rows <= C) in two barrier-separated steps, the caller
  /// issuing the barrier after the last:
  ///   1. raw q, k into Q, Kt (columns [0, K)) and this V-tile of v into U: 16-byte coalesced loads,
  ///      many in flight per thread; rows beyond the chunk are 0. Then beta and the decay g (b or G) from
  ///      the generated expressions, one token (or element) per thread: gates never read q or k (the
  ///      dialect's verifier keeps qk_elem out of them), so no barrier separates the two;
  ///   2. per token (one warp): q_pre/k_pre and the feature maps, in place over the raw rows; and the
  ///      values scaled by beta for additive rules.
  /// The state scan reads neither q nor q~.
  LINREC_DEV void load_chunk(int t0, int rows) {
    constexpr int VE = kVecElems<D>;
    const long long qk0 = ((bos + t0) * p.H + h) * K;
    if constexpr (kHasQ) load_tile<D, C, K, NT, K % VE == 0, false>(p.q, qk0, (long long)p.H * K, rows, K, Q(), LDK);
    load_tile<D, C, K, NT, K % VE == 0, false>(p.k, qk0, (long long)p.H * K, rows, K, Kt(), LDK);
    if constexpr (kDelta && Kind == ChunkKernel::Output) {
      // v_new from the delta scan ([C][Vp], 16-byte rows, zero past V).
      load_tile<D, C, BV, NT, true, false>(vn_src, v0, vn_ld, rows, vn_ld - v0 < BV ? (int)(vn_ld - v0) : BV, U(), LDU);
    } else if constexpr (!kPrep) {
      load_tile<D, C, BV, NT, V % VE == 0, false>(p.v, ((bos + t0) * p.H + h) * V + v0, (long long)p.H * V, rows,
                                                  V - v0 < BV ? V - v0 : BV, U(), LDU);
    }
    load_rest(t0, rows);
  }

  /// State scan: whether load_raw_async can use 16-byte copies (else the scan loads synchronously).
  static constexpr bool kAsyncRaw = K % kVecElems<D> == 0 && V % kVecElems<D> == 0;
  /// State scan: starts the raw k and v tiles of the chunk at t0 into buffer b with cp.async (commits the
  /// group); the caller waits, synchronises, then calls load_rest with buf = b.
  LINREC_DEV void load_raw_async(int t0, int rows, int b) {
    static_assert(kScan && kAsyncRaw, "load_raw_async: state scan with 16-byte rows only");
    const long long qk0 = ((bos + t0) * p.H + h) * K;
    E* kt = reinterpret_cast<E*>(sm + (b ? L.Kt2 : L.Kt));
    E* u = reinterpret_cast<E*>(sm + (b ? L.U2 : L.U));
    load_tile_async<D, C, K, NT>(p.k, qk0, (long long)p.H * K, rows, K, kt, LDK);
    load_tile_async<D, C, BV, NT>(p.v, ((bos + t0) * p.H + h) * V + v0, (long long)p.H * V, rows,
                                  V - v0 < BV ? V - v0 : BV, u, LDU);
    cp_async_commit();
  }

  /// Starts copying one chunk's b from the gate pre-pass (`src`: its workspace slot) into buffer bsel of
  /// G (vector: the columns [g0, g0 + GW)) or b (scalar) with cp.async; the caller commits and waits.
  LINREC_DEV void load_gates_async(const unsigned char* src, int bsel) {
    static_assert(kGatesWs, "load_gates_async: state passing with a decay only");
    if constexpr (kVec) {
      float* g = reinterpret_cast<float*>(sm + (kScan && bsel ? L.G2 : L.G));
      const float* s = reinterpret_cast<const float*>(src);
      constexpr int PR = GW / 4, TOTAL = C * PR;
      for (int e2 = (int)threadIdx.x; e2 < TOTAL; e2 += NT) {
        const int i = e2 / PR, c = g0 + (e2 - i * PR) * 4;
        cp_async16(g + i * LDG + c, s + i * KFP + c, true);
      }
    } else {
      unsigned char* b = sm + (kScan && bsel ? L.b2 : L.b);
      constexpr int N16 = C * (int)sizeof(Cum) / 16;
      for (int e2 = (int)threadIdx.x; e2 < N16; e2 += NT) cp_async16(b + 16 * e2, src + 16 * e2, true);
    }
  }

  /// Gate pre-pass: writes this chunk's b (after eval_gates and cumsum) to its workspace slot `dst`.
  LINREC_DEV void store_gates(unsigned char* dst) const {
    if constexpr (kVec) {
      float* d = reinterpret_cast<float*>(dst);
      constexpr int PR = KFP / 4, TOTAL = C * PR;
      for (int e2 = (int)threadIdx.x; e2 < TOTAL; e2 += NT) {
        const int i = e2 / PR, c = (e2 - i * PR) * 4;
        *reinterpret_cast<float4*>(d + i * KFP + c) = *reinterpret_cast<const float4*>(G() + i * LDG + c);
      }
    } else {
      Cum* d = reinterpret_cast<Cum*>(dst);
      for (int i = (int)threadIdx.x; i < C; i += NT) d[i] = bcum()[i];
    }
  }

  /// load_chunk after the raw tiles: the gates, then (after a barrier) the feature maps and beta.
  LINREC_DEV void load_rest(int t0, int rows) {
    eval_gates(t0, rows);
    // The output kernel's b copies (load_gates_async, before load_chunk) must have landed; the scan
    // waits itself, before its next chunk's copies are issued.
    if constexpr (kGatesWs && !kScan) cp_async_wait_all();
    block_sync();
    map_rows(t0, rows);
  }

  /// beta, and (unless kGatesWs) the decay g into b / G, from the generated expressions.
  LINREC_DEV void eval_gates(int t0, int rows) {
    for (int i = (int)threadIdx.x; i < C; i += NT) {
      float bt = 0.0f;
      Cum g = 0;
      if (i < rows) {
        const TokenCtx c = token(t0, i);
        bt = 1.0f;
        if constexpr (Variant::kHasBeta) bt = Variant::beta(c);
        if constexpr (kHasDecay && !kVec && !kGatesWs) g = Variant::decay(c, 0);
      }
      beta()[i] = bt;
      if constexpr (!kGatesWs) bcum()[i] = g;
    }
    if constexpr (kVec && !kGatesWs) {
      // Every element's loads in flight at once where the registers allow (one global round trip per
      // chunk instead of one per 8 elements per thread): the chunk loop is latency bound. Elements outside
      // the chunk evaluate element (0, 0) and are dropped after: with no branch around the generated
      // expression, the compiler issues all BATCH loads before the first result is needed (a guarded call
      // kept each load behind the previous element's math: ncu put 2/3 of the gate pre-pass's stalls there).
      // Batches of 8, not 16: at 16 the hoisted values took kda's prep kernel from 116 to 136 registers
      // (ptxas, C=64 W=8), one 8-warp block per SM instead of two.
      constexpr int TOTAL = C * GW, PER = ceil_div(TOTAL, NT), BATCH = PER < 8 ? PER : 8;
#pragma unroll 1
      for (int base = 0; base < TOTAL; base += NT * BATCH) {
        float g[BATCH];
#pragma unroll
        for (int b = 0; b < BATCH; ++b) {
          const int e2 = base + b * NT + (int)threadIdx.x, i = e2 / GW, d = g0 + e2 - i * GW;
          const bool ok = e2 < TOTAL && i < rows && d < KF;
          const float x = Variant::decay(token(t0, ok ? i : 0), ok ? d : 0);
          g[b] = ok ? x : 0.0f;
        }
#pragma unroll
        for (int b = 0; b < BATCH; ++b) {
          const int e2 = base + b * NT + (int)threadIdx.x, i = e2 / GW, d = g0 + e2 - i * GW;
          if (e2 < TOTAL) G()[i * LDG + d] = g[b];
        }
      }
    }
  }

  /// The feature maps (in place over the raw rows) and, for additive rules, the values times beta.
  LINREC_DEV void map_rows(int t0, int rows) {
    const int lane = lane_id();
    // Which rows the pass must write: q~ (not in the scan, and not when it is the raw q) and k~.
    constexpr bool kMapQ = kHasQ && !kRawOperand<Variant, true>, kMapK = !kRawOperand<Variant, false>;
    if constexpr (kMapQ || kMapK) {
      for (int i = warp_id(); i < C; i += W) {
        E* qrow = Q() + i * LDK;
        E* krow = Kt() + i * LDK;
        if (i < rows) {
          float xq[R], xk[R];
          if constexpr (kContigRows<Variant>) {
            eval_pre_contig<Variant, R>(token(t0, i), xq, xk);
            warp_sync();  // every lane has read the raw rows before they are overwritten
            if constexpr (kMapQ) feature_map_row_contig<Variant::kQMap, R, D>(xq, qrow);
            if constexpr (kMapK) feature_map_row_contig<Variant::kKMap, R, D>(xk, krow);
          } else {
            eval_pre<Variant, R>(token(t0, i), xq, xk);
            warp_sync();
            if constexpr (kMapQ) feature_map_row<Variant::kQMap, K, KF, KFP, R, D>(xq, qrow);
            if constexpr (kMapK) feature_map_row<Variant::kKMap, K, KF, KFP, R, D>(xk, krow);
          }
        } else {
          for (int d = lane; d < KFP; d += 32) {
            if constexpr (kMapQ) qrow[d] = e(0.0f);
            if constexpr (kMapK) krow[d] = e(0.0f);
          }
        }
      }
    }
    if constexpr (!kDelta && Variant::kHasBeta) {
      map_tile<D, C, BV, NT>(U(), LDU, [&](int i, int, float(&x)[kVecElems<D>]) {
        const float b = beta()[i];
#pragma unroll
        for (int j = 0; j < kVecElems<D>; ++j) x[j] *= b;
      });
    }
  }

  /// In-chunk cumulative sum of g (sequential order per column, as the recurrence adds them), b_last, and
  /// for scalar decays the row factors exp(b_i) and exp(b_last - b_i).
  LINREC_DEV void cumsum() {
    if constexpr (kVec && kGatesWs) {
      // b came cumsummed from the pre-pass: only b_last and Gamma_last remain.
      for (int d = g0 + (int)threadIdx.x; d < g0 + GW; d += NT) {
        const float last = G()[(C - 1) * LDG + d];
        blast()[d] = last;
        glast()[d] = kexp<D>(last);
      }
    } else if constexpr (kVec) {
      // TPC consecutive lanes share a column, each summing RPS consecutive rows; a shuffle scan over the
      // segment totals then offsets them (one thread per column walked all C rows serially before: the
      // longest dependent chain of the chunk for vector decays).
      constexpr int PER = NT / GW > 0 ? NT / GW : 1;
      constexpr int TPC = PER >= 32 ? 32 : PER >= 16 ? 16 : PER >= 8 ? 8 : PER >= 4 ? 4 : PER >= 2 ? 2 : 1;
      constexpr int TPCC = TPC < C ? TPC : C, RPS = C / TPCC, COLS_PER_PASS = NT / TPCC;
      const int seg = (int)threadIdx.x % TPCC;
#pragma unroll 1
      for (int c0 = 0; c0 < GW; c0 += COLS_PER_PASS) {
        const int col = c0 + (int)threadIdx.x / TPCC;
        const bool ok = col < GW;
        const int d = g0 + col;
        float v[RPS], s = 0.0f;
#pragma unroll
        for (int j = 0; j < RPS; ++j) {
          s += ok ? G()[(seg * RPS + j) * LDG + d] : 0.0f;
          v[j] = s;
        }
        float incl = s;
#pragma unroll
        for (int off = 1; off < TPCC; off <<= 1) {
          const float o = __shfl_up_sync(kFullMask, incl, off);
          if (seg >= off) incl += o;
        }
        const float before = incl - s;
        if (ok) {
#pragma unroll
          for (int j = 0; j < RPS; ++j) G()[(seg * RPS + j) * LDG + d] = before + v[j];
          if (seg == TPCC - 1) {
            blast()[d] = incl;
            glast()[d] = kexp<D>(incl);
          }
        }
      }
    } else if constexpr (kHasDecay) {
      if (warp_id() == 0) {
        constexpr int EPL = C < 32 ? 1 : C / 32;  // consecutive entries per lane
        const int lane = lane_id();
        if constexpr (!kGatesWs) {  // else b came cumsummed from the pre-pass
          Cum v[EPL], s = 0;
#pragma unroll
          for (int j = 0; j < EPL; ++j) {
            const int i = lane * EPL + j;
            s += i < C ? bcum()[i] : Cum(0);
            v[j] = s;
          }
          const Cum before = warp_inclusive_scan(s) - s;
#pragma unroll
          for (int j = 0; j < EPL; ++j) {
            const int i = lane * EPL + j;
            if (i < C) bcum()[i] = before + v[j];
          }
          warp_sync();
        }
        const Cum last = bcum()[C - 1];
        for (int i = lane; i < C; i += 32) {
          const Cum bi = bcum()[i];
          gq()[i] = kexp<D>((float)bi);
          gl()[i] = kexp<D>((float)(last - bi));
        }
        if (lane == 0) {
          blast()[0] = (float)last;
          glast()[0] = kexp<D>((float)last);
        }
      }
    }
  }

  /// Per-dimension scores of a diagonal 16x16 block under vector decay (exact fp32, one warp):
  /// Aqk[i][j] = sum_d q_id k_jd e^{b_id - b_jd} (j <= i), Akk[i][j] = beta_i sum_d k_id k_jd e^{...} (j < i).
  LINREC_DEV void diag_scores_vector(int I) {
    const int lane = lane_id(), r0 = 16 * I;
    // 136 lower-triangle entries, enumerated row by row so lanes stay busy.
    for (int t = lane; t < 136; t += 32) {
      int m = (int)((sqrtf(8.0f * t + 1.0f) - 1.0f) * 0.5f);
      if ((m + 1) * (m + 2) / 2 <= t) ++m;
      if (m * (m + 1) / 2 > t) --m;
      const int jn = t - m * (m + 1) / 2;
      const int i = r0 + m, j = r0 + jn;
      const float* gi = G() + i * LDG;
      const float* gj = G() + j * LDG;
      const E* qi = Q() + i * LDK;
      const E* ki = Kt() + i * LDK;
      const E* kj = Kt() + j * LDK;
      float sq = 0.0f, sk = 0.0f;
      for (int d = 0; d < KF; ++d) {
        const float x = f(kj[d]) * kexp<D>(gi[d] - gj[d]);
        if constexpr (kHasQ) sq = fmaf(f(qi[d]), x, sq);
        if constexpr (kAkk) sk = fmaf(f(ki[d]), x, sk);
      }
      if constexpr (kHasQ) Aqk()[i * LDC + j] = e(sq);
      if constexpr (kAkk) Akk()[i * LDC + j] = e(jn < m ? beta()[i] * sk : 0.0f);
    }
    for (int t = lane; t < 256; t += 32) {
      const int m = t >> 4, jn = t & 15;
      if (jn > m) {
        if constexpr (kHasQ) Aqk()[(r0 + m) * LDC + r0 + jn] = e(0.0f);
        if constexpr (kAkk) Akk()[(r0 + m) * LDC + r0 + jn] = e(0.0f);
      }
    }
  }

  /// Largest exponent a diagonal block may factor through its middle row: the factor e^{b_m - b_j} <= e^range
  /// is rounded into the operand type, so bf16 (fp32's range) takes e^40 ~ 2e17 and fp16 (max 65504) e^8.
  static constexpr float kDiagRange = D == DType::FP16 ? 8.0f : 40.0f;
  /// max |b(i, d) - b(r + 8, d)| over the 16 rows of the block at r and all dims (one warp, warp-uniform).
  LINREC_DEV float diag_range(int r) const {
    const int lane = lane_id();
    float mx = 0.0f;
    for (int t = lane; t < 16 * KFP; t += 32) {
      const int m = t / KFP, d = t - m * KFP;
      mx = fmaxf(mx, fabsf(G()[(r + m) * LDG + d] - G()[(r + 8) * LDG + d]));
    }
    return warp_max(mx);
  }

  /// Scores Aqk (lower incl. diagonal, decay applied) and, for delta rules, Akk (strictly lower, times
  /// beta_i): one warp per 16x16 block; blocks above the diagonal are zeroed. Reads Q, Kt, G/b, beta.
  LINREC_DEV void scores() {
    const int lane = lane_id();
    for (int pr = warp_id(); pr < NB * NB; pr += W) {
      const int I = pr / NB, J = pr - I * NB;
      const int r = 16 * I;
      if (J > I) {
        for (int t = lane; t < 128; t += 32) {
          const int at = (r + (t >> 3)) * LDC + 16 * J + 2 * (t & 7);
          if constexpr (kHasQ) store_pair<D>(Aqk(), at, 0.0f, 0.0f);
          if constexpr (kAkk) store_pair<D>(Akk(), at, 0.0f, 0.0f);
        }
        continue;
      }
      WarpAcc<1, 2> aq, ak;
      aq.zero();
      ak.zero();
      if constexpr (kVec) {
        // Off-diagonal blocks factor through row ref = r: (x_i e^{b_i - b_r}) . (k_j e^{b_r - b_j}), both
        // factors <= 1. Diagonal blocks factor the same way through their middle row when every exponent
        // of the block stays within kDiagRange of it (both factors then stay far from overflow, and the
        // products go to the tensor cores); otherwise they take the exact per-dimension path.
        int ref = r;
        if (I == J) {
          // fp32 inputs keep the exact path: e^{+-40} factors would cost them digits (exp's relative error
          // grows with its argument), while 16-bit operands round far more than that anyway.
          if (D == DType::FP32 || diag_range(r) > kDiagRange) {
            diag_scores_vector(I);
            continue;
          }
          ref = r + 8;
        }
        const E* Qm = Q();
        const E* Km = Kt();
        const float* Gm = G();
        const auto bk = fn_b<D>([=](int k, int nn) {
          const int j = 16 * J + nn;
          return f(Km[j * LDK + k]) * kexp<D>(Gm[ref * LDG + k] - Gm[j * LDG + k]);
        });
        if constexpr (kHasQ)
          warp_gemm<D>(aq, 0, KFP, fn_a<D>([=](int m, int k) {
                         return f(Qm[(r + m) * LDK + k]) * kexp<D>(Gm[(r + m) * LDG + k] - Gm[ref * LDG + k]);
                       }),
                       bk);
        if constexpr (kAkk)
          warp_gemm<D>(ak, 0, KFP, fn_a<D>([=](int m, int k) {
                         return f(Km[(r + m) * LDK + k]) * kexp<D>(Gm[(r + m) * LDG + k] - Gm[ref * LDG + k]);
                       }),
                       bk);
      } else {
        const ColsView<D> bk{Kt() + 16 * J * LDK, LDK};
        if constexpr (kHasQ) warp_gemm<D>(aq, 0, KFP, RowsView<D>{Q() + r * LDK, LDK}, bk);
        if constexpr (kAkk) warp_gemm<D>(ak, 0, KFP, RowsView<D>{Kt() + r * LDK, LDK}, bk);
      }
      // Columns (j, j + 1) go out as one store (LDC is even).
      if constexpr (kHasQ)
        aq.for_each_pair([&](int m, int nn, float x0, float x1) {
          const int i = r + m, j = 16 * J + nn;
          if constexpr (kHasDecay && !kVec) {
            x0 *= kexp<D>((float)(bcum()[i] - bcum()[j]));
            x1 *= kexp<D>((float)(bcum()[i] - bcum()[j + 1]));
          }
          store_pair<D>(Aqk(), i * LDC + j, (I == J && nn > m) ? 0.0f : x0, (I == J && nn + 1 > m) ? 0.0f : x1);
        });
      if constexpr (kAkk) {
        ak.for_each_pair([&](int m, int nn, float x0, float x1) {
          const int i = r + m, j = 16 * J + nn;
          x0 *= beta()[i];
          x1 *= beta()[i];
          if constexpr (kHasDecay && !kVec) {
            x0 *= kexp<D>((float)(bcum()[i] - bcum()[j]));
            x1 *= kexp<D>((float)(bcum()[i] - bcum()[j + 1]));
          }
          store_pair<D>(Akk(), i * LDC + j, (I == J && nn >= m) ? 0.0f : x0, (I == J && nn + 1 >= m) ? 0.0f : x1);
        });
      }
    }
  }

  /// Applies the decays in place: Q <- q~ Gamma (scalar and vector decays); vector decays also
  /// G <- k~ exp(b_last - b) (not in the output kernel) and (fused and prep, delta) Kt <- k~ Gamma.
  LINREC_DEV void scale_decay() {
    constexpr int VE = kVecElems<D>;
    if constexpr (kVec) {
      constexpr unsigned PR = GW / VE, TOTAL = C * PR;
#pragma unroll 1
      for (unsigned t = threadIdx.x; t < TOTAL; t += NT) {
        const unsigned i = t / PR, d0 = g0 + (t % PR) * VE;
        float* g = G() + i * LDG + d0;
        E* kp = Kt() + i * LDK + d0;
        E* qp = Q() + i * LDK + d0;
        float gv[VE];
#pragma unroll
        for (int j = 0; j < VE; j += 4) {
          const float4 w = *reinterpret_cast<const float4*>(g + j);
          gv[j] = w.x, gv[j + 1] = w.y, gv[j + 2] = w.z, gv[j + 3] = w.w;
        }
        float kv[VE], qv[VE];
        unpack_vec<D>(*reinterpret_cast<const uint4*>(kp), kv);
        if constexpr (kHasQ) unpack_vec<D>(*reinterpret_cast<const uint4*>(qp), qv);
#pragma unroll
        for (int j = 0; j < VE; ++j) {
          const float bb = gv[j], eq = kexp<D>(bb), kk = kv[j];
          if constexpr (kHasQ) qv[j] *= eq;
          gv[j] = kk * kexp<D>(blast()[d0 + j] - bb);
          if constexpr (kAkk) kv[j] = kk * eq;
        }
        // The output kernel reads neither k~ exp(b_last - b) nor k~ Gamma (it updates no state).
        if constexpr (Kind != ChunkKernel::Output) {
#pragma unroll
          for (int j = 0; j < VE; j += 4)
            *reinterpret_cast<float4*>(g + j) = make_float4(gv[j], gv[j + 1], gv[j + 2], gv[j + 3]);
        }
        if constexpr (kHasQ) *reinterpret_cast<uint4*>(qp) = pack_vec<D>(qv);
        if constexpr (kAkk) *reinterpret_cast<uint4*>(kp) = pack_vec<D>(kv);
      }
    } else if constexpr (kHasDecay && kHasQ) {
      map_tile<D, C, KFP, NT>(Q(), LDK, [&](int i, int, float(&x)[VE]) {
        const float s = gq()[i];
#pragma unroll
        for (int j = 0; j < VE; ++j) x[j] *= s;
      });
    }
  }

  /// Delta rule, first half of U: U <- X = diag(beta) (V - (k~ Gamma) S). Reads Kt/gq, S; writes U.
  LINREC_DEV void delta_rhs() {
    constexpr TileShape ts = pick_tile(C, BV, W);
    for_each_warp_tile<C, BV, ts.MT, ts.NT, W>([&](int m0, int n0) {
      WarpAcc<ts.MT, ts.NT> acc;
      acc.zero();
      // Scalar decays: (k~ Gamma) S = diag(exp(b)) (k~ S), the row factor applied to the product.
      warp_gemm<D>(acc, 0, KFP, RowsView<D>{Kt() + m0 * LDK, LDK}, s_view(n0));
      acc.for_each([&](int m, int nn, float& v) {
        const int i = m0 + m, c = n0 + nn;
        E* u = U() + i * LDU + c;
        float w = v;
        if constexpr (kHasDecay && !kVec) w *= gq()[i];
        *u = e(beta()[i] * (f(*u) - w));
      });
    });
  }

  /// Delta rule, second half: U <- (I + Akk)^-1 X by forward substitution over 16-row blocks (the
  /// off-diagonal part as a matrix product, the diagonal block one column per thread). Ends with a barrier.
  LINREC_DEV void delta_solve() {
    constexpr TileShape ts = pick_tile(16, BV, W);
    for (int I = 0; I < NB; ++I) {
      const int r = 16 * I;
      if (I > 0) {
        for_each_warp_tile<16, BV, 1, ts.NT, W>([&](int m0, int n0) {
          WarpAcc<1, ts.NT> acc;
          acc.zero();
          warp_gemm<D>(acc, 0, r, RowsView<D>{Akk() + r * LDC, LDC}, u_view(n0));
          acc.for_each([&](int m, int nn, float& v) {
            E* u = U() + (r + m) * LDU + n0 + nn;
            *u = e(f(*u) - v);
          });
        });
        block_sync();
      }
      for (int c = (int)threadIdx.x; c < BV; c += NT) {
        E* col = U() + r * LDU + c;
        float u[16];
#pragma unroll
        for (int m = 0; m < 16; ++m) u[m] = f(col[m * LDU]);
#pragma unroll
        for (int m = 1; m < 16; ++m) {
          const E* a = Akk() + (r + m) * LDC + r;
          float s = u[m];
#pragma unroll
          for (int j = 0; j < m; ++j) s = fmaf(-f(a[j]), u[j], s);
          u[m] = s;
        }
#pragma unroll
        for (int m = 0; m < 16; ++m) col[m * LDU] = e(u[m]);
      }
      block_sync();
    }
  }

  /// Normalizer: den_i = scale (q~_i Gamma_i . z + sum_{j<=i} Aqk[i][j]) + eps. One warp per row.
  LINREC_DEV void denominators() {
    if constexpr (kNorm && !kScan) {
      const int lane = lane_id();
      for (int i = warp_id(); i < C; i += W) {
        float s = 0.0f;
        for (int d = lane; d < KFP; d += 32) s = fmaf(f(Q()[i * LDK + d]), z()[d], s);
        for (int j = lane; j <= i; j += 32) s += f(Aqk()[i * LDC + j]);
        s = warp_sum(s);
        if (lane == 0) den()[i] = p.scale * s + Variant::kNormEps;
      }
    }
  }

  /// o = scale (q~ Gamma S + Aqk U) (/ den) for the chunk's valid rows, written in the input dtype.
  LINREC_DEV void outputs(int t0, int rows) {
    constexpr TileShape ts = pick_tile(C, BV, W);
    for_each_warp_tile<C, BV, ts.MT, ts.NT, W>([&](int m0, int n0) {
      WarpAcc<ts.MT, ts.NT> acc;
      acc.zero();
      warp_gemm<D>(acc, 0, KFP, q_view(m0), s_view(n0));
      warp_gemm<D>(acc, 0, m0 + 16 * ts.MT, RowsView<D>{Aqk() + m0 * LDC, LDC}, u_view(n0));
      // Adjacent columns (2t, 2t + 1) go out as one 4-byte (8-byte for fp32) store.
      const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
      for (int mt = 0; mt < ts.MT; ++mt)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
          const int i = m0 + mt * 16 + g + 8 * hf;
          if (i >= rows) continue;
          float sc = p.scale;
          if constexpr (kNorm) sc /= den()[i];
          const long long row = ((bos + t0 + i) * p.H + h) * V + v0;
#pragma unroll
          for (int nt = 0; nt < ts.NT; ++nt) {
            const int c = n0 + nt * 8 + 2 * t;
            const float o0 = sc * acc.c[mt][nt][2 * hf], o1 = sc * acc.c[mt][nt][2 * hf + 1];
            if (v0 + c + 1 < V && ((row + c) & 1) == 0) {
              store_pair<D>(p.o, row + c, o0, o1);
            } else {
              if (v0 + c < V) store_elem<D>(p.o, row + c, o0);
              if (v0 + c + 1 < V) store_elem<D>(p.o, row + c + 1, o1);
            }
          }
        }
    });
  }

  /// (k~ exp(b_last - b))^T U for the warp tile (m0, n0) of the K'p x BV state update.
  template <class Acc>
  LINREC_DEV void state_increment(Acc& acc, int m0, int n0) const {
    warp_gemm<D>(acc, 0, C, kl_view(m0), u_view(n0));
  }

  /// Puts the decay's row factors where kl_view() and state_increment() expect them, once per chunk (the
  /// caller issues a barrier after it when the variant has a decay): scalar decays scale the rows of U by
  /// exp(b_last - b_i) (U is not read again but by the update); vector decays copy G (k~ exp(b_last - b),
  /// from scale_decay) into the Q region in the operand type (q~ Gamma is not read again either; the scan:
  /// over its key window of Kt).
  LINREC_DEV void prepare_update() {
    constexpr int VE = kVecElems<D>;
    if constexpr (kVec) {
      // The scan reads k~ no more (it has no scores), so its copy goes over Kt and it needs no Q region.
      map_tile<D, C, GW, NT>((kScan ? Kt() : Q()) + g0, LDK, [&](int i, int d0, float(&x)[VE]) {
        const float* g = G() + i * LDG + g0 + d0;
#pragma unroll
        for (int j = 0; j < VE; j += 4) {
          const float4 w = *reinterpret_cast<const float4*>(g + j);
          x[j] = w.x, x[j + 1] = w.y, x[j + 2] = w.z, x[j + 3] = w.w;
        }
      });
    } else if constexpr (kHasDecay) {
      map_tile<D, C, BV, NT>(U(), LDU, [&](int i, int, float(&x)[VE]) {
        const float s = gl()[i];
#pragma unroll
        for (int j = 0; j < VE; ++j) x[j] *= s;
      });
    }
  }

  /// S <- Gamma_last S + (k~ exp(b_last - b))^T U and z <- Gamma_last z + sum_j k~_j exp(b_last - b_j).
  LINREC_DEV void update_state() {
    constexpr TileShape ts = pick_tile(KFP, BV, W);
    for_each_warp_tile<KFP, BV, ts.MT, ts.NT, W>([&](int m0, int n0) {
      WarpAcc<ts.MT, ts.NT> acc;
      acc.zero();
      state_increment(acc, m0, n0);
      acc.for_each([&](int m, int nn, float& v) {
        const int d = m0 + m, c = n0 + nn;
        float* s = S() + d * LDS + c;
        const float x = kHasDecay ? gamma_last(d) * *s + v : *s + v;
        *s = x;
        if constexpr (kSb) Sb()[c * LDSB + d] = e(x);
      });
    });
    if constexpr (kNorm && !kScan) {
      for (int d = (int)threadIdx.x; d < KFP; d += NT) {
        float s = 0.0f;
        for (int j = 0; j < C; ++j) s += kl(j, d);
        z()[d] = gamma_last(d) * z()[d] + s;
      }
    }
  }

  // ---- delta-rule state passing: the prep kernel (one chunk, no state) and the scan's own phases

  /// Prep kernel: k^ = k~ exp(b_last - b) (the state update's operand; after scale_decay for vector decays)
  /// to `kh` ([C][K'p], 16-byte rows) and, with a decay, Gamma_last per key dim to `gdst` ([K'p] fp32).
  LINREC_DEV void store_prep_k(E* kh, float* gdst) const {
    static_assert(kPrep, "store_prep_k: delta prep kernel only");
    constexpr int VE = kVecElems<D>, PR = KFP / VE;
    for (int e2 = (int)threadIdx.x; e2 < C * PR; e2 += NT) {
      const int i = e2 / PR, d = (e2 - i * PR) * VE;
      float x[VE];
      if constexpr (kVec) {
        const float* g = G() + i * LDG + d;
#pragma unroll
        for (int j = 0; j < VE; ++j) x[j] = g[j];
      } else {
        unpack_vec<D>(*reinterpret_cast<const uint4*>(Kt() + i * LDK + d), x);
        if constexpr (kHasDecay) {
          const float s = gl()[i];
#pragma unroll
          for (int j = 0; j < VE; ++j) x[j] *= s;
        }
      }
      *reinterpret_cast<uint4*>(kh + i * KFP + d) = pack_vec<D>(x);
    }
    if constexpr (kHasDecay)
      for (int d = (int)threadIdx.x; d < KFP; d += NT) gdst[d] = kVec ? glast()[d] : glast()[0];
  }

  /// Prep kernel: fills U with right-hand-side slice `s` of the WY solve, scaled by beta: slices below nw
  /// are columns [s BV, +BV) of k~ Gamma (zero past K'p), the others columns [(s - nw) BV, +BV) of v (zero
  /// past V and past the chunk's valid rows).
  LINREC_DEV void prep_rhs(int s, int nw, int t0, int rows) {
    static_assert(kPrep, "prep_rhs: delta prep kernel only");
    constexpr int VE = kVecElems<D>, PR = BV / VE;
    if (s < nw) {
      const int c0 = s * BV;
      for (int e2 = (int)threadIdx.x; e2 < C * PR; e2 += NT) {
        const int i = e2 / PR, c = (e2 - i * PR) * VE;
        float x[VE];
        if (c0 + c < KFP) {  // K'p is a multiple of 16, so a vector is all in or all out
          unpack_vec<D>(*reinterpret_cast<const uint4*>(Kt() + i * LDK + c0 + c), x);
          float sc = beta()[i];
          if constexpr (kHasDecay && !kVec) sc *= gq()[i];  // vector decays: Kt already holds k~ Gamma
#pragma unroll
          for (int j = 0; j < VE; ++j) x[j] *= sc;
        } else {
#pragma unroll
          for (int j = 0; j < VE; ++j) x[j] = 0.0f;
        }
        *reinterpret_cast<uint4*>(U() + i * LDU + c) = pack_vec<D>(x);
      }
      return;
    }
    const int c0 = (s - nw) * BV;
    const E* v = static_cast<const E*>(p.v);
    if constexpr (V % VE == 0) {
      for (int e2 = (int)threadIdx.x; e2 < C * PR; e2 += NT) {
        const int i = e2 / PR, c = (e2 - i * PR) * VE;
        float x[VE];
        if (i < rows && c0 + c < V) {
          unpack_vec<D>(*reinterpret_cast<const uint4*>(v + ((bos + t0 + i) * p.H + h) * V + c0 + c), x);
          const float b = beta()[i];
#pragma unroll
          for (int j = 0; j < VE; ++j) x[j] *= b;
        } else {
#pragma unroll
          for (int j = 0; j < VE; ++j) x[j] = 0.0f;
        }
        *reinterpret_cast<uint4*>(U() + i * LDU + c) = pack_vec<D>(x);
      }
    } else {
      for (int e2 = (int)threadIdx.x; e2 < C * BV; e2 += NT) {
        const int i = e2 / BV, c = e2 - i * BV;
        float x = 0.0f;
        if (i < rows && c0 + c < V) x = beta()[i] * f(v[((bos + t0 + i) * p.H + h) * V + c0 + c]);
        U()[i * LDU + c] = e(x);
      }
    }
  }

  /// Prep kernel: the solved slice in U, columns [0, cols) (a multiple of 16), to dst[i * ld + c].
  LINREC_DEV void store_rhs(E* dst, long long ld, int cols) const {
    static_assert(kPrep, "store_rhs: delta prep kernel only");
    constexpr int VE = kVecElems<D>, PR = BV / VE;
    for (int e2 = (int)threadIdx.x; e2 < C * PR; e2 += NT) {
      const int i = e2 / PR, c = (e2 - i * PR) * VE;
      if (c < cols) *reinterpret_cast<uint4*>(dst + i * ld + c) = *reinterpret_cast<const uint4*>(U() + i * LDU + c);
    }
  }

  /// Delta scan: starts copying chunk `slot`'s W, k^, this V-tile of U and Gamma_last (the prep kernel's
  /// output; rows past a sequence's end are zero there) into buffer b with cp.async, and commits.
  LINREC_DEV void load_delta_async(const unsigned char* ws, const StatePassingWs& w, long long slot, int b) {
    static_assert(kDeltaScan, "load_delta_async: delta state scan only");
    const int cols = w.vn_ld - v0 < BV ? (int)(w.vn_ld - v0) : BV;
    load_tile_async<D, C, KFP, NT>(ws + w.wy + slot * w.wy_chunk, 0, KFP, C, KFP,
                                   reinterpret_cast<E*>(sm + (b ? L.Wd2 : L.Wd)), LDK);
    load_tile_async<D, C, KFP, NT>(ws + w.kh + slot * w.wy_chunk, 0, KFP, C, KFP,
                                   reinterpret_cast<E*>(sm + (b ? L.Kt2 : L.Kt)), LDK);
    load_tile_async<D, C, BV, NT>(ws + w.vn + slot * w.vn_chunk, v0, w.vn_ld, C, cols,
                                  reinterpret_cast<E*>(sm + (b ? L.U2 : L.U)), LDU);
    if constexpr (kHasDecay) {
      float* g = reinterpret_cast<float*>(sm + (b ? L.glast2 : L.glast));
      const float* src = reinterpret_cast<const float*>(ws + w.gl + slot * w.gl_chunk);
      for (int e2 = (int)threadIdx.x; e2 < KFP / 4; e2 += NT) cp_async16(g + 4 * e2, src + 4 * e2, true);
    }
    cp_async_commit();
  }

  /// Delta scan: U <- v_new = U - W S (all K'p rows of S), in place, and to dst ([C][ld], this V-tile's
  /// columns < cols), where the output kernel reads it as its values.
  LINREC_DEV void delta_vnew(E* dst, long long ld, int cols) {
    static_assert(kDeltaScan, "delta_vnew: delta state scan only");
    constexpr TileShape ts = pick_tile(C, BV, W);
    for_each_warp_tile<C, BV, ts.MT, ts.NT, W>([&](int m0, int n0) {
      WarpAcc<ts.MT, ts.NT> acc;
      acc.zero();
      warp_gemm<D>(acc, 0, KFP, RowsView<D>{Wd() + m0 * LDK, LDK}, s_view(n0));
      acc.for_each_pair([&](int m, int nn, float w0, float w1) {
        const int i = m0 + m, c = n0 + nn;
        E* u = U() + i * LDU + c;
        const float x0 = f(u[0]) - w0, x1 = f(u[1]) - w1;
        u[0] = e(x0);
        u[1] = e(x1);
        if (c + 1 < cols) {
          store_pair<D>(dst, i * ld + c, x0, x1);  // ld and c even
        } else if (c < cols) {
          store_elem<D>(dst, i * ld + c, x0);
        }
      });
    });
  }
};

}  // namespace kern
}  // namespace linrec
