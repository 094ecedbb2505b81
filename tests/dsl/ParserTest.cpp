// Tests for variant-file parsing: every bundled variant, and one diagnostic per kind of mistake.
#include <gtest/gtest.h>

#include <filesystem>

#include "linrec/dsl/Parser.h"

using namespace linrec::dsl;

namespace {

Spec parseOk(const std::string& text) {
  ParseResult r = parseSpec(text, "t.toml");
  EXPECT_TRUE(r.ok()) << r.errorText();
  return r.ok() ? *r.spec : Spec{};
}

// The first diagnostic, as the CLI prints it.
std::string firstError(const std::string& text) {
  ParseResult r = parseSpec(text, "t.toml");
  EXPECT_FALSE(r.ok()) << text;
  return r.errors.empty() ? "" : r.errors[0].str();
}

const char* kHeader = "[variant]\nname = \"x\"\n";

}  // namespace

TEST(Parser, EveryBundledVariantParses) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(LINREC_SOURCE_DIR) + "/variants")) {
    if (entry.path().extension() != ".toml") continue;
    ParseResult r = parseSpecFile(entry.path().string());
    EXPECT_TRUE(r.ok()) << entry.path() << "\n" << r.errorText();
    ++n;
  }
  EXPECT_GE(n, 9);
}

TEST(Parser, FamiliesClassifyAsDesigned) {
  auto load = [](const char* name) {
    ParseResult r = parseSpecFile(std::string(LINREC_SOURCE_DIR) + "/variants/" + name + ".toml");
    EXPECT_TRUE(r.ok()) << r.errorText();
    return *r.spec;
  };
  EXPECT_EQ(load("linear_attn").decay, DecayKind::None);
  EXPECT_EQ(load("retention").decay, DecayKind::Constant);
  EXPECT_EQ(load("simple_gla").decay, DecayKind::Scalar);
  EXPECT_EQ(load("gla").decay, DecayKind::Vector);
  EXPECT_EQ(load("delta_rule").rule, UpdateRule::Delta);
  EXPECT_EQ(load("gated_delta_rule").decay, DecayKind::Scalar);
  EXPECT_EQ(load("kda").decay, DecayKind::Vector);
  Spec based = load("based");
  EXPECT_EQ(based.q_map.kind, FeatureMap::Kind::Taylor2);
  EXPECT_EQ(based.featureWidth(16), 273);
  EXPECT_TRUE(based.normalize);
  EXPECT_EQ(load("hedgehog").featureWidth(64), 128);
}

TEST(Parser, GeneralFeatureMapsAndShapes) {
  Spec s = parseOk(std::string(kHeader) +
                   "[inputs]\nw = \"vector\"\nx = \"scalar\"\n[params]\nwk = \"head_key\"\n"
                   "[feature_map]\nq = \"elu1\"\nk = \"l2norm(k * sigmoid(w) + wk)\"\n"
                   "[decay]\nlog = \"-softplus(x)\"\n");
  EXPECT_EQ(s.k_map.kind, FeatureMap::Kind::L2Norm);
  EXPECT_EQ(printExpr(s.k_map.pre), "k * sigmoid(w) + wk");
  EXPECT_EQ(printExpr(s.q_map.pre), "elu(q) + 1");
  EXPECT_EQ(s.decay, DecayKind::Scalar);
  // A per-head-key constant decay is a vector decay too.
  Spec c = parseOk(std::string(kHeader) + "[params]\nd = \"head_key\"\n[decay]\nlog = \"-exp(d)\"\n");
  EXPECT_EQ(c.decay, DecayKind::Vector);
  // log = 0 means no decay at all.
  EXPECT_EQ(parseOk(std::string(kHeader) + "[decay]\nlog = \"0\"\n").decay, DecayKind::None);
}

TEST(Parser, SyntaxErrorHasLineAndColumn) {
  std::string e = firstError("[variant]\nname = \"x\"\n[update\nrule = \"delta\"\n");
  EXPECT_EQ(e.rfind("t.toml:3:", 0), 0u) << e;
  EXPECT_NE(e.find("error: TOML syntax"), std::string::npos) << e;
}

TEST(Parser, UnknownKeySuggestsTheRightOne) {
  std::string e = firstError(std::string(kHeader) + "[update]\nrul = \"delta\"\n");
  EXPECT_EQ(e, "t.toml:4:1: error: unknown key 'rul' in [update] — did you mean 'rule'?");
  e = firstError(std::string(kHeader) + "[readouts]\nscale = 1.0\n");
  EXPECT_NE(e.find("unknown key 'readouts' in the file — did you mean 'readout'?"), std::string::npos) << e;
}

TEST(Parser, ExpressionErrorPointsIntoTheString) {
  // col: 'log = "' is 7 characters, then "-exp(A_log) * " is 14: the bad name starts at column 22.
  std::string e = firstError(std::string(kHeader) + "[params]\nA_log = \"head\"\n[decay]\nlog = \"-exp(A_log) * softplux(A_log)\"\n");
  EXPECT_EQ(e.rfind("t.toml:6:22: error: in decay.log: unknown function 'softplux'", 0), 0u) << e;
  e = firstError(std::string(kHeader) + "[inputs]\nab = \"scalar\"\n[decay]\nlog = \"-softplus(abc)\"\n");
  EXPECT_EQ(e.rfind("t.toml:6:18: error: in decay.log: undefined name 'abc'", 0), 0u) << e;
  EXPECT_NE(e.find("did you mean 'ab'"), std::string::npos) << e;
}

TEST(Parser, WrongTypes) {
  EXPECT_NE(firstError(std::string(kHeader) + "[update]\nrule = 3\n").find("'rule' in [update] must be a string"),
            std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[inputs]\na = \"matrix\"\n").find("must be \"scalar\" or \"vector\""),
            std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[params]\na = \"token\"\n").find("must be \"head\" or \"head_key\""),
            std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[readout]\nnormalize = \"yes\"\n").find("true or false"),
            std::string::npos);
  EXPECT_NE(firstError("update = 1\n" + std::string(kHeader)).find("'update' must be a table"), std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[update]\nrule = \"deltas\"\n").find("did you mean 'delta'"),
            std::string::npos);
}

TEST(Parser, ShapeMismatches) {
  // A vector gate declared, but built from a scalar input.
  std::string e = firstError(std::string(kHeader) + "[inputs]\na = \"scalar\"\n[decay]\nkind = \"vector\"\nlog = \"-softplus(a)\"\n");
  EXPECT_NE(e.find("does not have the declared kind \"vector\""), std::string::npos) << e;
  EXPECT_NE(e.find("t.toml:7:7"), std::string::npos) << e;
  e = firstError(std::string(kHeader) + "[inputs]\ng = \"vector\"\n[decay]\nkind = \"scalar\"\nlog = \"-softplus(g)\"\n");
  EXPECT_NE(e.find("'g' makes it a vector over K"), std::string::npos) << e;
  e = firstError(std::string(kHeader) + "[inputs]\ng = \"vector\"\n[update]\nbeta = \"sigmoid(g)\"\n");
  EXPECT_NE(e.find("update.beta must be a scalar per token, but 'g' is a vector"), std::string::npos) << e;
  e = firstError(std::string(kHeader) + "[inputs]\nx = \"scalar\"\n[feature_map]\nq = \"sigmoid(x)\"\n");
  EXPECT_NE(e.find("feature_map.q is a scalar, but a feature map needs a vector"), std::string::npos) << e;
}

TEST(Parser, UnsupportedCombinationsSayWhy) {
  std::string e = firstError(std::string(kHeader) + "[feature_map]\nq = \"l2norm\"\nk = \"l2norm\"\n[update]\nrule = \"delta\"\n[readout]\nnormalize = true\n");
  EXPECT_NE(e.find("normalize is not defined for the delta rule"), std::string::npos) << e;
  e = firstError(std::string(kHeader) + "[inputs]\ng = \"vector\"\n[feature_map]\nq = \"taylor2\"\nk = \"taylor2\"\n[decay]\nlog = \"logsigmoid(g)\"\n");
  EXPECT_NE(e.find("outside the family"), std::string::npos) << e;
  e = firstError(std::string(kHeader) + "[feature_map]\nq = \"taylor2\"\nk = \"hedgehog\"\n");
  EXPECT_NE(e.find("which differ"), std::string::npos) << e;
  e = firstError(std::string(kHeader) + "[feature_map]\nq = \"exp(l2norm(q))\"\n");
  EXPECT_NE(e.find("can only be the outermost call"), std::string::npos) << e;
  e = firstError(std::string(kHeader) + "[decay]\nlog = \"0.1\"\n");
  EXPECT_NE(e.find("not <= 0"), std::string::npos) << e;
}

TEST(Parser, NamesAreChecked) {
  EXPECT_NE(firstError(std::string(kHeader) + "[inputs]\nq = \"scalar\"\n").find("'q' is a reserved name"),
            std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[inputs]\nx = \"scalar\"\n[params]\nx = \"head\"\n").find("declared twice"),
            std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[inputs]\nunused = \"scalar\"\n").find("declared but never used"),
            std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[update]\nbeta = \"sigmoid(v)\"\n").find("'v' cannot appear"),
            std::string::npos);
  EXPECT_NE(firstError("[update]\nrule = \"delta\"\n").find("missing [variant] table"), std::string::npos);
}

TEST(Parser, ReadoutOptions) {
  Spec s = parseOk(std::string(kHeader) + "[readout]\nscale = \"1/8\"\n");
  ASSERT_TRUE(s.scale.has_value());
  EXPECT_DOUBLE_EQ(*s.scale, 0.125);
  EXPECT_DOUBLE_EQ(parseOk(kHeader).scaleFor(64), 0.125);
  EXPECT_NE(firstError(std::string(kHeader) + "[readout]\neps = 1e-3\n").find("only used with normalize = true"),
            std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[readout]\nscale = -1\n").find("must be positive"), std::string::npos);
  EXPECT_NE(firstError(std::string(kHeader) + "[inputs]\nx=\"scalar\"\n[readout]\nscale = \"x\"\n").find("must be a constant"),
            std::string::npos);
}

TEST(Parser, UnreadableFileIsADiagnostic) {
  ParseResult r = parseSpecFile("/nonexistent/dir/v.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errorText().find("/nonexistent/dir/v.toml: error: cannot read the file"), std::string::npos);
}

TEST(Parser, CanonicalTomlParsesBackToTheSameSpec) {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(LINREC_SOURCE_DIR) + "/variants")) {
    if (entry.path().extension() != ".toml") continue;
    ParseResult r = parseSpecFile(entry.path().string());
    ASSERT_TRUE(r.ok()) << r.errorText();
    ParseResult back = parseSpec(r.spec->canonicalToml(), "canonical.toml");
    ASSERT_TRUE(back.ok()) << entry.path() << "\n" << back.errorText() << r.spec->canonicalToml();
    EXPECT_EQ(back.spec->canonicalJson(true), r.spec->canonicalJson(true)) << entry.path();
  }
}

TEST(Parser, NonAsciiOnlyInComments) {
  EXPECT_TRUE(parseSpec(std::string(kHeader) + "# q̃ᵀk̃ — a comment with unicode\n", "t.toml").ok());
  std::string e = firstError(std::string(kHeader) + "[update]\nbeta = \"σ(b)\"\n");
  EXPECT_EQ(e.rfind("t.toml:4:9: error: non-ASCII character outside a comment", 0), 0u) << e;
  e = firstError(std::string(kHeader) + "ä = 1\n");
  EXPECT_EQ(e.rfind("t.toml:3:1: error: non-ASCII", 0), 0u) << e;
}

TEST(Parser, CanonicalTomlEscapesControlCharacters) {
  // Found by the fuzzer: a name holding an escaped newline must survive the canonical TOML round trip.
  for (const char* name : {"a\\nb", "tab\\there", "q\\\"uote", "back\\\\slash", "bell\\u0007"}) {
    Spec s = parseOk(std::string("[variant]\nname = \"") + name + "\"\n");
    ParseResult back = parseSpec(s.canonicalToml(), "canonical.toml");
    ASSERT_TRUE(back.ok()) << name << "\n" << back.errorText() << s.canonicalToml();
    EXPECT_EQ(back.spec->name, s.name);
    EXPECT_EQ(back.spec->hash(), s.hash());
  }
}
