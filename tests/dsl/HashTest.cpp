// The canonical hash: equal for equivalent spellings of a recurrence, different for any semantic change.
#include <gtest/gtest.h>

#include "linrec/dsl/Parser.h"

using namespace linrec::dsl;

namespace {

std::string hashOf(const std::string& text) {
  ParseResult r = parseSpec(text, "h.toml");
  EXPECT_TRUE(r.ok()) << r.errorText() << text;
  return r.ok() ? r.spec->hash() : "";
}

const std::string kGdn = R"toml([variant]
name = "gdn"
[inputs]
a = "scalar"
b = "scalar"
[params]
A_log = "head"
dt_bias = "head"
[feature_map]
q = "l2norm"
k = "l2norm"
[decay]
log = "-exp(A_log) * softplus(a + dt_bias)"
[update]
rule = "delta"
beta = "sigmoid(b)"
)toml";

}  // namespace

TEST(Hash, SameRecurrenceSameHash) {
  const std::string h = hashOf(kGdn);
  // whitespace, comments, key and table order, another name
  EXPECT_EQ(h, hashOf(R"toml(# a comment
[update]
beta   =   "sigmoid( b )"     # trailing comment
rule = "delta"

[variant]
name = "another name"
[params]
dt_bias = "head"
A_log = "head"
[inputs]
b = "scalar"
a = "scalar"
[decay]
log = "-(exp(A_log)) * (softplus((a + dt_bias)))"
[feature_map]
k = "l2norm(k)"
q = "l2norm"
)toml"));
  // equivalent defaults written out: scale, normalize, inferred decay kind
  EXPECT_EQ(h, hashOf(kGdn + "[readout]\nscale = \"default\"\nnormalize = false\n"));
  std::string with_kind = kGdn;
  with_kind.replace(with_kind.find("[decay]\n"), 8, "[decay]\nkind = \"scalar\"\n");
  EXPECT_EQ(h, hashOf(with_kind));
  // defaults of other families
  EXPECT_EQ(hashOf("[variant]\nname=\"a\"\n"),
            hashOf("[variant]\nname=\"b\"\n[feature_map]\nq=\"identity\"\nk=\"k\"\n[update]\nrule=\"additive\"\nbeta=1\n"
                   "[decay]\nlog=\"0\"\n"));
  EXPECT_EQ(hashOf("[variant]\nname=\"a\"\n[readout]\nscale=0.5\n"),
            hashOf("[variant]\nname=\"a\"\n[readout]\nscale=\"1/2\"\n"));
}

TEST(Hash, AnySemanticChangeChangesTheHash) {
  const std::string h = hashOf(kGdn);
  auto changed = [&](const std::string& from, const std::string& to) {
    std::string t = kGdn;
    size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    return hashOf(t);
  };
  EXPECT_NE(h, changed("rule = \"delta\"", "rule = \"additive\""));
  EXPECT_NE(h, changed("beta = \"sigmoid(b)\"", "beta = \"2 * sigmoid(b)\""));
  EXPECT_NE(h, changed("softplus(a + dt_bias)", "softplus(a - dt_bias)"));
  EXPECT_NE(h, changed("q = \"l2norm\"", "q = \"identity\""));
  EXPECT_NE(h, changed("a = \"scalar\"\nb", "a = \"vector\"\nb"));
  EXPECT_NE(h, changed("dt_bias = \"head\"", "dt_bias = \"head_key\""));
  EXPECT_NE(h, hashOf(kGdn + "[readout]\nscale = 0.1\n"));
  std::string renamed = kGdn;
  for (size_t at; (at = renamed.find("dt_bias")) != std::string::npos;) renamed.replace(at, 7, "bias");
  EXPECT_NE(h, hashOf(renamed));  // input names are part of the kernel's interface
}

TEST(Hash, NormalizerEpsOnlyCountsWhenNormalizing) {
  std::string base = "[variant]\nname=\"a\"\n[readout]\nnormalize=true\n";
  EXPECT_EQ(hashOf(base), hashOf(base + "eps=1e-6\n"));
  EXPECT_NE(hashOf(base), hashOf(base + "eps=1e-5\n"));
  EXPECT_NE(hashOf(base), hashOf("[variant]\nname=\"a\"\n"));
}

TEST(Hash, JsonCarriesTheHash) {
  ParseResult r = parseSpec(kGdn, "h.toml");
  ASSERT_TRUE(r.ok());
  std::string j = r.spec->canonicalJson(true);
  EXPECT_NE(j.find("\"hash\":\"" + r.spec->hash() + "\""), std::string::npos) << j;
  EXPECT_EQ(r.spec->hash().size(), 64u);
}
