// A CPU emulator of the CUDA subset the linrec kernel headers use, so their logic is tested without a GPU.
//
// Include this before any linrec/kernel header (the emulated translation units do it with -include). Every
// CUDA thread of a block runs as a fiber on one OS thread; barriers (__syncthreads, __syncwarp), shuffles
// and mma.sync are the only switch points, so code that relies on anything else for ordering (a missing
// barrier) changes its results with the scheduling order, which the tests vary. mma.sync m16n8k16 is
// decoded from the fragment layout of the PTX ISA, so fragment-packing bugs show up as wrong numbers.
// Deadlocks (a barrier not reached by every thread) are reported as errors, not hangs.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "EmulatorRuntime.h"

#define LINREC_KERNEL_EMULATION 1

#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) alignas(n)

struct float2 {
  float x, y;
};
inline float2 make_float2(float x, float y) {
  return {x, y};
}
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}
struct alignas(8) uint2 {
  unsigned x, y;
};
inline uint2 make_uint2(unsigned x, unsigned y) {
  return {x, y};
}
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return {x, y, z, w};
}

namespace linrec_emu {

// ---- used by the macros below and by the kernel headers' emulation branches
const LinrecEmuDim3& threadIdxRef();
const LinrecEmuDim3& blockIdxRef();
const LinrecEmuDim3& blockDimRef();
const LinrecEmuDim3& gridDimRef();
void syncthreads();
void syncwarp();
/// Exchanges one 64-bit value per lane: returns the value lane `src` published (src < 0: own value).
uint64_t warpExchange(uint64_t mine, int src);
void mma16816(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2], bool bf16);
void* dynamicSmem();
float halfToFloat(unsigned short h);
unsigned short floatToHalf(float f);

}  // namespace linrec_emu

#define threadIdx (::linrec_emu::threadIdxRef())
#define blockIdx (::linrec_emu::blockIdxRef())
#define blockDim (::linrec_emu::blockDimRef())
#define gridDim (::linrec_emu::gridDimRef())

inline void __syncthreads() {
  linrec_emu::syncthreads();
}
inline void __syncwarp(unsigned = 0xffffffffu) {
  linrec_emu::syncwarp();
}

template <class T>
inline T linrec_emu_shfl(T v, int src) {
  static_assert(sizeof(T) <= 8, "shuffle of a type wider than 64 bits");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = linrec_emu::warpExchange(bits, src);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
template <class T>
inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
  return linrec_emu_shfl(v, (int)(linrec_emu::threadIdxRef().x & 31u) ^ lane_mask);
}
template <class T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta) {
  const int lane = (int)(linrec_emu::threadIdxRef().x & 31u);
  return linrec_emu_shfl(v, lane - (int)delta);  // src < 0 keeps the lane's own value, as on the device
}
template <class T>
inline T __shfl_sync(unsigned, T v, int src) {
  return linrec_emu_shfl(v, src & 31);
}

inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __expf(float x) {
  return std::exp(x);
}
inline float __logf(float x) {
  return std::log(x);
}
inline void __trap() {
  std::abort();
}

// Hooks the kernel headers call under LINREC_KERNEL_EMULATION.
inline void* linrec_emu_dynamic_smem() {
  return linrec_emu::dynamicSmem();
}
inline float linrec_emu_half_to_float(unsigned short h) {
  return linrec_emu::halfToFloat(h);
}
inline unsigned short linrec_emu_float_to_half(float f) {
  return linrec_emu::floatToHalf(f);
}
inline void linrec_emu_mma_m16n8k16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2], bool bf16) {
  linrec_emu::mma16816(d, a, b, bf16);
}
