// The canonical Spec: names, widths, canonical JSON/TOML forms and the semantic hash.
#include "linrec/dsl/Spec.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "linrec/dsl/Sha256.h"

namespace linrec::dsl {

const char* featureMapName(FeatureMap::Kind k) {
  switch (k) {
    case FeatureMap::Kind::Identity: return "identity";
    case FeatureMap::Kind::L2Norm: return "l2norm";
    case FeatureMap::Kind::Taylor2: return "taylor2";
    case FeatureMap::Kind::Hedgehog: return "hedgehog";
  }
  return "?";
}

int featureWidth(FeatureMap::Kind k, int K) {
  switch (k) {
    case FeatureMap::Kind::Taylor2: return 1 + K + K * K;
    case FeatureMap::Kind::Hedgehog: return 2 * K;
    default: return K;
  }
}

const char* decayKindName(DecayKind k) {
  switch (k) {
    case DecayKind::None: return "none";
    case DecayKind::Constant: return "constant";
    case DecayKind::Scalar: return "scalar";
    case DecayKind::Vector: return "vector";
  }
  return "?";
}

const char* updateRuleName(UpdateRule r) { return r == UpdateRule::Delta ? "delta" : "additive"; }

const InputDecl* Spec::findInput(const std::string& n) const {
  for (const auto& i : inputs)
    if (i.name == n) return &i;
  return nullptr;
}

const ParamDecl* Spec::findParam(const std::string& n) const {
  for (const auto& p : params)
    if (p.name == n) return &p;
  return nullptr;
}

double Spec::scaleFor(int K) const { return scale ? *scale : 1.0 / std::sqrt(static_cast<double>(K)); }

namespace {

// The map and its input printed as one expression, the way the DSL accepts it back.
std::string featureText(const FeatureMap& m) {
  std::string pre = printExpr(m.pre);
  if (m.kind == FeatureMap::Kind::Identity) return pre;
  return std::string(featureMapName(m.kind)) + "(" + pre + ")";
}

nlohmann::json semanticJson(const Spec& s) {
  nlohmann::json j;
  j["inputs"] = nlohmann::json::object();
  for (const auto& i : s.inputs) j["inputs"][i.name] = i.kind == InputDecl::Kind::Vector ? "vector" : "scalar";
  j["params"] = nlohmann::json::object();
  for (const auto& p : s.params) j["params"][p.name] = p.kind == ParamDecl::Kind::HeadKey ? "head_key" : "head";
  j["feature_map"]["q"] = featureText(s.q_map);
  j["feature_map"]["k"] = featureText(s.k_map);
  j["decay"]["kind"] = decayKindName(s.decay);
  if (s.decay != DecayKind::None) j["decay"]["log"] = printExpr(s.decay_log);
  j["update"]["rule"] = updateRuleName(s.rule);
  j["update"]["beta"] = printExpr(s.beta);
  if (s.scale)
    j["readout"]["scale"] = *s.scale;
  else
    j["readout"]["scale"] = "default";
  j["readout"]["normalize"] = s.normalize;
  if (s.normalize) j["readout"]["eps"] = s.norm_eps;
  return j;
}

// A TOML basic string: quotes, backslashes and control characters escaped (the fuzzer found a name with "\n").
std::string tomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string tomlNumber(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  std::string s = o.str();
  // TOML needs a '.' or exponent to read a float back as a float.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string Spec::canonicalJson(bool with_hash, int indent) const {
  nlohmann::json j = semanticJson(*this);
  j["name"] = name;
  if (with_hash) j["hash"] = hash();
  return j.dump(indent);
}

std::string Spec::hash() const { return sha256Hex(semanticJson(*this).dump()); }

std::string Spec::canonicalToml() const {
  std::ostringstream o;
  o << "[variant]\nname = " << tomlString(name) << "\n";
  if (!inputs.empty()) {
    o << "\n[inputs]\n";
    for (const auto& i : inputs)
      o << i.name << " = " << (i.kind == InputDecl::Kind::Vector ? "\"vector\"" : "\"scalar\"") << "\n";
  }
  if (!params.empty()) {
    o << "\n[params]\n";
    for (const auto& p : params)
      o << p.name << " = " << (p.kind == ParamDecl::Kind::HeadKey ? "\"head_key\"" : "\"head\"") << "\n";
  }
  o << "\n[feature_map]\nq = " << tomlString(featureText(q_map)) << "\nk = " << tomlString(featureText(k_map))
    << "\n";
  if (decay != DecayKind::None)
    o << "\n[decay]\nkind = \"" << decayKindName(decay) << "\"\nlog = " << tomlString(printExpr(decay_log)) << "\n";
  o << "\n[update]\nrule = \"" << updateRuleName(rule) << "\"\nbeta = " << tomlString(printExpr(beta)) << "\n";
  o << "\n[readout]\nscale = " << (scale ? tomlNumber(*scale) : std::string("\"default\"")) << "\n";
  o << "normalize = " << (normalize ? "true" : "false") << "\n";
  if (normalize) o << "eps = " << tomlNumber(norm_eps) << "\n";
  return o.str();
}

}  // namespace linrec::dsl
