// Shared plumbing of the float64 references: expression evaluation, feature maps, gather/scatter per head.
#include "Prepare.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

namespace linrec::reference::detail {
namespace {

using dsl::Expr;
using dsl::ExprPtr;
using dsl::FeatureMap;

/// Where a name in an expression takes its value from.
enum class SourceKind : uint8_t { Q, K, ScalarInput, VectorInput, HeadParam, HeadKeyParam, Head };

struct Source {
  std::string name;
  SourceKind kind = SourceKind::Head;
  const double* data = nullptr;
};

/// One point of evaluation: token row = (b*T + t)*H + h, head h, key index d.
struct Pos {
  int64_t row = 0;
  int h = 0;
  int d = 0;
};

bool isVectorSource(SourceKind k) {
  return k == SourceKind::Q || k == SourceKind::K || k == SourceKind::VectorInput || k == SourceKind::HeadKeyParam;
}
bool isPerTokenSource(SourceKind k) {
  return k == SourceKind::Q || k == SourceKind::K || k == SourceKind::ScalarInput || k == SourceKind::VectorInput;
}

/// Resolves a name the way DESIGN.md §1 defines it; false when the spec does not declare it.
bool resolve(const dsl::Spec& spec, const std::string& name, Source& out) {
  out.name = name;
  if (name == "q") {
    out.kind = SourceKind::Q;
  } else if (name == "k") {
    out.kind = SourceKind::K;
  } else if (name == "head") {
    out.kind = SourceKind::Head;
  } else if (const auto* in = spec.findInput(name)) {
    out.kind = in->kind == dsl::InputDecl::Kind::Vector ? SourceKind::VectorInput : SourceKind::ScalarInput;
  } else if (const auto* pa = spec.findParam(name)) {
    out.kind = pa->kind == dsl::ParamDecl::Kind::HeadKey ? SourceKind::HeadKeyParam : SourceKind::HeadParam;
  } else {
    return false;
  }
  return true;
}

/// Which names an expression may use where it appears.
enum class Context : uint8_t { Vector, PerTokenScalar, PerHeadScalar };

Status checkExpr(const dsl::Spec& spec, const ExprPtr& e, Context ctx, const char* what) {
  if (!e) return Status::success();
  for (const auto& name : dsl::referencedNames(e)) {
    Source s;
    if (!resolve(spec, name, s)) {
      return Error{std::string("reference: the ") + what + " expression refers to '" + name +
                   "', which is neither q, k, head nor a declared input or param"};
    }
    if (ctx != Context::Vector && isVectorSource(s.kind)) {
      return Error{std::string("reference: the ") + what + " expression is a scalar but refers to '" + name +
                   "', which is a vector over K"};
    }
    if (ctx == Context::PerHeadScalar && isPerTokenSource(s.kind)) {
      return Error{std::string("reference: the ") + what + " is a per-head constant but refers to '" + name +
                   "', which varies per token"};
    }
  }
  return Status::success();
}

/// An expression bound to the problem's tensors. Stateless after construction, so one instance can be
/// shared by threads.
class BoundExpr {
 public:
  BoundExpr() = default;
  BoundExpr(const dsl::Spec& spec, ExprPtr e, const Inputs& in, int K) : e_(std::move(e)), K_(K) {
    for (const auto& name : dsl::referencedNames(e_)) {
      Source s;
      resolve(spec, name, s);  // checkSpec already proved every name resolves
      switch (s.kind) {
        case SourceKind::Q:
          s.data = in.q.data();
          break;
        case SourceKind::K:
          s.data = in.k.data();
          break;
        case SourceKind::ScalarInput:
        case SourceKind::VectorInput:
          s.data = in.inputs.at(name).data();
          break;
        case SourceKind::HeadParam:
        case SourceKind::HeadKeyParam:
          s.data = in.params.at(name).data();
          break;
        case SourceKind::Head:
          break;
      }
      sources_.push_back(std::move(s));
    }
    // The common cases (pre = q, β = 1, g = a constant) skip the generic evaluator entirely.
    if (e_->kind == Expr::Kind::Ref) direct_ = &sources_.front();
    if (e_->kind == Expr::Kind::Const) constant_ = true;
  }

  double eval(const Pos& pos) const {
    if (constant_) return e_->value;
    if (direct_) return value(*direct_, pos);
    return dsl::evalExpr(e_, [this, &pos](const std::string& name) {
      for (const auto& s : sources_) {
        if (s.name == name) return value(s, pos);
      }
      return 0.0;  // unreachable: every referenced name was bound in the constructor
    });
  }

 private:
  double value(const Source& s, const Pos& p) const {
    switch (s.kind) {
      case SourceKind::Q:
      case SourceKind::K:
      case SourceKind::VectorInput:
        return s.data[p.row * K_ + p.d];
      case SourceKind::ScalarInput:
        return s.data[p.row];
      case SourceKind::HeadParam:
        return s.data[p.h];
      case SourceKind::HeadKeyParam:
        return s.data[static_cast<int64_t>(p.h) * K_ + p.d];
      case SourceKind::Head:
        return static_cast<double>(p.h);
    }
    return 0.0;
  }

  ExprPtr e_;
  int K_ = 0;
  std::vector<Source> sources_;
  const Source* direct_ = nullptr;
  bool constant_ = false;
};

/// Applies a feature map to x [K], writing K' values to `out`.
void applyFeatureMap(FeatureMap::Kind kind, const double* x, int K, double* out) {
  switch (kind) {
    case FeatureMap::Kind::Identity:
      std::copy(x, x + K, out);
      return;
    case FeatureMap::Kind::L2Norm: {
      double ss = 0;
      for (int d = 0; d < K; ++d) ss += x[d] * x[d];
      const double inv = 1.0 / std::sqrt(ss + 1e-6);
      for (int d = 0; d < K; ++d) out[d] = x[d] * inv;
      return;
    }
    case FeatureMap::Kind::Taylor2: {
      const double dk = static_cast<double>(K);
      const double s1 = 1.0 / std::pow(dk, 0.25);
      const double s2 = 1.0 / (std::sqrt(2.0) * std::sqrt(dk));
      out[0] = 1.0;
      for (int d = 0; d < K; ++d) out[1 + d] = x[d] * s1;
      double* o2 = out + 1 + K;
      for (int i = 0; i < K; ++i) {
        for (int j = 0; j < K; ++j) o2[i * K + j] = x[i] * x[j] * s2;
      }
      return;
    }
    case FeatureMap::Kind::Hedgehog: {
      // Both halves are softmaxes of the same vector with opposite signs; shift by max and min so that
      // neither exponent can overflow.
      double mx = x[0], mn = x[0];
      for (int d = 1; d < K; ++d) {
        mx = std::max(mx, x[d]);
        mn = std::min(mn, x[d]);
      }
      double sp = 0, sn = 0;
      for (int d = 0; d < K; ++d) {
        out[d] = std::exp(x[d] - mx);
        out[K + d] = std::exp(mn - x[d]);
        sp += out[d];
        sn += out[K + d];
      }
      for (int d = 0; d < K; ++d) {
        out[d] /= sp;
        out[K + d] /= sn;
      }
      return;
    }
  }
}

ExprPtr preOrDefault(const FeatureMap& m, const char* name) {
  return m.pre ? m.pre : dsl::makeRef(name);
}

}  // namespace

Status checkSpec(const dsl::Spec& spec, int K) {
  if (K < 1) return Error{"reference: K must be >= 1"};
  const int kf = spec.featureWidth(K);
  const int kfk = dsl::featureWidth(spec.k_map.kind, K);
  if (kf != kfk) {
    return Error{std::string("reference: the q feature map (") + dsl::featureMapName(spec.q_map.kind) + ", width " +
                 std::to_string(kf) + ") and the k feature map (" + dsl::featureMapName(spec.k_map.kind) + ", width " +
                 std::to_string(kfk) + ") differ in width"};
  }
  if (spec.vectorDecay() && kf != K) {
    return Error{"reference: a vector decay needs a width-preserving feature map (K' == K), but K' = " +
                 std::to_string(kf) + " for K = " + std::to_string(K)};
  }
  if (spec.decay != dsl::DecayKind::None && !spec.decay_log) {
    return Error{std::string("reference: decay kind ") + dsl::decayKindName(spec.decay) +
                 " has no log-decay expression"};
  }
  if (auto s = checkExpr(spec, preOrDefault(spec.q_map, "q"), Context::Vector, "q feature-map input"); !s) return s;
  if (auto s = checkExpr(spec, preOrDefault(spec.k_map, "k"), Context::Vector, "k feature-map input"); !s) return s;
  if (spec.decay != dsl::DecayKind::None) {
    const Context ctx = spec.decay == dsl::DecayKind::Vector   ? Context::Vector
                        : spec.decay == dsl::DecayKind::Scalar ? Context::PerTokenScalar
                                                               : Context::PerHeadScalar;
    if (auto s = checkExpr(spec, spec.decay_log, ctx, "decay"); !s) return s;
  }
  if (auto s = checkExpr(spec, spec.beta, Context::PerTokenScalar, "beta"); !s) return s;
  return Status::success();
}

Expected<Outputs> runPerHead(const dsl::Spec& spec, const Problem& p, const Inputs& in, const HeadKernel& kernel) {
  if (auto st = validate(spec, p, in); !st) return Error{st.error()};
  const int K = p.K, V = p.V, H = p.H, T = p.T;
  const int kf = spec.featureWidth(K);
  const int N = p.numSequences();

  const BoundExpr qPre(spec, preOrDefault(spec.q_map, "q"), in, K);
  const BoundExpr kPre(spec, preOrDefault(spec.k_map, "k"), in, K);
  const BoundExpr decay = spec.decay == dsl::DecayKind::None ? BoundExpr() : BoundExpr(spec, spec.decay_log, in, K);
  const BoundExpr beta(spec, spec.beta ? spec.beta : dsl::makeConst(1.0), in, K);
  const int gdim = spec.decay == dsl::DecayKind::None ? 0 : spec.vectorDecay() ? kf : 1;

  Outputs out;
  out.o.assign(static_cast<size_t>(p.B) * T * H * V, 0.0);
  out.final_state.assign(static_cast<size_t>(N) * H * kf * V, 0.0);
  if (spec.normalize) out.final_z.assign(static_cast<size_t>(N) * H * kf, 0.0);

  HeadSequence seq;
  HeadState state;
  std::vector<double> o, pre(K);
  for (int n = 0; n < N; ++n) {
    const int b = p.cu_seqlens.empty() ? n : 0;
    const int64_t t0 = p.cu_seqlens.empty() ? 0 : p.cu_seqlens[n];
    const int len = static_cast<int>(p.cu_seqlens.empty() ? T : p.cu_seqlens[n + 1] - t0);
    for (int h = 0; h < H; ++h) {
      seq.len = len;
      seq.kf = kf;
      seq.vdim = V;
      seq.gdim = gdim;
      seq.scale = spec.scaleFor(K);
      seq.normalize = spec.normalize;
      seq.norm_eps = spec.norm_eps;
      seq.q.assign(static_cast<size_t>(len) * kf, 0.0);
      seq.k.assign(static_cast<size_t>(len) * kf, 0.0);
      seq.v.assign(static_cast<size_t>(len) * V, 0.0);
      seq.g.assign(static_cast<size_t>(len) * gdim, 0.0);
      seq.beta.assign(len, 1.0);
      for (int i = 0; i < len; ++i) {
        Pos pos{(static_cast<int64_t>(b) * T + t0 + i) * H + h, h, 0};
        for (pos.d = 0; pos.d < K; ++pos.d) pre[pos.d] = qPre.eval(pos);
        applyFeatureMap(spec.q_map.kind, pre.data(), K, &seq.q[static_cast<size_t>(i) * kf]);
        for (pos.d = 0; pos.d < K; ++pos.d) pre[pos.d] = kPre.eval(pos);
        applyFeatureMap(spec.k_map.kind, pre.data(), K, &seq.k[static_cast<size_t>(i) * kf]);
        for (pos.d = 0; pos.d < gdim; ++pos.d) seq.g[static_cast<size_t>(i) * gdim + pos.d] = decay.eval(pos);
        pos.d = 0;
        seq.beta[i] = beta.eval(pos);
        std::copy_n(&in.v[static_cast<size_t>(pos.row) * V], V, &seq.v[static_cast<size_t>(i) * V]);
      }

      const size_t sOff = (static_cast<size_t>(n) * H + h) * kf * V;
      const size_t zOff = (static_cast<size_t>(n) * H + h) * kf;
      if (in.initial_state.empty()) {
        state.S.assign(static_cast<size_t>(kf) * V, 0.0);
      } else {
        state.S.assign(in.initial_state.begin() + sOff, in.initial_state.begin() + sOff + static_cast<size_t>(kf) * V);
      }
      if (!spec.normalize) {
        state.z.clear();
      } else if (in.initial_z.empty()) {
        state.z.assign(kf, 0.0);
      } else {
        state.z.assign(in.initial_z.begin() + zOff, in.initial_z.begin() + zOff + kf);
      }

      o.assign(static_cast<size_t>(len) * V, 0.0);
      kernel(seq, state, o);

      for (int i = 0; i < len; ++i) {
        const size_t row = (static_cast<size_t>(b) * T + t0 + i) * H + h;
        std::copy_n(&o[static_cast<size_t>(i) * V], V, &out.o[row * V]);
      }
      std::copy(state.S.begin(), state.S.end(), out.final_state.begin() + sOff);
      if (spec.normalize) std::copy(state.z.begin(), state.z.end(), out.final_z.begin() + zOff);
    }
  }
  return out;
}

}  // namespace linrec::reference::detail
