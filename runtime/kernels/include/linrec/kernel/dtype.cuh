// linrec/kernel/dtype.cuh: bf16 / fp16 / fp32 element storage and conversions, without cuda_bf16.h or cuda_fp16.h.
//
// 16-bit types are raw `unsigned short` bit patterns, converted with the cvt instructions on the device
// (round to nearest even) and with bit operations in the CPU emulator. Packing two floats for mma.sync
// uses the cvt.rn.{bf16x2,f16x2}.f32 instructions (sm_80+).
#pragma once

/// Force-inlined device function: the kernels rely on full inlining so that register arrays are indexed
/// with constants and kernel parameters are read from parameter space (no stack frame).
#define LINREC_DEV __device__ __forceinline__

namespace linrec {
namespace kern {

/// Element type of q, k, v and o. Gates, params and states are always fp32.
enum class DType : int { BF16 = 0, FP16 = 1, FP32 = 2 };

/// Storage type of one element of q, k, v, o.
template <DType D>
struct Storage {
  using type = unsigned short;
};
template <>
struct Storage<DType::FP32> {
  using type = float;
};

/// bf16 bits -> float (exact).
LINREC_DEV float bf16_to_float(unsigned short x) {
  return __uint_as_float(((unsigned)x) << 16);
}

/// float -> bf16 bits, round to nearest even: the cvt instruction on the device (sm_80+; bit operations
/// cost ~6 instructions per element in the elementwise passes), bit operations in the emulator.
LINREC_DEV unsigned short float_to_bf16(float f) {
#ifdef LINREC_KERNEL_EMULATION
  const unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);  // quiet NaN
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
#else
  unsigned short h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#endif
}

#ifdef LINREC_KERNEL_EMULATION
/// fp16 bits -> float (emulator: software).
LINREC_DEV float fp16_to_float(unsigned short x) {
  return linrec_emu_half_to_float(x);
}
/// float -> fp16 bits, round to nearest even (emulator: software).
LINREC_DEV unsigned short float_to_fp16(float f) {
  return linrec_emu_float_to_half(f);
}
#else
/// fp16 bits -> float (exact).
LINREC_DEV float fp16_to_float(unsigned short x) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x));
  return f;
}
/// float -> fp16 bits, round to nearest even.
LINREC_DEV unsigned short float_to_fp16(float f) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
#endif

/// One stored element -> float.
template <DType D>
LINREC_DEV float load_elem(const void* base, long long i) {
  if constexpr (D == DType::FP32) {
    return static_cast<const float*>(base)[i];
  } else if constexpr (D == DType::BF16) {
    return bf16_to_float(static_cast<const unsigned short*>(base)[i]);
  } else {
    return fp16_to_float(static_cast<const unsigned short*>(base)[i]);
  }
}

/// One stored element -> float, the type known at run time (uniform; folds when it is a constant).
LINREC_DEV float load_elem(DType d, const void* base, long long i) {
  return d == DType::FP32   ? load_elem<DType::FP32>(base, i)
         : d == DType::BF16 ? load_elem<DType::BF16>(base, i)
                            : load_elem<DType::FP16>(base, i);
}

/// A storage element -> float.
template <DType D>
LINREC_DEV float to_float(typename Storage<D>::type x) {
  if constexpr (D == DType::FP32) {
    return x;
  } else if constexpr (D == DType::BF16) {
    return bf16_to_float(x);
  } else {
    return fp16_to_float(x);
  }
}

/// float -> a storage element (round to nearest even).
template <DType D>
LINREC_DEV typename Storage<D>::type from_float(float x) {
  if constexpr (D == DType::FP32) {
    return x;
  } else if constexpr (D == DType::BF16) {
    return float_to_bf16(x);
  } else {
    return float_to_fp16(x);
  }
}

/// float -> one stored element (round to nearest even).
template <DType D>
LINREC_DEV void store_elem(void* base, long long i, float x) {
  if constexpr (D == DType::FP32) {
    static_cast<float*>(base)[i] = x;
  } else if constexpr (D == DType::BF16) {
    static_cast<unsigned short*>(base)[i] = float_to_bf16(x);
  } else {
    static_cast<unsigned short*>(base)[i] = float_to_fp16(x);
  }
}

/// Two floats -> one 32-bit register of two 16-bit elements for mma.sync: lo in bits 0-15, hi in 16-31.
template <DType D>
LINREC_DEV unsigned pack2(float lo, float hi) {
  static_assert(D != DType::FP32, "pack2: fp32 has no 16-bit tensor-core operand");
#ifdef LINREC_KERNEL_EMULATION
  if constexpr (D == DType::BF16) {
    return (unsigned)float_to_bf16(lo) | ((unsigned)float_to_bf16(hi) << 16);
  } else {
    return (unsigned)float_to_fp16(lo) | ((unsigned)float_to_fp16(hi) << 16);
  }
#else
  unsigned r;
  if constexpr (D == DType::BF16) {
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  } else {
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  }
  return r;
#endif
}

/// Two adjacent elements i, i + 1 in one store (i even: 4-byte aligned for 16-bit types, 8-byte for fp32).
template <DType D>
LINREC_DEV void store_pair(void* base, long long i, float a, float b) {
  if constexpr (D == DType::FP32) {
    *reinterpret_cast<float2*>(static_cast<float*>(base) + i) = make_float2(a, b);
  } else {
    *reinterpret_cast<unsigned*>(static_cast<unsigned short*>(base) + i) = pack2<D>(a, b);
  }
}

}  // namespace kern
}  // namespace linrec
