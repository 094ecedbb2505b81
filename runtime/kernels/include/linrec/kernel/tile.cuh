// linrec/kernel/tile.cuh: block-wide tile loads from global memory into shared-memory tiles (16-byte, many in flight).
#pragma once

#include "linrec/kernel/dtype.cuh"
#include "linrec/kernel/warp.cuh"

namespace linrec {
namespace kern {

/// Elements of D in one 16-byte vector.
template <DType D>
constexpr int kVecElems = D == DType::FP32 ? 4 : 8;

/// Loads a ROWS x COLS tile of a row-major global tensor of D (element (r, c) at off0 + r * rs + c) into
/// shared memory as stored elements (no conversion): dst[r * ld + c], or dst[c * ld + r] when kTransposed.
/// All NT threads take part; rows >= rows_valid and columns >= cols_valid read as 0.
/// kVec16: the caller guarantees 16-byte alignment (off0, rs, COLS and cols_valid multiples of
/// kVecElems<D>; ld * sizeof(element) a multiple of 16 unless kTransposed); then every global load is 16
/// bytes and each thread keeps up to 8 in flight before it stores anything, which hides the latency.
template <DType D, int ROWS, int COLS, int NT, bool kVec16, bool kTransposed>
LINREC_DEV void load_tile(const void* src, long long off0, long long rs, int rows_valid, int cols_valid,
                          typename Storage<D>::type* dst, int ld) {
  using E = typename Storage<D>::type;
  constexpr int VE = kVec16 ? kVecElems<D> : 1;
  static_assert(COLS % VE == 0, "load_tile: COLS must be a multiple of the vector width");
  constexpr int PR = COLS / VE;  // vectors per row
  constexpr int TOTAL = ROWS * PR;
  constexpr int BATCH = 8;
  const int tid = (int)threadIdx.x;
  const E* s = static_cast<const E*>(src);
#pragma unroll 1
  for (int base = 0; base < TOTAL; base += NT * BATCH) {
    if constexpr (kVec16) {
      uint4 raw[BATCH];
#pragma unroll
      for (int b = 0; b < BATCH; ++b) {
        const int e = base + b * NT + tid;
        const int r = e / PR, c = (e - r * PR) * VE;
        raw[b] = make_uint4(0u, 0u, 0u, 0u);
        if (e < TOTAL && r < rows_valid && c < cols_valid)
          raw[b] = *reinterpret_cast<const uint4*>(s + off0 + r * rs + c);
      }
#pragma unroll
      for (int b = 0; b < BATCH; ++b) {
        const int e = base + b * NT + tid;
        if (e < TOTAL) {
          const int r = e / PR, c = (e - r * PR) * VE;
          if constexpr (kTransposed) {
            const unsigned w[4] = {raw[b].x, raw[b].y, raw[b].z, raw[b].w};
#pragma unroll
            for (int j = 0; j < VE; ++j) {
              if constexpr (D == DType::FP32) {
                dst[(c + j) * ld + r] = __uint_as_float(w[j]);
              } else {
                dst[(c + j) * ld + r] = (E)((j & 1) ? (w[j >> 1] >> 16) : (w[j >> 1] & 0xffffu));
              }
            }
          } else {
            *reinterpret_cast<uint4*>(dst + r * ld + c) = raw[b];
          }
        }
      }
    } else {
      E raw[BATCH];
#pragma unroll
      for (int b = 0; b < BATCH; ++b) {
        const int e = base + b * NT + tid;
        const int r = e / COLS, c = e - r * COLS;
        raw[b] = (e < TOTAL && r < rows_valid && c < cols_valid) ? s[off0 + r * rs + c] : E(0);
      }
#pragma unroll
      for (int b = 0; b < BATCH; ++b) {
        const int e = base + b * NT + tid;
        if (e < TOTAL) {
          const int r = e / COLS, c = e - r * COLS;
          dst[kTransposed ? c * ld + r : r * ld + c] = raw[b];
        }
      }
    }
  }
}


/// Asynchronous 16-byte global -> shared copies (cp.async.cg, sm_80+): the data lands while the block works
/// on something else; cp_async_wait_all() then a barrier make it visible. `valid` false writes 16 zero
/// bytes and reads nothing (src must still be a valid address). The emulator copies at once.
LINREC_DEV void cp_async16(void* dst, const void* src, bool valid) {
#ifdef LINREC_KERNEL_EMULATION
  if (valid)
    std::memcpy(dst, src, 16);
  else
    std::memset(dst, 0, 16);
#else
  // The intrinsic (not a volatile asm cvta) lets the compiler read the shared window's base once per kernel.
  const unsigned a = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(a), "l"(src), "r"(valid ? 16 : 0) : "memory");
#endif
}
LINREC_DEV void cp_async_commit() {
#ifndef LINREC_KERNEL_EMULATION
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
LINREC_DEV void cp_async_wait_all() {
#ifndef LINREC_KERNEL_EMULATION
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

/// Waits until at most N of this thread's most recent cp.async groups are still in flight (a pipeline
/// of N + 1 stages keeps the next N chunks' copies going while it waits for the oldest).
template <int N>
LINREC_DEV void cp_async_wait_group() {
#ifndef LINREC_KERNEL_EMULATION
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

/// load_tile's 16-byte case issued as cp.async copies (same contract, kVec16 alignment required); the
/// caller commits, waits and synchronises before reading dst.
template <DType D, int ROWS, int COLS, int NT>
LINREC_DEV void load_tile_async(const void* src, long long off0, long long rs, int rows_valid, int cols_valid,
                                typename Storage<D>::type* dst, int ld) {
  using E = typename Storage<D>::type;
  constexpr int VE = kVecElems<D>;
  static_assert(COLS % VE == 0, "load_tile_async: COLS must be a multiple of the vector width");
  constexpr int PR = COLS / VE, TOTAL = ROWS * PR;
  const E* s = static_cast<const E*>(src);
#pragma unroll 4
  for (int e = (int)threadIdx.x; e < TOTAL; e += NT) {
    const int r = e / PR, c = (e - r * PR) * VE;
    const bool ok = r < rows_valid && c < cols_valid;
    cp_async16(dst + r * ld + c, ok ? s + off0 + r * rs + c : s, ok);
  }
}

/// load_tile_async for tiles whose every row is valid and whose vectors divide evenly among the NT threads
/// (ROWS * COLS / vec a multiple of NT, NT a multiple of COLS / vec): each thread keeps its column, and
/// its copies sit at compile-time offsets from one address (no per-vector index arithmetic or bounds
/// checks). cols_valid: columns past it are zero-filled. Other shapes go to load_tile_async.
template <DType D, int ROWS, int COLS, int NT>
LINREC_DEV void load_rows_async(const void* src, long long off0, long long rs, int cols_valid,
                                typename Storage<D>::type* dst, int ld) {
  using E = typename Storage<D>::type;
  constexpr int VE = kVecElems<D>, PR = COLS / VE, TOTAL = ROWS * PR;
  static_assert(COLS % VE == 0, "load_rows_async: COLS must be a multiple of the vector width");
  if constexpr (TOTAL % NT == 0 && NT % PR == 0) {
    constexpr int RSTEP = NT / PR;
    const int r0 = (int)threadIdx.x / PR, c = ((int)threadIdx.x - r0 * PR) * VE;
    const bool ok = c < cols_valid;
    const E* s = static_cast<const E*>(src) + off0 + r0 * rs + c;
    E* d = dst + r0 * ld + c;
#pragma unroll
    for (int it = 0; it < TOTAL / NT; ++it)
      cp_async16(d + it * RSTEP * ld, ok ? s + it * RSTEP * rs : static_cast<const E*>(src), ok);
  } else {
    load_tile_async<D, ROWS, COLS, NT>(src, off0, rs, ROWS, cols_valid, dst, ld);
  }
}

/// The kVecElems<D> elements of a 16-byte vector as floats, and back (bit operations on the 32-bit words,
/// so no type punning through pointers).
template <DType D>
LINREC_DEV void unpack_vec(const uint4& raw, float (&x)[kVecElems<D>]) {
  const unsigned w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if constexpr (D == DType::FP32) {
      x[j] = __uint_as_float(w[j]);
    } else {
      x[2 * j] = to_float<D>((unsigned short)(w[j] & 0xffffu));
      x[2 * j + 1] = to_float<D>((unsigned short)(w[j] >> 16));
    }
  }
}
template <DType D>
LINREC_DEV uint4 pack_vec(const float (&x)[kVecElems<D>]) {
  unsigned w[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if constexpr (D == DType::FP32) {
      w[j] = __float_as_uint(x[j]);
    } else {
      w[j] = pack2<D>(x[2 * j], x[2 * j + 1]);
    }
  }
  return make_uint4(w[0], w[1], w[2], w[3]);
}

/// Elementwise pass over a ROWS x COLS shared-memory tile of D (row stride ld): f(r, c0, x) sees the 16 bytes
/// at (r, c0..c0 + VE - 1) as floats (VE = kVecElems<D>) and may change them; they are written back. One
/// 16-byte access each way and unsigned index math: the per-element loops this replaces were a large share
/// of the chunk kernels' instructions. Needs ld * sizeof(element) and COLS multiples of 16 bytes.
template <DType D, int ROWS, int COLS, int NT, class F>
LINREC_DEV void map_tile(typename Storage<D>::type* p, int ld, F&& f) {
  constexpr int VE = kVecElems<D>;
  static_assert(COLS % VE == 0, "map_tile: COLS must be a multiple of the vector width");
  constexpr unsigned PR = COLS / VE, TOTAL = ROWS * PR;
#pragma unroll 2
  for (unsigned e = threadIdx.x; e < TOTAL; e += NT) {
    const unsigned r = e / PR, c0 = (e % PR) * VE;
    uint4* at = reinterpret_cast<uint4*>(p + r * (unsigned)ld + c0);
    float x[VE];
    unpack_vec<D>(*at, x);
    f((int)r, (int)c0, x);
    *at = pack_vec<D>(x);
  }
}

}  // namespace kern
}  // namespace linrec
