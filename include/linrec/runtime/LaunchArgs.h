// Arguments of a forward (prefill) launch and of a decode step, as device tensors in fla's layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "linrec/runtime/Tensor.h"

namespace linrec {

/// A forward pass over B sequences of T tokens (or, with cu_seqlens, N packed sequences with B = 1).
/// Every tensor must be contiguous and 16-byte aligned; optional tensors are "not given" when their
/// pointer is null.
struct ForwardArgs {
  TensorRef q;                    ///< [B,T,H,K], kernel dtype
  TensorRef k;                    ///< [B,T,H,K], kernel dtype
  TensorRef v;                    ///< [B,T,H,V], kernel dtype
  TensorRef o;                    ///< [B,T,H,V], kernel dtype, written
  std::vector<TensorRef> inputs;  ///< declared inputs in canonical order: fp32 [B,T,H] or [B,T,H,K]
  std::vector<TensorRef> params;  ///< declared params in canonical order: fp32 [H] or [H,K]
  TensorRef h0;                   ///< optional initial state, fp32 [N,H,K',V] (null: zeros)
  TensorRef ht;                   ///< optional final state out, fp32 [N,H,K',V]; may be the same buffer as h0
  TensorRef z0;                   ///< optional initial normalizer state, fp32 [N,H,K'] (normalizing kernels only)
  TensorRef zt;                   ///< optional final normalizer state out, fp32 [N,H,K']
  TensorRef cu_seqlens;           ///< optional int64 [N+1] on the device; requires B == 1
  /// Host copy of cu_seqlens. Without it, forward() copies cu_seqlens to the host (one stream sync) to
  /// check the offsets and count chunks; pass it to avoid that sync.
  const int64_t* cu_seqlens_host = nullptr;
  std::optional<float> scale;  ///< overrides the kernel's default scale
  /// Scratch for state-passing kernels. Null: the Kernel keeps one buffer per stream and grows it when
  /// needed (so the first forward() of a size may allocate).
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

/// One decode step: one new token for each of B sequences, updating their states in place. Token tensors
/// may be given as [B,1,H,*] or [B,H,*]; all in the form q uses.
struct StepArgs {
  TensorRef q;  ///< [B,1,H,K] or [B,H,K], kernel dtype
  TensorRef k;
  TensorRef v;                    ///< [B,1,H,V] or [B,H,V]
  TensorRef o;                    ///< [B,1,H,V] or [B,H,V], written
  std::vector<TensorRef> inputs;  ///< fp32 [B,1,H] / [B,H] (scalar) or [B,1,H,K] / [B,H,K] (vector)
  std::vector<TensorRef> params;  ///< fp32 [H] or [H,K]
  TensorRef state;                ///< fp32 [B,H,K',V], read and written (required)
  TensorRef z;                    ///< fp32 [B,H,K'], read and written: required by normalizing kernels, else not given
  std::optional<float> scale;
};

}  // namespace linrec
