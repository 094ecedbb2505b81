// The token-by-token float64 reference: DESIGN.md §1 applied literally, one token at a time.
#include <cmath>
#include <vector>

#include "Prepare.h"
#include "linrec/reference/Reference.h"

namespace linrec::reference {
namespace {

/// Walks one (sequence, head) token by token. Deliberately shares no algebra with the chunkwise form:
/// agreement between the two is what proves the chunkwise derivation.
void recurrentHead(const detail::HeadSequence& seq, detail::HeadState& st, std::vector<double>& o, bool delta) {
  const int kf = seq.kf, V = seq.vdim;
  std::vector<double> alpha(kf, 1.0), kS(V);
  double* S = st.S.data();

  for (int t = 0; t < seq.len; ++t) {
    const double* q = &seq.q[static_cast<size_t>(t) * kf];
    const double* k = &seq.k[static_cast<size_t>(t) * kf];
    const double* v = &seq.v[static_cast<size_t>(t) * V];
    const double beta = seq.beta[t];
    if (seq.gdim == 1) {
      const double a = std::exp(seq.g[t]);
      for (int d = 0; d < kf; ++d) alpha[d] = a;
    } else if (seq.gdim == kf && kf > 0) {
      for (int d = 0; d < kf; ++d) alpha[d] = std::exp(seq.g[static_cast<size_t>(t) * kf + d]);
    }

    // S <- Diag(α) S, the step both rules start from.
    for (int d = 0; d < kf; ++d) {
      double* row = S + static_cast<size_t>(d) * V;
      for (int j = 0; j < V; ++j) row[j] *= alpha[d];
    }
    if (delta) {
      // (I - β k kᵀ) X + β k vᵀ = X + β k (v - Xᵀk)ᵀ with X = Diag(α) S.
      for (int j = 0; j < V; ++j) kS[j] = 0.0;
      for (int d = 0; d < kf; ++d) {
        const double* row = S + static_cast<size_t>(d) * V;
        for (int j = 0; j < V; ++j) kS[j] += k[d] * row[j];
      }
      for (int j = 0; j < V; ++j) kS[j] = beta * (v[j] - kS[j]);
      for (int d = 0; d < kf; ++d) {
        double* row = S + static_cast<size_t>(d) * V;
        for (int j = 0; j < V; ++j) row[j] += k[d] * kS[j];
      }
    } else {
      for (int d = 0; d < kf; ++d) {
        double* row = S + static_cast<size_t>(d) * V;
        const double bk = beta * k[d];
        for (int j = 0; j < V; ++j) row[j] += bk * v[j];
      }
    }

    double* out = &o[static_cast<size_t>(t) * V];
    for (int d = 0; d < kf; ++d) {
      const double* row = S + static_cast<size_t>(d) * V;
      const double sq = seq.scale * q[d];
      for (int j = 0; j < V; ++j) out[j] += sq * row[j];
    }
    if (seq.normalize) {
      // The normalizer accumulates k̃ without β (DESIGN.md §1).
      double den = 0.0;
      for (int d = 0; d < kf; ++d) {
        st.z[d] = alpha[d] * st.z[d] + k[d];
        den += q[d] * st.z[d];
      }
      const double inv = 1.0 / (seq.scale * den + seq.norm_eps);
      for (int j = 0; j < V; ++j) out[j] *= inv;
    }
  }
}

}  // namespace

Expected<Outputs> runRecurrent(const dsl::Spec& spec, const Problem& p, const Inputs& in) {
  const bool delta = spec.rule == dsl::UpdateRule::Delta;
  return detail::runPerHead(spec, p, in,
                            [&](const detail::HeadSequence& seq, detail::HeadState& st, std::vector<double>& o) {
                              recurrentHead(seq, st, o, delta);
                            });
}

}  // namespace linrec::reference
