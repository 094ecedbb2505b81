// Float64 CPU references for any Spec: token-by-token recurrent (DESIGN.md §1) and chunkwise (§3).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/dsl/Spec.h"

namespace linrec::reference {

/// Problem sizes in fla's layout. With `cu_seqlens` (N+1 offsets, first 0, last T) B must be 1 and the
/// N sequences are independent; without it there are N = B sequences of length T.
struct Problem {
  int B = 1, T = 1, H = 1, K = 64, V = 64;
  std::vector<int64_t> cu_seqlens;
  int numSequences() const { return cu_seqlens.empty() ? B : static_cast<int>(cu_seqlens.size()) - 1; }
};

/// All inputs in float64, contiguous in fla's layout.
struct Inputs {
  std::vector<double> q, k;  ///< [B,T,H,K]
  std::vector<double> v;     ///< [B,T,H,V]
  std::map<std::string, std::vector<double>> inputs;  ///< declared inputs: [B,T,H] or [B,T,H,K]
  std::map<std::string, std::vector<double>> params;  ///< declared params: [H] or [H,K]
  std::vector<double> initial_state;  ///< empty (zeros) or [N,H,K',V]
  std::vector<double> initial_z;      ///< normalizer state: empty (zeros) or [N,H,K']
};

/// Outputs in float64.
struct Outputs {
  std::vector<double> o;            ///< [B,T,H,V]
  std::vector<double> final_state;  ///< [N,H,K',V]
  std::vector<double> final_z;      ///< [N,H,K'] when the spec normalizes, else empty
};

/// Checks the problem sizes, cu_seqlens, and the size of every tensor against the spec and problem (the
/// message names the tensor and the expected shape), and that the spec is one the references can evaluate
/// (every name resolves, scalar expressions use no vectors, vector decay only with K' == K).
Status validate(const dsl::Spec& spec, const Problem& p, const Inputs& in);

/// Token-by-token evaluation exactly as DESIGN.md §1 defines it.
Expected<Outputs> runRecurrent(const dsl::Spec& spec, const Problem& p, const Inputs& in);

/// Chunkwise evaluation (DESIGN.md §3: additive and WY/UT delta forms) with chunk size `chunk` >= 1.
Expected<Outputs> runChunkwise(const dsl::Spec& spec, const Problem& p, const Inputs& in, int chunk);

/// Deterministic random inputs (the same on every platform for a seed): q, k, v, inputs and params
/// ~ N(0,1) (mt19937_64 + Box–Muller), each tensor from its own stream keyed by (seed, tensor name), so
/// declaring another input leaves the others unchanged. With the normalizer and a sign-preserving map
/// (identity, l2norm) q and k are |N(0,1)| so that q̃ᵀz stays away from zero. When asked: initial_state
/// ~ N(0,1)·0.1 and, with the normalizer, initial_z ~ |N(0,1)|·0.1.
Inputs randomInputs(const dsl::Spec& spec, const Problem& p, uint64_t seed, bool with_initial_state);

/// max |a-b| / max(max|b|, tiny): the relative error measure used in every comparison.
double relativeError(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace linrec::reference
