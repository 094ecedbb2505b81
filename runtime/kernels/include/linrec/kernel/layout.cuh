// linrec/kernel/layout.cuh: shared-memory and workspace layouts as constexpr integer math, for kernels and host code.
//
// The kernels carve their dynamic shared memory with these functions, and the host (codegen's launch
// descriptor, the runtime's launcher, the tuner's pruning) computes the byte counts with the very same
// functions: this header has no device code and compiles as plain C++17 (include it from host code).
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define LINREC_HD __host__ __device__
#else
#define LINREC_HD
#endif

namespace linrec {
namespace kern {

/// x rounded up to a multiple of m.
LINREC_HD constexpr int round_up(int x, int m) {
  return (x + m - 1) / m * m;
}
/// ceil(a / b) for positive b.
LINREC_HD constexpr int ceil_div(int a, int b) {
  return (a + b - 1) / b;
}

/// K' padded for the tensor-core k loop (zeros beyond K').
LINREC_HD constexpr int padded_feature_width(int KF) {
  return round_up(KF, 16);
}

/// Row stride (elements) of an on-chip tile whose rows hold n elements of `elem_bytes` bytes: 16 bytes of
/// padding keeps rows 16-byte aligned and makes the stride an odd multiple of 16 bytes for the usual
/// widths, which puts the 8 rows an mma fragment (or a SIMT micro-tile column) reads in distinct banks.
LINREC_HD constexpr int smem_row_stride(int n, int elem_bytes = 4) {
  return n + 16 / elem_bytes;
}

/// What a chunk kernel keeps on chip: byte offsets from the dynamic shared memory base, each region
/// 16-byte aligned; regions a kernel does not need have size 0. "E" tiles hold elements of the input
/// type for bf16/fp16 (the tensor cores read them as they are) and floats for fp32; the state, the decay
/// cumsums and the small vectors are always fp32 (b: fp64).
struct ChunkLayout {
  int kfp = 0;    ///< K' padded to 16
  int eb = 4;     ///< bytes per E element (4: fp32 inputs, 2: bf16/fp16)
  int ld_kf = 0;  ///< row stride (E elements) of Q, Kt [C][K'p]
  int ld_u = 0;   ///< row stride (E elements) of U [C][BV]
  int ld_c = 0;   ///< row stride (E elements) of Aqk, Akk [C][C]
  int ld_s = 0;   ///< row stride (floats) of S [K'p][BV]
  int ld_g = 0;   ///< row stride (floats) of G [C][K'p]
  int ld_sb = 0;  ///< row stride (E elements) of Sb [BV][K'p]
  int sb_rows = 0;  ///< rows of S: K'p, or (state scan) the key slice min(BK, K'p)
  int S = 0;      ///< state tile [sb_rows][BV] fp32 (absent from 16-bit output kernels, which read Sb only)
  int Sb = 0;     ///< 16-bit inputs: the state rounded to the input type, by columns [BV][K'p] (the tensor-core
                  ///< B operand of q~ Gamma S and (k~ Gamma) S, loaded with ldmatrix; the update stays fp32)
  int Q = 0;      ///< raw q, then q~, then q~ Gamma [C][K'p] E
  int Kt = 0;     ///< raw k, then k~ (delta: then k~ Gamma) [C][K'p] E
  int G = 0;      ///< vector decay: g, its cumsum b, then k~ exp(b_last - b) [C][K'p] fp32
  int U = 0;      ///< values [C][BV] E: beta v (additive) or v -> X -> U (delta)
  int Kt2 = 0;    ///< state scan: the second Kt buffer (the next chunk's k lands there while this one is used)
  int U2 = 0;     ///< state scan: the second U buffer
  int G2 = 0;     ///< state scan, vector decay: the second G buffer (b from the gate pre-pass)
  int b2 = 0;     ///< state scan: the second b buffer
  int Wd = 0;     ///< delta state scan: W = (I + Akk)^-1 diag(beta) (k~ Gamma) from the prep kernel [C][K'p] E
  int Wd2 = 0;    ///< delta state scan: the second W buffer
  int Aqk = 0;    ///< intra-chunk scores (q~ k~^T (.) decay), lower incl. diagonal [C][C] E
  int Akk = 0;    ///< delta: beta_i (k~_i k~_j^T (.) decay), strictly lower [C][C] E
  int b = 0;      ///< scalar decay: in-chunk cumsum of g [C] (fp64 for fp32 inputs, else fp32)
  int gq = 0;     ///< scalar decay: exp(b_i) [C] fp32
  int gl = 0;     ///< scalar decay: exp(b_last - b_i) [C] fp32
  int beta = 0;   ///< beta [C] fp32 (0 beyond the chunk's valid rows)
  int blast = 0;  ///< b_last per key dim [K'p] fp32 (scalar decay: entry 0)
  int glast = 0;  ///< Gamma_last = exp(b_last) per key dim [K'p] fp32 (scalar decay: entry 0)
  int glast2 = 0;  ///< delta state scan: the second Gamma_last buffer
  int den = 0;    ///< normalizer: the readout denominators [C] fp32
  int z = 0;      ///< normalizer: z entering the chunk [K'p] fp32
  int misc = 0;   ///< 32 floats for block reductions and broadcast scalars
  int total = 0;  ///< bytes
  LINREC_HD constexpr int bytes() const { return total; }
};

/// Which chunk kernel a layout is for.
enum class ChunkKernel : int {
  Fused = 0,   ///< chunk_fwd_fused: everything
  Scan = 1,    ///< state passing stage 1: one key slice of the state, q/k rows, decay, values (no scores)
  Output = 2,  ///< state passing stage 2: as fused without the delta-only regions, the state read as Sb
  Gates = 3,   ///< state passing stage 0: the decay gates and their within-chunk cumsum b, nothing else
  Prep = 4,    ///< delta-rule state passing stage 0: gates, Akk and the WY solve of one chunk (no state)
};

/// Width of the right-hand-side slices the delta prep kernel solves at a time (its Config's BV): the
/// smallest of 16, 32, 64 covering max(K'p, V), at most 64 (the solve's diagonal step runs one column per
/// thread, so wider slices would leave it serial for longer, and a slice narrower than the block only idles
/// threads once per 16 rows).
LINREC_HD constexpr int delta_prep_block_v(int KF, int V) {
  const int need = padded_feature_width(KF) > V ? padded_feature_width(KF) : V;
  return need <= 16 ? 16 : need <= 32 ? 32 : 64;
}

/// Bytes of one chunk's b in the state-passing workspace: vector decays [C][K'p] fp32, scalar decays [C]
/// (fp64 for fp32 inputs, like the kernels' cumsum), nothing without a decay.
LINREC_HD constexpr long long gate_ws_chunk_bytes(int C, int KF, bool has_decay, bool vector_decay, int elem_bytes) {
  return !has_decay ? 0 : vector_decay ? 4LL * C * padded_feature_width(KF) : (long long)C * (elem_bytes == 2 ? 4 : 8);
}

/// Rows of the key slice one state-scan block owns: BK, or all of K'p when BK covers it.
LINREC_HD constexpr int scan_slice_rows(int KF, int block_k) {
  return block_k < padded_feature_width(KF) ? block_k : padded_feature_width(KF);
}

/// The fused kernel's register-state path (chunk_fwd_fused_regs, 16-bit inputs): ns pipeline stages of q, k
/// ([C][K'p]) and the V-tile ([C][BV]) plus, for a scalar decay, the chunk's decay factors (b, e^b,
/// e^{b_last - b}: 3 C floats), then one 16-bit copy of the state ([BV][K'p]) that the q S product reads.
/// A per-key decay adds one set of tables (fp32 [2 C/16 + 2][K'p]: b at each stripe's reference row, b at the
/// chunk's last row, the state-only walk's running total, and partial sums of up to C/16 row ranges),
/// rewritten per chunk. ns is 2: with 2 stages two blocks share an SM. Deeper rings (3, 4; Config::Stages
/// once selected them) were measured on the H200 (2026-12-02): 0.29 -> 0.42 ms at T = 1k (one block per SM),
/// 3 % faster at T = 16k, and one config (retention C=64 BV=64 4 warps, 3 stages) failed the tuner's
/// reference check on the GPU while the emulator passed it; unexplained, so Config::Stages does not change
/// this kernel.
struct FusedRegsLayout {
  int ns = 2;     ///< pipeline stages
  int ld_k = 0;   ///< row stride (elements) of the q, k and Sb tiles
  int ld_u = 0;   ///< row stride (elements) of the V-tile
  int q = 0, k = 0, u = 0, g = 0;  ///< offsets within a stage
  int w = 0;  ///< delta rules: offset of W ([C][K'p], from chunk_fwd_wy; one buffer after Sb, not per stage)
  int stage = 0;  ///< bytes per stage
  int sb = 0;     ///< offset of Sb (after the stages)
  int vt = 0;     ///< offset of the per-key decay tables (vector decay only)
  int total = 0;
};
/// Whether the register-state fused kernel can split a chunk of C rows and a BV-wide V-tile among `warps`
/// warps (fused_regs.cuh FusedRegsShape): warps take 16-row stripes, and warps sharing a stripe split the
/// V-tile in column groups of a multiple of 16; the state S^T (BV x K) is spread over the warps as mma tiles
/// of at most 64 accumulators per thread, and the scores and outputs take at most 64 more each.
struct FusedRegsSplit {
  int rs, rw, cg, spw, bvw, wm, wn, mt, nts;
};
LINREC_HD constexpr FusedRegsSplit fused_regs_split(int K, int C, int BV, int warps) {
  FusedRegsSplit s{};
  s.rs = C / 16;
  s.rw = warps < s.rs ? warps : s.rs;
  s.cg = warps / s.rw;
  s.spw = s.rs / s.rw;
  s.bvw = BV / s.cg;
  const int wm0 = BV / 32 > 1 ? BV / 32 : 1;
  s.wm = wm0 < warps ? wm0 : warps;
  s.wn = warps / s.wm;
  s.mt = BV / (16 * s.wm);
  s.nts = K / (8 * s.wn);
  return s;
}
LINREC_HD constexpr bool fused_regs_shape_ok(int K, int C, int BV, int warps) {
  const FusedRegsSplit s = fused_regs_split(K, C, BV, warps);
  return s.bvw >= 16 && s.bvw % 16 == 0 && BV % (16 * s.wm) == 0 && K % (16 * s.wn) == 0 && s.mt * s.nts * 4 <= 64 &&
         s.bvw / 2 <= 64 && C / 2 <= 64;
}

/// Bytes of the per-key decay tables (see FusedRegsLayout).
LINREC_HD constexpr int fused_regs_vector_tables(int KF, int C) {
  return round_up(4 * (2 * (C / 16) + 2) * padded_feature_width(KF), 16);
}
/// Delta rules (delta = true) add one W tile, and their V-tile holds U from chunk_fwd_wy instead of v. W is
/// read only by v_new = U - W S_c, before the chunk's second barrier, so the next chunk's W loads into the
/// same buffer after that barrier and arrives behind the outputs and the state update; a W per stage would
/// cost C x K'p 16-bit elements (8.5 KiB at C = 32, K = 128), what keeps a third block off an SM
/// (fused_regs_min_blocks).
LINREC_HD constexpr FusedRegsLayout fused_regs_layout(int KF, int C, int BV, bool vector_decay, bool delta = false) {
  FusedRegsLayout l{};
  const int kfp = padded_feature_width(KF);
  l.ld_k = smem_row_stride(kfp, 2);
  l.ld_u = smem_row_stride(BV, 2);
  l.q = 0;
  l.k = l.q + round_up(2 * C * l.ld_k, 16);
  l.u = l.k + round_up(2 * C * l.ld_k, 16);
  l.g = l.u + round_up(2 * C * l.ld_u, 16);
  l.stage = l.g + (vector_decay ? 0 : round_up(3 * 4 * C, 16));
  l.sb = l.ns * l.stage;
  l.w = l.sb + round_up(2 * BV * l.ld_k, 16);
  l.vt = l.w + (delta ? round_up(2 * C * l.ld_k, 16) : 0);
  l.total = l.vt + (vector_decay ? fused_regs_vector_tables(KF, C) : 0);
  return l;
}

/// The blocks per SM the register-state kernel asks ptxas for (__launch_bounds__'s second argument;
/// codegen's StagePlan::minBlocks): 3 when three of its layouts fit a Hopper SM (228 KiB, less the 1 KiB
/// the hardware reserves per block) at 4 warps with no per-key decay, else 1 (ptxas free). Three blocks cap
/// a thread at 168 registers; at C = 32, BV = 64, K = 128 ptxas (CUDA 13, sm_90) fits the walk in 152-164
/// with no spills (198 uncapped for gated_delta_rule; NvrtcCompileMinBlocks), where a per-key decay (GLA)
/// spills 96 bytes. At two blocks per SM the delta walk was latency bound at 8 warps (ncu, 2026-12-04).
LINREC_HD constexpr int fused_regs_min_blocks(int KF, int C, int BV, int warps, bool vector_decay, bool delta) {
  const int per_block = fused_regs_layout(KF, C, BV, vector_decay, delta).total + 1024;
  return !vector_decay && warps == 4 && 3 * per_block <= 228 * 1024 ? 3 : 1;
}

/// Whether a variant takes the register-state fused kernel (fused_regs.cuh fused_in_registers spells the same
/// test over the Variant; codegen calls this one to plan its stages): 16-bit inputs, no normalizer, q~ and k~
/// the raw rows or their L2 normalisation (raw_q / raw_k: no pre-expressions, identity or l2norm maps,
/// K % 16 == 0; the kernel normalises rows in shared memory), V % 8 == 0 and a warp split fused_regs_shape_ok
/// takes; then either
///   - an additive rule with no beta and any decay (a per-key one only with bf16 inputs: the kernel rescales
///     q and k by e^{+-(b_i - b_ref)} over half a 16-row stripe, which fp16's range does not hold for strong
///     decays), or
///   - a delta rule (beta allowed) with no decay or a scalar one and C <= 64: chunk_fwd_wy solves every
///     chunk's WY form first, and the kernel forms v_new = U - W S per chunk (no sequence segments: composing
///     them would need the K x K transition of every segment).
LINREC_HD constexpr bool fused_regs_applies(int elem_bytes, bool bf16, bool delta, bool beta, bool normalize,
                                            bool raw_q, bool raw_k, bool vector_decay, int K, int KF, int V, int C,
                                            int BV, int warps) {
  const bool rule = delta ? !vector_decay : (bf16 || !vector_decay) && !beta;
  // chunk_fwd_wy holds A and T in fp32, [C][C + 1] each: 278 KB in all at C = 128, 92 KB at C = 64.
  const bool wy_fits = !delta || C <= 64;
  return elem_bytes == 2 && rule && wy_fits && !normalize && raw_q && raw_k && KF == K && K % 16 == 0 && V % 8 == 0 &&
         fused_regs_shape_ok(K, C, BV, warps);
}

/// chunk_fwd_wy's shared memory (wy.cuh): the chunk's k and v rows (16-bit; W and U replace them before
/// they are copied out), A and T in fp32 ([C][C + 1]: the solve reads rows by lane, and an odd stride keeps
/// 16 rows in 16 banks), T times W's and U's column factors rounded to the input type ([C][C + 8] each), b,
/// beta, the rows' inverse norms and the two column factors ([C] fp32 each), and a 16 x 17 fp32 scratch
/// block per warp.
/// A per-key decay (vec, state passing only) adds q~, the row- and column-side rescaled keys k+ and k-
/// (16-bit [C][K] each), b per row and key (fp32 [C][K + 4]), one word of stripe flags per warp, and the
/// fp32 factor tables of wy.cuh ([2 C/8 + C/16 + (C/16)(C/16 + 1)][K]); T (fp32 and 16-bit) then lives over
/// k+ and k-, which are dead once A is formed.
struct WyLayout {
  int ld_k = 0, ld_v = 0, ld_a = 0, ld_t = 0, ld_b = 0;
  int k = 0, v = 0, a = 0, tf = 0, tb = 0, g = 0, scratch = 0, total = 0;
  int q = 0, kp = 0, km = 0, bt = 0, flag = 0, tab = 0;
};
LINREC_HD constexpr WyLayout wy_layout(int K, int V, int C, int warps, bool vec = false) {
  WyLayout l{};
  l.ld_k = smem_row_stride(K, 2);
  l.ld_v = smem_row_stride(V, 2);
  l.ld_a = C + 1;
  l.ld_t = smem_row_stride(C, 2);
  l.ld_b = K + 4;
  const int ktile = round_up(2 * C * l.ld_k, 16), tf = round_up(4 * C * l.ld_a, 16), tb = round_up(2 * C * l.ld_t, 16);
  l.k = 0;
  l.v = l.k + ktile;
  l.a = l.v + round_up(2 * C * l.ld_v, 16);
  if (vec) {
    l.q = l.a + tf;
    l.kp = l.q + ktile;
    l.km = l.kp + (ktile > tf ? ktile : tf);
    l.bt = l.km + (ktile > 2 * tb ? ktile : 2 * tb);
    l.tf = l.kp;
    l.tb = l.km;
    l.g = l.bt + round_up(4 * C * l.ld_b, 16);
  } else {
    l.tf = l.a + tf;
    l.tb = l.tf + tf;
    l.g = l.tb + 2 * tb;
  }
  // With a per-key decay the scratch blocks (first_chunk_index's sum, then the T solve) live over q~, which
  // is loaded after that sum and dead once A is formed: what keeps three blocks on an SM at C = 32.
  const int gbytes = round_up(4 * 5 * C, 16);
  l.scratch = vec ? l.q : l.g + gbytes;
  l.flag = vec ? l.g + gbytes : l.scratch + 4 * warps * 16 * 17;
  const int nb = C / 16, no = C / 8;
  l.tab = l.flag + (vec ? round_up(4 * warps, 16) : 0);
  l.total = l.tab + (vec ? round_up(4 * K * (2 * no + nb + nb * (nb + 1)), 16) : 0);
  return l;
}

/// The workspace of chunk_fwd_wy (delta rules on the register-state kernel), in token rows like q, k and v:
/// W [B*T][H][K] then U [B*T][H][V], in the input type (T: with cu_seqlens, the total token count). Rows
/// past a sequence's end are never written: the kernel's tile loads zero them.
struct FusedWyWs {
  long long w = 0, u = 0, total = 0;
  LINREC_HD constexpr long long bytes() const { return total; }
};
LINREC_HD constexpr FusedWyWs fused_wy_ws(long long tokens, long long H, long long K, long long V, int elem_bytes) {
  FusedWyWs ws{};
  ws.u = (elem_bytes * tokens * H * K + 15) / 16 * 16;
  ws.total = ws.u + elem_bytes * tokens * H * V;
  return ws;
}

/// Sequence segments of the register-state fused kernel. A launch with grid z = nseg > 1 splits every
/// sequence into nseg runs of whole chunks, so long sequences fill the GPU like many short ones (one block
/// per (sequence, head, V-tile) leaves most SMs idle at T >= 16k). Two stages run first: chunk_fwd_seg_state
/// computes each segment's own state (from zero) and total log decay, and chunk_fwd_seg_scan composes them
/// into the state entering every segment (S_in(s+1) = e^{G_s} S_in(s) + S_local(s), the affine pair of
/// DESIGN.md). The workspace, for nseg segments:
///   header  int nseg (written by chunk_fwd_seg_state, read by chunk_fwd_seg_scan), 256 bytes;
///   states  [N][nseg-1][H][K'][V] fp32: segment s's own final state, replaced by the scan with the state
///           entering segment s + 1 (the last segment's own state is never needed: its block writes ht);
///   gsum    [N][nseg-1][H][GW] fp32: segment s's total log decay, GW = 1 for a scalar decay, K' per key.
/// Codegen sizes it for the most segments its grid formula can ask for (KernelLayout.cpp).
struct SegmentWs {
  long long states = 0, gsum = 0, total = 0;
  LINREC_HD constexpr long long bytes() const { return total; }
};
LINREC_HD constexpr SegmentWs segment_ws(long long N, long long nseg, long long H, long long KF, long long V,
                                         long long gate_width) {
  SegmentWs w{};
  if (nseg <= 1) return w;
  w.states = 256;
  w.gsum = w.states + 4 * N * (nseg - 1) * H * KF * V;
  w.total = w.gsum + 4 * N * (nseg - 1) * H * gate_width;
  return w;
}
/// The chunks [c0, c1) of a sequence of nchunks chunks that segment seg of nseg covers (c0 == c1: none).
struct SegmentSpan {
  int c0, c1;
};
LINREC_HD constexpr SegmentSpan segment_span(int nchunks, int nseg, int seg) {
  const int per = (nchunks + nseg - 1) / nseg;
  const int c0 = seg * per < nchunks ? seg * per : nchunks;
  return {c0, c0 + per < nchunks ? c0 + per : nchunks};
}
/// Fewest chunks per segment codegen's grid formula allows, and the resident blocks per SM it aims for.
constexpr int kSegmentMinChunks = 16;
constexpr int kSegmentBlocksPerSm = 2;

/// chunk_fwd_seg_state's regions: the fused kernel's stages without q, and no Sb. Its walk is a chain of a
/// load and one product per chunk, so deeper prefetch is what shortens it: up to 4 stages, as many as leave
/// two blocks per SM (2 x 113 KiB plus the per-block reserve fit a Hopper SM's 228 KiB).
LINREC_HD constexpr FusedRegsLayout fused_regs_state_layout(int KF, int C, int BV, bool vector_decay) {
  FusedRegsLayout l{};
  const int kfp = padded_feature_width(KF);
  l.ld_k = smem_row_stride(kfp, 2);
  l.ld_u = smem_row_stride(BV, 2);
  l.q = 0;
  l.k = 0;
  l.u = l.k + round_up(2 * C * l.ld_k, 16);
  l.g = l.u + round_up(2 * C * l.ld_u, 16);
  l.stage = l.g + (vector_decay ? 0 : round_up(3 * 4 * C, 16));
  const int tables = vector_decay ? fused_regs_vector_tables(KF, C) : 0;
  l.ns = 4;
  while (l.ns > 2 && l.ns * l.stage + tables > 113 * 1024) --l.ns;
  l.sb = l.ns * l.stage;
  l.vt = l.sb;
  l.total = l.vt + tables;
  return l;
}

/// The delta-rule state scan with the state in registers (chunk_fwd.cuh chunk_delta_scan_regs, 16-bit
/// inputs): warps split the V-tile in groups of 16 columns (vg = BV / 16 groups) and the key rows among the
/// warps of a group (ks = warps / vg slices of sr = K'p / ks rows), each holding its S^T block (16 x sr) as
/// mma accumulators. v_new = U - W S needs every key row, so the state goes through shared memory each chunk
/// and the warps of a group split v_new's rows.
struct DeltaRegScanSplit {
  int vg, ks, sr;
};
LINREC_HD constexpr DeltaRegScanSplit delta_regscan_split(int KF, int BV, int warps) {
  DeltaRegScanSplit s{};
  s.vg = BV / 16 > 0 ? BV / 16 : 1;
  s.ks = warps / s.vg > 0 ? warps / s.vg : 1;
  s.sr = padded_feature_width(KF) / s.ks;
  return s;
}
/// Whether that split exists: BV a multiple of 16 with at most one group per warp, key slices of whole
/// k16 steps, at most 64 state accumulators per thread (sr <= 128), C <= 128; and at most 4 warps: on the
/// H200 (2026-12-03, delta_rule B=1 T=64k) every 8-warp config ran slower than the shared-memory scan did (C=128 BV=16 W=8: 4.69 against 3.97 ms; C=64 BV=16 W=8: 5.09
/// against 4.75), while the 4-warp ones gained (C=64 BV=32 W=4: 4.29 against 6.41 ms).
LINREC_HD constexpr bool delta_regscan_shape_ok(int KF, int C, int BV, int warps) {
  const DeltaRegScanSplit s = delta_regscan_split(KF, BV, warps);
  return warps <= 4 && BV % 16 == 0 && warps % s.vg == 0 && padded_feature_width(KF) % (16 * s.ks) == 0 &&
         s.sr <= 128 && C % 16 == 0 && C <= 128;
}
/// Whether a delta rule's state scan takes chunk_delta_scan_regs (the kernel's dispatch and chunk_layout's
/// launch size both ask): 16-bit inputs, no normalizer, and a split delta_regscan_shape_ok takes.
LINREC_HD constexpr bool delta_regscan_applies(int elem_bytes, bool normalize, int KF, int C, int BV, int warps) {
  return elem_bytes == 2 && !normalize && delta_regscan_shape_ok(KF, C, BV, warps);
}
/// The ring both register-state delta scans share: ns stages of W, k^ ([C][K'p]), the V-tile of U ([C][BV])
/// and Gamma_last ([K'p] fp32), each stage `stage` bytes from the start.
struct DeltaScanRing {
  int ns = 2, ld_k = 0, ld_u = 0, w = 0, kh = 0, u = 0, gl = 0, stage = 0;
};
LINREC_HD constexpr int delta_regscan_stages(int stages) {
  return stages < 2 ? 2 : stages > 4 ? 4 : stages;
}
LINREC_HD constexpr DeltaScanRing delta_scan_ring(int KF, int C, int BV, int stages) {
  DeltaScanRing r{};
  const int kfp = padded_feature_width(KF);
  r.ld_k = smem_row_stride(kfp, 2);
  r.ld_u = smem_row_stride(BV, 2);
  r.w = 0;
  r.kh = r.w + round_up(2 * C * r.ld_k, 16);
  r.u = r.kh + round_up(2 * C * r.ld_k, 16);
  r.gl = r.u + round_up(2 * C * r.ld_u, 16);
  r.stage = r.gl + round_up(4 * kfp, 16);
  r.ns = delta_regscan_stages(stages);
  return r;
}
/// chunk_delta_scan_regs' shared memory: ns pipeline stages of W and k^ ([C][K'p] each), the V-tile of U ([C][BV]) and Gamma_last
/// ([K'p] fp32); v_new rounded to the input type ([C][BV], the update's A operand); S_c^T in the input type
/// ([BV][K'p]); 32 floats for first_chunk_index's block sum. ns: Config::Stages, 2 to 4
/// (deeper rings keep more chunks' copies in flight; each stage is about 36 KB at C = 64, K = 128, so 3 or
/// more leave one block per SM).
struct DeltaRegScanLayout : DeltaScanRing {
  int ld_s = 0, vn = 0, sst = 0, misc = 0, total = 0;
};
LINREC_HD constexpr DeltaRegScanLayout delta_regscan_layout(int KF, int C, int BV, int stages) {
  DeltaRegScanLayout l{};
  static_cast<DeltaScanRing&>(l) = delta_scan_ring(KF, C, BV, stages);
  const int kfp = padded_feature_width(KF);
  l.vn = l.ns * l.stage;
  // S_c^T (the V-tile by K'p, the input type): the B operand of W S, and the source of the 16-byte rows
  // to ws.states. Rows of K'p + 8 elements: the accumulator pairs land without bank conflicts.
  l.ld_s = kfp + 8;
  l.sst = l.vn + round_up(2 * C * l.ld_u, 16);
  l.misc = l.sst + round_up(2 * BV * l.ld_s, 16);
  l.total = l.misc + 4 * 32;
  return l;
}

/// The delta-rule state scan with one warp per 16 value columns (delta_scan.cuh chunk_delta_scan_warp):
/// each warp holds S^T for its 16 columns by every key row as mma accumulators, so the chunk's two
/// products (v_new^T = U^T - S^T W^T, then S^T += v_new^T k^) take their A operands from registers and
/// no warp waits on another; the block shares only the cp.async ring of W, k^, U and Gamma_last. 16-bit
/// inputs, no normalizer, K'p <= 128 (64 state accumulators per thread), C <= 64 (C / 2 for v_new^T), and
/// at most `warps` groups (the launch is BV / 16 warps, inside the Config's launch bound).
LINREC_HD constexpr bool delta_warpscan_applies(int elem_bytes, bool normalize, int KF, int C, int BV, int warps) {
  const int kfp = padded_feature_width(KF);
  return elem_bytes == 2 && !normalize && kfp <= 128 && C % 16 == 0 && C <= 64 && BV % 16 == 0 && BV <= 128 &&
         BV / 16 <= warps;
}
/// Its shared memory: ns stages of W and k^ ([C][K'p] each), the V-tile of U ([C][BV]) and Gamma_last
/// ([K'p] fp32); one staging tile per warp, for S_c^T ([16][K'p]) on its way to ws.states and then v_new
/// ([C][16]) on its way to ws.vn (16-byte rows out of both); 32 floats for first_chunk_index's block sum.
struct DeltaWarpScanLayout : DeltaScanRing {
  int ld_s = 0, ld_v = 0, stg = 0, stg_warp = 0, misc = 0, total = 0;
};
LINREC_HD constexpr DeltaWarpScanLayout delta_warpscan_layout(int KF, int C, int BV, int stages) {
  DeltaWarpScanLayout l{};
  static_cast<DeltaScanRing&>(l) = delta_scan_ring(KF, C, BV, stages);
  const int kfp = padded_feature_width(KF);
  l.ld_s = kfp + 8;
  l.ld_v = 16 + 8;
  const int s_bytes = 2 * 16 * l.ld_s, v_bytes = 2 * C * l.ld_v;
  l.stg = l.ns * l.stage;
  l.stg_warp = round_up(s_bytes > v_bytes ? s_bytes : v_bytes, 16);
  l.misc = l.stg + (BV / 16) * l.stg_warp;
  l.total = l.misc + 4 * 32;
  return l;
}
/// Threads of the state-scan launch: BV / 2 (a warp per 16 value columns) where chunk_delta_scan_warp
/// applies, else the Config's warps. Codegen's descriptor, the test harness and the kernel all ask.
LINREC_HD constexpr int state_scan_threads(int elem_bytes, bool delta, bool normalize, int KF, int C, int BV,
                                           int warps) {
  return delta && delta_warpscan_applies(elem_bytes, normalize, KF, C, BV, warps) ? 2 * BV : 32 * warps;
}

/// The layout of one chunk kernel. K: input key width; KF: feature width K'; C, BV, warps from Config;
/// elem_bytes: 2 for bf16/fp16 inputs, 4 for fp32. Pass the exact value: 16-bit kernels also hold a 16-bit
/// copy of the state (Sb), so the fp32 figure is not an upper bound for them. block_k: Config::BK (only the
/// state scan's layout depends on it); stages: Config::Stages (only the delta scan's register body uses it).
LINREC_HD constexpr ChunkLayout chunk_layout(ChunkKernel kind, int K, int KF, int C, int BV, int warps,
                                             bool vector_decay, bool delta, bool normalize, int elem_bytes = 4,
                                             int block_k = 1 << 30, int stages = 2) {
  ChunkLayout l{};
  const int eb = elem_bytes == 2 ? 2 : 4;
  l.eb = eb;
  l.kfp = padded_feature_width(KF);
  l.ld_kf = smem_row_stride(l.kfp, eb);
  l.ld_u = smem_row_stride(BV, eb);
  l.ld_c = smem_row_stride(C, eb);
  l.ld_s = smem_row_stride(BV);
  l.ld_g = smem_row_stride(l.kfp);
  l.ld_sb = smem_row_stride(l.kfp, eb);
  const bool fused = kind == ChunkKernel::Fused;
  const bool local = kind == ChunkKernel::Scan;
  const bool output = kind == ChunkKernel::Output;
  const bool gates = kind == ChunkKernel::Gates;
  const bool prep = kind == ChunkKernel::Prep;
  // The delta rule's scan contracts W with all key rows of the state (v_new = U - W S), so it has no key
  // slices; it loads W, k^ and U ready-made from the prep kernel, so it needs no gates or q/k regions.
  const bool dscan = local && delta;
  l.sb_rows = local && !delta ? scan_slice_rows(KF, block_k) : l.kfp;
  // The warp-per-columns delta scan has regions of its own (delta_warpscan_layout) and nothing else: the
  // generic scan's would double its launch size and halve its blocks per SM.
  if (dscan && delta_warpscan_applies(eb, normalize, KF, C, BV, warps)) {
    l.total = delta_warpscan_layout(KF, C, BV, stages).total;
    return l;
  }
  int at = 0;
  auto take = [&at](int nbytes) {
    const int off = at;
    at += round_up(nbytes, 16);
    return off;
  };
  l.S = take(gates || prep || (output && eb == 2) ? 0 : 4 * l.sb_rows * l.ld_s);
  l.Sb = take((local && !delta) || gates || prep || eb == 4 ? 0 : eb * BV * l.ld_sb);
  // The scan reads neither q nor q~ (gates never read q); it builds the update's operand over Kt.
  l.Q = take(gates || local || prep ? 0 : eb * C * l.ld_kf);
  l.Kt = take(gates ? 0 : eb * C * l.ld_kf);
  l.G = take(vector_decay && !dscan ? 4 * C * l.ld_g : 0);
  l.U = take(gates ? 0 : eb * C * l.ld_u);
  l.Kt2 = take(local ? eb * C * l.ld_kf : 0);
  l.U2 = take(local ? eb * C * l.ld_u : 0);
  l.G2 = take(local && vector_decay && !delta ? 4 * C * l.ld_g : 0);
  l.b2 = take(local && !delta ? 8 * C : 0);
  l.Wd = take(dscan ? eb * C * l.ld_kf : 0);
  l.Wd2 = take(dscan ? eb * C * l.ld_kf : 0);
  l.Aqk = take(local || gates || prep ? 0 : eb * C * l.ld_c);
  l.Akk = take((fused || prep) && delta ? eb * C * l.ld_c : 0);
  l.b = take(8 * C);
  l.gq = take(4 * C);
  l.gl = take(4 * C);
  l.beta = take(4 * C);
  l.blast = take(4 * l.kfp);
  l.glast = take(4 * l.kfp);
  l.glast2 = take(dscan ? 4 * l.kfp : 0);
  l.den = take(normalize && !local && !gates ? 4 * C : 0);
  l.z = take(normalize && !gates ? 4 * l.kfp : 0);
  l.misc = take(4 * 32);
  l.total = at;
  // The register-state fused path (16-bit, additive, no normalizer) carves its own
  // regions out of the same launch size: the size covers both, so codegen and the tuner need not know
  // which path a variant's feature maps select.
  if (fused && eb == 2 && !delta && !normalize) {
    const int regs = fused_regs_layout(KF, C, BV, vector_decay).total;
    if (regs > l.total) l.total = regs;
  }
  // Likewise the delta scan's register-state body (chunk_delta_scan_regs) in the scan's launch size.
  if (dscan && delta_regscan_applies(eb, normalize, KF, C, BV, warps)) {
    const int regs = delta_regscan_layout(KF, C, BV, stages).total;
    if (regs > l.total) l.total = regs;
  }
  return l;
}

/// The state-passing output kernel's value tile: 128 or 64 when wider than the config's BV, no wider than V
/// needs (the smallest power of two covering it) and when its layout fits 227 KiB (an H100 block), else BV.
/// The scans are latency bound and want narrow tiles for parallelism (the delta scan has no key slices at
/// all); the output kernel redoes the chunk's scores and reloads q/k for every V-tile, so it takes wide
/// tiles of its own.
LINREC_HD constexpr int output_block_v(int K, int KF, int C, int BV, int V, int warps, bool vector_decay,
                                       bool normalize, int elem_bytes) {
  const int cover = V <= 16 ? 16 : V <= 32 ? 32 : V <= 64 ? 64 : 128;
  const int limit = 227 * 1024;
  auto fits = [&](int bv) {
    return chunk_layout(ChunkKernel::Output, K, KF, C, bv, warps, vector_decay, false, normalize, elem_bytes).bytes() <=
           limit;
  };
  if (128 > BV && 128 <= cover && fits(128)) return 128;
  if (64 > BV && 64 <= cover && fits(64)) return 64;
  return BV;
}

/// How chunk_output_regs (output_regs.cuh) splits a chunk among its warps: warps along the C / 16 row
/// stripes (spw stripes each when there are fewer warps), and warps sharing a stripe split the value tile in
/// cg column groups of bvw columns.
struct OutputRegsSplit {
  int rs = 0, rw = 0, cg = 0, spw = 0, bvw = 0;
};
LINREC_HD constexpr OutputRegsSplit output_regs_split(int C, int BV, int warps) {
  OutputRegsSplit s{};
  s.rs = C / 16;
  s.rw = warps < s.rs ? warps : s.rs;
  s.cg = s.rw > 0 ? warps / s.rw : 0;
  s.spw = s.rw > 0 ? s.rs / s.rw : 0;
  s.bvw = s.cg > 0 ? BV / s.cg : 0;
  return s;
}
/// Whether the split covers the stripes and 16-column groups evenly.
LINREC_HD constexpr bool output_regs_split_ok(int C, int BV, int warps) {
  const OutputRegsSplit s = output_regs_split(C, BV, warps);
  return C % 16 == 0 && s.rw > 0 && s.rw * s.cg == warps && s.rs % s.rw == 0 && BV % s.cg == 0 && s.bvw % 16 == 0 &&
         s.bvw <= 128;
}

/// Whether a delta rule with a per-key decay (kda) takes the WY prep and chunk_output_regs, which go together:
/// the prep forms the chunk's scores q~ k~^T (.) e^{b_i - b_j} itself (the products need b per key, so the
/// output kernel would otherwise redo them per value tile) and writes them with q~ e^b where the phase
/// kernels keep b. 16-bit inputs, q~ and k~ raw or l2-normalised, no normalizer, C <= 64 and C <= K (the
/// scores fit the gate slot, state_passing_ws), and the output split for its value tile out_bv.
LINREC_HD constexpr bool vec_wy_applies(int elem_bytes, bool raw_q, bool raw_k, bool normalize, int K, int KF, int V,
                                        int C, int out_bv, int warps) {
  return elem_bytes == 2 && raw_q && raw_k && !normalize && KF == K && K % 16 == 0 && K <= 256 && V % 8 == 0 &&
         C % 16 == 0 && C <= 64 && C <= K && output_regs_split_ok(C, out_bv, warps);
}

/// Whether delta-rule state passing solves its chunks with the WY kernel (wy.cuh: T = (I + A)^-1 formed once,
/// W and U as tensor-core products) instead of chunk_delta_prep's slice-by-slice solve: 16-bit inputs, k~ the
/// raw row or its l2 normalisation, no normalizer, and C <= 64 (A and T in fp32, see fused_regs_applies); a
/// per-key decay as vec_wy_applies says (out_bv and warps: the output kernel's tile and warps). The kernel's
/// dispatch (chunk_fwd.cuh delta_prep_in_wy) and delta_prep_smem_bytes both ask. On the H200 the slice
/// solve took 566 us of gated_delta_rule's 1.73 ms at B = 2, T = 16k.
LINREC_HD constexpr bool wy_prep_applies(int elem_bytes, bool raw_q, bool raw_k, bool vector_decay, bool normalize,
                                         int K, int KF, int V, int C, int out_bv, int warps) {
  if (vector_decay) return vec_wy_applies(elem_bytes, raw_q, raw_k, normalize, K, KF, V, C, out_bv, warps);
  return elem_bytes == 2 && raw_k && !normalize && KF == K && K % 16 == 0 && V % 8 == 0 && C % 16 == 0 && C <= 64;
}

/// Dynamic shared memory of the delta-rule prep launch (chunk_fwd.cuh chunk_delta_prep) for either body.
LINREC_HD constexpr int delta_prep_smem_bytes(int K, int KF, int V, int C, int warps, bool raw_q, bool raw_k,
                                              bool vector_decay, bool normalize, int elem_bytes, int out_bv) {
  return wy_prep_applies(elem_bytes, raw_q, raw_k, vector_decay, normalize, K, KF, V, C, out_bv, warps)
             ? wy_layout(K, V, C, warps, vector_decay).total
             : chunk_layout(ChunkKernel::Prep, K, KF, C, delta_prep_block_v(KF, V), warps, vector_decay, true,
                            normalize, elem_bytes)
                   .bytes();
}

/// Whether delta-rule state passing writes its outputs with chunk_output_regs (the kernel's dispatch and
/// output_smem_bytes both ask): 16-bit inputs, q~ and k~ the raw rows or their l2 normalisation, no
/// normalizer, and a split whose warps cover the stripes and 16-column groups evenly; a per-key decay only
/// with the prep that forms the scores (vec_wy_applies). BV is the output kernel's value tile
/// (output_block_v). The phase kernel's output took 574 us of gated_delta_rule's 1.73 ms at B = 2, T = 16k
/// on the H200 (12 % occupancy, six barrier-separated phases).
LINREC_HD constexpr bool output_regs_applies(int elem_bytes, bool delta, bool raw_q, bool raw_k, bool vector_decay,
                                             bool normalize, int K, int KF, int V, int C, int BV, int warps) {
  if (vector_decay) return delta && vec_wy_applies(elem_bytes, raw_q, raw_k, normalize, K, KF, V, C, BV, warps);
  return elem_bytes == 2 && delta && raw_q && raw_k && !normalize && KF == K && K % 16 == 0 && K <= 256 &&
         V % 8 == 0 && output_regs_split_ok(C, BV, warps);
}
/// Its shared memory: q~ and k~ ([C][K]), the chunk's v_new ([C][BV]), the state entering the chunk for the
/// value tile ([BV][K], as the scan stored it), b ([C] fp32) and first_chunk_index's block sum. With a
/// per-key decay q~'s tile holds q~ e^b and k~'s the prep's scores ([C][C + 8]: C <= K, vec_wy_applies).
struct OutputRegsLayout {
  int ld_k = 0, ld_v = 0, q = 0, k = 0, v = 0, s = 0, g = 0, misc = 0, total = 0;
};
LINREC_HD constexpr OutputRegsLayout output_regs_layout(int K, int C, int BV, int warps) {
  OutputRegsLayout l{};
  l.ld_k = smem_row_stride(K, 2);
  l.ld_v = smem_row_stride(BV, 2);
  l.q = 0;
  l.k = l.q + round_up(2 * C * l.ld_k, 16);
  l.v = l.k + round_up(2 * C * l.ld_k, 16);
  l.s = l.v + round_up(2 * C * l.ld_v, 16);
  l.g = l.s + round_up(2 * BV * l.ld_k, 16);
  l.misc = l.g + round_up(4 * C, 16);
  l.total = l.misc + 8 * warps;
  return l;
}
/// Dynamic shared memory of the state-passing output launch (chunk_fwd.cuh chunk_output) for either body; BV
/// is output_block_v's tile.
LINREC_HD constexpr int output_smem_bytes(int K, int KF, int V, int C, int BV, int warps, bool delta, bool raw_q,
                                          bool raw_k, bool vector_decay, bool normalize, int elem_bytes) {
  return output_regs_applies(elem_bytes, delta, raw_q, raw_k, vector_decay, normalize, K, KF, V, C, BV, warps)
             ? output_regs_layout(K, C, BV, warps).total
             : chunk_layout(ChunkKernel::Output, K, KF, C, BV, warps, vector_decay, delta, normalize, elem_bytes)
                   .bytes();
}

/// Dynamic shared memory bytes of chunk_fwd_fused (elem_bytes as for chunk_layout).
LINREC_HD constexpr int fused_smem_bytes(int K, int KF, int C, int BV, int warps, bool vector_decay, bool delta,
                                         bool normalize, int elem_bytes = 4) {
  return chunk_layout(ChunkKernel::Fused, K, KF, C, BV, warps, vector_decay, delta, normalize, elem_bytes).bytes();
}

/// Where the state-passing workspace FwdParams::ws keeps what (byte offsets, each 16-byte aligned).
/// nct = num_chunks_total; gc = global chunk index = (chunks of the sequences before this one) + chunk index
/// within the sequence; a chunk's slot is gc * H + h.
///   states [nct][H][V][K'] in the input type (fp32 for fp32 inputs): the scan writes the state entering
///                          each chunk, rounded to the type the output kernel's products consume,
///                          transposed (the output kernel's B operand Sb is [BV][K'p]);
///   zs     [nct][H][K'] fp32, normalizer only: the normalizer state entering each chunk;
///   gates  [nct][H] x gate_ws_chunk_bytes: the gate pre-pass writes each chunk's within-chunk cumsum b
///                          (rows past a sequence's end repeat b_last), which the scan and the output
///                          kernel load instead of evaluating the gate expressions. Where vec_wy_applies
///                          (kda on the WY prep) the slot holds instead q~ e^b ([C][K], input type) and
///                          then the chunk's scores q~ k~^T (.) e^{b_i - b_j} ([C][C], input type; blocks
///                          above the diagonal unwritten), 2 C (K + C) <= 4 C K bytes.
/// Delta rules only (the prep kernel writes them, the scan reads them):
///   wy     [nct][H][C][K'p] input type: W = (I + Akk)^-1 diag(beta) (k~ Gamma);
///   kh     [nct][H][C][K'p] input type: k^ = k~ exp(b_last - b), the state update's operand;
///   vn     [nct][H][C][Vp] input type (Vp = V rounded up to 16; columns past V are 0): U = (I + Akk)^-1
///                          diag(beta) v, which the scan replaces in place by v_new = U - W S (what the
///                          output kernel reads as its values);
///   gl     [nct][H][K'p] fp32, with a decay: Gamma_last per key dim (scalar decays: every entry).
struct StatePassingWs {
  long long states = 0, zs = 0, gates = 0, gate_chunk = 0;
  long long wy = 0, kh = 0, vn = 0, gl = 0, wy_chunk = 0, vn_chunk = 0, vn_ld = 0, gl_chunk = 0;
  /// Delta rules (sp_chunk_flags_apply), u64 each: flags, one per chunk slot and 16-column group of V
  /// (flag_groups = vn_ld / 16), which the warp scan sets once that group's S_c and v_new are stored and
  /// the output kernel waits for; prep_flags, one per chunk slot, which the prep sets once the slot's W,
  /// k^, U, Gamma_last and gates are stored and the scan waits for. They hold FwdParams::epoch.
  long long flags = 0, flag_groups = 0, prep_flags = 0;
  long long total = 0;
  LINREC_HD constexpr long long bytes() const { return total; }
};

/// The workspace layout for nct chunks in total; elem_bytes as for chunk_layout. Codegen's workspace
/// formula (KernelLayout.cpp) spells out the same sum.
LINREC_HD constexpr StatePassingWs state_passing_ws(long long nct, int H, int KF, int V, bool normalize, int elem_bytes,
                                                    int C = 0, bool has_decay = false, bool vector_decay = false,
                                                    bool delta = false) {
  StatePassingWs w{};
  const long long n = nct * H * KF;
  const int eb = elem_bytes == 2 ? 2 : 4;
  auto r16 = [](long long x) { return (x + 15) / 16 * 16; };
  w.states = 0;
  w.zs = r16(n * V * eb);
  w.gates = w.zs + r16(normalize ? 4 * n : 0);
  w.gate_chunk = gate_ws_chunk_bytes(C, KF, has_decay, vector_decay, elem_bytes);
  w.wy = w.gates + nct * H * w.gate_chunk;
  w.vn_ld = round_up(V, 16);
  w.wy_chunk = delta ? (long long)eb * C * padded_feature_width(KF) : 0;
  w.vn_chunk = delta ? (long long)eb * C * w.vn_ld : 0;
  w.gl_chunk = delta && has_decay ? 4LL * padded_feature_width(KF) : 0;
  w.kh = w.wy + nct * H * w.wy_chunk;
  w.vn = w.kh + nct * H * w.wy_chunk;
  w.gl = w.vn + nct * H * w.vn_chunk;
  w.flags = w.gl + nct * H * w.gl_chunk;
  w.flag_groups = delta ? w.vn_ld / 16 : 0;
  w.prep_flags = w.flags + 8 * nct * H * w.flag_groups;
  w.total = w.prep_flags + (delta ? 8 * nct * H : 0);
  return w;
}

/// Whether delta-rule state passing hands each chunk from kernel to kernel through the workspace's flags
/// (StatePassingWs::flags, prep_flags): the prep flags its chunk, the warp scan waits for those and flags
/// its 16-column groups, the register output kernel waits for its tile's groups. The kernels may then run
/// side by side (programmatic stream serialization, sm_90): at B = 2, T = 16k the scan keeps 64 blocks
/// busy for most of gated_delta_rule's forward while the rest of the GPU idles. out_bv: the output
/// kernel's value tile (output_block_v).
LINREC_HD constexpr bool sp_chunk_flags_apply(int elem_bytes, bool delta, bool raw_q, bool raw_k, bool vector_decay,
                                              bool normalize, int K, int KF, int V, int C, int BV, int out_bv,
                                              int warps) {
  return delta && delta_warpscan_applies(elem_bytes, normalize, KF, C, BV, warps) &&
         output_regs_applies(elem_bytes, delta, raw_q, raw_k, vector_decay, normalize, K, KF, V, C, out_bv, warps);
}

/// What decode_step keeps on chip (offsets in floats): q~, k~, the per-dim decay factors, one warp's raw
/// q/k rows, the cross-row-group partial sums (two per state element column handled by a thread group of
/// four columns: 2 * 4 * threads floats) and 32 floats for scalars.
struct DecodeLayout {
  int qf = 0, kf = 0, alpha = 0, scratch = 0, red = 0, misc = 0, floats = 0;
  LINREC_HD constexpr int bytes() const { return floats * 4; }
};

/// The layout of decode_step. K: input key width; KF: feature width; warps from Config.
LINREC_HD constexpr DecodeLayout decode_layout(int K, int KF, int warps) {
  DecodeLayout l{};
  const int kfp = round_up(padded_feature_width(KF), 4);
  l.qf = 0;
  l.kf = l.qf + kfp;
  l.alpha = l.kf + kfp;
  l.scratch = l.alpha + kfp;
  l.red = l.scratch + 2 * round_up(K, 32);
  l.misc = l.red + 2 * 4 * warps * 32;
  l.floats = l.misc + 32;
  return l;
}

/// Dynamic shared memory bytes of decode_step.
LINREC_HD constexpr int decode_smem_bytes(int K, int KF, int warps) {
  return decode_layout(K, KF, warps).bytes();
}

}  // namespace kern
}  // namespace linrec
