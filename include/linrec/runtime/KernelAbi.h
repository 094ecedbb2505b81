// Host mirror of the kernel parameter structs in runtime/kernels/include/linrec/kernel/abi.cuh.
// The kernels take these by value, so the layouts must match byte for byte: the static_asserts pin the
// host layout, and tests/runtime/KernelAbiTest.cpp reads abi.cuh's offsets back from NVRTC's PTX.
#pragma once

#include <cstddef>

namespace linrec::abi {

/// Sizes of the input/param pointer arrays (abi.cuh: kMaxInputs / kMaxParams).
constexpr int kMaxInputs = 8;
constexpr int kMaxParams = 8;

/// Forward (prefill) parameters: every kernel of a forward module takes one by value.
struct FwdParams {
  const void* q;                    ///< [B,T,H,K], kernel dtype
  const void* k;                    ///< [B,T,H,K]
  const void* v;                    ///< [B,T,H,V]
  void* o;                          ///< [B,T,H,V]
  const float* inputs[kMaxInputs];  ///< declared inputs, canonical order; unused slots null
  const float* params[kMaxParams];  ///< declared params, canonical order; unused slots null
  const float* h0;                  ///< [N,H,K',V] or null (zeros)
  float* ht;                        ///< [N,H,K',V] or null (not written)
  const float* z0;                  ///< [N,H,K'] or null (normalizer only)
  float* zt;                        ///< [N,H,K'] or null
  const long long* cu_seqlens;      ///< [N+1] or null
  float* ws;                        ///< state-passing workspace, null for fused
  int B, T, H, N;                   ///< N = number of sequences
  float scale;
  int num_chunks_total;  ///< sum over sequences of ceil(len / C)
  unsigned long long epoch;  ///< nonzero: delta state passing's kernels run side by side (abi.cuh)
};

static_assert(sizeof(void*) == 8, "linrec kernels assume 64-bit pointers");
static_assert(offsetof(FwdParams, q) == 0);
static_assert(offsetof(FwdParams, o) == 24);
static_assert(offsetof(FwdParams, inputs) == 32);
static_assert(offsetof(FwdParams, params) == 96);
static_assert(offsetof(FwdParams, h0) == 160);
static_assert(offsetof(FwdParams, ht) == 168);
static_assert(offsetof(FwdParams, z0) == 176);
static_assert(offsetof(FwdParams, zt) == 184);
static_assert(offsetof(FwdParams, cu_seqlens) == 192);
static_assert(offsetof(FwdParams, ws) == 200);
static_assert(offsetof(FwdParams, B) == 208);
static_assert(offsetof(FwdParams, N) == 220);
static_assert(offsetof(FwdParams, scale) == 224);
static_assert(offsetof(FwdParams, num_chunks_total) == 228);
static_assert(offsetof(FwdParams, epoch) == 232);
static_assert(sizeof(FwdParams) == 240);

/// Decode (one token per sequence) parameters; the state is updated in place. q, k [B,H,K], v, o [B,H,V]
/// (fla's [B,1,H,*]); B is the number of sequences.
struct DecodeParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  const float* inputs[kMaxInputs];  ///< scalar [B,H] or vector [B,H,K]
  const float* params[kMaxParams];
  float* state;  ///< [B,H,K',V], read and written
  float* z;      ///< [B,H,K'], read and written (normalizer only; else null)
  int B, H;
  float scale;
};

static_assert(offsetof(DecodeParams, inputs) == 32);
static_assert(offsetof(DecodeParams, params) == 96);
static_assert(offsetof(DecodeParams, state) == 160);
static_assert(offsetof(DecodeParams, z) == 168);
static_assert(offsetof(DecodeParams, B) == 176);
static_assert(offsetof(DecodeParams, scale) == 184);
static_assert(sizeof(DecodeParams) == 192);

/// Every field's name, offset and size, for the layout check against abi.cuh.
struct FieldLayout {
  const char* name;
  size_t offset;
  size_t size;
};

#define LINREC_ABI_FIELD(S, f)       \
  FieldLayout {                      \
#f, offsetof(S, f), sizeof(S::f) \
  }
inline constexpr FieldLayout kFwdParamsLayout[] = {
    LINREC_ABI_FIELD(FwdParams, q),          LINREC_ABI_FIELD(FwdParams, k),
    LINREC_ABI_FIELD(FwdParams, v),          LINREC_ABI_FIELD(FwdParams, o),
    LINREC_ABI_FIELD(FwdParams, inputs),     LINREC_ABI_FIELD(FwdParams, params),
    LINREC_ABI_FIELD(FwdParams, h0),         LINREC_ABI_FIELD(FwdParams, ht),
    LINREC_ABI_FIELD(FwdParams, z0),         LINREC_ABI_FIELD(FwdParams, zt),
    LINREC_ABI_FIELD(FwdParams, cu_seqlens), LINREC_ABI_FIELD(FwdParams, ws),
    LINREC_ABI_FIELD(FwdParams, B),          LINREC_ABI_FIELD(FwdParams, T),
    LINREC_ABI_FIELD(FwdParams, H),          LINREC_ABI_FIELD(FwdParams, N),
    LINREC_ABI_FIELD(FwdParams, scale),      LINREC_ABI_FIELD(FwdParams, num_chunks_total),
    LINREC_ABI_FIELD(FwdParams, epoch),
};
inline constexpr FieldLayout kDecodeParamsLayout[] = {
    LINREC_ABI_FIELD(DecodeParams, q),      LINREC_ABI_FIELD(DecodeParams, k),
    LINREC_ABI_FIELD(DecodeParams, v),      LINREC_ABI_FIELD(DecodeParams, o),
    LINREC_ABI_FIELD(DecodeParams, inputs), LINREC_ABI_FIELD(DecodeParams, params),
    LINREC_ABI_FIELD(DecodeParams, state),  LINREC_ABI_FIELD(DecodeParams, z),
    LINREC_ABI_FIELD(DecodeParams, B),      LINREC_ABI_FIELD(DecodeParams, H),
    LINREC_ABI_FIELD(DecodeParams, scale),
};
#undef LINREC_ABI_FIELD

}  // namespace linrec::abi
