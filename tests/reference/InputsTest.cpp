// validate(), randomInputs() and relativeError(): shape checks with useful messages, reproducible inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ReferenceTestUtil.h"

namespace linrec::reference::testing {
namespace {

void expectError(const Status& s, const std::string& want) {
  ASSERT_FALSE(s.ok()) << "expected an error containing: " << want;
  EXPECT_NE(s.error().find(want), std::string::npos) << "message: " << s.error() << "\nexpected to contain: " << want;
}

const Family& family(const std::string& name) {
  for (const auto& f : families()) {
    if (name == f.name) return f;
  }
  ADD_FAILURE() << "no family " << name;
  return families().front();
}

class ValidateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = parse(family("simple_gla").toml, "simple_gla");
    ASSERT_TRUE(s);
    spec = *s;
    p.B = 2, p.T = 50, p.H = 1, p.K = 4, p.V = 3;
    in = randomInputs(spec, p, 1, true);
    ASSERT_TRUE(validate(spec, p, in).ok()) << validate(spec, p, in).error();
  }
  dsl::Spec spec;
  Problem p;
  Inputs in;
};

TEST_F(ValidateTest, ScalarInputSize) {
  in.inputs["a"].resize(99);
  const Status s = validate(spec, p, in);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), "input 'a' has 99 elements, expected [B,T,H] = [2,50,1] = 100");
}

TEST_F(ValidateTest, QKVSizes) {
  in.q.resize(399);
  EXPECT_EQ(validate(spec, p, in).error(), "q has 399 elements, expected [B,T,H,K] = [2,50,1,4] = 400");
  in = randomInputs(spec, p, 1, false);
  in.k.push_back(0);
  EXPECT_EQ(validate(spec, p, in).error(), "k has 401 elements, expected [B,T,H,K] = [2,50,1,4] = 400");
  in = randomInputs(spec, p, 1, false);
  in.v.clear();
  EXPECT_EQ(validate(spec, p, in).error(), "v has 0 elements, expected [B,T,H,V] = [2,50,1,3] = 300");
}

TEST_F(ValidateTest, MissingAndUndeclaredInputs) {
  in.inputs.erase("a");
  expectError(validate(spec, p, in),
              "input 'a' is missing; variant 'simple_gla' declares it scalar [B,T,H] = [2,50,1] = 100");
  in = randomInputs(spec, p, 1, false);
  in.inputs["gk"] = std::vector<double>(100);
  expectError(validate(spec, p, in), "input 'gk' is not declared by variant 'simple_gla' (declared inputs: a)");
}

TEST_F(ValidateTest, Params) {
  in.params["A_log"] = {1, 2};
  EXPECT_EQ(validate(spec, p, in).error(), "param 'A_log' has 2 elements, expected [H] = [1] = 1");
  in = randomInputs(spec, p, 1, false);
  in.params.erase("dt_bias");
  expectError(validate(spec, p, in), "param 'dt_bias' is missing");
  in = randomInputs(spec, p, 1, false);
  in.params["extra"] = {1};
  expectError(validate(spec, p, in),
              "param 'extra' is not declared by variant 'simple_gla' (declared params: A_log, dt_bias)");
}

TEST_F(ValidateTest, InitialState) {
  in.initial_state.resize(5);
  EXPECT_EQ(validate(spec, p, in).error(),
            "initial_state has 5 elements, expected [N,H,K',V] = [2,1,4,3] = 24 (or empty for zeros)");
  in.initial_state.clear();
  EXPECT_TRUE(validate(spec, p, in).ok());
  in.initial_z = {1, 2, 3, 4, 5, 6, 7, 8};
  expectError(validate(spec, p, in), "initial_z is given but variant 'simple_gla' has no normalizer");
}

TEST_F(ValidateTest, CuSeqlens) {
  Problem v = p;
  v.cu_seqlens = {0, 50, 100};
  expectError(validate(spec, v, in), "cu_seqlens given, so B must be 1 (got B=2)");
  v.B = 1, v.T = 100;
  EXPECT_TRUE(validate(spec, v, in).ok()) << validate(spec, v, in).error();
  v.cu_seqlens = {1, 50, 100};
  expectError(validate(spec, v, in), "cu_seqlens must start at 0, got 1");
  v.cu_seqlens = {0, 60, 50, 100};
  expectError(validate(spec, v, in), "cu_seqlens must be non-decreasing, but cu_seqlens[2] = 50 < cu_seqlens[1] = 60");
  v.cu_seqlens = {0, 50, 99};
  expectError(validate(spec, v, in), "cu_seqlens must end at T = 100, got 99");
  v.cu_seqlens = {0};
  expectError(validate(spec, v, in), "cu_seqlens must have N+1 >= 2 entries, got 1");
}

TEST_F(ValidateTest, ProblemSizes) {
  Problem bad = p;
  bad.K = 0;
  expectError(validate(spec, bad, in), "problem sizes must be B, H, K, V >= 1 and T >= 0");
  bad = p;
  bad.T = -1;
  expectError(validate(spec, bad, in), "T=-1");
}

TEST_F(ValidateTest, RunnersReturnErrorsInsteadOfCrashing) {
  in.v.resize(7);
  const auto r = runRecurrent(spec, p, in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "v has 7 elements, expected [B,T,H,V] = [2,50,1,3] = 300");
  const auto c = runChunkwise(spec, p, in, 16);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), r.error());
  in = randomInputs(spec, p, 1, false);
  const auto z = runChunkwise(spec, p, in, 0);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error(), "runChunkwise: chunk size must be >= 1, got 0");
}

TEST(ValidateShapes, VectorInputsHeadKeyParamsAndFeatureWidth) {
  auto kda = parse(family("kda").toml, "kda");
  ASSERT_TRUE(kda);
  Problem p;
  p.B = 1, p.T = 3, p.H = 2, p.K = 4, p.V = 2;
  Inputs in = randomInputs(*kda, p, 1, false);
  in.inputs["g"].resize(6);
  EXPECT_EQ(validate(*kda, p, in).error(), "input 'g' has 6 elements, expected [B,T,H,K] = [1,3,2,4] = 24");
  in = randomInputs(*kda, p, 1, false);
  in.params["dt_bias"].resize(2);
  EXPECT_EQ(validate(*kda, p, in).error(), "param 'dt_bias' has 2 elements, expected [H,K] = [2,4] = 8");

  auto based = parse(family("based").toml, "based");
  ASSERT_TRUE(based);
  p.K = 16;
  in = randomInputs(*based, p, 1, true);
  EXPECT_EQ(in.initial_state.size(), 1u * 2 * 273 * 2);
  EXPECT_EQ(in.initial_z.size(), 1u * 2 * 273);
  EXPECT_TRUE(validate(*based, p, in).ok());
  in.initial_z.resize(32);
  EXPECT_EQ(validate(*based, p, in).error(),
            "initial_z has 32 elements, expected [N,H,K'] = [1,2,273] = 546 (or empty for zeros)");
}

// Specs built by hand (not through the parser) can say things the references cannot evaluate.
TEST(ValidateSpec, RejectsWhatTheReferenceCannotEvaluate) {
  Problem p;
  p.B = 1, p.T = 2, p.H = 1, p.K = 4, p.V = 2;
  dsl::Spec s;
  s.name = "handmade";
  s.beta = dsl::makeConst(1);
  s.q_map.pre = dsl::makeRef("q");
  s.k_map.pre = dsl::makeRef("k");
  Inputs in = randomInputs(s, p, 1, false);
  ASSERT_TRUE(validate(s, p, in).ok()) << validate(s, p, in).error();

  dsl::Spec hh = s;
  hh.q_map.kind = hh.k_map.kind = dsl::FeatureMap::Kind::Hedgehog;
  hh.inputs = {{"gk", dsl::InputDecl::Kind::Vector, {}}};
  hh.decay = dsl::DecayKind::Vector;
  hh.decay_log = dsl::makeRef("gk");
  expectError(validate(hh, p, randomInputs(hh, p, 1, false)), "a vector decay needs a width-preserving feature map");

  dsl::Spec mixed = s;
  mixed.k_map.kind = dsl::FeatureMap::Kind::Taylor2;
  expectError(validate(mixed, p, in), "differ in width");

  dsl::Spec unknown = s;
  unknown.decay = dsl::DecayKind::Scalar;
  unknown.decay_log = dsl::makeRef("nope");
  expectError(validate(unknown, p, in), "the decay expression refers to 'nope'");

  dsl::Spec vecBeta = s;
  vecBeta.beta = dsl::makeRef("q");
  expectError(validate(vecBeta, p, in), "the beta expression is a scalar but refers to 'q'");

  dsl::Spec noLog = s;
  noLog.decay = dsl::DecayKind::Constant;
  expectError(validate(noLog, p, in), "has no log-decay expression");
}

TEST(RandomInputs, DeterministicPerSeed) {
  auto spec = parse(family("gated_delta_rule").toml, "gdr");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 2, p.T = 9, p.H = 3, p.K = 4, p.V = 5;
  const Inputs a = randomInputs(*spec, p, 123, true), b = randomInputs(*spec, p, 123, true);
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.k, b.k);
  EXPECT_EQ(a.v, b.v);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.initial_state, b.initial_state);
  const Inputs c = randomInputs(*spec, p, 124, true);
  EXPECT_NE(a.q, c.q);
  EXPECT_NE(a.inputs.at("a"), c.inputs.at("a"));
  EXPECT_TRUE(validate(*spec, p, a).ok()) << validate(*spec, p, a).error();
}

// Each tensor has its own stream: a variant with more inputs sees the same q, k, v.
TEST(RandomInputs, TensorsAreIndependentOfTheOtherDeclarations) {
  auto lin = parse(family("linear_attn").toml, "lin");
  auto gdr = parse(family("gated_delta_rule").toml, "gdr");
  ASSERT_TRUE(lin && gdr);
  Problem p;
  p.B = 1, p.T = 7, p.H = 2, p.K = 4, p.V = 3;
  const Inputs a = randomInputs(*lin, p, 9, false), b = randomInputs(*gdr, p, 9, false);
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.k, b.k);
  EXPECT_EQ(a.v, b.v);
  EXPECT_TRUE(a.initial_state.empty());
}

// Pinned values: GPU tests on other machines regenerate these inputs, so the generator must not drift.
// mt19937_64 is fully specified by the standard; only libm's last bit in log/sin/cos may differ.
TEST(RandomInputs, PinnedValues) {
  auto spec = parse(family("linear_attn").toml, "lin");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 1, p.H = 1, p.K = 4, p.V = 2;
  const Inputs in = randomInputs(*spec, p, 42, false);
  const std::vector<double> q = {-0.89413338197270753, -0.23740330744048116, -0.1502393125906433, 0.52758705193786304};
  ASSERT_EQ(in.q.size(), q.size());
  for (size_t i = 0; i < q.size(); ++i) EXPECT_NEAR(in.q[i], q[i], 1e-14) << i;
}

TEST(RandomInputs, StandardNormalMoments) {
  auto spec = parse(family("linear_attn").toml, "lin");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 1000, p.H = 2, p.K = 50, p.V = 1;
  const Inputs in = randomInputs(*spec, p, 7, true);
  double m = 0, m2 = 0;
  for (double x : in.q) m += x, m2 += x * x;
  m /= in.q.size(), m2 /= in.q.size();
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(m2, 1.0, 0.02);
  double s2 = 0;
  for (double x : in.initial_state) s2 += x * x;
  EXPECT_NEAR(s2 / in.initial_state.size(), 0.01, 0.002);  // N(0,1)·0.1
}

TEST(RandomInputs, PositiveQKForSignPreservingMapsWithNormalizer) {
  auto spec = parse(R"toml([variant]
name = "n"
[readout]
normalize = true
)toml",
                    "n");
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 20, p.H = 2, p.K = 4, p.V = 2;
  const Inputs in = randomInputs(*spec, p, 3, true);
  for (double x : in.q) EXPECT_GE(x, 0.0);
  for (double x : in.k) EXPECT_GE(x, 0.0);
  for (double x : in.initial_z) EXPECT_GE(x, 0.0);
  EXPECT_EQ(in.initial_z.size(), 2u * 4);
}

TEST(RelativeError, Definition) {
  EXPECT_EQ(relativeError({1, 2}, {1, 2}), 0.0);
  EXPECT_DOUBLE_EQ(relativeError({1, 2.5}, {1, -2}), 4.5 / 2);
  EXPECT_EQ(relativeError({}, {}), 0.0);
  EXPECT_EQ(relativeError({0, 0}, {0, 0}), 0.0);
  EXPECT_GT(relativeError({1e-300}, {0}), 1e6);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(relativeError({1, 2}, {1}), inf);
  EXPECT_EQ(relativeError({std::nan("")}, {1}), inf);
  EXPECT_EQ(relativeError({1}, {inf}), inf);
}

}  // namespace
}  // namespace linrec::reference::testing
