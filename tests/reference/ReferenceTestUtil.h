// Shared fixtures of the reference tests: one inline TOML spec per family and comparison helpers.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "linrec/dsl/Parser.h"
#include "linrec/reference/Reference.h"

namespace linrec::reference::testing {

/// A variant of one family of DESIGN.md §1 and the key/value widths to test it at.
struct Family {
  const char* name;
  const char* toml;
  int K;
  int V;
};

/// Test names show the family, not the struct's bytes.
inline void PrintTo(const Family& f, std::ostream* os) {
  *os << f.name;
}

/// One spec per family, plus combinations no single family has (β with a normalizer, expressions in the
/// feature-map input, an explicit scale). V differs from K everywhere so K/V mix-ups cannot cancel.
inline const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {"linear_attn", R"toml([variant]
name = "linear_attn"
)toml",
       8, 5},
      {"linear_attn_norm", R"toml([variant]
name = "linear_attn_norm"
[feature_map]
q = "elu1"
k = "elu1"
[readout]
normalize = true
)toml",
       8, 5},
      {"retention", R"toml([variant]
name = "retention"
[decay]
log = "log(1 - pow(2, -5 - head))"
)toml",
       8, 5},
      {"simple_gla", R"toml([variant]
name = "simple_gla"
[inputs]
a = "scalar"
[params]
A_log = "head"
dt_bias = "head"
[decay]
log = "-exp(A_log) * softplus(a + dt_bias)"
)toml",
       8, 5},
      {"gla", R"toml([variant]
name = "gla"
[inputs]
gk = "vector"
[decay]
log = "logsigmoid(gk) / 16"
)toml",
       8, 5},
      {"delta_rule", R"toml([variant]
name = "delta_rule"
[inputs]
b = "scalar"
[feature_map]
q = "l2norm"
k = "l2norm"
[update]
rule = "delta"
beta = "sigmoid(b)"
)toml",
       8, 5},
      {"gated_delta_rule", R"toml([variant]
name = "gated_delta_rule"
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
)toml",
       8, 5},
      {"kda", R"toml([variant]
name = "kda"
[inputs]
b = "scalar"
g = "vector"
[params]
A_log = "head"
dt_bias = "head_key"
[feature_map]
q = "l2norm"
k = "l2norm"
[decay]
log = "-exp(A_log) * softplus(g + dt_bias)"
[update]
rule = "delta"
beta = "2 * sigmoid(b)"
)toml",
       8, 5},
      {"based", R"toml([variant]
name = "based"
[feature_map]
q = "taylor2"
k = "taylor2"
[readout]
normalize = true
)toml",
       16, 5},
      {"hedgehog", R"toml([variant]
name = "hedgehog"
[feature_map]
q = "hedgehog"
k = "hedgehog"
[readout]
scale = 0.5
)toml",
       8, 5},
      {"gated_beta_norm", R"toml([variant]
name = "gated_beta_norm"
[inputs]
b = "scalar"
gk = "vector"
[feature_map]
q = "elu1"
k = "elu1"
[decay]
log = "logsigmoid(gk) / 8"
[update]
beta = "sigmoid(b)"
[readout]
normalize = true
)toml",
       8, 5},
      {"pre_exprs", R"toml([variant]
name = "pre_exprs"
[inputs]
w = "vector"
[params]
bias = "head_key"
[feature_map]
q = "l2norm(q * sigmoid(w))"
k = "l2norm(k + bias)"
[decay]
log = "log(1 - pow(2, -3 - head))"
[update]
rule = "delta"
beta = "0.5"
)toml",
       8, 5},
  };
  return f;
}

/// Parses inline TOML; a parse failure is a test failure that shows the diagnostics.
inline std::optional<dsl::Spec> parse(const std::string& toml, const std::string& name) {
  dsl::ParseResult r = dsl::parseSpec(toml, name);
  if (!r.ok()) {
    ADD_FAILURE() << "spec '" << name << "' does not parse:\n" << r.errorText();
    return std::nullopt;
  }
  return r.spec;
}

/// Expects o, final_state and final_z of `got` to match `want` to `tol` (relative to the largest |want|).
inline void expectClose(const Outputs& got, const Outputs& want, double tol) {
  EXPECT_LE(relativeError(got.o, want.o), tol) << "o";
  EXPECT_LE(relativeError(got.final_state, want.final_state), tol) << "final_state";
  EXPECT_EQ(got.final_z.size(), want.final_z.size()) << "final_z size";
  EXPECT_LE(relativeError(got.final_z, want.final_z), tol) << "final_z";
}

/// Unwraps a reference result; an error is a test failure that shows the message.
inline Outputs unwrap(Expected<Outputs> r, const char* what) {
  if (!r.ok()) {
    ADD_FAILURE() << what << " failed: " << r.error();
    return {};
  }
  return std::move(r).value();
}

}  // namespace linrec::reference::testing
