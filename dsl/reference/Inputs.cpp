// Deterministic random inputs for the references and the kernels' tests, and the error measure they share.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "linrec/reference/Reference.h"

namespace linrec::reference {
namespace {

/// N(0,1) from mt19937_64 through our own Box–Muller: std::normal_distribution differs between standard
/// libraries, and GPU tests on another machine must regenerate exactly these inputs.
class NormalStream {
 public:
  explicit NormalStream(uint64_t seed) : eng_(seed) {}
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double th = 6.283185307179586476925286766559 * u2;
    spare_ = r * std::sin(th);
    has_spare_ = true;
    return r * std::cos(th);
  }

 private:
  double uniform() { return static_cast<double>(eng_() >> 11) * 0x1.0p-53; }  // [0, 1), 53 bits
  std::mt19937_64 eng_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// Every tensor draws from its own stream keyed by (seed, name), so declaring one more input does not
/// change the values of the others.
std::vector<double> draw(uint64_t seed, const std::string& tensor, int64_t n, double factor, bool positive) {
  NormalStream rng(splitmix64(seed ^ fnv1a(tensor)));
  std::vector<double> out(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (auto& x : out) {
    const double z = rng.next();
    x = factor * (positive ? std::abs(z) : z);
  }
  return out;
}

}  // namespace

Inputs randomInputs(const dsl::Spec& spec, const Problem& p, uint64_t seed, bool with_initial_state) {
  const int64_t B = std::max(p.B, 0), T = std::max(p.T, 0), H = std::max(p.H, 0), K = std::max(p.K, 0),
                V = std::max(p.V, 0), N = std::max(p.numSequences(), 0);
  const int64_t kf = K > 0 ? spec.featureWidth(static_cast<int>(K)) : 0;
  // The normalizer divides by scale·q̃ᵀz; maps that keep the sign of their input could make that cross
  // zero, so draw q and k positive for them (taylor2 and hedgehog features are positive anyway).
  const auto keepsSign = [](dsl::FeatureMap::Kind m) {
    return m == dsl::FeatureMap::Kind::Identity || m == dsl::FeatureMap::Kind::L2Norm;
  };
  const bool positive_qk = spec.normalize && (keepsSign(spec.q_map.kind) || keepsSign(spec.k_map.kind));

  Inputs in;
  in.q = draw(seed, "q", B * T * H * K, 1.0, positive_qk);
  in.k = draw(seed, "k", B * T * H * K, 1.0, positive_qk);
  in.v = draw(seed, "v", B * T * H * V, 1.0, false);
  for (const auto& d : spec.inputs) {
    const int64_t n = B * T * H * (d.kind == dsl::InputDecl::Kind::Vector ? K : 1);
    in.inputs[d.name] = draw(seed, "input:" + d.name, n, 1.0, false);
  }
  for (const auto& d : spec.params) {
    const int64_t n = H * (d.kind == dsl::ParamDecl::Kind::HeadKey ? K : 1);
    in.params[d.name] = draw(seed, "param:" + d.name, n, 1.0, false);
  }
  if (with_initial_state) {
    in.initial_state = draw(seed, "initial_state", N * H * kf * V, 0.1, false);
    // A positive z keeps the normalizer's denominator away from zero from the first token on.
    if (spec.normalize) in.initial_z = draw(seed, "initial_z", N * H * kf, 0.1, true);
  }
  return in;
}

double relativeError(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    // A NaN or inf anywhere is never "close", even where both sides agree on it.
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::abs(a[i] - b[i]));
    ref = std::max(ref, std::abs(b[i]));
  }
  return diff / std::max(ref, std::numeric_limits<double>::min());
}

}  // namespace linrec::reference
