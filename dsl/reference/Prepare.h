// Shared plumbing of the float64 references: per-token q̃, k̃, g, β for one (sequence, head) and the loop over them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/dsl/Spec.h"
#include "linrec/reference/Reference.h"

namespace linrec::reference::detail {

/// Everything the recurrence needs about one (sequence, head), already evaluated per token. The
/// recurrent and chunkwise algebra consume this and nothing else, so they share no arithmetic beyond
/// the elementwise expressions and feature maps (which both must agree on by definition).
struct HeadSequence {
  int len = 0;   ///< tokens in this sequence
  int kf = 0;    ///< feature width K'
  int vdim = 0;  ///< value width V
  int gdim = 0;  ///< decay entries per token: 0 (no decay), 1 (scalar/constant) or K' (vector)
  double scale = 1.0;
  bool normalize = false;  ///< divide by (scale · q̃ᵀz + norm_eps)
  double norm_eps = 0.0;
  std::vector<double> q;     ///< q̃ [len, K']
  std::vector<double> k;     ///< k̃ [len, K']
  std::vector<double> v;     ///< [len, V]
  std::vector<double> g;     ///< log decay [len, gdim]
  std::vector<double> beta;  ///< [len]
};

/// The state carried across tokens of one (sequence, head): S [K', V] and, with the normalizer, z [K'].
struct HeadState {
  std::vector<double> S;
  std::vector<double> z;
};

/// Computes the outputs o [len, V] of one (sequence, head) and advances `state` to the sequence end.
using HeadKernel = std::function<void(const HeadSequence& seq, HeadState& state, std::vector<double>& o)>;

/// Validates, then runs `kernel` on every (sequence, head) and assembles fla-layout outputs.
Expected<Outputs> runPerHead(const dsl::Spec& spec, const Problem& p, const Inputs& in, const HeadKernel& kernel);

/// Checks the Spec itself (what the references can evaluate), independent of the tensors.
Status checkSpec(const dsl::Spec& spec, int K);

}  // namespace linrec::reference::detail
