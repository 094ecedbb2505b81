// Evidence that the references are right on their own: closed forms, hand-computed examples, feature maps.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ReferenceTestUtil.h"

namespace linrec::reference::testing {
namespace {

constexpr double kTol = 1e-12;

/// Offset of [b,t,h,d] in a contiguous [B,T,H,D] tensor.
size_t at(const Problem& p, int b, int t, int h, int d, int D) {
  return ((static_cast<size_t>(b) * p.T + t) * p.H + h) * D + d;
}

/// Runs both references and checks each against `want`.
void expectBothMatch(const dsl::Spec& spec, const Problem& p, const Inputs& in, const Outputs& want,
                     double tol = kTol) {
  {
    SCOPED_TRACE("recurrent");
    expectClose(unwrap(runRecurrent(spec, p, in), "runRecurrent"), want, tol);
  }
  for (int c : {1, 5, 64}) {
    SCOPED_TRACE("chunkwise, chunk " + std::to_string(c));
    expectClose(unwrap(runChunkwise(spec, p, in, c), "runChunkwise"), want, tol);
  }
}

/// The quadratic (attention-like) form of an additive recurrence, written straight from the raw inputs:
/// o_t = scale·[Σ_d q_td Γ_t,d S0[d] + Σ_{j<=t} Σ_d q_td k_jd exp(G_t,d - G_j,d) β_j v_j] / normalizer,
/// with G the running sum of the log decay from the sequence start. `phi` is the elementwise feature map,
/// `logDecay(b,t,h,d)` and `beta(b,t,h)` are evaluated by the test itself, not by the DSL.
Outputs quadraticForm(const Problem& p, const Inputs& in, double scale, bool normalize,
                      const std::function<double(double)>& phi,
                      const std::function<double(int, int, int, int)>& logDecay,
                      const std::function<double(int, int, int)>& beta) {
  const int K = p.K, V = p.V;
  Outputs out;
  out.o.assign(static_cast<size_t>(p.B) * p.T * p.H * V, 0.0);
  out.final_state.assign(static_cast<size_t>(p.B) * p.H * K * V, 0.0);
  if (normalize) out.final_z.assign(static_cast<size_t>(p.B) * p.H * K, 0.0);
  for (int b = 0; b < p.B; ++b) {
    for (int h = 0; h < p.H; ++h) {
      std::vector<double> G(static_cast<size_t>(p.T + 1) * K, 0.0);  // G[t+1] = Σ_{s<=t} g_s
      for (int t = 0; t < p.T; ++t) {
        for (int d = 0; d < K; ++d) G[(t + 1) * K + d] = G[t * K + d] + logDecay(b, t, h, d);
      }
      auto S0 = [&](int d, int x) {
        return in.initial_state.empty() ? 0.0 : in.initial_state[((static_cast<size_t>(b) * p.H + h) * K + d) * V + x];
      };
      auto z0 = [&](int d) {
        return in.initial_z.empty() ? 0.0 : in.initial_z[(static_cast<size_t>(b) * p.H + h) * K + d];
      };
      auto q = [&](int t, int d) { return phi(in.q[at(p, b, t, h, d, K)]); };
      auto k = [&](int t, int d) { return phi(in.k[at(p, b, t, h, d, K)]); };
      for (int t = 0; t <= p.T; ++t) {
        // t == p.T evaluates the final state with "q" = unit vectors, so both come from one formula.
        const bool final = t == p.T;
        for (int x = 0; x < V; ++x) {
          for (int dq = 0; dq < (final ? K : 1); ++dq) {
            auto qd = [&](int d) { return final ? (d == dq ? 1.0 : 0.0) : q(t, d); };
            const int tt = final ? p.T - 1 : t;  // last token index the readout includes
            double num = 0, den = 0;
            for (int d = 0; d < K; ++d) {
              num += qd(d) * std::exp(G[(tt + 1) * K + d]) * S0(d, x);
              den += qd(d) * std::exp(G[(tt + 1) * K + d]) * z0(d);
            }
            for (int j = 0; j <= tt; ++j) {
              double a = 0;
              for (int d = 0; d < K; ++d) a += qd(d) * k(j, d) * std::exp(G[(tt + 1) * K + d] - G[(j + 1) * K + d]);
              num += a * beta(b, j, h) * in.v[at(p, b, j, h, x, V)];
              den += a;
            }
            if (final) {
              out.final_state[((static_cast<size_t>(b) * p.H + h) * K + dq) * V + x] = num;
              if (normalize && x == 0) out.final_z[(static_cast<size_t>(b) * p.H + h) * K + dq] = den;
            } else {
              out.o[at(p, b, t, h, x, V)] = normalize ? scale * num / (scale * den + 1e-6) : scale * num;
            }
          }
        }
      }
    }
  }
  return out;
}

const auto kIdentity = [](double x) { return x; };
const auto kNoDecay = [](int, int, int, int) { return 0.0; };
const auto kUnitBeta = [](int, int, int) { return 1.0; };

TEST(QuadraticForm, LinearAttention) {
  auto spec = parse(families()[0].toml, "linear_attn");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 2, p.T = 23, p.H = 3, p.K = 4, p.V = 3;
  for (bool init : {false, true}) {
    SCOPED_TRACE(init ? "with initial state" : "zero initial state");
    const Inputs in = randomInputs(*spec, p, 3, init);
    expectBothMatch(*spec, p, in, quadraticForm(p, in, 0.5, false, kIdentity, kNoDecay, kUnitBeta));
  }
}

TEST(QuadraticForm, NormalizedEluFeatures) {
  auto spec = parse(R"toml([variant]
name = "n"
[feature_map]
q = "elu1"
k = "elu1"
[readout]
normalize = true
)toml",
                    "n");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 2, p.T = 19, p.H = 2, p.K = 4, p.V = 3;
  const Inputs in = randomInputs(*spec, p, 4, true);
  auto elu1 = [](double x) { return x > 0 ? x + 1 : std::exp(x); };
  expectBothMatch(*spec, p, in, quadraticForm(p, in, 0.5, true, elu1, kNoDecay, kUnitBeta));
}

TEST(QuadraticForm, ScalarDecayWithHeadParamsAndBeta) {
  auto spec = parse(R"toml([variant]
name = "g"
[inputs]
a = "scalar"
b = "scalar"
[params]
A_log = "head"
dt_bias = "head"
[decay]
log = "-exp(A_log) * softplus(a + dt_bias)"
[update]
beta = "sigmoid(b)"
)toml",
                    "g");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 2, p.T = 21, p.H = 3, p.K = 4, p.V = 3;
  const Inputs in = randomInputs(*spec, p, 5, true);
  auto g = [&](int b, int t, int h, int) {
    const double x = in.inputs.at("a")[at(p, b, t, h, 0, 1)] + in.params.at("dt_bias")[h];
    return -std::exp(in.params.at("A_log")[h]) * std::log1p(std::exp(x));
  };
  auto beta = [&](int b, int t, int h) { return 1.0 / (1.0 + std::exp(-in.inputs.at("b")[at(p, b, t, h, 0, 1)])); };
  expectBothMatch(*spec, p, in, quadraticForm(p, in, 0.5, false, kIdentity, g, beta));
}

TEST(QuadraticForm, VectorDecayWithHeadKeyParam) {
  auto spec = parse(R"toml([variant]
name = "gla"
[inputs]
gk = "vector"
[params]
w = "head_key"
[decay]
log = "logsigmoid(gk + w) / 4"
)toml",
                    "gla");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 2, p.T = 17, p.H = 2, p.K = 4, p.V = 3;
  const Inputs in = randomInputs(*spec, p, 6, true);
  auto g = [&](int b, int t, int h, int d) {
    const double x = in.inputs.at("gk")[at(p, b, t, h, d, p.K)] + in.params.at("w")[h * p.K + d];
    return -std::log1p(std::exp(-x)) / 4;
  };
  expectBothMatch(*spec, p, in, quadraticForm(p, in, 0.5, false, kIdentity, g, kUnitBeta));
}

/// Inputs for K = V = 1-or-2 hand examples: the given q, k, v rows and nothing else.
Inputs handInputs(std::vector<double> q, std::vector<double> k, std::vector<double> v) {
  Inputs in;
  in.q = std::move(q);
  in.k = std::move(k);
  in.v = std::move(v);
  return in;
}

TEST(HandComputed, DeltaRuleTwoTokens) {
  auto spec = parse(R"toml([variant]
name = "d"
[update]
rule = "delta"
beta = "0.5"
[readout]
scale = 1
)toml",
                    "d");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 2, p.H = 1, p.K = 2, p.V = 1;
  // S1 = 0.5·(1,0)·2 = (1,0); S2 = S1 - 0.5·(1,1)(1,1)·S1 + 0.5·(1,1)·4 = (0.5,-0.5) + (2,2) = (2.5,1.5).
  const Inputs in = handInputs({1, 1, 1, 0}, {1, 0, 1, 1}, {2, 4});
  Outputs want;
  want.o = {1.0, 2.5};
  want.final_state = {2.5, 1.5};
  expectBothMatch(*spec, p, in, want);
}

TEST(HandComputed, DeltaRuleWithConstantDecay) {
  auto spec = parse(R"toml([variant]
name = "d"
[decay]
log = "log(0.5)"
[update]
rule = "delta"
beta = "0.5"
[readout]
scale = 1
)toml",
                    "d");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->decay, dsl::DecayKind::Constant);
  Problem p;
  p.B = 1, p.T = 2, p.H = 1, p.K = 2, p.V = 1;
  // The decay acts before the delta step: X = 0.5·S1 = (0.5,0); X - 0.5·(1,1)·0.5 + (2,2) = (2.25,1.75).
  const Inputs in = handInputs({1, 1, 1, 0}, {1, 0, 1, 1}, {2, 4});
  Outputs want;
  want.o = {1.0, 2.25};
  want.final_state = {2.25, 1.75};
  expectBothMatch(*spec, p, in, want);
}

TEST(HandComputed, AdditiveScalarDecayFromInput) {
  auto spec = parse(R"toml([variant]
name = "s"
[inputs]
a = "scalar"
[decay]
log = "a"
[readout]
scale = 1
)toml",
                    "s");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 3, p.H = 1, p.K = 1, p.V = 1;
  Inputs in = handInputs({1, 1, 1}, {1, 1, 1}, {1, 2, 3});
  in.inputs["a"] = {std::log(0.5), std::log(0.25), 0.0};
  // S1 = 1, S2 = 0.25 + 2, S3 = 2.25 + 3.
  Outputs want;
  want.o = {1.0, 2.25, 5.25};
  want.final_state = {5.25};
  expectBothMatch(*spec, p, in, want);
}

TEST(HandComputed, AdditiveVectorDecay) {
  auto spec = parse(R"toml([variant]
name = "v"
[inputs]
gk = "vector"
[decay]
log = "gk"
[readout]
scale = 1
)toml",
                    "v");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 2, p.H = 1, p.K = 2, p.V = 1;
  Inputs in = handInputs({1, 2, 2, 4}, {1, 1, 1, 0}, {1, 2});
  in.inputs["gk"] = {std::log(0.5), 0.0, std::log(0.5), std::log(0.25)};
  // S1 = (1,1); S2 = (0.5·1 + 2, 0.25·1 + 0) = (2.5, 0.25); o = (q1·S1, q2·S2) = (3, 6).
  Outputs want;
  want.o = {3.0, 6.0};
  want.final_state = {2.5, 0.25};
  expectBothMatch(*spec, p, in, want);
}

TEST(HandComputed, NormalizerIgnoresBeta) {
  auto spec = parse(R"toml([variant]
name = "n"
[update]
beta = "2"
[readout]
scale = 1
normalize = true
)toml",
                    "n");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 2, p.H = 1, p.K = 1, p.V = 1;
  const Inputs in = handInputs({1, 1}, {1, 1}, {2, 4});
  // S = 4, 12 (β = 2 scales v); z = 1, 2 (it does not scale k̃).
  Outputs want;
  want.o = {4.0 / (1 + 1e-6), 12.0 / (2 + 1e-6)};
  want.final_state = {12.0};
  want.final_z = {2.0};
  expectBothMatch(*spec, p, in, want);
}

TEST(HandComputed, RetentionDecayDependsOnHead) {
  auto spec = parse(families()[2].toml, "retention");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 2, p.H = 2, p.K = 1, p.V = 1;
  const Inputs in = handInputs({1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1});
  const double a0 = 1 - 1.0 / 32, a1 = 1 - 1.0 / 64;  // 1 - 2^(-5-h)
  Outputs want;
  want.o = {1.0, 1.0, a0 + 1, a1 + 1};  // [t, h]; scale = 1/sqrt(K) = 1
  want.final_state = {a0 + 1, a1 + 1};
  expectBothMatch(*spec, p, in, want);
}

/// For T = 1, V = 1, v = 1 and β = 1 the final state is exactly k̃: a direct look at a feature map.
std::vector<double> featuresOf(const std::string& qMap, const std::string& kMap, const std::vector<double>& k,
                               int H = 1, std::map<std::string, std::vector<double>> params = {},
                               const std::string& decl = "") {
  const std::string toml =
      "[variant]\nname = \"f\"\n" + decl + "[feature_map]\nq = \"" + qMap + "\"\nk = \"" + kMap + "\"\n";
  auto spec = parse(toml, "features");
  if (!spec) return {};
  Problem p;
  p.B = 1, p.T = 1, p.H = H, p.K = static_cast<int>(k.size()) / H, p.V = 1;
  Inputs in;
  in.q = k;
  in.k = k;
  in.v.assign(H, 1.0);
  in.params = std::move(params);
  return unwrap(runRecurrent(*spec, p, in), "runRecurrent").final_state;
}
std::vector<double> featuresOf(const std::string& map, const std::vector<double>& k) {
  return featuresOf(map, map, k);
}

void expectNear(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << "element " << i;
}

TEST(FeatureMaps, L2Norm) {
  const double n = std::sqrt(25 + 1e-6);
  expectNear(featuresOf("l2norm", {3, 4}), {3 / n, 4 / n});
}

TEST(FeatureMaps, Taylor2) {
  // d = K = 2: [1, x/2^(1/4), x_i x_j/(sqrt(2)·sqrt(2))] with i outer.
  const double r = std::pow(2.0, 0.25);
  expectNear(featuresOf("taylor2", {1, 2}), {1, 1 / r, 2 / r, 0.5, 1, 1, 2});
}

TEST(FeatureMaps, Hedgehog) {
  expectNear(featuresOf("hedgehog", {0, std::log(3.0)}), {0.25, 0.75, 0.75, 0.25});
}

TEST(FeatureMaps, Elu1) {
  expectNear(featuresOf("elu1", {-1, 2}), {std::exp(-1.0), 3});
}

TEST(FeatureMaps, HeadKeyParamInInputExpression) {
  // Head h reads params[w][h*K + d].
  expectNear(featuresOf("q * w", "k * w", {1, 1, 1, 1}, 2, {{"w", {1, 2, 3, 4}}}, "[params]\nw = \"head_key\"\n"),
             {1, 2, 3, 4});
}

}  // namespace
}  // namespace linrec::reference::testing
