// The chunkwise float64 reference: DESIGN.md §3 (additive and WY/UT delta forms) over chunks of any size.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "Prepare.h"
#include "linrec/reference/Reference.h"

namespace linrec::reference {
namespace {

/// One chunk [t0, t0 + c) of a (sequence, head), with the in-chunk log-decay cumsum b.
class Chunk {
 public:
  Chunk(const detail::HeadSequence& seq, int t0, int c, bool withKK) : seq_(seq), t0_(t0), c_(c) {
    gd_ = std::max(seq.gdim, 1);
    b_.assign(static_cast<size_t>(c) * gd_, 0.0);
    if (seq.gdim > 0) {
      for (int i = 0; i < c; ++i) {
        for (int d = 0; d < gd_; ++d) {
          const double prev = i > 0 ? b_[static_cast<size_t>(i - 1) * gd_ + d] : 0.0;
          b_[static_cast<size_t>(i) * gd_ + d] = prev + seq.g[static_cast<size_t>(t0 + i) * gd_ + d];
        }
      }
    }
    gamma_.resize(b_.size());
    tail_.resize(b_.size());
    const double* last = &b_[static_cast<size_t>(c - 1) * gd_];
    for (size_t x = 0; x < b_.size(); ++x) {
      gamma_[x] = std::exp(b_[x]);
      tail_[x] = std::exp(last[x % gd_] - b_[x]);
    }
    computeGrams(withKK);
  }

  int size() const { return c_; }
  const double* q(int i) const { return &seq_.q[static_cast<size_t>(t0_ + i) * seq_.kf]; }
  const double* k(int i) const { return &seq_.k[static_cast<size_t>(t0_ + i) * seq_.kf]; }
  const double* v(int i) const { return &seq_.v[static_cast<size_t>(t0_ + i) * seq_.vdim]; }
  double beta(int i) const { return seq_.beta[t0_ + i]; }

  /// Γ_{i,d} = exp(b_{i,d}).
  double gamma(int i, int d) const { return gamma_[index(i, d)]; }
  /// exp(b_{last,d} - b_{j,d}): how much of token j's contribution survives to the chunk's end.
  double tailDecay(int j, int d) const { return tail_[index(j, d)]; }

  /// (Q Kᵀ ⊙ M)[i,j] for j <= i.
  double qkGram(int i, int j) const { return qk_[static_cast<size_t>(i) * c_ + j]; }
  /// (K Kᵀ ⊙ M)[i,j] for j < i (computed only when the chunk was built with `withKK`).
  double kkGram(int i, int j) const { return kk_[static_cast<size_t>(i) * c_ + j]; }

 private:
  const detail::HeadSequence& seq_;
  int t0_, c_, gd_;
  size_t index(int i, int d) const { return static_cast<size_t>(i) * gd_ + (gd_ > 1 ? d : 0); }

  /// The decay-masked Gram matrices, Σ_d x_{i,d} y_{j,d} exp(b_{i,d} - b_{j,d}), always from exponent
  /// differences so that no factor can overflow. Q Kᵀ and K Kᵀ share the decay factor of each (i, j), so
  /// one pass computes both (for vector decay the exponentials dominate the cost).
  void computeGrams(bool withKK) {
    const int kf = seq_.kf;
    qk_.assign(static_cast<size_t>(c_) * c_, 0.0);
    if (withKK) kk_.assign(static_cast<size_t>(c_) * c_, 0.0);
    for (int i = 0; i < c_; ++i) {
      const double* qi = q(i);
      const double* ki = k(i);
      for (int j = 0; j <= i; ++j) {
        const double* kj = k(j);
        const bool kk = withKK && j < i;
        double sq = 0.0, sk = 0.0;
        if (gd_ > 1) {
          const double* bi = &b_[static_cast<size_t>(i) * gd_];
          const double* bj = &b_[static_cast<size_t>(j) * gd_];
          for (int d = 0; d < kf; ++d) {
            const double m = kj[d] * std::exp(bi[d] - bj[d]);
            sq += qi[d] * m;
            if (kk) sk += ki[d] * m;
          }
        } else {
          for (int d = 0; d < kf; ++d) sq += qi[d] * kj[d];
          if (kk) {
            for (int d = 0; d < kf; ++d) sk += ki[d] * kj[d];
          }
          const double m = seq_.gdim == 0 ? 1.0 : std::exp(b_[i] - b_[j]);
          sq *= m;
          sk *= m;
        }
        qk_[static_cast<size_t>(i) * c_ + j] = sq;
        if (kk) kk_[static_cast<size_t>(i) * c_ + j] = sk;
      }
    }
  }

  std::vector<double> b_;      ///< [c, gd]
  std::vector<double> gamma_;  ///< exp(b) [c, gd]
  std::vector<double> tail_;   ///< exp(b_last - b) [c, gd]
  std::vector<double> qk_;     ///< (Q Kᵀ ⊙ M) [c, c], lower triangle incl. diagonal
  std::vector<double> kk_;     ///< (K Kᵀ ⊙ M) [c, c], strict lower triangle
};

/// out_i += scale · (q_i ⊙ Γ_i)ᵀ S: the inter-chunk part of every output row.
void addInterChunk(const Chunk& ch, const std::vector<double>& S, int kf, int V, double scale, double* o) {
  for (int i = 0; i < ch.size(); ++i) {
    const double* q = ch.q(i);
    double* out = o + static_cast<size_t>(i) * V;
    for (int d = 0; d < kf; ++d) {
      const double w = scale * q[d] * ch.gamma(i, d);
      const double* row = &S[static_cast<size_t>(d) * V];
      for (int j = 0; j < V; ++j) out[j] += w * row[j];
    }
  }
}

/// S' = Diag(Γ_last) S + (K ⊙ exp(b_last - b))ᵀ X, with X's row j given by rowOf(j) times rowScale(j).
template <class RowOf, class RowScale>
void advanceState(const Chunk& ch, std::vector<double>& S, int kf, int V, RowOf rowOf, RowScale rowScale) {
  const int c = ch.size();
  for (int d = 0; d < kf; ++d) {
    double* row = &S[static_cast<size_t>(d) * V];
    const double gl = ch.gamma(c - 1, d);
    for (int j = 0; j < V; ++j) row[j] *= gl;
    for (int s = 0; s < c; ++s) {
      const double w = ch.k(s)[d] * ch.tailDecay(s, d) * rowScale(s);
      const double* x = rowOf(s);
      for (int j = 0; j < V; ++j) row[j] += w * x[j];
    }
  }
}

/// The normalizer is the extra all-ones value column (never scaled by β, DESIGN.md §1): the same
/// additive chunk form, whatever the rule. Divides the chunk's outputs, then advances z.
void normalizeChunk(const Chunk& ch, std::vector<double>& z, int kf, int V, double scale, double eps, double* o) {
  const int c = ch.size();
  for (int i = 0; i < c; ++i) {
    double den = 0.0;
    for (int d = 0; d < kf; ++d) den += ch.q(i)[d] * ch.gamma(i, d) * z[d];
    for (int j = 0; j <= i; ++j) den += ch.qkGram(i, j);
    const double inv = 1.0 / (scale * den + eps);
    double* out = o + static_cast<size_t>(i) * V;
    for (int j = 0; j < V; ++j) out[j] *= inv;
  }
  for (int d = 0; d < kf; ++d) {
    double acc = ch.gamma(c - 1, d) * z[d];
    for (int s = 0; s < c; ++s) acc += ch.k(s)[d] * ch.tailDecay(s, d);
    z[d] = acc;
  }
}

/// Additive form: O = scale·[(Q⊙Γ)S + (QKᵀ⊙M) Diag(β) V].
/// The chunk's transition is affine, S' = M_c S + H_c with M_c = Diag(Γ_last) and
/// H_c = (K ⊙ exp(b_last - b))ᵀ Diag(β) V; advanceState applies exactly that pair, so exposing (M_c, H_c)
/// for a state-passing or sequence-parallel check means evaluating it on S = 0 and reading Γ_last.
void additiveChunk(const Chunk& ch, detail::HeadState& st, int kf, int V, double scale, double* o) {
  const int c = ch.size();
  addInterChunk(ch, st.S, kf, V, scale, o);
  for (int i = 0; i < c; ++i) {
    double* out = o + static_cast<size_t>(i) * V;
    for (int j = 0; j <= i; ++j) {
      const double a = scale * ch.qkGram(i, j) * ch.beta(j);
      const double* v = ch.v(j);
      for (int x = 0; x < V; ++x) out[x] += a * v[x];
    }
  }
  advanceState(
      ch, st.S, kf, V, [&](int s) { return ch.v(s); }, [&](int s) { return ch.beta(s); });
}

/// Delta rule in the WY/UT form: solve the unit lower-triangular system for the chunk's u's, then read
/// out and advance like the additive form with V replaced by U.
/// Affine transition: S' = M_c S + H_c with M_c = Diag(Γ_last) - (K⊙exp(b_last - b))ᵀ W and
/// H_c = (K⊙exp(b_last - b))ᵀ Ũ (substitute U = Ũ - W S into the state update); W and Ũ below are exactly
/// the pieces needed to expose it. DESIGN.md §3 writes Diag(Γ_last)·(I - (K⊙exp(b_last - b))ᵀ W), which
/// applies Γ_last twice to the second term; it equals ours only with K⊙exp(-b) in place of K⊙exp(b_last - b).
void deltaChunk(const Chunk& ch, detail::HeadState& st, int kf, int V, double scale, double* o, std::vector<double>& Tm,
                std::vector<double>& W, std::vector<double>& U) {
  const int c = ch.size();
  const std::vector<double>& S = st.S;

  // T = (I + A_kk)^-1, A_kk = StrictLower(Diag(β)(KKᵀ⊙M)), by forward substitution row by row:
  // T[i,:] = e_i - Σ_{m<i} A[i,m] T[m,:].
  Tm.assign(static_cast<size_t>(c) * c, 0.0);
  for (int i = 0; i < c; ++i) {
    double* Ti = &Tm[static_cast<size_t>(i) * c];
    Ti[i] = 1.0;
    for (int m = 0; m < i; ++m) {
      const double a = ch.beta(i) * ch.kkGram(i, m);
      const double* Tmr = &Tm[static_cast<size_t>(m) * c];
      for (int j = 0; j <= m; ++j) Ti[j] -= a * Tmr[j];
    }
  }

  // W = T·Diag(β)·(K⊙Γ), Ũ = T·Diag(β)·V (U starts as Ũ).
  W.assign(static_cast<size_t>(c) * kf, 0.0);
  U.assign(static_cast<size_t>(c) * V, 0.0);
  for (int i = 0; i < c; ++i) {
    double* Wi = &W[static_cast<size_t>(i) * kf];
    double* Ui = &U[static_cast<size_t>(i) * V];
    for (int j = 0; j <= i; ++j) {
      const double t = Tm[static_cast<size_t>(i) * c + j] * ch.beta(j);
      const double* k = ch.k(j);
      const double* v = ch.v(j);
      for (int d = 0; d < kf; ++d) Wi[d] += t * k[d] * ch.gamma(j, d);
      for (int x = 0; x < V; ++x) Ui[x] += t * v[x];
    }
  }
  // U = Ũ - W S.
  for (int i = 0; i < c; ++i) {
    double* Ui = &U[static_cast<size_t>(i) * V];
    const double* Wi = &W[static_cast<size_t>(i) * kf];
    for (int d = 0; d < kf; ++d) {
      const double w = Wi[d];
      const double* row = &S[static_cast<size_t>(d) * V];
      for (int x = 0; x < V; ++x) Ui[x] -= w * row[x];
    }
  }

  // O = scale·[(Q⊙Γ)S + (QKᵀ⊙M)_{lower incl. diag} U].
  addInterChunk(ch, S, kf, V, scale, o);
  for (int i = 0; i < c; ++i) {
    double* out = o + static_cast<size_t>(i) * V;
    for (int j = 0; j <= i; ++j) {
      const double a = scale * ch.qkGram(i, j);
      const double* u = &U[static_cast<size_t>(j) * V];
      for (int x = 0; x < V; ++x) out[x] += a * u[x];
    }
  }
  advanceState(
      ch, st.S, kf, V, [&](int s) { return &U[static_cast<size_t>(s) * V]; }, [](int) { return 1.0; });
}

/// Walks one (sequence, head) chunk by chunk; the last chunk may be partial.
void chunkwiseHead(const detail::HeadSequence& seq, detail::HeadState& st, std::vector<double>& o, int chunk,
                   bool delta) {
  const int kf = seq.kf, V = seq.vdim;
  std::vector<double> Tm, W, U;  // delta-rule scratch, reused across chunks
  for (int t0 = 0; t0 < seq.len; t0 += chunk) {
    const Chunk ch(seq, t0, std::min(chunk, seq.len - t0), delta);
    double* oc = &o[static_cast<size_t>(t0) * V];
    if (delta) {
      deltaChunk(ch, st, kf, V, seq.scale, oc, Tm, W, U);
    } else {
      additiveChunk(ch, st, kf, V, seq.scale, oc);
    }
    if (seq.normalize) normalizeChunk(ch, st.z, kf, V, seq.scale, seq.norm_eps, oc);
  }
}

}  // namespace

Expected<Outputs> runChunkwise(const dsl::Spec& spec, const Problem& p, const Inputs& in, int chunk) {
  if (chunk < 1) return Error{"runChunkwise: chunk size must be >= 1, got " + std::to_string(chunk)};
  const bool delta = spec.rule == dsl::UpdateRule::Delta;
  return detail::runPerHead(spec, p, in,
                            [&](const detail::HeadSequence& seq, detail::HeadState& st, std::vector<double>& o) {
                              chunkwiseHead(seq, st, o, chunk, delta);
                            });
}

}  // namespace linrec::reference
