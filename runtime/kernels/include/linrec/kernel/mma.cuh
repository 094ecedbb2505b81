// linrec/kernel/mma.cuh: warp-tile matrix products: mma.sync m16n8k16 (bf16/fp16, fp32 accumulate) or fp32 FMA.
//
// A warp owns an output tile of (16*MT) x (8*NT) in the m16n8 accumulator layout; both the tensor-core and
// the SIMT path use that layout, so epilogues are shared. Operands come through views: an A-view gives
// a(m, k) as float (m local to the tile) and a.pair(m, k), the 32-bit register of elements (m, k), (m, k+1)
// in the input type; a B-view gives b(k, n) and b.pair(k, n) for (k, n), (k+1, n). Views over tiles stored
// contiguously along k (RowsView, ColsView) load a pair with one 32-bit shared-memory access and no
// conversion; FnA/FnB views compute elements (decay factors applied on the fly) and pack them. The SIMT
// path is plain fp32 FMA (no TF32): it is the fp32 inputs' path.
#pragma once

#include "linrec/kernel/dtype.cuh"
#include "linrec/kernel/warp.cuh"

namespace linrec {
namespace kern {

/// Accumulators of one warp tile (16*MT) x (8*NT). Lane l holds, for each m16n8 sub-tile (mt, nt),
/// elements r = 0..3 at row mt*16 + l/4 + 8*(r/2), column nt*8 + 2*(l%4) + r%2.
template <int MT, int NT>
struct WarpAcc {
  float c[MT][NT][4];

  LINREC_DEV void zero() {
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
      for (int j = 0; j < NT; ++j)
#pragma unroll
        for (int r = 0; r < 4; ++r) c[i][j][r] = 0.0f;
  }

  /// f(m, n, x0&, x1&) for each pair of adjacent columns (n even) of one row: the fragment holds columns
  /// 2t and 2t + 1 together, so callers can store them with one 32-bit (or 64-bit) store.
  template <class F>
  LINREC_DEV void for_each_pair(F&& f) {
    const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
      for (int j = 0; j < NT; ++j)
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) f(i * 16 + g + 8 * hf, j * 8 + 2 * t, c[i][j][2 * hf], c[i][j][2 * hf + 1]);
  }
  /// Calls f(m, n, value&) for every element this lane holds (tile-local coordinates).
  template <class F>
  LINREC_DEV void for_each(F&& f) {
    for_each_pair([&](int m, int n, float& x0, float& x1) {
      f(m, n, x0);
      f(m, n + 1, x1);
    });
  }

};

#ifdef LINREC_KERNEL_EMULATION
/// The emulator gathers fragments element by element (pair()); it has no ldmatrix.
constexpr bool kHaveLdmatrix = false;
#else
constexpr bool kHaveLdmatrix = true;
/// The shared-state-space address of a generic pointer into shared memory.
LINREC_DEV unsigned smem_addr(const void* p) {
  unsigned a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}
/// Four 8x8 16-bit matrices; lane l gives the address of row l % 8 of matrix l / 8 (16-byte aligned).
LINREC_DEV void ldsm_x4(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
/// As ldsm_x4, each matrix transposed.
LINREC_DEV void ldsm_x4_trans(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
/// ldsm_x4 / ldsm_x4_trans at a shared-state-space address: a kernel that keeps one 32-bit base per
/// region and adds compile-time offsets spends no address arithmetic per fragment (the generic-pointer
/// forms convert every address).
LINREC_DEV void ldsm_x4_at(unsigned (&r)[4], unsigned a) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
LINREC_DEV void ldsm_x4_trans_at(unsigned (&r)[4], unsigned a) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
/// stmatrix (sm_90) of four 8x8 matrices at a shared-state-space address, plain or transposed.
LINREC_DEV void stsm_x4_at(const unsigned (&r)[4], unsigned a) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1,%2,%3,%4};\n" ::"r"(a), "r"(r[0]), "r"(r[1]),
               "r"(r[2]), "r"(r[3])
               : "memory");
}
LINREC_DEV void stsm_x4_trans_at(const unsigned (&r)[4], unsigned a) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1,%2,%3,%4};\n" ::"r"(a), "r"(r[0]),
               "r"(r[1]), "r"(r[2]), "r"(r[3])
               : "memory");
}
#endif
/// Two 8x8 matrices (lanes 0-15 give the row addresses).
LINREC_DEV void ldsm_x2(unsigned (&r)[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(smem_addr(p)));
}
#endif

/// Stores a 16 x 16 tile held as an A fragment (lane (g, t): a[0] rows g, cols 2t, 2t + 1; a[1] rows g + 8;
/// a[2] and a[3] columns + 8) row-major at p (ld elements, 16-byte aligned rows): one stmatrix on sm_90,
/// else each lane's four pairs.
LINREC_DEV void store_frag_a(const unsigned (&a)[4], unsigned short* p, int ld) {
#if !defined(LINREC_KERNEL_EMULATION) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const int l = lane_id();
  const unsigned short* q = p + ((l & 7) + ((l >> 3) & 1) * 8) * ld + (l >> 4) * 8;
  asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1,%2,%3,%4};\n" ::"r"(smem_addr(q)), "r"(a[0]),
               "r"(a[1]), "r"(a[2]), "r"(a[3])
               : "memory");
#else
  const int g = lane_id() >> 2, t = lane_id() & 3;
  *reinterpret_cast<unsigned*>(p + g * ld + 2 * t) = a[0];
  *reinterpret_cast<unsigned*>(p + (g + 8) * ld + 2 * t) = a[1];
  *reinterpret_cast<unsigned*>(p + g * ld + 8 + 2 * t) = a[2];
  *reinterpret_cast<unsigned*>(p + (g + 8) * ld + 8 + 2 * t) = a[3];
#endif
}
/// As store_frag_a, transposed: element (m, k) of the fragment lands at p[k * ld + m].
LINREC_DEV void store_frag_a_trans(const unsigned (&a)[4], unsigned short* p, int ld) {
#if !defined(LINREC_KERNEL_EMULATION) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // Matrix m = a[m] holds fragment rows (m & 1) * 8.., columns (m >> 1) * 8..: transposed, rows (m >> 1) * 8..
  // and columns (m & 1) * 8.. of p; lane l gives row l % 8 of matrix l / 8.
  const int l = lane_id(), m = l >> 3;
  const unsigned short* q = p + ((l & 7) + (m >> 1) * 8) * ld + (m & 1) * 8;
  asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1,%2,%3,%4};\n" ::"r"(smem_addr(q)),
               "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3])
               : "memory");
#else
  const int g = lane_id() >> 2, t = lane_id() & 3;
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int m = g + 8 * (r & 1), k = 2 * t + 8 * (r >> 1);
    p[k * ld + m] = (unsigned short)(a[r] & 0xffffu);
    p[(k + 1) * ld + m] = (unsigned short)(a[r] >> 16);
  }
#endif
}

/// A-operand view of a row-major tile: element (m, k) = p[m * ld + k]; ld and k even for pair(). With
/// 16-bit elements, p and ld * 2 bytes 16-byte aligned, load_a() fetches a 16x16 fragment with one ldmatrix.
template <DType D>
struct RowsView {
  static constexpr bool kLdsm = kHaveLdmatrix && D != DType::FP32;
  const typename Storage<D>::type* p;
  int ld;
  LINREC_DEV float operator()(int m, int k) const { return to_float<D>(p[m * ld + k]); }
  LINREC_DEV unsigned pair(int m, int k) const { return *reinterpret_cast<const unsigned*>(p + m * ld + k); }
#ifndef LINREC_KERNEL_EMULATION
  /// The m16n8k16 A fragment of rows m0.., columns k0..
  LINREC_DEV void load_a(unsigned (&a)[4], int m0, int k0) const {
    const int l = lane_id();
    ldsm_x4(a, p + (m0 + (l & 15)) * ld + k0 + ((l >> 4) << 3));
  }
#endif
};

/// A-operand view of a tile stored transposed (by k): element (m, k) = p[k * ld + m]. The A fragment comes
/// from ldmatrix.trans, so an operand kept as [token][dim] (k~ for the state update) needs no transposed copy.
template <DType D>
struct TransRowsView {
  static constexpr bool kLdsm = kHaveLdmatrix && D != DType::FP32;
  const typename Storage<D>::type* p;
  int ld;
  LINREC_DEV float operator()(int m, int k) const { return to_float<D>(p[k * ld + m]); }
  LINREC_DEV unsigned pair(int m, int k) const {
    using E = typename Storage<D>::type;
    if constexpr (D == DType::FP32) {
      return 0u;  // the SIMT path reads elements, never pairs
    } else {
      const E lo = p[k * ld + m], hi = p[(k + 1) * ld + m];
      return (unsigned)lo | ((unsigned)hi << 16);
    }
  }
#ifndef LINREC_KERNEL_EMULATION
  LINREC_DEV void load_a(unsigned (&a)[4], int m0, int k0) const {
    const int l = lane_id();
    ldsm_x4_trans(a, p + (k0 + (l & 7) + ((l >> 4) << 3)) * ld + m0 + (((l >> 3) & 1) << 3));
  }
#endif
};

/// B-operand view of a tile stored by columns: element (k, n) = p[n * ld + k]; ld and k even for pair().
/// load_b2() fetches the fragments of two adjacent n8 tiles with one ldmatrix (alignment as RowsView).
template <DType D>
struct ColsView {
  static constexpr bool kLdsm = kHaveLdmatrix && D != DType::FP32;
  const typename Storage<D>::type* p;
  int ld;
  LINREC_DEV float operator()(int k, int n) const { return to_float<D>(p[n * ld + k]); }
  LINREC_DEV unsigned pair(int k, int n) const { return *reinterpret_cast<const unsigned*>(p + n * ld + k); }
#ifndef LINREC_KERNEL_EMULATION
  /// B fragments of columns n0..n0+7 (b[0], b[1]) and n0+8..n0+15 (b[2], b[3]), rows k0..k0+15.
  LINREC_DEV void load_b2(unsigned (&b)[4], int k0, int n0) const {
    const int l = lane_id();
    ldsm_x4(b, p + (n0 + (l & 7) + ((l >> 4) << 3)) * ld + k0 + (((l >> 3) & 1) << 3));
  }
  LINREC_DEV void load_b1(unsigned (&b)[2], int k0, int n0) const {
    const int l = lane_id();
    ldsm_x2(b, p + (n0 + (l & 7)) * ld + k0 + (((l >> 3) & 1) << 3));
  }
#endif
};

/// B-operand view of a tile stored by rows of k: element (k, n) = p[k * ld + n]. Fragments come from
/// ldmatrix.trans, so values kept as [token][column] (16-byte rows, loaded without a transpose) feed A U.
template <DType D>
struct RowsBView {
  static constexpr bool kLdsm = kHaveLdmatrix && D != DType::FP32;
  const typename Storage<D>::type* p;
  int ld;
  LINREC_DEV float operator()(int k, int n) const { return to_float<D>(p[k * ld + n]); }
  LINREC_DEV unsigned pair(int k, int n) const {
    if constexpr (D == DType::FP32) {
      return 0u;  // the SIMT path reads elements, never pairs
    } else {
      return (unsigned)p[k * ld + n] | ((unsigned)p[(k + 1) * ld + n] << 16);
    }
  }
#ifndef LINREC_KERNEL_EMULATION
  LINREC_DEV void load_b2(unsigned (&b)[4], int k0, int n0) const {
    const int l = lane_id();
    ldsm_x4_trans(b, p + (k0 + (l & 7) + (((l >> 3) & 1) << 3)) * ld + n0 + ((l >> 4) << 3));
  }
  LINREC_DEV void load_b1(unsigned (&b)[2], int k0, int n0) const {
    const int l = lane_id();
    unsigned r[4];
    // x4 with the upper two matrices repeating the lower two keeps every lane's address valid.
    ldsm_x4_trans(r, p + (k0 + (l & 7) + (((l >> 3) & 1) << 3)) * ld + n0);
    b[0] = r[0];
    b[1] = r[1];
  }
#endif
};

/// A-operand view computing element (m, k) = f(m, k).
template <DType D, class F>
struct FnA {
  static constexpr bool kLdsm = false;
  F f;
  LINREC_DEV float operator()(int m, int k) const { return f(m, k); }
  LINREC_DEV unsigned pair(int m, int k) const { return pack2<D>(f(m, k), f(m, k + 1)); }
};
template <DType D, class F>
LINREC_DEV FnA<D, F> fn_a(F f) {
  return FnA<D, F>{f};
}

/// B-operand view computing element (k, n) = f(k, n).
template <DType D, class F>
struct FnB {
  static constexpr bool kLdsm = false;
  F f;
  LINREC_DEV float operator()(int k, int n) const { return f(k, n); }
  LINREC_DEV unsigned pair(int k, int n) const { return pack2<D>(f(k, n), f(k + 1, n)); }
};
template <DType D, class F>
LINREC_DEV FnB<D, F> fn_b(F f) {
  return FnB<D, F>{f};
}

#ifdef LINREC_KERNEL_EMULATION
/// d += a * b for one m16n8k16 tile (emulator: gathers the warp's fragments).
template <DType D>
LINREC_DEV void mma_m16n8k16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  linrec_emu_mma_m16n8k16(d, a, b, D == DType::BF16);
}
#else
/// d += a * b for one m16n8k16 tile: A row-major 16x16, B column-major 16x8, fp32 accumulate.
template <DType D>
LINREC_DEV void mma_m16n8k16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  if constexpr (D == DType::BF16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}
#endif

/// The m16n8k16 A fragment of rows m0.., columns k0.. of an A-view: one ldmatrix where the view allows it,
/// else gathered pair by pair (element layout as in WarpAcc: rows g, g + 8; columns 2t, 2t + 8).
template <class VA>
LINREC_DEV void frag_a(const VA& a, unsigned (&af)[4], int m0, int k0) {
  if constexpr (VA::kLdsm) {
#ifndef LINREC_KERNEL_EMULATION
    a.load_a(af, m0, k0);
#endif
  } else {
    const int m = m0 + (lane_id() >> 2), k = k0 + 2 * (lane_id() & 3);
    af[0] = a.pair(m, k);
    af[1] = a.pair(m + 8, k);
    af[2] = a.pair(m, k + 8);
    af[3] = a.pair(m + 8, k + 8);
  }
}

/// The B fragments of rows k0.. (16) for columns n0.. (bf[0], bf[1]) and n0 + 8.. (bf[2], bf[3]).
template <class VB>
LINREC_DEV void frag_b2(const VB& b, unsigned (&bf)[4], int k0, int n0) {
  if constexpr (VB::kLdsm) {
#ifndef LINREC_KERNEL_EMULATION
    b.load_b2(bf, k0, n0);
#endif
  } else {
    const int n = n0 + (lane_id() >> 2), k = k0 + 2 * (lane_id() & 3);
    bf[0] = b.pair(k, n);
    bf[1] = b.pair(k + 8, n);
    bf[2] = b.pair(k, n + 8);
    bf[3] = b.pair(k + 8, n + 8);
  }
}

/// The B fragment of rows k0.. (16) for columns n0.. (one n8 tile).
template <class VB>
LINREC_DEV void frag_b1(const VB& b, unsigned (&bf)[2], int k0, int n0) {
  if constexpr (VB::kLdsm) {
#ifndef LINREC_KERNEL_EMULATION
    b.load_b1(bf, k0, n0);
#endif
  } else {
    const int n = n0 + (lane_id() >> 2), k = k0 + 2 * (lane_id() & 3);
    bf[0] = b.pair(k, n);
    bf[1] = b.pair(k + 8, n);
  }
}

/// A packed pair of 16-bit elements times (lo, hi), repacked (decay factors applied to loaded fragments).
template <DType D>
LINREC_DEV unsigned scale_pair(unsigned x, float lo, float hi) {
  using E = typename Storage<D>::type;
  return pack2<D>(to_float<D>((E)(x & 0xffffu)) * lo, to_float<D>((E)(x >> 16)) * hi);
}

/// d += a * b over two adjacent n8 tiles (b as frag_b2 returns it).
template <DType D>
LINREC_DEV void mma_pair(float (&d0)[4], float (&d1)[4], const unsigned (&a)[4], const unsigned (&b)[4]) {
  const unsigned b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
  mma_m16n8k16<D>(d0, a, b0);
  mma_m16n8k16<D>(d1, a, b1);
}

/// acc += A[:, kb:ke] * B[kb:ke, :] for the warp's tile. With the tensor cores (D != FP32) kb and ke must be
/// multiples of 16 and the views must give 0 wherever the operand is padding.
template <DType D, int MT, int NT, class VA, class VB>
LINREC_DEV void warp_gemm(WarpAcc<MT, NT>& acc, int kb, int ke, const VA& a, const VB& b) {
  const int g = lane_id() >> 2, t = lane_id() & 3;
  if constexpr (D == DType::FP32) {
#pragma unroll 4
    for (int k = kb; k < ke; ++k) {
      float av[MT][2], bv[NT][2];
#pragma unroll
      for (int i = 0; i < MT; ++i) {
        av[i][0] = a(i * 16 + g, k);
        av[i][1] = a(i * 16 + g + 8, k);
      }
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        bv[j][0] = b(k, j * 8 + 2 * t);
        bv[j][1] = b(k, j * 8 + 2 * t + 1);
      }
#pragma unroll
      for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
          for (int r = 0; r < 4; ++r) acc.c[i][j][r] = fmaf(av[i][r >> 1], bv[j][r & 1], acc.c[i][j][r]);
    }
  } else {
    if (kb >= ke) return;
    // Fragments for step k0 + 16 are fetched before the products of step k0 are issued (two register
    // sets, the loop unrolled by two so that neither is indexed dynamically), so shared-memory latency
    // overlaps the tensor cores instead of stalling every step.
    unsigned a0[MT][4], b0[NT][2], a1[MT][4], b1[NT][2];
    auto load = [&](int k0, unsigned(&af)[MT][4], unsigned(&bf)[NT][2]) {
#pragma unroll
      for (int i = 0; i < MT; ++i) frag_a(a, af[i], i * 16, k0);
      if constexpr (VB::kLdsm) {
#pragma unroll
        for (int j = 0; j + 1 < NT; j += 2) {
          unsigned r[4];
          frag_b2(b, r, k0, j * 8);
          bf[j][0] = r[0];
          bf[j][1] = r[1];
          bf[j + 1][0] = r[2];
          bf[j + 1][1] = r[3];
        }
        if constexpr (NT % 2 == 1) frag_b1(b, bf[NT - 1], k0, (NT - 1) * 8);
      } else {
        // One n8 tile at a time: computed views (FnB) evaluate their elements in this order.
#pragma unroll
        for (int j = 0; j < NT; ++j) frag_b1(b, bf[j], k0, j * 8);
      }
    };
    auto mma = [&](const unsigned(&af)[MT][4], const unsigned(&bf)[NT][2]) {
#pragma unroll
      for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NT; ++j) mma_m16n8k16<D>(acc.c[i][j], af[i], bf[j]);
    };
    load(kb, a0, b0);
    int k0 = kb;
#pragma unroll 1
    for (; k0 + 16 < ke; k0 += 32) {
      load(k0 + 16, a1, b1);
      mma(a0, b0);
      if (k0 + 32 < ke) load(k0 + 32, a0, b0);
      mma(a1, b1);
    }
    if (k0 < ke) mma(a0, b0);
  }
}

/// A warp-tile shape for an M x N output shared by `warps` warps: the largest of 32x32, 32x16, 16x32,
/// 16x16, 16x8 that divides the output and still gives every warp a tile, else the smallest that divides.
struct TileShape {
  int MT, NT;
};
LINREC_HD constexpr TileShape pick_tile(int M, int N, int warps) {
  constexpr int cand[5][2] = {{2, 4}, {2, 2}, {1, 4}, {1, 2}, {1, 1}};
  for (int i = 0; i < 5; ++i) {
    const int wm = 16 * cand[i][0], wn = 8 * cand[i][1];
    if (M % wm == 0 && N % wn == 0 && (M / wm) * (N / wn) >= warps) return {cand[i][0], cand[i][1]};
  }
  for (int i = 4; i >= 0; --i) {
    const int wm = 16 * cand[i][0], wn = 8 * cand[i][1];
    if (M % wm == 0 && N % wn == 0) return {cand[i][0], cand[i][1]};
  }
  return {1, 1};
}

/// Calls f(m0, n0) for each (16*MT) x (8*NT) tile of an M x N output this warp owns (round robin).
template <int M, int N, int MT, int NT, int Warps, class F>
LINREC_DEV void for_each_warp_tile(F&& f) {
  static_assert(M % (16 * MT) == 0 && N % (8 * NT) == 0, "warp tile must divide the output");
  constexpr int tiles_n = N / (8 * NT);
  constexpr int tiles = (M / (16 * MT)) * tiles_n;
#pragma unroll 1
  for (int w = warp_id(); w < tiles; w += Warps) f((w / tiles_n) * 16 * MT, (w % tiles_n) * 8 * NT);
}

}  // namespace kern
}  // namespace linrec
