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
/// sp_chunk_flags_apply). The writer's data stores, then a barrier over the threads that made them (warp or
/// block), then by one of them fence_release and flag_store (one fence may cover several flags); the
/// reader's flag_wait by one thread, then a barrier, then its loads. The GPU-scope fence and acquire carry
/// the other threads' stores across the barriers (the PTX memory model's cumulativity).
LINREC_DEV void fence_release() {
#ifdef LINREC_KERNEL_EMULATION
  __atomic_thread_fence(__ATOMIC_RELEASE);
#else
  asm volatile("fence.acq_rel.gpu;" ::: "memory");
#endif
}
LINREC_DEV void flag_store(unsigned* f, unsigned v) {
#ifdef LINREC_KERNEL_EMULATION
  __atomic_store_n(f, v, __ATOMIC_RELAXED);
#else
  asm volatile("st.relaxed.gpu.u32 [%0], %1;" ::"l"(f), "r"(v) : "memory");
#endif
}
LINREC_DEV unsigned flag_acquire(const unsigned* f) {
#ifdef LINREC_KERNEL_EMULATION
  return __atomic_load_n(f, __ATOMIC_ACQUIRE);
#else
  unsigned v;
  asm volatile("ld.acquire.gpu.u32 %0, [%1];" : "=r"(v) : "l"(f) : "memory");
  return v;
#endif
}
/// Waits until *f is nonzero.
LINREC_DEV void flag_wait(const unsigned* f) {
#ifdef LINREC_KERNEL_EMULATION
  // The emulator runs a launch's kernels one after another, so the writer has finished: a flag still
  // clear is a broken hand-over, which must fail the test instead of hanging it.
  if (flag_acquire(f) == 0) __trap();
#else
  while (flag_acquire(f) == 0) __nanosleep(100);
#endif
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
