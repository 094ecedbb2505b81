// The canonical Spec: a validated, normalized description of one recurrence (DESIGN.md §1-§2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "linrec/dsl/Expr.h"

namespace linrec::dsl {

/// A per-token input besides q, k, v.
struct InputDecl {
  enum class Kind : uint8_t { Scalar, Vector };  ///< [B,T,H] or [B,T,H,K]
  std::string name;
  Kind kind = Kind::Scalar;
  SourceLoc loc;
};

/// A per-head parameter (a learned constant).
struct ParamDecl {
  enum class Kind : uint8_t { Head, HeadKey };  ///< [H] or [H,K]
  std::string name;
  Kind kind = Kind::Head;
  SourceLoc loc;
};

/// A feature map: q̃ = map(pre) where `pre` is an elementwise vector expression over K (by default just
/// q or k). Elementwise maps (relu, elu+1, ...) are folded into `pre`, so only maps that mix the K
/// elements or change the width are kinds of their own.
struct FeatureMap {
  enum class Kind : uint8_t {
    Identity,  ///< width K
    L2Norm,    ///< x / sqrt(sum x^2 + 1e-6), width K
    Taylor2,   ///< based: [1, x / d^(1/4), vec(x x^T) / (sqrt(2) sqrt(d))], width 1 + K + K^2
    Hedgehog,  ///< [softmax(x), softmax(-x)], width 2K
  };
  Kind kind = Kind::Identity;
  ExprPtr pre;
  SourceLoc loc;
};

const char* featureMapName(FeatureMap::Kind k);
/// The feature width K' for input key width K.
int featureWidth(FeatureMap::Kind k, int K);

/// How the decay g_t (log space) varies.
enum class DecayKind : uint8_t { None, Constant, Scalar, Vector };
const char* decayKindName(DecayKind k);

enum class UpdateRule : uint8_t { Additive, Delta };
const char* updateRuleName(UpdateRule r);

/// A validated recurrence. Names are sorted, defaults filled, expressions folded: two specs that mean the
/// same recurrence compare equal and hash the same.
struct Spec {
  std::string name;  ///< informational: not part of the hash
  std::vector<InputDecl> inputs;  ///< sorted by name
  std::vector<ParamDecl> params;  ///< sorted by name
  FeatureMap q_map;
  FeatureMap k_map;
  DecayKind decay = DecayKind::None;
  ExprPtr decay_log;  ///< g_t; null when decay == None
  SourceLoc decay_loc;
  UpdateRule rule = UpdateRule::Additive;
  ExprPtr beta;  ///< β_t; the constant 1 when not given
  SourceLoc beta_loc;
  std::optional<double> scale;  ///< nullopt: K^-1/2 of the input key width
  bool normalize = false;
  double norm_eps = 1e-6;

  const InputDecl* findInput(const std::string& n) const;
  const ParamDecl* findParam(const std::string& n) const;
  /// Feature width K' for input key width K.
  int featureWidth(int K) const { return dsl::featureWidth(q_map.kind, K); }
  /// True when the decay is a vector over the feature width.
  bool vectorDecay() const { return decay == DecayKind::Vector; }
  /// The scale used at input key width K.
  double scaleFor(int K) const;

  /// The canonical form as JSON text (sorted keys; `with_hash` adds the top-level "hash").
  std::string canonicalJson(bool with_hash = false, int indent = -1) const;
  /// The canonical form as TOML text that parses back to an equal Spec.
  std::string canonicalToml() const;
  /// sha256 (hex) of the semantic canonical JSON (the name left out).
  std::string hash() const;
};

}  // namespace linrec::dsl
