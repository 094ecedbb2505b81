// linrec/kernel/warp.cuh: thread/warp indexing, warp reductions and scans, block barriers, dynamic shared memory.
#pragma once

#include "linrec/kernel/abi.cuh"

namespace linrec {
namespace kern {

constexpr unsigned kFullMask = 0xffffffffu;

/// Lane index within the warp.
LINREC_DEV int lane_id() {
  return (int)(threadIdx.x & 31u);
}
/// Warp index within the block.
LINREC_DEV int warp_id() {
  return (int)(threadIdx.x >> 5);
}

/// Sum over the 32 lanes (every lane gets the result).
LINREC_DEV float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(kFullMask, x, o);
  return x;
}

/// Maximum over the 32 lanes (every lane gets the result).
LINREC_DEV float warp_max(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(kFullMask, x, o));
  return x;
}

/// Inclusive prefix sum over the 32 lanes (lane i gets x_0 + ... + x_i); deterministic order.
template <class T>
LINREC_DEV T warp_inclusive_scan(T x) {
  const int lane = lane_id();
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const T y = __shfl_up_sync(kFullMask, x, o);
    if (lane >= o) x += y;
  }
  return x;
}

/// Type selection without <type_traits> (NVRTC has no host headers).
template <bool B, class T, class F>
struct Select {
  using type = T;
};
template <class T, class F>
struct Select<false, T, F> {
  using type = F;
};

/// Barrier for every thread of the block (all must reach it).
LINREC_DEV void block_sync() {
  __syncthreads();
}
/// Barrier for the lanes of one warp (orders their shared-memory accesses).
LINREC_DEV void warp_sync() {
  __syncwarp(kFullMask);
}

/// Hand-over flags between kernels of one forward that may run at the same time (layout.cuh
/// sp_chunk_flags_apply). A flag holds the forward's epoch (FwdParams::epoch) once its data is written. The
/// writer: its data stores, a barrier over the threads that made them (warp or block), then one of them runs
/// fence_acq_rel and flag_store (one fence may cover several flags). The reader: one thread waits
/// (flags_wait), then a barrier, then the loads. The GPU-scope fence carries the other threads' stores
/// across the barriers (the PTX memory model's cumulativity).
LINREC_DEV void fence_acq_rel() {
#ifdef LINREC_KERNEL_EMULATION
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#else
  asm volatile("fence.acq_rel.gpu;" ::: "memory");
#endif
}
LINREC_DEV void flag_store(unsigned long long* f, unsigned long long v) {
#ifdef LINREC_KERNEL_EMULATION
  __atomic_store_n(f, v, __ATOMIC_RELAXED);
#else
  asm volatile("st.relaxed.gpu.u64 [%0], %1;" ::"l"(f), "l"(v) : "memory");
#endif
}
LINREC_DEV unsigned long long flag_load(const unsigned long long* f) {
#ifdef LINREC_KERNEL_EMULATION
  return __atomic_load_n(f, __ATOMIC_RELAXED);
#else
  unsigned long long v;
  asm volatile("ld.relaxed.gpu.u64 %0, [%1];" : "=l"(v) : "l"(f) : "memory");
  return v;
#endif
}
/// Waits until the n <= N flags f[0], f[stride], ... hold v, then fences (acquire). The first loads are issued
/// together (relaxed), so a batch costs one round trip, not one each; a mask of the flags still pending
/// keeps the registers of the caller's other threads (which only pass) low.
template <int N>
LINREC_DEV void flags_wait(const unsigned long long* f, long long stride, int n, unsigned long long v) {
  static_assert(N >= 1 && N <= 32, "flags_wait: a batch of 1 to 32 flags");
  unsigned pending = 0;
#pragma unroll
  for (int i = 0; i < N; ++i)
    if (i < n && flag_load(f + i * stride) != v) pending |= 1u << i;
#ifdef LINREC_KERNEL_EMULATION
  // The emulator runs a launch's kernels one after another, so the writer has finished: a flag without the
  // value is a broken hand-over, which must fail the test instead of hanging it.
  if (pending != 0) __trap();
#else
  while (pending != 0) {
    __nanosleep(64);
#pragma unroll
    for (int i = 0; i < N; ++i)
      if ((pending >> i & 1u) && flag_load(f + i * stride) == v) pending &= ~(1u << i);
  }
#endif
  fence_acq_rel();
}

/// Lets the next kernel of the stream start before this one ends, where it was launched with programmatic
/// stream serialization (sm_90; a no-op otherwise): that kernel must then wait for what it reads itself
/// (flag_wait), since it does not wait for this grid to finish.
LINREC_DEV void launch_dependents() {
#if !defined(LINREC_KERNEL_EMULATION) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

/// The block's dynamic shared memory (16-byte aligned), as floats.
LINREC_DEV float* dynamic_smem() {
#ifdef LINREC_KERNEL_EMULATION
  return static_cast<float*>(linrec_emu_dynamic_smem());
#else
  extern __shared__ float4 linrec_dynamic_smem[];
  return reinterpret_cast<float*>(linrec_dynamic_smem);
#endif
}

/// Sum of one long long per thread over the block; every thread gets the result. `s` is shared memory for
/// one value per warp.
template <int kThreads>
LINREC_DEV long long block_sum_ll(long long x, long long* s) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(kFullMask, x, o);
  if (lane_id() == 0) s[warp_id()] = x;
  block_sync();
  long long total = 0;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) total += s[w];
  block_sync();
  return total;
}

}  // namespace kern
}  // namespace linrec
